"""nn.functional against torch: activations (and their in-place forms), softmax's implicit dim,
dropout, embedding, one_hot and pad."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from ember.nn import functional as F
from helpers import check_gradcheck, check_op, torch_or_skip

_TOL = {np.float64: dict(atol=1e-10, rtol=1e-10), np.float32: dict(atol=1e-5, rtol=1e-4)}

_ACTIVATIONS = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {}), ("leaky_relu", dict(negative_slope=0.2)),
    ("leaky_relu", dict(negative_slope=-0.3)), ("gelu", {}), ("gelu", dict(approximate="tanh")),
    ("silu", {}), ("elu", {}), ("elu", dict(alpha=0.5)), ("selu", {}), ("celu", dict(alpha=2.0)),
    ("softplus", {}), ("softplus", dict(beta=2.0, threshold=3.0)), ("hardtanh", {}),
    ("hardtanh", dict(min_val=-0.5, max_val=2.0)), ("logsigmoid", {}), ("hardsigmoid", {}),
    ("hardswish", {}), ("mish", {}), ("threshold", dict(threshold=0.1, value=-2.0)),
    ("sigmoid", {}), ("tanh", {}), ("softsign", {}), ("tanhshrink", {}),
]


def _points(dtype):
    """Random values plus the kinks and edges where the subgradient choices matter."""
    rng = np.random.default_rng(0)
    edges = [0.0, -1.0, 1.0, -3.0, 3.0, 6.0, 0.1, 1.5, -0.5, 2.0, 20.0, -30.0, 40.0]
    return np.concatenate([rng.standard_normal(23) * 3, edges]).astype(dtype).reshape(4, 9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs", _ACTIVATIONS)
def test_activation_matches_torch(name, kwargs, dtype):
    x = _points(dtype)
    check_op(lambda m, x: getattr(m.nn.functional, name)(x, **kwargs), x, **_TOL[dtype])


_INPLACE = [("relu", {}), ("relu6", {}), ("leaky_relu", dict(negative_slope=0.2)), ("elu", {}),
            ("selu", {}), ("celu", dict(alpha=0.5)), ("hardtanh", {}), ("silu", {}),
            ("hardswish", {}), ("hardsigmoid", {}), ("mish", {}),
            ("threshold", dict(threshold=0.1, value=20.0))]


@pytest.mark.parametrize("name, kwargs", _INPLACE)
def test_inplace_activation_matches_torch(name, kwargs):
    x = _points(np.float64)
    check_op(lambda m, x: getattr(m.nn.functional, name)(x * 1, inplace=True, **kwargs), x)


def test_activation_gradgradcheck():
    x = _points(np.float64)[:, :6] * 0.9 + 0.05  # away from the kinks
    for name, kwargs in _ACTIVATIONS:
        check_gradcheck(lambda m, x: getattr(m.nn.functional, name)(x, **kwargs), x)


def test_activation_errors_match_torch():
    torch = torch_or_skip()
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
            lib.nn.functional.gelu(lib.zeros(2), approximate="foo")
        y = lib.nn.functional.leaky_relu(lib.zeros(2, requires_grad=True) * 1, -0.1, True)
        with pytest.raises(RuntimeError, match="In-place leakyReLu backward calculation is "
                                               "triggered with a negative slope"):
            y.sum().backward()


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 3, 4, 5)])
def test_softmax_implicit_dim_warns_like_torch(fn, shape):
    torch = torch_or_skip()
    x = np.random.default_rng(1).standard_normal(shape)
    results = []
    for lib in (ember, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results.append(getattr(lib.nn.functional, fn)(lib.tensor(x)).numpy())
        assert [str(w.message) for w in caught] == [
            f"Implicit dimension choice for {fn} has been deprecated. Change the call to include "
            "dim=X as an argument."]
    np.testing.assert_allclose(results[0], results[1], atol=1e-12)
    check_op(lambda m, x: getattr(m.nn.functional, fn)(x, dim=-1), x)
    check_op(lambda m, x: getattr(m.nn.functional, fn)(x, 0, dtype=m.float32), x, atol=1e-6)


# -- dropout ---------------------------------------------------------------------------------------


def test_dropout_statistics_and_scaling():
    ember.manual_seed(0)
    x = ember.ones(200, 300, requires_grad=True)
    y = F.dropout(x, 0.3)
    assert type(y.grad_fn).__name__ == "MulBackward0"
    values = np.unique(y.detach().numpy())
    np.testing.assert_allclose(values, [0.0, 1 / 0.7], rtol=1e-6)
    kept = (y.detach().numpy() != 0).mean()
    assert abs(kept - 0.7) < 0.01
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # gradient = mask
    # the same seed gives the same mask
    ember.manual_seed(0)
    np.testing.assert_array_equal(F.dropout(x, 0.3).detach().numpy(), y.detach().numpy())


def test_dropout_identity_cases_and_errors_match_torch():
    torch = torch_or_skip()
    for lib in (ember, torch):
        x = lib.randn(4, 5, requires_grad=True)
        assert lib.nn.functional.dropout(x, 0.5, training=False) is x
        assert lib.nn.functional.dropout(x, 0.0) is x
        y = lib.nn.functional.dropout(x, 1.0)
        assert type(y.grad_fn).__name__ == "MulBackward0" and not y.detach().numpy().any()
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, "
                                             "but got 1.5"):
            lib.nn.functional.dropout(x, 1.5)
        z = x * 1
        assert lib.nn.functional.dropout(z, 0.5, inplace=True) is z
        assert lib.dropout(x, 0.5, False) is x


def test_dropout2d_zeroes_whole_channels_and_warns_like_torch():
    torch = torch_or_skip()
    ember.manual_seed(1)
    y = F.dropout2d(ember.ones(8, 16, 3, 3), 0.5).numpy()
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2).all(-1))
    assert 0 < (per_channel == 0).all(-1).mean() < 1
    for lib in (ember, torch):
        with pytest.warns(UserWarning, match="dropout2d: Received a 3D input to dropout2d"):
            lib.nn.functional.dropout2d(lib.ones(2, 3, 4), 0.5)
        with pytest.warns(UserWarning, match="dropout2d: Received a 2-D input to dropout2d"):
            lib.nn.functional.dropout2d(lib.ones(2, 3), 0.5)


# -- embedding and one_hot -------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{}, dict(padding_idx=0), dict(padding_idx=-2),
                                    dict(scale_grad_by_freq=True),
                                    dict(padding_idx=3, scale_grad_by_freq=True)])
def test_embedding_matches_torch(kwargs):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((10, 4))
    idx = np.array([[1, 3, 3, 0], [8, 1, 1, 1]])
    check_op(lambda m, w: m.nn.functional.embedding(m.tensor(idx), w, **kwargs), w)
    check_op(lambda m, w: m.nn.functional.embedding(m.tensor(idx[0]).int(), w, **kwargs),
             w.astype(np.float32), atol=1e-6)
    if not kwargs:  # (padding_idx and scale_grad_by_freq change the gradient on purpose)
        check_gradcheck(lambda m, w: m.nn.functional.embedding(m.tensor(idx), w), w)


def test_embedding_max_norm_renormalises_in_place_like_torch():
    torch = torch_or_skip()
    w = np.random.default_rng(3).standard_normal((6, 3)) * 3
    idx = np.array([0, 2, 2, 5])
    out = []
    for lib in (ember, torch):
        weight = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.embedding(lib.tensor(idx), weight, max_norm=1.5, norm_type=3.0)
        y.sum().backward()
        out.append((y.detach().numpy(), weight.detach().numpy(), weight.grad.numpy()))
    for e, t in zip(*out):
        np.testing.assert_allclose(e, t, rtol=1e-6)


def test_embedding_and_one_hot_errors_match_torch():
    torch = torch_or_skip()
    for lib in (ember, torch):
        w = lib.randn(10, 3)
        with pytest.raises(IndexError, match="index out of range in self"):
            lib.nn.functional.embedding(lib.tensor([1, 12]), w)
        with pytest.raises(IndexError, match="index out of range in self"):
            lib.nn.functional.embedding(lib.tensor([1, -1]), w)
        with pytest.raises(RuntimeError, match="Expected tensor for argument #1 'indices' to have "
                                               "one of the following scalar types: Long, Int"):
            lib.nn.functional.embedding(lib.tensor([1.0, 2.0]), w)
        with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
            lib.nn.functional.embedding(lib.tensor([1, 2]), w, padding_idx=11)
        with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor of "
                                               "type LongTensor."):
            lib.nn.functional.one_hot(lib.tensor([1, 2]).int())
        with pytest.raises(RuntimeError, match="Class values must be non-negative."):
            lib.nn.functional.one_hot(lib.tensor([1, -2]))
        with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
            lib.nn.functional.one_hot(lib.tensor([1, 5]), 3)
        with pytest.raises(RuntimeError, match="Can not infer total number of classes from "
                                               "empty tensor."):
            lib.nn.functional.one_hot(lib.tensor([], dtype=lib.int64))


def test_one_hot_matches_torch():
    idx = np.array([[0, 2], [3, 1]])
    check_op(lambda m: m.nn.functional.one_hot(m.tensor(idx)), grad=False)
    check_op(lambda m: m.nn.functional.one_hot(m.tensor(idx), 6), grad=False)
    check_op(lambda m: m.nn.functional.one_hot(m.tensor(2), 4), grad=False)


# -- pad -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pad, mode, shape", [
    ((1, 2), "constant", (2, 3, 4)), ((1, 1, 2, 0), "constant", (2, 3, 4, 5)),
    ((-1, 2, 0, -2), "constant", (2, 3, 4, 5)), ((1, 1, 1, 1, 1, 1), "constant", (2, 3, 4, 5)),
    ((2, 1), "reflect", (2, 3, 4)), ((2, 1), "reflect", (3, 5)),
    ((1, 2, 3, 0), "reflect", (2, 3, 4, 5)), ((1, 1, 1, 1, 1, 1), "reflect", (2, 3, 4, 5)),
    ((2, 1), "replicate", (2, 3, 4)), ((1, 2, 3, 0), "replicate", (2, 3, 4, 5)),
    ((1, 2, 3, 0), "replicate", (3, 4, 5)), ((1, 2, 2, 1), "circular", (2, 3, 4, 5)),
    ((2, 1), "circular", (2, 3, 4)), ((-1, 1, 2, -2), "circular", (2, 3, 4, 5)),
])
def test_pad_matches_torch(pad, mode, shape, dtype):
    x = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    check_op(lambda m, x: m.nn.functional.pad(x, pad, mode), x, **_TOL[dtype])
    if mode == "constant":
        check_op(lambda m, x: m.nn.functional.pad(x, pad, value=2.5), x, **_TOL[dtype])


def test_pad_gradgradcheck():
    x = np.random.default_rng(5).standard_normal((1, 2, 3, 4))
    for mode in ("constant", "reflect", "replicate", "circular"):
        check_gradcheck(lambda m, x: m.nn.functional.pad(x, (1, 2, 2, 1), mode), x)


@pytest.mark.parametrize("call, exc, message", [
    (lambda m: m.nn.functional.pad(m.zeros(4, 5), (1,)), RuntimeError,
     "Padding length must be divisible by 2"),
    (lambda m: m.nn.functional.pad(m.zeros(4, 5), (5, 5), mode="reflect"), RuntimeError,
     "Argument #4: Padding size should be less than the corresponding input dimension, but got: "
     "padding (5, 5) at dimension 1 of input [4, 5]"),
    (lambda m: m.nn.functional.pad(m.zeros(4, 5), (1, 1, 1, 1, 1, 1)), RuntimeError,
     "Padding length should be less than or equal to two times the input dimension but got "
     "padding length 6 and input of dimension 2"),
    (lambda m: m.nn.functional.pad(m.zeros(4, 5), (1, 1), mode="foo"), NotImplementedError,
     "Unrecognised padding mode foo"),
    (lambda m: m.nn.functional.pad(m.zeros(4, 5), (1, 1), value=3, mode="reflect"), RuntimeError,
     'Padding mode "reflect" doesn\'t take in value argument'),
    (lambda m: m.nn.functional.pad(m.zeros(2, 3, 4, 5), (1, 1), mode="reflect"),
     NotImplementedError, "Padding size 2 is not supported for 4D input tensor."),
    (lambda m: m.nn.functional.pad(m.zeros(2, 3, 4, 5), (-3, -3)), RuntimeError,
     "narrow(): length must be non-negative."),
])
def test_pad_errors_match_torch(call, exc, message):
    torch = torch_or_skip()
    for lib in (ember, torch):
        with pytest.raises(exc) as info:
            call(lib)
        assert message in str(info.value)


_INTERPOLATE = [
    dict(scale_factor=2), dict(size=(3, 4)), dict(size=(11, 13)), dict(scale_factor=(0.6, 1.3)),
    dict(scale_factor=1.7, mode="nearest-exact"), dict(scale_factor=2, mode="bilinear"),
    dict(size=(9, 3), mode="bilinear", align_corners=True), dict(size=(3, 4), mode="area"),
    dict(scale_factor=0.5, mode="bilinear"),
    dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", _INTERPOLATE)
def test_interpolate_matches_torch(kwargs, dtype):
    x = np.random.default_rng(7).standard_normal((2, 3, 5, 7)).astype(dtype)
    check_op(lambda m, x: m.nn.functional.interpolate(x, **kwargs), x, **_TOL[dtype])
    if dtype == np.float64:
        check_gradcheck(lambda m, x: m.nn.functional.interpolate(x, **kwargs), x[:1, :1])


def test_interpolate_errors_match_torch():
    torch = torch_or_skip()
    x = np.zeros((1, 1, 4, 4))
    for lib in (ember, torch):
        with pytest.raises(ValueError, match="align_corners option can only be set with the "
                                             "interpolating modes"):
            lib.nn.functional.interpolate(lib.tensor(x), scale_factor=2, align_corners=True)
        with pytest.raises(ValueError, match="only one of size or scale_factor should be "
                                             "defined"):
            lib.nn.functional.interpolate(lib.tensor(x), size=2, scale_factor=2)
        with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
            lib.nn.functional.interpolate(lib.tensor(x))


def test_top_level_functions_match_torch():
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    check_op(lambda m, x, w: m.conv2d(x, w, None, 1, 1), x, w)
    check_op(lambda m, x: m.max_pool2d(x, 2), x)
    check_op(lambda m, x: m.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, False), x)
    check_op(lambda m, x: m.layer_norm(x, (6,)), x)
    check_op(lambda m, x: m.group_norm(x, 3), x)
    check_op(lambda m, x: m.constant_pad_nd(x, (1, 2), 1.5), x)
    check_op(lambda m, x: m.selu(x), x)
    check_op(lambda m, x: m.celu(x, 0.5), x)
    check_op(lambda m, x: m.threshold(x, 0.2, -1.0), x)
    check_op(lambda m, w: m.embedding(w[0, 0], m.tensor([[0, 2], [1, 1]])), w)


@pytest.mark.parametrize("call, exc, message", [
    (lambda m: m.nn.functional.hardtanh(m.zeros(2), 2.0, 1.0), ValueError,
     "min_val cannot be greater than max_val"),
    (lambda m: m.nn.functional.celu(m.zeros(2), 0.0), RuntimeError,
     "ZeroDivisionError: alpha cannot be 0 for CELU"),
    (lambda m: m.nn.functional.gelu(m.zeros(2, dtype=m.int64)), NotImplementedError,
     "\"GeluKernelImpl\" not implemented for 'Long'"),
    (lambda m: m.nn.functional.silu(m.zeros(2, dtype=m.int64)), NotImplementedError,
     "\"silu_cpu\" not implemented for 'Long'"),
])
def test_more_activation_errors_match_torch(call, exc, message):
    torch = torch_or_skip()
    for lib in (ember, torch):
        with pytest.raises(exc) as info:
            call(lib)
        assert message in str(info.value)
