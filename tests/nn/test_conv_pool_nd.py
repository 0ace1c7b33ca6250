"""1-d and 3-d convolution and pooling, power-average pooling and max unpooling against torch:
values, gradients, grad_fn names, double backward, layer reprs, state_dict keys and errors."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()


def _r(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape)


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    ((4, 9), (6, 4, 4), dict(padding="same")),
    ((2, 3, 8), (5, 3, 1), dict(stride=3)),
    ((2, 4, 9), (6, 4, 3), dict(padding="valid")),
])
def test_conv1d_matches_torch(xs, ws, kw):
    check_op(lambda m, x, w, b: m.nn.functional.conv1d(x, w, b, **kw), _r(*xs), _r(*ws),
             _r(ws[0]), atol=1e-10)


@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 4, 5, 6, 7), (6, 2, 3, 2, 3), dict(stride=(2, 1, 2), padding=(1, 0, 1),
                                            dilation=(1, 2, 1), groups=2)),
    ((4, 5, 6, 7), (6, 4, 2, 3, 2), dict(padding="same", dilation=(2, 1, 1))),
    ((2, 20, 5, 6, 7), (32, 20, 3, 3, 3), dict(padding=1)),  # the 2-d kernels' large paths
    ((2, 3, 4, 5, 6), (4, 3, 1, 1, 1), dict(stride=2)),
])
def test_conv3d_matches_torch(xs, ws, kw):
    check_op(lambda m, x, w, b: m.nn.functional.conv3d(x, w, b, **kw), _r(*xs), _r(*ws),
             _r(ws[0]), atol=1e-9)


@pytest.mark.parametrize("nd, xs, ws, kw", [
    (1, (2, 4, 9), (4, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    (1, (4, 5), (4, 3, 2), dict(dilation=2)),
    (3, (2, 4, 3, 4, 5), (4, 3, 3, 2, 3), dict(stride=(2, 2, 1), padding=(1, 0, 1),
                                               output_padding=(1, 0, 0), groups=2,
                                               dilation=(1, 1, 2))),
    (3, (2, 20, 3, 4, 5), (20, 3, 3, 3, 3), dict(padding=1)),
])
def test_conv_transpose_nd_matches_torch(nd, xs, ws, kw):
    check_op(lambda m, x, w, b: getattr(m.nn.functional, f"conv_transpose{nd}d")(x, w, b, **kw),
             _r(*xs), _r(*ws), _r(ws[1] * kw.get("groups", 1)), atol=1e-9)


def test_conv_nd_float32_and_gradcheck():
    check_op(lambda m, x, w: m.nn.functional.conv3d(x, w, padding=1),
             _r(1, 3, 4, 5, 4).astype(np.float32), _r(2, 3, 3, 3, 3).astype(np.float32))
    check_gradcheck(lambda m, x, w, b: m.nn.functional.conv1d(x, w, b, 2, 1, 1, 2),
                    _r(2, 4, 7), _r(4, 2, 3), _r(4))
    check_gradcheck(lambda m, x, w, b: m.nn.functional.conv3d(x, w, b, (1, 2, 1), 1, 1, 2),
                    _r(1, 4, 3, 4, 3), _r(2, 2, 2, 3, 2), _r(2))
    check_gradcheck(lambda m, x, w: m.nn.functional.conv_transpose3d(x, w, None, 2, 1, 1),
                    _r(1, 2, 2, 3, 2), _r(2, 2, 3, 2, 3))
    check_gradcheck(lambda m, x, w: m.nn.functional.conv_transpose1d(x, w, None, 2, 1, 1),
                    _r(2, 2, 4), _r(2, 3, 3))


def test_conv3d_double_backward_matches_torch():
    x, w = _r(1, 2, 4, 4, 4), _r(3, 2, 2, 3, 2)
    out = {}
    for lib in (ember, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv3d(xt, wt, stride=(1, 2, 1), padding=1)
        gx, gw = lib.autograd.grad((y * y).sum(), (xt, wt), create_graph=True)
        assert type(gx.grad_fn).__name__ == "ConvolutionBackwardBackward0"
        hx, hw = lib.autograd.grad(gx.sin().sum() + (gw * gw).sum(), (xt, wt))
        out[lib.__name__] = [t.detach().numpy() for t in (gx, gw, hx, hw)]
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.conv1d(m.zeros(3, 3, 3, 3), m.zeros(4, 3, 3)),
    lambda m: m.nn.functional.conv1d(m.zeros(2, 3, 8), m.zeros(4, 3, 3, 3)),
    lambda m: m.nn.functional.conv1d(m.zeros(2, 3, 8), m.zeros(4, 2, 3)),
    lambda m: m.nn.functional.conv1d(m.zeros(2, 3, 8), m.zeros(4, 3, 3), stride=(1, 2)),
    lambda m: m.nn.functional.conv1d(m.zeros(2, 3, 8), m.zeros(4, 3, 30)),
    lambda m: m.nn.functional.conv1d(m.zeros(2, 3, 8), m.zeros(4, 3, 3), padding="same",
                                     stride=2),
    lambda m: m.nn.functional.conv1d(m.zeros(2, 3, 8), m.zeros(4, 3, 3), padding=-1),
    lambda m: m.nn.functional.conv3d(m.zeros(3, 3, 3), m.zeros(4, 3, 3, 3, 3)),
    lambda m: m.nn.functional.conv3d(m.zeros(1, 3, 3, 3, 3), m.zeros(4, 3, 5, 3, 3)),
    lambda m: m.nn.functional.conv3d(m.zeros(1, 3, 3, 3, 3), m.zeros(4, 3, 3, 3, 3),
                                     bias=m.zeros(3)),
    lambda m: m.nn.functional.conv1d(m.zeros(2, 3, 8), m.zeros(4, 3, 3, dtype=m.float64)),
    lambda m: m.nn.functional.conv_transpose1d(m.zeros(2, 3, 8), m.zeros(3, 4, 3),
                                               output_padding=2),
    lambda m: m.nn.functional.conv_transpose1d(m.zeros(2, 3, 8), m.zeros(3, 4, 3),
                                               padding="same"),
    lambda m: m.nn.functional.conv_transpose1d(m.zeros(1, 3, 1), m.zeros(3, 2, 1), padding=3),
    lambda m: m.nn.functional.conv_transpose3d(m.zeros(1, 3, 3, 3, 3), m.zeros(3, 2, 3, 3, 3),
                                               output_padding=2),
    lambda m: m.nn.functional.conv_transpose3d(m.zeros(1, 3, 1, 1, 1), m.zeros(3, 2, 1, 1, 1),
                                               padding=3),
])
def test_conv_nd_errors_match_torch(call):
    same_error(call)


def test_conv_nd_modules_match_torch():
    cases = [("Conv1d", (4, 6, 3), dict(padding=1, stride=2), (2, 4, 9)),
             ("Conv1d", (4, 6, 4), dict(padding="same", padding_mode="reflect"), (2, 4, 9)),
             ("Conv3d", (4, 6, (1, 2, 3)), dict(padding="same", padding_mode="circular"),
              (2, 4, 3, 5, 6)),
             ("Conv3d", (2, 4, 2), dict(groups=2, bias=False, dilation=(1, 2, 1)),
              (1, 2, 4, 5, 4)),
             ("ConvTranspose1d", (4, 6, 3), dict(output_padding=1, stride=2), (2, 4, 5)),
             ("ConvTranspose3d", (4, 6, 3), dict(padding=1, groups=2), (1, 4, 2, 3, 4))]
    for name, args, kw, xs in cases:
        em, tm = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
        assert repr(em) == repr(tm)
        assert list(em.state_dict()) == list(tm.state_dict())
        em.load_state_dict({k: ember.tensor(v.detach().numpy())
                            for k, v in tm.state_dict().items()})
        x = _r(*xs).astype(np.float32)
        np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(),
                                   tm(torch.tensor(x)).detach().numpy(), atol=1e-5)
    em, tm = nn.ConvTranspose1d(4, 6, 3, stride=2), torch.nn.ConvTranspose1d(4, 6, 3, stride=2)
    assert em(ember.zeros(1, 4, 5), output_size=[12]).shape == (1, 6, 12)
    same_error(lambda m: (em if m is ember else tm)(m.zeros(1, 4, 5), output_size=[1, 2, 3, 4]))
    same_error(lambda m: (em if m is ember else tm)(m.zeros(1, 4, 5), output_size=[30]))


# -- pooling ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, xs, args, kw", [
    ("max_pool3d", (2, 3, 5, 6, 7), (2,), {}),
    ("max_pool3d", (2, 3, 5, 6, 7), ((3, 2, 3),), dict(stride=(1, 2, 2), padding=(1, 1, 0),
                                                      dilation=(1, 2, 1), ceil_mode=True,
                                                      return_indices=True)),
    ("max_pool3d", (3, 5, 6, 7), (3,), dict(stride=2, padding=1, return_indices=True)),
    ("avg_pool3d", (2, 3, 5, 6, 7), (2,), {}),
    ("avg_pool3d", (2, 3, 5, 6, 7), ((3, 2, 3),), dict(stride=(2, 1, 2), padding=(1, 1, 0),
                                                      ceil_mode=True)),
    ("avg_pool3d", (2, 3, 5, 6, 7), (3,), dict(stride=2, padding=1, ceil_mode=True,
                                               count_include_pad=False)),
    ("avg_pool3d", (3, 5, 6, 7), (3,), dict(stride=2, padding=1, divisor_override=5)),
    ("adaptive_avg_pool3d", (2, 3, 5, 6, 7), ((3, 4, 2),), {}),
    ("adaptive_avg_pool3d", (3, 5, 6, 7), ((None, 4, 5),), {}),
    ("adaptive_max_pool3d", (2, 3, 5, 6, 7), ((3, 4, 2),), dict(return_indices=True)),
    ("adaptive_max_pool3d", (3, 5, 6, 7), (2,), {}),
    ("max_pool1d", (2, 3, 9), (3,), dict(stride=2, padding=1, dilation=2, return_indices=True)),
    ("max_pool1d", (3, 9), (2,), dict(ceil_mode=True)),
    ("max_pool1d_with_indices", (2, 3, 9), (2,), {}),
    ("max_pool3d_with_indices", (1, 2, 3, 4, 5), (2,), {}),
    ("avg_pool1d", (2, 3, 9), (3,), dict(stride=2, padding=1, ceil_mode=True,
                                         count_include_pad=False)),
    ("adaptive_avg_pool1d", (2, 3, 9), (4,), {}),
    ("adaptive_max_pool1d", (2, 3, 9), (4,), dict(return_indices=True)),
    ("adaptive_max_pool2d_with_indices", (2, 3, 9, 5), (4,), {}),
    ("lp_pool1d", (2, 3, 9), (2, 3), dict(stride=2)),
    ("lp_pool2d", (2, 3, 9, 8), (3, (2, 3)), {}),
    ("lp_pool3d", (2, 3, 6, 7, 8), (1.5, 2), {}),
    ("lp_pool2d", (2, 3, 9, 8), (float("inf"), 2), {}),
])
def test_pool_nd_matches_torch(name, xs, args, kw):
    x = _r(*xs)
    if name.startswith("lp") and args[0] != float("inf"):
        x = np.abs(x) + 0.1  # fractional powers of negative numbers are NaN in both
    check_op(lambda m, x: getattr(m.nn.functional, name)(x, *args, **kw), x, atol=1e-10)


def test_pool_nd_ties_nan_and_float32():
    x = np.zeros((1, 2, 4, 4, 4))
    x[0, 1, 1, 2, 3] = np.nan
    x[0, 1, 3, 0, 0] = np.nan
    check_op(lambda m, x: m.nn.functional.max_pool3d(x, 2, 1, return_indices=True), x)
    check_op(lambda m, x: m.nn.functional.adaptive_max_pool3d(x, 3, return_indices=True), x)
    check_op(lambda m, x: m.nn.functional.avg_pool3d(x, 2),
             _r(2, 3, 4, 4, 4).astype(np.float32))


def test_pool_nd_gradcheck():
    x = _r(1, 2, 4, 5, 4)
    check_gradcheck(lambda m, x: m.nn.functional.max_pool3d(x, 2, (1, 2, 1), 1), x)
    check_gradcheck(lambda m, x: m.nn.functional.avg_pool3d(x, 3, 2, 1, True, False), x)
    check_gradcheck(lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, (3, 2, 3)), x)
    check_gradcheck(lambda m, x: m.nn.functional.adaptive_max_pool3d(x, (3, 2, 3)), x)
    check_gradcheck(lambda m, x: m.nn.functional.lp_pool1d(x, 3, 2), np.abs(_r(2, 3, 6)) + 0.5)
    check_gradcheck(lambda m, x: m.nn.functional.max_pool1d(x, 3, 2, 1), _r(2, 3, 7))


def test_pool3d_double_backward_names_match_torch():
    x = _r(1, 2, 4, 4, 4)
    for fn in (lambda m, x: m.nn.functional.max_pool3d(x, 2),
               lambda m, x: m.nn.functional.avg_pool3d(x, 2),
               lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, 3),
               lambda m, x: m.nn.functional.adaptive_max_pool3d(x, 3)):
        names = []
        for lib in (ember, torch):
            xt = lib.tensor(x, requires_grad=True)
            (g,) = lib.autograd.grad(fn(lib, xt).pow(2).sum(), xt, create_graph=True)
            names.append(type(g.grad_fn).__name__)
        assert names[0] == names[1]


def test_max_unpool_matches_torch():
    x = _r(2, 3, 6, 8)
    o, i = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    check_op(lambda m, o, i: m.nn.functional.max_unpool2d(o, i, 2), o.numpy(), i.numpy())
    check_op(lambda m, o, i: m.nn.functional.max_unpool2d(o, i, 2, output_size=(7, 9)),
             o.numpy(), i.numpy())
    o, i = torch.nn.functional.max_pool3d(torch.tensor(_r(2, 3, 4, 6, 8)), 2,
                                          return_indices=True)
    check_op(lambda m, o, i: m.nn.functional.max_unpool3d(o, i, 2), o.numpy(), i.numpy())
    check_gradcheck(lambda m, o: m.nn.functional.max_unpool3d(o, ember.tensor(i.numpy()), 2),
                    o.numpy())
    o, i = torch.nn.functional.max_pool1d(torch.tensor(_r(2, 3, 9)), 2, return_indices=True)
    check_op(lambda m, o, i: m.nn.functional.max_unpool1d(o, i, 2, output_size=[9]),
             o.numpy(), i.numpy())
    same_error(lambda m: m.nn.functional.max_unpool2d(m.zeros(1, 1, 2, 2),
                                                      m.tensor([[[[0, 1], [2, 30]]]]), 2))
    same_error(lambda m: m.nn.functional.max_unpool2d(m.zeros(1, 1, 2, 2),
                                                      m.zeros(1, 1, 2, 2, dtype=m.int64), 2,
                                                      output_size=[9, 9]))


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.max_pool1d(m.zeros(2, 3, 4, 5), 2),
    lambda m: m.nn.functional.max_pool1d(m.zeros(2, 3, 8), 20),
    lambda m: m.nn.functional.max_pool1d(m.zeros(2, 3, 8), (2, 2)),
    lambda m: m.nn.functional.avg_pool1d(m.zeros(8), 2),
    lambda m: m.nn.functional.max_pool3d(m.zeros(3, 3), 2),
    lambda m: m.nn.functional.max_pool3d(m.zeros(1, 3, 3, 3, 3), 4),
    lambda m: m.nn.functional.max_pool3d(m.zeros(1, 3, 3, 3, 3), 2, padding=2),
    lambda m: m.nn.functional.avg_pool3d(m.zeros(3, 3), 2),
    lambda m: m.nn.functional.adaptive_avg_pool3d(m.zeros(3, 3), 2),
    lambda m: m.nn.functional.adaptive_max_pool3d(m.zeros(3, 3), 2),
    lambda m: m.nn.functional.adaptive_avg_pool1d(m.zeros(3, 3, 3, 3), 2),
    lambda m: m.nn.functional.adaptive_max_pool1d(m.zeros(3, 3, 3, 3), 2),
])
def test_pool_nd_errors_match_torch(call):
    same_error(call)


def test_pool_nd_modules_match_torch():
    cases = [("MaxPool1d", (3,), {}, (2, 3, 9)), ("MaxPool3d", (3, 2, 1), {}, (1, 2, 5, 6, 5)),
             ("AvgPool1d", (3,), {}, (2, 3, 9)), ("AvgPool3d", (3, 2, 1), {}, (1, 2, 5, 6, 5)),
             ("AdaptiveAvgPool1d", (3,), {}, (2, 3, 9)),
             ("AdaptiveAvgPool3d", ((2, None, 3),), {}, (1, 2, 5, 6, 5)),
             ("AdaptiveMaxPool1d", (3,), {}, (2, 3, 9)),
             ("AdaptiveMaxPool3d", (2,), {}, (1, 2, 5, 6, 5)),
             ("LPPool1d", (2, 3), {}, (2, 3, 9)), ("LPPool2d", (2, 3), {}, (2, 3, 9, 9)),
             ("LPPool3d", (1.5, 3, 2), {}, (1, 2, 5, 6, 5))]
    for name, args, kw, xs in cases:
        em, tm = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
        assert repr(em) == repr(tm)
        x = np.abs(_r(*xs)) + 0.1
        np.testing.assert_allclose(em(ember.tensor(x)).numpy(), tm(torch.tensor(x)).numpy(),
                                   atol=1e-10)
    for nd, args in ((1, (2,)), (2, (2, 1)), (3, (2,))):
        em = getattr(nn, f"MaxUnpool{nd}d")(*args, padding=0)
        tm = getattr(torch.nn, f"MaxUnpool{nd}d")(*args, padding=0)
        assert repr(em) == repr(tm)
    pool, unpool = torch.nn.MaxPool2d(2, return_indices=True), torch.nn.MaxUnpool2d(2)
    o, i = pool(torch.tensor(_r(1, 2, 4, 6)))
    np.testing.assert_array_equal(
        nn.MaxUnpool2d(2)(ember.tensor(o.numpy()), ember.tensor(i.numpy())).numpy(),
        unpool(o, i).numpy())


@pytest.mark.host_only  # (the NumPy path or the CPU device itself)
def test_conv3d_and_pool3d_are_vectorised(monkeypatch):
    """No Python loop over batch or channels: whatever the batch, conv3d runs the 2-d GEMM
    kernel once and max_pool3d the window reduction once (counted, not timed: the shared
    machine's load makes timings useless for this)."""
    from ember.backend import NUMPY, numpy_convnd

    calls = {"conv2d": 0, "window_reduce": 0}
    conv2d, reduce = numpy_convnd.numpy_conv.conv2d, type(NUMPY).window_reduce

    def counted_conv2d(*a, **k):
        calls["conv2d"] += 1
        return conv2d(*a, **k)

    def counted_reduce(*a, **k):
        calls["window_reduce"] += 1
        return reduce(*a, **k)

    monkeypatch.setattr(numpy_convnd.numpy_conv, "conv2d", counted_conv2d)
    monkeypatch.setattr(type(NUMPY), "window_reduce", staticmethod(counted_reduce))
    w = ember.tensor(_r(8, 4, 3, 3, 3))
    for n in (1, 32):
        calls.update(conv2d=0, window_reduce=0)
        x = ember.tensor(_r(n, 4, 8, 8, 8))
        ember.nn.functional.conv3d(x, w, padding=1)
        ember.nn.functional.max_pool3d(x, 2)
        assert calls == {"conv2d": 1, "window_reduce": 1}


def test_empty_batch_matches_torch():
    check_op(lambda m, x, w: m.nn.functional.conv3d(x, w), np.zeros((0, 2, 3, 3, 3)),
             np.ones((4, 2, 2, 2, 2)))
    check_op(lambda m, x, w: m.nn.functional.conv_transpose3d(x, w), np.zeros((0, 2, 3, 3, 3)),
             np.ones((2, 4, 2, 2, 2)))
    check_op(lambda m, x, w: m.nn.functional.conv1d(x, w, padding=1), np.zeros((0, 3, 5)),
             np.ones((4, 3, 3)))
    for name in ("max_pool3d", "avg_pool3d", "adaptive_avg_pool3d", "adaptive_max_pool3d"):
        check_op(lambda m, x: getattr(m.nn.functional, name)(x, 2), np.zeros((0, 2, 4, 4, 4)))


def test_conv_transpose3d_output_size_matches_torch():
    em = nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1)
    tm = torch.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1)
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = _r(1, 2, 3, 4, 5).astype(np.float32)
    for size in ([6, 8, 10], [1, 3, 5, 7, 9], [5, 7, 9]):
        np.testing.assert_allclose(em(ember.tensor(x), output_size=size).detach().numpy(),
                                   tm(torch.tensor(x), output_size=size).detach().numpy(),
                                   atol=1e-5)
    for size in ([7, 8, 10], [1, 2, 3, 4]):
        same_error(lambda m: (em if m is ember else tm)(m.tensor(x), output_size=size))


