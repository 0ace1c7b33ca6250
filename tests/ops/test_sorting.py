"""ember/ops/sorting.py against torch: values, indices, dtypes, grad_fn names, gradients and
errors of sort/argsort/msort/topk/kthvalue/median/nanmedian/mode/unique/unique_consecutive/
searchsorted/bucketize/bincount/histc/histogram; gradcheck in float64 for the selecting ops."""
import math

import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()
NAN = math.nan


def _distinct(rng, *shape):
    """Distinct values (tie orders are implementation-defined for topk)."""
    n = int(np.prod(shape)) if shape else 1
    return np.asarray(rng.permutation(n).reshape(shape).astype(np.float32) / 4 - 1)


def _ties(rng, *shape):
    return np.asarray(rng.integers(0, 3, size=shape).astype(np.float32))


SHAPES_DIMS = [((6,), 0), ((6,), -1), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), 1), ((), 0)]


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_sort_argsort(shape, dim, rng):
    for x in (_distinct(rng, *shape), _ties(rng, *shape)):
        for desc in (False, True):
            check_op(lambda m, a: m.sort(a, dim, desc), x)
            check_op(lambda m, a: a.sort(dim=dim, descending=desc, stable=True), x)
            check_op(lambda m, a: m.argsort(a, dim=dim, descending=desc, stable=True), x)
            check_op(lambda m, a: a.argsort(dim, desc), x)
    check_gradcheck(lambda m, a: m.sort(a, dim, True).values, _distinct(rng, *shape))


