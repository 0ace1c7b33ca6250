"""The forward dispatch fast paths (``Op.apply``, the direct ``+ * **`` operators, the backward
entry) must behave as torch does: no-grad outputs, 0-d results, saved promoted arrays, operands."""
import numpy as np
import pytest
import torch

import ember
from ember.ops._op import Op


def _pair(values, dtype="float32", requires_grad=False):
    return (ember.tensor(values, dtype=getattr(ember, dtype), requires_grad=requires_grad),
            torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=requires_grad))


class _Probe(Op, name="ProbeBackward0"):
    seen: list = []

    @staticmethod
    def forward(ctx, a, b):
        _Probe.seen.append(ctx.needs_input_grad)
        return a * b

    @staticmethod
    def backward(ctx, g):
        return g, g


def test_needs_input_grad_set_in_every_mode():
    a = ember.ones(2, requires_grad=True)
    b = ember.ones(2)
    _Probe.seen.clear()
    _Probe.apply(a, b)
    _Probe.apply(b, b)
    _Probe.apply(b, 2.0)
    with ember.no_grad():
        _Probe.apply(a, a)
    assert _Probe.seen == [(True, False), (False, False), (False, False), (False, False)]


@pytest.mark.host_only  # (the NumPy path or the CPU device itself)
@pytest.mark.parametrize("fn", [
    lambda x: x * 2.0, lambda x: x + x, lambda x: x**2, lambda x: x @ x.mT, lambda x: x.sum(),
    lambda x: x.max(0)[0], lambda x: x[0, 0] * x[1, 1],
])
def test_no_grad_outputs_are_plain_tensors(fn):
    e, t = _pair([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    with ember.no_grad():
        out = fn(e)
    with torch.no_grad():
        ref = fn(t)
    assert out.grad_fn is None and not out.requires_grad and out.is_leaf
    assert type(out._data) is np.ndarray
    np.testing.assert_allclose(out.numpy(), ref.numpy())
    assert str(out.dtype).replace("ember", "torch") == str(ref.dtype)


@pytest.mark.host_only  # (the NumPy path or the CPU device itself)
def test_zero_dim_results_are_arrays():
    e, t = _pair(3.0, requires_grad=True)
    for grad in (True, False):
        with ember.set_grad_enabled(grad):
            out = e * e + e
        assert type(out._data) is np.ndarray and out.shape == ()
        assert out.requires_grad is grad
    out = e * e
    out.backward()
    ref = t * t
    ref.backward()
    assert float(e.grad) == float(t.grad)


@pytest.mark.parametrize("make", [
    lambda m, x: x * 1.5, lambda m, x: 1.5 * x, lambda m, x: x + 2, lambda m, x: 2 + x,
    lambda m, x: x + True, lambda m, x: x * np.float64(2.5), lambda m, x: x * np.int64(3),
    lambda m, x: x**2, lambda m, x: x**0.5, lambda m, x: x ** m.tensor([2, 3]),
    lambda m, x: x * m.tensor(2.0, dtype=m.float64), lambda m, x: x + m.tensor([1.0, 2.0]),
])
@pytest.mark.parametrize("dtype", ["int64", "float32", "bool"])
def test_direct_operators_promote_like_torch(make, dtype):
    values = [True, False] if dtype == "bool" else [1, 2]
    e, t = _pair(values, dtype)
    try:
        ref = make(torch, t)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            make(ember, e)
        return
    out = make(ember, e)
    assert str(out.dtype).replace("ember", "torch") == str(ref.dtype)
    np.testing.assert_allclose(out.numpy(), ref.numpy())


@pytest.mark.parametrize("op", ["__add__", "__radd__", "__mul__", "__rmul__", "__pow__"])
@pytest.mark.parametrize("other", [None, "a", [1.0, 2.0], object()])
def test_direct_operators_decline_non_numbers(op, other):
    e = ember.tensor([1.0, 2.0])
    assert getattr(e, op)(other) is NotImplemented


@pytest.mark.parametrize("make, name", [
    (lambda x: x * 3, "MulBackward0"), (lambda x: 3 * x, "MulBackward0"),
    (lambda x: x + 1, "AddBackward0"), (lambda x: 1 + x, "AddBackward0"),
    (lambda x: x**3, "PowBackward0"), (lambda x: x ** ember.tensor(2.0), "PowBackward1"),
])
def test_direct_operator_grad_fn_names(make, name):
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    assert type(make(x).grad_fn).__name__ == name


def test_parameter_operands_record_edges():
    w = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    y = (w * w + w).sum()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 5.0])


def test_saved_promoted_array_gives_torch_gradient():
    # int * float: Mul saves the cast array, which matches no input tensor
    ei, ti = _pair([2, 3], "int64")
    ef, tf = _pair([1.5, 2.5], "float32", requires_grad=True)
    (ef * ei).sum().backward()
    (tf * ti).sum().backward()
    np.testing.assert_allclose(ef.grad.numpy(), tf.grad.numpy())
    assert ef.grad.dtype == ember.float32


def test_saved_input_version_check_still_fires():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([3.0, 4.0], requires_grad=True)
    y = a * b
    with ember.no_grad():
        b.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("grad_tensors", ["none", "tensor", "list", "tuple"])
def test_backward_entry_single_root(grad_tensors):
    e, t = _pair([1.0, 2.0], requires_grad=True)
    ge, gt = _pair([0.5, -1.0])
    args = {"none": ((), ()), "tensor": ((ge,), (gt,)), "list": (([ge],), ([gt],)),
            "tuple": (((ge,),), ((gt,),))}[grad_tensors]
    oe, ot = (e * e, t * t) if grad_tensors != "none" else ((e * e).sum(), (t * t).sum())
    ember.autograd.backward(oe, *args[0])
    torch.autograd.backward(ot, *args[1])
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy())


def test_backward_entry_errors():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.tensor([1.0]).backward()
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(ember.ones(3))
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * 2).sum().backward(inputs=[])
