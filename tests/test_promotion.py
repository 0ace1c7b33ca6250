"""Type promotion against torch: all pairs of dtypes, as tensors, 0-d tensors and Python scalars."""
import operator

import numpy as np
import pytest

import ember
from helpers import torch_or_skip

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
SCALARS = [2, 2.5, True]
OPS = {
    "add": operator.add,
    "mul": operator.mul,
    "div": operator.truediv,
    "floor_divide": operator.floordiv,
    "lt": operator.lt,
    "eq": operator.eq,
    "pow": operator.pow,
    "bitwise_and": operator.and_,
    "maximum": lambda a, b: a.maximum(b) if hasattr(b, "dtype") else a.clamp_min(b),
}


def _operand(m, kind, dtype):
    if kind == "scalar":
        return dtype  # the Python scalar itself
    shape = (2,) if kind == "tensor" else ()
    return m.ones(shape, dtype=getattr(m, dtype)) * (1 if dtype == "bool" else 2)


def _outcome(fn, *args):
    try:
        out = fn(*args)
    except Exception as e:  # noqa: BLE001 - the exception type is what we compare
        return type(e).__name__
    return str(out.dtype).split(".")[-1]


def _operands():
    for kind in ("tensor", "0d"):
        for dt in DTYPES:
            yield kind, dt
    for s in SCALARS:
        yield "scalar", s


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["tensor", "0d"])
def test_binary_result_dtype_matches_torch(op, dtype, kind):
    torch = torch_or_skip()
    fn = OPS[op]
    bad = []
    for other_kind, other in _operands():
        for reflect in (False, True) if other_kind == "scalar" else (False,):
            call = (lambda a, b: fn(b, a)) if reflect else fn
            e, t = (_outcome(call, _operand(m, kind, dtype), _operand(m, other_kind, other))
                    for m in (ember, torch))
            if e != t:
                bad.append((other_kind, other, "reflected" if reflect else "", e, t))
    assert not bad, bad


@pytest.mark.parametrize("a", DTYPES)
def test_promote_types_matches_torch(a):
    torch = torch_or_skip()
    for b in DTYPES:
        got = ember.promote_types(getattr(ember, a), getattr(ember, b))
        assert got.name == str(torch.promote_types(getattr(torch, a), getattr(torch, b)))[6:]


@pytest.mark.parametrize("kind", ["tensor", "0d"])
def test_result_type_matches_torch(kind):
    torch = torch_or_skip()
    bad = []
    for dt in DTYPES:
        for other_kind, other in _operands():
            e = ember.result_type(_operand(ember, kind, dt), _operand(ember, other_kind, other))
            t = torch.result_type(_operand(torch, kind, dt), _operand(torch, other_kind, other))
            if e.name != str(t)[6:]:
                bad.append((dt, other_kind, other, e, t))
    assert not bad, bad


def test_scalar_never_upcasts_a_float_tensor():
    for dt in (ember.float16, ember.float32):
        x = ember.ones(3, dtype=dt)
        assert (x * 1e3).dtype is dt and (x + 2).dtype is dt and (2.5 / x).dtype is dt


def test_zero_dim_tensor_has_lower_priority():
    i32 = ember.ones(3, dtype=ember.int32)
    assert (i32 + ember.tensor(5)).dtype is ember.int32  # 0-d int64 never widens an int tensor
    # a 0-d tensor of a higher category brings its own dtype (a Python float brings the default)
    assert (i32 + ember.tensor(5.0, dtype=ember.float64)).dtype is ember.float64
    assert (i32 + 5.0).dtype is ember.float32
    f16 = ember.ones(3, dtype=ember.float16)
    assert (f16 * ember.tensor(2.0, dtype=ember.float64)).dtype is ember.float16


def test_default_dtype_governs_int_true_division():
    ember.set_default_dtype(ember.float64)
    try:
        assert (ember.tensor([1, 2]) / ember.tensor([2, 4])).dtype is ember.float64
        assert (ember.tensor([1, 2]) * 1.5).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    assert (ember.tensor([1, 2]) / 2).dtype is ember.float32


@pytest.mark.parametrize("op", ["add", "mul", "div", "lt"])
def test_values_follow_the_promoted_dtype(op):
    """Wrapped values, not just dtypes: uint8 arithmetic wraps, and int8 + uint8 goes to int16."""
    torch = torch_or_skip()
    a = np.array([200, 100, 7], np.uint8)
    b = np.array([-100, 50, 3], np.int8)
    for lhs, rhs in ((a, a), (a, b), (b, b)):
        e = OPS[op](ember.tensor(lhs), ember.tensor(rhs))
        t = OPS[op](torch.tensor(lhs), torch.tensor(rhs))
        np.testing.assert_allclose(e.numpy().astype(float), t.numpy().astype(float), rtol=1e-6)


@pytest.mark.parametrize("scalar", [np.float64(2.5), np.float32(2.5), np.int64(3), np.int8(3)])
@pytest.mark.parametrize("dtype", ["float16", "float32", "int32", "uint8"])
def test_numpy_scalars_are_weak_like_python_scalars(scalar, dtype):
    """NumPy scalars promote as the Python numbers torch takes them for: never widening."""
    torch = torch_or_skip()
    exprs = [lambda t: t + scalar, lambda t: scalar * t, lambda t: t / scalar, lambda t: t < scalar,
             lambda t: scalar - t, lambda t: t % scalar, lambda t: t ** scalar,
             lambda t: t.clamp(0, scalar), lambda t: t.floor_divide(scalar),
             lambda t: t.add(t, alpha=scalar) if t.is_floating_point() else t + 1]
    for expr in exprs:
        e = expr(_operand(ember, "tensor", dtype))
        t = expr(_operand(torch, "tensor", dtype))
        assert str(e.dtype)[6:] == str(t.dtype)[6:], (expr, e.dtype, t.dtype)
