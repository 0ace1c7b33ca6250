"""ember/ops/pointwise.py: logaddexp(2), copysign, nextafter, float_power, frexp/ldexp, the bit
shifts, logcumsumexp and the torch-level in-place functions, against torch (values, dtypes,
grad_fn names, gradients, errors), with gradcheck in float64; and integer scalars that wrap."""
import math
import warnings

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()


def _f(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_logaddexp(name, rng):
    x, y = _f(rng, 3, 4), _f(rng, 4)
    check_op(lambda m, a, b: getattr(m, name)(a, b), x, y)
    check_op(lambda m, a, b: getattr(a, name)(b), x * 50, y * 50)  # far apart: no overflow
    big = np.array([1e38, -1e38, -np.inf, np.inf], np.float32)
    check_op(lambda m, a, b: getattr(m, name)(a, b), big, big[::-1].copy(), grad=False)
    check_op(lambda m, a, b: getattr(m, name)(a, b), x, np.arange(4))  # int other promotes
    check_gradcheck(lambda m, a, b: getattr(m, name)(a, b), x.astype(np.float64),
                    y.astype(np.float64))
    same_error(lambda m: getattr(m, name)(m.tensor([1, 2]), m.tensor([1, 2])))
    same_error(lambda m: getattr(m, name)(m.tensor([1.0]), 1.0))


def test_copysign(rng):
    x, y = _f(rng, 3, 4), _f(rng, 3, 1)
    check_op(lambda m, a, b: m.copysign(a, b), x, y)
    check_op(lambda m, a: a.copysign(-2.0), x)
    check_op(lambda m, a: m.copysign(a, -1), np.array([1, -2, 0]))  # ints give float
    check_op(lambda m, a, b: m.copysign(a, b), np.array([1, 2, -3]), np.array([1, -1, 1]))
    z = np.array([0.0, -0.0, 2.0, -3.0], np.float32)
    check_op(lambda m, a, b: m.copysign(a, b), z, np.array([-1.0, 1.0, -0.0, 0.0], np.float32))
    check_gradcheck(lambda m, a, b: m.copysign(a, b), x.astype(np.float64) + 3,
                    y.astype(np.float64))
    check_gradcheck(lambda m, a: m.copysign(a, -1.5), x.astype(np.float64) + 3)


def test_copysign_inplace(rng):
    x, y = _f(rng, 3), _f(rng, 3)
    check_op(lambda m, a, b: (a * 1).copysign_(b), x, y)


def test_nextafter(rng):
    x, y = _f(rng, 2, 3), _f(rng, 3)
    check_op(lambda m, a, b: m.nextafter(a, b), x, y, atol=0, rtol=0)
    check_op(lambda m, a, b: a.nextafter(b), x.astype(np.float64), y.astype(np.float64),
             atol=0, rtol=0)
    check_op(lambda m, a, b: m.nextafter(a, b), np.zeros(2, np.float32),
             np.array([1.0, -1.0], np.float32), atol=0, rtol=0)
    check_op(lambda m, a, b: (a * 1).nextafter_(b), x, y, atol=0, rtol=0)
    same_error(lambda m: m.nextafter(m.tensor([1]), m.tensor([2])))


def test_float_power(rng):
    x = np.abs(_f(rng, 3, 4)) + 0.1
    check_op(lambda m, a: m.float_power(a, 2), x)
    check_op(lambda m, a: a.float_power(2.5), x)
    check_op(lambda m, a, b: m.float_power(a, b), x, _f(rng, 4))
    check_op(lambda m, a: m.float_power(a, 3), np.array([1, 2, -3]))
    check_op(lambda m, a: m.float_power(2, a), _f(rng, 3))
    check_op(lambda m, a: a.double().float_power_(2), x)
    same_error(lambda m: m.tensor([1.0]).float_power_(2))
    check_gradcheck(lambda m, a, b: m.float_power(a, b), x.astype(np.float64),
                    _f(rng, 4).astype(np.float64))


def test_frexp(rng):
    x = _f(rng, 3, 4) * 100
    x[0, 0] = 0.0
    for dt in (np.float32, np.float64, np.float16):
        check_op(lambda m, a: m.frexp(a), x.astype(dt), atol=0, rtol=0)
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 1e-40], np.float32)
    check_op(lambda m, a: a.frexp(), special, grad=False, atol=0, rtol=0)
    check_gradcheck(lambda m, a: m.frexp(a)[0], x[1:].astype(np.float64))  # (0 is a jump)
    same_error(lambda m: m.frexp(m.tensor([1, 2])))
    r = ember.frexp(ember.tensor([8.0]))
    assert repr(r).startswith("ember.return_types.frexp(\nmantissa=tensor([0.5000])")


