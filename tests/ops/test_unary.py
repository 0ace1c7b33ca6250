"""Element-wise math (ember/ops/unary.py) against torch: values, dtypes, grad_fn names, gradients,
second derivatives, subgradients at kinks, integer inputs and torch's errors."""
import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, torch_or_skip

SHAPES = [(), (3,), (2, 3)]

# name -> sampler of a valid domain (so values, and gradients, are finite)
DOMAINS = {
    "exp": lambda r, s: r.standard_normal(s),
    "exp2": lambda r, s: r.standard_normal(s),
    "expm1": lambda r, s: r.standard_normal(s),
    "log": lambda r, s: r.uniform(0.5, 2.0, s),
    "log2": lambda r, s: r.uniform(0.5, 2.0, s),
    "log10": lambda r, s: r.uniform(0.5, 2.0, s),
    "log1p": lambda r, s: r.uniform(-0.5, 2.0, s),
    "sqrt": lambda r, s: r.uniform(0.5, 2.0, s),
    "rsqrt": lambda r, s: r.uniform(0.5, 2.0, s),
    "reciprocal": lambda r, s: r.uniform(0.5, 2.0, s) * r.choice([-1, 1], s),
    "sin": lambda r, s: r.standard_normal(s),
    "cos": lambda r, s: r.standard_normal(s),
    "tan": lambda r, s: r.uniform(-1.2, 1.2, s),
    "asin": lambda r, s: r.uniform(-0.9, 0.9, s),
    "acos": lambda r, s: r.uniform(-0.9, 0.9, s),
    "atan": lambda r, s: r.standard_normal(s),
    "sinh": lambda r, s: r.standard_normal(s),
    "cosh": lambda r, s: r.standard_normal(s),
    "tanh": lambda r, s: r.standard_normal(s),
    "asinh": lambda r, s: r.standard_normal(s),
    "acosh": lambda r, s: r.uniform(1.2, 3.0, s),
    "atanh": lambda r, s: r.uniform(-0.9, 0.9, s),
    "sigmoid": lambda r, s: r.standard_normal(s) * 3,
    "erf": lambda r, s: r.standard_normal(s),
    "erfc": lambda r, s: r.standard_normal(s),
    "neg": lambda r, s: r.standard_normal(s),
    "abs": lambda r, s: r.uniform(0.2, 2.0, s) * r.choice([-1, 1], s),
    "frac": lambda r, s: r.uniform(0.1, 0.9, s) + r.integers(-3, 3, s),
    "relu": lambda r, s: r.uniform(0.2, 2.0, s) * r.choice([-1, 1], s),
}
ZERO_GRAD = ["floor", "ceil", "round", "trunc", "sign", "sgn"]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(DOMAINS))
def test_parity_and_gradcheck(name, shape):
    r = np.random.default_rng(0)
    x = np.asarray(DOMAINS[name](r, shape))
    fn = lambda m, t: getattr(m, name)(t)  # noqa: E731
    check_op(fn, x.astype(np.float32))
    check_op(lambda m, t: getattr(t, name)(), x.astype(np.float64))  # the Tensor method
    check_gradcheck(fn, x)


@pytest.mark.parametrize("name", list(DOMAINS) + ZERO_GRAD)
def test_empty_and_float16(name):
    check_op(lambda m, t: getattr(m, name)(t), np.zeros((0, 3), np.float32), grad=name != "sgn")
    x = np.asarray(DOMAINS.get(name, DOMAINS["abs"])(np.random.default_rng(1), (4,)), np.float16)
    check_op(lambda m, t: getattr(m, name)(t), x, atol=2e-3, rtol=2e-3, grad=False)


@pytest.mark.parametrize("name", ZERO_GRAD)
def test_piecewise_constant_ops_have_zero_gradient(name):
    x = np.array([-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 0.7, -0.3], np.float32)  # halves: to even
    # torch's sgn returns a ZeroTensor gradient, which cannot be compared through numpy
    check_op(lambda m, t: getattr(m, name)(t), x, grad=name != "sgn")
    check_gradcheck(lambda m, t: getattr(m, name)(t), x + 0.25)
    t = ember.tensor(x, requires_grad=True)
    (g,) = ember.autograd.grad(getattr(ember, name)(t).sum(), t)
    assert g.tolist() == [0.0] * len(x)


