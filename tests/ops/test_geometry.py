"""ember/ops/geometry.py against torch: trace, cdist (every p and compute mode, batch
broadcasting), torch.cross / Tensor.cross (values, dtypes, grad_fn names, gradients, errors),
gradcheck in float64; and the reductions this part found already present (std_mean/var_mean
with torch's keywords, aminmax, count_nonzero, logsumexp over several dims)."""
import math
import warnings

import numpy as np
import pytest

from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()


def _f(rng, *shape):
    return np.asarray(rng.standard_normal(shape).astype(np.float32))


def test_trace(rng):
    for shape in ((3, 3), (3, 5), (4, 2), (0, 0)):
        x = _f(rng, *shape)
        check_op(lambda m, a: m.trace(a), x)
        check_op(lambda m, a: a.trace(), x.astype(np.float64))
    check_op(lambda m, a: a.trace(), np.array([[1, 2], [3, 4]]))
    check_op(lambda m, a: a.trace(), np.array([[1, 2], [3, 4]], np.uint8))
    check_gradcheck(lambda m, a: a.trace(), _f(rng, 3, 4).astype(np.float64))
    same_error(lambda m: m.zeros(3).trace())
    same_error(lambda m: m.tensor([[True]]).trace())


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, 0.5, math.inf])
def test_cdist(p, rng):
    a, b = _f(rng, 4, 3), _f(rng, 5, 3)
    check_op(lambda m, x, y: m.cdist(x, y, p), a, b)
    check_op(lambda m, x, y: m.cdist(x, y, p=p), _f(rng, 2, 1, 4, 3), _f(rng, 3, 6, 3))
    check_gradcheck(lambda m, x, y: m.cdist(x, y, p), a.astype(np.float64), b.astype(np.float64),
                    second_order=False)


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                                  "donot_use_mm_for_euclid_dist"])
def test_cdist_modes(mode, rng):
    for rows in (4, 30):  # torch switches to its matrix-product path above 25 rows
        a, b = _f(rng, rows, 5), _f(rng, 7, 5)
        check_op(lambda m, x, y: m.cdist(x, y, compute_mode=mode), a, b, atol=1e-4)
    a = _f(rng, 3, 2)
    check_op(lambda m, x: m.cdist(x, x, compute_mode=mode), a, atol=1e-3)  # zero distances
    check_gradcheck(lambda m, x, y: m.cdist(x, y, compute_mode=mode), a.astype(np.float64),
                    _f(rng, 4, 2).astype(np.float64))


def test_cdist_errors():
    same_error(lambda m: m.cdist(m.zeros(3), m.zeros(3)))
    same_error(lambda m: m.cdist(m.zeros(2, 3), m.zeros(2, 4)))
    same_error(lambda m: m.cdist(m.zeros(2, 3), m.zeros(2, 3), p=-1))
    same_error(lambda m: m.cdist(m.zeros(2, 3, dtype=m.int64), m.zeros(2, 3, dtype=m.int64)))
    same_error(lambda m: m.cdist(m.zeros(2, 3), m.zeros(2, 3), compute_mode="foo"))
    same_error(lambda m: m.cdist(m.zeros(2, 3, dtype=m.float64), m.zeros(2, 3)))
    check_op(lambda m, x, y: m.cdist(x, y), np.zeros((0, 3), np.float32),
             np.zeros((2, 3), np.float32))


def test_cross(rng):
    a, b = _f(rng, 4, 3), _f(rng, 4, 3)
    check_op(lambda m, x, y: m.cross(x, y, dim=1), a, b)
    check_op(lambda m, x, y: x.cross(y, -1), a, b)
    check_op(lambda m, x, y: m.cross(x, y, 0), _f(rng, 3, 5), _f(rng, 3, 1))  # broadcast
    check_op(lambda m, x, y: m.cross(x, y, dim=0), np.array([1, 2, 3]), np.array([4, 5, 6]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation of cross without dim
        check_op(lambda m, x, y: m.cross(x, y), _f(rng, 2, 3, 3), _f(rng, 2, 3, 3))
        same_error(lambda m: m.cross(m.zeros(2, 4), m.zeros(2, 4)))
    check_gradcheck(lambda m, x, y: m.cross(x, y, dim=1), a.astype(np.float64),
                    b.astype(np.float64))
    same_error(lambda m: m.cross(m.zeros(2, 4), m.zeros(2, 4), dim=1))
    same_error(lambda m: m.cross(m.zeros(2, 1, 3), m.zeros(4, 3), dim=-1))
    same_error(lambda m: m.cross(m.zeros(3, dtype=m.int64), m.zeros(3), dim=0))


def test_existing_reductions(rng):
    """std_mean/var_mean with torch's keywords, aminmax, count_nonzero, logsumexp over several
    dims: already in ember, checked against torch here."""
    x = _f(rng, 2, 3, 4)
    for fn in (lambda m, a: m.std_mean(a, dim=1, correction=0, keepdim=True),
               lambda m, a: m.var_mean(a, 1, False), lambda m, a: m.var_mean(a, dim=(0, 2)),
               lambda m, a: m.var_mean(a, dim=1, unbiased=False),
               lambda m, a: m.std_mean(a, correction=2), lambda m, a: m.std_mean(a),
               lambda m, a: m.aminmax(a), lambda m, a: a.aminmax(dim=1, keepdim=True),
               lambda m, a: m.logsumexp(a, (0, 2)), lambda m, a: a.logsumexp([-1, 0], True),
               lambda m, a: m.count_nonzero(a > 0, (0, 1)), lambda m, a: (a > 0).count_nonzero()):
        check_op(fn, x)
    check_gradcheck(lambda m, a: m.std_mean(a, dim=(0, 2), correction=0), x.astype(np.float64))
    check_gradcheck(lambda m, a: m.logsumexp(a, (0, 2)), x.astype(np.float64))


def test_dtype_errors():
    same_error(lambda m: m.cdist(m.zeros(2, 3, dtype=m.float16), m.zeros(2, 3, dtype=m.float16)))
    same_error(lambda m: m.cross(m.zeros(3, dtype=m.bool), m.zeros(3, dtype=m.bool), dim=0))