def test_ldexp(rng):
    x, e = _f(rng, 3, 4), rng.integers(-4, 5, size=(4,))
    check_op(lambda m, a, b: m.ldexp(a, b), x, e)
    check_op(lambda m, a, b: m.ldexp(a, b), x.astype(np.float16), e)
    check_op(lambda m, a, b: m.ldexp(a, b), e, e)  # int by int: float32
    check_op(lambda m, a, b: a.ldexp(b), x, _f(rng, 4))  # a float exponent, both differentiable
    check_op(lambda m, a, b: m.ldexp_(a * 1, b), x, e)
    check_op(lambda m, a, b: (a * 1).ldexp_(b), x, e)
    check_gradcheck(lambda m, a, b: m.ldexp(a, b), x.astype(np.float64),
                    _f(rng, 4).astype(np.float64))


SHIFT_CASES = [
    (np.array([1, 2, -3, 7]), np.array([0, 1, 2, 3])),
    (np.array([1, 2, -3, 7]), np.array([63, 64, 70, -1])),  # out of range: 0 (or -1)
    (np.array([1, 255, 128], np.uint8), np.array([1, 1, 9])),
    (np.array([1, -128, 64], np.int8), np.array([7, 8, 1], np.int8)),
    (np.array([1, 2], np.int32), np.array([31, 32], np.int32)),
    (np.array([True, False]), np.array([1, 2])),
]


@pytest.mark.parametrize("a,b", SHIFT_CASES)
def test_shifts(a, b):
    for fn in (lambda m, x, y: x << y, lambda m, x, y: m.bitwise_left_shift(x, y),
               lambda m, x, y: x.bitwise_left_shift(y)):
        check_op(fn, a, b, atol=0, rtol=0)
    if a.dtype != bool:
        for fn in (lambda m, x, y: x >> y, lambda m, x, y: m.bitwise_right_shift(x, y),
                   lambda m, x, y: x.bitwise_right_shift(y)):
            check_op(fn, a, b, atol=0, rtol=0)


def test_shift_scalars_and_inplace():
    i = np.array([1, 2, -3])
    for fn in (lambda m, x: x << 2, lambda m, x: x >> 1, lambda m, x: x << 70,
               lambda m, x: x >> 70, lambda m, x: 2 << x.abs(), lambda m, x: 64 >> x.abs(),
               lambda m, x: m.bitwise_left_shift(3, x.abs()),
               lambda m, x: x.int() << 3, lambda m, x: x.to(m.uint8) << 5):
        check_op(fn, i, atol=0, rtol=0)

    def inplace(m, x):
        x = x.clone()
        x <<= 2
        x >>= 1
        x.bitwise_left_shift_(1)
        return x.bitwise_right_shift_(m.tensor([1, 0, 2]))

    check_op(inplace, i, atol=0, rtol=0)
    same_error(lambda m: m.tensor([1.5]) << 1)
    same_error(lambda m: m.tensor([1.5]) >> 1)
    same_error(lambda m: m.bitwise_left_shift(m.tensor([1.5]), 1))


@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1),
                                       ((), 0)])
