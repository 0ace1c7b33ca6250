"""Convolution and pooling against torch: values, gradients, grad_fn names, double backward,
errors, modules (init, reprs, padding modes) and the vectorised form of the kernels."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import functional as F
from helpers import check_gradcheck, check_op, torch_or_skip

_TOL = {np.float64: dict(atol=1e-10, rtol=1e-10), np.float32: dict(atol=1e-4, rtol=1e-4)}

# (input shape, weight shape, stride, padding, dilation, groups)
_CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, 1, 1),
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 1, 1, 1),
    ((1, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 0), (2, 1), 2),
    ((2, 3, 8, 8), (4, 3, 4, 4), 3, 2, 1, 1),
    ((2, 6, 5, 5), (6, 1, 3, 3), 1, 1, 1, 6),  # depthwise
    ((3, 4, 5, 7), (2, 4, 1, 1), 1, 0, 1, 1),  # 1x1
    ((2, 3, 6, 6), (4, 3, 3, 3), 1, "same", 2, 1),
    ((2, 3, 6, 5), (4, 3, 4, 2), 1, "same", 1, 1),  # even kernel: asymmetric padding
    ((2, 3, 6, 5), (4, 3, 3, 3), 2, "valid", 1, 1),
    ((3, 7, 7), (4, 3, 3, 3), 2, 1, 1, 1),  # unbatched
]


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", _CONV_CASES)
def test_conv2d_matches_torch(case, dtype):
    xs, ws, stride, padding, dilation, groups = case
    rng = np.random.default_rng(0)
    x, w, b = _rand(rng, xs, dtype), _rand(rng, ws, dtype), _rand(rng, ws[0], dtype)
    check_op(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups),
             x, w, b, **_TOL[dtype])
    check_op(lambda m, x, w: m.nn.functional.conv2d(x, w, None, stride, padding, dilation, groups),
             x, w, **_TOL[dtype])


# (input shape, weight shape, stride, padding, output_padding, groups, dilation)
_CONVT_CASES = [
    ((2, 3, 5, 4), (3, 4, 3, 3), 1, 0, 0, 1, 1),
    ((2, 3, 5, 4), (3, 4, 3, 3), 2, 1, 1, 1, 1),
    ((1, 4, 4, 5), (4, 3, 3, 2), (2, 3), (1, 0), (1, 2), 2, 1),
    ((2, 2, 4, 4), (2, 3, 2, 2), 1, 1, 1, 1, 2),
    ((2, 3, 3, 3), (3, 2, 4, 4), 3, 2, 0, 1, 1),
    ((3, 4, 4), (3, 2, 3, 3), 2, 0, 1, 1, 1),  # unbatched
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", _CONVT_CASES)
def test_conv_transpose2d_matches_torch(case, dtype):
    xs, ws, stride, padding, out_pad, groups, dilation = case
    rng = np.random.default_rng(1)
    x, w = _rand(rng, xs, dtype), _rand(rng, ws, dtype)
    b = _rand(rng, ws[1] * groups, dtype)
    check_op(lambda m, x, w, b: m.nn.functional.conv_transpose2d(
        x, w, b, stride, padding, out_pad, groups, dilation), x, w, b, **_TOL[dtype])


def test_conv_gradcheck_and_double_backward():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 2, 3, 3)), \
        rng.standard_normal(4)
    check_gradcheck(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, 2, 1, 1, 2), x, w, b)
    check_gradcheck(lambda m, x, w: m.nn.functional.conv2d(x, w, None, 1, "same", 2), x,
                    rng.standard_normal((3, 4, 2, 3)))
    wt = rng.standard_normal((4, 3, 3, 3))
    check_gradcheck(lambda m, x, w: m.nn.functional.conv_transpose2d(x, w, None, 2, 1, 1), x, wt)


def test_conv_double_backward_matches_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    out = {}
    for lib in (ember, torch):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(xt, wt, stride=2, padding=1)
        gx, gw = lib.autograd.grad((y * y).sum(), (xt, wt), create_graph=True)
        assert type(gx.grad_fn).__name__ == "ConvolutionBackwardBackward0"
        hx, hw = lib.autograd.grad((gx.sin()).sum() + (gw * gw).sum(), (xt, wt))
        out[lib.__name__] = [t.detach().numpy() for t in (gx, gw, hx, hw)]
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(ember.zeros(2, 4, 5, 5), ember.zeros(8, 3, 3, 3)),
     "Given groups=1, weight of size [8, 3, 3, 3], expected input[2, 4, 5, 5] to have 3 "
     "channels, but got 4 channels instead"),
    (lambda: F.conv2d(ember.zeros(3, 5), ember.zeros(8, 3, 3, 3)),
     "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [3, 5]"),
    (lambda: F.conv2d(ember.zeros(4, 5, 5), ember.zeros(8, 3, 3, 3)),
     "expected input[1, 4, 5, 5] to have 3 channels"),
    (lambda: F.conv2d(ember.zeros(2, 6, 5, 5), ember.zeros(7, 3, 3, 3), groups=2),
     "Given groups=2, expected weight to be divisible by 2 at dimension 0, but got weight of "
     "size [[7, 3, 3, 3]] instead"),
    (lambda: F.conv2d(ember.zeros(2, 3, 2, 2), ember.zeros(8, 3, 3, 3)),
     "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size "
     "can't be greater than actual input size"),
    (lambda: F.conv2d(ember.zeros(2, 3, 5, 5), ember.zeros(8, 3, 3, 3), stride=2,
                      padding="same"), "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(ember.zeros(2, 3, 5, 5), ember.zeros(8, 3, 3, 3), padding="foo"),
     "Invalid padding string: 'foo'"),
    (lambda: F.conv2d(ember.zeros(2, 3, 5, 5), ember.zeros(8, 3, 3, 3), padding=-1),
     "negative padding is not supported"),
    (lambda: F.conv2d(ember.zeros(2, 3, 5, 5), ember.zeros(8, 3, 3, 3), stride=0),
     "non-positive stride is not supported"),
    (lambda: F.conv2d(ember.zeros(2, 3, 5, 5, dtype=ember.float64), ember.zeros(8, 3, 3, 3)),
     "expected scalar type Double but found Float"),
    (lambda: F.conv2d(ember.zeros(2, 3, 5, 5), ember.zeros(8, 3, 3, 3), ember.zeros(7)),
     "Given weight of size [8, 3, 3, 3], expected bias to be 1-dimensional with 8 elements, "
     "but got bias of size [7] instead"),
    (lambda: F.conv2d(ember.zeros(2, 3, 5, 5), ember.zeros(8, 3, 3, 3), stride=(1, 2, 3)),
     "expected stride to be a single integer value or a list of 2 values to match the "
     "convolution dimensions, but got stride=[1, 2, 3]"),
    (lambda: F.conv_transpose2d(ember.zeros(2, 3, 5, 5), ember.zeros(4, 3, 3, 3)),
     "Given transposed=1, weight of size [4, 3, 3, 3], expected input[2, 3, 5, 5] to have 4 "
     "channels, but got 3 channels instead"),
    (lambda: F.conv_transpose2d(ember.zeros(2, 3, 5, 5), ember.zeros(3, 3, 3, 3), stride=2,
                                output_padding=2),
     "output padding must be smaller than either stride or dilation, but got "
     "output_padding_height: 2 output_padding_width: 2 stride_height: 2 stride_width: 2 "
     "dilation_height: 1 dilation_width: 1"),
])
def test_conv_errors_match_torch(call, message):
    with pytest.raises(RuntimeError) as info:
        call()
    assert message in str(info.value)


def test_conv_modules_match_torch_with_copied_weights():
    torch = torch_or_skip()
    rng = np.random.default_rng(4)
    configs = [
        (nn.Conv2d, torch.nn.Conv2d, (3, 6, 3), dict(stride=2, padding=1)),
        (nn.Conv2d, torch.nn.Conv2d, (4, 6, (3, 2)), dict(padding="same", groups=2, bias=False)),
        (nn.Conv2d, torch.nn.Conv2d, (3, 4, 3), dict(padding=2, padding_mode="reflect")),
        (nn.Conv2d, torch.nn.Conv2d, (3, 4, 3), dict(padding=(1, 2), padding_mode="replicate")),
        (nn.Conv2d, torch.nn.Conv2d, (3, 4, 3), dict(padding=1, padding_mode="circular")),
        (nn.Conv2d, torch.nn.Conv2d, (3, 4, 4), dict(padding="same", padding_mode="reflect")),
        (nn.ConvTranspose2d, torch.nn.ConvTranspose2d, (3, 4, 3),
         dict(stride=2, padding=1, output_padding=1)),
    ]
    for e_cls, t_cls, args, kwargs in configs:
        t = t_cls(*args, **kwargs).double()
        e = e_cls(*args, **kwargs).double()
        e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
        assert repr(e) == repr(t)
        x = rng.standard_normal((2, args[0], 7, 6))
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = e(xe), t(xt)
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), atol=1e-10)
        g = rng.standard_normal(tuple(yt.shape))
        ye.backward(ember.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(e.weight.grad.numpy(), t.weight.grad.numpy(), atol=1e-10)


def test_conv_transpose_output_size():
    torch = torch_or_skip()
    for lib in (ember, torch):
        m = lib.nn.ConvTranspose2d(3, 4, 3, stride=2)
        assert tuple(m(lib.zeros(2, 3, 5, 5), output_size=[12, 12]).shape) == (2, 4, 12, 12)
        assert tuple(m(lib.zeros(2, 3, 5, 5), output_size=[2, 4, 11, 12]).shape) == (2, 4, 11, 12)
        with pytest.raises(ValueError, match=r"requested an output size of \[13, 13\], but valid "
                                             r"sizes range from \[11, 11\] to \[12, 12\]"):
            m(lib.zeros(2, 3, 5, 5), output_size=[13, 13])


def test_conv_module_reprs_and_errors_match_torch():
    torch = torch_or_skip()
    cases = [
        ("Conv2d", (3, 8, 3), {}),
        ("Conv2d", (3, 8, (3, 5)), dict(stride=2, padding=1, dilation=2, bias=False,
                                        padding_mode="reflect")),
        ("Conv2d", (4, 8, 1), dict(padding="same", groups=2)),
        ("Conv2d", (3, 8, 3), dict(padding="valid")),
        ("ConvTranspose2d", (4, 8, 3), dict(stride=2, padding=1, output_padding=1, groups=2,
                                            bias=False, dilation=2)),
    ]
    for name, args, kwargs in cases:
        assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args,
                                                                                        **kwargs))
    for kwargs, message in [(dict(groups=4), "out_channels must be divisible by groups"),
                            (dict(groups=0), "groups must be a positive integer"),
                            (dict(padding="same", stride=2),
                             "padding='same' is not supported for strided convolutions"),
                            (dict(padding="bad"), "Invalid padding string 'bad'")]:
        for lib in (nn, torch.nn):
            with pytest.raises(ValueError, match=message):
                lib.Conv2d(4, 6, 3, **kwargs)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for '
                                         'ConvTranspose2d'):
        nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect")


def test_conv_default_init_bounds_and_state_dict():
    torch = torch_or_skip()
    ember.manual_seed(0)
    m = nn.Conv2d(16, 32, 3)
    fan_in = 16 * 9
    # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as does the bias
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.detach().numpy()
    assert w.shape == (32, 16, 3, 3) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    assert list(m.state_dict()) == list(torch.nn.Conv2d(16, 32, 3).state_dict())
    t = nn.ConvTranspose2d(16, 8, 3, groups=2)
    assert tuple(t.weight.shape) == (16, 4, 3, 3)
    # ConvTranspose's fan_in is computed from its (in, out/groups, ...) weight, as in torch
    assert np.abs(t.bias.detach().numpy()).max() <= 1 / math.sqrt(4 * 9)


def test_conv_is_vectorised_im2col():
    """The forward is a few whole-array calls: its cost must not scale with batch or pixels the
    way a Python loop would (a 64x larger problem may cost at most ~64x + overhead)."""
    import time

    small = ember.randn(1, 8, 8, 8), ember.randn(8, 8, 3, 3)
    large = ember.randn(8, 8, 64, 64), ember.randn(8, 8, 3, 3)

    def timed(x, w):
        t = time.perf_counter()
        for _ in range(3):
            F.conv2d(x, w, padding=1)
        return time.perf_counter() - t

    timed(*small)
    # 512x more output pixels; a per-pixel Python loop would take seconds
    assert timed(*large) < 2.0


# -- pooling --------------------------------------------------------------------------------------

_POOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=1),
    dict(kernel_size=3, stride=[], padding=1),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 9, 8)])
@pytest.mark.parametrize("case", _POOL_CASES)
def test_max_pool2d_matches_torch(case, shape, dtype):
    x = _rand(np.random.default_rng(5), shape, dtype)
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, **case), x, **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, **case, return_indices=True), x,
             **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, **case, dilation=(1, 2)), x,
             **_TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", _POOL_CASES)
def test_avg_pool2d_matches_torch(case, dtype):
    x = _rand(np.random.default_rng(6), (2, 3, 7, 6), dtype)
    for extra in (dict(), dict(count_include_pad=False), dict(divisor_override=3)):
        check_op(lambda m, x: m.nn.functional.avg_pool2d(x, **case, **extra), x, **_TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", [1, (1, 1), (2, 3), (5, 4), (None, 2), (7, 6), 3])
def test_adaptive_pools_match_torch(size, dtype):
    x = _rand(np.random.default_rng(7), (2, 3, 7, 6), dtype)
    check_op(lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, size), x, **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.adaptive_max_pool2d(x, size, True), x, **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, size), x[0], **_TOL[dtype])


def test_max_pool_ties_and_nan_pick_torch_indices():
    rng = np.random.default_rng(8)
    ties = rng.integers(0, 3, (2, 2, 6, 6)).astype(np.float64)  # many equal maxima
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, 3, 1, 1, return_indices=True), ties)
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, 2, return_indices=True), ties)
    check_op(lambda m, x: m.nn.functional.adaptive_max_pool2d(x, 4, True), ties)
    nan = np.array([[[[1.0, np.nan, 3.0, np.nan, 2.0, 0.0]]]])
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, (1, 6), return_indices=True), nan)
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, (1, 3), return_indices=True), nan)


def test_pool_gradcheck_and_double_backward():
    x = np.random.default_rng(9).standard_normal((1, 2, 5, 5))
    for f in (lambda m, x: m.nn.functional.max_pool2d(x, 3, 2, 1),
              lambda m, x: m.nn.functional.max_pool2d(x, 2, 1, dilation=2),
              lambda m, x: m.nn.functional.avg_pool2d(x, 3, 2, 1, True, False),
              lambda m, x: m.nn.functional.avg_pool2d(x, 2, 1, 1, divisor_override=3),
              lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, 3),
              lambda m, x: m.nn.functional.adaptive_max_pool2d(x, (2, 3))):
        check_gradcheck(f, x)


def test_pool_double_backward_names_match_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(10).standard_normal((1, 2, 6, 6))
    for f in (lambda m, x: m.nn.functional.max_pool2d(x, 2),
              lambda m, x: m.nn.functional.avg_pool2d(x, 3, 1, 1),
              lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, 4)):
        names = []
        for lib in (ember, torch):
            xt = lib.tensor(x, requires_grad=True)
            (g,) = lib.autograd.grad(f(lib, xt).pow(2).sum(), (xt,), create_graph=True)
            names.append(type(g.grad_fn).__name__)
        assert names[0] == names[1]


@pytest.mark.parametrize("call, exc, message", [
    (lambda m: m.nn.functional.max_pool2d(m.zeros(2, 3, 6, 6), 3, padding=2), RuntimeError,
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and "
     "dilation=1"),
    (lambda m: m.nn.functional.max_pool2d(m.zeros(5, 5), 3), RuntimeError,
     "non-empty 3D or 4D (batch mode) tensor expected for input"),
    (lambda m: m.nn.functional.max_pool2d(m.zeros(2, 2, 2, 2), 3), RuntimeError,
     "Given input size: (2x2x2). Calculated output size: (2x0x0). Output size is too small"),
    (lambda m: m.nn.functional.avg_pool2d(m.zeros(2, 2, 2, 2), 3), RuntimeError,
     "Given input size: (2x2x2). Calculated output size: (2x0x0). Output size is too small"),
    (lambda m: m.nn.functional.max_pool2d(m.zeros(2, 3, 6, 6), 2, stride=0), RuntimeError,
     "stride should not be zero"),
    (lambda m: m.nn.functional.max_pool2d(m.zeros(2, 3, 6, 6), (2, 2, 2)), RuntimeError,
     "max_pool2d: kernel_size must either be a single int, or a tuple of two ints"),
    (lambda m: m.nn.functional.max_pool2d(m.zeros(2, 3, 6, 6), 2, dilation=0), RuntimeError,
     "dilation should be greater than zero, but got dilationH: 0 dilationW: 0"),
    (lambda m: m.nn.functional.avg_pool2d(m.zeros(2, 3, 6, 6), 2, divisor_override=0),
     RuntimeError, "divisor must be not zero"),
    (lambda m: m.nn.functional.adaptive_avg_pool2d(m.zeros(5, 5), 3), RuntimeError,
     "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [5, 5]"),
    (lambda m: m.nn.functional.adaptive_avg_pool2d(m.zeros(2, 3, 5, 5), (3,)), RuntimeError,
     "adaptive_avg_pool2d: output_size must be 2"),
    (lambda m: m.nn.functional.adaptive_avg_pool2d(m.zeros(2, 3, 5, 5, dtype=m.int64), 2),
     NotImplementedError, "\"adaptive_avg_pool2d\" not implemented for 'Long'"),
])
def test_pool_errors_match_torch(call, exc, message):
    torch = torch_or_skip()
    for lib in (ember, torch):
        with pytest.raises(exc) as info:
            call(lib)
        assert message in str(info.value)


def test_pool_modules_match_torch():
    torch = torch_or_skip()
    cases = [("MaxPool2d", (3,), {}),
             ("MaxPool2d", ((3, 2),), dict(stride=1, padding=1, dilation=2, ceil_mode=True)),
             ("AvgPool2d", (3,), {}),
             ("AvgPool2d", ((3, 2), 1, 1, True, False, 2), {}),
             ("AdaptiveAvgPool2d", ((1, None),), {}),
             ("AdaptiveAvgPool2d", (1,), {}),
             ("AdaptiveMaxPool2d", (2,), {})]
    x = np.random.default_rng(11).standard_normal((2, 3, 8, 7))
    for name, args, kwargs in cases:
        e, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
        assert repr(e) == repr(t)
        np.testing.assert_allclose(e(ember.tensor(x)).numpy(), t(torch.tensor(x)).numpy(),
                                   atol=1e-12)
    e, t = nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)
    (_, ie), (_, it) = e(ember.tensor(x)), t(torch.tensor(x))
    assert ie.dtype == ember.int64 and np.array_equal(ie.numpy(), it.numpy())
    assert not ie.requires_grad


def test_integer_pooling_matches_torch():
    x = np.array([[[[-3, -4, 3, 4, 7], [1, -8, 2, 5, -1]]]])
    check_op(lambda m, x: m.nn.functional.avg_pool2d(m.tensor(x), (1, 2)), x, grad=False)
    check_op(lambda m, x: m.nn.functional.avg_pool2d(m.tensor(x), (2, 3), 1, (1, 1)), x,
             grad=False)
    check_op(lambda m, x: m.nn.functional.max_pool2d(m.tensor(x), (2, 2), 1, 1), x, grad=False)


def test_pooling_keeps_float32():
    x = ember.randn(2, 3, 8, 8, requires_grad=True)
    for y in (F.max_pool2d(x, 2), F.avg_pool2d(x, 2), F.adaptive_avg_pool2d(x, 3),
              F.conv2d(x, ember.randn(4, 3, 3, 3))):
        assert y.dtype == ember.float32
        (g,) = ember.autograd.grad(y.sum(), x)
        assert g.dtype == ember.float32


def test_empty_batch_matches_torch():
    x = np.zeros((0, 3, 5, 5))
    for f in (lambda m, x: m.nn.functional.conv2d(x, m.ones(4, 3, 3, 3, dtype=m.float64)),
              lambda m, x: m.nn.functional.conv_transpose2d(x, m.ones(3, 2, 3, 3,
                                                                     dtype=m.float64)),
              lambda m, x: m.nn.functional.max_pool2d(x, 3, 1, 1),
              lambda m, x: m.nn.functional.avg_pool2d(x, 2),
              lambda m, x: m.nn.functional.adaptive_avg_pool2d(x, 2),
              lambda m, x: m.nn.functional.adaptive_max_pool2d(x, 2),
              lambda m, x: m.nn.functional.interpolate(x, scale_factor=2, mode="bilinear")):
        check_op(f, x)


# -- the fast paths: batch chunks, 1x1 convolutions, separable pooling ----------------------------

# 1x1 convolutions skip im2col (a strided slice and one batched GEMM)
_POINTWISE_CASES = [
    ((3, 4, 7, 5), (6, 4, 1, 1), 2, 0, 1, 1),  # odd sizes: the last row/column is skipped
    ((2, 6, 6, 6), (4, 3, 1, 1), (1, 2), 0, 1, 2),  # grouped, stride in one dim only
    ((2, 4, 5, 5), (4, 4, 1, 1), 1, 0, 3, 1),  # dilation is moot for 1x1
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", _POINTWISE_CASES)
def test_pointwise_conv_matches_torch(case, dtype):
    xs, ws, stride, padding, dilation, groups = case
    rng = np.random.default_rng(11)
    x, w, b = _rand(rng, xs, dtype), _rand(rng, ws, dtype), _rand(rng, ws[0], dtype)
    check_op(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups),
             x, w, b, **_TOL[dtype])
    wt = _rand(rng, (xs[1], ws[0] // groups, 1, 1), dtype)
    check_op(lambda m, x, w: m.nn.functional.conv_transpose2d(x, w, None, stride, 0, 0, groups),
             x, wt, **_TOL[dtype])
    check_op(lambda m, x, w: m.nn.functional.conv_transpose2d(x, w, None, 2, 0, 1, groups), x, wt,
             **_TOL[dtype])


def test_pointwise_conv_gradcheck_and_double_backward():
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((6, 2, 1, 1))
    check_gradcheck(lambda m, x, w: m.nn.functional.conv2d(x, w, None, 2, 0, 1, 2), x, w)
    check_gradcheck(lambda m, x, w: m.nn.functional.conv_transpose2d(x, w, None, 2, 0, 1), x,
                    rng.standard_normal((4, 3, 1, 1)))


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Every sample its own im2col GEMM, as a large batch runs."""
    from ember.backend import numpy_conv

    monkeypatch.setattr(numpy_conv, "_CHUNK_BYTES", 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", _CONV_CASES[:5] + _CONV_CASES[6:9])
def test_conv_in_batch_chunks_matches_torch(tiny_chunks, case, dtype):
    xs, ws, stride, padding, dilation, groups = case
    xs = (3,) + xs[1:]
    rng = np.random.default_rng(13)
    x, w, b = _rand(rng, xs, dtype), _rand(rng, ws, dtype), _rand(rng, ws[0], dtype)
    check_op(lambda m, x, w, b: m.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups),
             x, w, b, **_TOL[dtype])


