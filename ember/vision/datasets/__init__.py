"""``torchvision.datasets`` for ember: folder datasets and the bundled ``Digits``."""
from .digits import Digits
from .folder import (
    IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader, find_classes,
    has_file_allowed_extension, is_image_file, make_dataset, pil_loader,
)
from .vision import StandardTransform, VisionDataset

__all__ = [
    "VisionDataset", "StandardTransform", "DatasetFolder", "ImageFolder", "Digits",
    "IMG_EXTENSIONS", "find_classes", "make_dataset", "has_file_allowed_extension",
    "is_image_file", "pil_loader", "default_loader",
]
