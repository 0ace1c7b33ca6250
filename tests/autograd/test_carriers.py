"""An op's one backward on its two carriers must agree: ``create_graph=True`` runs it on Tensors
(``ctx.F`` is ember ops), ``create_graph=False`` on arrays (``ctx.F`` is the backend's kernels) for
every op written in the vocabulary (``on_arrays``). Both gradients must match in value and dtype,
so no kernel drifts from the formula it computes.
"""
import numpy as np
import pytest

import ember
from ember.ops._op import Op


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
    "DivBackward0": lambda a, b: a / (b.abs() + 1),
    "DivBackward0 scalar": lambda a, b: a / 3.0,
    "MulBackward0 complex": lambda a, b: ember.view_as_real(ember.complex(a, b)
                                                            * ember.complex(b, a)),
    "DivBackward0 complex": lambda a, b: ember.view_as_real(ember.complex(a, b)
                                                            / ember.complex(b.abs() + 1, a)),
    "MulBackward1": lambda a, b: ember.special.ndtr(a),  # (with AddBackward1 under it)
    "AddBackward1": lambda a, b: ember.special.ndtr(a),
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
    "AddcmulBackward0": lambda a, b: ember.addcmul(a, b, a[0], value=0.5),
    "AddcdivBackward0": lambda a, b: ember.addcdiv(a[0], a, b.abs() + 1, value=-2),
    "Deg2RadBackward0": lambda a, b: ember.deg2rad(a) * b,
    "Rad2DegBackward0": lambda a, b: ember.rad2deg(a) * b,
    "AddrBackward0": lambda a, b: ember.addr(a, b[:, 0], a[0], beta=0.5, alpha=2),
    "AddbmmBackward0": lambda a, b: ember.addbmm(a[:, :3], a.expand(2, 3, 4),
                                                 b.mT.expand(2, 4, 3), alpha=-1),
    "VdotBackward0": lambda a, b: ember.vdot(a[0], b[1]),
    "ConjPhysicalBackward0": lambda a, b: ember.view_as_real(ember.conj_physical(
        ember.complex(a, b))),
    "ResizeBackward": lambda a, b: _quiet(lambda: a.resize(4, 3)) * b.reshape(4, 3),
    "NativeDropoutBackward0": lambda a, b: _seeded(lambda: ember.native_dropout(a, 0.5, True)[0])
    * b,
    "AliasBackward0": lambda a, b: (a * 1).as_subclass(ember.Tensor) * b,
    "GtBackward1": lambda a, b: (a * 1).gt_(b) * b + a,
    "EqBackward0": lambda a, b: (a * 1).eq_(0.0) * b + a,
    # the view ops (a gradient's reshape, transpose, ... on either carrier)
    "ViewBackward0": lambda a, b: a.view(4, 3) * b.view(4, 3),
    "ReshapeAliasBackward0": lambda a, b: a.t().reshape(2, 2, 3) * b.reshape(2, 2, 3),
    "ExpandBackward0": lambda a, b: a[:1].expand(2, 3, 4) * b,
    "TransposeBackward0": lambda a, b: a.expand(2, 3, 4).transpose(0, 2) * b.mT[..., None],
    "TransposeBackward1": lambda a, b: (a * 1).transpose_(0, 1) * b.t(),
    "TBackward1": lambda a, b: (a * 1).t_() * b.t(),
    "PermuteBackward0": lambda a, b: a.expand(2, 3, 4).permute(2, 0, 1) * b.mT[:, None],
    "SqueezeBackward0": lambda a, b: a[None, :, None].squeeze() * b,
    "SqueezeBackward1": lambda a, b: a[:, None].squeeze(1) * b,
    "SqueezeBackward2": lambda a, b: a[None, :, None].squeeze((0, -2)) * b,
    "SqueezeBackward3": lambda a, b: (a[None] * 1).squeeze_() * b,
    "SqueezeBackward5": lambda a, b: (a[None, :, None] * 1).squeeze_((0, 2)) * b,
    "UnsqueezeBackward0": lambda a, b: a.unsqueeze(-1) * b[..., None],
    "UnsqueezeBackward1": lambda a, b: (a * 1).unsqueeze_(0) * b,
    "CloneBackward0": lambda a, b: a.t().contiguous() * b.t(),
    "EmbeddingBackward0": lambda a, b: ember.nn.functional.embedding(
        ember.tensor([[2, 0], [2, 1]]), a, padding_idx=1) * b[:2, None],
    "EmbeddingBackward0 scaled": lambda a, b: ember.nn.functional.embedding(
        ember.tensor([2, 0, 2, 2]), a, scale_grad_by_freq=True) * b[0, :, None],
}


