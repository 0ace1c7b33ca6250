"""The weights API and the model registry (torchvision's ``models._api``).

A pretrained checkpoint is described by a :class:`Weights` record (where it lives, how to
preprocess inputs for it, and what is known about it) and is exposed as a member of a
per-architecture :class:`WeightsEnum`, e.g. ``ResNet18_Weights.IMAGENET1K_V1``. Builders are
registered by name so ``get_model("resnet18")`` and ``list_models()`` work.
"""
from __future__ import annotations

import fnmatch
import inspect
import sys
import typing
from dataclasses import dataclass
from enum import Enum
from functools import partial
from types import ModuleType
from typing import Any, Callable, Iterable, Mapping, TypeVar

from ... import nn

__all__ = ["WeightsEnum", "Weights", "get_model", "get_model_builder", "get_model_weights",
           "get_weight", "list_models"]


@dataclass
class Weights:
    """What ember knows about one set of pretrained weights.

    Args:
        url (str): where the checkpoint is downloaded from (its file name carries the
            sha256 prefix checked on download).
        transforms (Callable): builds the preprocessing the weights expect; called, not
            stored built, so that nothing is constructed until it is needed.
        meta (dict): categories, parameter count, metrics, recipe and the like.
    """

    url: str
    transforms: Callable
    meta: dict[str, Any]

    def __eq__(self, other: Any) -> bool:
        # Enum members are looked up by value equality when copied or unpickled, and two equal
        # functools.partial objects don't compare equal, so compare partials by their parts.
        if not isinstance(other, Weights):
            return NotImplemented
        if self.url != other.url or self.meta != other.meta:
            return False
        a, b = self.transforms, other.transforms
        if isinstance(a, partial) and isinstance(b, partial):
            return (a.func, a.args, a.keywords) == (b.func, b.args, b.keywords)
        return a == b


class WeightsEnum(Enum):
    """Base class of the per-model weight enums; each member's value is a :class:`Weights`.

    ``member.url``, ``member.transforms`` and ``member.meta`` read through to the value.
    """

    @classmethod
    def verify(cls, obj: Any) -> Any:
        """Returns ``obj`` as a member of this enum: ``None`` passes, a member passes, a
        string names a member (``"IMAGENET1K_V1"`` or ``"ResNet18_Weights.IMAGENET1K_V1"``);
        anything else is a TypeError."""
        if obj is None:
            return None
        if type(obj) is str:
            return cls[obj.replace(cls.__name__ + ".", "")]
        if not isinstance(obj, cls):
            raise TypeError(f"Invalid Weight class provided; expected {cls.__name__} "
                            f"but received {obj.__class__.__name__}.")
        return obj

    def get_state_dict(self, *args: Any, **kwargs: Any) -> Mapping[str, Any]:
        """Downloads (or finds in the cache) and loads this checkpoint; the arguments are
        :func:`ember.hub.load_state_dict_from_url`'s."""
        from ... import hub  # lazy: the hub pulls in io and optional progress bars

        return hub.load_state_dict_from_url(self.url, *args, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self._name_}"

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def transforms(self) -> Callable:
        return self.value.transforms

    @property
    def meta(self) -> dict[str, Any]:
        return self.value.meta


def _weight_enums() -> dict[str, type[WeightsEnum]]:
    """Every WeightsEnum reachable from ``ember.vision.models`` and its sub-packages."""
    root = sys.modules[__name__.rsplit(".", 1)[0]]
    modules = [root] + [m for _, m in inspect.getmembers(root, inspect.ismodule)
                        if getattr(m, "__file__", "").endswith("__init__.py")]
    found: dict[str, type[WeightsEnum]] = {}
    for module in modules:
        for name, obj in vars(module).items():
            if isinstance(obj, type) and issubclass(obj, WeightsEnum) and obj is not WeightsEnum:
                found.setdefault(name, obj)
    return found


def get_weight(name: str) -> WeightsEnum:
    """The weights enum member named in full, e.g. ``"ResNet50_Weights.IMAGENET1K_V1"``."""
    try:
        enum_name, member_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    weights_enum = _weight_enums().get(enum_name)
    if weights_enum is None:
        raise ValueError(f"The weight enum '{enum_name}' for the specific method "
                         "couldn't be retrieved.")
    return weights_enum[member_name]


def get_model_weights(name: Callable | str) -> type[WeightsEnum]:
    """The weights enum class of a model, given its builder or its registered name."""
    builder = get_model_builder(name) if isinstance(name, str) else name
    return _enum_of_builder(builder)


def _enum_of_builder(fn: Callable) -> type[WeightsEnum]:
    # The enum is read off the type hint of the builder's ``weights`` parameter, as torchvision
    # does. Hints are strings here (postponed annotations), so they are resolved first.
    params = inspect.signature(fn).parameters
    if "weights" not in params:
        raise ValueError("The method is missing the 'weights' argument.")
    target = inspect.unwrap(fn)
    hint = typing.get_type_hints(target).get("weights", params["weights"].annotation)
    for candidate in (hint, *typing.get_args(hint)):
        if isinstance(candidate, type) and issubclass(candidate, WeightsEnum):
            return candidate
    raise ValueError("The WeightsEnum class for the specific method couldn't be retrieved. "
                     "Make sure the typing info is correct.")


M = TypeVar("M", bound=nn.Module)

BUILTIN_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str | None = None) -> Callable[[Callable[..., M]], Callable[..., M]]:
    """Decorator: registers a model builder under ``name`` (default: the function's name)."""

    def wrapper(fn: Callable[..., M]) -> Callable[..., M]:
        key = fn.__name__ if name is None else name
        if key in BUILTIN_MODELS:
            raise ValueError(f"An entry is already registered under the name '{key}'.")
        BUILTIN_MODELS[key] = fn
        return fn

    return wrapper


def list_models(module: ModuleType | None = None, include: Iterable[str] | str | None = None,
                exclude: Iterable[str] | str | None = None) -> list[str]:
    """Sorted names of the registered models.

    Args:
        module (module, optional): only the builders defined directly in this package
            (e.g. ``ember.vision.models``).
        include (str or list of str, optional): fnmatch patterns; a model is kept if any
            matches. Default: all models.
        exclude (str or list of str, optional): fnmatch patterns applied after ``include``;
            a model matching any of them is dropped.
    """
    candidates = {key for key, fn in BUILTIN_MODELS.items()
                  if module is None or fn.__module__.rsplit(".", 1)[0] == module.__name__}
    if isinstance(include, str):
        include = [include]
    if isinstance(exclude, str):
        exclude = [exclude]
    chosen = set(candidates)
    if include:
        chosen = {m for pattern in include for m in fnmatch.filter(candidates, pattern)}
    for pattern in exclude or ():
        chosen -= set(fnmatch.filter(candidates, pattern))
    return sorted(chosen)


def get_model_builder(name: str) -> Callable[..., nn.Module]:
    """The builder registered under ``name`` (case-insensitive)."""
    name = name.lower()
    try:
        return BUILTIN_MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_model(name: str, **config: Any) -> nn.Module:
    """Builds the model registered under ``name``, passing ``config`` to its builder,
    e.g. ``get_model("resnet50", weights="DEFAULT")``."""
    return get_model_builder(name)(**config)
