"""The benchmark workloads, each written once against a torch-like module ``m``.

A *step* workload is ``def name(m) -> step``: it builds its tensors with ``m`` (``ember`` or
``torch``), untimed, and returns a closure that performs one iteration; the worker times that
closure. A step workload may take a keyword ``tiny`` (``def name(m, tiny=False)``): with
``tiny=True`` it builds the same model at a tiny size (``run.py --tiny``, the tests), to check
that it runs, not to time it. A step may carry ``step.flops`` (FLOPs of one iteration, a
multiply-add counting 2) and ``step.flops_note`` (what was counted): the table then shows the
achieved GFLOP/s and its fraction of numpy's GEMM figure. A *command* workload is
``def name(framework) -> argv``: the worker times whole subprocesses running ``argv`` (e.g. an
import).

Adding a workload is one decorated function here::

    @workload("my_op")
    def my_op(m):
        x = m.ones(64, 64, requires_grad=True)

        def step():
            (x * 2).sum().backward()
            x.grad = None

        return step

This module is imported by the parent (``run.py``) too, so it must not import numpy, torch or
ember at module level: workloads import what they need inside their body.
"""
from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any, Callable, Literal

Step = Callable[[], object]
Kind = Literal["step", "command"]


@dataclass(frozen=True)
class Workload:
    """A registered workload; ``make`` is the decorated function."""

    name: str
    description: str
    kind: Kind
    make: Callable[[Any], Any]
    unit: str | None = None  # "us" or "ms" for the table; None picks from the measured medians
    budget: float | None = None  # seconds of timing per pair in a full run; None: run.py's default
    sized: bool = False  # make() takes the keyword ``tiny``


WORKLOADS: dict[str, Workload] = {}


def workload(name: str, *, kind: Kind = "step", unit: str | None = None,
             budget: float | None = None) -> Callable:
    """Registers the decorated function as workload ``name`` (its docstring is the description).
    ``budget``: seconds of timing per (workload, framework) pair in a full run, for workloads
    whose steps take far longer than the default budget allows."""
    if unit not in (None, "us", "ms"):
        raise ValueError(f"unit must be 'us', 'ms' or None, not {unit!r}")

    def register(fn: Callable) -> Callable:
        if name in WORKLOADS:
            raise ValueError(f"workload {name!r} is registered twice")
        doc = " ".join((fn.__doc__ or "").split())
        sized = "tiny" in inspect.signature(fn).parameters
        WORKLOADS[name] = Workload(name, doc, kind, fn, unit, budget, sized)
        return fn

    return register


# -- workloads --------------------------------------------------------------------------------


@workload("seed_ops", unit="us")
def seed_ops(m: Any) -> Step:
    """The autograd tutorial: Q = 3*a**3 - b**2 on 2-element leaves, Q.backward(gradient=...),
    then a.grad = b.grad = None. Pure per-op and per-node overhead."""
    return _seed_ops(m, compiled=False)


def _seed_ops(m: Any, compiled: bool) -> Step:
    a = m.tensor([2.0, 3.0], requires_grad=True)
    b = m.tensor([6.0, 4.0], requires_grad=True)
    external_grad = m.tensor([1.0, 1.0])

    def q(a: Any, b: Any) -> Any:
        return 3 * a**3 - b**2

    if compiled:
        q = _compiled(m, q)

    def step() -> None:
        Q = q(a, b)
        Q.backward(gradient=external_grad)
        a.grad = None
        b.grad = None

    return step


@workload("tiny_mlp", unit="us")
def tiny_mlp(m: Any) -> Step:
    """2-16-16-1 ReLU MLP on a batch of 8, MSE loss, backward and a manual SGD step under
    no_grad (p.sub_(lr * p.grad); p.grad = None), written with raw tensor ops."""
    return _tiny_mlp(m, compiled=False)


