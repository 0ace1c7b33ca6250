"""``Digits``: the UCI handwritten digits (scikit-learn's ``load_digits``) as a small dataset.

1,797 real 8x8 grey images of the digits 0-9 ship inside ember (``_data/digits.u8.gz``, 44 KB,
CC BY 4.0, its citation in ``_data/DIGITS-README.md``), so nothing is downloaded or installed.
They are served like a torchvision dataset: 3-channel RGB PIL images, upscaled to
``image_size`` x ``image_size``, with an int label.
"""
from __future__ import annotations

import gzip
import os
from typing import Any, Callable

import numpy as np

from ..transforms._pil import require_pil
from .vision import VisionDataset

__all__ = ["Digits"]


_DATA = os.path.join(os.path.dirname(__file__), "_data", "digits.u8.gz")
_COUNT = 1797


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (1797, 8, 8) scaled to 0..255, labels int64), in scikit-learn's order."""
    with gzip.open(_DATA, "rb") as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8)
    pixels, labels = raw[:_COUNT * 64], raw[_COUNT * 64:]
    # pixel values are 0..16; stretch them to the 0..255 of an 8-bit image
    images = np.round(pixels.reshape(_COUNT, 8, 8) * (255.0 / 16.0)).astype(np.uint8)
    return images, labels.astype(np.int64)


def _stratified_split(targets: np.ndarray, val_fraction: float,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): each class contributes round(n * val_fraction) of its samples to
    val, chosen by a fixed RandomState(seed), so the split is the same on every machine."""
    rs = np.random.RandomState(seed)
    train, val = [], []
    for c in np.unique(targets):
        idx = rs.permutation(np.flatnonzero(targets == c))
        n_val = int(round(len(idx) * val_fraction))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


class Digits(VisionDataset):
    """The UCI 8x8 handwritten digits (1,797 images, 10 classes), split into train and
    validation sets deterministically and served as ``image_size`` RGB PIL images.

    Args:
        root: unused (the data ships with ember); accepted like other datasets' ``root``.
        train: the training split if True, else the validation split.
        image_size: side of the square images returned (bilinear upscaling with Pillow).
        transform, target_transform: applied to the image / the label.
        val_fraction: fraction of each class held out for validation.
        seed: seed of the split.

    Attributes: ``data`` (uint8 array ``(N, 8, 8)``, the original pixels scaled to 0..255),
    ``targets`` (list of int), ``classes`` (``['0', ..., '9']``), ``class_to_idx``.
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True,
                 image_size: int = 32, transform: Callable | None = None,
                 target_transform: Callable | None = None, val_fraction: float = 0.2,
                 seed: int = 0) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"image_size must be a positive int, got {image_size!r}")
        if not 0.0 <= val_fraction <= 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
        self.train = train
        self.image_size = image_size
        self.val_fraction = val_fraction
        self.seed = seed
        images, targets = _load_digits()
        train_idx, val_idx = _stratified_split(targets, val_fraction, seed)
        self.indices = train_idx if train else val_idx  # positions in scikit-learn's order
        self.data = images[self.indices]
        self.targets = [int(t) for t in targets[self.indices]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        Image = require_pil("Digits")
        img = Image.fromarray(self.data[index])  # mode "L"
        if self.image_size != img.width:
            img = img.resize((self.image_size, self.image_size), Image.Resampling.BILINEAR)
        img = img.convert("RGB")
        target = self.targets[index]
        return self._apply_transforms(img, target)

    def __len__(self) -> int:
        return len(self.targets)

    def extra_repr(self) -> str:
        return f"Split: {'train' if self.train else 'val'}"
