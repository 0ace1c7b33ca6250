"""Reductions, softmax and cumulative ops: parity with torch (values, dtypes, grad_fn names,
gradients), gradcheck/gradgradcheck, and torch's errors."""
import math
import warnings

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, torch_or_skip

INF = math.inf

# (shape, dim): 0-d, 1-d, 2-d, 3-d; int, negative, tuple and list dims, and None (everything)
DIMS = [((), None), ((), 0), ((), -1), ((5,), 0), ((5,), None), ((3, 4), 1), ((3, 4), -2),
        ((3, 4), (0, 1)), ((3, 4), None), ((2, 3, 4), (0, 2)), ((2, 3, 4), [-1, 0]),
        ((2, 3, 4), 1)]


def _arr(rng, shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def _call(name, dim, keepdim, **kw):
    def fn(m, x):
        f = getattr(m, name)
        if dim is None and not keepdim:
            return f(x, **kw)
        return f(x, dim, keepdim=keepdim, **kw)

    return fn


DIM_REDUCTIONS = ["sum", "mean", "nansum", "amax", "amin", "logsumexp", "var", "std"]


@pytest.mark.parametrize("shape,dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", DIM_REDUCTIONS)
def test_dim_reductions(name, shape, dim, keepdim, rng):
    if name == "logsumexp" and dim is None:
        dim = tuple(range(len(shape)))  # torch requires dim here
    x = _arr(rng, shape)
    fn = _call(name, dim, keepdim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # var/std of a single element: dof <= 0
        check_op(fn, x)
    if name in ("var", "std") and x.size == 1:
        return  # nan gradients
    check_gradcheck(fn, x.astype(np.float64))


@pytest.mark.parametrize("shape,dim", DIMS[:9])
def test_method_forms(shape, dim, rng):
    x = _arr(rng, shape)
    check_op(lambda m, t: t.sum(dim) if dim is not None else t.sum(), x)
    check_op(lambda m, t: t.mean(dim=dim, keepdim=True), x)
    check_op(lambda m, t: t.amax(axis=dim if dim is not None else ()), x)


def test_sum_grad_fn_variants(rng):
    torch = torch_or_skip()
    x = _arr(rng, (2, 3))
    for fn in [lambda m, t: t.sum(), lambda m, t: t.sum(dim=None), lambda m, t: m.sum(t, ()),
               lambda m, t: t.sum(None, True), lambda m, t: t.mean(), lambda m, t: t.mean(None),
               lambda m, t: t.sum(dtype=m.float64), lambda m, t: t.mean([])]:
        check_op(fn, x)
    assert torch.tensor(1.0).sum().grad_fn is None


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool", "float64", "float16"])
def test_dtype_rules(dtype, rng):
    x = rng.integers(0, 3, size=(2, 3)).astype(dtype)
    for fn in [lambda m, t: m.sum(t), lambda m, t: t.sum(1), lambda m, t: t.prod(),
               lambda m, t: t.prod(0), lambda m, t: t.cumsum(1), lambda m, t: t.cumprod(0),
               lambda m, t: t.nansum(), lambda m, t: t.sum(dtype=m.float32),
               lambda m, t: t.amax(1), lambda m, t: t.max(), lambda m, t: t.count_nonzero(0),
               lambda m, t: t.all(), lambda m, t: t.any(1), lambda m, t: m.all(t, ())]:
        check_op(fn, x, grad=False, atol=1e-2)
    if dtype != "bool":
        check_op(lambda m, t: t.argmax(1), x)
        check_op(lambda m, t: t.max(1), x)
    if dtype not in ("float64", "float16"):
        check_op(lambda m, t: t.logsumexp(1), x, grad=False)
        check_op(lambda m, t: t.mean(dtype=m.float64), x, grad=False)
        check_op(lambda m, t: t.softmax(0, dtype=m.float32), x, grad=False)
    else:
        check_op(lambda m, t: t.softmax(-1), x, grad=False, atol=1e-3)
        check_op(lambda m, t: t.var(0), x, grad=False, atol=1e-2)


def test_dtype_errors():
    i = np.array([[1, 2], [3, 4]])
    for fn, exc, msg in [
        (lambda m: m.tensor(i).mean(), RuntimeError,
         "mean(): could not infer output dtype. Input dtype must be either a floating point or "
         "complex dtype. Got: Long"),
        (lambda m: m.tensor(i).mean(0, dtype=m.int64), RuntimeError,
         "Optional dtype must be either a floating point or complex dtype. Got: Long"),
        (lambda m: m.tensor([True]).mean(), RuntimeError, "Got: Bool"),
        (lambda m: m.tensor(i).var(), RuntimeError,
         "std and var only support floating point and complex dtypes"),
        (lambda m: m.tensor(i).norm(), RuntimeError,
         "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long"),
        (lambda m: m.tensor(i).softmax(0), NotImplementedError,
         "\"softmax_kernel_impl\" not implemented for 'Long'"),
        (lambda m: m.tensor(i).log_softmax(1), NotImplementedError,
         "\"log_softmax_lastdim_kernel_impl\" not implemented for 'Long'"),
        (lambda m: m.tensor([True]).argmax(), RuntimeError, "argmax(): does not support bool"),
        (lambda m: m.tensor([1.0, 2.0], requires_grad=True).sum(dtype=m.int64), RuntimeError,
         "Autograd not support dtype: Long"),
        (lambda m: m.tensor([1, 2]).nanmean(), RuntimeError,
         "nanmean(): expected input to have floating point or complex dtype but got Long"),
    ]:
        _raises_like_torch(fn, exc, msg)


def _raises_like_torch(fn, exc, msg):
    torch = torch_or_skip()
    with pytest.raises(exc) as t_err:
        fn(torch)
    with pytest.raises(exc) as e_err:
        fn(ember)
    assert msg in str(t_err.value), str(t_err.value)
    assert msg in str(e_err.value), str(e_err.value)


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "var", "std", "logsumexp", "norm", "all",
                                  "any", "count_nonzero", "cumsum", "cumprod", "softmax",
                                  "log_softmax", "argmax", "max", "prod", "cummax", "nansum"])
