"""torch-level twins of nn.functional (``torch.kl_div``, ``torch.lstm_cell`` ...) and the
``native_*`` functions, with ATen's signatures, against torch 2.13: values, dtypes, grad_fn
names, gradients, gradcheck, errors."""
import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()


def _r(rng, *shape):
    return rng.standard_normal(shape)


REDUCTIONS = [0, 1, 2, 7]


def test_every_lazy_name_is_exported():
    from ember.nn import _torch_level

    lazy = {k for k, v in ember._LAZY_ATTRS.items() if v == "nn._torch_level"}
    assert lazy == set(_torch_level.__all__)
    for name in lazy:
        assert hasattr(torch, name) and callable(getattr(ember, name))


def test_similarity_and_distance(rng):
    a, b = _r(rng, 3, 4), _r(rng, 3, 4)
    check_op(lambda m, x, y: m.cosine_similarity(x, y), a, b)
    check_op(lambda m, x, y: m.cosine_similarity(x, y, 0, 1e-6), a, b)
    check_op(lambda m, x, y: m.pairwise_distance(x, y), a, b)
    check_op(lambda m, x, y: m.pairwise_distance(x, y, 1.0, 1e-6, True), a, b)
    check_gradcheck(lambda m, x, y: m.cosine_similarity(x, y), a, b)
    check_gradcheck(lambda m, x, y: m.pairwise_distance(x, y, 3.0), a, b)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses(reduction, rng):
    a, b = _r(rng, 4, 3), _r(rng, 4, 3)
    sign = np.where(rng.random(4) > 0.5, 1.0, -1.0)
    sign3 = np.where(rng.random((4, 3)) > 0.5, 1.0, -1.0)
    prob = rng.random((4, 3))
    logp = np.log(prob / prob.sum(1, keepdims=True))
    cases = [
        (lambda m, x, t: m.kl_div(x, t, reduction), (logp, prob)),
        (lambda m, x, t: m.kl_div(x, t, reduction, log_target=True), (logp, logp[::-1].copy())),
        (lambda m, x, y, t: m.margin_ranking_loss(x, y, t, 0.2, reduction),
         (a[:, 0].copy(), b[:, 0].copy(), sign)),
        (lambda m, x, t: m.hinge_embedding_loss(x, t, 0.5, reduction), (a, sign3)),
        (lambda m, x, y, t: m.cosine_embedding_loss(x, y, t, 0.1, reduction), (a, b, sign)),
        (lambda m, x, t: m.poisson_nll_loss(x, t, True, True, 1e-8, reduction),
         (a, prob * 3)),
        (lambda m, x, t: m.poisson_nll_loss(x, t, False, False, 1e-8, reduction),
         (prob + 0.1, prob * 3)),
        (lambda m, x, t: m.binary_cross_entropy_with_logits(x, t, None, None, reduction),
         (a, prob)),
        (lambda m, x, t: m.binary_cross_entropy_with_logits(x, t, m.tensor(prob[0]),
                                                            m.tensor(prob[1] + 0.5), reduction),
         (a, prob)),
        (lambda m, x, y, z: m.triplet_margin_loss(x, y, z, 1.0, 2.0, 1e-6, True, reduction),
         (a, b, _r(rng, 4, 3))),
    ]
    for fn, inputs in cases:
        check_op(fn, *inputs)
        check_gradcheck(fn, *inputs, second_order=False)


def test_loss_reduction_must_be_int():
    same_error(lambda m: m.kl_div(m.ones(3), m.ones(3), "mean"))
    same_error(lambda m: m.hinge_embedding_loss(m.ones(3), m.ones(3), 1.0, "sum"))


def test_ctc_loss(rng):
    T, N, C, S = 6, 2, 4, 3
    logits = _r(rng, T, N, C)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = rng.integers(1, C, (N, S))
    for reduction in (0, 1, 2):
        check_op(lambda m, x, t: m.ctc_loss(x, t, [T, T - 1], [S, S - 1], 0, reduction, False),
                 logp, targets)