def _tiny_mlp(m: Any, compiled: bool) -> Step:
    import numpy as np

    # the same float32 data for both frameworks, passed as Python lists (the most portable input)
    rng = np.random.default_rng(0)

    def leaf(fan_in: int, *shape: int) -> Any:
        w = rng.standard_normal(shape) / np.sqrt(fan_in)
        return m.tensor(w.astype(np.float32).tolist(), requires_grad=True)

    W1, b1 = leaf(2, 2, 16), leaf(2, 16)
    W2, b2 = leaf(16, 16, 16), leaf(16, 16)
    W3, b3 = leaf(16, 16, 1), leaf(16, 1)
    params = [W1, b1, W2, b2, W3, b3]
    x = m.tensor(rng.standard_normal((8, 2)).astype(np.float32).tolist())
    t = m.tensor(rng.standard_normal((8, 1)).astype(np.float32).tolist())
    lr = 0.01

    def loss_of(x: Any, t: Any) -> Any:
        h = (x @ W1 + b1).relu()
        h = (h @ W2 + b2).relu()
        y = h @ W3 + b3
        return ((y - t) ** 2).mean()

    if compiled:
        loss_of = _compiled(m, loss_of)

    def step() -> None:
        loss = loss_of(x, t)
        loss.backward()
        with m.no_grad():
            for p in params:
                p.sub_(lr * p.grad)
                p.grad = None

    return step


def _data(m: Any, seed: int, *shape: int) -> Any:
    """A float32 standard-normal tensor, the same values for both frameworks."""
    import numpy as np

    return m.from_numpy(np.random.default_rng(seed).standard_normal(shape, dtype=np.float32))


def _labels(m: Any, seed: int, n: int, classes: int) -> Any:
    import numpy as np

    return m.from_numpy(np.random.default_rng(seed).integers(0, classes, n, dtype=np.int64))


def _train_step(m: Any, model: Any, opt: Any, x: Any, y: Any) -> Step:
    """The usual loop body: zero_grad, forward, cross-entropy, backward, optimizer step."""
    loss_fn = m.nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def _with_flops(step: Step, flops: float, note: str) -> Step:
    step.flops = flops  # type: ignore[attr-defined]
    step.flops_note = note  # type: ignore[attr-defined]
    return step


TRAIN_NOTE = "3 x forward (backward counted as 2 x forward)"


@workload("mlp", unit="ms")
def mlp(m: Any, tiny: bool = False) -> Step:
    """784-512-512-10 ReLU MLP (nn.Sequential of nn.Linear and nn.ReLU) on a batch of 128,
    nn.CrossEntropyLoss, backward and an optim.SGD step (lr 0.01, momentum 0.9), zero_grad
    first."""
    return _mlp(m, tiny, compiled=False)


def _mlp(m: Any, tiny: bool, compiled: bool) -> Step:
    nn = m.nn
    m.manual_seed(0)
    batch = 8 if tiny else 128
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _data(m, 1, batch, 784), _labels(m, 2, batch, 10)
    forward = batch * sum(2 * mod.in_features * mod.out_features
                          for mod in model if isinstance(mod, nn.Linear))
    step = _train_step(m, _compiled(m, model) if compiled else model, opt, x, y)
    return _with_flops(step, 3 * forward, TRAIN_NOTE)


def _resnet_forward_flops(model: Any, size: int) -> float:
    from benchmarks.models import resnet_flops

    return float(sum(resnet_flops(model, size, size).values()))


@workload("resnet18_cifar", unit="ms", budget=6.0)
def resnet18_cifar(m: Any, tiny: bool = False) -> Step:
    """ResNet-18 with a 3x3 stride-1 stem and no max-pool, 10 classes, a batch of 32 at 32x32:
    train step (zero_grad, forward, cross-entropy, backward, SGD lr 0.01 momentum 0.9)."""
    from benchmarks.models import resnet18

    m.manual_seed(0)
    batch, size = (2, 8) if tiny else (32, 32)
    model = resnet18(m, 10, cifar=True)
    model.train()
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _data(m, 1, batch, 3, size, size), _labels(m, 2, batch, 10)
    flops = 3 * batch * _resnet_forward_flops(model, size)
    return _with_flops(_train_step(m, model, opt, x, y), flops, TRAIN_NOTE)


