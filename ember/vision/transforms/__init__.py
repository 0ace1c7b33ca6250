"""``torchvision.transforms`` for ember: PIL-image and tensor-image transforms.

Pillow is optional: importing this package never needs it; transforming a PIL image does.
"""
from . import functional
from .functional import InterpolationMode
from .transforms import (
    CenterCrop, ColorJitter, Compose, ConvertImageDtype, Lambda, Normalize, Pad, PILToTensor,
    RandomCrop, RandomHorizontalFlip, RandomResizedCrop, RandomVerticalFlip, Resize, ToPILImage,
    ToTensor,
)

__all__ = [
    "functional", "InterpolationMode", "Compose", "ToTensor", "PILToTensor", "ConvertImageDtype",
    "ToPILImage", "Normalize", "Resize", "CenterCrop", "Pad", "Lambda", "RandomCrop",
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomResizedCrop", "ColorJitter",
]