def test_norms_and_bilinear(rng):
    x = _r(rng, 2, 3, 5)
    w, b = _r(rng, 3), _r(rng, 3)
    for stats in (True, False):
        def fn(m, t, ww, bb):
            rm, rv = m.zeros(3, dtype=t.dtype), m.ones(3, dtype=t.dtype)
            return m.instance_norm(t, ww, bb, rm, rv, stats, 0.1, 1e-5, False)

        check_op(fn, x, w, b)
    check_op(lambda m, t: m.instance_norm(t, None, None, None, None, True, 0.1, 1e-5, True), x)
    check_gradcheck(lambda m, t, ww: m.instance_norm(t, ww, None, None, None, True, 0.1, 1e-5,
                                                      False), x, w)
    x1, x2, W, bias = _r(rng, 4, 3), _r(rng, 4, 2), _r(rng, 5, 3, 2), _r(rng, 5)
    check_op(lambda m, a, c, ww, bb: m.bilinear(a, c, ww, bb), x1, x2, W, bias)
    check_gradcheck(lambda m, a, c, ww: m.bilinear(a, c, ww), x1, x2, W)
    check_op(lambda m, t, ww: m.rms_norm(t, [5], ww, 1e-6), x, _r(rng, 5))
    check_op(lambda m, t: m.rms_norm(t, (3, 5)), x)


def test_native_layer_and_group_norm(rng):
    x = _r(rng, 2, 6, 4)
    w, b = _r(rng, 4), _r(rng, 4)
    check_op(lambda m, t, ww, bb: m.native_layer_norm(t, [4], ww, bb, 1e-5), x, w, b)
    check_op(lambda m, t: m.native_layer_norm(t, (6, 4), None, None, 1e-3), x)
    check_op(lambda m, t: m.native_layer_norm(t, [4], None, None, 1e-5),
             x.astype(np.float32))
    wg, bg = _r(rng, 6), _r(rng, 6)
    # mean and rstd are outputs of the node too, and gradients reaching them flow back
    check_op(lambda m, t, ww, bb: m.native_group_norm(t, ww, bb, 2, 6, 4, 3, 1e-5), x, wg, bg)
    for groups in (1, 2, 3, 6):
        check_op(lambda m, t: m.native_group_norm(t, None, None, 2, 6, 4, groups, 1e-5), x)
        check_op(lambda m, t: m.native_group_norm(t, None, None, 2, 6, 4, groups, 1e-5),
                 x.astype(np.float32))
    check_gradcheck(lambda m, t, ww: m.native_group_norm(t, ww, None, 2, 6, 4, 3, 1e-5), x, wg)
    same_error(lambda m: m.native_group_norm(m.ones(2, 6, 4), None, None, 2, 6, 5, 3, 1e-5))
    check_gradcheck(lambda m, t, ww: m.native_layer_norm(t, [4], ww, None, 1e-5)[0], x, w)


@pytest.mark.parametrize("training", [True, False])
def test_native_batch_norm(training, rng):
    x = _r(rng, 4, 3, 5)
    w, b = _r(rng, 3), _r(rng, 3)
    stats = {}
    for m in (ember, torch):
        stats[m] = (m.tensor(rng.random(3)), m.tensor(rng.random(3) + 0.5))
    e_rm, e_rv = stats[ember]
    t_rm, t_rv = torch.tensor(e_rm.numpy()), torch.tensor(e_rv.numpy())

    def fn(m, t, ww, bb):
        rm, rv = (e_rm, e_rv) if m is ember else (t_rm, t_rv)
        return m.native_batch_norm(t, ww, bb, rm, rv, training, 0.1, 1e-5)

    check_op(fn, x, w, b)
    np.testing.assert_allclose(e_rm.numpy(), t_rm.numpy(), rtol=1e-6)
    np.testing.assert_allclose(e_rv.numpy(), t_rv.numpy(), rtol=1e-6)
    check_op(lambda m, t: m.native_batch_norm(t, None, None, None, None, True, 0.1, 1e-5), x)


def test_native_dropout(rng):
    x = _r(rng, 40, 30)
    for m in (ember, torch):
        m.manual_seed(0)
    e_x = ember.tensor(x, requires_grad=True)
    out, mask = ember.native_dropout(e_x, 0.3, True)
    t_out, t_mask = torch.native_dropout(torch.tensor(x, requires_grad=True), 0.3, True)
    assert type(out.grad_fn).__name__ == type(t_out.grad_fn).__name__ == "NativeDropoutBackward0"
    assert mask.dtype is ember.bool and mask.shape == t_mask.shape
    keep = mask.numpy()
    assert 0.6 < keep.mean() < 0.8
    np.testing.assert_allclose(out.detach().numpy(), np.where(keep, x / 0.7, 0.0), rtol=1e-12)
    g, = ember.autograd.grad(out.sum(), e_x)
    np.testing.assert_allclose(g.numpy(), np.where(keep, 1 / 0.7, 0.0), rtol=1e-12)
    for train in (False, None):
        e_out, e_mask = ember.native_dropout(e_x, 0.5, train)
        t_out, t_mask = torch.native_dropout(torch.tensor(x, requires_grad=True), 0.5, train)
        assert type(e_out.grad_fn).__name__ == type(t_out.grad_fn).__name__
        assert bool(e_mask.all()) == bool(t_mask.all())
        assert e_out is not e_x
    out, mask = ember.native_dropout(e_x, 1.0, True)
    assert not mask.numpy().any() and not out.detach().numpy().any()
    same_error(lambda m: m.native_dropout(m.ones(2), 1.5, True))
    check_gradcheck(lambda m, t: m.native_dropout(t, 0.0, True)[0], x[:3, :3])


