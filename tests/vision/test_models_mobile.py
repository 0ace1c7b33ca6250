"""ember.vision.models' MobileNetV2/V3 and EfficientNet against torchvision's trees built with
torch.nn (_torch_zoo.py): state_dict layout, repr, parameter counts against the weights' meta,
eval outputs and train-mode gradients given the same weights, init, weights enums."""
from __future__ import annotations

import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

from helpers import torch_or_skip

torch = torch_or_skip()

import ember  # noqa: E402
from ember import nn  # noqa: E402
from ember.vision import models  # noqa: E402
from ember.vision.transforms.functional import InterpolationMode  # noqa: E402

import _torch_zoo as tz  # noqa: E402

NAMES = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
         "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_v2_s",
         "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "squeezenet1_0", "squeezenet1_1",
         "mnasnet0_5", "mnasnet1_0", "regnet_y_400mf", "regnet_y_800mf", "densenet121",
         "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "alexnet", "convnext_tiny", "vit_b_16",
         "swin_t"]


def _randomise(torch_model, seed: int = 0) -> None:
    """Checkpoint-like random state: weights scaled by fan-in, batch-norm statistics away from
    the identity, so a mismatch anywhere shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, v in torch_model.state_dict().items():
            if not v.dtype.is_floating_point:
                if name.endswith("num_batches_tracked"):  # other integer buffers are indices
                    v.fill_(int(torch.randint(1, 100, (), generator=g)))
            elif name.endswith("running_var"):
                v.copy_(torch.rand(v.shape, generator=g) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bias"):
                v.copy_(torch.randn(v.shape, generator=g) * 0.1)
            elif v.dim() == 1:
                v.copy_(torch.rand(v.shape, generator=g) * 0.5 + 0.75)
            else:
                v.copy_(torch.randn(v.shape, generator=g) * (1.5 / v[0].numel()) ** 0.5)


def _twins(name: str, seed: int = 0, **kwargs):
    t_model = tz.build(name, skip_init=True, **kwargs)
    _randomise(t_model, seed)
    e_model = models.get_model(name, **kwargs)
    t_sd = t_model.state_dict()
    sd = OrderedDict((k, ember.tensor(v.numpy())) for k, v in t_sd.items())
    sd._metadata = t_sd._metadata  # the modules' versions (MNASNet reads its own)
    e_model.load_state_dict(sd)
    return e_model, t_model


@pytest.fixture
def no_init(monkeypatch):
    """Skips the random fills where a test only looks at the tree."""
    for fn in ("kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_", "trunc_normal_",
               "xavier_uniform_"):
        monkeypatch.setattr(nn.init, fn, lambda tensor, *args, **kwargs: tensor)


@pytest.mark.parametrize("name", NAMES)
def test_tree_state_dict_and_repr_match_torchvision(no_init, name):
    e_model, t_model = models.get_model(name), tz.build(name, skip_init=True)
    e_sd, t_sd = e_model.state_dict(), t_model.state_dict()
    assert list(e_sd) == list(t_sd)  # same keys, same order
    for k, t_v in t_sd.items():
        assert tuple(e_sd[k].shape) == tuple(t_v.shape), k
        assert str(e_sd[k].dtype).split(".")[-1] == str(t_v.dtype).split(".")[-1], k
    assert [n for n, _ in e_model.named_modules()] == [n for n, _ in t_model.named_modules()]
    assert repr(e_model) == repr(t_model)


@pytest.mark.parametrize("name", NAMES)
def test_param_count_equals_weights_meta(no_init, name):
    model = models.get_model(name)
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in tz.build(name, skip_init=True).parameters())
    members = [w for w in models.get_model_weights(name) if w.meta["min_size"][0] <= 224]
    assert members and all(w.meta["num_params"] == count for w in members)


@pytest.mark.parametrize("name,size", [("mobilenet_v2", 32), ("mobilenet_v3_small", 64),
                                       ("mobilenet_v3_large", 32), ("efficientnet_b0", 32),
                                       ("efficientnet_b1", 32), ("efficientnet_b2", 32),
                                       ("efficientnet_b3", 32), ("efficientnet_v2_s", 40),
                                       ("shufflenet_v2_x0_5", 64), ("shufflenet_v2_x1_0", 32),
                                       ("squeezenet1_0", 64), ("squeezenet1_1", 48),
                                       ("mnasnet0_5", 32), ("mnasnet1_0", 32),
                                       ("regnet_y_400mf", 32), ("regnet_y_800mf", 32),
                                       ("densenet121", 32), ("vgg11_bn", 32), ("vgg16", 32),
                                       ("alexnet", 64), ("convnext_tiny", 64),
                                       ("swin_t", 72)])
def test_eval_logits_match_torch(no_init, name, size):
    e_model, t_model = _twins(name)
    e_model.eval()
    t_model.eval()
    x = np.random.default_rng(1).standard_normal((2, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        want = t_model(torch.tensor(x)).numpy()
    got = e_model(ember.tensor(x))
    assert tuple(got.shape) == (2, 1000) and got.dtype == ember.float32
    scale = float(np.abs(want).max())
    assert scale > 1e-2  # the comparison is not between two near-zero vectors
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name,keys", [
    ("mobilenet_v3_small", ["classifier.3.weight", "features.4.block.2.fc1.weight",
                            "features.1.block.0.0.weight", "features.0.0.weight"]),
    ("efficientnet_b0", ["classifier.1.weight", "features.2.1.block.2.fc2.weight",
                         "features.0.0.weight", "features.6.0.block.1.0.weight"]),
])
def test_train_mode_outputs_grads_and_running_stats_match_torch(no_init, name, keys):
    # dropout and stochastic depth off: the rest of training mode is deterministic
    extra = {"dropout": 0.0}
    if name.startswith("efficientnet"):
        extra["stochastic_depth_prob"] = 0.0
    e_model, t_model = _twins(name, seed=3, **extra)
    e_model.train()
    t_model.train()
    # 64 pixels: the last stages' batch norms still see 4 values per channel (at 1x1 and a
    # batch of 3, batch statistics are so ill-conditioned that float32 torch itself is 1e-2 off
    # its float64 result)
    x = np.random.default_rng(2).standard_normal((3, 3, 64, 64)).astype(np.float32)
    target = np.array([3, 998, 17])
    t_out = t_model(torch.tensor(x))
    t_loss = torch.nn.functional.cross_entropy(t_out, torch.tensor(target))
    t_loss.backward()
    e_out = e_model(ember.tensor(x))
    e_loss = nn.functional.cross_entropy(e_out, ember.tensor(target))
    e_loss.backward()
    want = t_out.detach().numpy()
    np.testing.assert_allclose(e_out.detach().numpy(), want, rtol=1e-4,
                               atol=1e-4 * float(np.abs(want).max()))
    e_params, t_params = dict(e_model.named_parameters()), dict(t_model.named_parameters())
    for key in keys:
        g = t_params[key].grad.numpy()
        np.testing.assert_allclose(e_params[key].grad.numpy(), g, rtol=1e-3,
                                   atol=1e-3 * float(np.abs(g).max()), err_msg=key)
    e_sd, t_sd = e_model.state_dict(), t_model.state_dict()
    for key in ["features.0.1.running_mean", "features.0.1.running_var",
                "features.0.1.num_batches_tracked"]:
        np.testing.assert_allclose(e_sd[key].numpy(), t_sd[key].numpy(), rtol=1e-4, atol=1e-6)


def test_options_change_the_tree_as_torchvision(no_init):
    cases = [("mobilenet_v2", {"width_mult": 0.5, "num_classes": 7}),
             ("mobilenet_v2", {"width_mult": 1.4}),
             ("efficientnet_b0", {"num_classes": 10, "dropout": 0.5})]
    for name, kwargs in cases:
        e_model = models.get_model(name, **kwargs)
        t_model = tz.build(name, skip_init=True, **kwargs)
        assert repr(e_model) == repr(t_model), (name, kwargs)
        assert ([tuple(v.shape) for v in e_model.state_dict().values()]
                == [tuple(v.shape) for v in t_model.state_dict().values()])


def test_mobilenet_v3_backbone_options():
    # MobileNetV3's detection-backbone options: half-width tail, dilated last stage
    small = models.mobilenet_v3_small(reduced_tail=True, dilated=True).eval()
    assert small.features[9].block[0][0].out_channels == 288  # 576 // 2
    assert small.features[9].block[1][0].dilation == (2, 2)
    assert small.features[9].block[1][0].stride == (1, 1)
    assert small.classifier[0].out_features == 512
    assert tuple(small(ember.rand(1, 3, 64, 64)).shape) == (1, 1000)


def test_initialisation_follows_torchvision():
    ember.manual_seed(0)
    model = models.mobilenet_v3_large()
    w = model.features[12].block[0][0].weight.detach().numpy()  # 1x1, fan_out = 672
    assert abs(w.std() - (2.0 / 672) ** 0.5) < 0.05 * (2.0 / 672) ** 0.5
    fc = model.classifier[3].weight.detach().numpy()
    assert abs(fc.std() - 0.01) < 5e-4 and not model.classifier[3].bias.detach().numpy().any()
    se = model.features[4].block[2].fc1.bias.detach().numpy()
    assert not se.any()  # conv biases start at zero
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert m.eps == 0.001 and m.momentum == 0.01
            assert np.all(m.weight.detach().numpy() == 1) and not m.bias.detach().numpy().any()
    eff = models.efficientnet_b0()
    fc = eff.classifier[1].weight.detach().numpy()
    bound = 1.0 / math.sqrt(1000)  # uniform(-1/sqrt(out_features), +)
    assert np.abs(fc).max() <= bound and np.abs(fc).max() > 0.9 * bound


def test_stochastic_depth_probabilities_grow_linearly(no_init):
    model = models.efficientnet_b0(stochastic_depth_prob=0.4)
    probs = [m.stochastic_depth.p for m in model.modules()
             if isinstance(m, models.efficientnet.MBConv)]
    assert len(probs) == 16
    assert probs == [0.4 * i / 16 for i in range(16)]


def test_errors_match_torchvision():
    from ember.vision.models.efficientnet import EfficientNet
    from ember.vision.models.mobilenetv3 import MobileNetV3
    with pytest.raises(ValueError, match="should be non-empty or a 4-element list"):
        models.mobilenet_v2(inverted_residual_setting=[[1, 16, 1]])
    with pytest.raises(ValueError, match="stride should be 1 or 2 instead of 3"):
        models.mobilenetv2.InvertedResidual(8, 8, 3, 1)
    with pytest.raises(ValueError, match="should not be empty"):
        MobileNetV3([], 1024)
    with pytest.raises(TypeError, match=r"List\[InvertedResidualConfig\]"):
        MobileNetV3([1], 1024)
    with pytest.raises(TypeError, match=r"List\[MBConvConfig\]"):
        EfficientNet([1], 0.2)
    with pytest.raises(ValueError, match="Unsupported model type foo"):
        models.mobilenetv3._mobilenet_v3_conf("foo")
    with pytest.raises(ValueError, match="expected value 1000 but got 10"):
        models.mobilenet_v3_small(weights="DEFAULT", num_classes=10)


# ---- weights enums ---------------------------------------------------------------------------

WEIGHTS = {
    "MobileNet_V2_Weights.IMAGENET1K_V1": ("mobilenet_v2-b0353104.pth", 71.878, 90.286, 224,
                                           256, "bilinear"),
    "MobileNet_V2_Weights.IMAGENET1K_V2": ("mobilenet_v2-7ebf99e0.pth", 72.154, 90.822, 224,
                                           232, "bilinear"),
    "MobileNet_V3_Large_Weights.IMAGENET1K_V1": ("mobilenet_v3_large-8738ca79.pth", 74.042,
                                                 91.340, 224, 256, "bilinear"),
    "MobileNet_V3_Large_Weights.IMAGENET1K_V2": ("mobilenet_v3_large-5c1a4163.pth", 75.274,
                                                 92.566, 224, 232, "bilinear"),
    "MobileNet_V3_Small_Weights.IMAGENET1K_V1": ("mobilenet_v3_small-047dcff4.pth", 67.668,
                                                 87.402, 224, 256, "bilinear"),
    "EfficientNet_B0_Weights.IMAGENET1K_V1": ("efficientnet_b0_rwightman-7f5810bc.pth", 77.692,
                                              93.532, 224, 256, "bicubic"),
    "EfficientNet_B1_Weights.IMAGENET1K_V1": ("efficientnet_b1_rwightman-bac287d4.pth", 78.642,
                                              94.186, 240, 256, "bicubic"),
    "EfficientNet_B1_Weights.IMAGENET1K_V2": ("efficientnet_b1-c27df63c.pth", 79.838, 94.934,
                                              240, 255, "bilinear"),
    "EfficientNet_B2_Weights.IMAGENET1K_V1": ("efficientnet_b2_rwightman-c35c1473.pth", 80.608,
                                              95.310, 288, 288, "bicubic"),
    "EfficientNet_B3_Weights.IMAGENET1K_V1": ("efficientnet_b3_rwightman-b3899882.pth", 82.008,
                                              96.054, 300, 320, "bicubic"),
    "EfficientNet_V2_S_Weights.IMAGENET1K_V1": ("efficientnet_v2_s-dd5fe13b.pth", 84.228, 96.878,
                                                384, 384, "bilinear"),
    "ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1": ("shufflenetv2_x0.5-f707e7126e.pth", 60.552,
                                                 81.746, 224, 256, "bilinear"),
    "ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1": ("shufflenetv2_x1-5666bf0f80.pth", 69.362,
                                                 88.316, 224, 256, "bilinear"),
    "SqueezeNet1_0_Weights.IMAGENET1K_V1": ("squeezenet1_0-b66bff10.pth", 58.092, 80.420, 224,
                                            256, "bilinear"),
    "SqueezeNet1_1_Weights.IMAGENET1K_V1": ("squeezenet1_1-b8a52dc0.pth", 58.178, 80.624, 224,
                                            256, "bilinear"),
    "MNASNet0_5_Weights.IMAGENET1K_V1": ("mnasnet0.5_top1_67.823-3ffadce67e.pth", 67.734, 87.490,
                                         224, 256, "bilinear"),
    "MNASNet1_0_Weights.IMAGENET1K_V1": ("mnasnet1.0_top1_73.512-f206786ef8.pth", 73.456, 91.510,
                                         224, 256, "bilinear"),
    "RegNet_Y_400MF_Weights.IMAGENET1K_V1": ("regnet_y_400mf-c65dace8.pth", 74.046, 91.716, 224,
                                             256, "bilinear"),
    "RegNet_Y_400MF_Weights.IMAGENET1K_V2": ("regnet_y_400mf-e6988f5f.pth", 75.804, 92.742, 224,
                                             232, "bilinear"),
    "RegNet_Y_800MF_Weights.IMAGENET1K_V1": ("regnet_y_800mf-1b27b58c.pth", 76.420, 93.136, 224,
                                             256, "bilinear"),
    "RegNet_Y_800MF_Weights.IMAGENET1K_V2": ("regnet_y_800mf-58fc7688.pth", 78.828, 94.502, 224,
                                             232, "bilinear"),
    "DenseNet121_Weights.IMAGENET1K_V1": ("densenet121-a639ec97.pth", 74.434, 91.972, 224, 256,
                                          "bilinear"),
    "VGG11_Weights.IMAGENET1K_V1": ("vgg11-8a719046.pth", 69.020, 88.628, 224, 256, "bilinear"),
    "VGG11_BN_Weights.IMAGENET1K_V1": ("vgg11_bn-6002323d.pth", 70.370, 89.810, 224, 256,
                                       "bilinear"),
    "VGG16_Weights.IMAGENET1K_V1": ("vgg16-397923af.pth", 71.592, 90.382, 224, 256, "bilinear"),
    "VGG16_BN_Weights.IMAGENET1K_V1": ("vgg16_bn-6c64b313.pth", 73.360, 91.516, 224, 256,
                                       "bilinear"),
    "AlexNet_Weights.IMAGENET1K_V1": ("alexnet-owt-7be5be79.pth", 56.522, 79.066, 224, 256,
                                      "bilinear"),
    "GoogLeNet_Weights.IMAGENET1K_V1": ("googlenet-1378be20.pth", 69.778, 89.530, 224, 256,
                                        "bilinear"),
    "ConvNeXt_Tiny_Weights.IMAGENET1K_V1": ("convnext_tiny-983f1562.pth", 82.520, 96.146, 224,
                                            236, "bilinear"),
    "ViT_B_16_Weights.IMAGENET1K_V1": ("vit_b_16-c867db91.pth", 81.072, 95.318, 224, 256,
                                       "bilinear"),
    "ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1": ("vit_b_16_swag-9ac1b537.pth", 85.304, 97.650,
                                                384, 384, "bicubic"),
    "ViT_B_16_Weights.IMAGENET1K_SWAG_LINEAR_V1": ("vit_b_16_lc_swag-4e70ced5.pth", 81.886,
                                                   96.180, 224, 224, "bicubic"),
    "Swin_T_Weights.IMAGENET1K_V1": ("swin_t-704ceda3.pth", 81.474, 95.776, 224, 232, "bicubic"),
}


@pytest.mark.parametrize("full_name", list(WEIGHTS))
def test_weights_enum_members(full_name):
    file, acc1, acc5, crop, resize, interp = WEIGHTS[full_name]
    w = models.get_weight(full_name)
    assert repr(w) == full_name
    assert w.url == f"https://download.pytorch.org/models/{file}"
    assert w.meta["_metrics"] == {"ImageNet-1K": {"acc@1": acc1, "acc@5": acc5}}
    assert len(w.meta["categories"]) == 1000 and w.meta["categories"][0] == "tench"
    assert w.meta["recipe"].startswith("https://github.com/")
    assert {"_ops", "_file_size", "_docs", "min_size"} <= set(w.meta)
    preset = w.transforms()
    assert preset.crop_size == [crop] and preset.resize_size == [resize]
    assert preset.interpolation == InterpolationMode(interp)
    out = preset(ember.randint(0, 256, (3, 40, 50), dtype=ember.uint8))
    assert tuple(out.shape) == (3, crop, crop) and out.dtype == ember.float32


def test_defaults_and_registry():
    assert models.MobileNet_V2_Weights.DEFAULT is models.MobileNet_V2_Weights.IMAGENET1K_V2
    assert (models.MobileNet_V3_Large_Weights.DEFAULT
            is models.MobileNet_V3_Large_Weights.IMAGENET1K_V2)
    assert models.EfficientNet_B1_Weights.DEFAULT is models.EfficientNet_B1_Weights.IMAGENET1K_V2
    assert models.EfficientNet_V2_S_Weights.DEFAULT.meta["min_size"] == (33, 33)
    assert set(NAMES) <= set(models.list_models())
    assert models.list_models(include="mobilenet*") == ["mobilenet_v2", "mobilenet_v3_large",
                                                        "mobilenet_v3_small"]
    assert models.get_model_weights("efficientnet_b2") is models.EfficientNet_B2_Weights
    assert models.get_model_builder("MobileNet_V3_Small") is models.mobilenet_v3_small


def test_pretrained_true_means_v1_with_torchvisions_warnings(monkeypatch):
    seen = {}

    def fake_state_dict(self, *args, **kwargs):
        seen["weights"] = self
        raise RuntimeError("stop before downloading")

    monkeypatch.setattr(models.WeightsEnum, "get_state_dict", fake_state_dict)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="stop before downloading"):
            models.mobilenet_v2(pretrained=True)
    assert seen["weights"] is models.MobileNet_V2_Weights.IMAGENET1K_V1
    messages = [str(w.message) for w in record]
    assert any("'pretrained' is deprecated since 0.13" in m for m in messages)
    assert any("`weights=MobileNet_V2_Weights.IMAGENET1K_V1`" in m for m in messages)


def test_checkpoint_round_trip_through_torch_format(tmp_path, no_init):
    """A state_dict saved by torch from torchvision's tree loads into ember's model and gives
    torch's outputs (the same path a downloaded checkpoint takes)."""
    t_model = tz.build("mobilenet_v3_small", skip_init=True)
    _randomise(t_model, 5)
    path = tmp_path / "mnv3.pth"
    torch.save(t_model.state_dict(), path)
    e_model = models.mobilenet_v3_small()
    e_model.load_state_dict(ember.load(str(path)))
    e_model.eval()
    t_model.eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 48, 48)).astype(np.float32)
    with torch.no_grad():
        want = t_model(torch.tensor(x)).numpy()
    np.testing.assert_allclose(e_model(ember.tensor(x)).detach().numpy(), want, rtol=1e-4,
                               atol=1e-4 * float(np.abs(want).max()))