def _quiet(fn):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def _seeded(fn):
    ember.manual_seed(0)
    return fn()
# the unary float table (unary._Float): each op on inputs inside its domain
_POS, _UNIT, _ABOVE_1 = (lambda a: a.abs() + 0.5), (lambda a: a.tanh() * 0.9), \
    (lambda a: a.abs() + 1.5)
for _name, _fn, _dom in [
        ("Exp", "exp", None), ("Exp2", "exp2", None), ("Expm1", "expm1", None),
        ("Log", "log", _POS), ("Log2", "log2", _POS), ("Log10", "log10", _POS),
        ("Log1P", "log1p", _POS), ("Sqrt", "sqrt", _POS), ("Rsqrt", "rsqrt", _POS),
        ("Reciprocal", "reciprocal", _POS), ("Sin", "sin", None), ("Cos", "cos", None),
        ("Tan", "tan", _UNIT), ("Asin", "asin", _UNIT), ("Acos", "acos", _UNIT),
        ("Atan", "atan", None), ("Sinh", "sinh", None), ("Cosh", "cosh", None),
        ("Tanh", "tanh", None), ("Asinh", "asinh", None), ("Acosh", "acosh", _ABOVE_1),
        ("Atanh", "atanh", _UNIT), ("Sigmoid", "sigmoid", None), ("Erf", "erf", None),
        ("Erfc", "erfc", None)]:
    CASES[f"{_name}Backward0"] = (lambda fn, dom: lambda a, b: getattr(
        dom(a) if dom else a, fn)() * b)(_fn, _dom)


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


def _ops_on_arrays():
    seen, stack = set(), [Op]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            if vars(sub).get("on_arrays"):
                seen.add(sub)
    return seen


def test_every_op_on_arrays_is_covered():
    """Each op whose backward runs on arrays has a node name among CASES."""
    covered = {c.split()[0] for c in CASES}
    assert _ops_on_arrays()
    for cls in _ops_on_arrays():
        names = {getattr(c, "_node_cls", c).__name__ for c in (cls, *cls.__subclasses__())}
        assert names & covered, f"{cls.__name__} runs on arrays but has no case in CASES"


def test_no_op_has_a_second_backward():
    """One formula per op: no ``backward_arrays``-style twin on any op class."""
    for cls in _ops_on_arrays() | {Op}:
        twins = [n for n in vars(cls) if n.startswith("backward") and n != "backward"]
        assert not twins, f"{cls.__name__} has {twins}"


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


@pytest.mark.parametrize("call", [
    lambda p, g: p.add_(g), lambda p, g: p.sub_(g, alpha=0.5), lambda p, g: p.mul_(g),
    lambda p, g: p.mul_(0.9), lambda p, g: p.add_(g, alpha=-0.01), lambda p, g: p.relu_(),
], ids=["add_", "sub_ alpha", "mul_", "mul_ scalar", "add_ alpha", "relu_"])
@pytest.mark.host_only  # (np.shares_memory on host arrays)
def test_no_grad_inplace_runs_the_op_forward_into_the_array(call, monkeypatch):
    """With no graph to record (an optimizer step), in-place arithmetic writes into the tensor's
    own array through its op's forward: no node, no temporary tensor, no copy back."""
    from ember.ops import inplace

    rng = np.random.default_rng(1)
    p = ember.tensor(rng.standard_normal((4, 3)), dtype=ember.float32, requires_grad=True)
    g = ember.tensor(rng.standard_normal((4, 3)), dtype=ember.float32)
    expected = call(p.detach().clone(), g).numpy()  # the recorded path's values
    memory = p.detach().numpy()

    def refuse(*args, **kwargs):
        raise AssertionError("the no-graph in-place path went through apply_inplace")

    monkeypatch.setattr(inplace, "apply_inplace", refuse)
    with ember.no_grad():
        assert call(p, g) is p
    np.testing.assert_array_equal(p.detach().numpy(), expected)
    assert np.shares_memory(memory, p.detach().numpy())


