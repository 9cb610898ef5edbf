"""The code each DVC stage imports, compared with (or written into) its deps in dvc.yaml.

    python scripts/dvc_deps.py           # list the stages whose code deps differ from their imports
    python scripts/dvc_deps.py --write   # rewrite those code deps (data deps are kept as they are)

A stage's code deps are the files `python -m stages.<stage>` executes under `pipeline/`
and `stages/`, with a folder standing for all its files wherever the stage runs every one
of them. tests/test_dvc_deps.py runs the same comparison.
"""
from __future__ import annotations

import ast
import re
import sys
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



def stage_module(stage: dict) -> str:
    return re.search(r"python -m (\S+)", stage["cmd"]).group(1)


def differences() -> dict[str, str]:
    """Stage -> what is missing and what is not imported, for every stage whose code deps are off."""
    wrong = {}
    for name, stage in stages().items():
        needed = imported_files(stage_module(stage))
        declared_deps = [ROOT / dep for dep in stage["deps"] if dep.split("/")[0] in LOCAL_PACKAGES]
        declared = set().union(*(code_files(dep) for dep in declared_deps))
        if needed != declared:
            missing = sorted(str(p.relative_to(ROOT)) for p in needed - declared)
            extra = sorted(str(p.relative_to(ROOT)) for p in declared - needed)
            wrong[name] = f"missing {missing}, not imported {extra}; use {minimal_deps(needed)}"
    return wrong


def write() -> None:
    """Replace every stage's code deps in dvc.yaml by its imports, keeping the text around them."""
    path = ROOT / "dvc.yaml"
    text, out, pos = path.read_text(), [], 0
    for match in re.finditer(r"python -m stages\.(\w+)", text):
        deps = re.compile(r"\n( +)deps:\n((?:\1  - .*\n)+)").search(text, match.end())
        indent = deps.group(1) + "  "
        data = [line for line in deps.group(2).splitlines(keepends=True)
                if line.strip()[2:].split("/")[0] not in LOCAL_PACKAGES]
        code = [f"{indent}- {dep}\n" for dep in minimal_deps(imported_files(f"stages.{match.group(1)}"))]
        out.append(text[pos:deps.start(2)] + "".join(code + data))
        pos = deps.end(2)
    path.write_text("".join(out) + text[pos:])


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    for stage, problem in differences().items():
        print(f"{stage}: {problem}")
    sys.exit(1 if differences() else 0)