@pytest.mark.parametrize("decimals", [-1, 0, 1, 2])
def test_round_decimals(decimals):
    x = np.array([15.0, 25.0, 1.25, 1.35, -2.555, 123.456, 0.05], np.float32)
    check_op(lambda m, t: m.round(t, decimals=decimals), x)
    check_op(lambda m, t: t.round(decimals=decimals), x.astype(np.float64))


@pytest.mark.parametrize("name", ["exp", "sqrt", "sin", "sigmoid", "tanh", "log1p", "erf",
                                  "reciprocal", "rsqrt", "exp2", "atan"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_integer_inputs_compute_in_the_default_dtype(name, dtype):
    check_op(lambda m, t: getattr(m, name)(t), np.array([1, 2, 3]).astype(dtype))


def test_default_dtype_float64_applies_to_int_inputs():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.exp(ember.tensor([1, 2])).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)


@pytest.mark.parametrize("name", ["neg", "abs", "sign", "sgn", "floor", "ceil", "round", "trunc",
                                  "relu", "nan_to_num", "square", "positive"])
@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint8])
def test_integer_dtype_preserving_ops(name, dtype):
    check_op(lambda m, t: getattr(m, name)(t), np.array([-3, 0, 2, 5]).astype(dtype))


@pytest.mark.parametrize("call", [
    lambda m, t: m.floor(t), lambda m, t: m.ceil(t), lambda m, t: m.round(t),
    lambda m, t: m.trunc(t), lambda m, t: m.frac(t), lambda m, t: m.abs(t),
    lambda m, t: m.relu(t), lambda m, t: -t, lambda m, t: +t, lambda m, t: m.clamp(t, True, True),
    lambda m, t: m.frac(t.long()), lambda m, t: m.round(t.long(), decimals=1),
    lambda m, t: m.hypot(t.long(), t.long()), lambda m, t: m.lerp(t.long(), t.long(), 0.5),
    lambda m, t: m.lerp(t.long(), t.long(), t.long()),
    lambda m, t: m.lerp(t.float(), t.double(), 0.5),
    lambda m, t: m.lerp(t.float(), t.float(), t.double()),
    lambda m, t: m.clamp(t.float()), lambda m, t: m.clamp(t.float(), t.float(), 1.0),
    lambda m, t: m.atan2(t.float(), 2), lambda m, t: m.hypot(t.float(), 2),
    lambda m, t: m.lerp(t.float(), 2.0, 0.5),
])
def test_errors_match_torch(call):
    torch = torch_or_skip()
    with pytest.raises(Exception) as t_err:
        call(torch, torch.tensor([True, False]))
    with pytest.raises(t_err.type) as e_err:
        call(ember, ember.tensor([True, False]))
    t_msg = str(t_err.value).split("\n")[0].replace("torch", "ember")
    if t_err.type is not TypeError:  # torch's TypeErrors list its overloads; ours are shorter
        assert str(e_err.value) == t_msg


def test_subgradients_at_kinks_match_torch():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan], np.float32)
    for fn in (lambda m, t: m.relu(t), lambda m, t: m.abs(t), lambda m, t: m.sign(t),
               lambda m, t: m.clamp(t, 0, 1), lambda m, t: m.clamp(t, min=0),
               lambda m, t: m.clamp(t, max=1), lambda m, t: t.clamp_min(0),
               lambda m, t: t.clamp_max(1), lambda m, t: m.clamp(t, 1, 0),
               lambda m, t: m.sqrt(t), lambda m, t: t.frac(), lambda m, t: m.nan_to_num(t)):
        check_op(fn, x)


def test_special_values_match_torch():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, 1e30, -1e30, 100.0], np.float32)
    for name in ["exp", "log", "sqrt", "rsqrt", "sigmoid", "tanh", "erf", "erfc", "sign", "log1p",
                 "reciprocal", "expm1", "asin", "floor", "frac"]:
        check_op(lambda m, t: getattr(m, name)(t), x, grad=False)
    for kw in [{}, {"nan": 1.0, "posinf": 2.0, "neginf": -3.0}, {"posinf": 1e50}]:
        check_op(lambda m, t: m.nan_to_num(t, **kw), x)
        with np.errstate(over="ignore"):
            x16 = x.astype(np.float16)
        check_op(lambda m, t: m.nan_to_num(t, **kw), x16, grad=False)


