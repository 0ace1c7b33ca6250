"""Datasets read from a folder per class: ``DatasetFolder`` and ``ImageFolder``.

A root such as ``root/cat/1.png``, ``root/dog/2.jpg`` gives classes ``['cat', 'dog']`` (sorted
folder names) and samples ``(path, class_index)``.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from ..transforms._pil import require_pil
from .vision import VisionDataset

__all__ = [
    "DatasetFolder", "ImageFolder", "IMG_EXTENSIONS", "find_classes", "make_dataset",
    "has_file_allowed_extension", "is_image_file", "pil_loader", "default_loader",
]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename: str, extensions: str | tuple[str, ...]) -> bool:
    """Whether ``filename`` ends with one of ``extensions`` (case-insensitive)."""
    suffixes = extensions if isinstance(extensions, str) else tuple(extensions)
    return filename.lower().endswith(suffixes)


def is_image_file(filename: str) -> bool:
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """The sorted sub-folder names of ``directory`` and their indices."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int] | None = None,
                 extensions: str | tuple[str, ...] | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """Lists ``(path, class_index)`` for every valid file under each class folder (recursively,
    following links, in sorted order). Exactly one of ``extensions`` and ``is_valid_file``."""
    directory = os.path.expanduser(directory)
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError(
            "Both extensions and is_valid_file cannot be None or not None at the same time")
    if extensions is not None:
        def is_valid_file(path: str) -> bool:
            return has_file_allowed_extension(path, extensions)

    instances = []
    found = set()
    for target_class in sorted(class_to_idx):
        class_index = class_to_idx[target_class]
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_index))
                    found.add(target_class)

    empty = set(class_to_idx) - found
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            exts = extensions if isinstance(extensions, str) else ", ".join(extensions)
            msg += f"Supported extensions are: {exts}"
        raise FileNotFoundError(msg)
    return instances


class DatasetFolder(VisionDataset):
    """A dataset of files arranged as ``root/<class>/<file>``, read with ``loader``.

    Attributes:
        classes (list): the class names (sorted folder names).
        class_to_idx (dict): class name -> index.
        samples (list): ``(path, class_index)`` pairs.
        targets (list): the class index of each sample.
    """

    def __init__(self, root: str | os.PathLike, loader: Callable[[str], Any],
                 extensions: tuple[str, ...] | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx=class_to_idx, extensions=extensions,
                                    is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(directory: str | os.PathLike, class_to_idx: dict[str, int],
                     extensions: tuple[str, ...] | None = None,
                     is_valid_file: Callable[[str], bool] | None = None,
                     allow_empty: bool = False) -> list[tuple[str, int]]:
        if class_to_idx is None:
            # make_dataset() would find the classes itself, but a subclass may override
            # find_classes(), so they must come from there
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions=extensions,
                            is_valid_file=is_valid_file, allow_empty=allow_empty)

    def find_classes(self, directory: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
        return find_classes(directory)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        sample = self.loader(path)
        return self._apply_transforms(sample, target)

    def __len__(self) -> int:
        return len(self.samples)


def pil_loader(path: str | os.PathLike) -> Any:
    """Opens an image file as an RGB PIL image. A file Pillow cannot decode raises an OSError
    (``PIL.UnidentifiedImageError`` for unknown formats) whose message names the file."""
    Image = require_pil("Reading images")
    with open(path, "rb") as f:
        try:
            img = Image.open(f)
            return img.convert("RGB")  # decodes now, while the file is open
        except (OSError, SyntaxError, ValueError) as e:
            # Pillow's messages for truncated or broken files do not say which file it was
            raise _with_path(e, path) from e


def _with_path(error: BaseException, path: Any) -> OSError:
    message = f"cannot read image file '{os.fspath(path)}': {error}"
    if isinstance(error, OSError):
        try:
            return type(error)(message)  # keeps UnidentifiedImageError and friends
        except TypeError:
            pass
    return OSError(message)


def default_loader(path: str | os.PathLike) -> Any:
    return pil_loader(path)


class ImageFolder(DatasetFolder):
    """A dataset of images arranged as ``root/<class>/<image>`` (extensions ``IMG_EXTENSIONS``
    unless ``is_valid_file`` is given), loaded as RGB PIL images.

    Attributes: ``classes``, ``class_to_idx``, ``samples`` (alias ``imgs``), ``targets``.
    """

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None,
                 loader: Callable[[str], Any] = default_loader,
                 is_valid_file: Callable[[str], bool] | None = None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
