"""Models, weights and image transforms shared by ``ember finetune`` and ``ember predict``."""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping
from typing import Any

from ._common import CLIError, InputError, RunError, describe, notice

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "WEIGHT_CHOICES", "DEVICE_HELP", "build_model",
           "read_checkpoint", "resolve_device",
           "check_checkpoint", "load_weights", "model_names", "resnet_names", "train_transform",
           "eval_transform", "replace_fc", "head_name", "get_head", "set_module", "min_size"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_CHOICES = ("auto", "imagenet", "none")
DEVICE_HELP = ("where the model runs: cpu, cuda (or cuda:N: a GPU through CuPy, the cuda extra), "
               "or auto: cuda when ember.cuda.is_available(), else cpu (default: auto)")


def resolve_device(spec: str | None) -> Any:
    """The ``ember.device`` that ``--device`` names: ``auto`` (or None) is CUDA's current device
    when ``ember.cuda.is_available()``, else the CPU. A CUDA device that can't be used is a usage
    error saying why."""
    import ember

    if spec is None or spec == "auto":
        return ember.device("cuda", ember.cuda.current_device()) if ember.cuda.is_available() \
            else ember.device("cpu")
    try:
        dev = ember.device(spec)
    except (RuntimeError, TypeError):
        raise CLIError(f"--device {spec}: not a device (choose cpu, cuda, cuda:N or auto)") \
            from None
    if dev.type not in ("cpu", "cuda"):
        raise CLIError(f"--device {spec}: ember runs on cpu and cuda only")
    if dev.type == "cuda":
        if not ember.cuda.is_available():
            raise CLIError(f"--device {spec}: no CUDA device (ember.cuda.is_available() is "
                           "False: CuPy is not installed or sees no GPU; pip install "
                           "'ember[cuda]'), or use --device cpu")
        count = ember.cuda.device_count()
        index = ember.cuda.current_device() if dev.index is None else dev.index
        if index >= count:
            raise CLIError(f"--device {spec}: there {'is' if count == 1 else 'are'} only "
                           f"{count} CUDA device{'s' * (count != 1)}")
        dev = ember.device("cuda", index)
    return dev


def _models() -> Any:
    try:
        from ember.vision import models
    except ImportError as e:
        raise RunError(f"{e} (ember's images need: pip install 'ember[vision]')") from None
    return models


def resnet_names() -> list[str]:
    """The ResNets the commands build, by depth."""
    return sorted((n for n in _models().list_models() if n.startswith("resnet")),
                  key=lambda n: int(n[len("resnet"):]))


def model_names() -> list[str]:
    """The models the commands finetune: the ResNets by depth, then the rest of the zoo whose
    classifier is a last ``Linear`` and which takes any input size (SqueezeNet's classifier is
    a convolution; ViT's input size is fixed)."""
    others = sorted(n for n in _models().list_models() if not n.startswith(("resnet",
                                                                               "squeezenet",
                                                                               "vit_")))
    return resnet_names() + others


def check_model_name(name: str) -> None:
    names = model_names()
    if name not in names:
        raise CLIError(f"unknown model '{name}'; choose from {', '.join(names)}")


def min_size(name: str) -> int:
    """The smallest input side the architecture takes (its weights' ``meta["min_size"]``)."""
    try:
        return max(_models().get_model_weights(name).DEFAULT.meta["min_size"])
    except (KeyError, ValueError, AttributeError):
        return 1


def head_name(model: Any) -> str:
    """The dotted name of the classifier the commands replace: the model's last ``Linear``
    (``fc`` of a ResNet, ``classifier.3`` of a MobileNetV3, ``head`` of a Swin)."""
    from ember import nn

    name = None
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear):
            name = n
    if name is None:
        raise RunError(f"{type(model).__name__} has no Linear classifier to replace")
    return name


def get_head(model: Any) -> Any:
    return model.get_submodule(head_name(model))