def test_dim_out_of_range(name):
    def call(t, d):
        return getattr(t, name)(dim=d)

    _raises_like_torch(lambda m: call(m.zeros(2, 3), 2), IndexError,
                       "Dimension out of range (expected to be in range of [-2, 1], but got 2)")
    _raises_like_torch(lambda m: call(m.zeros(2, 3), -3), IndexError,
                       "Dimension out of range (expected to be in range of [-2, 1], but got -3)")
    msg = ("Dimension out of range (expected to be in range of [-1, 0], but got 1)"
           if name != "cummax" else "cummax(): Expected reduction dim -1 or 0 for scalar but got 1")
    _raises_like_torch(lambda m: call(m.tensor(1.0), 1), IndexError, msg)


def test_repeated_dims():
    _raises_like_torch(lambda m: m.zeros(2, 3).sum((0, -2)), RuntimeError,
                       "dim 0 appears multiple times in the list of dims")


def test_empty_reductions(rng):
    e = np.zeros((0, 3), np.float32)
    for fn in [lambda m, t: t.sum(), lambda m, t: t.sum(0), lambda m, t: t.mean(0),
               lambda m, t: t.mean(), lambda m, t: t.prod(0), lambda m, t: t.amax(1),
               lambda m, t: t.max(1), lambda m, t: t.argmax(1), lambda m, t: t.logsumexp(0),
               lambda m, t: t.logsumexp(1), lambda m, t: t.norm(), lambda m, t: t.norm(dim=0),
               lambda m, t: t.all(), lambda m, t: t.any(0), lambda m, t: t.cumsum(0),
               lambda m, t: t.cumprod(1), lambda m, t: t.softmax(0), lambda m, t: t.std(1),
               lambda m, t: t.count_nonzero(0), lambda m, t: t.norm(INF, 1)]:
        check_op(fn, e)
    check_op(lambda m, t: t.cummax(0), e, grad=False)  # torch's grad here oddly requires grad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda m, t: t.var(0), e)
    for fn, exc, msg in [
        (lambda m: m.zeros(0, 3).max(), RuntimeError,
         "max(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
         "reduction dim with the 'dim' argument."),
        (lambda m: m.zeros(0, 3).min(-2), IndexError,
         "min(): Expected reduction dim 0 to have non-zero size."),
        (lambda m: m.zeros(0, 3).amax(-2), IndexError,
         "amax(): Expected reduction dim -2 to have non-zero size."),
        (lambda m: m.zeros(0, 3).amin(), RuntimeError,
         "amin(): Expected reduction dim to be specified for input.numel() == 0."),
        (lambda m: m.zeros(0, 3).argmax(), IndexError,
         "argmax(): Expected reduction dim to be specified for input.numel() == 0."),
        (lambda m: m.zeros(0, 3).argmin(0), IndexError,
         "argmin(): Expected reduction dim 0 to have non-zero size."),
        (lambda m: m.zeros(0, 3).norm(INF), RuntimeError,
         "linalg.vector_norm cannot compute the inf norm on an empty tensor because the "
         "operation does not have an identity"),
        (lambda m: m.zeros(0, 3).norm(-INF, dim=-2), RuntimeError,
         "cannot compute the -inf norm on the dimension -2because this dimension is empty"),
        (lambda m: m.aminmax(m.zeros(0, 3)), RuntimeError,
         "aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
         "identity."),
        (lambda m: m.aminmax(m.zeros(0, 3), dim=-2), IndexError,
         "aminmax: Expected reduction dim 0 to have non-zero size."),
    ]:
        _raises_like_torch(fn, exc, msg)


