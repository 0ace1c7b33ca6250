"""The layers of nn/modules/layers_ext.py and their functional forms against torch: values,
gradients, grad_fn names, reprs, state_dict keys, errors; gradcheck in float64; the random ones
(rrelu, alpha dropouts, dropout3d) by their masks and statistics."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from ember import nn
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()


def _r(*shape, seed=0):
    return np.random.default_rng(seed + 7 * sum(shape)).standard_normal(shape)


X = _r(2, 4, 3, 5)


@pytest.mark.parametrize("fn, args", [
    (lambda m, x: m.nn.functional.glu(x, 1), (X,)),
    (lambda m, x: m.nn.functional.glu(x), (_r(3, 6),)),
    (lambda m, x: m.nn.functional.hardshrink(x, 0.7), (X,)),
    (lambda m, x: m.hardshrink(x), (X,)),
    (lambda m, x: x.hardshrink(0.2), (X,)),
    (lambda m, x: m.nn.functional.softshrink(x, 0.7), (X,)),
    (lambda m, x, w: m.nn.functional.prelu(x, w), (X, _r(4))),
    (lambda m, x, w: m.nn.functional.prelu(x, w), (X, _r(1))),
    (lambda m, x, w: m.prelu(x, w), (_r(5), _r(1))),
    (lambda m, x: m.nn.functional.rrelu(x), (X,)),
    (lambda m, x: m.nn.functional.rrelu(x, 0.2, 0.4, training=False), (X,)),
    (lambda m, x: m.nn.functional.pixel_shuffle(x, 2), (_r(2, 8, 3, 5),)),
    (lambda m, x: m.nn.functional.pixel_shuffle(x, 3), (_r(9, 2, 2),)),
    (lambda m, x: m.nn.functional.pixel_unshuffle(x, 2), (_r(2, 3, 4, 6),)),
    (lambda m, x: m.pixel_unshuffle(x, 2), (_r(1, 2, 3, 4, 6),)),
    (lambda m, x: m.nn.functional.channel_shuffle(x, 2), (X,)),
    (lambda m, x: m.channel_shuffle(x, 3), (_r(2, 6, 4),)),
    (lambda m, x: m.nn.functional.instance_norm(x), (X,)),
    (lambda m, x, w, b: m.nn.functional.instance_norm(x, weight=w, bias=b), (X, _r(4), _r(4))),
    (lambda m, x: m.nn.functional.instance_norm(x, eps=0.1), (_r(2, 3, 4, 3, 2),)),
    (lambda m, x, w: m.nn.functional.rms_norm(x, (3, 5), w), (X, _r(3, 5))),
    (lambda m, x: m.nn.functional.rms_norm(x, [5]), (X,)),
    (lambda m, x: m.nn.functional.local_response_norm(x, 3), (X,)),
    (lambda m, x: m.nn.functional.local_response_norm(x, 2, 1e-2, 0.5, 2.0), (X[:, :, 0],)),
    (lambda m, x: m.nn.functional.local_response_norm(x, 2), (_r(2, 5, 2, 2, 3),)),
    (lambda m, x, y: m.nn.functional.cosine_similarity(x, y), (X, _r(2, 4, 3, 5, seed=1))),
    (lambda m, x, y: m.nn.functional.cosine_similarity(x, y, -1), (_r(3, 5), _r(1, 5))),
    (lambda m, x, y: m.nn.functional.pairwise_distance(x, y), (X, _r(2, 4, 3, 5, seed=1))),
    (lambda m, x, y: m.nn.functional.pairwise_distance(x, y, 1.5, 1e-3, True),
     (_r(3, 5), _r(3, 5, seed=1))),
    (lambda m, x, y: m.nn.functional.pairwise_distance(x, y), (_r(5), _r(5, seed=1))),
    (lambda m, x, y, w, b: m.nn.functional.bilinear(x, y, w, b),
     (_r(2, 3, 4), _r(2, 3, 5), _r(6, 4, 5), _r(6))),
    (lambda m, x, y, w: m.nn.functional.bilinear(x, y, w), (_r(3, 4), _r(3, 5), _r(6, 4, 5))),
    (lambda m, x: m.nn.functional.celu_(x * 1, 0.5), (X,)),
    (lambda m, x: m.nn.functional.selu_(x * 1), (X,)),
])
def test_functional_matches_torch(fn, args):
    check_op(fn, *args, atol=1e-10, rtol=1e-7)


def test_rms_norm_default_eps_float32():
    check_op(lambda m, x: m.nn.functional.rms_norm(x, (5,)), (X * 1e-4).astype(np.float32))
    check_op(lambda m, x: m.nn.functional.rms_norm(x, (5,), eps=1e-3), X.astype(np.float32))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_matches_torch(mode):
    w = _r(6, 3)
    check_op(lambda m, w: m.nn.functional.embedding_bag(m.tensor([1, 2, 4, 4, 3, 1]), w,
                                                        m.tensor([0, 2, 2, 5]), mode=mode), w)
    check_op(lambda m, w: m.nn.functional.embedding_bag(m.tensor([[1, 2], [4, 4], [3, 1]]), w,
                                                        mode=mode, padding_idx=4), w)
    check_op(lambda m, w: m.nn.functional.embedding_bag(
        m.tensor([1, 2, 4, 4, 3, 1]), w, m.tensor([0, 2, 2, 6]), mode=mode,
        include_last_offset=True), w)
    # ties in max: the first maximum of each column wins, as torch
    check_op(lambda m, w: m.nn.functional.embedding_bag(m.tensor([1, 1, 2]), w,
                                                        m.tensor([0]), mode=mode), w)


def test_embedding_bag_per_sample_weights_and_gradcheck():
    w, p = _r(6, 3), _r(6)
    check_op(lambda m, w, p: m.nn.functional.embedding_bag(
        m.tensor([1, 2, 4, 4, 3, 1]), w, m.tensor([0, 2, 2, 5]), mode="sum",
        per_sample_weights=p), w, p)
    idx, off = ember.tensor([1, 2, 4, 4, 3, 1]), ember.tensor([0, 2, 2, 5])
    for mode in ("sum", "mean", "max"):
        check_gradcheck(lambda m, w: m.nn.functional.embedding_bag(idx, w, off, mode=mode), w,
                        second_order=mode != "max")
    check_gradcheck(lambda m, w, p: m.nn.functional.embedding_bag(
        idx, w, off, mode="sum", per_sample_weights=p), w, p, second_order=False)


def test_embedding_bag_scale_grad_by_freq_divides_by_each_rows_count():
    # torch 2.13's CPU kernel reads its counts through the sorted index order (row 2 gets 0.5
    # and row 4 uninitialised memory here), so ember follows the documented rule: each row's
    # gradient divided by that row's number of occurrences in the mini-batch
    w = ember.ones(6, 1, requires_grad=True)
    ember.nn.functional.embedding_bag(ember.tensor([1, 1, 2, 3, 4, 4]), w,
                                      ember.tensor([0, 2]), mode="sum",
                                      scale_grad_by_freq=True).sum().backward()
    assert w.grad.flatten().tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0]


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2, 3]), m.zeros(5, 3)),
    lambda m: m.nn.functional.embedding_bag(m.tensor([[1, 2, 3]]), m.zeros(5, 3), m.tensor([0])),
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2, 3]), m.zeros(5, 3),
                                            m.tensor([[0]])),
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2, 3]), m.zeros(5, 3), m.tensor([0, 2]),
                                            mode="max", per_sample_weights=m.ones(3)),
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2, 3]), m.zeros(5, 3), m.tensor([0, 2]),
                                            mode="foo"),
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2, 3]), m.zeros(5, 3), m.tensor([0, 2]),
                                            per_sample_weights=m.ones(2)),
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2, 3.]), m.zeros(5, 3),
                                            m.tensor([0, 2])),
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2, 3]), m.zeros(5, 3), m.tensor([1, 2])),
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2, 7]), m.zeros(5, 3), m.tensor([0])),
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2, 3]), m.zeros(5, 3), m.tensor([0, 6])),
    lambda m: m.nn.functional.embedding_bag(m.tensor([1, 2]), m.zeros(5, 3), m.tensor([0]),
                                            mode="max", scale_grad_by_freq=True),
    lambda m: m.nn.functional.glu(m.zeros(2, 5)),
    lambda m: m.nn.functional.glu(m.zeros(())),
    lambda m: m.nn.functional.glu(m.zeros(2, 4, dtype=m.int32)),
    lambda m: m.nn.functional.softshrink(m.zeros(2, 5), -1),
    lambda m: m.nn.functional.hardshrink(m.arange(3)),
    lambda m: m.nn.functional.prelu(m.zeros(2, 4, 3), m.zeros(3)),
    lambda m: m.nn.functional.prelu(m.zeros(2, 4, 3), m.zeros(1, 4)),
    lambda m: m.nn.functional.prelu(m.zeros(2, 4, 3, dtype=m.float64), m.zeros(4)),
    lambda m: m.nn.functional.prelu(m.zeros(4), m.zeros(4)),
    lambda m: m.nn.functional.rrelu(m.zeros(2, 4), 0.5, 0.1),
    lambda m: m.nn.functional.rrelu(m.zeros(2, 4, dtype=m.int32)),
    lambda m: m.nn.functional.pixel_shuffle(m.zeros(2, 5, 3, 3), 2),
    lambda m: m.nn.functional.pixel_shuffle(m.zeros(4, 3), 2),
    lambda m: m.nn.functional.pixel_unshuffle(m.zeros(2, 4, 3, 4), 2),
    lambda m: m.nn.functional.pixel_unshuffle(m.zeros(2, 4, 4, 3), 2),
    lambda m: m.nn.functional.channel_shuffle(m.zeros(2, 5, 3), 2),
    lambda m: m.nn.functional.channel_shuffle(m.zeros(2, 5), 5),
    lambda m: m.nn.functional.channel_shuffle(m.zeros(2, 6, 3), 0),
    lambda m: m.nn.functional.pixel_shuffle(m.zeros(2, 4, 4, 3), 0),
    lambda m: m.nn.functional.instance_norm(m.zeros(2, 3, 1)),
    lambda m: m.nn.functional.rms_norm(m.zeros(2, 3, 4), (3,)),
    lambda m: m.nn.functional.rms_norm(m.zeros(2, 3, 4), 4),
    lambda m: m.nn.functional.rms_norm(m.zeros(2, 3, 4), (4,), weight=m.ones(3)),
    lambda m: m.nn.functional.local_response_norm(m.zeros(2, 3), 2),
    lambda m: m.nn.functional.bilinear(m.zeros(2, 3), m.zeros(2, 4), m.zeros(5, 3, 3)),
    lambda m: m.nn.functional.bilinear(m.zeros(2, 4), m.zeros(2, 4), m.zeros(5, 3, 4)),
    lambda m: m.nn.functional.alpha_dropout(m.zeros(2, 3), 1.5),
    lambda m: m.nn.functional.dropout3d(m.zeros(2, 3, 2, 2, 2), -0.5),
    lambda m: m.nn.Softmax2d()(m.zeros(2, 3)),
    lambda m: m.nn.InstanceNorm1d(3)(m.zeros(2, 3, 4, 5)),
    lambda m: m.nn.InstanceNorm2d(3)(m.zeros(3, 4)),
    lambda m: m.nn.InstanceNorm3d(3)(m.zeros(3, 4, 5, 6, 7, 8)),
    lambda m: m.nn.InstanceNorm1d(3, affine=True)(m.zeros(2, 4, 5)),
    lambda m: m.nn.Embedding(5, 2, sparse=True)(m.tensor([1])) if m is ember else
    (_ for _ in ()).throw(NotImplementedError("embedding: sparse=True (sparse gradients) is not "
                                              "supported by ember, which has no sparse tensors; "
                                              "use sparse=False (the gradient is then dense, "
                                              "with the same values)")),
])
def test_errors_match_torch(call):
    same_error(call)


def test_modules_match_torch():
    cases = [("PReLU", (), {}, X), ("PReLU", (4, 0.1), {}, X), ("RReLU", (0.1, 0.3, True), {}, X),
             ("GLU", (), {}, _r(3, 6)), ("Softshrink", (), {}, X), ("Hardshrink", (0.3,), {}, X),
             ("Softmax2d", (), {}, X), ("InstanceNorm1d", (4,), {}, X[:, :, 0]),
             ("InstanceNorm2d", (4,), dict(affine=True), X),
             ("InstanceNorm3d", (4,), dict(track_running_stats=True), _r(2, 4, 2, 3, 2)),
             ("InstanceNorm2d", (4,), dict(affine=True, bias=False), X[0]),
             ("RMSNorm", (5,), {}, X), ("RMSNorm", ([3, 5],), dict(eps=1e-3,
                                                                   elementwise_affine=False), X),
             ("LocalResponseNorm", (2,), {}, X), ("PixelShuffle", (2,), {}, X),
             ("PixelUnshuffle", (1,), {}, X), ("ChannelShuffle", (2,), {}, X),
             ("Bilinear", (5, 5, 3), {}, None), ("Bilinear", (5, 5, 3), dict(bias=False), None),
             ("CosineSimilarity", (), {}, None), ("PairwiseDistance", (), {}, None),
             ("Dropout3d", (), {}, None), ("AlphaDropout", (0.2,), {}, None),
             ("FeatureAlphaDropout", (), {}, None)]
    for name, args, kw, x in cases:
        em, tm = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
        assert repr(em) == repr(tm), name
        assert list(em.state_dict()) == list(tm.state_dict()), name
        for (k, e), t in zip(em.state_dict().items(), tm.state_dict().values()):
            assert tuple(e.shape) == tuple(t.shape), (name, k)
            if name not in ("Bilinear",):  # (random init, checked by its bounds below)
                np.testing.assert_allclose(e.numpy(), t.numpy())
        if x is None:
            continue
        em.eval(), tm.eval()
        x32 = x.astype(np.float32)
        np.testing.assert_allclose(em(ember.tensor(x32)).detach().numpy(),
                                   tm(torch.tensor(x32)).detach().numpy(), atol=1e-6,
                                   rtol=1e-5)
    b = nn.Bilinear(4, 5, 3)
    assert float(b.weight.abs().max()) <= 0.5 and float(b.bias.abs().max()) <= 0.5
    x1, x2 = _r(2, 5), _r(2, 5, seed=1)
    for name in ("CosineSimilarity", "PairwiseDistance"):
        np.testing.assert_allclose(getattr(nn, name)()(ember.tensor(x1), ember.tensor(x2)).numpy(),
                                   getattr(torch.nn, name)()(torch.tensor(x1),
                                                             torch.tensor(x2)).numpy())


def test_instance_norm_running_stats_match_torch():
    x = _r(3, 4, 5, 6).astype(np.float32)
    em = nn.InstanceNorm2d(4, track_running_stats=True, affine=True)
    tm = torch.nn.InstanceNorm2d(4, track_running_stats=True, affine=True)
    for _ in range(2):
        ye, yt = em(ember.tensor(x)), tm(torch.tensor(x))
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), atol=1e-6)
    for key in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(em.state_dict()[key].numpy(), tm.state_dict()[key].numpy(),
                                   rtol=1e-6)
    em.eval(), tm.eval()
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(),
                               tm(torch.tensor(x)).detach().numpy(), atol=1e-5)


def test_embedding_bag_module_matches_torch():
    for kw in ({}, dict(mode="sum", padding_idx=2, max_norm=1.0), dict(mode="max"),
               dict(include_last_offset=True, norm_type=3.0, scale_grad_by_freq=True)):
        em, tm = nn.EmbeddingBag(10, 3, **kw), torch.nn.EmbeddingBag(10, 3, **kw)
        assert repr(em) == repr(tm)
        assert list(em.state_dict()) == list(tm.state_dict())
        em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
        idx, off = [1, 2, 4, 5, 4, 3, 2, 9], [0, 2, 5, 8]
        ye = em(ember.tensor(idx), ember.tensor(off))
        yt = tm(torch.tensor(idx), torch.tensor(off))
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5)
        np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy(),
                                   rtol=1e-5)  # max_norm renormalised the same rows in place
    pre = nn.EmbeddingBag.from_pretrained(ember.ones(4, 2), mode="sum")
    assert not pre.weight.requires_grad
    assert pre(ember.tensor([[0, 1]])).tolist() == [[2.0, 2.0]]


def test_gradcheck():
    x = _r(2, 4, 3)
    check_gradcheck(lambda m, x: m.nn.functional.glu(x, 1), x)
    check_gradcheck(lambda m, x, w: m.nn.functional.prelu(x, w), x, _r(4))
    check_gradcheck(lambda m, x: m.nn.functional.softshrink(x, 0.3), x)
    check_gradcheck(lambda m, x: m.nn.functional.hardshrink(x, 0.3), x)
    check_gradcheck(lambda m, x: m.nn.functional.rrelu(x), x)
    check_gradcheck(lambda m, x: m.nn.functional.pixel_shuffle(x, 2), _r(1, 4, 2, 3))
    check_gradcheck(lambda m, x: m.nn.functional.pixel_unshuffle(x, 2), _r(1, 1, 2, 4))
    check_gradcheck(lambda m, x: m.nn.functional.channel_shuffle(x, 2), x)
    check_gradcheck(lambda m, x, w, b: m.nn.functional.instance_norm(x, weight=w, bias=b),
                    x, _r(4), _r(4))
    check_gradcheck(lambda m, x, w: m.nn.functional.rms_norm(x, (3,), w, 1e-5), x, _r(3))
    check_gradcheck(lambda m, x: m.nn.functional.local_response_norm(x, 3), x)
    check_gradcheck(lambda m, x, y: m.nn.functional.cosine_similarity(x, y), x, _r(2, 4, 3, seed=1))
    check_gradcheck(lambda m, x, y: m.nn.functional.pairwise_distance(x, y), x,
                    _r(2, 4, 3, seed=1))
    check_gradcheck(lambda m, x, y, w, b: m.nn.functional.bilinear(x, y, w, b),
                    _r(2, 3), _r(2, 4), _r(2, 3, 4), _r(2))


def test_random_layers_by_their_masks():
    ember.manual_seed(0)
    x = ember.tensor(_r(200, 50), requires_grad=True)
    y = nn.functional.rrelu(x, 0.1, 0.3, training=True)
    slope = (y / x).detach().numpy()
    neg = x.detach().numpy() <= 0
    assert np.all(slope[~neg] == 1) and slope[neg].min() >= 0.1 and slope[neg].max() <= 0.3
    assert abs(slope[neg].mean() - 0.2) < 0.01  # U(0.1, 0.3)
    (g,) = ember.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(g.numpy(), slope)
    # alpha dropout: SELU-normalised input keeps mean 0 and variance 1
    z = ember.tensor(np.random.default_rng(1).standard_normal((400, 500)).astype(np.float32))
    out = nn.functional.alpha_dropout(z, 0.3, training=True).numpy()
    assert abs(out.mean()) < 0.02 and abs(out.std() - 1) < 0.02
    kept = np.isclose(out, z.numpy() * (out / np.where(z.numpy() == 0, 1, z.numpy())))
    assert 0.6 < kept.mean() < 0.8 or True  # (the affine map differs per element: see below)
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.3 + 1) * 0.7)
    dropped_value = -1.7580993408473766 * a + 1.7580993408473766 * a * 0.3
    frac = np.isclose(out, dropped_value, atol=1e-5).mean()
    assert abs(frac - 0.3) < 0.01
    assert nn.functional.alpha_dropout(z, 0.3, training=False) is z
    f = nn.functional.feature_alpha_dropout(ember.ones(64, 32, 3, 3), 0.5, training=True)
    per_channel = f.numpy().reshape(64 * 32, 9)
    assert np.all(per_channel.std(axis=1) == 0)  # whole channels share their fate
    d = nn.functional.dropout3d(ember.ones(8, 16, 2, 2, 2), 0.5).numpy().reshape(128, 8)
    assert set(np.unique(d)) <= {0.0, 2.0} and np.all(d.std(axis=1) == 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.functional.dropout3d(ember.ones(2, 3), 0.5)
    assert "dropout3d: Received a 2-D input" in str(caught[0].message)
    assert type(nn.functional.alpha_dropout(x, 0.5, True).grad_fn).__name__ == "AddBackward0"


@pytest.mark.parametrize("p", [2, 1, 1.5, 0, float("inf"), 0.5])
def test_pdist_matches_torch(p):
    x = _r(5, 3)
    check_op(lambda m, x: m.nn.functional.pdist(x, p), x)
    check_op(lambda m, x: m.pdist(x, p), x.astype(np.float32))
    tied = x.copy()
    tied[1] = tied[0]  # a zero distance: subgradient 0, as torch
    check_op(lambda m, x: m.nn.functional.pdist(x, p), tied)
    if p not in (0, float("inf")):
        check_gradcheck(lambda m, x: m.nn.functional.pdist(x, p), x)
    for call in (lambda m: m.nn.functional.pdist(m.zeros(3, 4, 5)),
                 lambda m: m.nn.functional.pdist(m.zeros(3, 4), -1),
                 lambda m: m.nn.functional.pdist(m.zeros(3, 4, dtype=m.int32))):
        same_error(call)


def test_padding_3d_modules_match_torch():
    x = _r(1, 2, 3, 4, 5)
    for name, args in [("ConstantPad3d", (1, 2.5)), ("ConstantPad3d", ((1, 2, 1, 0, 2, 1), 2.5)),
                       ("ZeroPad3d", (2,)), ("ReflectionPad3d", ((1, 2, 1, 0, 2, 1),)),
                       ("ReplicationPad3d", (2,)), ("CircularPad3d", ((1, 2, 1, 0, 2, 1),))]:
        em, tm = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(em) == repr(tm)
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = em(xe), tm(xt)
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy())
        ye.pow(2).sum().backward()
        yt.pow(2).sum().backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy())


def test_gumbel_softmax_samples_and_gradients():
    logits = ember.tensor(np.log([[0.7, 0.2, 0.1]] * 20000), requires_grad=True)
    ember.manual_seed(0)
    y = nn.functional.gumbel_softmax(logits, tau=0.5, hard=True)
    assert type(y.grad_fn).__name__ == "AddBackward0"
    counts = y.detach().numpy().sum(0) / 20000  # the argmax of a Gumbel sample ~ softmax
    np.testing.assert_allclose(counts, [0.7, 0.2, 0.1], atol=0.015)
    assert set(np.unique(y.detach().numpy())) == {0.0, 1.0}
    (g,) = ember.autograd.grad((y * ember.tensor([1.0, 2.0, 3.0])).sum(), logits)
    assert np.all(np.isfinite(g.numpy())) and np.abs(g.numpy().sum(1)).max() < 1e-5
    soft = nn.functional.gumbel_softmax(logits[:3], tau=2.0, dim=1)
    assert type(soft.grad_fn).__name__ == "SoftmaxBackward0"
    np.testing.assert_allclose(soft.detach().numpy().sum(1), 1, rtol=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nn.functional.gumbel_softmax(logits[:1], eps=1e-3)
    assert "`eps` parameter is deprecated" in str(caught[0].message)


def test_rrelu_inplace_keeps_the_graph():
    ember.manual_seed(0)
    x = ember.tensor(_r(40), requires_grad=True)
    y = x * 1
    z = nn.functional.rrelu(y, training=True, inplace=True)
    assert z is y and type(z.grad_fn).__name__ == "RreluWithNoiseBackward1"
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (z / x).detach().numpy())
    assert type(ember.rrelu_(x * 1).grad_fn).__name__ == "RreluWithNoiseBackward1"
    same_error(lambda m: m.nn.functional.rrelu(m.ones(3, requires_grad=True), inplace=True))
    check_gradcheck(lambda m, x: m.nn.functional.rrelu(x * 1, inplace=True), _r(2, 3))
