"""ops.recurrent's two carriers: each word of the step and BPTT formulas means the same on arrays
(Fortran-ordered steps, GEMMs in OpenBLAS's faster order, the step rows gathered into one matrix)
as on ember Tensors; and the fused layer's results do not depend on the memory layout of what it
is given."""
import numpy as np
import pytest

import ember
from ember.ops import recurrent as R

RNG = np.random.default_rng(0)


def _a(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def _carriers():
    return R._ArrayCarrier(np), R._TensorCarrier(np)


def _same(arr, ten, rtol=1e-6):
    ten = ten.detach().numpy() if isinstance(ten, ember.Tensor) else ten
    assert arr.shape == ten.shape
    np.testing.assert_allclose(arr, ten, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_words_mean_the_same_on_both_carriers(dtype):
    A, T = _carriers()
    a, w, d = _a(5, 7, dtype=dtype), _a(12, 7, dtype=dtype), _a(5, 12, dtype=dtype)
    _same(A.mm_t(a, w), T.mm_t(ember.tensor(a), ember.tensor(w)))
    assert A.mm_t(a, w).flags.f_contiguous
    wr = A.right(w)  # (the transpose, contiguous: made once per pass)
    assert wr.flags.c_contiguous and np.array_equal(wr, w.T)
    _same(A.mm(d, wr), T.mm(ember.tensor(d), T.right(ember.tensor(w))))
    # the lstm's two kernels: activations and their slopes from the values
    H = 3
    gates = _a(5, 4 * H, dtype=dtype)
    act = A.lstm_acts(np.asfortranarray(gates), H)
    _same(act, T.lstm_acts(ember.tensor(gates), H))
    _same(A.lstm_slopes(act, H), T.lstm_slopes(ember.tensor(act), H))
    s = A.state(a)
    assert s.flags.f_contiguous and np.array_equal(s, a)
    g = _a(4, 3, 6, dtype=dtype)
    st = A.steps(g)
    assert np.array_equal(st, g) and st[1].flags.f_contiguous
    m = _a(30, 12, dtype=dtype)
    _same(A.sum0(m), T.sum0(ember.tensor(m)))
    _same(A.sum0(np.asfortranarray(m)), m.sum(0))
    tall = _a(3000, 100, dtype=dtype)  # blocks of rows (each GEMM small enough for one thread)
    np.testing.assert_allclose(A.sum0(tall), tall.sum(0), rtol=1e-4, atol=1e-4)
    c = A.copy(m[0])
    assert np.array_equal(c, m[0]) and not np.shares_memory(c, m)


@pytest.mark.current_gpu  # (the carriers themselves, as the engine calls them)
@pytest.mark.parametrize("sizes", [(4, 4, 4), (4, 3, 1), ()])
def test_rows_pads_short_steps_on_both_carriers(sizes):
    A, T = _carriers()
    blocks = [np.asfortranarray(_a(n, 6)) for n in sizes]
    like = _a(2, 2)
    got = A.rows(blocks, 4, 6, like)
    want = T.rows([ember.tensor(b) for b in blocks], 4, 6, ember.tensor(like))
    assert got.shape == (4 * len(sizes), 6)
    _same(got, want, rtol=0)
    for t, b in enumerate(blocks):  # the padded rows are zeros
        assert np.array_equal(got[4 * t:4 * t + b.shape[0]], b)
        assert not got[4 * t + b.shape[0]:4 * (t + 1)].any()


@pytest.mark.parametrize("mode, proj", [("LSTM", 0), ("LSTM", 3), ("GRU", 0), ("RNN_TANH", 0)])
def test_layer_ignores_the_layout_of_its_inputs(mode, proj):
    """The same layer on C-ordered and on Fortran-ordered / strided inputs, states and output
    gradients: the same values and gradients (to float32 round-off: a GEMM may take another
    kernel for another operand layout)."""
    Tn, B, I, H = 5, 3, 4, 6
    G = {"LSTM": 4, "GRU": 3}.get(mode, 1) * H
    P = proj or H
    arrays = [_a(Tn, B, I), _a(G, I), _a(G, P), _a(G), _a(G), _a(P, H) if proj else None,
              _a(B, P), _a(B, H) if mode == "LSTM" else None]
    gys = [_a(Tn, B, P), _a(B, P), _a(B, H) if mode == "LSTM" else np.zeros(0, np.float32)]

    def run(relayout):
        ts = [None if a is None else ember.tensor(relayout(a), requires_grad=True)
              for a in arrays]
        out = R.RnnLayer.apply(*ts, mode=mode, reverse=False, sizes=None)
        grads = [ember.tensor(relayout(g)) for g in gys]
        leaves = [t for t in ts if t is not None]
        gs = ember.autograd.grad([o for o in out if o.numel()], leaves,
                                 [g for g, o in zip(grads, out) if o.numel()])
        return [o.detach().numpy() for o in out], [g.numpy() for g in gs]

    def fortran(a):
        return np.asfortranarray(a)

    def strided(a):
        return np.repeat(a, 2, axis=-1)[..., ::2]

    base = run(lambda a: a)
    for relayout in (fortran, strided):
        other = run(relayout)
        for x, y in zip(base[0] + base[1], other[0] + other[1]):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)