# -- prod ----------------------------------------------------------------------------------------

PROD_INPUTS = [
    np.array([0.5, -1.5, 2.0, 1.2]),
    np.array([0.0, -1.5, 2.0, 1.2]),  # one zero
    np.array([0.0, -1.5, 0.0, 1.2]),  # two zeros
    np.array([[0.0, 2.0, 3.0], [1.5, 0.0, 0.0], [1.1, -0.7, 0.9]]),
    np.array([[[0.0, 2.0], [3.0, 1.5]], [[0.0, 0.0], [1.1, -0.7]]]),
    np.array(0.0),
    np.array(1.7),
]


@pytest.mark.parametrize("x", PROD_INPUTS, ids=range(len(PROD_INPUTS)))
def test_prod(x):
    x = x.astype(np.float32)
    fns = [lambda m, t: t.prod()] + [
        (lambda d, k: lambda m, t: m.prod(t, d, keepdim=k))(d, k)
        for d in range(-max(x.ndim, 1), max(x.ndim, 1)) for k in (False, True)]
    for fn in fns:
        check_op(fn, x)
        check_gradcheck(fn, x.astype(np.float64))


def test_prod_double_backward_with_zeros():
    torch = torch_or_skip()
    data = [0.0, 2.0, 0.0, 3.0, 1.5]
    for one_zero in (True, False):
        d = list(data)
        if one_zero:
            d[2] = 4.0
        grads = []
        for m in (ember, torch):
            x = m.tensor(d, dtype=m.float64, requires_grad=True)
            (g,) = m.autograd.grad(x.prod(), x, create_graph=True)
            (gg,) = m.autograd.grad((g * m.arange(5.0, dtype=m.float64)).sum(), x)
            grads.append((g.detach().numpy(), gg.numpy()))
        np.testing.assert_allclose(grads[0][0], grads[1][0])
        np.testing.assert_allclose(grads[0][1], grads[1][1])


# -- max / min / argmax ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_forms(name, rng):
    x = _arr(rng, (3, 4))
    for fn in [lambda m, t: getattr(t, name)(), lambda m, t: getattr(m, name)(t, 1),
               lambda m, t: getattr(m, name)(t, -2, keepdim=True),
               lambda m, t: getattr(t, name)(dim=0), lambda m, t: getattr(t, name)(0).values,
               lambda m, t: getattr(t, name)(1)[1]]:
        check_op(fn, x)
    for fn in [lambda m, t: getattr(t, name)(), lambda m, t: getattr(t, name)(1).values,
               lambda m, t: getattr(m, name)(t, -2, keepdim=True)[0]]:
        check_gradcheck(fn, x.astype(np.float64))
    for s in [(), (5,), (2, 3, 4)]:
        check_op(lambda m, t: getattr(t, name)(0), _arr(rng, s))
        check_op(lambda m, t: getattr(t, name)(-1, True), _arr(rng, s))


