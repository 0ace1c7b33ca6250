"""svd_lowrank and pca_lowrank: on matrices of rank <= q the randomized factorizations are exact,
so singular values and the reconstruction match torch's (whose random sketch differs); torch's
nodes on U, S and V; gradients (gradcheck with the sketch's seed fixed); shapes, batches,
centring, M, and torch's errors."""
import numpy as np
import pytest

import ember
from helpers import check_gradcheck, same_error, torch_or_skip


def _low_rank(rng, m, n, r, batch=()):
    return (rng.standard_normal(batch + (m, r)) @ rng.standard_normal(batch + (r, n)))


@pytest.mark.parametrize("shape,r", [((20, 8), 4), ((8, 20), 3), ((2, 15, 10), 5)])
@pytest.mark.parametrize("name", ["svd_lowrank", "pca_lowrank"])
def test_exact_on_low_rank(shape, r, name, rng):
    torch = torch_or_skip()
    a = _low_rank(rng, shape[-2], shape[-1], r, shape[:-2])
    outs = []
    for m in (ember, torch):
        x = m.tensor(a, requires_grad=True)
        U, S, V = getattr(m, name)(x)
        outs.append((U, S, V, x))
    (eu, es, ev, ex), (tu, ts, tv, tx) = outs
    assert [type(t.grad_fn).__name__ for t in (eu, es, ev)] == \
        [type(t.grad_fn).__name__ for t in (tu, ts, tv)]
    assert tuple(eu.shape) == tuple(tu.shape) and tuple(ev.shape) == tuple(tv.shape)
    np.testing.assert_allclose(es.detach().numpy()[..., :r], ts.detach().numpy()[..., :r],
                               rtol=1e-9)
    centred = a - a.mean(-2, keepdims=True) if name == "pca_lowrank" else a
    rebuilt = (eu * es[..., None, :]) @ ev.mT
    np.testing.assert_allclose(rebuilt.detach().numpy(), centred, atol=1e-9)


def test_gradients_and_options(rng):
    a = _low_rank(rng, 12, 6, 3)

    def seeded(fn):
        def run(m, t):
            ember.manual_seed(0)  # the same sketch at every evaluation
            return fn(m, t)
        return run

    check_gradcheck(seeded(lambda m, t: m.svd_lowrank(t, q=3)[1]), a, second_order=False)
    check_gradcheck(seeded(lambda m, t: m.pca_lowrank(t, q=2)[1]), a, second_order=False)
    m_ = rng.standard_normal((12, 6))
    U, S, V = ember.svd_lowrank(ember.tensor(a + m_), q=4, M=ember.tensor(m_))
    np.testing.assert_allclose(((U * S) @ V.mT).numpy(), a, atol=1e-9)
    U, S, V = ember.svd_lowrank(ember.tensor(a), q=10)  # q above min(m, n): n columns
    assert tuple(U.shape) == (12, 6) and tuple(V.shape) == (6, 6)
    U, S, V = ember.pca_lowrank(ember.tensor(a), q=3, center=False, niter=0)
    np.testing.assert_allclose(((U * S) @ V.mT).numpy(), a, atol=1e-9)


def test_errors():
    same_error(lambda m: m.pca_lowrank(m.randn(20, 8), q=30))
    same_error(lambda m: m.pca_lowrank(m.randn(20, 8), q=-1))
    same_error(lambda m: m.svd_lowrank(m.randn(3)))
    same_error(lambda m: m.pca_lowrank(m.randn(3)))