def test_dropouts(rng):
    x = _r(rng, 4, 6, 5)
    for m in (ember, torch):
        t = m.tensor(x, requires_grad=True)
        assert m.feature_dropout(t, 0.5, False) is t
        assert m.alpha_dropout(t, 0.5, False) is t
        assert m.feature_alpha_dropout(t, 0.5, False) is t
    check_op(lambda m, t: m.feature_dropout(t * 1, 0.0, True), x)
    check_op(lambda m, t: m.dropout_(t * 1, 0.0, True), x)
    e = ember.feature_dropout(ember.tensor(x, requires_grad=True), 0.5, True)
    assert type(e.grad_fn).__name__ == type(
        torch.feature_dropout(torch.tensor(x, requires_grad=True), 0.5, True).grad_fn).__name__
    kept = e.detach().numpy()
    assert all(np.all(c == 0) or np.allclose(c, 2 * xc) for c, xc in
               zip(kept.reshape(24, 5), x.reshape(24, 5)))  # whole channels
    for name in ("dropout_", "feature_dropout_", "alpha_dropout_", "feature_alpha_dropout_"):
        outs = []
        for m in (ember, torch):
            t = m.tensor(x) * 1
            outs.append((getattr(m, name)(t, 0.5, True) is t, type(t.grad_fn).__name__))
        assert outs[0][0] and outs[1][0]
    e = ember.alpha_dropout(ember.tensor(x, requires_grad=True), 0.5, True)
    t = torch.alpha_dropout(torch.tensor(x, requires_grad=True), 0.5, True)
    assert type(e.grad_fn).__name__ == type(t.grad_fn).__name__
    same_error(lambda m: m.feature_dropout(m.ones(3), 0.5, True))


def test_inplace_activations(rng):
    x = _r(rng, 3, 4)
    check_op(lambda m, t: m.selu_(t * 1), x)
    check_op(lambda m, t: m.celu_(t * 1, 0.7), x)
    check_op(lambda m, t: m.threshold_(t * 1, 0.1, -2.0), x)
    for m in (ember, torch):
        t = m.tensor(x)
        assert m.selu_(t) is t


def test_cells(rng):
    N, I, H = 3, 4, 5
    x, h, c = _r(rng, N, I), _r(rng, N, H), _r(rng, N, H)
    for gates, fn in [
        (4, lambda m, a, hh, cc, wi, wh, bi, bh: m.lstm_cell(a, (hh, cc), wi, wh, bi, bh)),
        (4, lambda m, a, hh, cc, wi, wh, bi, bh: m.lstm_cell(a, [hh, cc], wi, wh)),
        (3, lambda m, a, hh, cc, wi, wh, bi, bh: m.gru_cell(a, hh, wi, wh, bi, bh)),
        (3, lambda m, a, hh, cc, wi, wh, bi, bh: m.gru_cell(a, hh, wi, wh)),
        (1, lambda m, a, hh, cc, wi, wh, bi, bh: m.rnn_tanh_cell(a, hh, wi, wh, bi, bh)),
        (1, lambda m, a, hh, cc, wi, wh, bi, bh: m.rnn_relu_cell(a, hh, wi, wh, bi, bh)),
    ]:
        w_ih, w_hh = _r(rng, gates * H, I) * 0.5, _r(rng, gates * H, H) * 0.5
        b_ih, b_hh = _r(rng, gates * H), _r(rng, gates * H)
        args = (x, h, c, w_ih, w_hh, b_ih, b_hh)
        check_op(fn, *args)
        check_gradcheck(fn, *args, second_order=False)


def test_embedding_renorm_(rng):
    w = rng.standard_normal((6, 3)) * 3
    idx = np.array([0, 2, 2, 5])
    for norm_type in (1.0, 2.0):
        e, t = ember.tensor(w), torch.tensor(w)
        assert ember.embedding_renorm_(e, ember.tensor(idx), 1.5, norm_type) is e
        torch.embedding_renorm_(t, torch.tensor(idx), 1.5, norm_type)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12)


