"""MNASNet 0.5 and 1.0 (torchvision's ``models.mnasnet``): Tan et al., MnasNet: Platform-Aware
Neural Architecture Search for Mobile, 2018. Module tree, names and the checkpoint version
handling as torchvision's, so its checkpoints (saved before the stem became width-scaled) load
as they do there."""
from __future__ import annotations

import warnings
from typing import Any, Optional

from ... import nn
from ...tensor import Tensor
from ._api import WeightsEnum, register_model
from ._imagenet import builder_doc, imagenet_weights
from ._utils import _init_weights, _with_weights, handle_legacy_interface

__all__ = ["MNASNet", "MNASNet0_5_Weights", "MNASNet1_0_Weights", "mnasnet0_5", "mnasnet1_0"]

# Paper suggests 0.9997 momentum, for TensorFlow. Equivalent PyTorch momentum is 1.0 - tensorflow.
_BN_MOMENTUM = 1 - 0.9997


class _InvertedResidual(nn.Module):
    """1x1 expansion, KxK depthwise, linear 1x1 projection; a shortcut when the shape is kept."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int,
                 expansion_factor: int, bn_momentum: float = 0.1) -> None:
        super().__init__()
        if stride not in [1, 2]:
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        if kernel_size not in [3, 5]:
            raise ValueError(f"kernel_size should be 3 or 5 instead of {kernel_size}")
        mid_ch = in_ch * expansion_factor
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 1, bias=False),
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, mid_ch, kernel_size, padding=kernel_size // 2, stride=stride,
                      groups=mid_ch, bias=False),
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, out_ch, 1, bias=False),  # linear: no activation
            nn.BatchNorm2d(out_ch, momentum=bn_momentum),
        )

    def forward(self, input: Tensor) -> Tensor:
        if self.apply_residual:
            return self.layers(input) + input
        return self.layers(input)


def _stack(in_ch: int, out_ch: int, kernel_size: int, stride: int, exp_factor: int,
           repeats: int, bn_momentum: float) -> nn.Sequential:
    """``repeats`` blocks; only the first strides and changes the width."""
    if repeats < 1:
        raise ValueError(f"repeats should be >= 1, instead got {repeats}")
    first = _InvertedResidual(in_ch, out_ch, kernel_size, stride, exp_factor,
                              bn_momentum=bn_momentum)
    remaining = [_InvertedResidual(out_ch, out_ch, kernel_size, 1, exp_factor,
                                   bn_momentum=bn_momentum) for _ in range(1, repeats)]
    return nn.Sequential(first, *remaining)


def _round_to_multiple_of(val: float, divisor: int, round_up_bias: float = 0.9) -> int:
    """``val`` rounded to a multiple of ``divisor``, rounding up when rounding down would lose
    more than ``1 - round_up_bias`` of it."""
    if not 0.0 < round_up_bias < 1.0:
        raise ValueError("round_up_bias should be greater than 0.0 and smaller than 1.0 "
                         f"instead of {round_up_bias}")
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


def _get_depths(alpha: float) -> list[int]:
    """The channels of each layer group, scaled by the width multiplier ``alpha``."""
    depths = [32, 16, 24, 40, 80, 96, 192, 320]
    return [_round_to_multiple_of(depth * alpha, 8) for depth in depths]


def _stem(c0: int, c1: int, c2: int) -> list[nn.Module]:
    """A full 3x3 stride-2 convolution, a depthwise-separable one without shortcut, then the
    first stack."""
    return [
        nn.Conv2d(3, c0, 3, padding=1, stride=2, bias=False),
        nn.BatchNorm2d(c0, momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(c0, c0, 3, padding=1, stride=1, groups=c0, bias=False),
        nn.BatchNorm2d(c0, momentum=_BN_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Conv2d(c0, c1, 1, padding=0, stride=1, bias=False),
        nn.BatchNorm2d(c1, momentum=_BN_MOMENTUM),
        _stack(c1, c2, 3, 2, 3, 3, _BN_MOMENTUM),
    ]


def _sigmoid_linear(m: nn.Linear) -> None:
    """Kaiming-uniform (``fan_out``, sigmoid gain) weight, zero bias."""
    nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="sigmoid")
    nn.init.zeros_(m.bias)


class MNASNet(nn.Module):
    """MNASNet.

    Args:
        alpha (float): width multiplier (0.5 and 1.0 have pretrained weights).
        num_classes (int): Default: 1000.
        dropout (float): Default: 0.2.
    """

    # Version 2 scales the stem with alpha; version-1 checkpoints (alpha != 1) rebuild the
    # fixed-width stem when loaded.
    _version = 2

    def __init__(self, alpha: float, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        if alpha <= 0.0:
            raise ValueError(f"alpha should be greater than 0.0 instead of {alpha}")
        self.alpha = alpha
        self.num_classes = num_classes
        d = _get_depths(alpha)
        layers = _stem(d[0], d[1], d[2]) + [
            _stack(d[2], d[3], 5, 2, 3, 3, _BN_MOMENTUM),
            _stack(d[3], d[4], 5, 2, 6, 3, _BN_MOMENTUM),
            _stack(d[4], d[5], 3, 1, 6, 2, _BN_MOMENTUM),
            _stack(d[5], d[6], 5, 2, 6, 4, _BN_MOMENTUM),
            _stack(d[6], d[7], 3, 1, 6, 1, _BN_MOMENTUM),
            nn.Conv2d(d[7], 1280, 1, padding=0, stride=1, bias=False),
            nn.BatchNorm2d(1280, momentum=_BN_MOMENTUM),
            nn.ReLU(inplace=True),
        ]
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(1280, num_classes))
        _init_weights(self, _sigmoid_linear, norms=(nn.BatchNorm2d,), nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.layers(x).mean([2, 3]))  # global average pooling

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict,
                              strict: bool, missing_keys: list, unexpected_keys: list,
                              error_msgs: list) -> None:
        version = local_metadata.get("version", None)
        if version not in [1, 2]:
            # torchvision's message, its typo included
            raise ValueError(f"version shluld be set to 1 or 2 instead of {version}")
        if version == 1 and not self.alpha == 1.0:
            # a version-1 checkpoint has the fixed-width stem; rebuild it (alpha 1.0 is the same)
            for idx, layer in enumerate(_stem(32, 16, _get_depths(self.alpha)[2])):
                self.layers[idx] = layer
            self._version = 1
            warnings.warn("A new version of MNASNet model has been implemented. Your checkpoint "
                          "was saved using the previous version. This checkpoint will load and "
                          "work as before, but you may want to upgrade by training a newer model "
                          "or transfer learning from an updated ImageNet checkpoint.",
                          UserWarning)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


def _mnasnet(alpha: float, weights: Optional[WeightsEnum], progress: bool,
             **kwargs: Any) -> MNASNet:
    return _with_weights(MNASNet, weights, progress, alpha, **kwargs)


_RECIPE_MNAS = "https://github.com/1e100/mnasnet_trainer"
_DOCS = "These weights reproduce closely the results of the paper."


class MNASNet0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "mnasnet0.5_top1_67.823-3ffadce67e.pth", num_params=2218512, recipe=_RECIPE_MNAS,
        acc1=67.734, acc5=87.490, ops=0.104, file_size=8.591, docs=_DOCS)
    DEFAULT = IMAGENET1K_V1


class MNASNet1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "mnasnet1.0_top1_73.512-f206786ef8.pth", num_params=4383312, recipe=_RECIPE_MNAS,
        acc1=73.456, acc5=91.510, ops=0.314, file_size=16.915, docs=_DOCS)
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(weights=("pretrained", MNASNet0_5_Weights.IMAGENET1K_V1))
def mnasnet0_5(*, weights: Optional[MNASNet0_5_Weights] = None, progress: bool = True,
               **kwargs: Any) -> MNASNet:
    weights = MNASNet0_5_Weights.verify(weights)
    return _mnasnet(0.5, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", MNASNet1_0_Weights.IMAGENET1K_V1))
def mnasnet1_0(*, weights: Optional[MNASNet1_0_Weights] = None, progress: bool = True,
               **kwargs: Any) -> MNASNet:
    weights = MNASNet1_0_Weights.verify(weights)
    return _mnasnet(1.0, weights, progress, **kwargs)


mnasnet0_5.__doc__ = builder_doc("MNASNet with depth multiplier 0.5 (Tan et al., 2018).",
                                 "MNASNet0_5_Weights", "MNASNet")
mnasnet1_0.__doc__ = builder_doc("MNASNet with depth multiplier 1.0 (Tan et al., 2018).",
                                 "MNASNet1_0_Weights", "MNASNet")
