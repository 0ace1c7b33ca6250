"""What ``ember finetune`` learns about an image folder before training: its classes (hidden
folders skipped), every image opened once (sizes, unreadable files), and the image size and
augmentation that fit the images. Imported by the command itself, not by ``ember --help``."""
from __future__ import annotations

import os
import statistics
from typing import Any, Callable

from ember.vision.datasets import ImageFolder
from ember.vision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from ._common import InputError, describe

__all__ = ["CLIImageFolder", "hidden_entries", "scan_images", "bad_images_error",
           "choose_image_size",
           "choose_augment", "MODEL_INPUT", "MODEL_MIN"]

MODEL_INPUT = 224  # the size ImageNet's weights were trained at
MODEL_MIN = 32     # a ResNet's smallest useful input: its last feature map is then 1x1


def _hidden(name: str) -> bool:
    return name.startswith(".")


class CLIImageFolder(ImageFolder):
    """``ImageFolder`` without hidden entries: a ``.ipynb_checkpoints`` or ``.git`` folder is not
    a class, and an image under a hidden folder (or a hidden file) is not a sample. The
    library's ``ImageFolder`` keeps torchvision's behaviour (every sub-folder counts)."""

    def __init__(self, root: str, loader: Callable[[str], Any]) -> None:
        top = os.path.abspath(os.path.expanduser(root))

        def visible_image(path: str) -> bool:
            parts = os.path.relpath(path, top).split(os.sep)
            return not any(_hidden(p) for p in parts) and \
                has_file_allowed_extension(path, IMG_EXTENSIONS)

        super().__init__(root, loader=loader, is_valid_file=visible_image)

    def find_classes(self, directory: Any) -> tuple[list[str], dict[str, int]]:
        classes = sorted(e.name for e in os.scandir(directory)
                         if e.is_dir() and not _hidden(e.name))
        if not classes:
            raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
        return classes, {name: i for i, name in enumerate(classes)}


def hidden_entries(folder: str) -> list[str]:
    """The hidden sub-folders of ``folder`` (not hidden files such as .DS_Store, which
    ImageFolder never takes for classes)."""
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and _hidden(e.name))


def scan_images(paths: list[str], desc: str) -> tuple[list[tuple[int, int]], list[tuple[str, str]]]:
    """Opens and decodes every image once, before training: (the (width, height) of each
    readable one, [(path, why) for each unreadable one])."""
    from PIL import Image

    from .finetune import _progress

    sizes, bad = [], []
    for path in _progress(paths, desc, unit="image"):
        try:
            with Image.open(path) as img:
                size = img.size
                # JPEG decodes at 1/8 scale when asked (DCT scaling): the whole stream is still
                # read, so a truncated photo fails here too, at a fraction of the cost
                img.draft("RGB", (max(size[0] // 8, 1), max(size[1] // 8, 1)))
                img.load()  # decodes it all: a truncated file fails here, not mid-epoch
                sizes.append(size)
        except Exception as e:  # noqa: BLE001 - Pillow fails a damaged file in many ways
            bad.append((path, describe(e)))
    return sizes, bad


def bad_images_error(bad: list[tuple[str, str]]) -> InputError:
    listed = "; ".join(f"'{p}' ({why})" for p, why in bad[:5])
    more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
    n = len(bad)
    return InputError(f"{n} image{'s' * (n > 1)} can't be read: {listed}{more} "
                      "(--skip-bad-images trains without them)")


def choose_image_size(sizes: list[tuple[int, int]]) -> tuple[int, str]:
    """The input size for images of these (width, height)s, and why: the median shorter side,
    at least the model's minimum and at most ImageNet's 224."""
    side = int(statistics.median(min(w, h) for w, h in sizes))
    if side < MODEL_MIN:
        return MODEL_MIN, (f"the images' median shorter side is {side} px; {MODEL_MIN} px is the "
                           "smallest input a ResNet uses fully")
    if side > MODEL_INPUT:
        return MODEL_INPUT, (f"the images' median shorter side is {side} px; larger images are "
                             f"reduced to the {MODEL_INPUT} px the ImageNet weights were "
                             "trained at")
    return side, f"the images' median shorter side is {side} px (no upscaling)"


def choose_augment(sizes: list[tuple[int, int]], photos: bool) -> tuple[str, str]:
    """The augmentation that fits the data, and why."""
    if not photos:
        return "none", "digits are centred and not mirror-symmetric"
    side = int(statistics.median(min(w, h) for w, h in sizes))
    if side < MODEL_INPUT:
        return "none", (f"the images ({side} px) are smaller than the model's {MODEL_INPUT} px "
                        "input: random crops would cut away most of each one")
    return "standard", ("torchvision's recipe (RandomResizedCrop and horizontal flips) for "
                        f"images of {MODEL_INPUT} px or more")
