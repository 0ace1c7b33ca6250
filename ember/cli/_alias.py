"""``torch`` and ``torchvision`` resolving to ``ember`` and ``ember.vision``, one script at a time.

Inside :func:`torch_aliases`, ``import torch`` gives a stand-in module for ``ember`` and
``import torchvision.models`` one for ``ember.vision.models``. A stand-in forwards every attribute
to the ember module it stands for; what ember lacks raises :class:`MissingAPIError`, which is both
a ``NotImplementedError`` (what the user should read) and an ``AttributeError`` (so that
``hasattr(torch, "compile")`` is simply False, as feature checks in scripts expect). Submodules
ember lacks raise :class:`MissingModuleError`, also a ``ModuleNotFoundError``, so that
``try: import torch.distributed except ImportError:`` keeps working.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from typing import Any, Iterator

__all__ = ["MissingAPIError", "MissingModuleError", "torch_aliases", "ember_name"]

# Longest prefix first: "torchvision" must not be read as "torch" + "vision".
_PREFIXES = (("torchvision", "ember.vision"), ("torch", "ember"))


# The classes live in the core (ember._missing), so ember's own modules raise them too.
from .._missing import MissingAPIError, MissingModuleError  # noqa: E402


def ember_name(name: str) -> str | None:
    """The ember module that stands for the torch/torchvision module ``name`` (None: not one)."""
    for prefix, target in _PREFIXES:
        if name == prefix or name.startswith(prefix + "."):
            return target + name[len(prefix):]
    return None


def _missing(name: str, target: str) -> str:
    return f"{name} is not implemented in ember (there is no {target})"


class _AliasModule(types.ModuleType):
    """Stands for an ember module under its torch name."""

    def __init__(self, name: str, target: types.ModuleType) -> None:
        super().__init__(name, target.__doc__)
        self.__dict__["_ember_module"] = target

    def __getattr__(self, attr: str) -> Any:
        target = self.__dict__["_ember_module"]
        try:
            value = getattr(target, attr)
        except AttributeError:
            if attr.startswith("__"):  # protocol probes (__wrapped__, ...) are not API
                raise AttributeError(
                    f"module '{self.__name__}' has no attribute '{attr}'") from None
            if not hasattr(target, "__path__"):  # a plain module (nn.functional): no submodules
                raise MissingAPIError(
                    _missing(f"{self.__name__}.{attr}", f"{target.__name__}.{attr}")) from None
            # A submodule that ember's package does not import eagerly (torchvision.models).
            try:
                value = importlib.import_module(f"{self.__name__}.{attr}")
            except MissingModuleError:
                raise MissingAPIError(
                    _missing(f"{self.__name__}.{attr}", f"{target.__name__}.{attr}")) from None
        if isinstance(value, types.ModuleType) and value.__name__ == f"{target.__name__}.{attr}":
            value = importlib.import_module(f"{self.__name__}.{attr}")
        self.__dict__[attr] = value  # later lookups skip __getattr__
        return value

    def __repr__(self) -> str:
        target = self.__dict__["_ember_module"]
        return f"<module '{self.__name__}' (ember's {target.__name__})>"

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.__dict__["_ember_module"])) | set(self.__dict__))


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _AliasModule(spec.name, importlib.import_module(self.target))

    def exec_module(self, module: types.ModuleType) -> None:
        pass  # the ember module it stands for was imported by create_module


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None,
                  target: Any = None) -> importlib.machinery.ModuleSpec | None:
        ember = ember_name(fullname)
        if ember is None:
            return None
        try:
            spec = importlib.util.find_spec(ember)
        except ModuleNotFoundError as e:
            if e.name is None or not ember.startswith(e.name):
                raise  # ember's module exists but needs something missing (an extra)
            spec = None
        if spec is None:
            err = MissingModuleError(_missing(fullname, ember))
            err.name = fullname
            raise err
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(ember), is_package=spec.submodule_search_locations is not None)


def _is_alias(name: str) -> bool:
    return ember_name(name) is not None


@contextlib.contextmanager
def torch_aliases(script_dir: str | None = None) -> Iterator[None]:
    """Makes ``torch``/``torchvision`` imports resolve to ember until the block ends.

    On exit ``sys.modules`` holds the same torch entries as before (real torch, if it was
    imported, comes back), and modules imported from ``script_dir`` (the script's own helpers,
    which were bound to the stand-ins) are forgotten.
    """
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_alias(name)}
    before = set(sys.modules)
    finder = _AliasFinder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        root = os.path.realpath(script_dir) + os.sep if script_dir else None
        for name in [n for n in sys.modules if n not in before]:
            file = getattr(sys.modules[name], "__file__", None)
            if _is_alias(name) or (root and file and os.path.realpath(file).startswith(root)):
                del sys.modules[name]
        sys.modules.update(saved)
