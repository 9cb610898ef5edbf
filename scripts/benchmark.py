"""Speed figures of the pipeline, printed as tables and kept in results/benchmark.json.

    python scripts/benchmark.py              # everything below, then the README section
    python scripts/benchmark.py stages       # every DVC stage, forced: wall, images/s, peak memory, threads
    python scripts/benchmark.py stages crf   # some stages only (merged into the stored table)
    python scripts/benchmark.py walk         # sparse random walk against the published dense formulation
    python scripts/benchmark.py crf          # the CRF worker pool against one process calling pydensecrf
    python scripts/benchmark.py processes    # the inference stages on one and on two processes (runtime.nproc)
    python scripts/benchmark.py readme       # regenerate the README's benchmark section from the JSON

Prints figures and asserts nothing, so a slow machine never fails it. Wall times and peak
resident memory come from the kernel (os.wait4) for a whole process; the comparisons run
each case in a fresh process so that one case's memory does not count in another's.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pipeline.eval.convergence import read_history

RESULTS = Path("results/benchmark.json")
README = Path("README.md")
MARKERS = ("<!-- benchmark:start -->", "<!-- benchmark:end -->")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return f"{cpu or platform.machine()}, {len(os.sched_getaffinity(0))} cores"


def timed(command: list[str], env: dict | None = None) -> tuple[float, float, int, str]:
    """(seconds, peak MiB of the largest process, exit code, output) of one command."""
    with tempfile.TemporaryFile() as log:  # a pipe nobody reads would fill up and block the command
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        log.seek(0)
        return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), log.read().decode(errors="replace")


# --- stages -------------------------------------------------------------------------------

def stage_names() -> list[str]:
    """dvc.yaml's stages in order, a foreach stage as its `name@key` items."""
    names = []
    for name, stage in yaml.safe_load(Path("dvc.yaml").read_text())["stages"].items():
        names += [f"{name}@{key}" for key in stage["foreach"]] if "foreach" in stage else [name]
    return names


# Each training stage's params section and the history it writes (its rows are the epochs of
# the run it kept); the pseudo-label DeepLab trains once, at the reference's length.
TRAINING_HISTORIES = {"train_classifier": ("train_classifier", "metrics/classifier_history.csv"),
                      "train_affinity": ("train_affinity", "metrics/affinity_history.csv"),
                      "train_reference": ("train_segmentation", "metrics/deeplab_full_history.csv"),
                      "train_segmentation": (None, "metrics/deeplab_history.csv")}


def epochs_trained(configured: int | None, history: str) -> int:
    """Every epoch a training stage ran: a run that kept `kept` > `configured` epochs (the
    `convergence` rule doubled it) also ran configured, 2x configured, ..., kept / 2 before.
    `configured` None: a run of one length, not grown."""
    kept = len(read_history(Path(history)))
    return 2 * kept - configured if configured is not None and kept > configured else kept


def stage_workload(stage: str, params: dict, counts: dict[str, int]) -> tuple[int, str]:
    """(images processed, threads or workers) of a stage at these params."""
    train, val = counts.get("train", 0), counts.get("val", 0)
    threads = params["runtime"].get("threads") or len(os.sched_getaffinity(0))
    base = stage.split("@")[0]
    if stage in TRAINING_HISTORIES:
        section, history = TRAINING_HISTORIES[stage]
        configured = params[section]["optim"]["epochs"] if section else None
        return epochs_trained(configured, history) * train, f"{threads} threads"
    if base in ("affinity_labels", "crf"):
        return train, f"{params[base]['workers']} workers"
    generated = params["builtin"]["num_train"] + params["builtin"]["num_val"]  # the manifest may be another dataset's
    images = {"make_builtin": generated, "check_root": 0, "prepare": train + val, "evaluate": 2 * val,
              "report": params["report"]["samples"]}.get(base, train)
    return images, f"{threads} threads"


