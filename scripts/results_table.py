"""Produce the result tables of the README and docs/results.md from real pipeline runs.

    python scripts/results_table.py stages --seeds 0 1 2
        the per-stage mIoU (CAM -> random walk -> CRF -> DeepLab) over seeds
    python scripts/results_table.py methods --methods puzzle gain gain_ext ssnet --seeds 0 1 2
        one row per CAM training method, every stage's mIoU, mean over seeds; the stages
        table's runs are the `cam` rows (--through eval_cams stops each run after that
        stage: the later columns stay empty)
        --set KEY=VALUE adds a setting to every run of those rows: an ablation row, named
        after the method and the setting (`puzzle (methods.puzzle.alpha_max=1.0)`); the
        claims compare the published settings (and SSNet's readout, SSNET_READOUT_SETTINGS) only
    python scripts/results_table.py photos --root data/photos --seeds 0
        the stages table on a second dataset (scripts/make_photo_dataset.py makes one);
        with --methods (and --set, --through) a methods table on it instead, whose `cam`
        rows are that stages table's runs
    python scripts/results_table.py checks --checks other_cpu nproc2 --seeds 0
        the default pipeline under other conditions, each in a fresh clone of the committed
        code (no run cache), set against the stages table's mean ± 2 sd: `other_cpu` runs
        AVX2 kernels and fp32, as on a CPU without AVX512 or bf16; `nproc2` runs every
        stage on two processes; `gpu` runs on one CUDA GPU; `machine` runs the defaults
        unchanged, for a machine other than the one behind the stages table (each row
        names the CPU it ran on)
        --without-dvc: for a machine without DVC (the GPU machine this project was lent),
        run the stage commands dvc.lock records, in order, in this tree instead, with the
        check's settings written into its params.yaml
    python scripts/results_table.py render
        rewrite the tables from results/*.json without running anything, with the
        side-by-side tables of COMPARISONS (rows of several tables on their common seeds)

Every run is a `dvc exp run -S ...` in this repository; the figures each run wrote to
metrics/*.json are collected into results/<table>.json (with the commit and the machine:
CPU, cores, and whether the CPU computes bf16, which `runtime.amp` trains in where it can),
and the text between the table's markers (in whichever of DOCUMENTS holds them) is rewritten
from them. Rows of earlier runs with other settings are kept (so seeds can be added later),
and so are checks rows of another machine (a check rerun on a second machine adds its rows);
delete the JSON file to start a table afresh. Nothing is typed by hand.
"""
from __future__ import annotations

import argparse
import ast
import functools
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import yaml

# The stage that writes each metrics key, in pipeline order.
WRITTEN_BY = {"classifier": "train_classifier", "cam": "eval_cams", "rw": "random_walk", "crf": "crf", "seg": "evaluate",
              "training": "report"}  # training: each training run's epochs (the `convergence` rule may double them)
METHOD_KEY = "train_classifier.method"
DEFAULT_METHODS = ("puzzle", "gain", "gain_ext", "ssnet")  # the methods table's rows when --methods is not given
DOCUMENTS = (Path("README.md"), Path("docs/results.md"))  # the tables users compare with; the findings behind them
VERDICT_SEEDS = 3  # issue #10: a method raises or lowers a figure only as judged over three seeds at least
EARLIER_CODE = " [earlier pipeline code]"  # the label of a methods row whose commit ran other pipeline code
PIPELINE_CODE = ("pipeline", "stages", "params.yaml", "dvc.yaml")  # what a row's figures can depend on
METHODS_PACKAGE = "pipeline/methods"  # one module per training method, each registered in its __init__.py
RESULTS = Path("results")
# The photographs' methods tables (results/photos_methods.json), one per dataset root, by their markers:
# the photographs, and the same photographs with a co-occurrence context (make_photo_dataset.py --context).
PHOTO_METHOD_TABLES = {"data/photos": "photos_methods", "data/photos_context": "photos_context"}


def stages_through(through: str) -> list[str]:
    """`through` and every stage before it that writes metrics: eval_cams is no upstream of
    crf, and without it a run through crf would report the previous run's CAM figures."""
    order = list(WRITTEN_BY.values())
    return order[: order.index(through) + 1]


def set_arguments(settings: dict[str, str]) -> list[str]:
    """`dvc exp run`'s `-S key=value` arguments for `settings`."""
    return [arg for key, value in settings.items() for arg in ("-S", f"{key}={value}")]


def run_experiment(settings: dict[str, str], through: str | None) -> dict:
    """One `dvc exp run` with `settings` (up to stage `through`); the metrics it produced."""
    args = set_arguments(settings)
    target = stages_through(through) if through else []
    print("dvc exp run", " ".join(target + args), flush=True)
    subprocess.run([sys.executable, "-m", "dvc", "exp", "run", *target, *args], check=True)
    metrics = {}
    for path in sorted(Path("metrics").glob("*.json")):
        for key, value in json.loads(path.read_text()).items():
            if key in WRITTEN_BY and (not target or WRITTEN_BY[key] in target):
                metrics[key] = value  # files of stages after `through` are stale; other files are no figures
    return metrics


# Conditions a user's run may differ in, run by the `checks` table: settings, environment, and what they stand for.
CHECKS = {
    "other_cpu": {
        "label": "another CPU (emulated): AVX2 kernels, fp32",
        # Kernels of a CPU without AVX512: ATen's vectorised ops, oneDNN's convolutions, MKL.
        "env": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
        # Such a CPU has no native bf16, so `runtime.amp` computes in fp32 there (this CPU's flags say bf16).
        "settings": {"runtime.amp": "false"},
    },
    "nproc2": {"label": "two processes (gloo)", "env": {}, "settings": {"runtime.nproc": "2"}},
    # The default pipeline as a new user runs it, on whatever machine runs the check (named in its row).
    "machine": {"label": "the default run on another machine", "env": {}, "settings": {}},
    "gpu": {"label": "one GPU (CUDA, bf16; 4 loader, 8 CRF workers)", "env": {},
            "settings": {"runtime.device": "cuda", "runtime.num_workers": "4", "affinity_labels.workers": "8",
                         "crf.workers": "8"}},
}


