"""Layering: the core never imports upward, and ops reach numpy only through the backend seam."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "ember"
CORE = ["tensor.py", "dtypes.py", "creation.py", "random.py", "_tensor_str.py", "autograd", "ops",
        "backend", "graph", "linalg.py", "_missing.py", "_torch_names.py"]
UPPER = ("ember.nn", "ember.optim", "ember.vision", "ember.utils", "ember.io", "ember.hub",
         "ember.cli", "ember.viz", "ember.distributed")


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
                if node.module:
                    yield ".".join(base + [node.module])
                else:  # ``from . import name``: name is a submodule (or a package attribute)
                    for alias in node.names:
                        yield ".".join(base + [alias.name])
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


# The declared layers, lowest first: a module may import its own layer and those below, never one
# above (the root package ``ember`` is the public surface over the core).
LAYERS = [
    ("ember.dtypes", "ember.backend", "ember._missing", "ember._torch_names"),
    ("ember.graph", "ember.devices"),
    ("ember.tensor", "ember._tensor_str", "ember._device_guard"),
    ("ember.ops", "ember.creation", "ember.random"),
    ("ember.autograd", "ember.linalg", "ember.special", "ember.fft", "ember.cuda", "ember",
     "ember._settings", "ember.version", "ember.backends", "ember.accelerator", "ember.mps",
     "ember.xpu", "ember.onnx", "ember._trace"),
    # process groups and collectives on MPI: under nn (DDP, SyncBatchNorm) and utils.data
    ("ember.distributed",),
    ("ember.nn", "ember.optim", "ember.utils", "ember.io", "ember.amp", "ember.cpu",
     "ember.cuda.amp", "ember._compile", "ember._dynamo", "ember.serialization", "ember.func",
     "ember.distributions"),
    # the launcher runs scripts as `ember run` does: an application
    ("ember.vision", "ember.hub", "ember.cli", "ember.viz", "ember.tutorial", "ember.demo",
     "ember.__main__", "ember.distributed.run"),
]
# the one upward reference, as torch's: Tensor.backward runs the engine, imported on first use
UPWARD_ALLOWED = {("ember.tensor", "ember.autograd")}


def _module(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(mod: str) -> int:
    best = None
    for i, names in enumerate(LAYERS):
        for n in names:
            if (mod == n or mod.startswith(n + ".")) and (best is None or len(n) > best[1]):
                best = (i, len(n))
    assert best is not None, f"{mod} is in no declared layer"
    return best[0]


def _edges():
    """(importer, imported module) for every import of ember code, lazy ones included."""
    modules = {_module(p) for p in ROOT.rglob("*.py")}
    for p in ROOT.rglob("*.py"):
        src = _module(p)
        for mod in _imports(p):
            if not mod or not mod.startswith("ember"):
                continue
            while mod not in modules and "." in mod:  # ``from pkg import name``
                mod = mod.rsplit(".", 1)[0]
            if mod != src:
                yield src, mod


def test_layers_import_only_downward():
    bad = sorted({(s, d) for s, d in _edges() if s != "ember" and _layer(d) > _layer(s)}
                 - UPWARD_ALLOWED)
    assert not bad, f"upward imports: {bad}"


def test_core_import_graph_is_a_dag():
    """No cycle among the core's modules, lazy imports included (apart from Tensor.backward)."""
    core = {_module(p) for entry in CORE for p in ((ROOT / entry).rglob("*.py")
                                                    if (ROOT / entry).is_dir() else [ROOT / entry])}
    graph: dict[str, set] = {m: set() for m in core}
    for s, d in _edges():
        if s in core and d in core and (s, d) not in UPWARD_ALLOWED:
            graph[s].add(d)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list) -> None:
        state[m] = 1
        for d in graph[m]:
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path + [m, d]))
            if d not in state:
                visit(d, path + [m])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
