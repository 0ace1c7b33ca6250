"""Every ```python snippet of the README runs, as written, in a temporary folder: the tour's two
snippets share one namespace (the second uses the first's Q, a and b), the others run alone with
only the names their prose leaves to the reader (the DDP example's make_model and dataset, the
op example's Op)."""
import contextlib
import io
import os
import pathlib
import re
import shutil
import subprocess
import sys
import warnings

import pytest

import ember

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _snippet(first_line):
    found = [s for s in SNIPPETS if s.startswith(first_line)]
    assert len(found) == 1, first_line
    return found[0]


TOUR = _snippet("import ember as torch                 # import torch")
DAG = _snippet("import ember.viz as viz")
MLP = _snippet("import ember as torch\nfrom ember import nn, optim")
DDP = _snippet("import os\nimport ember as torch")
OP = _snippet("class Mul(Op")
GPU = _snippet("import ember as torch\nfrom ember.vision.models import resnet18")


def test_every_snippet_is_covered():
    assert sorted(SNIPPETS) == sorted([TOUR, DAG, MLP, DDP, OP, GPU])


def _run(code, namespace, name):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md:{name}", "exec"), namespace)
    return out.getvalue()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EMBER_HOME", str(tmp_path / "ember_home"))
    return tmp_path


@pytest.fixture
def tour(in_tmp):
    """The tour, with resnet18's ImageNet file already in the cache (random values: the tests
    never reach the network)."""
    pytest.importorskip("PIL")
    from ember.vision import models

    cache = in_tmp / "ember_home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    url = models.ResNet18_Weights.IMAGENET1K_V1.url
    ember.save(models.resnet18().state_dict(), str(cache / url.rsplit("/", 1)[1]))
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pretrained=True's deprecation, as torch
        printed = _run(TOUR, namespace, "tour")
    return namespace, printed


def test_tour(tour):
    namespace, printed = tour
    lines = printed.splitlines()
    assert lines[0] == "tensor([-12.,  65.], grad_fn=<SubBackward0>)"
    assert lines[1] == "tensor([True, True])"
    assert lines[2].startswith("((<MulBackward0 object at ") and "PowBackward0" in lines[2]
    assert lines[3] == "SGD (" and namespace["model"].fc.out_features == 10


def test_see_the_dag(tour):
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    namespace, _ = tour
    printed = _run(DAG, namespace, "dag")
    assert "36" in printed and "81" in printed  # a.grad = 9a² = [36., 81.]
    assert pathlib.Path("Q.svg").read_text().lstrip().startswith("<?xml")
    assert "Total params" in printed


def test_mlp_and_checkpoint(in_tmp):
    namespace = {}
    _run(MLP, namespace, "mlp")
    saved = ember.load("ckpt.pt")
    assert set(saved) == {"model", "optimizer"} and namespace["loss"].item() > 0


@pytest.mark.xdist_group("mpi")  # with tests/distributed: MPI jobs never run side by side
def test_ddp_example_on_one_process(in_tmp):
    # In a child process: init_process_group starts MPI and exports RANK, WORLD_SIZE, ... into
    # the environment, which must not leak into the tests that run after this one.
    pytest.importorskip("mpi4py")
    setup = ("import ember\n"
             "from ember import nn\n"
             "from ember.utils.data import TensorDataset\n"
             "ember.manual_seed(0)\n"
             "def make_model():\n"
             "    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))\n"
             "dataset = TensorDataset(ember.randn(64, 4), ember.randint(0, 2, (64,)))\n")
    check = "\nprint(sorted(ember.load('model.pt')) == sorted(model.module.state_dict()))\n"
    (in_tmp / "ddp.py").write_text(setup + DDP + check)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "PMI_RANK")}
    result = subprocess.run([sys.executable, "ddp.py"], cwd=in_tmp, capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"]


def test_gpu_example_on_the_cpu_and_on_the_fake_device(in_tmp, request):
    if request.config.getoption("--device") != "cpu":
        pytest.skip("installs the fake device itself")
    from device import fakecupy

    from ember.backend import cupy_backend

    assert _run(GPU, {}, "gpu") == "cpu cpu\n"
    cupy_backend.use_module(fakecupy.cupy, fakecupy.cupyx)
    try:
        assert _run(GPU, {}, "gpu") == "cuda:0 cuda:0\n"
    finally:
        cupy_backend.use_module(None, None)


def test_op_example_is_a_working_op():
    from ember.ops._op import Op

    namespace = {"Op": Op}
    _run(OP, namespace, "op")
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([3.0, 4.0], requires_grad=True)
    y = namespace["Mul"].apply(a, b)
    assert type(y.grad_fn).__name__ == "MulBackward0"
    y.sum().backward()
    assert a.grad.tolist() == [3.0, 4.0] and b.grad.tolist() == [1.0, 2.0]
