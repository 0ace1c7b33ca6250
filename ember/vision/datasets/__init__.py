"""``torchvision.datasets`` for ember: folder datasets, the bundled ``Digits``, and torchvision's
on-disk datasets (MNIST family, CIFAR, ...) read from the folders torchvision prepares."""
from . import utils
from .cifar import CIFAR10, CIFAR100
from .digits import Digits
from .fakedata import FakeData
from .flowers102 import Flowers102
from .folder import (
    IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader, find_classes,
    has_file_allowed_extension, is_image_file, make_dataset, pil_loader,
)
from .mnist import EMNIST, KMNIST, MNIST, FashionMNIST
from .oxford_iiit_pet import OxfordIIITPet
from .stl10 import STL10
from .svhn import SVHN
from .vision import StandardTransform, VisionDataset

__all__ = [
    "VisionDataset", "StandardTransform", "DatasetFolder", "ImageFolder", "Digits",
    "IMG_EXTENSIONS", "find_classes", "make_dataset", "has_file_allowed_extension",
    "is_image_file", "pil_loader", "default_loader", "FakeData", "MNIST", "FashionMNIST", "KMNIST",
    "EMNIST", "CIFAR10", "CIFAR100", "SVHN", "STL10", "Flowers102", "OxfordIIITPet",
]
