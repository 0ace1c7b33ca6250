"""addcmul/addcdiv, deg2rad/rad2deg, heaviside, gcd, lcm, signbit: parity with torch (values,
dtypes, grad_fn names, gradients), gradcheck, integer/bool promotion and torch's errors."""
import warnings

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

SHAPES = [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1)), ((), (2, 3), ()), ((0, 2), (2,), ())]


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("value", [1, 0.5, -2])
def test_addc_parity_and_gradcheck(name, shapes, value, rng):
    a, b, c = (rng.uniform(0.5, 2.0, size=s).astype(np.float32) for s in shapes)
    fn = lambda m, x, y, z: getattr(m, name)(x, y, z, value=value)  # noqa: E731
    check_op(fn, a, b, c)
    check_op(lambda m, x, y, z: getattr(x, name)(y, z, value=value), a, b, c)
    check_gradcheck(fn, a.astype(np.float64), b.astype(np.float64), c.astype(np.float64))


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
def test_addc_some_inputs_need_grad(name, rng):
    torch = torch_or_skip()
    a, b, c = (rng.uniform(0.5, 2, size=(2, 3)) for _ in range(3))
    for needs in [(True, False, False), (False, True, False), (False, False, True)]:
        outs = []
        for m in (ember, torch):
            xs = [m.tensor(v, requires_grad=n) for v, n in zip((a, b, c), needs)]
            y = getattr(m, name)(*xs, value=0.25)
            (gx,) = m.autograd.grad(y.sum(), [x for x, n in zip(xs, needs) if n])
            outs.append(gx.numpy())
        np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12)


@pytest.mark.parametrize("dtypes", [("int64", "int64", "int64"), ("int64", "float32", "int64"),
                                    ("float16", "float32", "float32"), ("int32", "int64", "uint8"),
                                    ("float64", "float32", "int64"),
                                    ("bool", "float32", "float32")])
def test_addcmul_dtypes(dtypes, rng):
    arrs = [rng.integers(0, 4, size=(2, 3)).astype(d) for d in dtypes]
    for value in (1, 2, 2.5, True):
        check_op(lambda m, x, y, z: m.addcmul(x, y, z, value=value), *arrs, grad=False)


def test_addcdiv_dtypes(rng):
    a = rng.integers(1, 4, size=(2, 3))
    f = rng.uniform(1, 2, size=(2, 3)).astype(np.float32)
    check_op(lambda m, x, y, z: m.addcdiv(x, y, z), a, f, a, grad=False)
    check_op(lambda m, x, y, z: m.addcdiv(x, y, z, value=2), a, f, a, grad=False)
    check_op(lambda m, x, y, z: m.addcdiv(x, y, z), f, f.astype(np.float64), a, grad=False)
    check_op(lambda m, x, y, z: m.addcdiv(x, y, z), f, f, np.zeros((2, 3), np.float32),
             grad=False)


def test_addc_inplace(rng):
    torch = torch_or_skip()
    a, b, c = (rng.uniform(1, 2, size=(2, 3)).astype(np.float32) for _ in range(3))
    for name in ("addcmul_", "addcdiv_"):
        outs = []
        for m in (ember, torch):
            leaf = m.tensor(a, requires_grad=True)
            x = leaf * 1
            r = getattr(x, name)(m.tensor(b), m.tensor(c), value=0.5)
            assert r is x
            outs.append((x.detach().numpy(), type(x.grad_fn).__name__, x._version))
            x.sum().backward()
            outs[-1] += (leaf.grad.numpy(),)
        np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-6)
        assert outs[0][1:3] == outs[1][1:3]
        np.testing.assert_allclose(outs[0][3], outs[1][3])


