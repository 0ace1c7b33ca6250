"""histogramdd: parity with torch (counts, weights, density, edges given or computed, ranges,
degenerate and empty data, batches of points), its NotImplemented node and torch's errors."""
import numpy as np
import pytest

import ember
from helpers import check_op, same_error, torch_or_skip


def _flat(r):
    """hist and each dimension's edges, as check_op compares tensors."""
    return (r.hist, *r.bin_edges)


@pytest.mark.parametrize("kw", [dict(bins=[3, 3]), dict(bins=2), dict(bins=(2, 4)),
                                dict(bins=[2, 2], density=True),
                                dict(bins=2, range=[0.0, 1.0, 0.0, 1.0]),
                                dict(bins=3, range=[-1.0, 3.0, 0.5, 2.0], density=True)])
def test_histogramdd(kw, rng):
    x = rng.uniform(-1, 3, size=(50, 2)).astype(np.float32)
    check_op(lambda m, t: _flat(m.histogramdd(t, **kw)), x, grad=False)
    w = rng.uniform(0, 2, size=50).astype(np.float32)
    check_op(lambda m, t, u: _flat(m.histogramdd(t, weight=u, **kw)), x, w, grad=False)
    check_op(lambda m, t: _flat(m.histogramdd(t, **kw)), x.astype(np.float64), grad=False)


def test_histogramdd_edges_and_shapes(rng):
    x = rng.uniform(0, 3, size=(4, 5, 3))
    check_op(lambda m, t: _flat(m.histogramdd(t, bins=[2, 3, 4])), x, grad=False)
    edges = lambda m: [m.tensor(e, dtype=m.float64)  # noqa: E731
                       for e in ([0.0, 1.0, 3.0], [-1.0, 0.5, 2.0], [0.0, 3.0])]
    check_op(lambda m, t: _flat(m.histogramdd(t, bins=edges(m))), x, grad=False)
    check_op(lambda m, t: _flat(m.histogramdd(t, 2)), np.ones((2, 2), np.float32), grad=False)
    check_op(lambda m, t: _flat(m.histogramdd(t, 2)), np.zeros((0, 2), np.float32), grad=False)
    check_op(lambda m, t: _flat(m.histogramdd(t, 2)), x[..., :1].copy(), grad=False)
    torch = torch_or_skip()
    for m in (ember, torch):  # torch's node that refuses a backward, on every output
        r = m.histogramdd(m.tensor(x, requires_grad=True), 3)
        assert {type(t.grad_fn).__name__ for t in (r.hist, *r.bin_edges)} == {"NotImplemented"}


def test_histogramdd_errors():
    x = lambda m: m.tensor([[0.0, 5.0], [1.0, 1.0]])  # noqa: E731
    same_error(lambda m: m.histogramdd(m.randn(5, 2, requires_grad=True), 2).hist.sum()
               .backward())
    same_error(lambda m: m.histogramdd(x(m).long(), 2))
    same_error(lambda m: m.histogramdd(x(m).half(), 2))
    same_error(lambda m: m.histogramdd(x(m), [2, 2, 2]))
    same_error(lambda m: m.histogramdd(m.ones(3), 2))
    same_error(lambda m: m.histogramdd(x(m), 2, range=[0.0, 1.0]))
    same_error(lambda m: m.histogramdd(x(m), [2, 0]))
    same_error(lambda m: m.histogramdd(x(m), 2, weight=m.ones(3)))
    same_error(lambda m: m.histogramdd(x(m).double(), 2, weight=m.ones(2)))
    same_error(lambda m: m.histogramdd(x(m), 2, range=[1.0, 0.0, 0.0, 1.0]))
    same_error(lambda m: m.histogramdd(m.tensor([[0.0, float("nan")], [1.0, 1.0]]), 2))