def test_sort_nan_int_bool(rng):
    x = np.array([3.0, 1.0, NAN, 1.0, 2.0, 3.0, NAN], np.float32)
    for desc in (False, True):
        check_op(lambda m, a: a.sort(descending=desc), x)
        check_op(lambda m, a: a.argsort(descending=desc), x)
    for arr in (np.array([3, 1, 2, 1, -5]), np.array([True, False, True]),
                rng.integers(0, 4, size=(3, 4)).astype(np.uint8)):
        for desc in (False, True):
            check_op(lambda m, a: m.sort(a, descending=desc), arr)
    check_op(lambda m, a: m.msort(a), _ties(rng, 4, 3))
    check_op(lambda m, a: a.msort(), _distinct(rng, 4, 3))
    same_error(lambda m: m.tensor([1.0, 2.0]).sort(1))


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
def test_topk(shape, dim, rng):
    x = _distinct(rng, *shape)
    n = x.shape[dim] if x.ndim else 1
    for k in sorted({0, 1, n // 2, n}):
        for largest in (True, False):
            check_op(lambda m, a: m.topk(a, k, dim, largest), x)
            check_op(lambda m, a: a.topk(k, dim=dim, largest=largest, sorted=True), x)
    check_gradcheck(lambda m, a: m.topk(a, max(n // 2, 1), dim).values, x)


def test_topk_nan_and_errors(rng):
    x = np.array([3.0, NAN, 1.0, 7.0], np.float32)
    check_op(lambda m, a: a.topk(2), x)
    check_op(lambda m, a: a.topk(2, largest=False), x)
    same_error(lambda m: m.tensor([[1.0, 2.0]]).topk(3, dim=0))
    same_error(lambda m: m.tensor([1.0, 2.0]).topk(1, dim=2), exact=False)
    # ties: the same values, whichever equal element torch picks
    t = _ties(rng, 4, 9)
    e_v = ember.tensor(t).topk(4).values.numpy()
    t_v = torch.tensor(t).topk(4).values.numpy()
    np.testing.assert_array_equal(e_v, t_v)


@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue_median_mode(shape, dim, keepdim, rng):
    x = _distinct(rng, *shape)
    n = x.shape[dim] if x.ndim else 1
    for k in sorted({1, (n + 1) // 2, n}):
        check_op(lambda m, a: m.kthvalue(a, k, dim, keepdim), x)
    check_op(lambda m, a: a.median(dim, keepdim), x)
    check_op(lambda m, a: m.nanmedian(a, dim=dim, keepdim=keepdim), x)
    check_op(lambda m, a: m.mode(a, dim, keepdim), _ties(rng, *shape))
    check_op(lambda m, a: a.mode(dim, keepdim=keepdim), x)
    for f in (lambda m, a: m.kthvalue(a, 1, dim, keepdim).values,
              lambda m, a: a.median(dim, keepdim).values,
              lambda m, a: a.nanmedian(dim, keepdim).values,
              lambda m, a: a.mode(dim, keepdim).values):
        check_gradcheck(f, x)


def test_median_all_and_nan(rng):
    for x in (_distinct(rng, 7), _distinct(rng, 2, 4), np.array([1.0, 1.0, 2.0], np.float32),
              np.array([3.0, NAN, 1.0, NAN], np.float32), np.array([NAN], np.float32),
              np.zeros(0, np.float32)):
        check_op(lambda m, a: a.median(), x)
        check_op(lambda m, a: m.nanmedian(a), x)
    rows = np.array([[NAN, NAN, NAN], [1.0, NAN, 2.0], [1.0, NAN, 3.0], [4, 2, 9]], np.float32)
    check_op(lambda m, a: a.median(1), rows)
    check_op(lambda m, a: a.nanmedian(1), rows)
    check_op(lambda m, a: a.median(), np.array([3, 1, 2, 4]))
    check_op(lambda m, a: a.median(0), np.array([3, 1, 2, 4]))
    check_op(lambda m, a: a.median(), np.array([1.0, 1.0, 2.0, 5.0]))  # ties share the grad
    check_gradcheck(lambda m, a: a.median(), np.array([1.0, 4.0, 2.0, 5.0, 3.0]))
    same_error(lambda m: m.zeros(0, 3).median(0))
    same_error(lambda m: m.zeros(0, 3).mode(0))
    same_error(lambda m: m.tensor([1.0, 2.0]).kthvalue(3))
    same_error(lambda m: m.tensor([1.0, 2.0]).kthvalue(0))


def test_mode_ties_and_nan():
    check_op(lambda m, a: a.mode(1), np.array([[1, 2, 2, 1], [3, 3, 4, 4], [5, 6, 7, 6]]))
    check_op(lambda m, a: a.mode(), np.array([1.0, NAN, NAN], np.float32))
    check_op(lambda m, a: a.mode(0), np.array([[1.0, 2.0], [1.0, 3.0], [2.0, 3.0]], np.float32))


def test_unique(rng):
    x = rng.integers(0, 5, size=(3, 4))
    for kw in ({}, {"return_inverse": True}, {"return_counts": True},
               {"return_inverse": True, "return_counts": True}, {"sorted": False}):
        check_op(lambda m, a: m.unique(a, **kw), x)
        check_op(lambda m, a: a.unique(**kw), x.astype(np.float32), grad=False)
        check_op(lambda m, a: m.unique_consecutive(a, **{k: v for k, v in kw.items()
                                                         if k != "sorted"}), x)
    rows = np.array([[1, 2], [0, 1], [1, 2], [0, 1], [0, 1]])
    for dim in (0, 1, -1):
        check_op(lambda m, a: m.unique(a, return_inverse=True, return_counts=True, dim=dim), rows)
        check_op(lambda m, a: a.unique_consecutive(True, True, dim=dim), rows)
    check_op(lambda m, a: m.unique(a, return_counts=True),
             np.array([1.0, NAN, NAN, 0.0], np.float32), grad=False)
    check_op(lambda m, a: m.unique(a, return_inverse=True), np.zeros(0, np.int64))


def test_unique_grad_fns():
    x = np.array([[3.0, 1.0], [1.0, 2.0]], np.float32)
    for fn, name in [(lambda m, a: a.unique(), "_unique2"),
                     (lambda m, a: a.unique(dim=0), "unique_dim"),
                     (lambda m, a: a.unique_consecutive(), "unique_consecutive"),
                     (lambda m, a: a.unique_consecutive(dim=1), "unique_consecutive")]:
        check_op(fn, x, grad=False)

        def backward(m, fn=fn):
            fn(m, m.tensor(x, requires_grad=True)).sum().backward()

        same_error(backward)


def test_searchsorted_bucketize(rng):
    s = np.array([1.0, 3, 5, 7, 9], np.float32)
    v = np.array([[3.0, 6, 9, 10], [0, 1, 5, 8]], np.float32)
    for kw in ({}, {"right": True}, {"side": "right"}, {"side": "left"}, {"out_int32": True}):
        check_op(lambda m, a, b: m.searchsorted(a, b, **kw), s, v)
        check_op(lambda m, a, b: m.bucketize(b, a, **{k: w for k, w in kw.items()
                                                      if k != "side"}), s, v)
    batched = np.sort(rng.standard_normal((2, 3, 6)).astype(np.float32), axis=-1)
    vals = rng.standard_normal((2, 3, 4)).astype(np.float32)
    for right in (False, True):
        check_op(lambda m, a, b: m.searchsorted(a, b, right=right), batched, vals)
    check_op(lambda m, a: m.searchsorted(a, 4.0), s)
    check_op(lambda m, a: m.bucketize(3, a), s)
    check_op(lambda m, a, b, c: m.searchsorted(a, b, sorter=c),
             np.array([5.0, 1, 3], np.float32), np.array([2.0, 4], np.float32), np.array([1, 2, 0]))
    same_error(lambda m: m.searchsorted(m.zeros(2, 3), m.zeros(1, 2)))
    same_error(lambda m: m.searchsorted(m.zeros(3), m.zeros(2), side="left", right=True))


def test_bincount():
    i = np.array([0, 1, 1, 3, 7])
    check_op(lambda m, a: m.bincount(a), i)
    check_op(lambda m, a: a.bincount(minlength=10), i)
    for w in (np.array([0.5, 1, 1, 2, 3], np.float32), np.array([0.5, 1, 1, 2, 3]),
              np.array([1, 2, 3, 4, 5]), np.array([1, 2, 3, 4, 5], np.float16)):
        check_op(lambda m, a, b: m.bincount(a, b), i, w, grad=False)
    check_op(lambda m, a: m.bincount(a), np.zeros(0, np.int64))
    same_error(lambda m: m.bincount(m.tensor([-1, 2])))
    same_error(lambda m: m.bincount(m.tensor([[1, 2]])))
    same_error(lambda m: m.bincount(m.tensor([1.0, 2.0])))


def test_histc_histogram(rng):
    x = rng.standard_normal(50).astype(np.float32)
    for kw in ({}, {"bins": 7}, {"bins": 4, "min": -1, "max": 1}, {"bins": 3, "min": 0.5,
                                                                    "max": 0.5}):
        check_op(lambda m, a: m.histc(a, **kw), x)
        check_op(lambda m, a: a.histc(**kw), x.astype(np.float64))
    check_op(lambda m, a: m.histc(a, bins=3), np.array([1.0, 1.0], np.float32))
    check_op(lambda m, a: m.histc(a, 4, 0, 3), np.array([1.0, 2, 1, 4, 2.5, 3, 0], np.float32))
    same_error(lambda m: m.histc(m.tensor([1, 2]), bins=3))
    same_error(lambda m: m.histc(m.tensor([1.0, 2.0]), bins=3, min=3, max=1))
    w = rng.uniform(0, 1, 50).astype(np.float32)
    for kw in ({}, {"range": (-1.0, 1.0)}, {"density": True},
               {"range": (-2.0, 0.5), "density": True}):
        check_op(lambda m, a: m.histogram(a, 6, **kw), x, grad=False)
        check_op(lambda m, a, b: a.histogram(5, weight=b, **kw), x, w, grad=False)
    check_op(lambda m, a, e: m.histogram(a, e), x, np.array([-3.0, -1, 0, 0.5, 3], np.float32),
             grad=False)
    check_op(lambda m, a: m.histogram(a, 2), np.array([1.0, 1.0], np.float32), grad=False)
    same_error(lambda m: m.histogram(m.tensor([1.0, 2.0], requires_grad=True), 2).hist.sum()
               .backward())
    same_error(lambda m: m.histogram(m.tensor([1, 2]), 3))


@pytest.mark.parametrize("largest", [True, False])
def test_topk_partition_path(largest, rng):
    """k much smaller than the dim takes the partition path: same values and indices."""
    x = _distinct(rng, 6, 50)
    x[1, 3] = x[2, 7] = NAN
    for k in (1, 3, 12):
        check_op(lambda m, a: a.topk(k, largest=largest), x)
        check_op(lambda m, a: a.topk(k, dim=0, largest=largest), x.T.copy())
    check_gradcheck(lambda m, a: a.topk(3, largest=largest).values, _distinct(rng, 2, 40))


def test_dtypes_and_bool_errors(rng):
    for dt in ("int8", "uint8", "int16", "int32", "int64", "float16", "float64"):
        x = np.asarray(rng.integers(0, 5, (3, 7)).astype(dt))
        for fn in (lambda m, a: m.sort(a, 1, True), lambda m, a: m.argsort(a, dim=0, stable=True),
                   lambda m, a: m.topk(a, 2).values, lambda m, a: m.kthvalue(a, 3, 1).values,
                   lambda m, a: m.median(a), lambda m, a: m.median(a, 1).values,
                   lambda m, a: m.mode(a, 1), lambda m, a: m.unique(a, return_counts=True),
                   lambda m, a: m.unique_consecutive(a, return_counts=True, dim=1),
                   lambda m, a: m.searchsorted(m.sort(a, 1).values, a),
                   lambda m, a: m.bucketize(a, m.tensor([1, 3]))):
            check_op(fn, x, grad=False, atol=1e-3)
        if dt.startswith("float"):
            check_op(lambda m, a: m.histc(a, 4), x, grad=False)
    b = np.array([[True, False], [False, False]])
    check_op(lambda m, a: (*m.sort(a, 1), *m.mode(a, 1), m.unique(a)), b)
    check_op(lambda m, a: m.searchsorted(a[1], m.tensor([1, 0])), b)
    for fn in (lambda m: m.tensor(b).topk(1), lambda m: m.tensor(b).kthvalue(1),
               lambda m: m.tensor(b).median(), lambda m: m.tensor(b).median(0),
               lambda m: m.tensor(b).nanmedian(), lambda m: m.tensor(b).nanmedian(1),
               lambda m: m.searchsorted(m.tensor(b[0]), m.tensor([True])),
               lambda m: m.bincount(m.tensor(b[0])), lambda m: m.histc(m.tensor(b)),
               lambda m: m.histogram(m.tensor([1.0, 2.0], dtype=m.float16), 2)):
        same_error(fn)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (1, 1), (2, 1, 3)])
def test_empty_and_unit_shapes(shape, rng):
    x = np.asarray(rng.standard_normal(shape).astype(np.float32))
    for fn in (lambda m, a: m.sort(a), lambda m, a: m.argsort(a, 0), lambda m, a: m.topk(a, 0),
               lambda m, a: m.median(a), lambda m, a: m.nanmedian(a),
               lambda m, a: m.unique(a, return_inverse=True, return_counts=True),
               lambda m, a: m.unique_consecutive(a, return_inverse=True, return_counts=True),
               lambda m, a: m.histc(a, 3), lambda m, a: m.histogram(a, 3),
               lambda m, a: m.searchsorted(m.tensor([0.0, 1.0]), a)):
        check_op(fn, x, grad=False)
    for fn in (lambda m: m.tensor(x).kthvalue(1), lambda m: m.tensor(x).mode(),
               lambda m: m.tensor(x).topk(1), lambda m: m.tensor(x).median(0),
               lambda m: m.tensor(x).unique(dim=0),
               lambda m: m.tensor(x).unique_consecutive(dim=-1)):
        try:
            fn(torch)
        except Exception:
            same_error(fn)
        else:
            check_op(lambda m, a: fn(m), x, grad=False)
