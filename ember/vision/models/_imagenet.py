"""One ImageNet-1K checkpoint of torchvision's, described as a :class:`Weights` record: the
shared shape of every classification model's weights enum (the numbers are torchvision's)."""
from __future__ import annotations

from functools import partial
from typing import Any

from ..transforms._presets import ImageClassification
from ._api import Weights
from ._meta import _IMAGENET_CATEGORIES

__all__: list[str] = []

_RECIPE = "https://github.com/pytorch/vision/tree/main/references/classification"
_NEW_RECIPE = "https://github.com/pytorch/vision/issues/3995"
_BLOG = ("https://pytorch.org/blog/how-to-train-state-of-the-art-models-using-torchvision-"
         "latest-primitives/")


def imagenet_weights(file: str, *, num_params: int, recipe: str, acc1: float, acc5: float,
                     ops: float, file_size: float, docs: str, crop_size: int = 224,
                     min_size: tuple[int, int] = (1, 1), **preset: Any) -> Weights:
    """A checkpoint on download.pytorch.org (``file`` carries the sha256 prefix checked on
    download); ``preset`` goes to :class:`ImageClassification` (``resize_size``,
    ``interpolation``)."""
    return Weights(
        url=f"https://download.pytorch.org/models/{file}",
        transforms=partial(ImageClassification, crop_size=crop_size, **preset),
        meta={"min_size": min_size, "categories": _IMAGENET_CATEGORIES,
              "num_params": num_params, "recipe": recipe,
              "_metrics": {"ImageNet-1K": {"acc@1": acc1, "acc@5": acc5}},
              "_ops": ops, "_file_size": file_size, "_docs": docs},
    )


def builder_doc(title: str, enum_name: str, model_class: str) -> str:
    """The docstring of a model builder."""
    return f"""{title}

    Args:
        weights (:class:`{enum_name}`, optional): pretrained weights to load (a member, or its
            name as a string such as ``"DEFAULT"``). Default: None, random initialisation.
        progress (bool): show a progress bar while downloading. Default: True.
        **kwargs: passed on to :class:`{model_class}` (``num_classes`` must stay 1000 when
            ``weights`` are given).
    """
