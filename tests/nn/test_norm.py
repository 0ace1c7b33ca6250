"""Batch, layer and group normalisation against torch: functional values and gradients, running
statistics over several steps, eval mode, double backward, checkpoints, reprs and errors."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember import nn
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

_TOL = {np.float64: dict(atol=1e-10, rtol=1e-10), np.float32: dict(atol=1e-5, rtol=1e-4)}


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 2 + 1).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (3, 4, 5, 6)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(shape, training, dtype):
    torch = torch_or_skip()
    c = shape[1]
    x, w, b = _data(shape, dtype), _data(c, dtype, 1), _data(c, dtype, 2)
    rm, rv = _data(c, dtype, 3), np.abs(_data(c, dtype, 4)) + 0.5
    stats = {lib.__name__: (lib.tensor(rm.copy()), lib.tensor(rv.copy())) for lib in (ember, torch)}

    def bn(m, x, w, b):
        mean, var = stats[m.__name__]
        return m.nn.functional.batch_norm(x, mean, var, w, b, training, 0.3, 1e-4)

    check_op(bn, x, w, b, **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.batch_norm(x, None, None, training=True), x,
             **_TOL[dtype])
    # running statistics are updated in place (twice: check_op runs each library once)
    for e, t in zip(stats["ember"], stats["torch"]):
        np.testing.assert_allclose(e.numpy(), t.numpy(), **_TOL[dtype])


@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
@pytest.mark.parametrize("offset", [0.0, 50.0])
def test_batch_norm_train_float32_offset_and_partial_affine(affine, offset):
    """The training forward scales the deviations in place: float32 with a large mean, and with
    only one of weight/bias, still matches torch (values and all three gradients)."""
    torch_or_skip()
    x = _data((4, 8, 9, 11), np.float32) + np.float32(offset)
    w = _data(8, np.float32, 1) if affine in ("both", "weight") else None
    b = _data(8, np.float32, 2) if affine in ("both", "bias") else None
    args = [a for a in (x, w, b) if a is not None]

    def bn(m, x, *p):
        kw = dict(zip([n for n, a in (("weight", w), ("bias", b)) if a is not None], p))
        return m.nn.functional.batch_norm(x, None, None, training=True, eps=1e-5, **kw)

    check_op(bn, *args, **_TOL[np.float32])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, normalized", [((4, 5), (5,)), ((2, 3, 4), (3, 4)),
                                               ((2, 3, 4, 5), (5,)), ((6, 7, 64), (64,)),
                                               ((3, 2, 8, 5), (8, 5))])
def test_layer_norm_matches_torch(shape, normalized, dtype):
    # (rows of 16 to 512 features are summed by a GEMV: (6, 7, 64) and (8, 5) take that path)
    x, w, b = _data(shape, dtype), _data(normalized, dtype, 1), _data(normalized, dtype, 2)
    check_op(lambda m, x, w, b: m.nn.functional.layer_norm(x, normalized, w, b, 1e-5), x, w, b,
             **_TOL[dtype])
    check_op(lambda m, x, w: m.nn.functional.layer_norm(x, normalized, w), x, w, **_TOL[dtype])
    check_op(lambda m, x, b: m.nn.functional.layer_norm(x, normalized, None, b), x, b,
             **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.layer_norm(x, normalized), x, **_TOL[dtype])


def test_layer_norm_backward_twice_and_after_its_output_changes():
    # the normalised input kept for the backward is neither the output nor written by it
    torch = torch_or_skip()
    x = ember.tensor(_data((5, 32), np.float32), requires_grad=True)
    ln = nn.LayerNorm(32)
    y = ln(x)
    g = ember.tensor(_data((5, 32), np.float32, 3))
    first = ember.autograd.grad(y, (x, ln.weight), g, retain_graph=True)
    with ember.no_grad():
        y.mul_(0).add_(7)
    second = ember.autograd.grad(y, (x, ln.weight), g)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    t = torch.nn.functional.layer_norm(torch.tensor(x.detach().numpy(), requires_grad=True),
                                       (32,))
    assert np.allclose(first[1].numpy(), (g.numpy() * t.detach().numpy()).sum(0), atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, groups", [((4, 6), 3), ((2, 4, 5), 2), ((3, 6, 4, 5), 3),
                                           ((2, 4, 3, 3), 1), ((2, 4, 3, 3), 4)])
def test_group_norm_matches_torch(shape, groups, dtype):
    c = shape[1]
    x, w, b = _data(shape, dtype), _data(c, dtype, 1), _data(c, dtype, 2)
    check_op(lambda m, x, w, b: m.nn.functional.group_norm(x, groups, w, b), x, w, b,
             **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.group_norm(x, groups), x, **_TOL[dtype])


def test_norm_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(2), rng.standard_normal(2)
    check_gradcheck(lambda m, x, w, b: m.nn.functional.batch_norm(x, None, None, w, b, True), x,
                    w, b)
    mean, var = ember.zeros(2, dtype=ember.float64), ember.ones(2, dtype=ember.float64) * 2
    check_gradcheck(lambda m, x, w, b: m.nn.functional.batch_norm(x, mean, var, w, b, False), x,
                    w, b)
    check_gradcheck(lambda m, x, w, b: m.nn.functional.group_norm(x, 1, w, b), x, w, b)
    check_gradcheck(lambda m, x, w, b: m.nn.functional.layer_norm(x, (2,), w, b), x, w, b)
    ln_w, ln_b = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    check_gradcheck(lambda m, x, w, b: m.nn.functional.layer_norm(x, (2, 2), w, b), x, ln_w, ln_b)


def test_batch_norm_double_backward_matches_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(3)
    results = []
    for lib in (ember, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.batch_norm(xt, None, None, wt, None, True)
        gx, gw = lib.autograd.grad((y ** 3).sum(), (xt, wt), create_graph=True)
        hx, hw = lib.autograd.grad((gx ** 2).sum() + gw.sum(), (xt, wt))
        results.append([t.detach().numpy() for t in (gx, gw, hx, hw)])
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-9, atol=1e-9)


def _copy_state(e, t):
    e.load_state_dict(OrderedDict((k, ember.tensor(v.detach().numpy()))
                                  for k, v in t.state_dict().items()))


@pytest.mark.parametrize("momentum", [0.1, None, 0.5])
@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                        ("BatchNorm2d", (4, 3, 5, 5))])
def test_batchnorm_running_stats_over_steps_match_torch(cls, shape, momentum):
    torch = torch_or_skip()
    rng = np.random.default_rng(7)
    t = getattr(torch.nn, cls)(3, momentum=momentum)
    e = getattr(nn, cls)(3, momentum=momentum)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(rng.standard_normal(3)))
    _copy_state(e, t)
    for _ in range(4):
        x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
        ye, yt = e(ember.tensor(x)), t(torch.tensor(x))
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), atol=1e-5)
    for key, value in t.state_dict().items():
        got = e.state_dict()[key]
        assert str(got.dtype).split(".")[1] == str(value.dtype).split(".")[1], key
        np.testing.assert_allclose(got.numpy(), value.numpy(), rtol=1e-6, atol=1e-7)
    assert int(e.num_batches_tracked) == 4
    e.eval()
    t.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = e(xe), t(xt)
    assert type(ye.grad_fn).__name__ == type(yt.grad_fn).__name__ == "NativeBatchNormBackward0"
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), atol=1e-5)
    ye.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(e.weight.grad.numpy(), t.weight.grad.numpy(), atol=1e-4)


@pytest.mark.parametrize("kwargs", [dict(track_running_stats=False), dict(affine=False),
                                    dict(bias=False)])
def test_batchnorm_options_match_torch(kwargs):
    torch = torch_or_skip()
    rng = np.random.default_rng(8)
    t, e = torch.nn.BatchNorm2d(3, **kwargs), nn.BatchNorm2d(3, **kwargs)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    _copy_state(e, t)
    for mode in ("train", "eval"):
        getattr(e, mode)()
        getattr(t, mode)()
        x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
        np.testing.assert_allclose(e(ember.tensor(x)).detach().numpy(),
                                   t(torch.tensor(x)).detach().numpy(), atol=1e-5)
    for key, value in t.state_dict().items():
        np.testing.assert_allclose(e.state_dict()[key].numpy(), value.numpy(), atol=1e-6)


def test_batchnorm_state_dict_version_and_old_checkpoints():
    m = nn.BatchNorm2d(3)
    sd = m.state_dict()
    assert list(sd) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert sd["num_batches_tracked"].dtype == ember.int64
    assert sd._metadata[""] == {"version": 2}
    # a version-1 checkpoint without num_batches_tracked loads strictly; the count is kept
    m.num_batches_tracked.fill_(7)
    old = OrderedDict((k, v.clone()) for k, v in sd.items() if k != "num_batches_tracked")
    old["running_mean"].fill_(0.5)
    old._metadata = OrderedDict([("", {"version": 1})])
    result = m.load_state_dict(old)
    assert not result.missing_keys and not result.unexpected_keys
    assert int(m.num_batches_tracked) == 7
    np.testing.assert_allclose(m.running_mean.numpy(), 0.5)
    # without metadata at all (a plain dict) torch also treats it as old
    plain = {k: v for k, v in old.items()}
    assert not nn.BatchNorm2d(3).load_state_dict(plain).missing_keys
    # a version-2 checkpoint must have the key
    new = OrderedDict(old)
    new._metadata = OrderedDict([("", {"version": 2})])
    with pytest.raises(RuntimeError,
                       match='Missing key\\(s\\) in state_dict: "num_batches_tracked"'):
        nn.BatchNorm2d(3).load_state_dict(new)
    # nested, as in a model
    model = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3))
    sd = model.state_dict()
    del sd["1.num_batches_tracked"]
    sd._metadata["1"] = {"version": 1}
    assert not model.load_state_dict(sd).missing_keys


def test_batchnorm_loads_torch_checkpoint_and_back():
    torch = torch_or_skip()
    t = torch.nn.BatchNorm2d(4)
    t(torch.randn(3, 4, 2, 2))
    e = nn.BatchNorm2d(4)
    _copy_state(e, t)
    assert int(e.num_batches_tracked) == 1
    t2 = torch.nn.BatchNorm2d(4)
    t2.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e.state_dict().items()})
    for k, v in t.state_dict().items():
        assert torch.equal(v, t2.state_dict()[k])


def test_norm_module_reprs_match_torch():
    torch = torch_or_skip()
    cases = [("BatchNorm2d", (3,), {}),
             ("BatchNorm1d", (3,), dict(eps=1e-3, momentum=None, affine=False,
                                        track_running_stats=False)),
             ("BatchNorm2d", (3,), dict(bias=False)),
             ("LayerNorm", (5,), {}),
             ("LayerNorm", ((4, 5),), dict(elementwise_affine=False)),
             ("LayerNorm", (5,), dict(bias=False)),
             ("GroupNorm", (2, 4), {}),
             ("GroupNorm", (2, 4), dict(affine=False, eps=1e-3)),
             ("GroupNorm", (2, 4), dict(bias=False))]
    for name, args, kwargs in cases:
        e, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
        assert repr(e) == repr(t)
        assert list(e.state_dict()) == list(t.state_dict())
        for k, v in t.state_dict().items():
            np.testing.assert_array_equal(e.state_dict()[k].numpy(), v.numpy())


def test_layer_and_group_norm_modules_match_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(9)
    for e, t in [(nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4))),
                 (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4))]:
        with torch.no_grad():
            for p in t.parameters():
                p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)), dtype=p.dtype))
        _copy_state(e, t)
        x = rng.standard_normal((2, 4, 3, 4)).astype(np.float32)
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = e(xe), t(xt)
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), atol=1e-5)
        ye.pow(2).sum().backward()
        yt.pow(2).sum().backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), atol=1e-4)
        for pe, pt in zip(e.parameters(), t.parameters()):
            np.testing.assert_allclose(pe.grad.numpy(), pt.grad.numpy(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("call, exc, message", [
    (lambda m: m.nn.functional.batch_norm(m.zeros(2, 3, 4), None, None), RuntimeError,
     "running_mean must be defined in evaluation mode"),
    (lambda m: m.nn.functional.batch_norm(m.zeros(2, 3, 4), m.zeros(4), m.ones(4)), RuntimeError,
     "running_mean should contain 3 elements not 4"),
    (lambda m: m.nn.functional.batch_norm(m.zeros(2, 3), m.zeros(3), m.ones(3), m.ones(4)),
     RuntimeError, "weight should contain 3 elements not 4"),
    (lambda m: m.nn.functional.batch_norm(m.zeros(1, 3), None, None, training=True), ValueError,
     "Expected more than 1 value per channel when training, got input size"),
    (lambda m: m.nn.functional.layer_norm(m.zeros(2, 3, 4), (5,)), RuntimeError,
     "Given normalized_shape=[5], expected input with shape [*, 5], but got input of "
     "size[2, 3, 4]"),
    (lambda m: m.nn.functional.layer_norm(m.zeros(2, 3, 4), (4,), m.ones(5)), RuntimeError,
     "Expected weight to be of same shape as normalized_shape, but got weight of shape [5] and "
     "normalized_shape = [4]"),
    (lambda m: m.nn.functional.group_norm(m.zeros(2, 3, 4), 2), RuntimeError,
     "Expected number of channels in input to be divisible by num_groups, but got input of "
     "shape [2, 3, 4] and num_groups=2"),
    (lambda m: m.nn.BatchNorm2d(3)(m.zeros(2, 3, 4)), ValueError,
     "expected 4D input (got 3D input)"),
    (lambda m: m.nn.BatchNorm1d(3)(m.zeros(2, 3, 4, 5)), ValueError,
     "expected 2D or 3D input (got 4D input)"),
    (lambda m: m.nn.GroupNorm(2, 3), ValueError, "num_channels (3) must be divisible by "
     "num_groups (2)"),
])
def test_norm_errors_match_torch(call, exc, message):
    torch = torch_or_skip()
    for lib in (ember, torch):
        with pytest.raises(exc) as info:
            call(lib)
        assert message in str(info.value)


def test_batch_norm_keeps_float32():
    x = ember.randn(4, 3, 2, 2, requires_grad=True)
    m = nn.BatchNorm2d(3)
    y = m(x)
    assert y.dtype == ember.float32 and m.running_mean.dtype == ember.float32
    (g,) = ember.autograd.grad(y.pow(2).sum(), x)
    assert g.dtype == ember.float32


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, 0), (3.0, -1)])
def test_normalize_matches_torch(p, dim):
    x = _data((3, 4), np.float64)
    check_op(lambda m, x: m.nn.functional.normalize(x, p, dim), x)
    check_gradcheck(lambda m, x: m.nn.functional.normalize(x, p, dim), x)


@pytest.mark.parametrize("kind", ["batch", "layer", "group"])
@pytest.mark.parametrize("low", ["float16", "bfloat16"])
def test_reduced_input_with_float32_parameters(kind, low):
    """autocast's mix (a float16/bfloat16 activation, float32 weights and running stats): torch
    normalises in float32 and returns the input's dtype, gradients in each input's dtype."""
    torch = torch_or_skip()
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    out = {}
    for m in (ember, torch):
        a = m.tensor(x, dtype=getattr(m, low), requires_grad=True)
        w, b = m.ones(3, requires_grad=True), m.zeros(3, requires_grad=True)
        rm, rv = m.zeros(3), m.ones(3)
        F = m.nn.functional
        y = (F.batch_norm(a, rm, rv, w, b, training=True) if kind == "batch"
             else F.group_norm(a, 3, w, b) if kind == "group"
             else F.layer_norm(a.transpose(1, 3), (3,), w, b).transpose(1, 3))
        (y.float() * m.arange(96.0).reshape(2, 3, 4, 4)).sum().backward()
        out[m.__name__] = (str(y.dtype).split(".")[1], type(y.grad_fn).__name__,
                           str(a.grad.dtype).split(".")[1], str(w.grad.dtype).split(".")[1],
                           y.detach().float().numpy(), w.grad.numpy(), rm.numpy())
    e, t = out["ember"], out["torch"]
    assert e[:4] == t[:4]
    for i in (4, 5, 6):
        np.testing.assert_allclose(e[i], t[i], rtol=2e-2, atol=2e-2)
    same_error(lambda m: m.nn.functional.batch_norm(
        m.ones(2, 3, dtype=getattr(m, low)), m.zeros(3), m.ones(3), m.ones(3, dtype=m.float64),
        None, training=True))
