"""Every DVC stage declares exactly the code it runs: no file missing, none extra.

DVC only knows the dependencies dvc.yaml lists: a stage that imports an undeclared module
keeps its cached outputs (and metrics) after that module changes, and a stage that lists
code it no longer imports reruns for nothing. This test follows each stage's imports
through `pipeline/` and `stages/` and compares them with the declared code dependencies,
where a listed folder stands for every file in it. On failure it prints the list to use.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LOCAL_PACKAGES = ("pipeline", "stages")


def _module_file(name: str) -> Path | None:
    path = ROOT.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


def _has_code(path: Path) -> bool:
    """False for a file holding only its docstring (a package marker)."""
    tree = ast.parse(path.read_text())
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in tree.body)


def imported_files(module: str) -> set[Path]:
    """The local files that running `python -m module` executes, docstring-only ones left out."""
    seen: set[Path] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        path = _module_file(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        parts = name.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            pending += [n for n in names if n.split(".")[0] in LOCAL_PACKAGES]
    return {path for path in seen if _has_code(path)}


def code_files(dep: Path) -> set[Path]:
    """The code-bearing Python files a declared dependency stands for."""
    files = sorted(dep.rglob("*.py")) if dep.is_dir() else [dep]
    return {path for path in files if "__pycache__" not in path.parts and _has_code(path)}


def minimal_deps(files: set[Path]) -> list[str]:
    """`files` as a dependency list: a folder wherever every code file in it is needed."""
    deps: set[Path] = set()
    for path in files:
        folder = path
        for parent in path.parents:
            if parent == ROOT or parent.name in LOCAL_PACKAGES or not code_files(parent) <= files:
                break
            folder = parent
        deps.add(folder)
    return sorted(str(dep.relative_to(ROOT)) for dep in deps)


def stages() -> dict[str, dict]:
    """dvc.yaml's stages, `foreach` expanded into `name@key` with `${item.*}` substituted."""
    expanded = {}
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        if "foreach" not in stage:
            expanded[name] = stage
            continue
        for key, item in stage["foreach"].items():
            text = yaml.safe_dump(stage["do"])
            for field, value in item.items():
                text = text.replace("${item.%s}" % field, str(value))
            expanded[f"{name}@{key}"] = yaml.safe_load(text)
    return expanded


def test_every_stage_declares_exactly_the_code_it_imports():
    wrong = {}
    for name, stage in stages().items():
        module = re.search(r"python -m (\S+)", stage["cmd"]).group(1)
        needed = imported_files(module)
        declared_deps = [ROOT / dep for dep in stage["deps"] if dep.split("/")[0] in LOCAL_PACKAGES]
        declared = set().union(*(code_files(dep) for dep in declared_deps))
        if needed != declared:
            missing = sorted(str(p.relative_to(ROOT)) for p in needed - declared)
            extra = sorted(str(p.relative_to(ROOT)) for p in declared - needed)
            wrong[name] = f"missing {missing}, not imported {extra}; use {minimal_deps(needed)}"
    assert not wrong, f"dvc.yaml: code dependencies differ from the imports: {wrong}"


def test_the_import_walk_reaches_the_method_registry():
    files = imported_files("stages.train_classifier")
    assert ROOT / "pipeline/methods/__init__.py" in files
    assert ROOT / "pipeline/methods/gain_ext.py" in files
    assert ROOT / "pipeline/__init__.py" not in files  # docstring only


def test_the_crf_stage_runs_no_network_code():
    files = {str(p.relative_to(ROOT)) for p in imported_files("stages.crf")}
    assert not any(f.startswith(("pipeline/models", "pipeline/training")) for f in files), files
