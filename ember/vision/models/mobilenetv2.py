"""MobileNetV2 (torchvision's ``models.mobilenetv2``): Sandler et al., MobileNetV2: Inverted
Residuals and Linear Bottlenecks, 2018. Module tree and names as torchvision's, so its
checkpoints load key for key (``features.1.conv.0.0.weight``)."""
from __future__ import annotations

from typing import Any, Callable, Optional

from ... import flatten, nn
from ...nn import functional as F
from ...tensor import Tensor
from ..ops.misc import Conv2dNormActivation
from ._api import WeightsEnum, register_model
from ._imagenet import _BLOG, _NEW_RECIPE, _RECIPE, builder_doc, imagenet_weights
from ._utils import (_init_weights, _make_divisible, _normal_linear, _with_weights,
                     handle_legacy_interface)

__all__ = ["MobileNetV2", "MobileNet_V2_Weights", "mobilenet_v2"]


class InvertedResidual(nn.Module):
    """1x1 expansion (skipped when ``expand_ratio`` is 1), 3x3 depthwise, linear 1x1
    projection; a shortcut when the shape is kept."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        self.stride = stride
        if stride not in [1, 2]:
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = self.stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=nn.ReLU6))
        layers += [
            Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                                 norm_layer=norm_layer, activation_layer=nn.ReLU6),
            # no activation after the projection: the "linear bottleneck"
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2.

    Args:
        num_classes (int): outputs of the classifier. Default: 1000.
        width_mult (float): scales every layer's channels. Default: 1.0.
        inverted_residual_setting (list of [t, c, n, s], optional): expansion, channels,
            repeats and first stride of each stage. Default: the paper's.
        round_nearest (int): channels are rounded to a multiple of this. Default: 8.
        block (callable, optional): the block class. Default: :class:`InvertedResidual`.
        norm_layer (callable, optional): Default: ``nn.BatchNorm2d``.
        dropout (float): before the classifier. Default: 0.2.
    """

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0,
                 inverted_residual_setting: Optional[list[list[int]]] = None,
                 round_nearest: int = 8, block: Optional[Callable[..., nn.Module]] = None,
                 norm_layer: Optional[Callable[..., nn.Module]] = None,
                 dropout: float = 0.2) -> None:
        super().__init__()
        block = InvertedResidual if block is None else block
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        input_channel, last_channel = 32, 1280
        if inverted_residual_setting is None:
            inverted_residual_setting = [  # t, c, n, s
                [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
            ]
        # only the first entry is checked, as torchvision does
        if len(inverted_residual_setting) == 0 or len(inverted_residual_setting[0]) != 4:
            raise ValueError("inverted_residual_setting should be non-empty or a 4-element "
                             f"list, got {inverted_residual_setting}")
        input_channel = _make_divisible(input_channel * width_mult, round_nearest)
        self.last_channel = _make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [Conv2dNormActivation(3, input_channel, stride=2,
                                                          norm_layer=norm_layer,
                                                          activation_layer=nn.ReLU6)]
        for t, c, n, s in inverted_residual_setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(input_channel, output_channel, s if i == 0 else 1,
                                      expand_ratio=t, norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))
        _init_weights(self, _normal_linear)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(flatten(x, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


class MobileNet_V2_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "mobilenet_v2-b0353104.pth", num_params=3504872, recipe=_RECIPE + "#mobilenetv2",
        acc1=71.878, acc5=90.286, ops=0.301, file_size=13.555,
        docs="These weights reproduce closely the results of the paper using a simple "
             "training recipe.")
    IMAGENET1K_V2 = imagenet_weights(
        "mobilenet_v2-7ebf99e0.pth", num_params=3504872,
        recipe=_NEW_RECIPE + "#new-recipe-with-reg-tuning", acc1=72.154, acc5=90.822,
        ops=0.301, file_size=13.598, resize_size=232,
        docs="These weights improve upon the results of the original paper by using a "
             f"modified version of TorchVision's new training recipe ({_BLOG}).")
    DEFAULT = IMAGENET1K_V2


@register_model()
@handle_legacy_interface(weights=("pretrained", MobileNet_V2_Weights.IMAGENET1K_V1))
def mobilenet_v2(*, weights: Optional[MobileNet_V2_Weights] = None, progress: bool = True,
                 **kwargs: Any) -> MobileNetV2:
    weights = MobileNet_V2_Weights.verify(weights)
    return _with_weights(MobileNetV2, weights, progress, **kwargs)


mobilenet_v2.__doc__ = builder_doc("MobileNetV2 (Sandler et al., 2018).",
                                   "MobileNet_V2_Weights", "MobileNetV2")
