"""Layering: the core never imports upward, and ops reach numpy only through the backend seam."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "ember"
CORE = ["tensor.py", "dtypes.py", "creation.py", "random.py", "_tensor_str.py", "autograd", "ops",
        "backend"]
UPPER = ("ember.nn", "ember.optim", "ember.vision", "ember.utils", "ember.io", "ember.hub",
         "ember.cli", "ember.viz")


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    pkg = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            else:
                yield node.module


def _core_files():
    for entry in CORE:
        p = ROOT / entry
        yield from (p.rglob("*.py") if p.is_dir() else [p])


def test_core_does_not_import_upper_layers():
    bad = [(str(f.relative_to(ROOT)), mod) for f in _core_files() for mod in _imports(f)
           if mod and mod.startswith(UPPER)]
    assert not bad


def test_core_never_imports_torch():
    bad = [(str(f.relative_to(ROOT)), mod) for f in ROOT.rglob("*.py") for mod in _imports(f)
           if mod and (mod == "torch" or mod.startswith("torch."))]
    assert not bad