def test_nan_to_num_gradient_is_zero_where_replaced():
    check_gradcheck(lambda m, t: m.nan_to_num(t * 2), np.array([1.0, -2.0, 0.5]))


# -- clamp -----------------------------------------------------------------------------------------

CLAMP_X = np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 0.25], np.float32)
CLAMP_LO = np.array([0.0, 0.0, 1.0, 2.0, 0.0, -1.0], np.float32)
CLAMP_HI = np.array([1.0, 1.0, 0.0, 0.0, 1.0, 3.0], np.float32)


@pytest.mark.parametrize("fn", [
    lambda m, x, lo, hi: m.clamp(x, lo, hi),
    lambda m, x, lo, hi: m.clamp(x, min=lo),
    lambda m, x, lo, hi: m.clamp(x, max=hi),
    lambda m, x, lo, hi: x.clamp_min(lo),
    lambda m, x, lo, hi: x.clamp_max(hi),
    lambda m, x, lo, hi: m.clip(x, lo, hi),
    lambda m, x, lo, hi: m.clamp(x, lo[:1], hi),  # a broadcast bound
])
def test_clamp_tensor_bounds(fn):
    """Ties at both bounds, lo > hi, and gradients for the bounds, all as in torch."""
    check_op(fn, CLAMP_X, CLAMP_LO, CLAMP_HI)
    r = np.random.default_rng(3)
    check_gradcheck(fn, r.standard_normal(6), r.standard_normal(6) - 1, r.standard_normal(6) + 1)


@pytest.mark.parametrize("bounds", [(0, 1), (-0.5, None), (None, 0.5), (1, 0), (0.5, 0.5)])
def test_clamp_scalar_bounds(bounds):
    lo, hi = bounds
    check_op(lambda m, x: m.clamp(x, lo, hi), CLAMP_X)
    check_op(lambda m, x: x.clamp(min=lo, max=hi), CLAMP_X.astype(np.float64))
    check_gradcheck(lambda m, x: m.clamp(x, lo, hi), np.array([-1.3, 0.2, 0.7, 1.9]))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_clamp_dtype_promotion(dtype):
    x = np.array([0, 1, 2, 3]).astype(dtype)
    check_op(lambda m, t: m.clamp(t, 0.5, 1.5), x)
    check_op(lambda m, t: m.clamp(t, 1, 2), x)
    check_op(lambda m, t: m.clamp_min(t, 1.5), x)
    check_op(lambda m, t: m.clamp(t, min=m.tensor([0.5], dtype=m.float64)), x)


def test_clamp_nan_bound_and_nan_input():
    check_op(lambda m, x: m.clamp(x, 0.5, float("nan")), np.array([np.nan, 2.0], np.float32))
    check_op(lambda m, x: m.clamp(x, 0.0, 1.0), np.array([np.nan, 2.0], np.float32))


def test_clamp_errors():
    x = ember.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        ember.clamp(x)
    with pytest.raises(TypeError):
        x.clamp(ember.tensor([0.0]), 1.5)
    with pytest.raises(RuntimeError, match=r"tensor a \(3\) must match .* b \(4\) .* dimension 0"):
        ember.clamp(ember.zeros(3), ember.zeros(4), ember.zeros(3))


# -- lerp, atan2, hypot ---------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [0.3, 0.7, -1.0, 2.0, True, "tensor", "0d"])
def test_lerp(weight):
    r = np.random.default_rng(4)
    a, b = r.standard_normal((2, 3)), r.standard_normal((3,))
    if weight in ("tensor", "0d"):
        w = r.uniform(-0.5, 1.5, (2, 3) if weight == "tensor" else ())
        fn = lambda m, x, y, w: m.lerp(x, y, w)  # noqa: E731
        check_op(fn, a.astype(np.float32), b.astype(np.float32), w.astype(np.float32))
        check_gradcheck(fn, a, b, w)
    else:
        fn = lambda m, x, y: m.lerp(x, y, weight)  # noqa: E731
        check_op(fn, a.astype(np.float32), b.astype(np.float32))
        check_op(lambda m, x, y: x.lerp(y, weight), a, b)
        check_gradcheck(fn, a, b)