def test_logcumsumexp(shape, dim, rng):
    x = _f(rng, *shape)
    check_op(lambda m, a: m.logcumsumexp(a, dim), x)
    check_op(lambda m, a: a.logcumsumexp(dim=dim), np.asarray(x * 100))
    check_gradcheck(lambda m, a: m.logcumsumexp(a, dim), x.astype(np.float64))


def test_logcumsumexp_edges():
    inf = math.inf
    x = np.array([-inf, -inf, 0.0, inf, 1.0], np.float32)
    check_op(lambda m, a: m.logcumsumexp(a, 0), x, grad=False)
    check_op(lambda m, a: m.logcumsumexp(a, 0), np.array([1e30, -1e30, 1e30], np.float32))
    same_error(lambda m: m.logcumsumexp(m.tensor([1, 2]), 0))
    same_error(lambda m: m.logcumsumexp(m.zeros(2, 3), 2))


def test_torch_level_inplace(rng):
    x = _f(rng, 3, 4)
    check_op(lambda m, a: m.clamp_(a * 1, -0.5, 0.5), x)
    check_op(lambda m, a: m.clip_(a * 1, min=0.0), x)
    check_op(lambda m, a: m.nan_to_num_(a * 1, 0.0), np.array([np.nan, np.inf, 1.0], np.float32))


def test_clamp_tensor_bounds(rng):
    x, lo, hi = _f(rng, 3, 4), _f(rng, 4) - 1, _f(rng, 3, 1) + 1
    check_op(lambda m, a, b, c: m.clamp(a, b, c), x, lo, hi)
    check_op(lambda m, a, b: a.clamp(min=b), x, lo)
    check_op(lambda m, a, c: a.clamp(max=c), x, hi)
    check_op(lambda m, a, b: a.clip(b), x, lo)
    check_op(lambda m, a, b: m.clamp(a, b), np.array([1, 2, 3]), np.array([0.0, 2.5, 1.0]))
    check_gradcheck(lambda m, a, b, c: m.clamp(a, b, c), x.astype(np.float64),
                    lo.astype(np.float64), hi.astype(np.float64))


def test_integer_scalars_wrap():
    # torch wraps an integer scalar outside the tensor's integer dtype (numpy raises)
    u8 = np.array([1, 2, 250], np.uint8)
    for fn in (lambda m, x: x + (-3), lambda m, x: x + 300, lambda m, x: x * 300,
               lambda m, x: x - (-3), lambda m, x: 5 - x, lambda m, x: x.add(-3, alpha=2),
               lambda m, x: m.add(x, 1000), lambda m, x: x.mul(-1)):
        check_op(fn, u8, atol=0, rtol=0)
    check_op(lambda m, x: x + 200, np.array([100, -5], np.int8), atol=0, rtol=0)

    def inplace(m, x):
        x = x.clone()
        x += -3
        return x.add_(257)

    check_op(inplace, u8, atol=0, rtol=0)
    check_op(lambda m, x: x < 300, u8)
    check_op(lambda m, x: (x + 300, x - 300, x * -1), np.asarray(np.uint8(5)), atol=0, rtol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch wraps silently; so does ember
        ember.tensor(u8).add(-3, alpha=2)


def test_logcumsumexp_half(rng):
    x = np.asarray(rng.integers(0, 5, (3, 7)).astype(np.float16))
    check_op(lambda m, a: m.logcumsumexp(a, 1), x, grad=False, atol=0, rtol=0)


def test_clamp_mixed_bounds():
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    check_op(lambda m, a: m.clamp(a, 0.0, m.tensor(1.0)), x)  # a 0-d tensor binds as a Number
    check_op(lambda m, a: m.clamp(a, m.tensor(0.0), 1.5), x)
    check_op(lambda m, a: m.clamp(a, 2.5, m.tensor(3)), np.array([1, 5]))
    same_error(lambda m: m.clamp(m.tensor(x), m.tensor([0.0, 0.0, 0.0]), 1.0))
