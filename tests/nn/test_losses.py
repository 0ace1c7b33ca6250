"""Losses against torch, functional and module: values, gradients (input and target), grad_fn
names, every reduction, float32/float64, double backward, warnings, errors and reprs."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import functional as F
from helpers import check_gradcheck, check_op, torch_or_skip

_TOL = {np.float64: dict(atol=1e-10, rtol=1e-10), np.float32: dict(atol=1e-5, rtol=1e-4)}
_REDUCTIONS = ["mean", "sum", "none"]


def _rng(seed=0):
    return np.random.default_rng(seed)


class _Const:
    """A non-array argument that check_op passes through, made into each library's tensor."""

    def __init__(self, array):
        self.array = array

    def __call__(self, m):
        return m.tensor(self.array)


# -- cross entropy and nll ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", _REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3), (2, 4, 3, 2), (4,)])
def test_cross_entropy_class_indices_match_torch(shape, reduction, dtype):
    rng = _rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    c = shape[1] if len(shape) > 1 else shape[0]
    tshape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = _Const(rng.integers(0, c, tshape))
    w = _Const(rng.random(c).astype(dtype) + 0.5)
    check_op(lambda m, x: m.nn.functional.cross_entropy(x, t(m), reduction=reduction), x,
             **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.cross_entropy(x, t(m), w(m), reduction=reduction), x,
             **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.cross_entropy(x, t(m), w(m), reduction=reduction,
                                                        label_smoothing=0.2), x, **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.nll_loss(x, t(m), w(m), reduction=reduction), x,
             **_TOL[dtype])


@pytest.mark.parametrize("reduction", _REDUCTIONS)
def test_cross_entropy_ignore_index_matches_torch(reduction):
    x = _rng(2).standard_normal((6, 5))
    t = _Const(np.array([1, -100, 3, 0, -100, 4]))
    t2 = _Const(np.array([1, 2, 3, 0, 2, 4]))
    w = _Const(np.array([0.5, 1.0, 2.0, 1.5, 0.2]))
    for target, kwargs in [(t, {}), (t2, dict(ignore_index=2)), (t, dict(label_smoothing=0.3))]:
        check_op(lambda m, x: m.nn.functional.cross_entropy(x, target(m), reduction=reduction,
                                                            **kwargs), x)
        check_op(lambda m, x: m.nn.functional.cross_entropy(x, target(m), w(m),
                                                            reduction=reduction, **kwargs), x)
    # everything ignored: mean is 0/0 = nan, as in torch
    none = _Const(np.full(3, -100))
    check_op(lambda m, x: m.nn.functional.cross_entropy(x, none(m), reduction=reduction), x[:3])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", _REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3, 2), (4,)])
def test_cross_entropy_probabilities_match_torch(shape, reduction, dtype):
    rng = _rng(3)
    x = rng.standard_normal(shape).astype(dtype)
    dim = 1 if len(shape) > 1 else 0
    p = rng.random(shape).astype(dtype)
    p /= p.sum(axis=dim, keepdims=True)
    c = shape[dim]
    w = _Const(rng.random(c).astype(dtype) + 0.5)
    check_op(lambda m, x, p: m.nn.functional.cross_entropy(x, p, reduction=reduction), x, p,
             **_TOL[dtype])
    check_op(lambda m, x, p: m.nn.functional.cross_entropy(x, p, w(m), reduction=reduction,
                                                           label_smoothing=0.1), x, p,
             **_TOL[dtype])


def test_loss_gradcheck_and_gradgradcheck():
    rng = _rng(4)
    x = rng.standard_normal((3, 4))
    t = ember.tensor([0, 3, -100])
    w = ember.tensor(rng.random(4) + 0.5)
    check_gradcheck(lambda m, x: m.nn.functional.cross_entropy(x, t, w), x)
    check_gradcheck(lambda m, x: m.nn.functional.cross_entropy(x, t, label_smoothing=0.2,
                                                               reduction="none"), x)
    check_gradcheck(lambda m, x: m.nn.functional.nll_loss(x, t, reduction="sum"), x)
    p = rng.random((3, 4))
    check_gradcheck(lambda m, x, p: m.nn.functional.cross_entropy(x, p), x, p)
    y = rng.standard_normal((3, 4))
    for reduction in _REDUCTIONS:
        check_gradcheck(lambda m, a, b: m.nn.functional.mse_loss(a, b, reduction=reduction), x, y)
        check_gradcheck(lambda m, a, b: m.nn.functional.smooth_l1_loss(a, b, reduction=reduction,
                                                                       beta=0.7), x, y)
        check_gradcheck(lambda m, a, b: m.nn.functional.huber_loss(a, b, reduction=reduction,
                                                                   delta=0.8), x, y)
        check_gradcheck(lambda m, a, b: m.nn.functional.binary_cross_entropy_with_logits(
            a, b, reduction=reduction, pos_weight=m.tensor([1.0, 2.0, 0.5, 3.0],
                                                           dtype=m.float64)), x, p)
    probs = rng.random((3, 4)) * 0.8 + 0.1
    check_gradcheck(lambda m, a, b: m.nn.functional.binary_cross_entropy(a, b), probs, p)
    check_gradcheck(lambda m, a, b: m.nn.functional.l1_loss(a, b), x, y, second_order=False)
    check_gradcheck(lambda m, a, b: m.nn.functional.kl_div(a, b, reduction="batchmean"), x, p)