def set_module(model: Any, name: str, module: Any) -> None:
    """Puts ``module`` at the dotted ``name`` in ``model``."""
    parent, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attr, module)


def read_checkpoint(path: str) -> Any:
    """``ember.io.load(path)``, with an input error naming the file (not a traceback) when the
    file is missing or can't be read."""
    from ember import io

    if not os.path.isfile(path):
        raise InputError(f"no such file: '{path}'")
    try:
        return io.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - whatever the file does to the loader, it is the file
        raise InputError(f"can't read '{path}': {describe(e)}") from None


# -- what a checkpoint of `ember finetune` holds, checked before anything is built from it ------
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_state_dict(v: Any) -> bool:
    from ember import Tensor

    return isinstance(v, Mapping) and all(isinstance(k, str) and isinstance(t, Tensor)
                                          for k, t in v.items())


_ENTRIES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "model": (_is_state_dict, "a state_dict (str -> Tensor)"),
    "optimizer": (lambda v: isinstance(v, Mapping) and isinstance(v.get("state"), Mapping)
                  and isinstance(v.get("param_groups"), list)
                  and all(isinstance(g, Mapping) for g in v["param_groups"]),
                  "an optimizer's state_dict ('state' and 'param_groups')"),
    "epoch": (lambda v: _is_int(v) and v >= 0, "an int of at least 0"),
    "arch": (lambda v: isinstance(v, str), "a str"),
    "classes": (lambda v: isinstance(v, list) and len(v) > 0
                and all(isinstance(c, str) for c in v), "a non-empty list of str"),
    "image_size": (lambda v: _is_int(v) and v >= 1, "an int of at least 1"),
    "eval_resize": (lambda v: _is_int(v) and v >= 1, "an int of at least 1"),
    "history": (lambda v: isinstance(v, Mapping) and all(
        isinstance(v.get(k), list) and all(_is_number(x) for x in v[k])
        for k in ("train_loss", "val_acc")), "a dict of 'train_loss' and 'val_acc' lists"),
    "args": (lambda v: isinstance(v, Mapping), "a dict"),
}