def bench_stages(selected: list[str]) -> int:
    names = stage_names()
    unknown = sorted(set(selected) - set(names) - {n.split("@")[0] for n in names})
    if unknown:
        print(f"error: unknown stage {unknown[0]}; stages: {', '.join(names)}", file=sys.stderr)
        return 2
    params = yaml.safe_load(Path("params.yaml").read_text())
    rows = []
    print(f"{'stage':<30}{'seconds':>9}{'images':>8}{'img/s':>8}{'peak MiB':>10}  parallelism")
    for stage in [n for n in names if not selected or n in selected or n.split("@")[0] in selected]:
        seconds, peak, code, output = timed([sys.executable, "-m", "dvc", "repro", "--force", "--single-item", stage])
        if code:
            sys.stderr.write(output[-2000:])
            print(f"{stage}: FAILED", file=sys.stderr)
            return code
        manifest = Path("data/manifest.json")
        counts = ({k: len(v) for k, v in json.loads(manifest.read_text())["splits"].items()} if manifest.is_file()
                  else {"train": params["builtin"]["num_train"], "val": params["builtin"]["num_val"]})
        images, parallel = stage_workload(stage, params, counts)
        rows.append({"stage": stage, "seconds": round(seconds, 1), "images": images,
                     "images_per_s": round(images / seconds, 1), "peak_mib": round(peak), "parallelism": parallel})
        print(f"{stage:<30}{seconds:>9.1f}{images:>8}{images / seconds:>8.1f}{peak:>10.0f}  {parallel}", flush=True)
    print(f"{'total':<30}{sum(r['seconds'] for r in rows):>9.1f}   ({machine()})")
    stored = _load()
    kept = {row["stage"]: row for row in stored.get("stages", [])}
    kept.update({row["stage"]: row for row in rows})
    stored["stages"] = [kept[n] for n in names if n in kept]
    stored["machine"] = machine()
    _save(stored)
    return 0


# --- random walk: sparse (ours) against dense (published) -----------------------------------

WALK_CASE = """
import json, sys, time, numpy as np, torch
from pipeline.refine.random_walk import RandomWalkParams, random_walk, transition
side, kind = int(sys.argv[1]), sys.argv[2]
torch.manual_seed(0)
params = RandomWalkParams()
embeddings = torch.randn(1, 16, side, side) * 0.3
maps = torch.rand(1, 3, side, side)
start = time.perf_counter()
if kind == "sparse":
    walked = random_walk(maps, embeddings, params)
else:
    # AffinityNet's published formulation: a dense (hw x hw) transition matrix from the same
    # local affinities, squared exp_times times, then applied to the maps.
    local = transition(embeddings, params.radius, params.beta)[0]  # ((2r+1)^2, hw), rows sum to 1
    size, hw = 2 * params.radius + 1, side * side
    dense = torch.zeros(hw, hw)
    rows = torch.arange(hw)
    for k in range(size * size):
        dy, dx = k // size - params.radius, k % size - params.radius
        y, x = rows // side + dy, rows % side + dx
        ok = (local[k] > 0) & (y >= 0) & (y < side) & (x >= 0) & (x < side)
        dense[rows[ok], (y * side + x)[ok]] = local[k][ok]
    for _ in range(params.exp_times):
        dense = dense @ dense
    walked = (dense @ maps[0].reshape(3, hw).T).T.reshape(1, 3, side, side)
seconds = time.perf_counter() - start
np.save(sys.argv[3], walked[0].argmax(0).numpy())
print(json.dumps({"seconds": seconds}))
"""


def bench_walk(sides=(32, 64, 128, 256), dense_limit_gib: float = 4.0, dense_limit_tflop: float = 5.0) -> dict:
    """Time, peak memory and label agreement of both formulations per feature-map side.

    The dense case is skipped, with its estimate, where its three hw x hw matrices exceed
    `dense_limit_gib` or its squarings exceed `dense_limit_tflop` (minutes on a CPU)."""
    rows = []
    print(f"{'feature map':<13}{'sparse s':>10}{'sparse MiB':>12}{'dense s':>10}{'dense MiB':>11}{'ratio':>8}"
          "  agreement")
    with tempfile.TemporaryDirectory() as tmp:
        for side in sides:
            result = {"side": side}
            for kind in ("sparse", "dense"):
                matrix_gib = (side * side) ** 2 * 4 / 2**30
                tflop = 2 * (side * side) ** 3 * 8 / 1e12  # 8 squarings of an hw x hw matrix
                if kind == "dense" and (matrix_gib * 3 > dense_limit_gib or tflop > dense_limit_tflop):
                    result["dense_note"] = (f"not run: three {matrix_gib:.1f} GiB matrices and about {tflop:,.0f} "
                                            "TFLOP for the 8 squarings")
                    continue
                seconds, peak, code, output = timed([sys.executable, "-c", WALK_CASE, str(side), kind,
                                                     f"{tmp}/{kind}{side}.npy"])
                if code:
                    result[f"{kind}_note"] = "failed: " + output.strip().splitlines()[-1][:120]
                    continue
                result[f"{kind}_s"] = round(json.loads(output.strip().splitlines()[-1])["seconds"], 3)
                result[f"{kind}_peak_mib"] = round(peak)
            if "dense_s" in result and "sparse_s" in result:
                import numpy as np

                same = np.load(f"{tmp}/sparse{side}.npy") == np.load(f"{tmp}/dense{side}.npy")
                result["agreement"] = round(float(same.mean()), 4)
                result["speedup"] = round(result["dense_s"] / result["sparse_s"], 1)
            rows.append(result)
            print(f"{side}x{side:<9}{result.get('sparse_s', '-'):>10}{result.get('sparse_peak_mib', '-'):>12}"
                  f"{result.get('dense_s', '-'):>10}{result.get('dense_peak_mib', '-'):>11}"
                  f"{result.get('speedup', '-'):>8}  {result.get('agreement', result.get('dense_note', ''))}",
                  flush=True)
    return {"walk": rows}


