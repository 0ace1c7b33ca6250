"""VGG-11 and VGG-16, with and without batch norm (torchvision's ``models.vgg``): Simonyan &
Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, 2014. Tree and
names as torchvision's (``features.0.weight``, ``classifier.6.weight``)."""
from __future__ import annotations

from functools import partial
from typing import Any, Optional, Union

from ... import flatten, nn
from ...tensor import Tensor
from ..transforms._presets import ImageClassification
from ._api import Weights, WeightsEnum, register_model
from ._imagenet import _RECIPE, builder_doc, imagenet_weights
from ._utils import (_init_weights, _normal_linear, _ovewrite_named_param,
                     handle_legacy_interface)

__all__ = ["VGG", "VGG11_Weights", "VGG11_BN_Weights", "VGG16_Weights", "VGG16_BN_Weights",
           "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]


class VGG(nn.Module):
    """VGG: ``features`` (see :func:`make_layers`), pooling to 7x7, three fully connected layers.

    Args:
        features (nn.Module): the convolutional part.
        num_classes (int): Default: 1000.
        init_weights (bool): torchvision's initialisation (skipped when loading weights).
            Default: True.
        dropout (float): Default: 0.5.
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            _init_weights(self, _normal_linear, norms=(nn.BatchNorm2d,), nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


def make_layers(cfg: list[Union[str, int]], batch_norm: bool = False) -> nn.Sequential:
    """3x3 convolutions (``int``: output channels) and 2x2 max-pools (``"M"``)."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, int(v), kernel_size=3, padding=1)
            layers += ([conv2d, nn.BatchNorm2d(int(v)), nn.ReLU(inplace=True)] if batch_norm
                       else [conv2d, nn.ReLU(inplace=True)])
            in_channels = int(v)
    return nn.Sequential(*layers)


cfgs: dict[str, list[Union[str, int]]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def _vgg(cfg: str, batch_norm: bool, weights: Optional[WeightsEnum], progress: bool,
         **kwargs: Any) -> VGG:
    if weights is not None:
        _ovewrite_named_param(kwargs, "init_weights", False)
        if weights.meta["categories"] is not None:
            _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


_KW = {"recipe": _RECIPE + "#alexnet-and-vgg", "min_size": (32, 32),
       "docs": "These weights were trained from scratch by using a simplified training recipe."}


class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("vgg11-8a719046.pth", num_params=132863336, acc1=69.020,
                                     acc5=88.628, ops=7.609, file_size=506.84, **_KW)
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("vgg11_bn-6002323d.pth", num_params=132868840, acc1=70.370,
                                     acc5=89.810, ops=7.609, file_size=506.881, **_KW)
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("vgg16-397923af.pth", num_params=138357544, acc1=71.592,
                                     acc5=90.382, ops=15.47, file_size=527.796, **_KW)
    # amdegroot's VGG-16 features (ported for SSD): trained with the paper's input
    # standardisation; only ``features`` holds real values, the classifier is NaN
    IMAGENET1K_FEATURES = Weights(
        url="https://download.pytorch.org/models/vgg16_features-amdegroot-88682ab5.pth",
        transforms=partial(ImageClassification, crop_size=224, mean=(0.48235, 0.45882, 0.40784),
                           std=(1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0)),
        meta={"min_size": (32, 32), "categories": None, "num_params": 138357544,
              "recipe": "https://github.com/amdegroot/ssd.pytorch#training-ssd",
              "_metrics": {"ImageNet-1K": {"acc@1": float("nan"), "acc@5": float("nan")}},
              "_ops": 15.47, "_file_size": 527.802,
              "_docs": "These weights can't be used for classification because they are missing "
                       "values in the `classifier` module. Only the `features` module has valid "
                       "values and can be used for feature extraction. The weights were trained "
                       "using the original input standardization method as described in the "
                       "paper."},
    )
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights("vgg16_bn-6c64b313.pth", num_params=138365992, acc1=73.360,
                                     acc5=91.516, ops=15.47, file_size=527.866, **_KW)
    DEFAULT = IMAGENET1K_V1




@register_model()
@handle_legacy_interface(weights=("pretrained", VGG11_Weights.IMAGENET1K_V1))
def vgg11(*, weights: Optional[VGG11_Weights] = None, progress: bool = True,
          **kwargs: Any) -> VGG:
    weights = VGG11_Weights.verify(weights)
    return _vgg("A", False, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", VGG11_BN_Weights.IMAGENET1K_V1))
def vgg11_bn(*, weights: Optional[VGG11_BN_Weights] = None, progress: bool = True,
             **kwargs: Any) -> VGG:
    weights = VGG11_BN_Weights.verify(weights)
    return _vgg("A", True, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", VGG16_Weights.IMAGENET1K_V1))
def vgg16(*, weights: Optional[VGG16_Weights] = None, progress: bool = True,
          **kwargs: Any) -> VGG:
    weights = VGG16_Weights.verify(weights)
    return _vgg("D", False, weights, progress, **kwargs)


@register_model()
@handle_legacy_interface(weights=("pretrained", VGG16_BN_Weights.IMAGENET1K_V1))
def vgg16_bn(*, weights: Optional[VGG16_BN_Weights] = None, progress: bool = True,
             **kwargs: Any) -> VGG:
    weights = VGG16_BN_Weights.verify(weights)
    return _vgg("D", True, weights, progress, **kwargs)


vgg11.__doc__ = builder_doc("VGG-11 (configuration A; Simonyan & Zisserman, 2014).",
                            "VGG11_Weights", "VGG")
vgg11_bn.__doc__ = builder_doc("VGG-11 with batch norm.", "VGG11_BN_Weights", "VGG")
vgg16.__doc__ = builder_doc("VGG-16 (configuration D; Simonyan & Zisserman, 2014).",
                            "VGG16_Weights", "VGG")
vgg16_bn.__doc__ = builder_doc("VGG-16 with batch norm.", "VGG16_BN_Weights", "VGG")
