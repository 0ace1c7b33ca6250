"""``backward_arrays`` (the engine's no-graph fast path) must agree with each op's ``backward``.

``create_graph=True`` runs the Tensor ``backward``; ``create_graph=False`` runs ``backward_arrays``
where an op has one. Both gradients must match in value and dtype, so the formulas cannot drift.
"""
import numpy as np
import pytest

import ember
from ember.autograd.function import Op


def _r(*shape, dtype=ember.float32):
    rng = np.random.default_rng(sum(shape) + 7)
    return ember.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True)


CASES = {
    "AddBackward0": lambda a, b: a + b,
    "AddBackward0 alpha": lambda a, b: ember.add(a, b, alpha=2.5),
    "SubBackward0": lambda a, b: a - b[0],
    "SubBackward0 alpha": lambda a, b: ember.sub(a, b, alpha=3),
    "RsubBackward0": lambda a, b: ember.rsub(a, b, alpha=2),
    "RsubBackward1": lambda a, b: 2 - a,
    "MulBackward0": lambda a, b: a * b[:1],
    "MulBackward0 scalar": lambda a, b: 3 * a,
    "PowBackward0": lambda a, b: a**3,
    "PowBackward0 zero": lambda a, b: a**0,
    "PowBackward0 float": lambda a, b: a.abs() ** 0.5,
    "NegBackward0": lambda a, b: -a,
    "ReluBackward0": lambda a, b: a.relu(),
    "ReluBackward0 nan": lambda a, b: a.sqrt().relu(),  # a nan output passes the gradient
    "ReluBackward0 zero": lambda a, b: (a * 0 - 1).relu() * b,
    "SumBackward0": lambda a, b: a.sum(),
    "SumBackward1": lambda a, b: a.sum(0, keepdim=True),
    "MeanBackward0": lambda a, b: a.mean(),
    "MeanBackward1": lambda a, b: a.mean(1),
    "MmBackward0": lambda a, b: a @ b.mT,
    "MvBackward0": lambda a, b: a @ b[0],
    "DotBackward0": lambda a, b: a[0] @ b[0],
    "SqueezeBackward4": lambda a, b: a[0] @ b.mT,
    "UnsafeViewBackward0": lambda a, b: a.expand(2, 3, 4) @ b.mT,
    "BmmBackward0": lambda a, b: ember.bmm(a.expand(2, 3, 4), b.mT.expand(2, 4, 3)),
    "MatMul batch @ vec": lambda a, b: a.expand(2, 3, 4) @ b[1],
    "MatMul vec @ batch": lambda a, b: b[1] @ a.mT.expand(2, 4, 3),
    # linear's weight.t() is transposed: its gradient is made in that layout
    "AddmmBackward0 linear": lambda a, b: ember.nn.functional.linear(a, b, b[:, 0]),
    "AddmmBackward0 alpha": lambda a, b: ember.addmm(a[:, :3], a, b.mT.contiguous(), beta=0.5,
                                                    alpha=2),
    "TBackward0": lambda a, b: a.t() * b.t(),
    "AddmvBackward0": lambda a, b: ember.addmv(a[:, 0], a, b[0], alpha=3),
    "BaddbmmBackward0": lambda a, b: ember.baddbmm(a[:, :3], a.expand(2, 3, 4),
                                                   b.mT.expand(2, 4, 3)),
    "SoftmaxBackward0": lambda a, b: a.softmax(0),
    "LogSoftmaxBackward0": lambda a, b: a.log_softmax(1),
    "LogSoftmaxBackward0 0-d": lambda a, b: a[0, 0].log_softmax(0),
    "NllLossBackward0": lambda a, b: ember.nn.functional.nll_loss(
        a.log_softmax(1), ember.tensor([0, 3, 1])),
    "NllLossBackward0 sum": lambda a, b: ember.nn.functional.nll_loss(
        a, ember.tensor([2, -100, 1]), weight=b[0].detach().abs(), reduction="sum"),
    "NllLossBackward0 none": lambda a, b: ember.nn.functional.nll_loss(
        a, ember.tensor([2, 0, 1]), reduction="none"),
    "AsStridedBackward0": lambda a, b: _written_view(a * 1.0, b),
}