# --- CRF: the pool against one process calling pydensecrf image by image ------------------

CRF_CASE = """
import json, sys, time, numpy as np
from pipeline.data.voc import Manifest, read_image
from pipeline.io.maps import MapReader
from pipeline.refine.crf import crf_probabilities
from pipeline.refine.crf_labels import CrfParams, crf_label_map
from pipeline.refine.pool import parallel_map
import functools
count, kind = int(sys.argv[1]), sys.argv[2]
manifest = Manifest.load("data/manifest.json")
params = CrfParams()
ids = manifest.ids("train")[:count]
with MapReader("data/rw.h5", manifest.fingerprint) as reader:
    items = [(manifest.image_path(i), *reader.read(i)) for i in ids]
start = time.perf_counter()
if kind == "loop":
    labels = []
    for path, maps, classes in items:
        probabilities = maps / np.maximum(maps.sum(axis=0, keepdims=True), 1e-8)
        refined = crf_probabilities(read_image(path), probabilities, params.crf)
        labels.append(classes.astype(np.uint8)[refined.argmax(axis=0)])
else:
    labels = list(parallel_map(functools.partial(crf_label_map, params=params.crf), items, int(kind), count, "crf"))
seconds = time.perf_counter() - start
np.save(sys.argv[3], np.stack(labels))
print(json.dumps({"seconds": seconds}))
"""


def bench_crf(counts: tuple[int, ...] = (300, 1000)) -> dict:
    """Images per second of a plain loop and of the pool with 1 and 2 workers, on `counts` images."""
    if not Path("data/rw.h5").is_file():
        print("crf: data/rw.h5 missing; run dvc repro first", file=sys.stderr)
        return {}
    import numpy as np

    rows = []
    print(f"{'CRF':<34}{'seconds':>9}{'img/s':>8}{'peak MiB':>10}  same labels as the loop")
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            for kind in ("loop", "1", "2"):
                seconds, peak, code, output = timed([sys.executable, "-c", CRF_CASE, str(count), kind,
                                                     f"{tmp}/{kind}.npy"])
                if code:
                    print(output[-2000:], file=sys.stderr)
                    return {}
                inner = json.loads(output.strip().splitlines()[-1])["seconds"]
                same = bool(np.array_equal(np.load(f"{tmp}/loop.npy"), np.load(f"{tmp}/{kind}.npy")))
                case = "plain loop, one process" if kind == "loop" else f"pool, {kind} worker{'s' * (kind != '1')}"
                rows.append({"images": count, "case": case, "seconds": round(inner, 2),
                             "images_per_s": round(count / inner, 1), "peak_mib": round(peak), "same_labels": same})
                print(f"{f'{count} images, {case}':<34}{inner:>9.2f}{count / inner:>8.1f}{peak:>10.0f}  {same}",
                      flush=True)
    return {"crf": rows}


# --- storage and the README section ---------------------------------------------------------

# --- one process against two (runtime.nproc) ------------------------------------------------

INFERENCE_STAGES = ("extract_cams", "affinity_labels", "random_walk", "crf", "evaluate")


# Every process on one core: runtime.threads 1 and one CRF worker, so that the figures show
# how the sharding itself scales (with the defaults, one process already uses every core).
ONE_CORE_EACH = {"runtime": {"threads": 1}, "crf": {"workers": 1}, "affinity_labels": {"workers": 1}}


def bench_processes(counts: tuple[int, ...] = (1, 2)) -> dict:
    """Each inference stage's command from dvc.yaml, run on its pipeline inputs with
    runtime.nproc at each of `counts`, with the default settings and with one core a
    process. params.yaml is changed for the run and restored; the outputs are rewritten
    with the same bytes (tests/test_pipeline_e2e.py checks that N processes write the
    single-process outputs), so `dvc status` stays clean."""
    stages = yaml.safe_load(Path("dvc.yaml").read_text())["stages"]
    original = Path("params.yaml").read_text()
    rows = []
    print(f"{'stage':<18}{'setting':<16}" + "".join(f"{f'{n} proc s':>12}" for n in counts) + f"{'ratio':>8}")
    try:
        for stage, setting in [(s, k) for k in ("defaults", "one core each") for s in INFERENCE_STAGES]:
            command = stages[stage]["cmd"].split()
            row = {"stage": stage, "setting": setting}
            for nproc in counts:
                params = yaml.safe_load(original)
                for section, values in (ONE_CORE_EACH if setting == "one core each" else {}).items():
                    params[section].update(values)
                params["runtime"]["nproc"] = nproc
                Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
                seconds, _, code, output = timed(command)
                if code:
                    sys.stderr.write(output[-2000:])
                    raise SystemExit(f"{stage} on {nproc} processes: FAILED")
                row[f"seconds_{nproc}"] = round(seconds, 1)
            row["ratio"] = round(row[f"seconds_{counts[-1]}"] / row[f"seconds_{counts[0]}"], 2)
            rows.append(row)
            print(f"{stage:<18}{setting:<16}" + "".join(f"{row[f'seconds_{n}']:>12.1f}" for n in counts)
                  + f"{row['ratio']:>8.2f}", flush=True)
    finally:
        Path("params.yaml").write_text(original)
    return {"processes": rows}