def test_shufflenet_and_squeezenet_details(no_init):
    from ember.vision.models.shufflenetv2 import InvertedResidual, channel_shuffle
    x = ember.arange(8.0).reshape(1, 8, 1, 1)
    # channels of the two halves interleaved: 0 4 1 5 2 6 3 7
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    with pytest.raises(ValueError, match="illegal stride value"):
        InvertedResidual(8, 8, 4)
    with pytest.raises(ValueError, match="If stride == 1 then inp should be equal to"):
        InvertedResidual(6, 8, 1)
    with pytest.raises(ValueError, match="expected stages_repeats as list of 3"):
        models.ShuffleNetV2([4, 8], [24, 48, 96, 192, 1024])
    with pytest.raises(ValueError, match="Unsupported SqueezeNet version 2_0"):
        models.SqueezeNet("2_0")
    assert models.SqueezeNet1_0_Weights.DEFAULT.meta["min_size"] == (21, 21)
    assert models.SqueezeNet1_1_Weights.DEFAULT.meta["min_size"] == (17, 17)


def test_squeezenet_init_follows_torchvision():
    ember.manual_seed(0)
    model = models.squeezenet1_1()
    final = model.classifier[1].weight.detach().numpy()
    assert abs(final.std() - 0.01) < 1e-3
    w = model.features[3].expand3x3.weight.detach().numpy()  # kaiming_uniform_, a=0, fan_in
    bound = math.sqrt(6.0 / (16 * 9))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert not model.features[3].expand3x3.bias.detach().numpy().any()


