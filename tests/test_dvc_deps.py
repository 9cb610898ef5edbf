"""Every DVC stage declares the code it runs, so that editing that code reruns the stage.

DVC only knows the dependencies dvc.yaml lists: a stage that imports an undeclared module
keeps its cached outputs (and metrics) after that module changes. This test follows each
stage's imports through `pipeline/` and `stages/` and asks that every file reached is a
declared dependency or lies under one.
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


def _has_code(tree: ast.Module) -> bool:
    """False for a file holding only its docstring (a package marker)."""
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in tree.body)


def imported_files(module: str) -> set[Path]:
    """The local files that running `python -m module` executes, docstring-only ones left out."""
    seen: set[Path] = set()
    files: set[Path] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        path = _module_file(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        parts = name.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
        tree = ast.parse(path.read_text())
        if _has_code(tree):
            files.add(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            pending += [n for n in names if n.split(".")[0] in LOCAL_PACKAGES]
    return files


def test_every_stage_declares_the_code_it_imports():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    undeclared = {}
    for name, stage in stages.items():
        module = re.search(r"python -m (\S+)", stage["cmd"]).group(1)
        deps = [ROOT / dep for dep in stage["deps"]]
        missing = [
            str(path.relative_to(ROOT)) for path in sorted(imported_files(module))
            if not any(path == dep or dep in path.parents for dep in deps)
        ]
        if missing:
            undeclared[name] = missing
    assert not undeclared, f"dvc.yaml: stages import files they do not list in deps: {undeclared}"


def test_the_import_walk_reaches_the_method_registry():
    files = imported_files("stages.train_classifier")
    assert ROOT / "pipeline/methods/__init__.py" in files
    assert ROOT / "pipeline/methods/gain_ext.py" in files
    assert ROOT / "pipeline/__init__.py" not in files  # docstring only