@workload("resnet18_224_infer", unit="ms", budget=6.0)
def resnet18_224_infer(m: Any, tiny: bool = False) -> Step:
    """torchvision's ResNet-18 (1000 classes), a batch of 8 at 224x224, model.eval() and
    no_grad(): one forward."""
    from benchmarks.models import resnet18

    m.manual_seed(0)
    batch, size = (2, 32) if tiny else (8, 224)
    model = resnet18(m)
    model.eval()
    x = _data(m, 1, batch, 3, size, size)

    def step() -> None:
        with m.no_grad():
            model(x)

    return _with_flops(step, batch * _resnet_forward_flops(model, size), "1 x forward")


@workload("resnet18_224_finetune", unit="ms", budget=6.0)
def resnet18_224_finetune(m: Any, tiny: bool = False) -> Step:
    """The tutorial's finetune: ResNet-18 with every parameter frozen, fc replaced by
    nn.Linear(512, 10), optim.SGD(model.parameters(), lr 0.01, momentum 0.9), train mode, a
    batch of 16 at 224x224: train step (only fc gets a gradient)."""
    from benchmarks.models import linear_flops, resnet18

    m.manual_seed(0)
    batch, size = (2, 32) if tiny else (16, 224)
    model = resnet18(m)
    for p in model.parameters():
        p.requires_grad = False
    model.fc = m.nn.Linear(512, 10)
    model.train()
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _data(m, 1, batch, 3, size, size), _labels(m, 2, batch, 10)
    # the backward stops at fc: its weight gradient is one more fc-sized GEMM, nothing else
    flops = batch * (_resnet_forward_flops(model, size) + linear_flops(model.fc))
    return _with_flops(_train_step(m, model, opt, x, y), flops,
                       "forward + fc's weight gradient (the frozen network has no backward)")


@workload("resnet18_224_train", unit="ms", budget=6.0)
def resnet18_224_train(m: Any, tiny: bool = False) -> Step:
    """torchvision's ResNet-18 (1000 classes), a batch of 8 at 224x224: full train step
    (zero_grad, forward, cross-entropy, backward, SGD lr 0.01 momentum 0.9)."""
    from benchmarks.models import resnet18

    m.manual_seed(0)
    batch, size = (2, 32) if tiny else (8, 224)
    model = resnet18(m)
    model.train()
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _data(m, 1, batch, 3, size, size), _labels(m, 2, batch, 1000)
    flops = 3 * batch * _resnet_forward_flops(model, size)
    return _with_flops(_train_step(m, model, opt, x, y), flops, TRAIN_NOTE)


def _tokens(m: Any, seed: int, vocab: int, *shape: int) -> Any:
    """Integer token ids, the same for both frameworks."""
    import numpy as np

    return m.from_numpy(np.random.default_rng(seed).integers(0, vocab, shape, dtype=np.int64))


@workload("lstm", unit="ms", budget=4.0)
def lstm(m: Any, tiny: bool = False) -> Step:
    """The word_language_model LSTM: embedding 256, a 2-layer nn.LSTM with hidden 256, a linear
    decoder to 1,000 tokens; sequence 35, batch 20: train step (zero_grad, forward,
    cross-entropy, backward, clip_grad_norm_(0.25), SGD lr 20)."""
    from benchmarks.seq_models import classes

    m.manual_seed(0)
    seq, batch, size, vocab = (5, 2, 8, 20) if tiny else (35, 20, 256, 1000)
    model = classes(m)[0](vocab, size, size, 2)
    model.train()
    opt = m.optim.SGD(model.parameters(), lr=20.0)
    x, y = _tokens(m, 1, vocab, seq, batch), _tokens(m, 2, vocab, seq * batch)
    loss_fn = m.nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn(model(x).view(-1, vocab), y)
        loss.backward()
        m.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()

    # per layer: all input projections and the hidden path, 4 gates each; then the decoder
    forward = seq * batch * (2 * 2 * (size * 4 * size + size * 4 * size) + 2 * size * vocab)
    return _with_flops(step, 3 * forward, TRAIN_NOTE + "; gate nonlinearities not counted")


@workload("gpt_small", unit="ms", budget=4.0)
def gpt_small(m: Any, tiny: bool = False) -> Step:
    """A nanoGPT-style character model: 2 layers, n_embd 64, 2 heads, block 32, vocabulary 65,
    causal F.scaled_dot_product_attention, GELU MLP, batch 12: train step (zero_grad, forward,
    cross-entropy, backward, AdamW lr 1e-3)."""
    return _gpt_small(m, tiny, compiled=False)