def test_mnasnet_version_1_checkpoints_rebuild_the_fixed_stem():
    """torchvision's MNASNet 0.5 checkpoint predates the width-scaled stem (version 1): loading
    it rebuilds the 32/16-channel stem with torchvision's warning; version 2 loads as is; a
    state_dict without versions is refused as torchvision refuses it."""
    old = models.mnasnet0_5()
    for idx, layer in enumerate(models.mnasnet._stem(32, 16, 16)):
        old.layers[idx] = layer
    sd = old.state_dict()
    sd._metadata[""]["version"] = 1
    fresh = models.mnasnet0_5()
    assert tuple(fresh.layers[0].weight.shape) == (16, 3, 3, 3)
    with pytest.warns(UserWarning, match="A new version of MNASNet model has been implemented"):
        fresh.load_state_dict(sd)
    assert tuple(fresh.layers[0].weight.shape) == (32, 3, 3, 3)
    assert fresh._version == 1
    assert tuple(fresh.eval()(ember.rand(1, 3, 32, 32)).shape) == (1, 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models.mnasnet0_5().load_state_dict(models.mnasnet0_5().state_dict())
    with pytest.raises(ValueError, match="version shluld be set to 1 or 2 instead of None"):
        models.mnasnet1_0().load_state_dict(dict(models.mnasnet1_0().state_dict()))
    with pytest.raises(ValueError, match="alpha should be greater than 0.0 instead of 0"):
        models.MNASNet(0)
    with pytest.raises(ValueError, match="kernel_size should be 3 or 5 instead of 7"):
        models.mnasnet._InvertedResidual(8, 8, 7, 1, 3)


def test_regnet_block_params_and_errors():
    from ember.vision.models.regnet import BlockParams
    p = BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8)
    # torchvision's RegNetY-400MF stages
    assert p.depths == [1, 3, 6, 6] and p.widths == [48, 104, 208, 440]
    assert p.group_widths == [8, 8, 8, 8] and p.strides == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="Invalid RegNet settings"):
        BlockParams.from_init_params(depth=16, w_0=50, w_a=27.89, w_m=2.09, group_width=8)
    assert models.regnet_y_800mf.__doc__.startswith("RegNetY-800MF")


