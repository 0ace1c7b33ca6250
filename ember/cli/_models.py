"""Models, weights and image transforms shared by ``ember finetune`` and ``ember predict``."""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from typing import Any

from ._common import CLIError, notice

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "WEIGHT_CHOICES", "build_model", "read_checkpoint",
           "train_transform", "eval_transform", "replace_fc"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_CHOICES = ("auto", "imagenet", "none")


def _models() -> Any:
    try:
        from ember.vision import models
    except ImportError as e:
        raise CLIError(f"{e} (ember's images need: pip install 'ember[vision]')") from None
    return models


def check_model_name(name: str) -> None:
    models = _models()
    names = sorted((n for n in models.list_models() if n.startswith("resnet")),
                   key=lambda n: int(n[len("resnet"):]))  # by depth
    if name not in names:
        raise CLIError(f"unknown model '{name}'; choose from {', '.join(names)}")


def read_checkpoint(path: str) -> Any:
    """``ember.io.load(path)`` with a usage error (not a traceback) when the file is unusable."""
    from ember import io

    if not os.path.isfile(path):
        raise CLIError(f"no such file: '{path}'")
    try:
        return io.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError) as e:
        raise CLIError(f"can't read '{path}': {e}") from None


def replace_fc(model: Any, num_classes: int, bias: bool = True) -> None:
    """The tutorial's new classifier: a fresh ``Linear(in_features, num_classes)`` as ``fc``."""
    from ember import nn

    model.fc = nn.Linear(model.fc.in_features, num_classes, bias=bias)


def _load_state_dict(model: Any, state: Any, path: str) -> None:
    """Loads a state_dict into ``model``; a classifier of another size replaces ``model.fc``."""
    if isinstance(state, Mapping) and isinstance(state.get("model"), Mapping):
        state = state["model"]  # a training checkpoint {'model': ..., 'optimizer': ..., ...}
    if not isinstance(state, Mapping):
        raise CLIError(f"'{path}' holds a {type(state).__name__}, not a state_dict or a "
                       "checkpoint with a 'model' entry")
    fc = state.get("fc.weight")
    if fc is not None and tuple(fc.shape) != tuple(model.fc.weight.shape):
        replace_fc(model, fc.shape[0], bias="fc.bias" in state)
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as e:
        raise CLIError(f"'{path}' does not fit {type(model).__name__}: {e}") from None


def build_model(name: str, weights: str, *, progress: bool = True) -> tuple[Any, Any, str]:
    """Builds ``ember.vision.models.<name>`` with weights per ``--weights``.

    Returns:
        (model, the ImageNet weights enum if they were loaded else None, a description).
    """
    from ember import hub

    models = _models()
    check_model_name(name)
    if weights not in WEIGHT_CHOICES:
        model = models.get_model(name, weights=None)
        _load_state_dict(model, read_checkpoint(weights), weights)
        return model, None, f"weights from {weights}"
    if weights == "none":
        return models.get_model(name, weights=None), None, "random init"
    enum = models.get_model_weights(name).DEFAULT
    try:
        model = models.get_model(name, weights=enum, progress=progress)
        return model, enum, f"ImageNet {enum.name}"
    except hub.DownloadError as e:
        if weights == "imagenet":
            raise CLIError(str(e)) from None
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError) as e:
        # a cached file that is damaged or not a state_dict for this model
        raise CLIError(f"can't load the ImageNet weights of {name} ({enum.url}): {e}") from None
    where = os.path.join(hub.get_dir(), "checkpoints", os.path.basename(enum.url))
    notice(f"ImageNet weights for {name} are not cached and could not be downloaded; starting "
           f"from random initialisation (to use them, place the file at {where})")
    return models.get_model(name, weights=None), None, "random init, no ImageNet weights"


def _normalize() -> list[Any]:
    from ember.vision import transforms as T

    return [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]


def train_transform(image_size: int, augment: bool) -> Any:
    """RandomResizedCrop + flip for photos; a plain resize where flips would change the meaning
    (digits)."""
    from ember.vision import transforms as T

    if augment:
        first = [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip()]
    else:
        first = [T.Resize((image_size, image_size))]
    return T.Compose(first + _normalize())


def eval_transform(image_size: int, resize: int) -> Any:
    """Resize the shorter side to ``resize``, then a centre crop of ``image_size``."""
    from ember.vision import transforms as T

    return T.Compose([T.Resize(resize), T.CenterCrop(image_size)] + _normalize())


def eval_resize(image_size: int, augment: bool) -> int:
    """ImageNet's 256/224 ratio for photos; no margin for digits, which fill their frame."""
    return round(image_size * 256 / 224) if augment else image_size
