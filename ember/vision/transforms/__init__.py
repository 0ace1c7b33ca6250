"""``torchvision.transforms`` for ember: PIL-image and tensor-image transforms.

Pillow is optional: importing this package never needs it; transforming a PIL image does.
"""
from . import functional
from .functional import InterpolationMode
from ._transforms_more import (
    ElasticTransform, FiveCrop, GaussianBlur, Grayscale, RandomAdjustSharpness, RandomAffine,
    RandomApply, RandomAutocontrast, RandomChoice, RandomEqualize, RandomErasing, RandomGrayscale,
    RandomInvert, RandomOrder, RandomPerspective, RandomPosterize, RandomRotation, RandomSolarize,
    RandomTransforms, TenCrop, LinearTransformation,
)
from .autoaugment import AugMix, AutoAugment, AutoAugmentPolicy, RandAugment, TrivialAugmentWide
from .transforms import (
    CenterCrop, ColorJitter, Compose, ConvertImageDtype, Lambda, Normalize, Pad, PILToTensor,
    RandomCrop, RandomHorizontalFlip, RandomResizedCrop, RandomVerticalFlip, Resize, ToPILImage,
    ToTensor,
)

__all__ = [
    "functional", "InterpolationMode", "Compose", "ToTensor", "PILToTensor", "ConvertImageDtype",
    "ToPILImage", "Normalize", "Resize", "CenterCrop", "Pad", "Lambda", "RandomCrop",
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomResizedCrop", "ColorJitter",
    "Grayscale", "RandomGrayscale", "RandomRotation", "RandomAffine", "RandomPerspective",
    "RandomErasing", "RandomApply", "RandomChoice", "RandomOrder", "RandomTransforms",
    "GaussianBlur", "RandomInvert", "RandomPosterize", "RandomSolarize", "RandomAdjustSharpness",
    "RandomAutocontrast", "RandomEqualize", "FiveCrop", "TenCrop", "ElasticTransform",
    "AutoAugmentPolicy", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix",
    "LinearTransformation",
]
