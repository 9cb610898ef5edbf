"""Time and peak memory of every DVC stage, printed as a table.

Runs `dvc repro --force --single-item <stage>` for each stage in dvc.yaml order and
reads the wall time and the peak resident memory of the stage's process tree from the
kernel (os.wait4). Prints figures; asserts nothing, so a slow machine never fails it.

    python scripts/benchmark.py            # every stage
    python scripts/benchmark.py crf eval_cams
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def run_stage(stage: str) -> tuple[float, float, int]:
    """(seconds, peak MiB, exit code) of one forced stage run."""
    # The stage's output goes to a file: a pipe nobody reads would fill up and block it.
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "--force", "--single-item", stage],
                                   stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace")[-2000:])
    return seconds, usage.ru_maxrss / 1024, process.returncode


def main(selected: list[str]) -> int:
    stages = list(yaml.safe_load(Path("dvc.yaml").read_text())["stages"])
    unknown = sorted(set(selected) - set(stages))
    if unknown:
        print(f"error: unknown stage {unknown[0]}; stages: {', '.join(stages)}", file=sys.stderr)
        return 2
    print(f"{'stage':<20}{'seconds':>10}{'peak MiB':>12}")
    total = 0.0
    for stage in [s for s in stages if not selected or s in selected]:
        seconds, peak, code = run_stage(stage)
        total += seconds
        print(f"{stage:<20}{seconds:>10.1f}{peak:>12.0f}" + ("   FAILED" if code else ""), flush=True)
        if code:
            return code
    print(f"{'total':<20}{total:>10.1f}   ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
