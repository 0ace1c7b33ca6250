"""Torch names ember lacks raise :class:`MissingAPIError` naming them, not a bare AttributeError.

A module of ember that stands for a torch namespace installs :func:`module_getattr` as its PEP 562
``__getattr__``; ``Tensor.__getattr__`` calls :func:`tensor_attribute_error`. Both run only when
ordinary lookup has failed, so they cost nothing on the names ember has. torch's names come from
``_torch_names.py``, written from the real torch by ``tools/api_coverage.py`` and imported on the
first miss only. This module imports nothing of ember: every layer may use it.
"""
from __future__ import annotations

import importlib
import importlib.util
import types
from typing import Any, Callable

__all__ = ["MissingAPIError", "MissingModuleError", "attribute_error", "module_getattr",
           "install", "tensor_attribute_error", "torch_names"]


class MissingAPIError(NotImplementedError, AttributeError):
    """A torch name that ember does not implement.

    Both a ``NotImplementedError`` (what a reader should see) and an ``AttributeError``, so that
    ``hasattr(torch, "name")`` stays False and ``getattr(torch, "name", default)`` still works.
    """


class MissingModuleError(NotImplementedError, ModuleNotFoundError):
    """A ``torch``/``torchvision`` submodule that ember does not implement."""


def torch_names(namespace: str) -> frozenset:
    """torch 2.13's public names in ``namespace`` (``"torch.nn"``, ``"torch.Tensor"``, ...)."""
    from ._torch_names import NAMES

    return NAMES.get(namespace, frozenset())


def missing_message(torch_name: str, ember_name: str) -> str:
    return f"{torch_name} is not implemented in ember (there is no {ember_name})"


def attribute_error(torch_ns: str, ember_ns: str, name: str) -> AttributeError:
    """The error for ``ember_ns.name``: MissingAPIError if torch has ``torch_ns.name``."""
    if not name.startswith("__") and name in torch_names(torch_ns):
        err: AttributeError = MissingAPIError(
            missing_message(f"{torch_ns}.{name}", f"{ember_ns}.{name}"))
    else:
        err = AttributeError(f"module '{ember_ns}' has no attribute '{name}'")
    err.name = name
    return err


def submodule_or_error(ember_ns: str, torch_ns: str, name: str) -> types.ModuleType:
    """``ember_ns.name`` as a submodule not imported yet (as torch's packages import theirs);
    otherwise raises :func:`attribute_error`."""
    if not name.startswith("__"):
        try:
            spec = importlib.util.find_spec(f"{ember_ns}.{name}")
        except (ImportError, ValueError):  # ember_ns is a plain module, not a package
            spec = None
        if spec is not None:
            return importlib.import_module(f"{ember_ns}.{name}")
    raise attribute_error(torch_ns, ember_ns, name)


def module_getattr(ember_ns: str, torch_ns: str) -> Callable[[str], Any]:
    """A PEP 562 ``__getattr__`` for the ember module that stands for ``torch_ns``."""
    def __getattr__(name: str) -> Any:
        return submodule_or_error(ember_ns, torch_ns, name)

    return __getattr__


def install(module: types.ModuleType, torch_ns: str) -> None:
    """Gives ``module`` the ``__getattr__`` of :func:`module_getattr` (unless it has its own)."""
    if "__getattr__" not in vars(module):
        module.__getattr__ = module_getattr(module.__name__, torch_ns)  # type: ignore[attr-defined]


class _MissingMethod:
    """A torch Tensor attribute ember lacks, on the class: reading it raises MissingAPIError
    (so ``hasattr`` is False). Not a ``Tensor.__getattr__``: defining one makes CPython give up
    its fast attribute lookups on every tensor (``t._data`` on the hot path: +6% on small ops)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        raise tensor_attribute_error(obj if obj is not None else objtype, self.name)


def install_tensor_stubs(cls: type) -> None:
    """Puts a ``_MissingMethod`` on ``cls`` (Tensor) for each torch Tensor name it lacks; call it
    after every op module has bound its methods (a later binding replaces the stub)."""
    for name in torch_names("torch.Tensor"):
        if not name.startswith("_") and not any(name in vars(k) for k in cls.__mro__):
            setattr(cls, name, _MissingMethod(name))


def tensor_attribute_error(obj: object, name: str) -> AttributeError:
    """The error for ``tensor.name`` that ordinary lookup did not find."""
    if not name.startswith("_") and name in torch_names("torch.Tensor"):
        err: AttributeError = MissingAPIError(
            missing_message(f"torch.Tensor.{name}", f"ember.Tensor.{name}"))
    else:
        err = AttributeError(f"'{type(obj).__name__}' object has no attribute '{name}'")
    err.name = name
    err.obj = obj  # type: ignore[attr-defined]
    return err
