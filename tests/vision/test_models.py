"""ember.vision.models.resnet against torchvision's ResNet built with torch.nn (_torch_resnet.py):
module tree, state_dict layout, repr, outputs and gradients, init, errors."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import torch_or_skip

torch = torch_or_skip()

import ember  # noqa: E402
from ember import nn  # noqa: E402
from ember.vision import models  # noqa: E402

import _torch_resnet as tr  # noqa: E402

DEPTHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def _randomise(torch_model: torch.nn.Module, seed: int = 0) -> None:
    """Random weights and batch-norm statistics, scaled so activations stay O(1) through
    deep stacks (a checkpoint-like state rather than a fresh init)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, v in torch_model.state_dict().items():
            if not v.dtype.is_floating_point:
                v.fill_(int(torch.randint(1, 100, (), generator=g)))
            elif name.endswith("running_var"):
                v.copy_(torch.rand(v.shape, generator=g) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bias"):
                v.copy_(torch.randn(v.shape, generator=g) * 0.1)
            elif v.dim() == 1:  # batch-norm scale
                v.copy_(torch.rand(v.shape, generator=g) * 0.5 + 0.25)
            else:
                fan_in = v[0].numel()
                v.copy_(torch.randn(v.shape, generator=g) * (1.0 / fan_in) ** 0.5)


def _twins(name: str, seed: int = 0, **kwargs):
    """An ember model and its torch twin holding the same random state."""
    t_model = tr.build(name, skip_init=True, **kwargs)
    _randomise(t_model, seed)
    e_model = getattr(models, name)(**kwargs)
    e_model.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t_model.state_dict().items()})
    return e_model, t_model


def _dtype_name(dt) -> str:
    return str(dt).split(".")[-1]


@pytest.fixture
def no_init(monkeypatch):
    """Skips the random initialisation (its cost dominates building the big models) where a
    test only looks at the module tree, shapes and dtypes."""
    for fn in ("kaiming_normal_", "kaiming_uniform_", "uniform_"):
        monkeypatch.setattr(nn.init, fn, lambda tensor, *args, **kwargs: tensor)


@pytest.mark.parametrize("name", DEPTHS)
def test_state_dict_layout_matches_torchvision(no_init, name):
    e_model, t_model = getattr(models, name)(), tr.build(name, skip_init=True)
    e_sd, t_sd = e_model.state_dict(), t_model.state_dict()
    assert list(e_sd) == list(t_sd)  # same keys, same order
    for k, t_v in t_sd.items():
        assert tuple(e_sd[k].shape) == tuple(t_v.shape), k
        assert _dtype_name(e_sd[k].dtype) == _dtype_name(t_v.dtype), k
    assert [n for n, _ in e_model.named_modules()] == [n for n, _ in t_model.named_modules()]
    assert ([type(m).__name__ for m in e_model.modules()]
            == [type(m).__name__ for m in t_model.modules()])


@pytest.mark.parametrize("name", DEPTHS + ["resnext50_32x4d", "resnext101_32x8d",
                                            "resnext101_64x4d", "wide_resnet50_2",
                                            "wide_resnet101_2"])
def test_param_count_matches_weights_meta(no_init, name):
    model = models.get_model(name)
    count = sum(p.numel() for p in model.parameters())
    if name in tr.CONFIGS:
        assert count == sum(p.numel() for p in tr.build(name, skip_init=True).parameters())
    members = list(models.get_model_weights(name))
    assert members and all(w.meta["num_params"] == count for w in members)


def test_repr_matches_torch(no_init):
    assert repr(models.resnet18()) == repr(tr.build("resnet18", skip_init=True))
    # Bottleneck, a non-default head and dilation show up in the repr too.
    kwargs = dict(num_classes=7, replace_stride_with_dilation=[False, True, True])
    assert repr(models.resnet50(**kwargs)) == repr(tr.build("resnet50", skip_init=True, **kwargs))


