"""EfficientNet B0-B3 and EfficientNetV2-S (torchvision's ``models.efficientnet``): Tan & Le,
EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks, 2019, and
EfficientNetV2: Smaller Models and Faster Training, 2021. Module tree and names as
torchvision's (``features.2.1.block.2.fc1.weight``), so its checkpoints load key for key."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Optional, Sequence, Union

from ... import flatten, nn
from ...tensor import Tensor
from ..ops.misc import Conv2dNormActivation, SqueezeExcitation
from ..ops.stochastic_depth import StochasticDepth
from ..transforms.functional import InterpolationMode
from ._api import WeightsEnum, register_model
from ._imagenet import _BLOG, _RECIPE, builder_doc, imagenet_weights
from ._utils import _init_weights, _make_divisible, _with_weights, handle_legacy_interface

__all__ = ["EfficientNet", "EfficientNet_B0_Weights", "EfficientNet_B1_Weights",
           "EfficientNet_B2_Weights", "EfficientNet_B3_Weights", "EfficientNet_V2_S_Weights",
           "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
           "efficientnet_v2_s"]


@dataclass
class _MBConvConfig:
    expand_ratio: float
    kernel: int
    stride: int
    input_channels: int
    out_channels: int
    num_layers: int
    block: Callable[..., nn.Module]

    @staticmethod
    def adjust_channels(channels: int, width_mult: float,
                        min_value: Optional[int] = None) -> int:
        return _make_divisible(channels * width_mult, 8, min_value)


class MBConvConfig(_MBConvConfig):
    """One stage of the paper's Table 1, its channels scaled by ``width_mult`` and its depth by
    ``depth_mult`` (rounded up)."""

    def __init__(self, expand_ratio: float, kernel: int, stride: int, input_channels: int,
                 out_channels: int, num_layers: int, width_mult: float = 1.0,
                 depth_mult: float = 1.0, block: Optional[Callable[..., nn.Module]] = None) -> None:
        input_channels = self.adjust_channels(input_channels, width_mult)
        out_channels = self.adjust_channels(out_channels, width_mult)
        num_layers = self.adjust_depth(num_layers, depth_mult)
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                         MBConv if block is None else block)

    @staticmethod
    def adjust_depth(num_layers: int, depth_mult: float) -> int:
        return int(math.ceil(num_layers * depth_mult))


class FusedMBConvConfig(_MBConvConfig):
    """One stage of EfficientNetV2's fused blocks (a full convolution in place of 1x1 expansion
    and depthwise)."""

    def __init__(self, expand_ratio: float, kernel: int, stride: int, input_channels: int,
                 out_channels: int, num_layers: int,
                 block: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                         FusedMBConv if block is None else block)


class MBConv(nn.Module):
    """Expand (1x1), depthwise, squeeze-and-excitation, project (1x1, linear); the residual
    branch is dropped by stochastic depth in training."""

    def __init__(self, cnf: MBConvConfig, stochastic_depth_prob: float,
                 norm_layer: Callable[..., nn.Module],
                 se_layer: Callable[..., nn.Module] = SqueezeExcitation) -> None:
        super().__init__()
        if not (1 <= cnf.stride <= 2):
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        layers: list[nn.Module] = []
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel_size=cnf.kernel,
                                           stride=cnf.stride, groups=expanded,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU))
        # the squeeze width follows the block's input, not its expansion
        squeeze_channels = max(1, cnf.input_channels // 4)
        layers.append(se_layer(expanded, squeeze_channels,
                               activation=partial(nn.SiLU, inplace=True)))
        layers.append(Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input: Tensor) -> Tensor:
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += input
        return result


class FusedMBConv(nn.Module):
    """A KxK convolution (expanding), then a 1x1 projection when it expanded; stochastic depth
    on the residual branch."""

    def __init__(self, cnf: FusedMBConvConfig, stochastic_depth_prob: float,
                 norm_layer: Callable[..., nn.Module]) -> None:
        super().__init__()
        if not (1 <= cnf.stride <= 2):
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        layers: list[nn.Module] = []
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded,
                                               kernel_size=cnf.kernel, stride=cnf.stride,
                                               norm_layer=norm_layer, activation_layer=nn.SiLU))
            layers.append(Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=None))
        else:
            layers.append(Conv2dNormActivation(cnf.input_channels, cnf.out_channels,
                                               kernel_size=cnf.kernel, stride=cnf.stride,
                                               norm_layer=norm_layer, activation_layer=nn.SiLU))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input: Tensor) -> Tensor:
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += input
        return result


def _uniform_linear(m: nn.Linear) -> None:
    """U(-1/sqrt(out_features), 1/sqrt(out_features)) weight, zero bias."""
    init_range = 1.0 / math.sqrt(m.out_features)
    nn.init.uniform_(m.weight, -init_range, init_range)
    nn.init.zeros_(m.bias)


class EfficientNet(nn.Module):
    """EfficientNet (V1 and V2).

    Args:
        inverted_residual_setting (list of MBConvConfig / FusedMBConvConfig): the stages.
        dropout (float): before the classifier.
        stochastic_depth_prob (float): the last block's drop probability; earlier blocks' grow
            linearly from 0. Default: 0.2.
        num_classes (int): Default: 1000.
        norm_layer (callable, optional): Default: ``nn.BatchNorm2d``.
        last_channel (int, optional): channels of the last 1x1 convolution; default 4x the
            last stage's.
    """

    def __init__(self, inverted_residual_setting: Sequence[Union[MBConvConfig,
                                                                 FusedMBConvConfig]],
                 dropout: float, stochastic_depth_prob: float = 0.2, num_classes: int = 1000,
                 norm_layer: Optional[Callable[..., nn.Module]] = None,
                 last_channel: Optional[int] = None) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not (isinstance(inverted_residual_setting, Sequence)
                and all(isinstance(s, _MBConvConfig) for s in inverted_residual_setting)):
            raise TypeError("The inverted_residual_setting should be List[MBConvConfig]")
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        layers: list[nn.Module] = [Conv2dNormActivation(
            3, inverted_residual_setting[0].input_channels, kernel_size=3, stride=2,
            norm_layer=norm_layer, activation_layer=nn.SiLU)]
        total_stage_blocks = sum(cnf.num_layers for cnf in inverted_residual_setting)
        stage_block_id = 0
        for cnf in inverted_residual_setting:
            stage: list[nn.Module] = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)  # the stage's later blocks keep width and stride 1
                if stage:
                    block_cnf.input_channels = block_cnf.out_channels
                    block_cnf.stride = 1
                sd_prob = stochastic_depth_prob * float(stage_block_id) / total_stage_blocks
                stage.append(block_cnf.block(block_cnf, sd_prob, norm_layer))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
        lastconv_input_channels = inverted_residual_setting[-1].out_channels
        lastconv_output_channels = (last_channel if last_channel is not None
                                    else 4 * lastconv_input_channels)
        layers.append(Conv2dNormActivation(lastconv_input_channels, lastconv_output_channels,
                                           kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(lastconv_output_channels, num_classes))
        _init_weights(self, _uniform_linear)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


def _efficientnet(inverted_residual_setting: Sequence[Union[MBConvConfig, FusedMBConvConfig]],
                  dropout: float, last_channel: Optional[int], weights: Optional[WeightsEnum],
                  progress: bool, **kwargs: Any) -> EfficientNet:
    return _with_weights(EfficientNet, weights, progress, inverted_residual_setting, dropout,
                         last_channel=last_channel, **kwargs)


def _efficientnet_conf(arch: str, **kwargs: Any
                       ) -> tuple[list[Union[MBConvConfig, FusedMBConvConfig]], Optional[int]]:
    if arch.startswith("efficientnet_b"):
        c = partial(MBConvConfig, width_mult=kwargs.pop("width_mult"),
                    depth_mult=kwargs.pop("depth_mult"))
        setting: list[Union[MBConvConfig, FusedMBConvConfig]] = [
            c(1, 3, 1, 32, 16, 1), c(6, 3, 2, 16, 24, 2), c(6, 5, 2, 24, 40, 2),
            c(6, 3, 2, 40, 80, 3), c(6, 5, 1, 80, 112, 3), c(6, 5, 2, 112, 192, 4),
            c(6, 3, 1, 192, 320, 1),
        ]
        return setting, None
    if arch.startswith("efficientnet_v2_s"):
        setting = [
            FusedMBConvConfig(1, 3, 1, 24, 24, 2), FusedMBConvConfig(4, 3, 2, 24, 48, 4),
            FusedMBConvConfig(4, 3, 2, 48, 64, 4), MBConvConfig(4, 3, 2, 64, 128, 6),
            MBConvConfig(6, 3, 1, 128, 160, 9), MBConvConfig(6, 3, 2, 160, 256, 15),
        ]
        return setting, 1280
    raise ValueError(f"Unsupported model type {arch}")


_V1 = {"recipe": _RECIPE + "#efficientnet-v1"}
_PORTED = "These weights are ported from the original paper."
_BICUBIC = InterpolationMode.BICUBIC


class EfficientNet_B0_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "efficientnet_b0_rwightman-7f5810bc.pth", num_params=5288548, **_V1, acc1=77.692,
        acc5=93.532, ops=0.386, file_size=20.451, docs=_PORTED, crop_size=224,
        resize_size=256, interpolation=_BICUBIC)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B1_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "efficientnet_b1_rwightman-bac287d4.pth", num_params=7794184, **_V1, acc1=78.642,
        acc5=94.186, ops=0.687, file_size=30.134, docs=_PORTED, crop_size=240,
        resize_size=256, interpolation=_BICUBIC)
    IMAGENET1K_V2 = imagenet_weights(
        "efficientnet_b1-c27df63c.pth", num_params=7794184,
        recipe="https://github.com/pytorch/vision/issues/3995#new-recipe-with-lr-wd-crop-tuning",
        acc1=79.838, acc5=94.934, ops=0.687, file_size=30.136, crop_size=240, resize_size=255,
        interpolation=InterpolationMode.BILINEAR,
        docs="These weights improve upon the results of the original paper by using a "
             f"modified version of TorchVision's new training recipe ({_BLOG}).")
    DEFAULT = IMAGENET1K_V2


class EfficientNet_B2_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "efficientnet_b2_rwightman-c35c1473.pth", num_params=9109994, **_V1, acc1=80.608,
        acc5=95.310, ops=1.088, file_size=35.174, docs=_PORTED, crop_size=288,
        resize_size=288, interpolation=_BICUBIC)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B3_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "efficientnet_b3_rwightman-b3899882.pth", num_params=12233232, **_V1, acc1=82.008,
        acc5=96.054, ops=1.827, file_size=47.184, docs=_PORTED, crop_size=300,
        resize_size=320, interpolation=_BICUBIC)
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "efficientnet_v2_s-dd5fe13b.pth", num_params=21458488,
        recipe=_RECIPE + "#efficientnet-v2", acc1=84.228, acc5=96.878, ops=8.366,
        file_size=82.704, crop_size=384, resize_size=384,
        interpolation=InterpolationMode.BILINEAR, min_size=(33, 33),
        docs="These weights improve upon the results of the original paper by using a "
             f"modified version of TorchVision's new training recipe ({_BLOG}).")
    DEFAULT = IMAGENET1K_V1


def _b(arch: str, width_mult: float, depth_mult: float, dropout: float,
       weights: Optional[WeightsEnum], progress: bool, kwargs: dict) -> EfficientNet:
    setting, last_channel = _efficientnet_conf(arch, width_mult=width_mult,
                                               depth_mult=depth_mult)
    return _efficientnet(setting, kwargs.pop("dropout", dropout), last_channel, weights,
                         progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", EfficientNet_B0_Weights.IMAGENET1K_V1))
def efficientnet_b0(*, weights: Optional[EfficientNet_B0_Weights] = None, progress: bool = True,
                    **kwargs: Any) -> EfficientNet:
    weights = EfficientNet_B0_Weights.verify(weights)
    return _b("efficientnet_b0", 1.0, 1.0, 0.2, weights, progress, kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", EfficientNet_B1_Weights.IMAGENET1K_V1))
def efficientnet_b1(*, weights: Optional[EfficientNet_B1_Weights] = None, progress: bool = True,
                    **kwargs: Any) -> EfficientNet:
    weights = EfficientNet_B1_Weights.verify(weights)
    return _b("efficientnet_b1", 1.0, 1.1, 0.2, weights, progress, kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", EfficientNet_B2_Weights.IMAGENET1K_V1))
def efficientnet_b2(*, weights: Optional[EfficientNet_B2_Weights] = None, progress: bool = True,
                    **kwargs: Any) -> EfficientNet:
    weights = EfficientNet_B2_Weights.verify(weights)
    return _b("efficientnet_b2", 1.1, 1.2, 0.3, weights, progress, kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", EfficientNet_B3_Weights.IMAGENET1K_V1))
def efficientnet_b3(*, weights: Optional[EfficientNet_B3_Weights] = None, progress: bool = True,
                    **kwargs: Any) -> EfficientNet:
    weights = EfficientNet_B3_Weights.verify(weights)
    return _b("efficientnet_b3", 1.2, 1.4, 0.3, weights, progress, kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", EfficientNet_V2_S_Weights.IMAGENET1K_V1))
def efficientnet_v2_s(*, weights: Optional[EfficientNet_V2_S_Weights] = None,
                      progress: bool = True, **kwargs: Any) -> EfficientNet:
    weights = EfficientNet_V2_S_Weights.verify(weights)
    setting, last_channel = _efficientnet_conf("efficientnet_v2_s")
    # the V2 checkpoints were trained with TensorFlow's batch-norm epsilon
    return _efficientnet(setting, kwargs.pop("dropout", 0.2), last_channel, weights, progress,
                         norm_layer=partial(nn.BatchNorm2d, eps=1e-03), **kwargs)


for _fn, _title in [(efficientnet_b0, "EfficientNet-B0"), (efficientnet_b1, "EfficientNet-B1"),
                    (efficientnet_b2, "EfficientNet-B2"), (efficientnet_b3, "EfficientNet-B3")]:
    _fn.__doc__ = builder_doc(f"{_title} (Tan & Le, 2019).",
                              _title.replace("-", "_") + "_Weights", "EfficientNet")
efficientnet_v2_s.__doc__ = builder_doc("EfficientNetV2-S (Tan & Le, 2021).",
                                        "EfficientNet_V2_S_Weights", "EfficientNet")
