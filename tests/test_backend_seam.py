"""The backend seam: above ``ember.backend`` no module does array math with numpy itself (every
array goes through ``ctx.xp``/``ctx.backend``, ``backend_of`` or ``get_array_module``), and
``backend_of`` finds a backend from an array's type."""
import ast
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent / "ember"
SCANNED = ["ops", "autograd", "graph", "nn", "optim", "tensor.py", "creation.py", "random.py"]

# file (relative to ember/) -> the numpy uses it may keep: "import numpy" (any import of numpy),
# "np.<name>" (an attribute of the module, first level only), "np" (the module itself) or "*"
# (the whole file). Each with its reason; an entry no longer used fails the test, so that it goes.
ALLOWED: dict[str, set[str]] = {
    # the RNG is numpy's Generator (PCG64 streams that manual_seed makes reproducible), and every
    # sampler is written on its draws, host arrays whatever the backend
    "random.py": {"*"},
}


def _files():
    for entry in SCANNED:
        p = ROOT / entry
        yield from (sorted(p.rglob("*.py")) if p.is_dir() else [p])


def _numpy_uses(path: pathlib.Path) -> dict[str, list[int]]:
    """Each numpy use in ``path`` -> the lines it is on."""
    tree = ast.parse(path.read_text(), str(path))
    aliases = {"np", "numpy"}  # ``np`` is numpy here even where a star import brings it
    uses: dict[str, list[int]] = {}

    def add(name: str, node: ast.AST) -> None:
        uses.setdefault(name, []).append(node.lineno)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy" or alias.name.startswith("numpy."):
                    aliases.add(alias.asname or alias.name.split(".")[0])
                    add("import numpy", node)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and (node.module == "numpy"
                                                    or node.module.startswith("numpy.")):
                add("import numpy", node)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in aliases:
            parent = parents.get(node)
            if isinstance(parent, ast.Attribute) and parent.value is node:
                add(f"np.{parent.attr}", parent)
            else:
                add("np", node)
    return uses


def test_no_numpy_above_the_backend():
    bad = []
    for path in _files():
        rel = str(path.relative_to(ROOT))
        allowed = ALLOWED.get(rel, set())
        if "*" in allowed:
            continue
        for name, lines in sorted(_numpy_uses(path).items()):
            if name not in allowed:
                bad.append(f"{rel}:{lines[0]}: {name}")
    assert not bad, "numpy used outside the backend (route it through ctx.xp / ctx.backend / " \
                    "backend_of, or allowlist it with a reason):\n" + "\n".join(bad)


def test_allowlist_has_no_stale_entries():
    stale = []
    for rel, allowed in ALLOWED.items():
        path = ROOT / rel
        if not path.exists():
            stale.append(f"{rel}: no such file")
            continue
        uses = _numpy_uses(path)
        if "*" in allowed:
            if not uses:
                stale.append(f"{rel}: *")
            continue
        stale += [f"{rel}: {name}" for name in sorted(allowed - set(uses))]
    assert not stale, "allowlisted numpy uses that are gone (delete the entries):\n" + \
        "\n".join(stale)


def test_scanner_sees_numpy_uses(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import numpy as xnp\nfrom numpy.lib import stride_tricks\n"
                 "def f(a: np.ndarray):\n    return xnp.zeros(3), np, a.np, xnp.lib.x\n")
    uses = _numpy_uses(f)
    assert set(uses) == {"import numpy", "np.ndarray", "np.zeros", "np", "np.lib"}


# -- the registry ----------------------------------------------------------------------------------


def test_backend_of_numpy_arrays_and_scalars():
    from ember.backend import NUMPY, backend_of, get_array_module, is_array

    for x in (np.zeros(3), np.float32(1), 2.5, 3, True, None):
        assert backend_of(x) is NUMPY
    assert backend_of() is NUMPY
    assert backend_of(1.0, np.ones(2)) is NUMPY
    assert get_array_module(np.ones(2)) is np
    assert is_array(np.ones(2)) and not is_array(1.0) and not is_array([1, 2])


def test_registering_a_backend_makes_backend_of_find_it():
    from ember.backend import NUMPY, backend_of, is_array, register, unregister

    class FakeArray:
        pass

    class FakeBackend:
        name = "fake"
        xp = object()
        array_type = FakeArray

    fake, a = FakeBackend(), FakeArray()
    assert backend_of(a) is NUMPY
    register(fake)
    try:
        assert backend_of(a) is fake
        assert backend_of(2.0, a) is fake  # the first array decides, scalars are nobody's
        assert backend_of(np.ones(1), a) is NUMPY
        assert is_array(a)
    finally:
        unregister(fake)
    assert backend_of(a) is NUMPY and not is_array(a)


def test_numpy_backend_carries_the_convolution_kernels():
    import ember
    from ember.backend import NUMPY, WindowGeometry

    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3))
    geo = WindowGeometry((3, 3), (1, 1), (1, 1), (1, 1), 1, (6, 5), (6, 5))
    y = NUMPY.conv2d(x, w, geo)
    assert np.array_equal(y, ember.nn.functional.conv2d(ember.tensor(x), ember.tensor(w),
                                                        padding=1).numpy())
    g = rng.standard_normal(y.shape)
    # the adjoints: <conv2d(x, w), g> = <x, input_grad(g, w)> = <w, weight_grad(x, g)>
    dot = np.vdot(y, g)
    assert np.isclose(dot, np.vdot(x, NUMPY.conv2d_input_grad(g, w, geo)))
    assert np.isclose(dot, np.vdot(w, NUMPY.conv2d_weight_grad(x, g, geo)))


def test_dead_backend_helpers_are_gone():
    import ember.backend

    assert not hasattr(ember.backend, "device_of")