def test_densenet_renames_luatorch_keys_and_memory_efficient_matches(monkeypatch, no_init):
    """The LuaTorch-era checkpoint's 'norm.1'-style keys load under today's names; a
    memory-efficient DenseNet (checkpointed bottlenecks) gives the same outputs and gradients."""
    e_model, t_model = _twins("densenet121", seed=4)
    old = OrderedDict()
    for k, v in t_model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue  # the old checkpoint predates it (batch norm fills it in on load)
        k = k.replace("norm1.", "norm.1.").replace("conv2.", "conv.2.") if "denselayer" in k else k
        old[k] = ember.tensor(v.numpy())
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    monkeypatch.setattr(models.WeightsEnum, "get_state_dict", lambda self, **kw: old)
    loaded = models.densenet121(weights="DEFAULT")
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    loaded.eval()
    t_model.eval()
    with torch.no_grad():
        want = t_model(torch.tensor(x)).numpy()
    np.testing.assert_allclose(loaded(ember.tensor(x)).detach().numpy(), want, rtol=1e-4,
                               atol=1e-4 * float(np.abs(want).max()))
    # memory_efficient: same values and gradients through the checkpointed bottlenecks
    lean = models.densenet121(memory_efficient=True)
    lean.load_state_dict(loaded.state_dict())
    lean.train()
    loaded.train()
    outs = []
    for m in (loaded, lean):
        xe = ember.tensor(x)
        out = m(xe)
        out.sum().backward()
        outs.append((out.detach().numpy(), m.features.conv0.weight.grad.numpy()))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-4,
                               atol=1e-4 * np.abs(outs[0][1]).max())