def test_no_grad_inplace_keeps_torch_alpha_checks():
    p = ember.zeros(3)
    with ember.no_grad(), pytest.raises(RuntimeError, match="Boolean alpha"):
        p.add_(ember.ones(3), alpha=True)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("inplace", [False, True], ids=["relu", "relu_"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("mask_min", [0, None], ids=["bits", "where"])
def test_relu_fast_path_nonfinite_and_signed_zero_gradients(mask_min, layout, inplace, dtype,
                                                            monkeypatch):
    """ReLU's array backward is ``where(y <= 0, 0, g)`` exactly: +0 (never -0) where the output
    is 0 (or -0), g's own bits (-0, inf, nan) where it is positive or nan, and an inf/nan
    incoming gradient at a 0 output still gives 0, on both of its paths (integer bit masks for
    big arrays, ``where`` for small ones), for every float dtype and strided operands."""
    from helpers import torch_or_skip

    from ember.backend import vocabulary

    torch = torch_or_skip()
    if mask_min is not None:
        monkeypatch.setattr(vocabulary, "_RELU_MASK_MIN", mask_min)
    x = np.array([[-2.0, 0.0, 3.0, np.nan, -1.0, 4.0], [-0.0, 1e-30, np.inf, -np.inf, 5.0, 0.0]],
                 dtype=dtype)
    grads = ([[-1.0, -2.0, -3.0, 4.0, 5.0, 6.0], [1.0, -0.0, -0.0, 2.0, -7.0, 3.0]],
             [[np.inf, np.nan, 1.0, -np.inf, -np.inf, np.nan], [np.nan, np.inf, np.nan, 1.0,
                                                                 -np.inf, -np.inf]])
    for g in grads:
        g = np.array(g, dtype=dtype)
        got = []
        for lib in (ember, torch):
            leaf = lib.tensor(x, requires_grad=True)
            a, gg = leaf, lib.tensor(g)
            if layout == "transposed":  # strided output and gradient
                a, gg = leaf.t(), gg.t()
            y = a * 1
            y = y.relu_() if inplace else y.relu()
            y.backward(gg)
            got.append(leaf.grad.numpy())
        np.testing.assert_array_equal(got[0], got[1])
        assert (np.signbit(got[0]) == np.signbit(got[1])).all()
        assert got[0].dtype == np.dtype(dtype)


@pytest.mark.host_only  # (np.shares_memory on host arrays)
def test_recorded_relu_inplace_writes_into_the_tensor_and_saves_it():
    """``relu_`` with a graph to record computes into the tensor's own memory (no temporary, no
    copy back) and saves the tensor itself at its new version, as torch does."""
    import tracemalloc

    x = ember.tensor(np.tile(np.array([-1.0, 2.0, 3.0, -4.0], np.float32), 1 << 16),
                     requires_grad=True)  # 1 MiB
    y = x * 1
    mem = y.detach().numpy()
    tracemalloc.start()  # numpy reports its data buffers to tracemalloc
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert y.relu_() is y
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < (1 << 20) // 4, f"relu_ allocated {peak} bytes for a 1 MiB tensor"
    assert np.shares_memory(mem, y.detach().numpy())
    assert mem[:4].tolist() == [0.0, 2.0, 3.0, 0.0]
    y.sum().backward()
    assert x.grad.numpy()[:4].tolist() == [0.0, 1.0, 1.0, 0.0]
    z = x * 1
    z.relu_()
    z.mul_(2)  # the output ReLU saved is overwritten: backward must refuse
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_both_carriers_speak_the_same_vocabulary():
    """Every word of the array vocabulary has its Tensor formula, and the reverse."""
    from ember.backend.vocabulary import ArrayVocabulary
    from ember.ops.vocabulary import TensorVocabulary

    def words(cls):
        return {n for n in dir(cls) if not n.startswith("_")}

    # the steal of a gradient array; the array module; facts about an array, not formula words
    engine_only = {"sole_owner", "xp", "data_ptr", "writable"}
    assert words(ArrayVocabulary) - engine_only == words(TensorVocabulary)
