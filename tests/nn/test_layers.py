"""Layer modules against torch: reprs, forward and backward with copied weights, train/eval
behaviour (dropout), default initialisation (embedding) and state-dict keys."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from ember import nn
from helpers import torch_or_skip

_ACTIVATION_MODULES = [
    ("ReLU", (), {}), ("ReLU", (), dict(inplace=True)), ("ReLU6", (), {}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2, True), {}), ("GELU", (), {}),
    ("GELU", ("tanh",), {}),
    ("SiLU", (), {}), ("SiLU", (True,), {}), ("Sigmoid", (), {}), ("Tanh", (), {}),
    ("Softmax", (), dict(dim=1)), ("LogSoftmax", (), dict(dim=-1)), ("Softmin", (1,), {}),
    ("ELU", (), {}), ("ELU", (0.5, True), {}), ("CELU", (), {}), ("SELU", (), {}),
    ("SELU", (True,), {}), ("Softplus", (), {}), ("Softplus", (2, 10), {}), ("Hardtanh", (), {}),
    ("Hardtanh", (-2, 2, True), {}), ("Mish", (), {}), ("Mish", (True,), {}),
    ("Hardswish", (), {}), ("Hardswish", (True,), {}), ("Hardsigmoid", (), {}),
    ("LogSigmoid", (), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}),
    ("Threshold", (0.1, 20.0), {}), ("Identity", (), {}),
]


@pytest.mark.parametrize("name, args, kwargs", _ACTIVATION_MODULES)
def test_activation_modules_match_torch(name, args, kwargs):
    torch = torch_or_skip()
    e, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(e) == repr(t)
    x = np.random.default_rng(0).standard_normal((3, 4, 2)) * 3
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = e(xe * 1), t(xt * 1)
    e_name = type(ye.grad_fn).__name__ if ye.grad_fn is not None else None
    t_name = type(yt.grad_fn).__name__ if yt.grad_fn is not None else None
    assert e_name == t_name
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    ye.pow(2).sum().backward()
    yt.pow(2).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_softmax_module_without_dim_warns_like_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    out = []
    for lib in (ember, torch):
        m = lib.nn.Softmax()
        assert repr(m) == "Softmax(dim=None)"
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            out.append(m(lib.tensor(x)).numpy())
    np.testing.assert_allclose(out[0], out[1], atol=1e-12)


def test_dropout_modules_train_and_eval():
    torch = torch_or_skip()
    for name, args in [("Dropout", ()), ("Dropout", (0.2, True)), ("Dropout2d", ()),
                       ("Dropout1d", (0.1,))]:
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    m = nn.Dropout(0.25)
    x = ember.ones(50, 40)
    ember.manual_seed(3)
    y = m(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    m.eval()
    assert m(x) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got -0.1"):
        nn.Dropout(-0.1)
    d2 = nn.Dropout2d(0.5)
    y = d2(ember.ones(4, 6, 3, 3)).numpy().reshape(24, 9)
    assert np.all((y == 0).all(1) | (y == 2).all(1))
    d1 = nn.Dropout1d(0.5)
    y = d1(ember.ones(4, 6, 5)).numpy().reshape(24, 5)
    assert np.all((y == 0).all(1) | (y == 2).all(1))


def test_flatten_unflatten_match_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    for name, args in [("Flatten", ()), ("Flatten", (0, 2)), ("Flatten", (2,)),
                       ("Unflatten", (1, (1, 3))), ("Unflatten", (-1, [5, 1]))]:
        e, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(e) == repr(t)
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = e(xe), t(xt)
        assert tuple(ye.shape) == tuple(yt.shape)
        assert type(ye.grad_fn).__name__ == type(yt.grad_fn).__name__
        np.testing.assert_array_equal(ye.detach().numpy(), yt.detach().numpy())
    for lib in (nn, torch.nn):
        with pytest.raises(TypeError, match="unflattened_size must be tuple of ints, but found "
                                            "element of type float at pos 1"):
            lib.Unflatten(1, (2, 1.5))


def test_embedding_module_init_repr_and_parity():
    torch = torch_or_skip()
    ember.manual_seed(0)
    m = nn.Embedding(1000, 16, padding_idx=3)
    w = m.weight.detach().numpy()
    assert w.dtype == np.float32 and m.weight.requires_grad
    assert not w[3].any()  # the padding row starts at zero
    others = np.delete(w, 3, axis=0)
    assert abs(others.mean()) < 0.02 and abs(others.std() - 1) < 0.02  # N(0, 1)
    full = dict(padding_idx=0, max_norm=1.0, norm_type=3.0, scale_grad_by_freq=True, sparse=True)
    assert repr(nn.Embedding(10, 3, **full)) == repr(torch.nn.Embedding(10, 3, **full))
    cases = [((10, 3), {}), ((10, 3), dict(full, sparse=False)), ((10, 3), dict(max_norm=1.0)),
             ((10, 3), dict(padding_idx=-1))]
    for args, kwargs in cases:
        e, t = nn.Embedding(*args, **kwargs), torch.nn.Embedding(*args, **kwargs)
        assert repr(e) == repr(t)
        assert e.padding_idx == t.padding_idx
        e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
        idx = np.array([[0, 2, 9], [2, 2, 1]])
        ye, yt = e(ember.tensor(idx)), t(torch.tensor(idx))
        assert type(ye.grad_fn).__name__ == type(yt.grad_fn).__name__ == "EmbeddingBackward0"
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-6)
        ye.pow(2).sum().backward()
        yt.pow(2).sum().backward()
        np.testing.assert_allclose(e.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(e.weight.detach().numpy(), t.weight.detach().numpy(),
                                   rtol=1e-6)
    for lib in (nn, torch.nn):
        with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
            lib.Embedding(5, 2, padding_idx=5)


def test_embedding_from_pretrained():
    torch = torch_or_skip()
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    e = nn.Embedding.from_pretrained(ember.tensor(w))
    t = torch.nn.Embedding.from_pretrained(torch.tensor(w))
    assert repr(e) == repr(t) and not e.weight.requires_grad
    np.testing.assert_array_equal(e(ember.tensor([3, 1])).numpy(), t(torch.tensor([3, 1])).numpy())
    e = nn.Embedding.from_pretrained(ember.tensor(w), freeze=False, padding_idx=1)
    assert e.weight.requires_grad and e.padding_idx == 1
    assert e.weight.detach().numpy()[1].tolist() == [3.0, 4.0, 5.0]  # pretrained rows are kept


def test_padding_modules_match_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(4).standard_normal((2, 3, 4, 5))
    x1 = x[0]
    cases = [("ZeroPad2d", (2,), x), ("ZeroPad2d", ((1, 2, 3, 0),), x),
             ("ConstantPad2d", (1, 3.5), x), ("ConstantPad1d", (2, 1.0), x1),
             ("ReflectionPad2d", (1,), x), ("ReflectionPad1d", (2,), x1),
             ("ReplicationPad2d", ((1, 1, 2, 0),), x), ("ReplicationPad1d", ((0, 3),), x1),
             ("CircularPad2d", (1,), x), ("CircularPad1d", (2,), x1), ("ZeroPad1d", (1,), x1)]
    for name, args, data in cases:
        e, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(e) == repr(t)
        ye, yt = e(ember.tensor(data)), t(torch.tensor(data))
        np.testing.assert_array_equal(ye.numpy(), yt.numpy())


def test_upsample_modules_match_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(6).standard_normal((1, 2, 4, 5))
    for name, kwargs in [("Upsample", dict(scale_factor=2)),
                         ("Upsample", dict(size=(3, 4), mode="bilinear", align_corners=True)),
                         ("Upsample", dict(scale_factor=(2, 1.5), mode="bilinear")),
                         ("UpsamplingNearest2d", dict(scale_factor=2)),
                         ("UpsamplingBilinear2d", dict(size=(7, 6)))]:
        e, t = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
        assert repr(e) == repr(t)
        np.testing.assert_allclose(e(ember.tensor(x)).numpy(), t(torch.tensor(x)).numpy(),
                                   atol=1e-12)


def test_mixed_model_loads_torch_state_dict_and_matches():
    torch = torch_or_skip()

    def build(lib):
        lib.manual_seed(0)
        return lib.nn.Sequential(
            lib.nn.Conv2d(3, 8, 3, padding=1), lib.nn.GroupNorm(2, 8), lib.nn.GELU(),
            lib.nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False), lib.nn.BatchNorm2d(8),
            lib.nn.LeakyReLU(0.1), lib.nn.AvgPool2d(2), lib.nn.Dropout(0.3),
            lib.nn.ConvTranspose2d(8, 4, 2, stride=2), lib.nn.SiLU(),
            lib.nn.AdaptiveAvgPool2d((2, 3)), lib.nn.Flatten(), lib.nn.LayerNorm(24),
            lib.nn.Linear(24, 5))

    t, e = build(torch), build(ember)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    t.eval()
    e.eval()
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 8)).astype(np.float32)
    xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ye, yt = e(xe), t(xt)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    ye.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, pe), pt in zip(e.named_parameters(), t.parameters()):
        np.testing.assert_allclose(pe.grad.numpy(), pt.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


def test_module_float64_conversion_keeps_buffers_consistent():
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)).double()
    assert m[0].weight.dtype == ember.float64 and m[1].running_mean.dtype == ember.float64
    assert m[1].num_batches_tracked.dtype == ember.int64
    y = m(ember.randn(2, 2, 5, 5, dtype=ember.float64))
    assert y.dtype == ember.float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.eval()(ember.randn(1, 2, 5, 5, dtype=ember.float64))