def shown(value: Any) -> str:
    """A short description of a value read from a file, for an error message."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def check_checkpoint(path: str, ckpt: Any, required: tuple[str, ...],
                     optional: tuple[str, ...] = ()) -> None:
    """Raises an input error naming ``path`` unless ``ckpt`` is a dict with the ``required``
    entries of an ``ember finetune`` checkpoint, each of the type and range that command writes
    (so are the ``optional`` ones it has)."""
    if not isinstance(ckpt, Mapping):
        raise InputError(f"'{path}' is not a checkpoint written by ember finetune: it holds a "
                         f"{type(ckpt).__name__}, not a dict")
    missing = [k for k in required if k not in ckpt]
    if missing:
        raise InputError(f"'{path}' is not a checkpoint written by ember finetune: it has no "
                         f"{', '.join(repr(k) for k in missing)} entr"
                         f"{'ies' if len(missing) > 1 else 'y'}")
    for key in (*required, *optional):
        ok, kind = _ENTRIES[key]
        if key in ckpt and not ok(ckpt[key]):
            raise InputError(f"'{path}' is damaged: its '{key}' should be {kind}, not "
                             f"{shown(ckpt[key])}")


def _few(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (", ..." if len(items) > n else "")


def load_weights(path: str, model: Any, state: Mapping, what: str) -> None:
    """``model.load_state_dict(state)``; a state that does not fit (keys, shapes) is an input
    error naming ``path``, summarised in one line (load_state_dict lists every key)."""
    expected = model.state_dict()
    missing = [repr(k) for k in expected if k not in state]
    unexpected = [repr(k) for k in state if k not in expected]
    shapes = [f"'{k}' is {list(state[k].shape)}, not {list(v.shape)}"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key{'s' * (len(missing) > 1)} ({_few(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key{'s' * (len(unexpected) > 1)} "
                        f"({_few(unexpected)})")
    if shapes:
        problems.append(_few(shapes))
    if problems:
        raise InputError(f"'{path}' does not hold the weights of a {what}: "
                         f"{'; '.join(problems)}")
    try:
        model.load_state_dict(state)
    except Exception as e:  # noqa: BLE001 - e.g. a dtype the model can't take
        raise InputError(f"'{path}': its weights don't load into a {what}: "
                         f"{describe(e)}") from None


def replace_fc(model: Any, num_classes: int, bias: bool = True) -> None:
    """The tutorial's new classifier: a fresh ``Linear(in_features, num_classes)`` in place of
    the model's last Linear (a ResNet's ``fc``)."""
    from ember import nn

    name = head_name(model)
    old = model.get_submodule(name)
    set_module(model, name, nn.Linear(old.in_features, num_classes, bias=bias,
                                      device=old.weight.device))


def _load_state_dict(model: Any, state: Any, path: str) -> None:
    """Loads a state_dict into ``model``; a classifier of another size replaces its head."""
    if isinstance(state, Mapping) and isinstance(state.get("model"), Mapping):
        state = state["model"]  # a training checkpoint {'model': ..., 'optimizer': ..., ...}
    if not _is_state_dict(state):
        raise InputError(f"'{path}' holds a {type(state).__name__}, not a state_dict (str -> "
                         "Tensor) or a checkpoint with a 'model' entry")
    head = head_name(model)
    fc = state.get(f"{head}.weight")
    if fc is not None and fc.dim() == 2 and \
            tuple(fc.shape) != tuple(model.get_submodule(head).weight.shape):
        replace_fc(model, fc.shape[0], bias=f"{head}.bias" in state)
    load_weights(path, model, state, type(model).__name__)


def build_model(name: str, weights: str, *, progress: bool = True,
                device: Any = None) -> tuple[Any, Any, str]:
    """Builds ``ember.vision.models.<name>`` with weights per ``--weights``, its parameters on
    ``device`` (None: the default device, as a factory's), made there; weights files are read
    to the CPU and copied in.

    Returns:
        (model, the ImageNet weights enum if they were loaded else None, a description).
    """
    import ember

    if device is None:
        return _build_model(name, weights, progress)
    with ember.device(device):
        model, enum, desc = _build_model(name, weights, progress)
    return model.to(device), enum, desc


def _build_model(name: str, weights: str, progress: bool) -> tuple[Any, Any, str]:
    from ember import hub

    models = _models()
    check_model_name(name)
    # GoogLeNet's auxiliary classifiers change what training returns: torchvision drops them
    # from its pretrained model; so do the commands always
    extra = {"aux_logits": False} if name == "googlenet" else {}
    if weights not in WEIGHT_CHOICES:
        model = models.get_model(name, weights=None, **extra)
        _load_state_dict(model, read_checkpoint(weights), weights)
        return model, None, f"weights from {weights}"
    if weights == "none":
        return models.get_model(name, weights=None, **extra), None, "random init"
    enum = models.get_model_weights(name).DEFAULT
    try:
        model = models.get_model(name, weights=enum, progress=progress)
        return model, enum, f"ImageNet {enum.name}"
    except hub.DownloadError as e:
        if weights == "imagenet":
            raise RunError(str(e)) from None  # no network: not the input's fault
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError) as e:
        # a cached file that is damaged or not a state_dict for this model
        raise InputError(f"can't load the ImageNet weights of {name} ({enum.url}): "
                         f"{describe(e)}") from None
    where = os.path.join(hub.get_dir(), "checkpoints", os.path.basename(enum.url))
    notice(f"ImageNet weights for {name} are not cached and could not be downloaded; starting "
           f"from random initialisation (to use them, place the file at {where})")
    return models.get_model(name, weights=None, **extra), None, \
        "random init, no ImageNet weights"


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
