"""An op that declares a ``kernel`` (``Op.kernel``: the backend array function its forward
computes) runs that function alone when it has nothing to save, without a node; the in-place
methods run it into their input. Both must give what the op's forward gives, bit for bit and in
the same dtype, for every dtype and kind of operand, so a kernel never drifts from its op.
"""
import numpy as np
import pytest

import ember
from ember.dtypes import promote_arrays
from ember.ops import MODULES
from ember.ops._op import Op

KERNEL_OPS = sorted(
    {cls for mod in MODULES for cls in vars(mod).values()
     if isinstance(cls, type) and issubclass(cls, Op) and cls.__dict__.get("kernel")},
    key=lambda c: c.__name__)
DTYPES = [ember.float16, ember.float32, ember.float64, ember.int32, ember.int64,
          ember.uint8, ember.bool]


def _values(dtype, seed, shape=(3, 4)):
    rng = np.random.default_rng(seed)
    return ember.tensor(rng.standard_normal(shape) * 4, dtype=ember.float64).to(dtype)


def _operands(dtype):
    yield _values(dtype, 2)
    yield _values(dtype, 3, (4,))  # broadcast
    yield from (2, 2.5, True)  # Python scalars: weak
    if dtype != ember.uint8:  # (torch wraps uint8 + -3 around; ember raises numpy's error yet)
        yield -3
    yield _values(ember.float32, 4)  # promotions
    yield _values(ember.int64, 5)


def _same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_the_hot_arithmetic_declares_kernels():
    assert {c.__name__ for c in KERNEL_OPS} >= {"Add", "Sub", "Mul"}


@pytest.mark.parametrize("op", KERNEL_OPS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.host_only  # the NumPy kernels themselves
def test_kernel_computes_the_forward(op, dtype):
    a = _values(dtype, 1)
    checked = 0
    for b in _operands(dtype):
        arrays = [a._data, b._data if isinstance(b, ember.Tensor) else b]
        try:
            arrays = promote_arrays((a, b), arrays, op._promote == "float")
            node = object.__new__(op._node_cls)
            node.needs_input_grad = (False, False)
            want = op.forward(node, *arrays)
        except (RuntimeError, TypeError, ValueError):
            continue  # (bool - bool: torch's error, raised before any kernel)
        got = op._numpy_kernel(*arrays)
        assert got.dtype == want.dtype, (op, dtype, b)
        np.testing.assert_array_equal(got, want)
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("op", KERNEL_OPS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [ember.float16, ember.float32, ember.float64], ids=str)
def test_no_graph_result_equals_recorded_result(op, dtype):
    for b in _operands(dtype):
        a = _values(dtype, 1).requires_grad_()
        recorded = op.apply(a, b)
        assert recorded.grad_fn is not None
        with ember.no_grad():
            plain = op.apply(a, b)
        assert not plain.requires_grad and plain.grad_fn is None
        _same(plain, recorded.detach())
        assert not np.shares_memory(plain.numpy(), a.detach().numpy())


@pytest.mark.parametrize("name", ["add", "sub", "mul"])
@pytest.mark.parametrize("dtype", [ember.float16, ember.float32, ember.float64], ids=str)
@pytest.mark.parametrize("other", ["tensor", 0.5, 3])
def test_inplace_kernel_path_equals_out_of_place(name, dtype, other):
    a = _values(dtype, 6)
    b = _values(dtype, 7) if other == "tensor" else other
    want = getattr(a, name)(b)
    got = a.clone()
    version = got._version
    with ember.no_grad():
        out = getattr(got, name + "_")(b)
    assert out is got and got._version == version + 1
    _same(got, want)


def test_kernel_path_keeps_torch_errors():
    with ember.no_grad():
        with pytest.raises(RuntimeError, match="must match the size"):
            ember.ones(2, 3) + ember.ones(4)
        with pytest.raises(RuntimeError, match="must match the size"):
            ember.ones(2, 3) * ember.ones(4)
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool"):
            ember.ones(2, dtype=ember.bool) - ember.ones(2, dtype=ember.bool)