# (with include_last_offset the last offset is len(indices): torch's kernels disagree with each
# other when it is not)
BAG_CASES = [([0, 4], False), ([0, 4, 4], False), ([0, 0, 3], False), ([0, 3, 8], True),
             ([0, 5, 8], True), ([0, 8], True), ([0], False)]


@pytest.mark.parametrize("offsets,last", BAG_CASES)
@pytest.mark.parametrize("mode", [0, 1, 2])
@pytest.mark.parametrize("pad", [None, 2, -1])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_bag(offsets, last, mode, pad, dtype, rng):
    smooth = rng.standard_normal((10, 3)).astype(dtype)
    w = smooth.copy()
    w[4, 1] = w[5, 1] = 5.0  # a tie: torch keeps the first row
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    off = np.array(offsets)
    check_op(lambda m, ww, i, o: m.embedding_bag(ww, i, o, False, mode, False, None, last, pad),
             w, idx, off)
    check_op(lambda m, ww, i, o: m.embedding_bag(ww, i, o, False, mode, False, None, last, pad),
             w, idx.astype(np.int32), off.astype(np.int32), grad=False)
    if mode == 0:
        psw = rng.random(8).astype(dtype)
        check_op(lambda m, ww, i, o, p: m.embedding_bag(ww, i, o, False, 0, False, p, last, pad),
                 w, idx, off, psw)
    if dtype == "float64" and pad is None:
        check_gradcheck(lambda m, ww: m.embedding_bag(ww, m.tensor(idx), m.tensor(off), False,
                                                      mode, False, None, last)[0],
                        smooth, second_order=False)


def test_embedding_bag_errors():
    w, i, o = np.ones((4, 2)), np.array([0, 1]), np.array([0])
    same_error(lambda m: m.embedding_bag(m.tensor(w), m.tensor(i), m.tensor(o), False, 3))
    same_error(lambda m: m.embedding_bag(m.tensor(w), m.tensor(i), m.tensor(o), False, 1, False,
                                         m.ones(2, dtype=m.float64)))


def test_functional_helpers():
    import torch.nn.functional as TF

    import ember.nn.functional as EF

    assert EF.GRID_SAMPLE_INTERPOLATION_MODES == TF.GRID_SAMPLE_INTERPOLATION_MODES
    assert EF.GRID_SAMPLE_PADDING_MODES == TF.GRID_SAMPLE_PADDING_MODES
    for n in ("BroadcastingList1", "BroadcastingList2", "BroadcastingList3"):
        assert getattr(EF, n)[int] is getattr(TF, n)[int] is None
    x = ember.ones(2)
    assert not (EF.has_torch_function((x,)) or EF.has_torch_function_unary(x)
                or EF.has_torch_function_variadic(x, 2))
    assert EF.handle_torch_function(EF.relu, (x,), -x).tolist() == [0.0, 0.0]
    for F_ in (EF, TF):
        f = F_.boolean_dispatch("flag", 1, False, lambda a, flag=False: ("T", a),
                                lambda a, flag=False: ("F", a), "mod", "fn")
        assert (f(1), f(1, True), f(1, flag=True), f.__name__, f.__module__) == (
            ("F", 1), ("T", 1), ("T", 1), "fn", "mod")
        assert F_.assert_int_or_pair(3, "k", "m") is None
        assert F_.assert_int_or_pair((1, 2), "k", "m") is None
    same_error(lambda m: m.nn.functional.assert_int_or_pair([1, 2, 3], "kernel", "bad {}"))


def test_factory_kwargs_and_common_types():
    import typing

    import torch.nn.common_types as tct

    import ember.nn.common_types as ect

    for kw in (None, {}, {"device": "cpu", "dtype": 1}, {"factory_kwargs": {"dtype": 1}},
               {"dtype": 1, "factory_kwargs": {"device": 2}},
               {"factory_kwargs": {"dtype": 1}, "device": 2, "memory_format": 3}):
        # (equal as dicts: torch's key order follows a set's, which varies with the hash seed)
        assert ember.nn.factory_kwargs(kw) == torch.nn.factory_kwargs(kw)
    same_error(lambda m: m.nn.factory_kwargs({"foo": 1}))
    same_error(lambda m: m.nn.factory_kwargs({"factory_kwargs": {"dtype": 1}, "dtype": 2}))
    names = [n for n in dir(tct) if n.startswith("_") and n.endswith("_t")]
    for n in names:
        e, t = getattr(ect, n), getattr(tct, n)
        assert typing.get_origin(e) is typing.get_origin(t), n
        assert str(e).replace("ember.tensor.", "torch.").replace("ember.", "torch.") == str(t), n