def test_max_pool3d_windows_of_minus_inf_index_inside_the_input():
    """A window holding only -inf (padding is -inf too) wins at its first element inside the
    input, as torch's kernel starts there; values, indices and gradients over random geometries
    with most elements -inf and some NaN."""
    torch = torch_or_skip()
    rng = np.random.default_rng(11)
    checked = 0
    for _ in range(120):
        k, st, dl = (tuple(int(v) for v in rng.integers(1, 4, 3)),
                     tuple(int(v) for v in rng.integers(1, 3, 3)),
                     tuple(int(v) for v in rng.integers(1, 3, 3)))
        pd = tuple(int(min(rng.integers(0, 2), kk // 2)) for kk in k)
        cm = bool(rng.integers(0, 2))
        shape = (1, 2) + tuple(int(v) for v in rng.integers(3, 7, 3))
        x = rng.standard_normal(shape).astype(np.float32)
        x[rng.random(shape) < 0.7] = -np.inf
        x[rng.random(shape) < 0.03] = np.nan
        try:
            ty, ti = torch.nn.functional.max_pool3d(torch.tensor(x), k, st, pd, dl, cm, True)
        except RuntimeError:
            continue
        ey, ei = ember.nn.functional.max_pool3d(ember.tensor(x), k, st, pd, dl, cm, True)
        np.testing.assert_array_equal(ei.numpy(), ti.numpy())
        np.testing.assert_array_equal(ey.numpy(), ty.numpy())
        checked += 1
    assert checked > 80