def _load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def _save(data: dict) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")


def render(data: dict) -> str:
    lines = [f"Measured on {data.get('machine', 'an unnamed machine')} by `make benchmark`.", ""]
    if data.get("stages"):
        before = {r["stage"]: r["seconds"] for r in data.get("baseline", {}).get("stages", [])}
        if before:
            lines += [f"Before: {data['baseline']['label']}.", ""]
        head = "| stage | seconds | images | images/s | peak MiB | threads / workers |"
        head += " before, s |" if before else ""
        lines += [head, "|---" * (6 + bool(before)) + "|"]
        for r in data["stages"]:
            old = f" {before[r['stage']]:.1f} |" if r["stage"] in before else (" - |" if before else "")
            lines.append(f"| {r['stage']} | {r['seconds']:.1f} | {r['images']} | {r['images_per_s']:.1f} | "
                         f"{r['peak_mib']} | {r['parallelism']} |" + old)
        total_before = f" **{sum(before.values()):.0f}** |" if before else ""
        lines += [f"| **total** | **{sum(r['seconds'] for r in data['stages']):.0f}** | | | | |" + total_before, ""]
    if data.get("walk"):
        lines += ["Random walk, one image with 3 maps, `exp_times` 8 (256 steps): ours (sparse, local) against "
                  "the published dense `hw x hw` matrix squared 8 times. Peak memory is the whole process's, "
                  "most of it the torch import.", "",
                  "| feature map | sparse s | sparse peak MiB | dense s | dense peak MiB | dense / sparse | "
                  "same labels |", "|---|---|---|---|---|---|---|"]
        for r in data["walk"]:
            agreement = f"{r['agreement']:.2%}" if "agreement" in r else r.get("dense_note", "")
            lines.append(f"| {r['side']}x{r['side']} | {r.get('sparse_s', '-')} | {r.get('sparse_peak_mib', '-')} | "
                         f"{r.get('dense_s', '-')} | {r.get('dense_peak_mib', '-')} | {r.get('speedup', '-')} | "
                         f"{agreement} |")
        lines.append("")
    if data.get("crf"):
        lines += ["Dense CRF on built-in train images (the random walk's maps): the stage's pool against one "
                  "process calling pydensecrf image by image; pool start-up included.", "",
                  "| images | case | seconds | images/s | peak MiB | same labels |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['images']} | {r['case']} | {r['seconds']} | {r['images_per_s']} | {r['peak_mib']} | "
                  f"{r['same_labels']} |" for r in data["crf"]]
        lines.append("")
    if data.get("processes"):
        lines += ["Inference stages on one process and on two (`runtime.nproc: 2`, sharded), "
                  "whole process wall time (start-up, model loading, the merge of the parts included); one run "
                  "each. With the defaults, one process already uses every core for its tensor work "
                  "(`threads: 0`) and the CRF stages already run two pool workers, so a second process on the "
                  "same two cores gains nothing; 'one core each' (`threads: 1`, one CRF worker) shows how the "
                  "sharding itself scales.", "",
                  "| stage | setting | 1 process, s | 2 processes, s | 2 / 1 |", "|---|---|---|---|---|"]
        lines += [f"| {r['stage']} | {r['setting']} | {r['seconds_1']} | {r['seconds_2']} | {r['ratio']} |"
                  for r in data["processes"]]
    return "\n".join(lines).rstrip() + "\n"


def write_readme() -> None:
    text = README.read_text()
    start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
    README.write_text(text[:start] + "\n" + render(_load()) + text[end:])


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("all", [])
    if command in ("stages", "all"):
        code = bench_stages(rest)
        if code:
            return code
    for name, bench in (("walk", bench_walk), ("crf", bench_crf), ("processes", bench_processes)):
        if command in (name, "all"):
            _save({**_load(), **bench(), "machine": machine()})
    if command not in ("stages", "walk", "crf", "processes", "readme", "all"):
        print(f"error: unknown command {command}; use stages, walk, crf, processes, readme", file=sys.stderr)
        return 2
    write_readme()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