def test_max_return_type(rng):
    torch = torch_or_skip()
    x = _arr(rng, (2, 3))
    e, t = ember.tensor(x).max(1), torch.tensor(x).max(1)
    assert repr(e) == repr(t).replace("torch.", "ember.")
    assert isinstance(e, tuple) and e.values is e[0] and e.indices is e[1]
    assert type(e).__name__ == "max" and type(ember.tensor(x).min(0)).__name__ == "min"
    v, i = ember.tensor(x).min(0, keepdim=True)
    assert v.shape == (1, 3) and i.dtype == ember.int64


def test_max_binary():
    x, y = np.array([1.0, 5.0, -2.0], np.float32), np.array([3.0, 2.0, -1.0], np.float32)
    check_op(lambda m, a, b: m.max(a, b), x, y)
    check_op(lambda m, a, b: a.min(b), x, y)


def test_ties_and_nans():
    ties = np.array([[1.0, 3.0, 3.0], [3.0, 3.0, 2.0]], np.float32)
    nans = np.array([[1.0, np.nan, np.nan], [2.0, 3.0, 3.0]], np.float32)
    for x in (ties, nans):
        for fn in [lambda m, t: t.max(), lambda m, t: t.min(), lambda m, t: t.amax(1),
                   lambda m, t: t.amin((0, 1)), lambda m, t: t.max(1), lambda m, t: t.min(0),
                   lambda m, t: t.argmax(), lambda m, t: t.argmax(1), lambda m, t: t.argmin(0),
                   lambda m, t: t.norm(INF, 1), lambda m, t: m.aminmax(t, dim=1),
                   lambda m, t: m.aminmax(t), lambda m, t: t.cummax(1), lambda m, t: t.cummin(1)]:
            check_op(fn, x)