@pytest.mark.parametrize("case", _CONVT_CASES[:5])
def test_conv_transpose_in_batch_chunks_matches_torch(tiny_chunks, case):
    xs, ws, stride, padding, out_pad, groups, dilation = case
    rng = np.random.default_rng(14)
    x, w = _rand(rng, (3,) + xs[1:], np.float64), _rand(rng, ws, np.float64)
    check_op(lambda m, x, w: m.nn.functional.conv_transpose2d(
        x, w, None, stride, padding, out_pad, groups, dilation), x, w, **_TOL[np.float64])


def test_conv_in_batch_chunks_double_backward(tiny_chunks):
    test_conv_gradcheck_and_double_backward()
    test_conv_double_backward_matches_torch()


# Stride-1 convolutions: the row-padded ("flat") im2col, and the input gradient computed as a
# convolution with the flipped kernel instead of a col2im
@pytest.fixture
def flat_always(monkeypatch):
    """The row-padded im2col wherever the stride is 1, however narrow the image, and the input
    gradient as the flipped-kernel convolution however few the channels."""
    from ember.backend import numpy_conv

    monkeypatch.setattr(numpy_conv, "_FLAT_WASTE", 0)
    monkeypatch.setattr(numpy_conv, "_MIN_FLIPPED_ROWS", 0)


