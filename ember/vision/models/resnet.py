"""ResNet, ResNeXt and Wide ResNet (torchvision's ``models.resnet``).

The module tree and attribute names are torchvision's, so ``state_dict`` keys match key for key
(``layer2.0.downsample.0.weight``) and torchvision's checkpoints load without conversion.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional, Sequence, Union

from ... import flatten, nn
from ...tensor import Tensor
from ..transforms._presets import ImageClassification
from ._api import Weights, WeightsEnum, register_model
from ._meta import _IMAGENET_CATEGORIES
from ._utils import _ovewrite_named_param, _with_weights, handle_legacy_interface

__all__ = [
    "ResNet", "BasicBlock", "Bottleneck",
    "ResNet18_Weights", "ResNet34_Weights", "ResNet50_Weights", "ResNet101_Weights",
    "ResNet152_Weights", "ResNeXt50_32X4D_Weights", "ResNeXt101_32X8D_Weights",
    "ResNeXt101_64X4D_Weights", "Wide_ResNet50_2_Weights", "Wide_ResNet101_2_Weights",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
    "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution; padding equals dilation so the spatial size only changes by ``stride``."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution (no bias: a batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions plus a shortcut: the block of ResNet-18/34."""

    expansion: int = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        # With stride 2, conv1 and the downsample shortcut both halve the resolution.
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand by 4, plus a shortcut.

    The stride sits on the 3x3 convolution ("ResNet V1.5"), as in torchvision, which is slightly
    more accurate than the paper's placement on the first 1x1.
    """

    expansion: int = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """A residual network: a 7x7 stem, four stages of residual blocks, global pooling and ``fc``.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers (list of 4 int): blocks per stage.
        num_classes (int): outputs of ``fc``. Default: 1000.
        zero_init_residual (bool): start each block's last batch-norm scale at 0, so every
            block begins as the identity. Default: False.
        groups, width_per_group (int): ResNeXt cardinality and per-group width (Bottleneck only).
        replace_stride_with_dilation (list of 3 bool, optional): for stages 2-4, keep the
            resolution and dilate the convolutions instead of striding.
        norm_layer (callable, optional): normalisation layer factory. Default: ``nn.BatchNorm2d``.

    Shape: input ``(N, 3, H, W)``, output ``(N, num_classes)``.
    """

    def __init__(self, block: type[Union[BasicBlock, Bottleneck]], layers: Sequence[int],
                 num_classes: int = 1000, zero_init_residual: bool = False, groups: int = 1,
                 width_per_group: int = 64,
                 replace_stride_with_dilation: Optional[Sequence[bool]] = None,
                 norm_layer: Optional[Callable[..., nn.Module]] = None) -> None:
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None "
                             f"or a 3-element tuple, got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2,
                                       dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2,
                                       dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2,
                                       dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        # Goyal et al. 2017 (arXiv:1706.02677): residual branches that start at zero train
        # a little better (+0.2-0.3% top-1).
        if zero_init_residual:
            for m in self.modules():
                last_bn = (m.bn3 if isinstance(m, Bottleneck)
                           else m.bn2 if isinstance(m, BasicBlock) else None)
                if last_bn is not None and last_bn.weight is not None:
                    nn.init.constant_(last_bn.weight, 0)

    def _make_layer(self, block: type[Union[BasicBlock, Bottleneck]], planes: int, blocks: int,
                    stride: int = 1, dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        # Only the first block strides (and uses the dilation from before this stage).
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                         dilation=self.dilation, norm_layer=norm_layer)
                   for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = flatten(self.avgpool(x), 1)
        return self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)


def _resnet(block: type[Union[BasicBlock, Bottleneck]], layers: Sequence[int],
            weights: Optional[WeightsEnum], progress: bool, **kwargs: Any) -> ResNet:
    return _with_weights(ResNet, weights, progress, block, layers, **kwargs)


# ---- pretrained weights: torchvision's checkpoints, URLs and published numbers ----------------

_COMMON_META = {"min_size": (1, 1), "categories": _IMAGENET_CATEGORIES}
_RECIPE_V1 = "https://github.com/pytorch/vision/tree/main/references/classification#"
# "_docs" are ember's own summaries; the numbers and links are torchvision's.
_DOCS_V1 = "Trained with the paper's simple recipe; accuracy close to the published results."
_DOCS_V2 = ("Trained with TorchVision's improved recipe (https://pytorch.org/blog/how-to-train-"
            "state-of-the-art-models-using-torchvision-latest-primitives/), well above the "
            "paper's accuracy.")
_NEW_RECIPE = "https://github.com/pytorch/vision/issues/3995#new-recipe"


def _weights(file: str, num_params: int, recipe: str, acc1: float, acc5: float, ops: float,
             file_size: float, docs: str, resize_size: Optional[int] = None) -> Weights:
    """One ImageNet-1K checkpoint on download.pytorch.org; V2 weights evaluate at resize 232."""
    preset = (partial(ImageClassification, crop_size=224) if resize_size is None
              else partial(ImageClassification, crop_size=224, resize_size=resize_size))
    return Weights(
        url=f"https://download.pytorch.org/models/{file}",
        transforms=preset,
        meta={**_COMMON_META, "num_params": num_params, "recipe": recipe,
              "_metrics": {"ImageNet-1K": {"acc@1": acc1, "acc@5": acc5}},
              "_ops": ops, "_file_size": file_size, "_docs": docs},
    )


class ResNet18_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("resnet18-f37072fd.pth", 11689512, _RECIPE_V1 + "resnet",
                             69.758, 89.078, 1.814, 44.661, _DOCS_V1)
    DEFAULT = IMAGENET1K_V1


class ResNet34_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("resnet34-b627a593.pth", 21797672, _RECIPE_V1 + "resnet",
                             73.314, 91.420, 3.664, 83.275, _DOCS_V1)
    DEFAULT = IMAGENET1K_V1


class ResNet50_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("resnet50-0676ba61.pth", 25557032, _RECIPE_V1 + "resnet",
                             76.130, 92.862, 4.089, 97.781, _DOCS_V1)
    IMAGENET1K_V2 = _weights("resnet50-11ad3fa6.pth", 25557032,
                             _NEW_RECIPE.replace("new-recipe", "issuecomment-1013906621"),
                             80.858, 95.434, 4.089, 97.79, _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNet101_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("resnet101-63fe2227.pth", 44549160, _RECIPE_V1 + "resnet",
                             77.374, 93.546, 7.801, 170.511, _DOCS_V1)
    IMAGENET1K_V2 = _weights("resnet101-cd907fc2.pth", 44549160, _NEW_RECIPE,
                             81.886, 95.780, 7.801, 170.53, _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNet152_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("resnet152-394f9c45.pth", 60192808, _RECIPE_V1 + "resnet",
                             78.312, 94.046, 11.514, 230.434, _DOCS_V1)
    IMAGENET1K_V2 = _weights("resnet152-f82ba261.pth", 60192808, _NEW_RECIPE,
                             82.284, 96.002, 11.514, 230.474, _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt50_32X4D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("resnext50_32x4d-7cdf4587.pth", 25028904, _RECIPE_V1 + "resnext",
                             77.618, 93.698, 4.23, 95.789, _DOCS_V1)
    IMAGENET1K_V2 = _weights("resnext50_32x4d-1a0047aa.pth", 25028904, _NEW_RECIPE,
                             81.198, 95.340, 4.23, 95.833, _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_32X8D_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("resnext101_32x8d-8ba56ff5.pth", 88791336, _RECIPE_V1 + "resnext",
                             79.312, 94.526, 16.414, 339.586, _DOCS_V1)
    IMAGENET1K_V2 = _weights("resnext101_32x8d-110c445d.pth", 88791336,
                             _NEW_RECIPE + "-with-fixres", 82.834, 96.228, 16.414, 339.673,
                             _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class ResNeXt101_64X4D_Weights(WeightsEnum):
    # Trained only with the new recipe, so its V1 already evaluates at resize 232.
    IMAGENET1K_V1 = _weights(
        "resnext101_64x4d-173b62eb.pth", 83455272, "https://github.com/pytorch/vision/pull/5935",
        83.246, 96.454, 15.46, 319.318,
        "Trained from scratch with TorchVision's improved recipe.", resize_size=232)
    DEFAULT = IMAGENET1K_V1


class Wide_ResNet50_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("wide_resnet50_2-95faca4d.pth", 68883240,
                             "https://github.com/pytorch/vision/pull/912#issue-445437439",
                             78.468, 94.086, 11.398, 131.82, _DOCS_V1)
    IMAGENET1K_V2 = _weights("wide_resnet50_2-9ba9bcbe.pth", 68883240,
                             _NEW_RECIPE + "-with-fixres", 81.602, 95.758, 11.398, 263.124,
                             _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


class Wide_ResNet101_2_Weights(WeightsEnum):
    IMAGENET1K_V1 = _weights("wide_resnet101_2-32ee1156.pth", 126886696,
                             "https://github.com/pytorch/vision/pull/912#issue-445437439",
                             78.848, 94.284, 22.753, 242.896, _DOCS_V1)
    IMAGENET1K_V2 = _weights("wide_resnet101_2-d733dc28.pth", 126886696, _NEW_RECIPE,
                             82.510, 96.020, 22.753, 484.747, _DOCS_V2, resize_size=232)
    DEFAULT = IMAGENET1K_V2


# ---- builders ------------------------------------------------------------------------------
# `pretrained=True` maps to IMAGENET1K_V1: the weights the pre-0.13 API loaded.

_BUILDER_DOC = """{title}

    Args:
        weights (:class:`{enum}`, optional): pretrained weights to load (a member, or its name
            as a string such as ``"DEFAULT"``). Default: None, random initialisation.
        progress (bool): show a progress bar while downloading. Default: True.
        **kwargs: passed on to :class:`ResNet` (e.g. ``num_classes``, which must stay 1000
            when ``weights`` are given).
    """


def _document(title: str, enum: type[WeightsEnum]) -> Callable[[Callable], Callable]:
    def apply(fn: Callable) -> Callable:
        fn.__doc__ = _BUILDER_DOC.format(title=title, enum=enum.__name__)
        return fn
    return apply


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNet18_Weights.IMAGENET1K_V1))
@_document("ResNet-18 (He et al., Deep Residual Learning for Image Recognition, 2015).",
           ResNet18_Weights)
def resnet18(*, weights: Optional[ResNet18_Weights] = None, progress: bool = True,
             **kwargs: Any) -> ResNet:
    weights = ResNet18_Weights.verify(weights)
    return _resnet(BasicBlock, [2, 2, 2, 2], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNet34_Weights.IMAGENET1K_V1))
@_document("ResNet-34 (He et al., 2015).", ResNet34_Weights)
def resnet34(*, weights: Optional[ResNet34_Weights] = None, progress: bool = True,
             **kwargs: Any) -> ResNet:
    weights = ResNet34_Weights.verify(weights)
    return _resnet(BasicBlock, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNet50_Weights.IMAGENET1K_V1))
@_document("ResNet-50 (He et al., 2015), stride on the 3x3 convolution (V1.5).",
           ResNet50_Weights)
def resnet50(*, weights: Optional[ResNet50_Weights] = None, progress: bool = True,
             **kwargs: Any) -> ResNet:
    weights = ResNet50_Weights.verify(weights)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNet101_Weights.IMAGENET1K_V1))
@_document("ResNet-101 (He et al., 2015), V1.5.", ResNet101_Weights)
def resnet101(*, weights: Optional[ResNet101_Weights] = None, progress: bool = True,
              **kwargs: Any) -> ResNet:
    weights = ResNet101_Weights.verify(weights)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNet152_Weights.IMAGENET1K_V1))
@_document("ResNet-152 (He et al., 2015), V1.5.", ResNet152_Weights)
def resnet152(*, weights: Optional[ResNet152_Weights] = None, progress: bool = True,
              **kwargs: Any) -> ResNet:
    weights = ResNet152_Weights.verify(weights)
    return _resnet(Bottleneck, [3, 8, 36, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNeXt50_32X4D_Weights.IMAGENET1K_V1))
@_document("ResNeXt-50 32x4d (Xie et al., Aggregated Residual Transformations, 2016).",
           ResNeXt50_32X4D_Weights)
def resnext50_32x4d(*, weights: Optional[ResNeXt50_32X4D_Weights] = None, progress: bool = True,
                    **kwargs: Any) -> ResNet:
    weights = ResNeXt50_32X4D_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 32)
    _ovewrite_named_param(kwargs, "width_per_group", 4)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNeXt101_32X8D_Weights.IMAGENET1K_V1))
@_document("ResNeXt-101 32x8d (Xie et al., 2016).", ResNeXt101_32X8D_Weights)
def resnext101_32x8d(*, weights: Optional[ResNeXt101_32X8D_Weights] = None,
                     progress: bool = True, **kwargs: Any) -> ResNet:
    weights = ResNeXt101_32X8D_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 32)
    _ovewrite_named_param(kwargs, "width_per_group", 8)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", ResNeXt101_64X4D_Weights.IMAGENET1K_V1))
@_document("ResNeXt-101 64x4d (Xie et al., 2016).", ResNeXt101_64X4D_Weights)
def resnext101_64x4d(*, weights: Optional[ResNeXt101_64X4D_Weights] = None,
                     progress: bool = True, **kwargs: Any) -> ResNet:
    weights = ResNeXt101_64X4D_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "groups", 64)
    _ovewrite_named_param(kwargs, "width_per_group", 4)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", Wide_ResNet50_2_Weights.IMAGENET1K_V1))
@_document("Wide ResNet-50-2 (Zagoruyko & Komodakis, Wide Residual Networks, 2016): the "
           "bottleneck's inner width doubled.", Wide_ResNet50_2_Weights)
def wide_resnet50_2(*, weights: Optional[Wide_ResNet50_2_Weights] = None, progress: bool = True,
                    **kwargs: Any) -> ResNet:
    weights = Wide_ResNet50_2_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "width_per_group", 64 * 2)
    return _resnet(Bottleneck, [3, 4, 6, 3], weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", Wide_ResNet101_2_Weights.IMAGENET1K_V1))
@_document("Wide ResNet-101-2 (Zagoruyko & Komodakis, 2016).", Wide_ResNet101_2_Weights)
def wide_resnet101_2(*, weights: Optional[Wide_ResNet101_2_Weights] = None,
                     progress: bool = True, **kwargs: Any) -> ResNet:
    weights = Wide_ResNet101_2_Weights.verify(weights)
    _ovewrite_named_param(kwargs, "width_per_group", 64 * 2)
    return _resnet(Bottleneck, [3, 4, 23, 3], weights, progress, **kwargs)