@pytest.mark.parametrize("shape,dim", [((), None), ((), 0), ((5,), None), ((3, 4), 1),
                                       ((3, 4), -2), ((2, 3, 4), None)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_argmin(shape, dim, keepdim, rng):
    x = _arr(rng, shape)
    check_op(lambda m, t: m.argmax(t, dim, keepdim), x)
    check_op(lambda m, t: t.argmin(dim=dim, keepdim=keepdim), x)


@pytest.mark.parametrize("shape,dim", [((), None), ((4,), None), ((3, 4), 1), ((3, 4), -2)])
def test_aminmax(shape, dim, rng):
    x = _arr(rng, shape)
    for k in (False, True):
        fn = lambda m, t: m.aminmax(t, dim=dim, keepdim=k)  # noqa: E731
        check_op(fn, x)
        check_gradcheck(fn, x.astype(np.float64))
    r = ember.aminmax(ember.tensor(x))
    assert repr(r).startswith("ember.return_types.aminmax(\nmin=")


# -- var / std -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
def test_var_std_forms(name, rng):
    x = _arr(rng, (3, 4))
    forms = [lambda f, t: f(t), lambda f, t: f(t, 0), lambda f, t: f(t, 1, True),
             lambda f, t: f(t, 0, False, True), lambda f, t: f(t, False),
             lambda f, t: f(t, dim=(0, 1), correction=0), lambda f, t: f(t, -1, correction=2),
             lambda f, t: f(t, 0, unbiased=False, keepdim=True),
             lambda f, t: f(t, [1], keepdim=True, correction=1.5)]
    for form in forms:
        fn = lambda m, t: form(getattr(m, name), t)  # noqa: E731
        check_op(fn, x)
        check_gradcheck(fn, x.astype(np.float64))


def test_var_edge_cases():
    const = np.ones((2, 3), np.float32)
    check_op(lambda m, t: t.std(1), const)  # zero std: gradient 0, not nan
    check_op(lambda m, t: m.std_mean(t, 0), const)
    with pytest.warns(UserWarning, match=r"var\(\): degrees of freedom is <= 0"):
        ember.tensor(const).var(0, correction=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda m, t: t.var(0, correction=3), const)
        check_op(lambda m, t: t.std(), np.array([2.0], np.float32))


# -- norm ----------------------------------------------------------------------------------------

NORM_PS = [2, 1, INF, -INF, 0, 3, 1.5, 0.5, -1, "fro", None]


@pytest.mark.parametrize("p", NORM_PS)
@pytest.mark.parametrize("shape,dim", [((), None), ((5,), None), ((3, 4), 1), ((3, 4), (0, 1)),
                                       ((2, 3, 4), (-1, 0))])
def test_norm(p, shape, dim, rng):
    x = _arr(rng, shape)
    for keepdim in (False, True):
        fn = lambda m, t: t.norm(p, dim, keepdim)  # noqa: E731
        check_op(fn, x)
        if p != 0:
            check_gradcheck(fn, x.astype(np.float64))
    if p not in ("fro", None):
        check_op(lambda m, t: m.linalg.vector_norm(t, p, dim) if m is not ember else
                 ember.ops.stats.vector_norm(t, p, dim), x)


@pytest.mark.parametrize("p", [2, 1, INF, -INF, 3, 1.5, 0.5, -1])
def test_norm_at_zeros(p):
    check_op(lambda m, t: t.norm(p), np.zeros(3, np.float32))
    check_op(lambda m, t: t.norm(p, dim=1), np.array([[0.0, 0.0], [0.0, 2.0]], np.float32))


def test_norm_dtype():
    check_op(lambda m, t: m.norm(t, dtype=m.float64), np.array([3.0, 4.0], np.float32))


def test_whole_array_two_norm_is_one_dot(rng):
    # all of a contiguous real array: one BLAS dot (within 3e-6 of the exact norm at a million
    # float32s, where torch's float32 reduction is 1e-5 off); strided and partial ones sum
    x = (rng.standard_normal((1000, 1000)) * 0.01).astype(np.float32)
    exact = np.sqrt((x.astype(np.float64) ** 2).sum())
    for keepdim in (False, True):
        n = ember.linalg.vector_norm(ember.tensor(x), 2, None, keepdim)
        assert n.dtype == ember.float32 and n.shape == ((1, 1) if keepdim else ())
        assert abs(float(n) - exact) / exact < 3e-6
    check_op(lambda m, t: t.norm(), x[:40, :30].copy())
    check_op(lambda m, t: t.norm(), x[:40:2, ::3])  # (not contiguous)
    check_op(lambda m, t: t.norm(2, (0, 1), True), x[:5, :6].copy())
    check_gradcheck(lambda m, t: t.norm(), x[:3, :4].astype(np.float64))


# -- all / any / count_nonzero --------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "uint8"])
def test_logical(dtype, rng):
    x = rng.integers(0, 2, size=(2, 3, 4)).astype(dtype)
    for dim in [None, 0, -1, (0, 2), ()]:
        for k in (False, True):
            check_op(lambda m, t: m.all(t, dim, k) if dim is not None else m.all(t), x)
            check_op(lambda m, t: t.any(dim=dim, keepdim=k), x)
        check_op(lambda m, t: m.count_nonzero(t, dim), x)
    for s in [(), (0, 3)]:
        check_op(lambda m, t: t.all(), np.zeros(s, dtype))
        check_op(lambda m, t: t.any(-1), np.zeros(s, dtype))


# -- cumulative ----------------------------------------------------------------------------------

CUM_CASES = [((), 0), ((5,), 0), ((3, 4), 1), ((3, 4), -2), ((2, 3, 4), 1)]


@pytest.mark.parametrize("shape,dim", CUM_CASES)
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin"])
def test_cumulative(name, shape, dim, rng):
    x = _arr(rng, shape)
    fn = lambda m, t: getattr(t, name)(dim)  # noqa: E731
    check_op(fn, x)
    gfn = (lambda m, t: fn(m, t)[0]) if name in ("cummax", "cummin") else fn
    check_gradcheck(gfn, x.astype(np.float64))


@pytest.mark.parametrize("x", [np.array([2.0, 0.0, 3.0, 0.0, 5.0]), np.array([0.0, 1.5, -2.0]),
                               np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.5], [1.0, 2.0, 3.0]])])