_STRIDE1_CASES = [c for c in _CONV_CASES if c[2] == 1] + [
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 3, 1, 1),  # padding past the kernel: col2im stays
    ((2, 2, 7, 9), (4, 2, 2, 3), 1, (2, 1), (1, 3), 1),  # dilated, unequal sides
    ((2, 4, 6, 6), (4, 1, 3, 3), 1, 1, 1, 4),  # depthwise
    ((1, 2, 4, 4), (3, 2, 3, 3), 1, 0, 1, 1),  # no padding
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", _STRIDE1_CASES)
@pytest.mark.parametrize("chunks", [False, True])
def test_stride1_flat_conv_matches_torch(flat_always, monkeypatch, case, dtype, chunks):
    if chunks:
        from ember.backend import numpy_conv

        monkeypatch.setattr(numpy_conv, "_CHUNK_BYTES", 1)
    _check_stride1_conv(case, dtype)


def _check_stride1_conv(case, dtype):
    """conv2d, and conv_transpose2d at stride 1 (its forward is the input gradient), against
    torch."""
    test_conv2d_matches_torch(case, dtype)
    xs, ws, stride, padding, dilation, groups = case
    if isinstance(padding, str):
        return
    rng = np.random.default_rng(21)  # conv_transpose2d's forward: there the flipped kernel
    x = _rand(rng, xs[:-3] + (ws[0],) + xs[-2:], dtype)
    check_op(lambda m, x, w: m.nn.functional.conv_transpose2d(
        x, w, None, 1, padding, 0, groups, dilation), x, _rand(rng, ws, dtype), **_TOL[dtype])