def test_vgg_features_weights_and_init_flag(monkeypatch, no_init):
    w = models.VGG16_Weights.IMAGENET1K_FEATURES
    assert w.meta["categories"] is None and math.isnan(w.meta["_metrics"]["ImageNet-1K"]["acc@1"])
    assert w.transforms().mean == [0.48235, 0.45882, 0.40784]
    seen = {}
    monkeypatch.setattr(models.WeightsEnum, "get_state_dict",
                        lambda self, **kw: seen.setdefault("w", self) and models.vgg16(
                            num_classes=7).state_dict())
    model = models.vgg16(weights=w, num_classes=7)  # no categories: num_classes is the user's
    assert model.classifier[6].out_features == 7 and seen["w"] is w
    with pytest.raises(ValueError, match="expected value False but got True"):
        models.vgg11(weights="DEFAULT", init_weights=True)


def test_googlenet_matches_torchvision(no_init):
    t_model = tz.build("googlenet", skip_init=True, transform_input=True, dropout=0.0,
                       dropout_aux=0.0)
    e_model = models.googlenet(init_weights=False, transform_input=True, dropout=0.0,
                               dropout_aux=0.0)
    assert repr(e_model) == repr(t_model)
    assert [(k, tuple(v.shape)) for k, v in e_model.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t_model.state_dict().items()]
    _randomise(t_model, 6)
    e_model.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t_model.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64)).astype(np.float32)
    e_model.eval()
    t_model.eval()
    with torch.no_grad():
        want = t_model(torch.tensor(x)).numpy()
    got = e_model(ember.tensor(x))
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-4,
                               atol=1e-4 * float(np.abs(want).max()))
    # training mode: torchvision's GoogLeNetOutputs, in its field order
    e_model.train()
    t_model.train()
    t_out = t_model(torch.tensor(x))
    e_out = e_model(ember.tensor(x))
    assert type(e_out).__name__ == "GoogLeNetOutputs"
    assert e_out._fields == ("logits", "aux_logits2", "aux_logits1")
    for e_t, t_t in zip(e_out, t_out):
        want = t_t.detach().numpy()
        np.testing.assert_allclose(e_t.detach().numpy(), want, rtol=1e-4,
                                   atol=1e-4 * float(np.abs(want).max()))
    assert sum(p.numel() for p in models.googlenet(aux_logits=False,
                                                   init_weights=False).parameters()) == 6624904


