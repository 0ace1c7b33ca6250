"""Whole objects in checkpoints: what ``torch.save(model)`` writes and
``torch.load(f, weights_only=False)`` reads.

``weights_only=False`` trusts the file completely, as torch does: its pickle may name and call any
importable function, so loading it can run arbitrary code. Only load such files from a source you
trust. Tensors inside still go through the checked storage reader; ``torch.*`` classes are
looked up in ember (``torch.nn.modules.linear.Linear`` is ``ember.nn.Linear``), so a whole model
saved by torch loads as the same ember model, and ember's own classes load as themselves.

Saving an object that is not plain data (a Module, an optimizer, a user class) writes its
``__reduce_ex__(2)`` with the same hand-written protocol-2 opcodes as the rest of the file
(tensors stay torch's ``_rebuild_tensor_v2``); such a file needs ``weights_only=False`` to load,
as it would with torch.
"""
from __future__ import annotations

import collections
import copyreg
import importlib
import io
import pickle
import types
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..tensor import Size, Tensor
from ..devices import device
from ._pickler import Emitter, StoragePlan
from ._unpickler import _ALLOWLIST, CallingUnpickler, Storages

__all__ = ["collect_full", "FullEmitter", "TrustedUnpickler"]

_PLAIN = (type(None), bool, int, float, complex, str, bytes, _dt.dtype, Size, device, tuple, list,
          set, dict, collections.OrderedDict)


def _is_plain(x: Any) -> bool:
    return type(x) in _PLAIN or isinstance(x, (Tensor, np.generic))


def _global_name(x: Any) -> tuple[str, str]:
    """Where pickle finds ``x`` again: its module and qualified name, checked as pickle checks."""
    module = getattr(x, "__module__", None)
    name = getattr(x, "__qualname__", None) or getattr(x, "__name__", None)
    if module is None or name is None or "<locals>" in name or "<lambda>" in name:
        raise pickle.PicklingError(f"Can't pickle {x!r}: it is not importable by name")
    try:
        found: Any = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        raise pickle.PicklingError(
            f"Can't pickle {x!r}: it's not found as {module}.{name}") from None
    if found is not x:
        raise pickle.PicklingError(
            f"Can't pickle {x!r}: it's not the same object as {module}.{name}")
    return ("__builtin__" if module == "builtins" else module), name


def _reduce(x: Any) -> tuple:
    rv = x.__reduce_ex__(2)
    if isinstance(rv, str):
        return ("global", rv)
    if not isinstance(rv, tuple) or not 2 <= len(rv) <= 6:
        raise pickle.PicklingError(f"{type(x).__name__}.__reduce_ex__ must return a 2 to 6 tuple")
    rv = tuple(rv) + (None,) * (6 - len(rv))
    if rv[5] is not None:
        raise pickle.PicklingError(f"cannot save {type(x).__name__}: a state_setter in "
                                   "__reduce__ is not supported")
    return rv


def _is_global(x: Any) -> bool:
    return isinstance(x, (type, types.FunctionType, types.BuiltinFunctionType,
                          types.ModuleType)) or isinstance(x, type(len))


def collect_full(obj: Any) -> tuple[list[Tensor], dict[int, tuple[Any, tuple]]]:
    """Every distinct tensor reachable from ``obj`` through containers and objects' reductions,
    and those reductions (id -> (object, reduction)): the emitter writes these same ones, since
    a ``__reduce__`` may make new tensors each time it is called."""
    tensors: list[Tensor] = []
    seen: set[int] = set()
    reductions: dict[int, tuple[Any, tuple]] = {}
    keep: list[Any] = []  # what is walked stays alive, so ids stay unique
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            if id(x) not in seen:
                seen.add(id(x))
                tensors.append(x)
            continue
        if id(x) in seen or type(x) in (type(None), bool, int, float, complex, str, bytes,
                                        _dt.dtype, Size, device) or isinstance(x, np.generic):
            continue
        seen.add(id(x))
        keep.append(x)
        if type(x) in (list, tuple, set):
            stack.extend(x)
        elif isinstance(x, dict) and type(x) in (dict, collections.OrderedDict):
            for k, v in x.items():
                stack.extend((k, v))
            if type(x) is collections.OrderedDict:
                stack.extend(vars(x).values())
        elif not _is_global(x):
            rv = _reduce(x)
            if rv[0] != "global":  # the item iterators, read once, are kept as lists
                rv = (rv[0], rv[1], rv[2], None if rv[3] is None else list(rv[3]),
                      None if rv[4] is None else list(rv[4]), rv[5])
            reductions[id(x)] = (x, rv)
            if rv[0] == "global":
                continue
            stack.extend(rv[1])
            stack.append(rv[2])
            if rv[3] is not None:
                stack.extend(rv[3])
            if rv[4] is not None:
                stack.extend(v for kv in rv[4] for v in kv)
    return tensors, reductions


