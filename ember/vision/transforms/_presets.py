"""Inference presets attached to pretrained weights (``weights.transforms()``).

Private API, as in torchvision: reach these through a weights enum rather than directly.
"""
from __future__ import annotations

from typing import Any, Sequence

import ember
from ember import Tensor, nn

from . import functional as F
from .functional import InterpolationMode

__all__ = ["ImageClassification"]


class ImageClassification(nn.Module):
    """Resize the shorter side to ``resize_size``, centre-crop ``crop_size``, scale to ``[0, 1]``
    float and normalise with ``mean``/``std``. Accepts PIL images and uint8 (or float) tensors
    ``(C, H, W)`` / ``(B, C, H, W)``."""

    def __init__(self, *, crop_size: int, resize_size: int = 256,
                 mean: Sequence[float] = (0.485, 0.456, 0.406),
                 std: Sequence[float] = (0.229, 0.224, 0.225),
                 interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        super().__init__()
        self.crop_size = [crop_size]
        self.resize_size = [resize_size]
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = interpolation
        self.antialias = antialias

    def forward(self, img: Any) -> Tensor:
        img = F.resize(img, self.resize_size, interpolation=self.interpolation,
                       antialias=self.antialias)
        img = F.center_crop(img, self.crop_size)
        if not isinstance(img, Tensor):
            img = F.pil_to_tensor(img)
        img = F.convert_image_dtype(img, ember.float32)
        return F.normalize(img, mean=self.mean, std=self.std)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}("
                f"\n    crop_size={self.crop_size}"
                f"\n    resize_size={self.resize_size}"
                f"\n    mean={self.mean}"
                f"\n    std={self.std}"
                f"\n    interpolation={self.interpolation}"
                "\n)")

    def describe(self) -> str:
        # torchvision's text, word for word, so documentation built from it reads the same
        return (
            "Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
            "``torch.Tensor`` objects. "
            f"The images are resized to ``resize_size={self.resize_size}`` using "
            f"``interpolation={self.interpolation}``, "
            f"followed by a central crop of ``crop_size={self.crop_size}``. Finally the values are "
            "first rescaled to "
            f"``[0.0, 1.0]`` and then normalized using ``mean={self.mean}`` and ``std={self.std}``."
        )