def test_googlenet_warnings_and_pretrained_heads(monkeypatch, no_init):
    with pytest.warns(FutureWarning, match="default weight initialization of GoogleNet"):
        models.GoogLeNet()
    with pytest.raises(ValueError, match="blocks length should be 3 instead of 2"):
        models.GoogLeNet(blocks=[1, 2], init_weights=False)
    full = models.googlenet(init_weights=False).state_dict()
    monkeypatch.setattr(models.WeightsEnum, "get_state_dict", lambda self, **kw: full)
    model = models.googlenet(weights="DEFAULT")
    # the checkpoint's untrained auxiliary heads are dropped; inputs re-normalised
    assert model.aux1 is None and model.aux2 is None and not model.aux_logits
    assert model.transform_input
    assert sum(p.numel() for p in model.parameters()) == 6624904
    with pytest.warns(UserWarning, match="auxiliary heads in the pretrained googlenet model"):
        kept = models.googlenet(weights="DEFAULT", aux_logits=True)
    assert kept.aux1 is not None


def test_convnext_details(no_init):
    from ember.vision.models.convnext import CNBlockConfig, ConvNeXt, LayerNorm2d
    model = models.convnext_tiny()
    probs = [m.stochastic_depth.p for m in model.modules()
             if type(m).__name__ == "CNBlock"]
    assert len(probs) == 18 and probs[0] == 0.0 and probs[-1] == pytest.approx(0.1)
    assert repr(CNBlockConfig(96, 192, 3)) == \
        "CNBlockConfig(input_channels=96, out_channels=192, num_layers=3)"
    with pytest.raises(ValueError, match="The block_setting should not be empty"):
        ConvNeXt([])
    with pytest.raises(TypeError, match=r"List\[CNBlockConfig\]"):
        ConvNeXt([1])
    # LayerNorm2d normalises over channels of NCHW as torch's layer_norm over NHWC does
    x = np.random.default_rng(0).standard_normal((2, 5, 3, 4)).astype(np.float32)
    want = torch.nn.functional.layer_norm(torch.tensor(x).permute(0, 2, 3, 1), (5,), eps=1e-6)
    got = LayerNorm2d(5, eps=1e-6)(ember.tensor(x))
    np.testing.assert_allclose(got.detach().numpy(), want.permute(0, 3, 1, 2).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_vit_b_16_matches_torch_at_a_small_image_size(no_init):
    e_model, t_model = _twins("vit_b_16", seed=8, image_size=32)
    e_model.eval()
    t_model.eval()
    x = np.random.default_rng(5).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = t_model(torch.tensor(x)).numpy()
    got = e_model(ember.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))
    # the SWAG end-to-end weights run at 384: their position embedding is 577 long
    swag = models.ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1
    assert sum(p.numel() for p in models.vit_b_16(image_size=384).parameters()) == \
        swag.meta["num_params"]
    assert swag.meta["license"].endswith("SWAG/blob/main/LICENSE")
    assert swag.meta["recipe"] == "https://github.com/facebookresearch/SWAG"
    assert (models.ViT_B_16_Weights.IMAGENET1K_SWAG_LINEAR_V1.meta["recipe"]
            == "https://github.com/pytorch/vision/pull/5793")
    with pytest.raises(AssertionError, match="Wrong image height! Expected 32 but got 48!"):
        e_model(ember.rand(1, 3, 48, 32))
    with pytest.raises(AssertionError, match="Input shape indivisible by patch size!"):
        models.vit_b_16(image_size=40)


