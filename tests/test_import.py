"""``import ember`` loads the core only: the training stack, checkpoints, hub and the rest load on
first use (PEP 562), and heavy or optional modules stay out of a plain import.

Each check runs in a fresh interpreter and looks at ``sys.modules`` (never at timings).
"""
import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# What a plain ``import ember`` must not load (unless ``import numpy`` alone already does here).
NOT_IMPORTED = [
    "torch", "torchvision", "PIL", "matplotlib", "graphviz",  # optional or foreign packages
    "cupy", "cupyx",  # CuPy loads on the first question about CUDA (0.4 s to import)
    "urllib.request", "http.client", "socket", "ssl", "zipfile", "pickletools", "json",
    "multiprocessing", "threading", "hashlib", "secrets", "random",
    "numpy.random",  # ember's generator draws it in on the first random number
    "ember.nn", "ember.optim", "ember.utils", "ember.io", "ember.hub", "ember.vision", "ember.viz",
    "ember.cli", "ember.cuda", "ember.linalg",
]

LAZY = ["nn", "optim", "utils", "io", "cuda", "linalg", "hub", "serialization", "save", "load"]


def _run(code: str) -> dict:
    """Runs ``code`` in a fresh interpreter; it sets ``out`` (JSON), which is returned."""
    script = f"import json, sys\n{code}\nprint(json.dumps(out))"
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def modules_after_import() -> dict:
    # "before": what the interpreter, this harness and ``import numpy`` load; "ember": what
    # ``import ember`` adds to that
    return _run("import numpy\nbefore = set(sys.modules)\nimport ember\n"
                "out = {'before': sorted(before), 'ember': sorted(set(sys.modules) - before)}")


@pytest.mark.parametrize("name", NOT_IMPORTED)
def test_import_ember_does_not_load(modules_after_import, name):
    if name in modules_after_import["before"]:
        pytest.skip(f"loaded here before ember is: {name}")
    assert name not in modules_after_import["ember"]


def test_import_ember_loads_the_core(modules_after_import):
    loaded = set(modules_after_import["ember"])
    assert "ember" in loaded
    for name in ("ember.tensor", "ember.dtypes", "ember.autograd", "ember.ops", "ember.creation",
                 "ember.random", "ember._tensor_str"):
        assert name in loaded


def test_lazy_attributes_resolve():
    out = _run("""
import types
import ember
out = {}
out["dir"] = sorted(set(%r) - set(dir(ember)))
out["nn"] = ember.nn.Linear.__module__
out["optim"] = ember.optim.SGD.__name__
out["data"] = ember.utils.data.DataLoader.__name__
out["io"] = ember.io.__name__
out["save"] = ember.save is ember.io.save and ember.load is ember.io.load
out["serialization"] = ember.serialization.__name__
out["hub"] = isinstance(ember.hub, types.ModuleType) and ember.hub.__name__
out["cuda"] = ember.cuda.is_available()
out["linalg"] = ember.linalg.matmul is ember.matmul
out["functional"] = callable(ember.autograd.functional.jacobian)
out["gradcheck"] = callable(ember.autograd.gradcheck)
try:
    ember.no_such_thing
    out["missing"] = None
except AttributeError as e:
    out["missing"] = str(e)
""" % LAZY)
    assert out["dir"] == []
    assert out["nn"] == "ember.nn.modules.linear"
    assert out["optim"] == "SGD"
    assert out["data"] == "DataLoader"
    assert out["io"] == "ember.io"
    assert out["save"] is True
    assert out["serialization"] == "ember.serialization"  # torch's name, over ember.io
    assert out["hub"] == "ember.hub"
    assert out["cuda"] is False
    assert out["linalg"] is True
    assert out["functional"] is True and out["gradcheck"] is True
    assert out["missing"] == "module 'ember' has no attribute 'no_such_thing'"


@pytest.mark.parametrize("statement", [
    "from ember import nn, optim, io, save, load, hub, cuda, linalg, utils",
    "import ember.nn, ember.optim, ember.io, ember.utils.data, ember.hub, ember.cuda, ember.linalg",
    "import ember.nn.functional as F",
    "from ember.utils.data import DataLoader",
])
def test_import_forms(statement):
    out = _run(f"{statement}\nimport ember\n"
               "out = [ember.nn.Module.__name__, ember.optim.Optimizer.__name__]")
    assert out == ["Module", "Optimizer"]


def test_checkpoint_round_trip_after_plain_import(tmp_path):
    path = tmp_path / "t.pt"
    out = _run(f"import ember\nember.save({{'w': ember.arange(3.0)}}, {str(path)!r})\n"
               f"out = ember.load({str(path)!r})['w'].tolist()")
    assert out == [0.0, 1.0, 2.0]


def test_random_state_before_the_first_draw():
    # ember's generator makes its NumPy generator on first use; its state must not depend on that
    out = _run("""
import ember
s0 = ember.get_rng_state().tolist()
a = ember.rand(3).tolist()
ember.manual_seed(ember.initial_seed())
s1 = ember.get_rng_state().tolist()
b = ember.rand(3).tolist()
g = ember.Generator().manual_seed(7)
h = ember.Generator().manual_seed(7)
ember.set_rng_state(ember.tensor(s0, dtype=ember.uint8))
c = ember.rand(3).tolist()
out = [s0 == s1, a == b, a == c,
       ember.rand(2, generator=g).tolist() == ember.rand(2, generator=h).tolist()]
""")
    assert out == [True, True, True, True]
