"""The layers are a contract: no module imports a higher layer or another package's privates.

Bottom to top: ``detector.features`` and ``detector.models`` (folders ``features/`` and
``models/``, which import nothing else of the engine), then
``detector.errors``, ``detector.io``, ``detector.batch``, ``detector.app``;
``detector.synthetic`` builds on ``detector.io`` and only ``detector.app`` uses it.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Each package, and the packages of this project it may import.
ALLOWED = {
    "detector.features": {"detector.features"},
    "detector.models": {"detector.models", "detector.features"},
    "detector": {"detector", "detector.errors", "detector.io"},
    "detector.errors": {"detector.errors"},
    "detector.io": {"detector.io", "detector.errors", "detector.features", "detector.models"},
    "detector.batch": {
        "detector.batch",
        "detector.io",
        "detector.errors",
        "detector.features",
        "detector.models",
    },
    "detector.synthetic": {
        "detector.synthetic",
        "detector.io",
        "detector.errors",
        "detector.features",
    },
    "detector.app": {
        "detector",
        "detector.app",
        "detector.batch",
        "detector.io",
        "detector.errors",
        "detector.synthetic",
        "detector.features",
        "detector.models",
    },
}


#: Installed package -> its folder in the repository (pyproject.toml's package-dir).
FOLDERS = {"detector.features": "features", "detector.models": "models", "detector": "detector"}


def _modules():
    for package, folder in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join([package, *parts]), path


def _package(module: str, is_init: bool) -> str:
    """The layer a module belongs to: the most specific key of ALLOWED it falls in."""
    name = module if is_init else module.rsplit(".", 1)[0] if "." in module else module
    if module == "detector.errors":
        return "detector.errors"
    if module == "detector.__main__":  # `python -m detector`: the command line itself
        return "detector.app"
    while name not in ALLOWED:
        name = name.rsplit(".", 1)[0]
    return name


def _imports(path: Path, module: str):
    """(imported module, imported names) of every import in a file, relative ones resolved."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: -node.level or None]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            yield base, [alias.name for alias in node.names]


def _ours(name: str) -> bool:
    return name.split(".")[0] == "detector"


CASES = list(_modules())


@pytest.mark.parametrize(("module", "path"), CASES, ids=[m for m, _ in CASES])
def test_no_module_imports_a_higher_layer(module, path):
    layer = _package(module, path.name == "__init__.py")
    for target, names in _imports(path, module):
        if not _ours(target):
            continue
        targets = [target] + [f"{target}.{n}" for n in names]
        reached = {_package(t, True) for t in targets if _resolvable(t)}
        assert reached <= ALLOWED[layer], f"{module} imports {target} ({reached - ALLOWED[layer]})"


@pytest.mark.parametrize(("module", "path"), CASES, ids=[m for m, _ in CASES])
def test_no_import_crosses_into_another_packages_private_names(module, path):
    own = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for target, names in _imports(path, module):
        if not _ours(target) or target == own or target.startswith(own + "."):
            continue
        private = [p for p in target.split(".") if p.startswith("_")]
        assert not private, f"{module} imports the private module {target}"
        hidden = [n for n in names if n.startswith("_") and not n.endswith("__")]
        assert not hidden, f"{module} imports private names {hidden} of {target}"


def _resolvable(name: str) -> bool:
    package = max((p for p in FOLDERS if name == p or name.startswith(p + ".")), key=len)
    rest = [r for r in name[len(package) :].split(".") if r]
    where = ROOT.joinpath(FOLDERS[package], *rest)
    return where.with_suffix(".py").exists() or (where / "__init__.py").exists()


def test_the_contract_sees_every_layer():
    layers = {_package(m, p.name == "__init__.py") for m, p in CASES}
    assert layers == set(ALLOWED)


@pytest.mark.parametrize(("module", "path"), CASES, ids=[m for m, _ in CASES])
def test_no_function_is_longer_than_80_lines(module, path):
    tree = ast.parse(path.read_text())
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert not long, f"{module}: {', '.join(long)}"