def test_vit_mlp_block_renames_version_1_keys():
    from ember.vision.models.vision_transformer import MLPBlock
    block = MLPBlock(4, 8, 0.0)
    sd = block.state_dict()
    old = OrderedDict([("linear_1.weight", sd["0.weight"] + 1), ("linear_1.bias", sd["0.bias"]),
                       ("linear_2.weight", sd["3.weight"]), ("linear_2.bias", sd["3.bias"])])
    old._metadata = OrderedDict([("", {"version": 1})])
    fresh = MLPBlock(4, 8, 0.0)
    fresh.load_state_dict(old)
    np.testing.assert_array_equal(fresh[0].weight.detach().numpy(),
                                  (sd["0.weight"] + 1).numpy())


def test_swin_t_gradients_match_torch(no_init):
    """Shifted windows (padding, cyclic roll, region mask, relative position bias) in
    training mode: outputs and gradients as torch's."""
    e_model, t_model = _twins("swin_t", seed=9)
    for m in (*e_model.modules(), *t_model.modules()):  # (swin_t fixes the probability, 0.2)
        if type(m).__name__ == "StochasticDepth":
            m.p = 0.0
    e_model.train()
    t_model.train()
    x = np.random.default_rng(6).standard_normal((2, 3, 72, 72)).astype(np.float32)
    t_out = t_model(torch.tensor(x))
    t_out.square().mean().backward()
    e_out = e_model(ember.tensor(x))
    e_out.square().mean().backward()
    want = t_out.detach().numpy()
    np.testing.assert_allclose(e_out.detach().numpy(), want, rtol=1e-4,
                               atol=1e-4 * float(np.abs(want).max()))
    e_params, t_params = dict(e_model.named_parameters()), dict(t_model.named_parameters())
    for key in ["features.1.1.attn.relative_position_bias_table", "features.1.1.attn.qkv.weight",
                "features.2.reduction.weight", "features.0.0.weight", "head.weight"]:
        g = t_params[key].grad.numpy()
        np.testing.assert_allclose(e_params[key].grad.numpy(), g, rtol=1e-3,
                                   atol=1e-3 * float(np.abs(g).max()), err_msg=key)
    idx = e_model.features[1][0].attn.relative_position_index
    assert idx.dtype == ember.int64 and tuple(idx.shape) == (49 * 49,)
    np.testing.assert_array_equal(
        idx.numpy(), t_model.features[1][0].attn.relative_position_index.numpy())


@pytest.mark.parametrize("name,kwargs,size", [
    ("mobilenet_v2", {"dropout": 0.0}, 64),
    ("shufflenet_v2_x0_5", {}, 64),
    ("squeezenet1_1", {"dropout": 0.0}, 64),
    ("mnasnet0_5", {"dropout": 0.0}, 64),
    ("regnet_y_400mf", {}, 64),
    ("convnext_tiny", {"stochastic_depth_prob": 0.0}, 64),
    ("vit_b_16", {"image_size": 32}, 32),
])
def test_every_parameter_gradient_matches_torch(no_init, name, kwargs, size):
    """A finetuning step's gradients, for every parameter, with batch norm on its running
    statistics (eval mode, as ``ember finetune`` runs a frozen backbone's): channel shuffles,
    Fire concatenations, grouped and depthwise convolutions, layer scales, attention.
    (Train-mode batch norm is compared in the tests above; over the few values per channel of
    small test images it is too ill-conditioned for a per-parameter float32 comparison.)"""
    e_model, t_model = _twins(name, seed=11, **kwargs)
    e_model.eval()
    t_model.eval()
    x = np.random.default_rng(7).standard_normal((3, 3, size, size)).astype(np.float32)
    target = np.array([1, 500, 999])
    t_loss = torch.nn.functional.cross_entropy(t_model(torch.tensor(x)), torch.tensor(target))
    t_loss.backward()
    e_loss = nn.functional.cross_entropy(e_model(ember.tensor(x)), ember.tensor(target))
    e_loss.backward()
    np.testing.assert_allclose(e_loss.item(), t_loss.item(), rtol=1e-5)
    e_params = dict(e_model.named_parameters())
    for key, t_p in t_model.named_parameters():
        g = t_p.grad.numpy()
        np.testing.assert_allclose(e_params[key].grad.numpy(), g, rtol=1e-3,
                                   atol=1e-4 * float(np.abs(g).max()) + 1e-12, err_msg=key)