def run_in_fresh_clone(settings: dict[str, str], env: dict[str, str]) -> tuple[dict, float]:
    """One `dvc exp run` with `settings` in a fresh clone of HEAD (its own empty cache, so
    nothing comes from this repository's run cache), `env` added; its metrics and wall time."""
    args = set_arguments(settings)
    with tempfile.TemporaryDirectory(prefix="wsss-check-") as clone:
        subprocess.run(["git", "clone", "--quiet", ".", clone], check=True)
        environment = {**os.environ, **env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        print("in a fresh clone:", " ".join(f"{k}={v}" for k, v in env.items()), "dvc exp run", *args, flush=True)
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "dvc", "exp", "run", *args], cwd=clone, env=environment, check=True)
        seconds = time.monotonic() - start
        metrics = {}
        for path in sorted((Path(clone) / "metrics").glob("*.json")):
            metrics.update(json.loads(path.read_text()))
    return metrics, seconds


def run_without_dvc(settings: dict[str, str]) -> tuple[dict, float]:
    """Where DVC is not installed (the GPU machine this project was lent): `settings` written
    into this tree's params.yaml, then each stage command dvc.lock records run here in its
    order, with this Python; the metrics and the wall time.

    The outputs land in this tree (the copy a GPU machine is sent), not in a clone.
    """
    params = yaml.safe_load(Path("params.yaml").read_text())
    for key, value in settings.items():
        *sections, name = key.split(".")
        target = params
        for section in sections:
            target = target[section]
        target[name] = yaml.safe_load(value)
    Path("params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    start = time.monotonic()
    for name, stage in yaml.safe_load(Path("dvc.lock").read_text())["stages"].items():
        command = shlex.split(stage["cmd"])
        if command[0] == "python":
            command[0] = sys.executable
        stage_start = time.monotonic()
        subprocess.run(command, check=True)
        print(f"{name}: {time.monotonic() - stage_start:.0f} s", flush=True)
    seconds = time.monotonic() - start
    metrics = {}
    for path in sorted(Path("metrics").glob("*.json")):
        metrics.update(json.loads(path.read_text()))
    return metrics, seconds


def settings_key(row: dict) -> tuple:
    """What a row of the methods and stages tables is stored under: its settings."""
    return tuple(sorted(row["settings"].items()))


def check_key(row: dict) -> tuple:
    """What a checks row is stored under: its settings and the machine it ran on, as the checks
    table names it (check_label), so that a check run on another machine is kept beside the first."""
    return settings_key(row), row.get("machine")


def merge_rows(kept: list[dict], new: list[dict], key: Callable[[dict], tuple] = settings_key) -> list[dict]:
    """`kept` with each row whose `key` a `new` row repeats replaced by it; other new rows appended."""
    fresh = {key(row): row for row in new}
    merged = [fresh.pop(key(row), row) for row in kept]
    return merged + list(fresh.values())


def collect(table: str, runs: list[dict[str, str]], through: str | None = None) -> None:
    """Run each settings dict; add its row to results/<table>.json (replacing one with the same settings)."""
    original = Path("params.yaml").read_text()
    try:
        for settings in runs:
            save_row(table, {"settings": settings, "metrics": run_experiment(settings, through), "commit": head_commit(),
                             "machine": machine()})
    finally:
        Path("params.yaml").write_text(original)  # exp run leaves its last values in place


def collect_checks(names: list[str], seeds: list[str], without_dvc: bool = False) -> None:
    """Run each check of CHECKS with each seed in a fresh clone (or here, without DVC); add
    its row to results/checks.json."""
    for name in names:
        for seed in seeds:
            settings = {**CHECKS[name]["settings"], "seed": seed}
            if without_dvc:
                metrics, seconds = run_without_dvc(settings)
            else:
                metrics, seconds = run_in_fresh_clone(settings, CHECKS[name]["env"])
            save_row("checks", {"settings": {"check": name, "seed": seed}, "metrics": metrics,
                                "seconds": round(seconds), "commit": head_commit(), "machine": machine()})


def machine() -> str:
    """The CPU model, core count and arithmetic of this machine, as a row records where it ran:
    `runtime.amp` trains in bf16 on a CPU that computes it natively and in fp32 elsewhere, and
    on some data that alone moves the figures (docs/results.md: the photographs' training precision)."""
    from pipeline.training.runtime import cpu_has_native_bf16  # imports torch: only when a row is saved

    cpuinfo = Path("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
              if line.startswith("model name")] if cpuinfo.is_file() else []
    arithmetic = "native bf16" if cpu_has_native_bf16() else "no native bf16"
    return f"{models[0] if models else platform.processor() or 'unknown CPU'}, {os.cpu_count()} cores, {arithmetic}"


def check_label(row: dict) -> str:
    """A checks row's name: its check's label, and the machine it ran on where recorded."""
    label = CHECKS[row["settings"]["check"]]["label"]
    return f"{label} ({row['machine']})" if row.get("machine") else label


def runs_current_code(commit: str | None, reported: Iterable[str] = tuple(WRITTEN_BY),
                      method: str | None = None) -> bool:
    """Whether the pipeline code checked out here would give the figures `reported` (metrics
    keys) as `commit`'s did: nothing that the stages up to the last one writing them depend on
    (their deps and params in dvc.yaml, as DVC decides what to rerun) differs between the two,
    and neither do those stages' own definitions in dvc.yaml (a later stage, a plot, a comment
    may change). False for an unknown commit or none.

    `method` (the row's `train_classifier.method`; None: the default in params.yaml): DVC
    reruns every classifier when any training method's module or parameters change, but a
    classifier trained with `method` never runs the other methods' code, so their changes
    (`other_methods_code`) leave its figures as they were and do not count here."""
    head = head_commit()
    if commit is None or head is None:
        return False
    diff = subprocess.run(["git", "diff", "--name-only", commit, head, "--", *PIPELINE_CODE],
                          capture_output=True, text=True)
    changed_files = set(diff.stdout.split())
    if diff.returncode != 0:
        return False
    changed_keys = changed_params(commit, head) if "params.yaml" in changed_files else set()
    if method is None:
        method = (yaml.safe_load(git_show(head, "params.yaml")) or {}).get("train_classifier", {}).get("method")
    unused_files, unused_sections = other_methods_code(method, commit, head) if method else (set(), set())
    changed_files -= unused_files
    changed_keys = {key for key in changed_keys
                    if not any(key == section or key.startswith(section + ".") for section in unused_sections)}
    written = [WRITTEN_BY[key] for key in reported if key in WRITTEN_BY]
    if not written:
        return False
    last = max(written, key=list(WRITTEN_BY.values()).index)
    if "dvc.yaml" in changed_files and stage_definitions(commit, last) != stage_definitions(head, last):
        return False
    deps, params = stage_dependencies(last, head)
    touches = lambda changed, declared, sep: changed == declared or changed.startswith(declared + sep)  # noqa: E731
    return not any(touches(file, dep, "/") for file in changed_files for dep in deps) and not any(
        touches(key, param, ".") or touches(param, key, ".") for key in changed_keys for param in params)


def stage_dependencies(last: str, head: str) -> tuple[set[str], set[str]]:
    """The code deps and params keys (dvc.yaml at commit `head`) of every stage up to `last`, in pipeline order."""
    stages = yaml.safe_load(git_show(head, "dvc.yaml"))["stages"]
    deps, params = set(), set()
    for name, stage in stages.items():
        body = stage.get("do", stage)
        deps |= {dep for dep in body.get("deps", []) if "${" not in dep}  # templated deps are data
        params |= {param for param in body.get("params", []) if isinstance(param, str)}
        if name == last:
            break
    return deps, params


def stage_definitions(revision: str, last: str) -> tuple[object, list] | None:
    """dvc.yaml's `vars` and its stages up to `last`, in pipeline order, at `revision`: what
    decides how the figures of a run through `last` are made. None where there is no dvc.yaml."""
    try:
        pipeline = yaml.safe_load(git_show(revision, "dvc.yaml")) or {}
    except subprocess.CalledProcessError:
        return None
    stages = list((pipeline.get("stages") or {}).items())
    names = [name for name, _ in stages]
    return pipeline.get("vars"), stages[: names.index(last) + 1] if last in names else stages


def changed_params(commit: str, head: str) -> set[str]:
    """The dotted params.yaml keys whose values differ between `commit` and `head`."""
    def flat(tree: object, prefix: str = "") -> dict[str, object]:
        if not isinstance(tree, dict):
            return {prefix: tree}
        return {k: v for key, value in tree.items() for k, v in flat(value, f"{prefix}{key}.").items()}
    old, new = (flat(yaml.safe_load(git_show(rev, "params.yaml"))) for rev in (commit, head))
    return {key.rstrip(".") for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


@functools.cache  # a render asks once per row; a file at a commit never changes
def git_show(revision: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{revision}:{path}"], capture_output=True, text=True, check=True).stdout


def registered_methods(revision: str) -> dict[str, str]:
    """Each training method's name in the registry at `revision`, with the file of its module."""
    tree = ast.parse(git_show(revision, f"{METHODS_PACKAGE}/__init__.py"))
    module_of = {alias.asname or alias.name: node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module for alias in node.names}
    registry = next(node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign | ast.Assign)
                    and "METHODS" in [target.id for target in getattr(node, "targets", [node.target])
                                      if isinstance(target, ast.Name)])
    return {key.value: module_of[value.id].replace(".", "/") + ".py"
            for key, value in zip(registry.keys, registry.values)}


def method_module_files(names: Iterable[str], revision: str) -> set[str]:
    """The method modules that training with `names` runs at `revision`: their own and,
    following imports, every module of the methods package they use."""
    registry = registered_methods(revision)
    pending, seen = [registry[name] for name in names if name in registry], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(git_show(revision, path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.replace(".", "/").startswith(
                    METHODS_PACKAGE + "/"):
                pending.append(node.module.replace(".", "/") + ".py")
    return seen


@functools.cache
def other_methods_code(method: str, commit: str, head: str) -> tuple[set[str], set[str]]:
    """What a classifier trained with `method` ("cam", "puzzle+gain_ext") does not run, at
    `commit` or at `head`: the module files of the other registered methods (where its own
    modules do not import them) and their `train_classifier.methods.<name>` params sections.
    The registry and the base class are shared: a change to those still counts."""
    names = {name.strip() for name in method.split("+")}
    try:
        registries = [registered_methods(revision) for revision in (commit, head)]
        used = method_module_files(names, commit) | method_module_files(names, head)
    except (subprocess.CalledProcessError, StopIteration, KeyError, SyntaxError):
        return set(), set()  # a registry this cannot read: every change counts
    if registries[0] != registries[1]:
        return set(), set()
    others = set(registries[1]) - names
    files = {registries[1][name] for name in others} - used
    return files, {f"train_classifier.methods.{name}" for name in others}


def row_is_current(row: dict) -> bool:
    """Whether a results row's figures are those the pipeline code here gives (runs_current_code)."""
    return runs_current_code(row.get("commit"), row["metrics"], row["settings"].get(METHOD_KEY))


def head_commit() -> str | None:
    """The commit checked out here; None outside a git repository (a GPU machine's copy of the tree)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def save_row(table: str, row: dict) -> None:
    """Add `row` to results/<table>.json, replacing a row with the same settings (checks: and machine)."""
    path = RESULTS / f"{table}.json"
    RESULTS.mkdir(exist_ok=True)
    key = check_key if table == "checks" else settings_key
    path.write_text(json.dumps(merge_rows(_rows(table), [row], key), indent=1) + "\n")


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def _mean_over_reached(by_seed: dict[str, dict], figure: Callable[[dict], float]) -> str:
    """`figure`'s mean ± sd over the seeds whose runs reached the stage that writes it, naming
    those seeds where not all did (a row whose later seeds stopped earlier); "–" where none did."""
    reached = {seed: value for seed in sorted(by_seed, key=int)
               if (value := _reached(figure, by_seed[seed])) is not None}
    if not reached:
        return "–"
    cell = _mean_std(list(reached.values()))
    return cell if len(reached) == len(by_seed) else f"{cell} (seed{'s' * (len(reached) > 1)} {', '.join(reached)})"


def _figure(stage: str, key: str) -> Callable[[dict], float]:
    """The figure `key` of `stage` in a run's metrics (`_figure("crf", "fg_precision")`)."""
    return lambda metrics: metrics[stage][key]


# The stages tables' columns: (header, figure of a run), from the classifier to DeepLab's yardstick.
STAGE_FIGURES = (("classifier mAP", _figure("classifier", "val_map")), ("CAM", _figure("cam", "miou")),
                 ("random walk", _figure("rw", "miou")), ("dense CRF", _figure("crf", "miou")))
SEG_FIGURES = (("DeepLab (val)", _figure("seg", "miou")), ("fully supervised", _figure("seg", "full_miou")),
               ("weak / full", _figure("seg", "ratio")))
ORACLE_FIGURE = ("CAM, oracle threshold", _figure("cam", "oracle_miou"))  # reported, never used to label
STAGE_COLUMNS = tuple(header for header, _ in STAGE_FIGURES + SEG_FIGURES)


def foreground_figures(stage: str, name: str, figures: tuple[str, ...] = ("precision", "recall")) -> tuple:
    """Columns of `stage`'s foreground precision and recall (`fg_precision`, `fg_recall`), headed
    "<name> foreground precision": which way a stage errs, over the background or short of the objects."""
    return tuple((f"{name} foreground {figure}", _figure(stage, f"fg_{figure}")) for figure in figures)


def stage_figures(metrics: dict) -> list[float]:
    """A run's figures in the order of STAGE_COLUMNS."""
    return [figure(metrics) for _, figure in STAGE_FIGURES + SEG_FIGURES]


def render_stages(rows: list[dict], is_current: Callable[[dict], bool] = lambda row: True) -> str:
    """Each seed's figures and their mean ± sd, the CRF IoU per class, the epochs each training
    run took and where the rows ran. Rows that fail `is_current` ran other pipeline code: they are
    listed after the mean, labelled, and left out of it."""
    header = "| seed | " + " | ".join(STAGE_COLUMNS) + " |\n" + "|---" * (len(STAGE_COLUMNS) + 1) + "|\n"
    rows = sorted(rows, key=lambda r: int(r["settings"]["seed"]))
    current = [row for row in rows if is_current(row)]
    line = lambda row, label="": (f"| {row['settings']['seed']}{label} | "  # noqa: E731
                                  + " | ".join(f"{v:.3f}" for v in stage_figures(row["metrics"])) + " |")
    lines = [line(row) for row in current]
    if len(current) > 1:
        columns = zip(*(stage_figures(row["metrics"]) for row in current))
        lines.append("| mean ± sd | " + " | ".join(_mean_std(list(c)) for c in columns) + " |")
    lines += [line(row, EARLIER_CODE) for row in rows if row not in current]
    parts = [header + "\n".join(lines) + "\n"]
    if len(current) > 1:
        parts.append(render_class_spread(current, "crf"))
    parts += [render_lengths(current), render_provenance(current)]
    return "".join(part for part in parts if part)


# The training runs whose epochs the stages tables show (metrics/training.json), and their headers.
TRAINING_RUNS = {"classifier": "classifier", "affinity": "AffinityNet", "deeplab": "DeepLab",
                 "deeplab_full": "fully supervised"}


def render_lengths(rows: list[dict]) -> str:
    """The epochs each training run of each seed took: the `convergence` rule doubles a run that
    is still learning. Empty where no row kept metrics/training.json."""
    rows = [row for row in rows if "training" in row["metrics"]]
    if not rows:
        return ""
    lines = ["\nEpochs each training run took (a run still learning trains again at twice its epochs, "
             "`convergence` in params.yaml; * still learning at its last length):\n",
             "| seed | " + " | ".join(TRAINING_RUNS.values()) + " |", "|---" * (len(TRAINING_RUNS) + 1) + "|"]
    for row in rows:
        runs = row["metrics"]["training"]
        cells = [f"{runs[name]['epochs']}{'*' * runs[name]['still_learning']}" if name in runs else "–"
                 for name in TRAINING_RUNS]
        lines.append(f"| {row['settings']['seed']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_provenance(rows: list[dict]) -> str:
    """Which seeds ran at which commit on which machine, in one line per pair."""
    groups: dict[tuple, list[str]] = {}
    for row in rows:
        groups.setdefault((row.get("commit"), row.get("machine")), []).append(row["settings"]["seed"])
    phrases = [f"seed{'s' * (len(seeds) > 1)} {', '.join(seeds)} at commit {commit}"
               + (f" on {machine}" if machine else " (machine not recorded)")
               for (commit, machine), seeds in groups.items()]
    return "\nRan: " + "; ".join(phrases) + ".\n" if phrases else ""


def render_class_spread(rows: list[dict], stage: str) -> str:
    """IoU per class and seed at `stage`, with its sd: which classes make the spread over seeds."""
    rows = sorted(rows, key=lambda r: int(r["settings"]["seed"]))
    seeds = [row["settings"]["seed"] for row in rows]
    lines = [f"\nIoU per class at the {stage.upper()} stage, per seed (which classes make the spread):\n",
             "| class | " + " | ".join(f"seed {seed}" for seed in seeds) + " | sd |",
             "|---" * (len(seeds) + 2) + "|"]
    for name in rows[0]["metrics"][stage]["per_class"]:
        values = [row["metrics"][stage]["per_class"][name]["iou"] for row in rows]
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + f" | {statistics.stdev(values):.3f} |")
    return "\n".join(lines) + "\n"


def render_checks(rows: list[dict], stage_rows: list[dict], is_current: Callable[[dict], bool]) -> str:
    """Each check's figures beside the stages table's mean ± 2 sd, and the columns that fall outside it.

    Rows that fail `is_current` ran other pipeline code than the stages table: they are
    listed, but neither set against its band nor taken into a check's mean.
    """
    band = [(statistics.mean(c) - 2 * statistics.stdev(c), statistics.mean(c) + 2 * statistics.stdev(c))
            for c in zip(*(stage_figures(r["metrics"]) for r in stage_rows))]
    header = ("| run | seed | " + " | ".join(STAGE_COLUMNS) + " | outside mean ± 2 sd | wall time | commit |\n"
              + "|---" * (len(STAGE_COLUMNS) + 5) + "|\n")
    lines = ["| band: stages table, mean ± 2 sd | – | "
             + " | ".join(f"{low:.3f} – {high:.3f}" for low, high in band) + " | – | – | – |"]
    outside = lambda values: ", ".join(  # noqa: E731
        name for name, value, (low, high) in zip(STAGE_COLUMNS, values, band) if not low <= value <= high) or "none"
    current = [is_current(row) for row in rows]
    for row, compared in zip(rows, current):
        values = stage_figures(row["metrics"])
        verdict = outside(values) if compared else "not compared: earlier pipeline code"
        lines.append(f"| {check_label(row)} | {row['settings']['seed']} | "
                     + " | ".join(f"{v:.3f}" for v in values)
                     + f" | {verdict} | {row['seconds']} s | {row.get('commit') or '–'} |")
    for label in dict.fromkeys(map(check_label, rows)):  # a check run with several seeds: its mean against the band
        runs = [stage_figures(row["metrics"]) for row, compared in zip(rows, current)
                if compared and check_label(row) == label]
        if len(runs) > 1:
            columns = list(zip(*runs))
            lines.append(f"| {label}, mean ± sd | {len(runs)} seeds | "
                         + " | ".join(_mean_std(list(c)) for c in columns)
                         + f" | {outside([statistics.mean(c) for c in columns])} | – | – |")
    return header + "\n".join(lines) + "\n"


def _cam_miou(metrics: dict, cooccurrence: str) -> float:
    return metrics["cam"]["miou"]


def _crf_miou(metrics: dict, cooccurrence: str) -> float:
    return metrics["crf"]["miou"]


def _cooccurrence_fp(metrics: dict, cooccurrence: str, stage: str = "cam") -> float:
    """The share of the annotated context (water) labelled as the co-occurring class (boat) at
    `stage`; KeyError where the run did not score it there (runs of earlier code, at the CRF)."""
    return metrics[stage]["context_fp"][cooccurrence]


def _crf_cooccurrence_fp(metrics: dict, cooccurrence: str) -> float:
    return _cooccurrence_fp(metrics, cooccurrence, "crf")


def row_label(settings: dict[str, str]) -> str:
    """A methods row's name: its method, and every setting but the seed that its runs changed."""
    extra = [f"{key.removeprefix('train_classifier.')}={value}" for key, value in settings.items()
             if key not in ("seed", "data.root", METHOD_KEY)]
    return settings[METHOD_KEY] + (f" ({', '.join(extra)})" if extra else "")


# SSNet read out from its per-pixel class probabilities H_i (extract_cams.method=ssnet), as SSNet
# labels pixels, with the background that softmax implies: a class takes a pixel where H_c > 0.5,
# above the background's 1 - H_c (eval_cams, affinity_labels), and the walk's background is 1 - H
# (bg_power 1). The thresholds made for peaky CAMs (0.25, 0.30, (1 - CAM)^8) let these flatter
# maps spread past the objects.
SSNET_READOUT_SETTINGS = {
    "extract_cams.method": "ssnet", "eval_cams.bg_threshold": "0.5",
    "affinity_labels.fg_threshold": "0.5", "random_walk.bg_power": "1.0",
}
SSNET_READOUT = row_label({METHOD_KEY: "ssnet", **SSNET_READOUT_SETTINGS})

# The questions the method table answers (issue #10's targets):
# (method, baseline, metrics key it needs, figure name, figure of a run, claim is "higher", claim, its negation).
CLAIMS = (
    ("puzzle", "cam", "cam", "CAM-stage mIoU", _cam_miou, True, "raises", "does not raise"),
    ("puzzle", "cam", "crf", "CRF mIoU", _crf_miou, True, "raises", "does not raise"),
    ("gain", "cam", "cam", "CAM-stage mIoU", _cam_miou, True, "raises", "does not raise"),
    ("gain_ext", "cam", "cam", "CAM-stage mIoU", _cam_miou, True, "raises", "does not raise"),
    ("gain_ext", "cam", "cam", "share of the '{c}' context labelled '{c}' by the CAM", _cooccurrence_fp, False,
     "lowers", "does not lower"),
    ("gain_ext", "gain", "cam", "share of the '{c}' context labelled '{c}' by the CAM", _cooccurrence_fp, False,
     "lowers", "does not lower"),
    # Whether what GAIN_ext's masks correct in the CAM survives the random walk and the CRF.
    ("gain_ext", "cam", "crf", "CRF mIoU", _crf_miou, True, "raises", "does not raise"),
    ("gain_ext", "cam", "crf", "share of the '{c}' context labelled '{c}' by the CRF labels", _crf_cooccurrence_fp,
     False, "lowers", "does not lower"),
    ("gain_ext", "gain", "crf", "share of the '{c}' context labelled '{c}' by the CRF labels", _crf_cooccurrence_fp,
     False, "lowers", "does not lower"),
    ("ssnet", "cam", "crf", "CRF mIoU", _crf_miou, True, "raises", "does not raise"),
    # SSNet read out from its class probabilities (SSNET_READOUT_SETTINGS), not as a raw CAM.
    (SSNET_READOUT, "cam", "cam", "CAM-stage mIoU", _cam_miou, True, "raises", "does not raise"),
    (SSNET_READOUT, "cam", "crf", "CRF mIoU", _crf_miou, True, "raises", "does not raise"),
)


def ablation_suffixes(labels: Iterable[str]) -> list[str]:
    """The settings in brackets that ablation rows of the CLAIMS' methods add to their labels
    (" (crop_size=128)"), in order of appearance; rows of earlier pipeline code are left out."""
    methods = {name for claim in CLAIMS for name in claim[:2]}
    suffixes = [label[len(method):] for label in labels if not label.endswith(EARLIER_CODE)
                for method in methods if label.startswith(method + " (")]
    return list(dict.fromkeys(suffixes))


def with_settings(label: str, suffix: str) -> str:
    """The label of the row that changed the settings of `label` and those of an ablation
    `suffix` (" (k=v)"), in that order: SSNet's readout at DeepLab's default length written out is
    `ssnet (extract_cams.method=ssnet, ..., train_segmentation.optim.epochs=5)`."""
    if not suffix:
        return label
    return f"{label[:-1]}, {suffix.strip()[1:]}" if label.endswith(")") else label + suffix


def render_findings(by_method: dict[str, dict[str, dict]], cooccurrence: str | None) -> str:
    """One generated sentence per claim in CLAIMS, on the seeds where both methods reached the stage
    (the context claims only where the dataset annotates a co-occurrence context); a claim holds
    where the mean moves its way and so do most of those seeds, and is judged only over
    VERDICT_SEEDS seeds at least (fewer give the figures without a verdict). Then the same claims between
    ablation rows that changed the same settings (`puzzle (crop_size=128)` against
    `cam (crop_size=128)`), introduced by those settings."""
    lines = []
    for suffix in ["", *ablation_suffixes(by_method)]:
        where = f"with `{suffix.strip()[1:-1]}`: " if suffix else ""
        for method, baseline, key, figure, value, higher, claim, negation in CLAIMS:
            if cooccurrence is None and "{c}" in figure:  # a context claim on data without a context
                continue
            ours_by_seed = by_method.get(with_settings(method, suffix), {})
            theirs_by_seed = by_method.get(with_settings(baseline, suffix), {})
            # the seeds where both reached the stage and scored the figure there
            pairs = {s: (_reached(lambda m: value(m, cooccurrence), ours_by_seed[s]),
                         _reached(lambda m: value(m, cooccurrence), theirs_by_seed[s]))
                     for s in sorted(set(ours_by_seed) & set(theirs_by_seed), key=int)
                     if key in ours_by_seed[s] and key in theirs_by_seed[s]}
            seeds = [s for s, (a, b) in pairs.items() if a is not None and b is not None]
            if not seeds:
                continue
            ours, theirs = [pairs[s][0] for s in seeds], [pairs[s][1] for s in seeds]
            mean_ours, mean_theirs = statistics.mean(ours), statistics.mean(theirs)
            per_seed = sum((a > b) == higher for a, b in zip(ours, theirs))
            # issue #10's test of a gain: the mean, and more than half of the seeds (two of three)
            holds = (mean_ours > mean_theirs) == higher and 2 * per_seed > len(seeds)
            named = figure.format(c=cooccurrence)
            figures = (f"{mean_ours:.3f} vs {mean_theirs:.3f} (mean of seeds {', '.join(seeds)}; "
                       f"{'higher' if higher else 'lower'} on {per_seed} of {len(seeds)}")
            if len(seeds) < VERDICT_SEEDS:  # a lead, reported without a verdict
                lines.append(f"- {where}`{method}` against `{baseline}`, the {named}: {figures}; "
                             "too few seeds for a verdict)")
            else:
                lines.append(f"- {where}`{method}` {claim if holds else negation} the {named} against "
                             f"`{baseline}`: {figures})")
    return "\n".join(lines) + "\n" if lines else ""


def render_methods(rows: list[dict], stage_rows: list[dict], is_current: Callable[[dict], bool],
                   cooccurrence: str | None = "boat") -> str:
    """The methods table of one dataset; the default runs of its stages table are the `cam`
    rows where the methods table has none of its own for that seed. A row that fails
    `is_current` ran other pipeline code: it is labelled so, and no claim compares it.
    `cooccurrence`: the class whose annotated context is scored, None for a dataset without."""
    by_method: dict[str, dict[str, dict]] = {}
    for row in stage_rows:
        if _default_run(row):
            by_method.setdefault("cam", {})[row["settings"]["seed"]] = row["metrics"]
    for row in rows:
        label = row_label(row["settings"]) + ("" if is_current(row) else EARLIER_CODE)
        by_method.setdefault(label, {})[row["settings"]["seed"]] = row["metrics"]
    # The stages table's columns, with the CAM's oracle threshold beside the CAM, and after DeepLab
    # the context labelled as its class by the CAM and by the CRF labels (what the walk and CRF keep).
    context = [(f"'{cooccurrence}' context labelled '{cooccurrence}' ({name})",
                lambda metrics, stage=stage: _cooccurrence_fp(metrics, cooccurrence, stage))
               for stage, name in (("cam", "CAM"), ("crf", "CRF"))] if cooccurrence else []
    figures = [*STAGE_FIGURES[:2], ORACLE_FIGURE, *STAGE_FIGURES[2:], *SEG_FIGURES, *context]
    columns = ["method", "seeds", *(header for header, _ in figures)]
    header = "| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|\n"
    lines = []
    for method, by_seed in by_method.items():
        cells = [_mean_over_reached(by_seed, figure) for _, figure in figures]
        lines.append(f"| {method} | {len(by_seed)} | " + " | ".join(cells) + " |")
    findings = render_findings(by_method, cooccurrence)
    per_class = "".join(render_per_class(by_method, stage) for stage in ("cam", "crf"))
    return header + "\n".join(lines) + "\n" + (f"\n{findings}" if findings else "") + per_class


def render_per_class(by_method: dict[str, dict[str, dict]], stage: str) -> str:
    """IoU per class at `stage`, mean over each method's seeds: where a method gains and loses.
    A row that only some of its seeds ran through `stage` names those seeds."""
    runs = {}
    for method, by_seed in by_method.items():
        reached = sorted((seed for seed, r in by_seed.items() if stage in r), key=int)
        if reached:
            some = f", seed{'s' * (len(reached) > 1)} {', '.join(reached)} only"
            label = method + ("" if len(reached) == len(by_seed) else some)
            runs[label] = [by_seed[seed] for seed in reached]
    if not runs:
        return ""
    names = list(next(iter(runs.values()))[0][stage]["per_class"])
    lines = [f"\nIoU per class at the {stage.upper()} stage (mean over the seeds of each row):\n",
             "| method | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for method, found in runs.items():
        means = [statistics.mean(r[stage]["per_class"][name]["iou"] for r in found) for name in names]
        lines.append(f"| {method} | " + " | ".join(f"{v:.2f}" for v in means) + " |")
    return "\n".join(lines) + "\n"


def _methods_row(label: str) -> Callable[[dict], bool]:
    """Selects the results rows of the methods row named `label` (row_label)."""
    return lambda row: METHOD_KEY in row["settings"] and row_label(row["settings"]) == label


def _default_run(row: dict) -> bool:
    """Whether a stages table's row ran the defaults: no setting but the seed and the dataset."""
    return set(row["settings"]) <= {"seed", "data.root"}


def _check_rows(check: str, cpu: str) -> Callable[[dict], bool]:
    """Selects the rows of `check` run on the CPU named `cpu`."""
    return lambda row: row["settings"].get("check") == check and (row.get("machine") or "").startswith(cpu)


class Comparison(NamedTuple):
    """A table that sets rows of results/*.json side by side, on the seeds all of them
    ran, for a question the prose argues: one line per (label, table, rows selector), one
    column per (header, figure of a run); cells seed by seed ("a / b / c") or their mean."""

    question: str  # the first column's header, before the seeds
    rows: tuple[tuple[str, str, Callable[[dict], bool]], ...]
    columns: tuple[tuple[str, Callable[[dict], float]], ...]
    per_seed: bool


def _photos_against_cam(question: str, name: str, method: str, suffix: str,
                        columns: tuple[tuple[str, Callable[[dict], float]], ...]) -> Comparison:
    """Plain CAM and the methods row `method` on the photographs, both run with the settings
    `suffix` (" (k=v, ...)", as in with_settings), seed by seed."""
    return Comparison(question, (("plain CAM", "photos_methods", _methods_row(with_settings("cam", suffix))),
                                 (name, "photos_methods", _methods_row(with_settings(method, suffix)))),
                      columns, per_seed=True)


DEEPLAB_5 = " (train_segmentation.optim.epochs=5)"  # the default DeepLab length, written out (fp32 Xeon rows)
LONGER_LENGTHS = " (optim.epochs=20, train_segmentation.optim.epochs=15)"  # classifier 20 epochs, DeepLabs 15
BF16_XEON = "Intel(R) Xeon(R) Processor, 2 cores, native bf16"  # the third: an Intel Xeon that computes bf16
# Puzzle-CAM's rows and plain CAM's (the stages table's), both run on the stages table's machine.
PUZZLE_AGAINST_CAM = (("plain CAM (stages table)", "stages", _default_run),
                      ("Puzzle-CAM, one-sided (`puzzle` rows)", "methods", _methods_row("puzzle")))
# Keyed by their markers (results:<key>:start) in one of DOCUMENTS.
COMPARISONS = {
    # Why Puzzle-CAM's CAM gain does not reach the CRF on the built-in data, seed by seed ...
    "puzzle_seeds": Comparison(
        "built-in data, seed by seed",
        PUZZLE_AGAINST_CAM,
        (*STAGE_FIGURES, *foreground_figures("crf", "CRF")),
        per_seed=True),
    # ... and where the CAM stage's gain goes: foreground precision and recall after each stage.
    "puzzle_foreground": Comparison(
        "foreground",
        PUZZLE_AGAINST_CAM,
        tuple(column for stage, name in (("cam", "CAM"), ("rw", "walk"), ("crf", "CRF"))
              for column in foreground_figures(stage, name)),
        per_seed=False),
    # Puzzle-CAM and plain CAM on the photographs, on the same machine (the Intel Xeon, fp32).
    "photos_puzzle_seeds": _photos_against_cam(
        "photographs, Intel Xeon", "Puzzle-CAM, one-sided", "puzzle", DEEPLAB_5,
        (*STAGE_FIGURES, *foreground_figures("crf", "CRF", ("precision",)), *SEG_FIGURES)),
    # Puzzle-CAM, SSNet's readout and plain CAM on the photographs at today's code (the length rule):
    # plain CAM's runs are the photographs table's (Intel Xeon with bf16), the methods' ran on the AMD
    # EPYC (bf16).
    "photos_methods_rule": Comparison(
        "photographs, default params (today's code: the length rule)",
        (("plain CAM (photographs table; Intel Xeon with bf16)", "photos", _default_run),
         ("Puzzle-CAM, one-sided (`puzzle` rows; AMD EPYC, bf16)", "photos_methods", _methods_row("puzzle")),
         ("SSNet, read out from H_i (`ssnet (...)` rows; AMD EPYC, bf16)", "photos_methods",
          _methods_row(SSNET_READOUT))),
        (*STAGE_FIGURES, *foreground_figures("cam", "CAM"), *foreground_figures("crf", "CRF")),
        per_seed=True),
    # What longer training does on the photographs, where the default lengths stop short (Intel Xeon, fp32).
    "photos_lengths": Comparison(
        "photographs, Intel Xeon",
        (("defaults: classifier 10 epochs, both DeepLabs 5", "photos_methods",
          _methods_row(with_settings("cam", DEEPLAB_5))),
         ("both DeepLabs 15 epochs", "photos_methods", _methods_row("cam (train_segmentation.optim.epochs=15)")),
         ("classifier 20 epochs", "photos_methods", _methods_row("cam (optim.epochs=20)"))),
        (*STAGE_FIGURES, *SEG_FIGURES),
        per_seed=False),
    # Both lengths raised at once, against the defaults written out, on a third machine: an Intel
    # Xeon that computes bf16 natively, so `runtime.amp` trains in bf16 there.
    "photos_lengths_bf16": Comparison(
        "photographs, Intel Xeon with bf16",
        (("defaults: classifier 10 epochs, both DeepLabs 5", "photos_methods",
          _methods_row("cam (optim.epochs=10, train_segmentation.optim.epochs=5)")),
         ("classifier 20 epochs, both DeepLabs 15", "photos_methods",
          _methods_row(with_settings("cam", LONGER_LENGTHS)))),
        (*STAGE_FIGURES, *SEG_FIGURES),
        per_seed=False),
    # Puzzle-CAM and plain CAM on the photographs at both longer lengths, on the Intel Xeon with bf16.
    "photos_puzzle_long": _photos_against_cam(
        "photographs, Intel Xeon with bf16, classifier 20 epochs, both DeepLabs 15", "Puzzle-CAM, one-sided",
        "puzzle", LONGER_LENGTHS, (*STAGE_FIGURES, *foreground_figures("crf", "CRF"), *SEG_FIGURES)),
    # Whether the photographs' machine gap is the CPU or the precision it trains in: the Intel Xeon
    # with bf16 run both ways (`runtime.amp=false` is fp32), beside the fp32 Xeon and the AMD EPYC (bf16).
    "photos_precision": Comparison(
        "photographs, default params",
        (("Intel Xeon @ 2.50GHz, fp32 (no native bf16)", "photos_methods",
          _methods_row(with_settings("cam", DEEPLAB_5))),
         ("Intel Xeon with bf16, `runtime.amp=false`: fp32", "photos_methods", _methods_row("cam (runtime.amp=false)")),
         ("Intel Xeon with bf16, bf16 (its default)", "photos_methods",
          _methods_row("cam (optim.epochs=10, train_segmentation.optim.epochs=5)")),
         ("AMD EPYC, bf16 (its default; row `cam`)", "photos_methods", _methods_row("cam"))),
        (*STAGE_FIGURES[:2], *foreground_figures("cam", "CAM"), *STAGE_FIGURES[2:]),
        per_seed=True),
    # The classifier's learning rate on both datasets, on the Intel Xeon with bf16 (the built-in
    # data's default runs on that machine are the checks' `machine` rows).
    "classifier_lr": Comparison(
        "Intel Xeon with bf16, classifier 10 epochs",
        (("built-in, lr 1e-3 (default; `machine` rows)", "checks", _check_rows("machine", BF16_XEON)),
         ("built-in, lr 5e-4", "methods", _methods_row("cam (optim.lr=0.0005)")),
         ("photographs, lr 1e-3 (default)", "photos_methods",
          _methods_row("cam (optim.epochs=10, train_segmentation.optim.epochs=5)")),
         ("photographs, lr 5e-4", "photos_methods", _methods_row("cam (optim.lr=0.0005)"))),
        (*STAGE_FIGURES[:2], ORACLE_FIGURE, *foreground_figures("cam", "CAM"), *STAGE_FIGURES[2:], *SEG_FIGURES),
        per_seed=True),
    # SSNet's readout and plain CAM on the photographs at both longer lengths, on the Intel Xeon with bf16.
    "photos_ssnet_long": _photos_against_cam(
        "photographs, Intel Xeon with bf16, classifier 20 epochs, both DeepLabs 15", "SSNet, read out from H_i",
        SSNET_READOUT, LONGER_LENGTHS, (*STAGE_FIGURES, *foreground_figures("crf", "CRF"), *SEG_FIGURES)),
    # SSNet's readout and plain CAM on the photographs, on the same machine (the Intel Xeon, fp32).
    "photos_ssnet_seeds": _photos_against_cam(
        "photographs, Intel Xeon", "SSNet, read out from H_i", SSNET_READOUT, DEEPLAB_5,
        (*STAGE_FIGURES, *foreground_figures("crf", "CRF"))),
}


def _reached(figure: Callable[[dict], float], metrics: dict) -> float | None:
    """`figure` of a run, None where the run stopped before the stage that writes it."""
    try:
        return figure(metrics)
    except KeyError:
        return None


def render_comparison(comparison: Comparison, rows_of: Callable[[str], list[dict]],
                      is_current: Callable[[dict], bool]) -> str:
    """`comparison` as a table over the seeds every one of its rows ran (a line with no runs yet
    is left out); a line whose rows ran other pipeline code than the checkout's is labelled so
    (EARLIER_CODE)."""
    runs = {}
    for label, table, selects in comparison.rows:
        found = [row for row in rows_of(table) if selects(row)]
        current = all(map(is_current, found))
        if found:
            runs[label + ("" if current else EARLIER_CODE)] = {row["settings"]["seed"]: row["metrics"] for row in found}
    seeds = sorted(set.intersection(*(set(by_seed) for by_seed in runs.values())), key=int) if runs else []
    if not seeds:
        return ""
    which = " / ".join(seeds) if comparison.per_seed else f"{', '.join(seeds)} (mean ± sd)"
    columns = [f"{comparison.question}, seeds {which}", *(header for header, _ in comparison.columns)]
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    for label, by_seed in runs.items():
        cells = []
        for _, figure in comparison.columns:
            values = [_reached(figure, by_seed[seed]) for seed in seeds]
            if comparison.per_seed:
                cells.append(" / ".join("–" if v is None else f"{v:.3f}" for v in values))
            else:
                cells.append("–" if None in values else _mean_std(values))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(table: str, text: str) -> None:
    """Replace the text between the table's markers with `text`, in the one document of DOCUMENTS
    that holds them, indented as the start marker is (a table inside a list item stays in it)."""
    start, end = f"<!-- results:{table}:start -->", f"<!-- results:{table}:end -->"
    texts = {path: path.read_text() for path in DOCUMENTS if path.is_file()}
    holders = [path for path, doc in texts.items() if start in doc and end in doc]
    if len(holders) != 1:
        names = " and ".join(str(path) for path in holders or DOCUMENTS)
        raise SystemExit(f"{start} ... {end} must be in exactly one document; found in {len(holders)} of {names}")
    path = holders[0]
    before, rest = texts[path].split(start, 1)
    _, after = rest.split(end, 1)
    indent = before[before.rfind("\n") + 1:]
    indent = indent if indent.isspace() else ""
    text = "".join(indent + line if line.strip() else line for line in text.splitlines(keepends=True))
    path.write_text(f"{before}{start}\n{text}{indent}{end}{after}")
    print(f"{path}: {table} table updated")


def _rows(table: str) -> list[dict]:
    """The rows of results/<table>.json (none before its first run)."""
    path = RESULTS / f"{table}.json"
    return json.loads(path.read_text()) if path.is_file() else []


def annotated_context(rows: list[dict]) -> str | None:
    """The class whose co-occurrence context the rows' dataset annotates (the CAM stage's
    `context_fp`), None for a dataset without one."""
    classes = [name for row in rows for name in row["metrics"].get("cam", {}).get("context_fp", {})]
    return classes[0] if classes else None


def render() -> None:
    stage_rows, method_rows = _rows("stages"), _rows("methods")
    for table in ("stages", "photos"):
        if _rows(table):
            write_table(table, render_stages(_rows(table), row_is_current))
    band_rows = [row for row in stage_rows if row_is_current(row)]  # the band is the current code's
    if _rows("checks") and len(band_rows) > 1:
        write_table("checks", render_checks(_rows("checks"), band_rows, row_is_current))
    if stage_rows or method_rows:
        write_table("methods", render_methods(method_rows, stage_rows, row_is_current))
    photo_method_rows, photo_stage_rows = _rows("photos_methods"), _rows("photos")
    for root, marker in PHOTO_METHOD_TABLES.items():
        rows = [row for row in photo_method_rows if row["settings"].get("data.root") == root]
        if rows:
            root_stage_rows = [row for row in photo_stage_rows if row["settings"].get("data.root") == root]
            write_table(marker, render_methods(rows, root_stage_rows, row_is_current, cooccurrence=annotated_context(rows)))
    for marker, comparison in COMPARISONS.items():
        write_table(marker, render_comparison(comparison, _rows, row_is_current))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", choices=("stages", "methods", "photos", "checks", "render"))
    parser.add_argument("--root", default="data/photos", help="photos: the dataset's data.root")
    parser.add_argument("--seeds", nargs="+", default=["0", "1", "2"])
    parser.add_argument("--methods", nargs="+", help=f"methods (default: {' '.join(DEFAULT_METHODS)}); "
                        "photos: a methods table on that dataset instead of its stages table")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="methods: further settings of every run (an ablation row)")
    parser.add_argument("--checks", nargs="+", choices=list(CHECKS), default=["other_cpu", "nproc2"])
    parser.add_argument("--without-dvc", action="store_true", help="checks: run dvc.lock's stage commands here")
    parser.add_argument("--through", choices=list(WRITTEN_BY.values()), help="stop each methods run after this stage")
    args = parser.parse_args()
    method_runs = [{METHOD_KEY: m, **dict(setting.split("=", 1) for setting in args.set), "seed": s}
                   for m in args.methods or DEFAULT_METHODS for s in args.seeds]
    if args.table == "stages":
        collect("stages", [{"seed": s} for s in args.seeds])
    elif args.table == "photos" and args.methods:
        collect("photos_methods", [{"data.root": args.root, **run} for run in method_runs], args.through)
    elif args.table == "photos":
        collect("photos", [{"data.root": args.root, "seed": s} for s in args.seeds])
    elif args.table == "checks":
        collect_checks(args.checks, args.seeds, args.without_dvc)
    elif args.table == "methods":
        collect("methods", method_runs, args.through)
    render()


if __name__ == "__main__":
    main()