# -- regression losses ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", _REDUCTIONS)
def test_regression_losses_match_torch(reduction, dtype):
    rng = _rng(5)
    a, b = (rng.standard_normal((4, 5)) * 2).astype(dtype), rng.standard_normal((4, 5)).astype(
        dtype)
    w = _Const(rng.random((4, 5)).astype(dtype))
    for name, kwargs in [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                         ("smooth_l1_loss", dict(beta=0.5)), ("smooth_l1_loss", dict(beta=0.0)),
                         ("huber_loss", {}), ("huber_loss", dict(delta=0.3))]:
        check_op(lambda m, a, b: getattr(m.nn.functional, name)(a, b, reduction=reduction,
                                                                 **kwargs), a, b, **_TOL[dtype])
    for name in ("mse_loss", "l1_loss", "huber_loss"):  # torch 2.13's per-element weight
        check_op(lambda m, a, b: getattr(m.nn.functional, name)(a, b, reduction=reduction,
                                                                 weight=w(m)), a, b,
                 **_TOL[dtype])


def test_mse_broadcast_warns_like_torch():
    torch = torch_or_skip()
    a, b = _rng(6).standard_normal((4, 5)), _rng(7).standard_normal((4, 1))
    messages = []
    for lib in (ember, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.functional.mse_loss(lib.tensor(a), lib.tensor(b))
        messages.append(str(caught[0].message).replace("torch.", "ember."))
    assert messages[0] == messages[1]
    assert "Using a target size (ember.Size([4, 1])) that is different to the input size" in \
        messages[0]
    check_op(lambda m, a, b: m.nn.functional.mse_loss(a, b), a, b)


# -- binary cross entropy -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", _REDUCTIONS)
def test_bce_matches_torch(reduction, dtype):
    rng = _rng(8)
    p = rng.random((4, 3)).astype(dtype)
    p[0, 0], p[0, 1] = 0.0, 1.0  # log clamped to -100, as torch
    t = rng.random((4, 3)).astype(dtype)
    t[0, 2] = 1.0
    w = _Const(rng.random(3).astype(dtype))
    check_op(lambda m, p, t: m.nn.functional.binary_cross_entropy(p, t, reduction=reduction),
             p[1:], t[1:], **_TOL[dtype])
    check_op(lambda m, p, t: m.nn.functional.binary_cross_entropy(p, t, w(m),
                                                                  reduction=reduction),
             p[1:], t[1:], **_TOL[dtype])
    # at p = 0 or 1 only the values agree (torch's clamped gradient is huge there)
    check_op(lambda m, p, t: m.nn.functional.binary_cross_entropy(p, t, reduction=reduction),
             p, t, grad=False, **_TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", _REDUCTIONS)
def test_bce_with_logits_matches_torch(reduction, dtype):
    rng = _rng(9)
    x = (rng.standard_normal((4, 3)) * 5).astype(dtype)
    x[0, 0], x[1, 1] = 80.0, -80.0  # stable at large logits
    t = rng.random((4, 3)).astype(dtype)
    w, pw = _Const(rng.random(3).astype(dtype)), _Const(rng.random(3).astype(dtype) * 3)
    f = "binary_cross_entropy_with_logits"
    check_op(lambda m, x, t: getattr(m.nn.functional, f)(x, t, reduction=reduction), x, t,
             **_TOL[dtype])
    check_op(lambda m, x, t: getattr(m.nn.functional, f)(x, t, w(m), reduction=reduction,
                                                         pos_weight=pw(m)), x, t, **_TOL[dtype])


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    rng = _rng(10)
    x = np.log(rng.dirichlet(np.ones(5), 3))
    t = rng.dirichlet(np.ones(5), 3)
    t[0, 0] = 0.0  # xlogy(0, 0) = 0
    if log_target:
        t = np.log(t + 0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_op(lambda m, x: m.nn.functional.kl_div(x, m.tensor(t), reduction=reduction,
                                                     log_target=log_target), x)


# -- errors and warnings --------------------------------------------------------------------------


@pytest.mark.parametrize("call, exc, message", [
    (lambda m: m.nn.functional.cross_entropy(m.zeros(4, 5), m.tensor([1, 2, 5, 0])), IndexError,
     "Target 5 is out of bounds."),
    (lambda m: m.nn.functional.cross_entropy(m.zeros(4, 5), m.tensor([1, 2, -3, 0])), IndexError,
     "Target -3 is out of bounds."),
    (lambda m: m.nn.functional.nll_loss(m.zeros(4, 5), m.tensor([1, 2, 3])), ValueError,
     "Expected input batch_size (4) to match target batch_size (3)."),
    (lambda m: m.nn.functional.cross_entropy(m.zeros(4, 5), m.tensor([1.0, 2, 3, 0])),
     RuntimeError, "expected target dtype to be Long or Byte, but got Float"),
    (lambda m: m.nn.functional.cross_entropy(m.zeros(4, 5), m.tensor([1, 2, 3, 0]).int()),
     RuntimeError, "expected target dtype to be Long or Byte, but got Int"),
    (lambda m: m.nn.functional.cross_entropy(m.zeros(4, 5), m.zeros(4, 5).long()),
     RuntimeError, "Expected floating point type for target with class probabilities, got Long"),
    (lambda m: m.nn.functional.nll_loss(m.zeros(4, 5), m.tensor([1, 2, 3, 0]),
                                        weight=m.ones(4)), RuntimeError,
     "weight tensor should be defined either for all 5 classes or no classes but got weight "
     "tensor of shape: [4]"),
    (lambda m: m.nn.functional.nll_loss(m.zeros(2, 3, 4, 5), m.zeros(2, 4, dtype=m.int64)),
     RuntimeError, "only batches of spatial targets supported (3D tensors) but got targets of "
     "dimension: 2"),
    (lambda m: m.nn.functional.nll_loss(m.zeros(2, 3, 4, 5), m.zeros(2, 4, 6, dtype=m.int64)),
     RuntimeError, "size mismatch (got input: [2, 3, 4, 5] , target: [2, 4, 6]"),
    (lambda m: m.nn.functional.nll_loss(m.zeros(2, 3, 4), m.zeros(2, 5, dtype=m.int64)),
     RuntimeError, "Expected target size [2, 4], got [2, 5]"),
    (lambda m: m.nn.functional.cross_entropy(m.zeros(4, 5), m.tensor([1, 2, 3, 0]),
                                             label_smoothing=1.5), RuntimeError,
     "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
    (lambda m: m.nn.functional.cross_entropy(m.zeros(4, 5), m.tensor([1, 2, 3, 0]),
                                             reduction="bad"), ValueError,
     "bad is not a valid value for reduction"),
    (lambda m: m.nn.functional.mse_loss(m.zeros(4, 5), m.zeros(3, 5)), RuntimeError,
     "The size of tensor a (4) must match the size of tensor b (3) at non-singleton dimension 0"),
    (lambda m: m.nn.functional.binary_cross_entropy(m.rand(4), m.rand(4, 1)), ValueError,
     "that is different to the input size"),
    (lambda m: m.nn.functional.binary_cross_entropy(m.rand(4) + 1, m.rand(4)), RuntimeError,
     "all elements of input should be between 0 and 1"),
    (lambda m: m.nn.functional.binary_cross_entropy(m.rand(4), m.rand(4) + 1), RuntimeError,
     "all elements of target should be between 0 and 1"),
    (lambda m: m.nn.functional.binary_cross_entropy_with_logits(m.rand(4), m.rand(4, 1)),
     ValueError, "must be the same as input size"),
    (lambda m: m.nn.functional.smooth_l1_loss(m.zeros(3), m.zeros(3), beta=-1), RuntimeError,
     "smooth_l1_loss does not support negative values for beta."),
    (lambda m: m.nn.functional.huber_loss(m.zeros(3), m.zeros(3), delta=0), RuntimeError,
     "huber_loss does not support non-positive values for delta."),
    (lambda m: m.nn.functional.mse_loss(m.zeros(3), m.zeros(3), weight=m.ones(2)), ValueError,
     "Weights and input must have the same size."),
])
def test_loss_errors_match_torch(call, exc, message):
    torch = torch_or_skip()
    for lib in (ember, torch):
        with pytest.raises(exc) as info:
            call(lib)
        assert message in str(info.value)


def test_legacy_reduction_arguments_warn_like_torch():
    torch = torch_or_skip()
    x, y = _rng(11).standard_normal((3, 2)), _rng(12).standard_normal((3, 2))
    for kwargs, expected in [(dict(size_average=False), "sum"), (dict(reduce=False), "none"),
                             (dict(size_average=True, reduce=True), "mean")]:
        got = []
        for lib in (ember, torch):
            with pytest.warns(UserWarning, match=f"please use reduction='{expected}' instead"):
                got.append(lib.nn.functional.mse_loss(lib.tensor(x), lib.tensor(y),
                                                      **kwargs).numpy())
            with pytest.warns(UserWarning, match=f"reduction='{expected}'"):
                assert lib.nn.MSELoss(**kwargs).reduction == expected
        np.testing.assert_allclose(got[0], got[1])


def test_loss_modules_match_torch():
    torch = torch_or_skip()
    rng = _rng(13)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    cls = rng.integers(0, 4, 6)
    y = rng.random((6, 4)).astype(np.float32)
    w = rng.random(4).astype(np.float32) + 0.5
    cases = [
        ("CrossEntropyLoss", dict(weight=w, label_smoothing=0.1, ignore_index=2), cls),
        ("CrossEntropyLoss", dict(reduction="sum"), cls),
        ("NLLLoss", dict(weight=w), cls),
        ("MSELoss", dict(reduction="sum"), y),
        ("L1Loss", {}, y),
        ("SmoothL1Loss", dict(beta=0.5), y),
        ("HuberLoss", dict(delta=0.5, reduction="none"), y),
        ("BCEWithLogitsLoss", dict(weight=w, pos_weight=w * 2), y),
        ("KLDivLoss", dict(reduction="batchmean", log_target=False), y),
    ]
    for name, kwargs, target in cases:
        made = []
        for lib in (ember, torch):
            args = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v
                    for k, v in kwargs.items()}
            made.append(getattr(lib.nn, name)(**args))
        e, t = made
        assert repr(e) == repr(t)
        assert list(e.state_dict()) == list(t.state_dict())
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = e(xe, ember.tensor(target)), t(xt, torch.tensor(target))
        assert type(ye.grad_fn).__name__ == type(yt.grad_fn).__name__
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        ye.sum().backward()
        yt.sum().backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
    p = 1 / (1 + np.exp(-x))
    e, t = nn.BCELoss(weight=ember.tensor(w)), torch.nn.BCELoss(weight=torch.tensor(w))
    np.testing.assert_allclose(e(ember.tensor(p), ember.tensor(y)).numpy(),
                               t(torch.tensor(p), torch.tensor(y)).numpy(), rtol=1e-6)


def test_loss_reprs_match_torch():
    torch = torch_or_skip()
    for name in ("CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
                 "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"):
        assert repr(getattr(nn, name)()) == repr(getattr(torch.nn, name)())
    assert nn.CrossEntropyLoss().ignore_index == -100
    assert nn.CrossEntropyLoss().label_smoothing == 0.0


def test_cross_entropy_float32_stays_float32():
    x = ember.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(x, ember.tensor([0, 2, 1, 1]))
    assert loss.dtype == ember.float32
    loss.backward()
    assert x.grad.dtype == ember.float32


# -- input-range validation with NaN and inf -------------------------------------------------------
# torch's checks are written so that NaN fails them (binary_cross_entropy's "0 <= x <= 1",
# beta >= 0, delta > 0), except label_smoothing, refused only above 1 (a NaN or negative value
# smooths nothing). Every loss and argument, with NaN, inf and -inf: the same error as torch, or the
# same values.

def _probs(m, v):
    return m.tensor([[0.3, v], [0.9, 0.5]])


_NONFINITE_CASES = {
    "bce input": lambda m, v: F_(m).binary_cross_entropy(_probs(m, v), m.full((2, 2), 0.5)),
    "bce target": lambda m, v: F_(m).binary_cross_entropy(m.full((2, 2), 0.5), _probs(m, v)),
    "bce none": lambda m, v: F_(m).binary_cross_entropy(_probs(m, v), m.full((2, 2), 0.5),
                                                        reduction="none"),
    "bce weight": lambda m, v: F_(m).binary_cross_entropy(m.full((2, 2), 0.5), m.ones(2, 2),
                                                          weight=_probs(m, v)),
    "bce both": lambda m, v: F_(m).binary_cross_entropy(_probs(m, v), _probs(m, v).t()),
    "BCELoss": lambda m, v: m.nn.BCELoss()(_probs(m, v), m.full((2, 2), 0.5)),
    "bce_logits input": lambda m, v: F_(m).binary_cross_entropy_with_logits(_probs(m, v),
                                                                            m.ones(2, 2)),
    "bce_logits target": lambda m, v: F_(m).binary_cross_entropy_with_logits(m.ones(2, 2),
                                                                             _probs(m, v)),
    "bce_logits pos_weight": lambda m, v: F_(m).binary_cross_entropy_with_logits(
        m.ones(2, 2), m.ones(2, 2), pos_weight=m.tensor([1.0, v])),
    "mse": lambda m, v: F_(m).mse_loss(_probs(m, v), m.zeros(2, 2)),
    "l1": lambda m, v: F_(m).l1_loss(_probs(m, v), m.zeros(2, 2)),
    "smooth_l1 input": lambda m, v: F_(m).smooth_l1_loss(_probs(m, v), m.zeros(2, 2)),
    "smooth_l1 beta": lambda m, v: F_(m).smooth_l1_loss(m.ones(2), m.zeros(2), beta=v),
    "SmoothL1Loss beta": lambda m, v: m.nn.SmoothL1Loss(beta=v)(m.ones(2), m.zeros(2)),
    "huber input": lambda m, v: F_(m).huber_loss(_probs(m, v), m.zeros(2, 2)),
    "huber delta": lambda m, v: F_(m).huber_loss(m.ones(2), m.zeros(2), delta=v),
    "HuberLoss delta": lambda m, v: m.nn.HuberLoss(delta=v)(m.ones(2), m.zeros(2)),
    "kl input": lambda m, v: F_(m).kl_div(_probs(m, v), m.full((2, 2), 0.5),
                                          reduction="batchmean"),
    "kl target": lambda m, v: F_(m).kl_div(m.full((2, 2), 0.5), _probs(m, v),
                                           reduction="batchmean"),
    "kl log_target": lambda m, v: F_(m).kl_div(m.full((2, 2), 0.5), _probs(m, v),
                                               reduction="batchmean", log_target=True),
    "cross_entropy input": lambda m, v: F_(m).cross_entropy(_probs(m, v), m.tensor([1, 0])),
    "cross_entropy probs": lambda m, v: F_(m).cross_entropy(m.zeros(2, 2), _probs(m, v)),
    "cross_entropy weight": lambda m, v: F_(m).cross_entropy(m.zeros(2, 2), m.tensor([1, 0]),
                                                             weight=m.tensor([1.0, v])),
    "cross_entropy label_smoothing": lambda m, v: F_(m).cross_entropy(
        m.tensor([[0.1, 0.7], [0.2, 0.0]]), m.tensor([1, 0]), label_smoothing=v),
    "cross_entropy label_smoothing probs": lambda m, v: F_(m).cross_entropy(
        m.tensor([[0.1, 0.7], [0.2, 0.0]]), m.full((2, 2), 0.5), label_smoothing=v),
    "CrossEntropyLoss label_smoothing": lambda m, v: m.nn.CrossEntropyLoss(label_smoothing=v)(
        m.tensor([[0.1, 0.7], [0.2, 0.0]]), m.tensor([1, 0])),
    "nll input": lambda m, v: F_(m).nll_loss(_probs(m, v), m.tensor([1, 0])),
    "nll weight": lambda m, v: F_(m).nll_loss(m.zeros(2, 2), m.tensor([1, 0]),
                                              weight=m.tensor([1.0, v])),
}


def F_(m):
    return m.nn.functional


def _outcome(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "value", call().detach().double().numpy()
    except Exception as e:  # the error is the outcome compared
        return type(e), str(e)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 2.0, -0.5, 1.5])
@pytest.mark.parametrize("case", list(_NONFINITE_CASES))
def test_nonfinite_arguments_like_torch(case, value):
    torch = torch_or_skip()
    call = _NONFINITE_CASES[case]
    got, want = _outcome(lambda: call(ember, value)), _outcome(lambda: call(torch, value))
    assert got[0] == want[0], (got, want)
    if got[0] == "value":
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-6, equal_nan=True)
    else:
        assert got[1] == want[1]
