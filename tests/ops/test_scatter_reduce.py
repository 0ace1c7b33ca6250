"""ember/ops/scatter_reduce.py against torch: scatter_reduce (every reduce, include_self, zeros
and ties), index_reduce, masked_scatter and put, with their in-place forms (values, dtypes,
grad_fn names, gradients, errors); gradcheck in float64. Also the members of the family this part
found already present (index_add/copy/fill, take, take_along_dim)."""
import numpy as np
import pytest

from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()
REDUCES = ["sum", "prod", "mean", "amax", "amin"]


def _f(rng, *shape):
    return np.asarray(rng.standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scatter_reduce(reduce, include_self, dim, rng):
    x, src = _f(rng, 3, 4), _f(rng, 2, 3)
    idx = rng.integers(0, x.shape[dim], size=(2, 3))
    fn = lambda m, a, s, i: a.scatter_reduce(dim, i, s, reduce, include_self=include_self)  # noqa
    check_op(fn, x, src, idx)
    # a src larger than index: torch's own backward refuses it, so values only
    check_op(fn, x, _f(rng, 3, 5), idx, grad=False)
    check_op(lambda m, a, s, i: m.scatter_reduce(a, dim, i, s, reduce), x, src, idx)
    grad_fn = lambda m, a, s: fn(m, a, s, m.tensor(idx))  # noqa: E731
    # (amax/amin: the gradient's ties are piecewise constant, so first order only)
    check_gradcheck(grad_fn, x.astype(np.float64), src.astype(np.float64),
                    second_order=reduce not in ("amax", "amin"))


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_zeros_and_ties(include_self):
    x = np.array([[0.0, 2.0, 3.0], [4.0, 0.0, 6.0]], np.float32)
    src = np.array([[0.0, 5.0, 7.0], [1.0, 0.0, 0.0]], np.float32)
    idx = np.array([[0, 1, 0], [0, 1, 1]])
    for reduce in REDUCES:
        check_op(lambda m, a, s, i: a.scatter_reduce(0, i, s, reduce, include_self=include_self),
                 x, src, idx)
    ties = np.array([[1.0, 2.0, 2.0], [2.0, 1.0, 2.0]], np.float32)
    for reduce in ("amax", "amin"):
        check_op(lambda m, a, s, i: a.scatter_reduce(0, i, s, reduce, include_self=include_self),
                 ties, ties[::-1].copy(), idx)


def test_scatter_reduce_dtypes_and_errors(rng):
    x = rng.integers(-9, 9, size=(3, 4))
    src = rng.integers(-9, 9, size=(2, 4))
    idx = rng.integers(0, 3, size=(2, 4))
    for reduce in REDUCES + ["max", "min"]:
        for inc in (True, False):
            check_op(lambda m, a, s, i: a.scatter_reduce(0, i, s, reduce, include_self=inc),
                     x, src, idx)
    check_op(lambda m, a, s, i: a.scatter_reduce(0, i, s, "amax"), x > 0, src > 0, idx)
    same_error(lambda m: m.zeros(2, 3).scatter_reduce(0, m.tensor([[0]]), m.ones(1, 1), "add"))
    same_error(lambda m: m.zeros(2, 3).scatter_reduce(0, m.tensor([[0]]),
                                                     m.ones(1, 1, dtype=m.float64), "sum"))
    same_error(lambda m: m.zeros(2, 3).scatter_reduce(1, m.tensor([[5]]), m.ones(1, 1), "sum"))


def test_scatter_reduce_inplace(rng):
    x, src = _f(rng, 3, 4), _f(rng, 2, 4)
    idx = rng.integers(0, 3, size=(2, 4))
    check_op(lambda m, a, s, i: (a * 1).scatter_reduce_(0, i, s, "prod"), x, src, idx)
    check_op(lambda m, a, s, i: (a * 1).scatter_reduce_(0, i, s, "mean", include_self=False),
             x, src, idx)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce(reduce, include_self, rng):
    x = _f(rng, 4, 3)
    for dim, src, idx in ((0, _f(rng, 5, 3), np.array([0, 2, 0, 3, 2])),
                          (1, _f(rng, 4, 2), np.array([2, 0])),
                          (-1, _f(rng, 4, 4), np.array([1, 1, 1, 0]))):
        fn = lambda m, a, s: a.index_reduce(dim, m.tensor(idx), s, reduce,  # noqa: E731
                                            include_self=include_self)
        check_op(fn, x, src)
        check_op(lambda m, a, s: (a * 1).index_reduce_(dim, m.tensor(idx), s, reduce), x, src)
        check_gradcheck(fn, x.astype(np.float64), src.astype(np.float64), second_order=False)
    i = np.array([[1, 2, 3], [4, 5, 6]])
    check_op(lambda m, a: a.index_reduce(0, m.tensor([1, 1]), a + 1, reduce,
                                         include_self=include_self), i)


def test_index_reduce_errors():
    same_error(lambda m: m.zeros(2, 3).index_reduce(0, m.tensor([1]), m.ones(1, 3), "sum"))
    same_error(lambda m: m.zeros(2, 3).index_reduce(0, m.tensor([1.0]), m.ones(1, 3), "prod"))
    same_error(lambda m: m.zeros(2, 3).index_reduce(0, m.tensor([1, 0]), m.ones(1, 3), "prod"))
    same_error(lambda m: m.zeros(2, 3).index_reduce(0, m.tensor([-1]), m.ones(1, 3), "prod"))


def test_masked_scatter(rng):
    x, src = _f(rng, 3, 4), _f(rng, 14)
    mask = rng.uniform(size=(3, 4)) > 0.5
    check_op(lambda m, a, k, s: a.masked_scatter(k, s), x, mask, src)
    check_op(lambda m, a, k, s: m.masked_scatter(a, k, s.reshape(2, 7)), x, mask, src)
    check_op(lambda m, a, k, s: a.masked_scatter(k, s), x, mask[1], src)  # the mask broadcasts
    check_op(lambda m, a, k, s: (a * 1).masked_scatter_(k, s), x, mask, src)
    check_gradcheck(lambda m, a, s: a.masked_scatter(m.tensor(mask), s), x.astype(np.float64),
                    src.astype(np.float64))
    same_error(lambda m: m.zeros(3).masked_scatter(m.tensor([1, 0, 1]), m.ones(3)))
    same_error(lambda m: m.zeros(3).masked_scatter(m.tensor([True, True, True]), m.ones(2)))
    same_error(lambda m: m.zeros(3).masked_scatter(m.tensor([True, True, True]),
                                                   m.ones(3, dtype=m.float64)))


def test_put(rng):
    x, src = _f(rng, 3, 4), _f(rng, 5)
    idx = np.array([0, -1, 5, 7, 2])
    for acc in (False, True):
        check_op(lambda m, a, s, i: a.put(i, s, accumulate=acc), x, src, idx)
        check_op(lambda m, a, s, i: m.put(a, i.reshape(5, 1), s, acc), x, src, idx)
        check_op(lambda m, a, s, i: (a * 1).put_(i, s, acc), x, src, idx)
        check_gradcheck(lambda m, a, s: a.put(m.tensor(idx), s, acc), x.astype(np.float64),
                        src.astype(np.float64))
    dup = np.array([1, 1, 4])
    check_op(lambda m, a, s, i: a.put(i, s, accumulate=True), x, src[:3], dup)
    same_error(lambda m: m.zeros(2, 3).put(m.tensor([10]), m.ones(1)))
    same_error(lambda m: m.zeros(2, 3).put(m.tensor([1], dtype=m.int32), m.ones(1)))
    same_error(lambda m: m.zeros(2, 3).put(m.tensor([1, 2]), m.ones(1)))
    same_error(lambda m: m.zeros(2, 3).put(m.tensor([1]), m.ones(1, dtype=m.float64)))


def test_existing_family_members(rng):
    """index_add/copy/fill, take and take_along_dim were already in ember: parity here too."""
    x = _f(rng, 4, 3)
    for fn in (lambda m, a: a.index_add(0, m.tensor([0, 2, 0]), a[:3] * 2, alpha=0.5),
               lambda m, a: a.index_copy(1, m.tensor([2, 0]), a[:, :2] + 1),
               lambda m, a: a.index_fill(0, m.tensor([1, 3]), -1.0),
               lambda m, a: m.take(a, m.tensor([[0, 11], [5, -1]])),
               lambda m, a: m.take_along_dim(a, m.tensor([[0], [2], [1], [0]]), 1),
               lambda m, a: a.take_along_dim(m.tensor([3, 0, 1])),
               lambda m, a: (a * 1).index_add_(1, m.tensor([1]), a[:, :1])):
        check_op(fn, x)