def test_addc_errors():
    i = lambda m: m.tensor([1, 2, 3])  # noqa: E731
    f = lambda m: m.tensor([1.0, 2.0, 3.0])  # noqa: E731
    b = lambda m: m.tensor([True, False, True])  # noqa: E731
    same_error(lambda m: m.addcdiv(i(m), i(m), i(m)))
    same_error(lambda m: m.addcdiv(f(m), i(m), b(m)))
    same_error(lambda m: m.addcmul(b(m), b(m), b(m)))
    same_error(lambda m: m.addcmul(f(m), f(m), m.ones(2)))
    same_error(lambda m: m.addcmul(f(m), 2, f(m)))
    same_error(lambda m: m.addcdiv(f(m), f(m), f(m), value=2j))
    same_error(lambda m: i(m).addcmul_(f(m), f(m)))
    same_error(lambda m: m.ones(3).addcmul_(m.ones(2, 3), m.ones(2, 3)))


@pytest.mark.parametrize("name", ["deg2rad", "rad2deg"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "bool", "uint8"])
def test_angles(name, dtype, rng):
    x = (rng.uniform(-400, 400, size=(3, 5)) if dtype[0] == "f"
         else rng.integers(0, 2 if dtype == "bool" else 200, size=(3, 5))).astype(dtype)
    check_op(lambda m, t: getattr(m, name)(t), x, rtol=1e-6 if dtype != "float16" else 1e-3)
    check_op(lambda m, t: getattr(t, name)(), x, rtol=1e-6 if dtype != "float16" else 1e-3)
    if dtype == "float64":
        check_gradcheck(lambda m, t: getattr(m, name)(t), x)
        torch = torch_or_skip()  # bit for bit: one multiply by the same constant
        assert np.array_equal(getattr(ember, name)(ember.tensor(x)).numpy(),
                              getattr(torch, name)(torch.tensor(x)).numpy())
    if dtype[0] != "f":
        same_error(lambda m: getattr(m.tensor(x), name + "_")())
    else:
        check_op(lambda m, t: getattr(t * 1, name + "_")(), x,
                 rtol=1e-6 if dtype != "float16" else 1e-3)


def test_heaviside(rng):
    x = np.array([-1.5, 0.0, -0.0, 2.0, np.nan, np.inf, -np.inf], np.float32)
    v = np.array([0.5], np.float32)
    check_op(lambda m, a, b: m.heaviside(a, b), x, v, grad=False)
    check_op(lambda m, a, b: a.heaviside(b), x.reshape(7, 1), np.linspace(-1, 1, 3)
             .astype(np.float32), grad=False)
    check_op(lambda m, a, b: m.heaviside(a, b), np.array([-3, 0, 4]), np.array([7, 8, 9]))
    check_op(lambda m, a, b: m.heaviside(a, b), np.array([True, False]), np.array([True, True]))
    check_op(lambda m, a: m.heaviside(a, m.tensor(0.5)), x, grad=False)  # NotImplemented node
    same_error(lambda m: m.heaviside(m.tensor([1.0], requires_grad=True), m.tensor(0.5))
               .sum().backward())
    same_error(lambda m: m.heaviside(m.tensor([1.0]), m.tensor([1])))
    same_error(lambda m: m.heaviside(m.tensor([1.0]), 0.5))
    same_error(lambda m: m.heaviside(m.ones(2), m.ones(3)))
    check_op(lambda m, a, b: a.heaviside_(b), x, np.array(0.25, np.float32), grad=False)


@pytest.mark.parametrize("name", ["gcd", "lcm"])
def test_gcd_lcm(name, rng):
    a = np.array([0, -4, 6, 12, 7, -9, 0, 1])
    b = np.array([0, 6, -4, 18, 13, 3, 5, -1])
    check_op(lambda m, x, y: getattr(m, name)(x, y), a, b)
    check_op(lambda m, x, y: getattr(x, name)(y), a.reshape(8, 1), b)
    for d1, d2 in [("int32", "int64"), ("uint8", "uint8"), ("int8", "int16"), ("uint8", "int8")]:
        check_op(lambda m, x, y: getattr(m, name)(x, y), np.abs(a).astype(d1),
                 np.abs(b).astype(d2))
    check_op(lambda m, x, y: getattr(x, name + "_")(y), a, b)
    same_error(lambda m: getattr(m, name)(m.ones(2), m.ones(2)))
    same_error(lambda m: getattr(m, name)(m.tensor([True]), m.tensor([True])))
    same_error(lambda m: getattr(m, name)(m.tensor([1]), 3))
    same_error(lambda m: getattr(m, name)(m.tensor([1, 2]), m.tensor([1, 2, 3])))
    same_error(lambda m: getattr(m.tensor([1, 2]), name + "_")(m.tensor([1.0, 2.0])))