@pytest.mark.parametrize("name,size", [("resnet18", 64), ("resnext50_32x4d", 32)])
def test_eval_logits_match_torch(no_init, name, size):
    e_model, t_model = _twins(name)
    e_model.eval()
    t_model.eval()
    x = np.random.default_rng(1).standard_normal((2, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        want = t_model(torch.tensor(x)).numpy()
    got = e_model(ember.tensor(x))
    assert tuple(got.shape) == (2, 1000)
    assert got.dtype == ember.float32
    np.testing.assert_allclose(got.detach().numpy(), want, atol=1e-4, rtol=1e-4)


def test_train_mode_logits_grads_and_running_stats_match_torch(no_init):
    e_model, t_model = _twins("resnet18", seed=3)
    e_model.train()
    t_model.train()
    x = np.random.default_rng(2).standard_normal((2, 3, 64, 64)).astype(np.float32)
    target = np.array([3, 998])

    t_out = t_model(torch.tensor(x))
    t_loss = torch.nn.functional.cross_entropy(t_out, torch.tensor(target))
    t_loss.backward()
    e_out = e_model(ember.tensor(x))
    e_loss = nn.functional.cross_entropy(e_out, ember.tensor(target))
    e_loss.backward()

    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(e_loss.item(), t_loss.item(), rtol=1e-5)
    e_params, t_params = dict(e_model.named_parameters()), dict(t_model.named_parameters())
    for key in ["fc.weight", "fc.bias", "layer4.1.bn2.weight", "layer2.0.downsample.0.weight",
                "conv1.weight"]:
        want = t_params[key].grad.numpy()
        scale = float(np.abs(want).max())
        np.testing.assert_allclose(e_params[key].grad.numpy(), want, rtol=1e-3,
                                   atol=1e-4 * scale, err_msg=key)
    # train mode also updated the running statistics the same way
    e_sd, t_sd = e_model.state_dict(), t_model.state_dict()
    for key in ["bn1.running_mean", "bn1.running_var", "layer3.0.bn1.running_var",
                "bn1.num_batches_tracked"]:
        np.testing.assert_allclose(e_sd[key].numpy(), t_sd[key].numpy(), atol=1e-5, rtol=1e-4)


def test_dilated_resnet50_matches_torch(no_init):
    """Bottleneck blocks, dilation, and the features keeping their resolution."""
    kwargs = dict(replace_stride_with_dilation=[False, True, True])
    e_model, t_model = _twins("resnet50", **kwargs)
    e_model.eval()
    t_model.eval()
    x = np.random.default_rng(4).standard_normal((1, 3, 32, 32)).astype(np.float32)
    def features(m, x):  # everything before the pooling
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        return m.layer4(m.layer3(m.layer2(m.layer1(x))))

    e_feat = features(e_model, ember.tensor(x))
    with torch.no_grad():
        t_feat = features(t_model, torch.tensor(x))
    # strides 2 (stem) x 2 (pool) x 2 (layer2), then dilation: 32 / 8 = 4
    assert tuple(e_feat.shape) == tuple(t_feat.shape) == (1, 2048, 4, 4)
    np.testing.assert_allclose(e_feat.detach().numpy(), t_feat.numpy(), atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        want = t_model(torch.tensor(x)).numpy()
    np.testing.assert_allclose(e_model(ember.tensor(x)).detach().numpy(), want, atol=1e-4,
                               rtol=1e-4)


def test_initialisation_follows_torchvision():
    ember.manual_seed(0)
    model = models.resnet18()
    conv = model.layer3[0].conv2.weight.detach().numpy()  # fan_out = 256 * 3 * 3
    assert abs(conv.std() - (2.0 / (256 * 9)) ** 0.5) < 0.05 * (2.0 / (256 * 9)) ** 0.5
    assert abs(conv.mean()) < 1e-3
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert np.all(m.weight.detach().numpy() == 1) and np.all(m.bias.detach().numpy() == 0)
    # fc keeps nn.Linear's own init: U(-1/sqrt(512), 1/sqrt(512))
    assert np.abs(model.fc.weight.detach().numpy()).max() <= 512 ** -0.5


@pytest.mark.parametrize("name,last", [("resnet18", "bn2"), ("resnet50", "bn3")])
def test_zero_init_residual(name, last):
    model = getattr(models, name)(zero_init_residual=True)
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in layer:
            assert not np.any(getattr(block, last).weight.detach().numpy())
            assert np.all(block.bn1.weight.detach().numpy() == 1)
    assert np.all(model.bn1.weight.detach().numpy() == 1)


def test_zero_init_residual_makes_blocks_identity_like():
    block = models.resnet18(zero_init_residual=True).layer1[0].eval()
    x = ember.rand(1, 64, 8, 8)
    np.testing.assert_allclose(block(x).detach().numpy(), x.numpy(), atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda m: m.BasicBlock(64, 64, groups=2),
    lambda m: m.BasicBlock(64, 64, base_width=32),
    lambda m: m.BasicBlock(64, 64, dilation=2),
    lambda m: m.ResNet(m.BasicBlock, [1, 1, 1, 1], replace_stride_with_dilation=[True, False]),
    lambda m: m.ResNet(m.BasicBlock, [1, 1, 1, 1],
                       replace_stride_with_dilation=[False, True, True]),
])
def test_errors_match_torchvision(make):
    with pytest.raises(Exception) as t_err:
        make(tr)
    with pytest.raises(Exception) as e_err:
        make(models)
    assert type(e_err.value) is type(t_err.value)
    assert str(e_err.value) == str(t_err.value)


def test_block_and_model_attributes(no_init):
    assert models.BasicBlock.expansion == 1 and models.Bottleneck.expansion == 4
    model = models.resnet50()
    assert model.inplanes == 2048 and model.dilation == 1
    assert model.groups == 1 and model.base_width == 64
    assert model.layer2[0].stride == 2 and model.layer2[1].stride == 1
    assert model.layer1[1].downsample is None
    assert models.resnext50_32x4d().layer1[0].conv2.groups == 32


def test_forward_is_forward_impl():
    model = models.resnet18().eval()
    x = ember.rand(1, 3, 32, 32)
    np.testing.assert_array_equal(model._forward_impl(x).detach().numpy(),
                                  model(x).detach().numpy())


def test_custom_norm_layer_and_num_classes():
    model = models.resnet18(num_classes=10, norm_layer=lambda c: nn.GroupNorm(2, c))
    assert isinstance(model.bn1, nn.GroupNorm) and isinstance(model.layer2[0].downsample[1],
                                                               nn.GroupNorm)
    assert tuple(model(ember.rand(2, 3, 32, 32)).shape) == (2, 10)
    assert np.all(model.bn1.weight.detach().numpy() == 1)  # GroupNorm is initialised like BN


def test_tutorial_finetuning_recipe():
    """The tutorial: freeze everything, replace fc, backward reaches only the new head."""
    model = models.resnet18()
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(512, 10)
    optimizer = ember.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    frozen = {k: v.detach().numpy().copy() for k, v in model.named_parameters()
              if not k.startswith("fc.")}
    out = model(ember.rand(2, 3, 32, 32))
    assert tuple(out.shape) == (2, 10)
    out.sum().backward()
    for name, param in model.named_parameters():
        if name.startswith("fc."):
            assert param.requires_grad and param.grad is not None
            assert tuple(param.grad.shape) == tuple(param.shape)
        else:
            assert param.grad is None, name
    optimizer.step()
    for name, param in model.named_parameters():
        if name in frozen:
            np.testing.assert_array_equal(param.detach().numpy(), frozen[name])