@pytest.mark.parametrize("name,kwargs", [
    ("mobilenet_v2", {"dropout": 0.0}),
    ("mobilenet_v3_small", {"dropout": 0.0}),
    ("efficientnet_b0", {"dropout": 0.0, "stochastic_depth_prob": 0.0}),
    ("shufflenet_v2_x0_5", {}),
    ("mnasnet0_5", {"dropout": 0.0}),
    ("regnet_y_400mf", {}),
])
def test_train_mode_gradients_match_torch_in_float64(no_init, name, kwargs):
    """Training mode (batch statistics) for every parameter, in float64, where the
    ill-conditioning of batch statistics over few values no longer hides differences."""
    e_model, t_model = _twins(name, seed=12, **kwargs)
    e_model, t_model = e_model.double().train(), t_model.double().train()
    x = np.random.default_rng(8).standard_normal((3, 3, 64, 64))
    target = np.array([2, 400, 998])
    torch.nn.functional.cross_entropy(t_model(torch.tensor(x)), torch.tensor(target)).backward()
    nn.functional.cross_entropy(e_model(ember.tensor(x)), ember.tensor(target)).backward()
    e_params = dict(e_model.named_parameters())
    t_grads = {k: p.grad.numpy() for k, p in t_model.named_parameters()}
    scale = max(float(np.abs(g).max()) for g in t_grads.values())
    for key, g in t_grads.items():
        assert e_params[key].grad.dtype == ember.float64
        # (a batch norm's shift right before another batch norm has a zero gradient: both give
        # round-off there, hence the absolute tolerance on the model's largest gradient)
        np.testing.assert_allclose(e_params[key].grad.numpy(), g, rtol=1e-7, atol=1e-10 * scale,
                                   err_msg=key)


@pytest.mark.parametrize("name", NAMES + ["googlenet"])
def test_default_weights_load_through_the_enum(monkeypatch, no_init, name):
    """``get_model(name, weights="DEFAULT")``: the enum's checkpoint (here a state_dict of the
    same tree, in place of the download) loads into the model the builder makes for it."""
    extra = {"aux_logits": True, "init_weights": False} if name == "googlenet" else {}
    source = models.get_model(name, **extra).state_dict()
    seen = []
    monkeypatch.setattr(models.WeightsEnum, "get_state_dict",
                        lambda self, **kw: seen.append((self, kw)) or source)
    model = models.get_model(name, weights="DEFAULT")
    default = models.get_model_weights(name).DEFAULT
    assert seen == [(default, {"progress": True, "check_hash": True})]
    key = next(k for k, v in source.items() if v.dtype == ember.float32)
    assert model.state_dict()[key] is not source[key]
    np.testing.assert_array_equal(model.state_dict()[key].numpy(), source[key].numpy())


def test_mobilenet_module_alias():
    from ember.vision.models import mobilenet
    assert mobilenet.mobilenet_v2 is models.mobilenet_v2
    assert mobilenet.MobileNet_V3_Large_Weights is models.MobileNet_V3_Large_Weights
    assert set(mobilenet.__all__) == set(models.mobilenetv2.__all__) | set(
        models.mobilenetv3.__all__)


def test_stochastic_depth_as_torchvision():
    from ember.vision.ops import StochasticDepth, stochastic_depth
    x = ember.ones(2000, 3)
    with pytest.raises(ValueError, match="drop probability has to be between 0 and 1, but got 1.5"):
        stochastic_depth(x, 1.5, "row")
    with pytest.raises(ValueError, match="mode has to be either 'batch' or 'row', but got col"):
        stochastic_depth(x, 0.5, "col")
    assert stochastic_depth(x, 0.5, "row", training=False) is x
    assert stochastic_depth(x, 0.0, "row") is x
    ember.manual_seed(0)
    y = stochastic_depth(x, 0.25, "row").numpy()
    rows = y[:, 0]
    assert set(np.unique(rows)) <= {0.0, np.float32(1 / 0.75)}
    assert np.all(y == y[:, :1])  # a whole row (sample) is kept or dropped
    assert abs((rows == 0).mean() - 0.25) < 0.04
    batch = stochastic_depth(x, 0.5, "batch").numpy()
    assert np.unique(batch).size == 1 and batch.flat[0] in (0.0, 2.0)
    assert not stochastic_depth(x, 1.0, "row").numpy().any()
    m = StochasticDepth(0.2, "row")
    assert repr(m) == "StochasticDepth(p=0.2, mode=row)"
    m.eval()
    assert m(x) is x
    # the gradient flows through the kept rows only, scaled as the values
    xg = ember.ones(6, 2, dtype=ember.float64, requires_grad=True)
    ember.manual_seed(3)
    out = stochastic_depth(xg, 0.5, "row")
    out.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), out.detach().numpy())