RNN_CASES = [  # (function, gates, layers, bidirectional, batch_first, biases, proj)
    ("lstm", 4, 1, False, False, True, 0), ("lstm", 4, 2, True, True, True, 0),
    ("lstm", 4, 1, False, True, False, 0), ("lstm", 4, 2, True, False, True, 3),
    ("gru", 3, 1, False, False, True, 0), ("gru", 3, 2, True, True, False, 0),
    ("rnn_tanh", 1, 2, False, True, True, 0), ("rnn_relu", 1, 1, True, False, True, 0),
]


@pytest.mark.parametrize("fname,gates,layers,bi,bf,biases,proj", RNN_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rnn_functions(fname, gates, layers, bi, bf, biases, proj, dtype, rng):
    T, N, I, H = 4, 2, 3, 5
    D = 2 if bi else 1
    out_h = proj or H
    params = []
    for layer in range(layers):
        width = I if layer == 0 else D * out_h
        for _ in range(D):
            params += [rng.standard_normal((gates * H, width)) * 0.4,
                       rng.standard_normal((gates * H, out_h)) * 0.4]
            if biases:
                params += [rng.standard_normal(gates * H) * 0.1,
                           rng.standard_normal(gates * H) * 0.1]
            if proj:
                params.append(rng.standard_normal((proj, H)) * 0.4)
    params = [p.astype(dtype) for p in params]
    x = rng.standard_normal((N, T, I) if bf else (T, N, I)).astype(dtype)
    h0 = rng.standard_normal((layers * D, N, out_h)).astype(dtype)
    c0 = rng.standard_normal((layers * D, N, H)).astype(dtype)

    def fn(m, xx, hh, cc, *ps):
        f = getattr(m, fname)
        hx = (hh, cc) if fname == "lstm" else hh
        return f(xx, hx, list(ps), biases, layers, 0.0, True, bi, bf)

    check_op(fn, x, h0, c0, *params, atol=1e-5 if dtype == "float64" else 1e-4)
    if dtype == "float64" and layers == 1:
        check_gradcheck(fn, x, h0, c0, *params, second_order=False)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rnn_function_errors(dtype):
    x, h = np.ones((4, 2, 3), dtype), np.zeros((1, 2, 5), dtype)
    w = [np.ones((20, 3), dtype), np.ones((20, 5), dtype), np.ones(20, dtype)]
    same_error(lambda m: m.lstm(m.tensor(x), (m.tensor(h), m.tensor(h)),
                                [m.tensor(a) for a in w], True, 1, 0.0, True, False, False))
    same_error(lambda m: m.lstm(m.tensor(x), (m.tensor(h),), [m.tensor(a) for a in w], True, 1,
                                0.0, True, False, False))
    same_error(lambda m: m.gru(m.tensor(x), m.tensor(h), [m.tensor(np.ones((15, 3)))], False, 1,
                               0.0, True, False, False))


@pytest.mark.parametrize("fname,gates", [("lstm", 4), ("gru", 3), ("rnn_tanh", 1)])
@pytest.mark.parametrize("bi", [False, True])
def test_rnn_functions_packed_form(fname, gates, bi, rng):
    T, N, I, H = 5, 3, 2, 4
    D = 2 if bi else 1
    lengths = [5, 3, 2]
    x = rng.standard_normal((T, N, I))
    params = []
    for _ in range(D):
        params += [rng.standard_normal((gates * H, I)) * 0.4,
                   rng.standard_normal((gates * H, H)) * 0.4,
                   rng.standard_normal(gates * H) * 0.1, rng.standard_normal(gates * H) * 0.1]
    h0, c0 = rng.standard_normal((D, N, H)), rng.standard_normal((D, N, H))

    def fn(m, xx, hh, cc, *ps):
        packed = m.nn.utils.rnn.pack_padded_sequence(xx, m.tensor(lengths))
        hx = (hh, cc) if fname == "lstm" else hh
        return getattr(m, fname)(packed.data, packed.batch_sizes, hx, list(ps), True, 1, 0.0,
                                 True, bi)

    check_op(fn, x, h0, c0, *params)
    check_gradcheck(fn, x, h0, c0, *params, second_order=False)