def test_signbit(rng):
    x = np.array([-0.0, 0.0, -1.0, 1.0, np.nan, -np.nan, np.inf, -np.inf], np.float32)
    for d in ("float32", "float64", "float16"):
        check_op(lambda m, t: m.signbit(t), x.astype(d))
        check_op(lambda m, t: t.signbit(), x.astype(d))
    check_op(lambda m, t: m.signbit(t), np.array([-3, 0, 5]))
    check_op(lambda m, t: m.signbit(t), np.array([True, False]))
    check_op(lambda m, t: m.signbit(t), np.array([0, 255], np.uint8))
    check_op(lambda m, t: m.signbit(t), rng.standard_normal((2, 0, 3)))


def test_addc_deprecated_overloads(rng):
    """torch still parses (value, tensor1, tensor2), as older optimizers write
    ``exp_avg_sq.mul_(b2).addcmul_(1 - b2, grad, grad)``, warning once per process."""
    import ember.ops._deprecated as deprecated

    a, b, c = (rng.uniform(1, 2, size=(2, 3)).astype(np.float32) for _ in range(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("addcmul", "addcdiv"):
            check_op(lambda m, x, y, z: getattr(m, name)(x, 0.3, y, z), a, b, c)
            check_op(lambda m, x, y, z: getattr(x, name)(0.3, y, z), a, b, c)
            check_op(lambda m, x, y, z: getattr(x * 1, name + "_")(0.3, y, z), a, b, c)
    deprecated._warned.clear()
    with pytest.warns(UserWarning, match=r"This overload of addcmul_ is deprecated:\n\t"
                                         r"addcmul_\(Number value, Tensor tensor1"):
        ember.ones(2).addcmul_(0.5, ember.ones(2), ember.ones(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process, as torch's
        ember.addcmul(ember.ones(2), 0.5, ember.ones(2), ember.ones(2))


def test_add_sub_deprecated_overloads(rng):
    """``p.data.add_(-lr, grad)``: torch's deprecated (alpha, other) form of add/sub, still
    parsed (ops/elementwise.py), with the shared once-per-process warning."""
    a, b = (rng.uniform(1, 2, size=(2, 3)).astype(np.float32) for _ in range(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("add", "sub"):
            check_op(lambda m, x, y: getattr(m, name)(x, -0.5, y), a, b)
            check_op(lambda m, x, y: getattr(x, name)(2, y), a, b)
            check_op(lambda m, x, y: getattr(x * 1, name + "_")(-0.1, y), a, b)
        check_op(lambda m, x, y: m.add(x, 2, y), np.arange(3), np.arange(3))
    same_error(lambda m: m.ones(2).add_(0.5, m.ones(2), m.ones(2)), exact=False)


@pytest.mark.parametrize("name", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_addc_inplace_no_grad_path(name, dtype, rng):
    """An optimizer's in-place step without a graph writes into the tensor directly: the same
    values as the op, bit for bit, and a new version."""
    a, b, c = (rng.uniform(0.5, 2, size=(4, 5)).astype(dtype) for _ in range(3))
    x, t1, t2 = ember.tensor(a), ember.tensor(b), ember.tensor(c)
    want = getattr(ember, name)(x, t1, t2, value=-0.3).numpy()
    with ember.no_grad():
        version = x._version
        assert getattr(x, name + "_")(t1, t2, value=-0.3) is x
    assert x._version == version + 1
    np.testing.assert_array_equal(x.numpy(), want)
    torch = torch_or_skip()
    y = torch.tensor(a)
    getattr(y, name + "_")(torch.tensor(b), torch.tensor(c), value=-0.3)
    np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-3 if dtype == "float16" else 1e-6)