def test_cumprod_with_zeros(x):
    x32 = x.astype(np.float32)
    for d in range(x.ndim):
        check_op(lambda m, t: m.cumprod(t, d), x32)
        check_gradcheck(lambda m, t: m.cumprod(t, d), x)


def test_cumulative_dtype():
    check_op(lambda m, t: t.cumsum(0, dtype=m.float64), np.array([1.0, 2.5], np.float32))
    check_op(lambda m, t: m.cumprod(t, 0, dtype=m.float32), np.array([1, 2, 3]))
    check_op(lambda m, t: t.cummax(0), np.array([True, False, True]))


def test_cumsum_ties_in_cummax():
    check_op(lambda m, t: t.cummax(0), np.array([1.0, 3.0, 3.0, 2.0, 5.0], np.float32))
    check_op(lambda m, t: t.cummin(0), np.array([3.0, 1.0, 1.0, 2.0, 0.0], np.float32))


# -- softmax / log_softmax / logsumexp -----------------------------------------------------------


@pytest.mark.parametrize("shape,dim", [((), 0), ((5,), 0), ((3, 4), 1), ((3, 4), -2),
                                       ((2, 3, 4), 1), ((2, 3, 4), -1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax(name, shape, dim, rng):
    x = _arr(rng, shape)
    fn = lambda m, t: getattr(m, name)(t, dim)  # noqa: E731
    check_op(fn, x)
    check_op(lambda m, t: getattr(t, name)(dim, dtype=m.float64), x)
    check_gradcheck(fn, x.astype(np.float64))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_stability(name):
    big = np.array([[1000.0, 999.0, -1000.0], [-INF, 0.0, 1.0], [88.0, 89.0, 90.0]], np.float32)
    check_op(lambda m, t: getattr(t, name)(1), big)
    check_op(lambda m, t: getattr(t, name)(0), np.array([-INF, -INF], np.float32), grad=False)
    check_op(lambda m, t: getattr(t, name)(0), np.array([1.0, 2.0], np.float16), grad=False,
             atol=1e-3)


def test_logsumexp_stability():
    x = np.array([[1000.0, 1000.0], [-INF, 2.0], [-INF, -INF], [INF, 1.0]], np.float32)
    check_op(lambda m, t: t.logsumexp(1), x)
    check_op(lambda m, t: m.logsumexp(t, (0, 1), keepdim=True), x[:2])
    check_op(lambda m, t: t.logsumexp(0), np.array([1, 2, 3]))


def test_nanmean_nansum():
    x = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 4.0]], np.float32)
    for fn in [lambda m, t: t.nansum(), lambda m, t: t.nansum(1, keepdim=True),
               lambda m, t: t.nanmean(), lambda m, t: m.nanmean(t, 0)]:
        check_op(fn, x)


def test_sum_to_size(rng):
    x = _arr(rng, (2, 3, 4))
    for size in [(3, 4), (1, 4), (2, 1, 1), (3, 1), (2, 3, 4)]:
        check_op(lambda m, t: t.sum_to_size(size), x)
        check_op(lambda m, t: t.sum_to_size(*size), x)


def test_axis_alias_and_legacy_var_errors(rng):
    x = _arr(rng, (2, 3))
    for name in ["sum", "mean", "prod", "amax", "argmin", "var", "logsumexp", "any", "cumsum",
                 "softmax", "count_nonzero"]:
        check_op(lambda m, t: getattr(t, name)(axis=1), x)
    check_op(lambda m, t: m.max(t, axis=0), x)
    with pytest.raises(TypeError):
        ember.var(ember.tensor(x), 0, True, correction=1)
    with pytest.raises(TypeError):
        torch_or_skip().var(torch_or_skip().tensor(x), 0, True, correction=1)