class FullEmitter(Emitter):
    """The :class:`Emitter` plus any picklable object, by its ``__reduce_ex__(2)``."""

    def __init__(self, plan: StoragePlan, reductions: dict[int, tuple[Any, tuple]]) -> None:
        super().__init__(plan)
        self._reductions = reductions  # from collect_full; keeps their objects alive

    def save(self, x: Any) -> None:
        if _is_plain(x):
            super().save(x)
        else:
            self._object(x)

    def _object(self, x: Any) -> None:
        if _is_global(x):
            self._global(*_global_name(x))
            return
        if self._get(id(x)):
            return
        rv = self._reductions[id(x)][1]
        if rv[0] == "global":
            self._global(*_global_name(x))
            return
        func, args, state, listitems, dictitems, _ = rv
        if getattr(func, "__name__", None) == "__newobj__" and func is copyreg.__newobj__:
            self._object(args[0])  # the class
            self.save(tuple(args[1:]))
            self.out += b"\x81"  # NEWOBJ
        else:
            self.save(func)
            self.save(tuple(args))
            self.out += b"R"  # REDUCE
        self._put(id(x))
        if listitems is not None:
            self._batches(listitems, b"e", self.save)  # APPENDS
        if dictitems is not None:
            def save_pair(kv: tuple) -> None:
                self.save(kv[0])
                self.save(kv[1])

            self._batches(dictitems, b"u", save_pair)  # SETITEMS
        if state is not None:
            self.save(state)
            self.out += b"b"  # BUILD


def _ember_global(module: str, name: str) -> Any:
    """torch's ``module.name`` as ember has it: the same path under ``ember``, else the name in
    the ember namespace that stands for the module's package (``torch.nn.*`` -> ``ember.nn``)."""
    candidates = ["ember" + module[len("torch"):]]
    parts = module.split(".")
    for i in range(len(parts) - 1, 0, -1):
        candidates.append("ember" + ".".join(parts[:i])[len("torch"):])
    for target in candidates:
        try:
            found: Any = importlib.import_module(target)
            for part in name.split("."):
                found = getattr(found, part)
            return found
        except (ImportError, AttributeError):
            continue
    raise AttributeError(f"Can't get attribute '{name}' on <module '{module}'>: ember has no "
                         f"{name} (tried {', '.join(candidates)})")


class TrustedUnpickler(CallingUnpickler):
    """``weights_only=False``: any global the file names is imported (``torch.*`` from ember)."""

    def __init__(self, file: io.BytesIO, storages: Storages | None, *,
                 encoding: str = "utf-8") -> None:
        super().__init__(file, storages, encoding=encoding)

    def accept(self, x: Any) -> bool:
        return True  # the file is trusted: every object it builds is the caller's

    def persistent_load(self, pid: Any) -> Any:
        # torch's legacy format records each saved class with its source: ('module', cls, ...)
        if isinstance(pid, tuple) and pid and pid[0] == "module" and len(pid) == 4:
            return pid[1]
        return super().persistent_load(pid)

    def find_class(self, module: str, name: str) -> Any:
        # torch's tensor-rebuilding functions, storages and dtypes: ember's checked stand-ins
        if (module == "torch" or module.startswith("torch.")) and (module, name) in _ALLOWLIST:
            return _ALLOWLIST[(module, name)]
        if module == "torch" or module.startswith("torch."):
            try:
                return super().find_class(module, name)  # the allowlist and unsupported kinds
            except pickle.UnpicklingError:
                return _ember_global(module, name)
        return pickle._Unpickler.find_class(self, module, name)  # type: ignore[attr-defined]