def _gpt_small(m: Any, tiny: bool, compiled: bool) -> Step:
    from benchmarks.seq_models import classes

    m.manual_seed(0)
    batch, block, n_embd, n_head, vocab = (2, 8, 16, 2, 65) if tiny else (12, 32, 64, 2, 65)
    model = classes(m)[1](vocab, block, 2, n_embd, n_head)
    model.train()
    opt = m.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = _tokens(m, 1, vocab, batch, block), _tokens(m, 2, vocab, batch, block)
    run = _compiled(m, model) if compiled else model

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = run(x, y)
        loss.backward()
        opt.step()

    tokens, C = batch * block, n_embd
    # per layer: qkv, q k^T and weights @ v, the output projection, the MLP; then the head
    layer = 2 * tokens * C * 3 * C + 4 * tokens * block * C + 2 * tokens * C * C \
        + 2 * 2 * tokens * C * 4 * C
    forward = 2 * layer + 2 * tokens * C * vocab
    return _with_flops(step, 3 * forward, TRAIN_NOTE + "; softmax, norms and GELU not counted")


@workload("mobilenet_v3_small_224_infer", unit="ms", budget=6.0)
def mobilenet_v3_small_224_infer(m: Any, tiny: bool = False) -> Step:
    """torchvision's MobileNetV3-Small (1000 classes), a batch of 8 at 224x224, model.eval() and
    no_grad(): one forward. ember runs ``ember.vision.models.mobilenet_v3_small``; torch the same
    tree built with torch.nn (benchmarks/mobile_models.py)."""
    from benchmarks.mobile_models import hooked_flops, mobilenet_v3_small

    m.manual_seed(0)
    batch, size = (2, 32) if tiny else (8, 224)
    if m.__name__ == "ember":
        from ember.vision.models import mobilenet_v3_small as zoo_model

        model = zoo_model()
    else:
        model = mobilenet_v3_small(m)
    model.eval()
    x = _data(m, 1, batch, 3, size, size)

    def step() -> None:
        with m.no_grad():
            model(x)

    return _with_flops(step, batch * hooked_flops(m, model, size),
                       "1 x forward (convolutions and linear layers)")


@workload("import", kind="command", unit="ms")
def import_framework(framework: str) -> list[str]:
    """Wall time and peak RSS of a fresh `python -c "import <framework>"` (interpreter start-up
    included; ember's figure includes importing numpy)."""
    return [sys.executable, "-c", f"import {framework}"]


# -- compiled variants (issue 19): ember runs ember.compile, torch runs eagerly -----------------
def _compiled(m: Any, fn: Any) -> Any:
    """``m.compile(fn)`` on ember; torch's side stays eager (the issue compares with eager)."""
    return m.compile(fn) if m.__name__ == "ember" else fn


@workload("seed_ops_compiled", unit="us")
def seed_ops_compiled(m: Any) -> Step:
    """seed_ops with Q = 3*a**3 - b**2 compiled (ember.compile: one node, a generated backward);
    torch eager."""
    return _seed_ops(m, compiled=True)


@workload("tiny_mlp_compiled", unit="us")
def tiny_mlp_compiled(m: Any) -> Step:
    """tiny_mlp with the forward and MSE loss compiled (the weights are captured leaves); the
    manual SGD step stays eager. torch eager."""
    return _tiny_mlp(m, compiled=True)


@workload("mlp_compiled", unit="ms")
def mlp_compiled(m: Any, tiny: bool = False) -> Step:
    """mlp with the model compiled (ember.compile(model)); loss, backward and SGD as in mlp.
    torch eager."""
    return _mlp(m, tiny, compiled=True)


@workload("gpt_small_compiled", unit="ms", budget=4.0)
def gpt_small_compiled(m: Any, tiny: bool = False) -> Step:
    """gpt_small with the model (forward and its cross-entropy) compiled. torch eager."""
    return _gpt_small(m, tiny, compiled=True)