def test_stride1_flat_conv_double_backward(flat_always):
    test_conv_gradcheck_and_double_backward()
    rng = np.random.default_rng(22)
    x, w = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((4, 3, 3, 2))
    check_gradcheck(lambda m, x, w: m.nn.functional.conv2d(x, w, None, 1, (1, 2), (2, 1)), x, w)
    check_gradcheck(lambda m, x, w: m.nn.functional.conv_transpose2d(x, w, None, 1, 1), x,
                    rng.standard_normal((3, 2, 3, 3)))


@pytest.mark.host_only  # (the NumPy path or the CPU device itself)
def test_stride1_input_gradient_skips_col2im(monkeypatch):
    """At ResNet's sizes the flat path is taken, and the input gradient never scatter-adds,
    except where its flipped-kernel convolution would need a crop."""
    from ember.backend import WindowGeometry as Geo, numpy_conv

    wide = Geo((3, 3), (1, 1), (1, 1), (1, 1), 1, (56, 56), (56, 56))
    assert numpy_conv._flat_width(wide) == 58
    assert numpy_conv._flat_width(Geo((3, 3), (1, 1), (1, 1), (1, 1), 1, (7, 7), (7, 7))) == 0
    assert numpy_conv._flat_width(Geo((3, 3), (2, 2), (1, 1), (1, 1), 1, (56, 56), (28, 28))) == 0
    assert Geo((3, 3), (1, 1), (3, 3), (1, 1), 1, (5, 5), (7, 7)).transposed() is None

    def refuse(*args, **kwargs):
        raise AssertionError("col2im ran")

    monkeypatch.setattr(numpy_conv, "col2im", refuse)
    rng = np.random.default_rng(23)
    x, w = rng.standard_normal((2, 16, 24, 24)), rng.standard_normal((5, 16, 3, 3))
    check_op(lambda m, x, w: m.nn.functional.conv2d(x, w, None, 1, 1), x, w)
    with pytest.raises(AssertionError, match="col2im ran"):
        check_op(lambda m, x, w: m.nn.functional.conv2d(x, w, None, 2, 1), x, w)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [
    dict(kernel_size=(1, 3), stride=(1, 2)),  # one kernel row: no second stage
    dict(kernel_size=(3, 1), stride=2, padding=(1, 0)),  # one kernel column
    dict(kernel_size=(2, 3), stride=1, dilation=(2, 1), padding=1),
    dict(kernel_size=(12, 11), stride=3),  # 132 offsets: int16 argmax
])
def test_max_pool2d_separable_cases_match_torch(case, dtype):
    rng = np.random.default_rng(15)
    x = _rand(rng, (2, 3, 17, 16), dtype)
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, **case, return_indices=True), x,
             **_TOL[dtype])
    ties = rng.integers(0, 2, (2, 3, 17, 16)).astype(dtype)  # first maximum in row-major order
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, **case, return_indices=True), ties,
             **_TOL[dtype])
    nan = x.copy()
    nan.reshape(-1)[::7] = np.nan  # the last NaN of each window wins
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, **case, return_indices=True), nan,
             **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, **case), nan, **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.avg_pool2d(x, case["kernel_size"], case["stride"]), x,
             **_TOL[dtype])


