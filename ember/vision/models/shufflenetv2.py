"""ShuffleNetV2 x0.5 and x1.0 (torchvision's ``models.shufflenetv2``): Ma et al., ShuffleNet V2:
Practical Guidelines for Efficient CNN Architecture Design, 2018. Module tree and names as
torchvision's (``stage2.0.branch1.0.weight``), so its checkpoints load key for key."""
from __future__ import annotations

from typing import Any, Callable, Optional

from ... import cat, nn
from ...tensor import Tensor
from ._api import WeightsEnum, register_model
from ._imagenet import builder_doc, imagenet_weights
from ._utils import _with_weights, handle_legacy_interface

__all__ = ["ShuffleNetV2", "ShuffleNet_V2_X0_5_Weights", "ShuffleNet_V2_X1_0_Weights",
           "shufflenet_v2_x0_5", "shufflenet_v2_x1_0"]


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleaves the channels of ``groups`` groups, so the next block mixes both branches."""
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w).transpose(1, 2).contiguous()
    return x.view(b, c, h, w)


class InvertedResidual(nn.Module):
    """With stride 1, half the channels pass through and half go through 1x1, depthwise 3x3,
    1x1; with stride 2, both halves are computed from the whole input (``branch1`` then has a
    depthwise downsampling path). The halves are concatenated and shuffled."""

    def __init__(self, inp: int, oup: int, stride: int) -> None:
        super().__init__()
        if not (1 <= stride <= 3):
            raise ValueError("illegal stride value")
        self.stride = stride
        branch_features = oup // 2
        if self.stride == 1 and inp != branch_features << 1:
            raise ValueError(f"Invalid combination of stride {stride}, inp {inp} and oup {oup} "
                             "values. If stride == 1 then inp should be equal to oup // 2 << 1.")
        if self.stride > 1:
            self.branch1 = nn.Sequential(
                self.depthwise_conv(inp, inp, kernel_size=3, stride=self.stride, padding=1),
                nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch_features, kernel_size=1, stride=1, padding=0, bias=False),
                nn.BatchNorm2d(branch_features),
                nn.ReLU(inplace=True),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if self.stride > 1 else branch_features, branch_features,
                      kernel_size=1, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
            self.depthwise_conv(branch_features, branch_features, kernel_size=3,
                                stride=self.stride, padding=1),
            nn.BatchNorm2d(branch_features),
            nn.Conv2d(branch_features, branch_features, kernel_size=1, stride=1, padding=0,
                      bias=False),
            nn.BatchNorm2d(branch_features),
            nn.ReLU(inplace=True),
        )

    @staticmethod
    def depthwise_conv(i: int, o: int, kernel_size: int, stride: int = 1, padding: int = 0,
                       bias: bool = False) -> nn.Conv2d:
        return nn.Conv2d(i, o, kernel_size, stride, padding, bias=bias, groups=i)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = cat((x1, self.branch2(x2)), dim=1)
        else:
            out = cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNetV2.

    Args:
        stages_repeats (list of 3 int): blocks in stages 2-4.
        stages_out_channels (list of 5 int): channels of conv1, stages 2-4 and conv5.
        num_classes (int): Default: 1000.
        inverted_residual (callable): the block class. Default: :class:`InvertedResidual`.
    """

    def __init__(self, stages_repeats: list[int], stages_out_channels: list[int],
                 num_classes: int = 1000,
                 inverted_residual: Callable[..., nn.Module] = InvertedResidual) -> None:
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError("expected stages_repeats as list of 3 positive ints")
        if len(stages_out_channels) != 5:
            raise ValueError("expected stages_out_channels as list of 5 positive ints")
        self._stage_out_channels = stages_out_channels
        input_channels, output_channels = 3, stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        input_channels = output_channels
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for name, repeats, output_channels in zip(["stage2", "stage3", "stage4"],
                                                  stages_repeats, stages_out_channels[1:]):
            seq = [inverted_residual(input_channels, output_channels, 2)]
            seq += [inverted_residual(output_channels, output_channels, 1)
                    for _ in range(repeats - 1)]
            setattr(self, name, nn.Sequential(*seq))
            input_channels = output_channels
        output_channels = stages_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=False),
            nn.BatchNorm2d(output_channels),
            nn.ReLU(inplace=True),
        )
        self.fc = nn.Linear(output_channels, num_classes)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))  # global pooling

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


def _shufflenetv2(weights: Optional[WeightsEnum], progress: bool, *args: Any,
                  **kwargs: Any) -> ShuffleNetV2:
    return _with_weights(ShuffleNetV2, weights, progress, *args, **kwargs)


_RECIPE_SHUFFLE = "https://github.com/ericsun99/Shufflenet-v2-Pytorch"
_DOCS = "These weights were trained from scratch to reproduce closely the results of the paper."


class ShuffleNet_V2_X0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "shufflenetv2_x0.5-f707e7126e.pth", num_params=1366792, recipe=_RECIPE_SHUFFLE,
        acc1=60.552, acc5=81.746, ops=0.04, file_size=5.282, docs=_DOCS)
    DEFAULT = IMAGENET1K_V1


class ShuffleNet_V2_X1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "shufflenetv2_x1-5666bf0f80.pth", num_params=2278604, recipe=_RECIPE_SHUFFLE,
        acc1=69.362, acc5=88.316, ops=0.145, file_size=8.791, docs=_DOCS)
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(weights=("pretrained", ShuffleNet_V2_X0_5_Weights.IMAGENET1K_V1))
def shufflenet_v2_x0_5(*, weights: Optional[ShuffleNet_V2_X0_5_Weights] = None,
                       progress: bool = True, **kwargs: Any) -> ShuffleNetV2:
    weights = ShuffleNet_V2_X0_5_Weights.verify(weights)
    return _shufflenetv2(weights, progress, [4, 8, 4], [24, 48, 96, 192, 1024], **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ShuffleNet_V2_X1_0_Weights.IMAGENET1K_V1))
def shufflenet_v2_x1_0(*, weights: Optional[ShuffleNet_V2_X1_0_Weights] = None,
                       progress: bool = True, **kwargs: Any) -> ShuffleNetV2:
    weights = ShuffleNet_V2_X1_0_Weights.verify(weights)
    return _shufflenetv2(weights, progress, [4, 8, 4], [24, 116, 232, 464, 1024], **kwargs)


shufflenet_v2_x0_5.__doc__ = builder_doc("ShuffleNetV2 with 0.5x output channels (Ma et al., "
                                         "2018).", "ShuffleNet_V2_X0_5_Weights", "ShuffleNetV2")
shufflenet_v2_x1_0.__doc__ = builder_doc("ShuffleNetV2 with 1.0x output channels (Ma et al., "
                                         "2018).", "ShuffleNet_V2_X1_0_Weights", "ShuffleNetV2")