def _written_view(base, b):
    """A view whose base is then written in place: it reads the base through AsStrided."""
    view = base[1:, ::2]
    base.mul_(b)
    assert type(view.grad_fn).__name__ == "AsStridedBackward0"
    return view * view


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
@pytest.mark.parametrize("case", sorted(CASES))
def test_backward_arrays_matches_backward(case, dtype):
    a, b = _r(3, 4, dtype=dtype), _r(3, 4, dtype=dtype)
    outs = []
    for create_graph in (True, False):
        y = CASES[case](a, b)
        g = ember.ones_like(y) * 0.5 + ember.arange(y.numel(), dtype=dtype).reshape(y.shape)
        outs.append(ember.autograd.grad(y, (a, b), g, create_graph=create_graph,
                                        allow_unused=True))
    for slow, fast in zip(*outs):
        assert (slow is None) == (fast is None)
        if slow is not None:
            assert slow.dtype == fast.dtype and slow.shape == fast.shape
            np.testing.assert_array_equal(slow.detach().numpy(), fast.numpy())


def _ops_with_fast_path():
    seen, stack = set(), [Op]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if "backward_arrays" in vars(sub):
                seen.add(sub)
    return seen


def test_every_fast_path_is_covered():
    """Each op that defines ``backward_arrays`` has a node name among CASES."""
    covered = {c.split()[0] for c in CASES}
    for cls in _ops_with_fast_path():
        names = {getattr(c, "_node_cls", c).__name__ for c in (cls, *cls.__subclasses__())}
        assert names & covered, f"{cls.__name__}.backward_arrays has no case in CASES"


def test_fast_path_keeps_anomaly_nan_check():
    a = ember.tensor([0.0, 1.0], requires_grad=True)
    y = a * ember.tensor([float("nan"), 1.0])
    with ember.autograd.detect_anomaly():
        with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="MulBackward0"):
            y.backward(ember.ones(2))


def test_fast_path_hooks_see_tensors():
    a = _r(3, 4)
    seen = []
    y = a * 2
    y.register_hook(lambda g: seen.append(type(g)))
    y.grad_fn.register_hook(lambda gi, go: seen.extend(type(g) for g in gi + go))
    y.sum().backward()
    assert seen and all(t is ember.Tensor for t in seen if t is not type(None))


def test_no_grad_inplace_array_update_matches_out_of_place():
    rng = np.random.default_rng(0)
    for name in ("add_", "sub_", "mul_"):
        p = ember.tensor(rng.standard_normal((4, 3)), dtype=ember.float32, requires_grad=True)
        g = ember.tensor(rng.standard_normal((4, 3)), dtype=ember.float32)
        expected = getattr(p.detach(), name[:-1])(g).numpy()
        v = p._version
        with ember.no_grad():
            assert getattr(p, name)(g) is p
            getattr(p, name)(p)  # aliased operands
        assert p._version == v + 2
        ufunc = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply}[name]
        np.testing.assert_array_equal(p.detach().numpy(), ufunc(expected, expected))


@pytest.mark.parametrize("mask_min", [0, None], ids=["mask", "where"])
def test_relu_fast_path_nonfinite_and_signed_zero_gradients(mask_min, monkeypatch):
    """ReLU's array backward is ``where(y <= 0, 0, g)`` exactly: +0 (never -0) where the output
    is 0, and an inf/nan incoming gradient there still gives 0, on both of its paths (a mask
    product for big arrays, ``where`` for small ones)."""
    from helpers import torch_or_skip

    from ember.ops import unary

    torch = torch_or_skip()
    if mask_min is not None:
        monkeypatch.setattr(unary, "_RELU_MASK_MIN", mask_min)
    x = np.array([-2.0, 0.0, 3.0, np.nan, -1.0, 4.0], dtype=np.float32)
    for g in ([-1.0, -2.0, -3.0, 4.0, 5.0, 6.0], [np.inf, np.nan, 1.0, -np.inf, -np.inf, np.nan]):
        g = np.array(g, dtype=np.float32)
        a = ember.tensor(x, requires_grad=True)
        a.relu().backward(ember.tensor(g))
        t = torch.tensor(x, requires_grad=True)
        t.relu().backward(torch.tensor(g))
        np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
        assert (np.signbit(a.grad.numpy()) == np.signbit(t.grad.numpy())).all()
