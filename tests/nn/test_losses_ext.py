"""The losses of nn/functional_losses.py and nn/modules/loss_ext.py against torch: values,
gradients, grad_fn names for every reduction, errors, module reprs and state_dict keys;
gradcheck in float64."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()

_rng = np.random.default_rng(0)
X, Y = _rng.standard_normal((4, 5)), _rng.standard_normal((4, 5))
T = np.array([1.0, -1, 1, -1])
SIGN = np.sign(Y)
LABELS = np.array([[3, 0, -1, 1, 1], [1, 2, 3, 4, 0], [-1, 0, 0, 0, 0], [2, 2, -1, 0, 0]])
W5 = np.abs(_rng.standard_normal(5))
LP = np.log(np.random.default_rng(1).dirichlet(np.ones(5), size=(7, 3)))

CASES = [
    (lambda m, x, y, red: m.nn.functional.poisson_nll_loss(x, y, reduction=red),
     (X, np.abs(Y) * 3)),
    (lambda m, x, y, red: m.nn.functional.poisson_nll_loss(x, y, False, True, reduction=red),
     (np.abs(X) + .1, np.abs(Y) * 3)),
    (lambda m, x, y, v, red: m.nn.functional.gaussian_nll_loss(x, y, v, reduction=red),
     (X, Y, np.abs(Y) + .1)),
    (lambda m, x, y, v, red: m.nn.functional.gaussian_nll_loss(x, y, v, True, reduction=red),
     (X, Y, np.abs(Y[:, 0]) + .1)),
    (lambda m, x, y, v, red: m.nn.functional.gaussian_nll_loss(x, y, v, reduction=red),
     (X, Y, np.abs(Y[:, :1]) + 1e-8)),
    (lambda m, x, y, red: m.nn.functional.cosine_embedding_loss(x, y, m.tensor(T), 0.2,
                                                                reduction=red), (X, Y)),
    (lambda m, x, y, red: m.nn.functional.cosine_embedding_loss(x, y, m.tensor(-1.0),
                                                                reduction=red), (X[0], Y[0])),
    (lambda m, x, y, red: m.nn.functional.margin_ranking_loss(x, y, m.tensor(T), 0.3,
                                                              reduction=red), (X[:, 0], Y[:, 0])),
    (lambda m, x, y, z, red: m.nn.functional.triplet_margin_loss(x, y, z, reduction=red),
     (X, Y, Y * 2 + 1)),
    (lambda m, x, y, z, red: m.nn.functional.triplet_margin_loss(x, y, z, p=1.5, swap=True,
                                                                 reduction=red),
     (X, Y, X * 0.5 + Y * 0.3)),
    (lambda m, x, y, z, red: m.nn.functional.triplet_margin_with_distance_loss(
        x, y, z, reduction=red), (X, Y, Y * 2 + 1)),
    (lambda m, x, y, z, red: m.nn.functional.triplet_margin_with_distance_loss(
        x, y, z, distance_function=lambda a, b: 1 - m.nn.functional.cosine_similarity(a, b),
        swap=True, margin=0.5, reduction=red), (X, Y, Y * 2 + 1)),
    (lambda m, x, red: m.nn.functional.hinge_embedding_loss(x, m.tensor(SIGN), 0.5,
                                                            reduction=red), (X,)),
    (lambda m, x, red: m.nn.functional.soft_margin_loss(x, m.tensor(SIGN), reduction=red), (X,)),
    (lambda m, x, w, red: m.nn.functional.multilabel_soft_margin_loss(
        x, m.tensor((Y > 0) * 1.0), w, reduction=red), (X, W5)),
    (lambda m, x, red: m.nn.functional.multi_margin_loss(x, m.tensor([1, 0, 4, 4]),
                                                         reduction=red), (X,)),
    (lambda m, x, red: m.nn.functional.multi_margin_loss(
        x, m.tensor([1, 0, 4, 4]), p=2, margin=0.7, weight=m.tensor(W5), reduction=red), (X,)),
    (lambda m, x, red: m.nn.functional.multi_margin_loss(x, m.tensor(3), reduction=red), (X[0],)),
    (lambda m, x, red: m.nn.functional.multilabel_margin_loss(x, m.tensor(LABELS),
                                                              reduction=red), (X,)),
    (lambda m, x, red: m.nn.functional.multilabel_margin_loss(x, m.tensor(LABELS[0]),
                                                              reduction=red), (X[0],)),
    (lambda m, lp, red: m.nn.functional.ctc_loss(
        lp, m.tensor([[1, 2, 2], [3, 3, 0], [4, 1, 1]]), m.tensor([7, 6, 5]),
        m.tensor([3, 2, 1]), reduction=red), (LP,)),
    (lambda m, lp, red: m.nn.functional.ctc_loss(
        lp, m.tensor([1, 2, 2, 3, 3, 4]), (7, 6, 5), (3, 2, 1), reduction=red), (LP,)),
    (lambda m, lp, red: m.nn.functional.ctc_loss(
        lp, m.tensor([[1, 2, 2], [3, 3, 0], [4, 1, 1]]), m.tensor([7, 2, 5]),
        m.tensor([3, 2, 0]), reduction=red, zero_infinity=True), (LP,)),
    (lambda m, lp, red: m.nn.functional.ctc_loss(lp, m.tensor([1, 2, 3]), m.tensor(7),
                                                 m.tensor(3), reduction=red, blank=4),
     (LP[:, 0],)),
]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("i", range(len(CASES)))
def test_losses_match_torch(i, reduction):
    fn, args = CASES[i]
    check_op(lambda m, *a: fn(m, *a, reduction), *args, atol=1e-9, rtol=1e-7)


def test_losses_float32():
    x, y = X.astype(np.float32), Y.astype(np.float32)
    check_op(lambda m, x, y: m.nn.functional.triplet_margin_loss(x, y, y * 2), x, y)
    check_op(lambda m, x: m.nn.functional.multi_margin_loss(x, m.tensor([1, 0, 4, 4])), x)
    check_op(lambda m, x: m.nn.functional.soft_margin_loss(x, m.tensor(SIGN.astype("f4"))), x)
    check_op(lambda m, lp: m.nn.functional.ctc_loss(lp, m.tensor([[1, 2], [3, 3], [1, 1]]),
                                                    (7, 7, 7), (2, 2, 1)), LP.astype("f4"))


def test_legacy_size_average_and_reduce():
    for name in ("soft_margin_loss", "multilabel_margin_loss", "hinge_embedding_loss"):
        tgt = LABELS if name == "multilabel_margin_loss" else SIGN
        check_op(lambda m, x: getattr(m.nn.functional, name)(x, m.tensor(tgt),
                                                             size_average=False), X)


def test_gradcheck():
    t = ember.tensor(T)
    check_gradcheck(lambda m, x, y: m.nn.functional.poisson_nll_loss(x, y, False, True),
                    np.abs(X) + .5, np.abs(Y) * 3)
    check_gradcheck(lambda m, x, y, v: m.nn.functional.gaussian_nll_loss(x, y, v), X, Y,
                    np.abs(Y) + .5)
    check_gradcheck(lambda m, x, y: m.nn.functional.cosine_embedding_loss(x, y, t, 0.1), X, Y)
    check_gradcheck(lambda m, x, y: m.nn.functional.margin_ranking_loss(x, y, t, 0.3),
                    X[:, 0], Y[:, 0])
    check_gradcheck(lambda m, x, y, z: m.nn.functional.triplet_margin_loss(x, y, z, swap=True),
                    X, Y, Y * 2 + 1)
    check_gradcheck(lambda m, x: m.nn.functional.hinge_embedding_loss(x, m.tensor(SIGN)), X)
    check_gradcheck(lambda m, x: m.nn.functional.soft_margin_loss(x, m.tensor(SIGN)), X,
                    second_order=False)
    check_gradcheck(lambda m, x: m.nn.functional.multilabel_soft_margin_loss(
        x, m.tensor((Y > 0) * 1.0)), X)
    for p in (1, 2):
        check_gradcheck(lambda m, x: m.nn.functional.multi_margin_loss(
            x, m.tensor([1, 0, 4, 4]), p=p, weight=m.tensor(W5)), X, second_order=False)
    check_gradcheck(lambda m, x: m.nn.functional.multilabel_margin_loss(x, m.tensor(LABELS)), X,
                    second_order=False)
    # torch's CTC gradient is the gradient through a log_softmax: gradcheck it there
    logits = np.random.default_rng(2).standard_normal((6, 2, 4))
    check_gradcheck(lambda m, x: m.nn.functional.ctc_loss(
        x.log_softmax(2), m.tensor([[1, 2, 2], [3, 1, 0]]), (6, 5), (3, 2)), logits,
        second_order=False)


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.poisson_nll_loss(m.zeros(3), m.zeros(3), reduction="foo"),
    lambda m: m.nn.functional.gaussian_nll_loss(m.zeros(3), m.zeros(3), -m.ones(3)),
    lambda m: m.nn.functional.gaussian_nll_loss(m.zeros(3, 4), m.zeros(3, 4), m.ones(2)),
    lambda m: m.nn.functional.gaussian_nll_loss(m.zeros(3), m.zeros(3), m.ones(3),
                                                reduction="x"),
    lambda m: m.nn.functional.cosine_embedding_loss(m.zeros(3, 2), m.zeros(3, 2),
                                                    m.zeros(3, 1)),
    lambda m: m.nn.functional.cosine_embedding_loss(m.zeros(3, 2), m.zeros(2), m.zeros(3)),
    lambda m: m.nn.functional.margin_ranking_loss(m.zeros(3), m.zeros(3, 1), m.zeros(3)),
    lambda m: m.nn.functional.triplet_margin_loss(m.zeros(3), m.zeros(3), m.zeros(3),
                                                  margin=0),
    lambda m: m.nn.functional.triplet_margin_loss(m.zeros(3, 2), m.zeros(3), m.zeros(3)),
    lambda m: m.nn.functional.triplet_margin_with_distance_loss(
        m.zeros(3), m.zeros(3), m.zeros(3), reduction="bad"),
    lambda m: m.nn.functional.soft_margin_loss(m.zeros(3), m.zeros(3, requires_grad=True)),
    lambda m: m.nn.functional.multi_margin_loss(m.zeros(3, 4), m.tensor([0, 1, 2]), p=3),
    lambda m: m.nn.functional.multi_margin_loss(m.zeros(3, 4), m.tensor([0, 1, 2]),
                                                weight=m.ones(2, 2)),
    lambda m: m.nn.functional.multi_margin_loss(m.zeros(3, 4), m.tensor([0, 1, 2]),
                                                weight=m.ones(4, requires_grad=True)),
    lambda m: m.nn.functional.multilabel_soft_margin_loss(m.zeros(3, 4), m.zeros(3, 4),
                                                          reduction="x"),
    lambda m: m.nn.functional.ctc_loss(m.zeros(5, 2, 3), m.ones(2, 2, dtype=m.int64),
                                       (5, 5), (2, 2), reduction="x"),
    lambda m: m.nn.functional.ctc_loss(m.zeros(5, 2, 3), m.ones(2, 2, dtype=m.int64),
                                       (6, 5), (2, 2)),
    lambda m: m.nn.functional.ctc_loss(m.zeros(5, 2, 3), m.ones(2, 2, dtype=m.int64),
                                       (5, 5), (3, 2)),
    lambda m: m.nn.TripletMarginLoss(margin=0),
    lambda m: m.nn.TripletMarginWithDistanceLoss(margin=-1),
    lambda m: m.nn.MultiMarginLoss(p=3),
    lambda m: m.nn.MultiMarginLoss(weight=m.ones(2, 2)),
])
def test_errors_match_torch(call):
    same_error(call)


def test_modules_match_torch():
    w = np.abs(_rng.standard_normal(5)).astype(np.float32)
    cases = [
        ("PoissonNLLLoss", {}, (X, np.abs(Y))), ("PoissonNLLLoss", dict(full=True, eps=1e-3,
                                                                        log_input=False),
                                                 (np.abs(X) + 1, np.abs(Y) * 3)),
        ("GaussianNLLLoss", dict(full=True, eps=1e-3), (X, Y, np.abs(Y))),
        ("CosineEmbeddingLoss", dict(margin=0.1), (X, Y, T)),
        ("MarginRankingLoss", dict(margin=0.2, reduction="sum"), (X[:, 0], Y[:, 0], T)),
        ("TripletMarginLoss", dict(margin=0.5, p=1.0, swap=True), (X, Y, Y * 2)),
        ("TripletMarginWithDistanceLoss", dict(margin=0.5), (X, Y, Y * 2)),
        ("HingeEmbeddingLoss", dict(margin=0.5), (X, SIGN)),
        ("MultiLabelMarginLoss", {}, (X, LABELS)),
        ("MultiLabelSoftMarginLoss", {}, (X, (Y > 0) * 1.0)),
        ("MultiMarginLoss", dict(p=2, margin=0.5), (X, np.array([1, 0, 4, 4]))),
        ("SoftMarginLoss", dict(reduction="none"), (X, SIGN)),
    ]
    for name, kw, args in cases:
        em, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(em) == repr(tm)
        assert list(em.state_dict()) == list(tm.state_dict())
        ye = em(*[ember.tensor(a) for a in args])
        yt = tm(*[torch.tensor(a) for a in args])
        np.testing.assert_allclose(ye.numpy(), yt.numpy(), rtol=1e-7)
    for name, kw in (("MultiMarginLoss", dict(weight=w)),
                     ("MultiLabelSoftMarginLoss", dict(weight=w))):
        em = getattr(nn, name)(**{k: ember.tensor(v) for k, v in kw.items()})
        tm = getattr(torch.nn, name)(**{k: torch.tensor(v) for k, v in kw.items()})
        assert list(em.state_dict()) == list(tm.state_dict()) == ["weight"]
    em, tm = nn.CTCLoss(blank=4, zero_infinity=True), torch.nn.CTCLoss(blank=4, zero_infinity=True)
    assert repr(em) == repr(tm)
    args = ([[1, 2, 2], [3, 3, 0], [0, 1, 1]], [7, 6, 2], [3, 2, 3])
    np.testing.assert_allclose(em(ember.tensor(LP), *[ember.tensor(a) for a in args]).numpy(),
                               tm(torch.tensor(LP), *[torch.tensor(a) for a in args]).numpy())


def test_ctc_is_vectorised_over_batch(monkeypatch):
    """One recursion step per time step, whatever the batch (counted, not timed)."""
    from ember.ops import loss_ext

    steps = [0]
    lse = loss_ext._logsumexp3

    def counted(*a):
        steps[0] += 1
        return lse(*a)

    monkeypatch.setattr(loss_ext, "_logsumexp3", counted)
    for n in (1, 64):
        steps[0] = 0
        lp = ember.tensor(np.log(np.random.default_rng(3).dirichlet(np.ones(20),
                                                                    size=(50, n))),
                          requires_grad=True)
        tg = ember.tensor(np.random.default_rng(4).integers(1, 20, (n, 10)))
        nn.functional.ctc_loss(lp, tg, [50] * n, [10] * n).backward()
        assert steps[0] == 2 * 49  # alpha and beta: T - 1 steps each