@pytest.mark.parametrize("case", _CONV_CASES)
def test_conv_weight_gradient_in_weight_layout(monkeypatch, case):
    """Big weights get their gradient from g @ cols^T, small ones from (cols @ g^T)^T: the first
    path, forced for every weight, against torch."""
    from ember.backend import numpy_conv

    monkeypatch.setattr(numpy_conv, "_DIRECT_WEIGHT", 0)
    test_conv2d_matches_torch(case, np.float64)
    if case is _CONV_CASES[0]:
        test_conv_gradcheck_and_double_backward()
        test_conv_double_backward_matches_torch()


# Stride-1 convolutions over large images: per-image kernel-row GEMMs on a KW-fold stack of the
# padded image, no im2col
@pytest.fixture(params=["one band", "a band per output row"])
def rows_always(monkeypatch, request):
    """The kernel-row GEMMs for every stride-1, one-group convolution, however small: the whole
    image in one stack, or (a stack of at most 1 byte) one output row at a time."""
    from ember.backend import numpy_conv

    if request.param != "one band":
        monkeypatch.setattr(numpy_conv, "_ROWS_STACK_BYTES", 1)
    monkeypatch.setattr(numpy_conv, "_ROWS_MIN_CHANNELS", 0)
    monkeypatch.setattr(numpy_conv, "_ROWS_MIN_COLS_FORWARD", 0)
    monkeypatch.setattr(numpy_conv, "_ROWS_MIN_COLS_WEIGHT", 0)
    monkeypatch.setattr(numpy_conv, "_MIN_FLIPPED_ROWS", 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", _STRIDE1_CASES)
def test_stride1_row_gemm_conv_matches_torch(rows_always, case, dtype):
    _check_stride1_conv(case, dtype)


def test_stride1_row_gemm_conv_double_backward(rows_always):
    test_stride1_flat_conv_double_backward(None)
    test_conv_double_backward_matches_torch()


@pytest.mark.host_only  # (the NumPy path or the CPU device itself)
def test_row_gemms_take_resnets_wide_layers(monkeypatch):
    from ember.backend import WindowGeometry, numpy_conv as conv
    from ember.backend.numpy_conv import _rows_width

    def geo(size, kernel=3, stride=1, pad=1):
        out = (size + 2 * pad - kernel) // stride + 1
        return WindowGeometry((kernel,) * 2, (stride,) * 2, (pad,) * 2, (1, 1), 1, (size,) * 2,
                         (out,) * 2)

    assert _rows_width(geo(56), 64, conv._ROWS_MIN_COLS_FORWARD) == 58
    assert _rows_width(geo(32), 64, conv._ROWS_MIN_COLS_FORWARD) == 34  # CIFAR's first stage
    assert _rows_width(geo(28), 128, conv._ROWS_MIN_COLS_FORWARD) == 30
    assert _rows_width(geo(16), 128, conv._ROWS_MIN_COLS_FORWARD) == 18  # CIFAR's second stage
    assert _rows_width(geo(14), 256, conv._ROWS_MIN_COLS_FORWARD) == 0
    assert _rows_width(geo(14), 256, conv._ROWS_MIN_COLS_WEIGHT) == 16
    assert _rows_width(geo(7), 512, conv._ROWS_MIN_COLS_WEIGHT) == 0
    assert _rows_width(geo(32), 3, conv._ROWS_MIN_COLS_FORWARD) == 0  # 3-channel stem: K = 9
    assert _rows_width(geo(56, stride=2), 64, 0) == 0
    calls = []
    for name in ("_forward_rows", "_weight_rows"):
        real = getattr(conv, name)
        monkeypatch.setattr(conv, name, lambda *a, _real=real, _name=name: calls.append(_name)
                            or _real(*a))
    rng = np.random.default_rng(31)
    x, w = rng.standard_normal((2, 32, 32, 32)), rng.standard_normal((8, 32, 3, 3)) / 20
    check_op(lambda m, x, w: m.nn.functional.conv2d(x, w, None, 1, 1), x, w)
    assert "_forward_rows" in calls and "_weight_rows" in calls