def test_lerp_is_exact_at_the_ends():
    a = ember.tensor([1e8, -3.0], dtype=ember.float32)
    b = ember.tensor([1.0, 7.0], dtype=ember.float32)
    assert ember.equal(ember.lerp(a, b, 1.0), b) and ember.equal(ember.lerp(a, b, 0.0), a)


@pytest.mark.parametrize("name", ["atan2", "hypot"])
@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 4)), ((), (2,))])
def test_atan2_hypot(name, sa, sb):
    r = np.random.default_rng(5)
    a, b = r.standard_normal(sa), r.standard_normal(sb)
    fn = lambda m, x, y: getattr(m, name)(x, y)  # noqa: E731
    check_op(fn, a.astype(np.float32), b.astype(np.float32))
    check_op(lambda m, x, y: getattr(x, name)(y), a, b.astype(np.float32))  # mixed dtypes
    check_gradcheck(fn, a, b)


def test_atan2_hypot_at_the_origin_and_with_ints():
    a = np.array([0.0, 0.0, 1.0, -1.0, np.nan], np.float32)
    b = np.array([0.0, 1.0, 0.0, -0.0, 1.0], np.float32)
    check_op(lambda m, x, y: m.atan2(x, y), a, b)
    check_op(lambda m, x, y: m.hypot(x, y), a, b)
    check_op(lambda m, x, y: m.atan2(x, y), np.array([1, -2]), np.array([2, 0]))
    check_op(lambda m, x, y: m.arctan2(x, y), np.array([1, -2]), np.array([2.0, 0.0]))


def test_erf_is_accurate():
    x = np.linspace(-6, 6, 101)
    torch = torch_or_skip()
    np.testing.assert_allclose(ember.erf(ember.tensor(x)).numpy(),
                               torch.erf(torch.tensor(x)).numpy(), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(ember.erfc(ember.tensor(x)).numpy(),
                               torch.erfc(torch.tensor(x)).numpy(), rtol=1e-13, atol=1e-300)


def test_unary_ops_warn_nothing():
    """torch never warns about log(0), 1 / 0, inf - inf: numpy's RuntimeWarnings stay hidden."""
    import warnings

    names = ["log", "sqrt", "rsqrt", "exp", "reciprocal", "log1p", "asin", "acosh", "atanh",
             "sigmoid", "log2", "tan", "frac", "erf", "cosh"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x in ([0.0, -1.0, 1e30, np.nan, np.inf], [0.0, -1.0, 1.0, np.nan, np.inf]):
            x = ember.tensor(x, requires_grad=True)
            ys = [getattr(ember, name)(x) for name in names]
            ys += [x.round(decimals=3), x.nan_to_num(posinf=1e300), x.to(ember.float16) ** 3]
        # backward formulas multiply with add/mul, which keep numpy's overflow warnings (1e30**2)
        ember.autograd.grad([y.sum() for y in ys], x, allow_unused=True)
    mine = [w for w in caught if "ember/ops/" in w.filename.replace("\\", "/")]
    assert not mine, [(w.filename, w.lineno, str(w.message)) for w in mine]


def test_positive_and_aliases():
    x = ember.tensor([1.0, -2.0])
    assert +x is x and ember.positive(x) is x
    assert ember.absolute is ember.abs and ember.negative is ember.neg and ember.fix is ember.trunc
    assert ember.arcsin is ember.asin and ember.clip is ember.clamp
    assert abs(x).tolist() == [1.0, 2.0]


def test_saved_output_of_0d_keeps_second_derivative():
    """A 0-d op's saved output must be the output tensor itself, so create_graph reaches it."""
    for name in ["exp", "tanh", "sigmoid", "sqrt", "reciprocal", "relu"]:
        check_gradcheck(lambda m, t: getattr(m, name)(t), np.array(0.7))
