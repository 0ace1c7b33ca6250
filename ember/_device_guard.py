"""torch's device guard for the public API: a call runs with the GPU of its first tensor current.

CuPy computes, and allocates, on its current GPU and refuses (or reads across) another GPU's
arrays; torch runs an op on its tensors' GPU whatever the current device is. ``Op.apply`` and
the engine make a node's GPU current themselves, but a public function does more than its ops:
it makes index arrays, checks values, calls several ops. So, from the first time a program uses
a second GPU (a tensor placed on ``cuda:1``, or ``set_device(1)``), every public function of
the namespaces below, and every ``Tensor`` method, runs in a guard that makes its first
tensor's GPU current for the call. A program on the CPU, or on one GPU, never pays for it.
The functions are guarded in place (new code, same function objects), so names bound before
(``from torch import cat``), ``is`` checks and pickling by name are unaffected.

Namespaces beyond the root package register themselves (``guard_namespace(__name__)`` at the
end of the module), so a namespace imported after the first use of a second GPU is guarded as
it loads.
"""
from __future__ import annotations

import functools
import sys
import types
from typing import Any

from . import devices as _devices
from .backend import on_device
from .tensor import Tensor

_namespaces: list[str] = ["ember"]  # the modules whose functions are guarded
_functions: list = []  # ... and single functions, with what finds their array (module calls,
# the engine's node call)
_saved: dict = {}  # function -> (code, defaults, kwdefaults) while the guard is installed
_installed = [False]
# a repr names the device unless it is the current one: it must see the caller's current GPU
_UNGUARDED = ("__init__", "__new__", "__del__", "__repr__", "__str__", "__format__")


def _first_device_array(args: tuple, kwargs: dict) -> Any:
    for a in (*args, *kwargs.values()):
        if isinstance(a, Tensor):
            return a._data
        if isinstance(a, (list, tuple)) and a and isinstance(a[0], Tensor):  # (PackedSequence)
            return a[0]._data
    return None


def _call(original: Any, args: tuple, kwargs: dict, find: Any = _first_device_array) -> Any:
    with on_device(find(args, kwargs)):  # (nothing for None or a host array)
        return original(*args, **kwargs)


_templates: dict = {}


def _template(freevars: tuple) -> types.CodeType:
    """The code a guarded function runs: ``_call(original, args, kwargs)``, with the function's
    free variables (a function keeps its closure, so its new code must name the same cells)."""
    code = _templates.get(freevars)
    if code is None:
        cells = "".join(f"    {v} = None\n" for v in freevars)
        uses = "".join(f"        {v}\n" for v in freevars)
        src = (f"def outer():\n{cells}    def guarded(*args, __ember_original__, __ember_call__,"
               f" **kwargs):\n{uses}        return __ember_call__(__ember_original__, args, "
               "kwargs)\n    return guarded\n")
        ns: dict = {}
        # (its frames carry this file's name: warnings that skip ember's frames skip them too)
        exec(compile(src, __file__, "exec"), ns)  # noqa: S102 - our own template
        code = _templates[freevars] = ns["outer"]().__code__
        assert code.co_freevars == freevars
    return code


def _wrap(fn: Any, find: Any = None) -> None:
    """Guards ``fn`` in place: the same function object (``is`` checks and pickling by name keep
    working) runs new code that calls a copy of the original under the guard."""
    if fn in _saved or not (fn.__module__ or "").startswith("ember"):
        return
    original = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__,
                                  fn.__closure__)
    original.__kwdefaults__ = fn.__kwdefaults__
    _saved[fn] = (fn.__code__, fn.__defaults__, fn.__kwdefaults__)
    fn.__code__ = _template(fn.__code__.co_freevars).replace(
        co_name=fn.__code__.co_name, co_qualname=fn.__code__.co_qualname)
    fn.__defaults__ = None
    call = _call if find is None else functools.partial(_call, find=find)
    fn.__kwdefaults__ = {"__ember_original__": original, "__ember_call__": call}
    fn.__wrapped__ = original  # inspect.signature reads the original's


def _guard_module(mod: types.ModuleType) -> None:
    for name, fn in list(vars(mod).items()):
        if isinstance(fn, types.FunctionType) and not name.startswith("_"):
            _wrap(fn)


def _guard_tensor() -> None:
    for name, fn in list(vars(Tensor).items()):
        if isinstance(fn, types.FunctionType) and (not name.startswith("_") or (
                name.startswith("__") and name not in _UNGUARDED)):
            _wrap(fn)


def guard_namespace(module_name: str) -> None:
    """Registers a public namespace: guarded now if the guard is installed, else when it is."""
    if module_name not in _namespaces:
        _namespaces.append(module_name)
    if _installed[0]:
        _guard_module(sys.modules[module_name])


def guard_function(fn: Any, find: Any = None) -> None:
    """Registers one function: guarded now if the guard is installed, else when it is;
    ``find(args, kwargs)`` gives the array whose GPU it runs on (default: its first tensor's)."""
    _functions.append((fn, find))
    if _installed[0]:
        _wrap(fn, find)


def install() -> None:
    """Wraps the public API in the device guard (once; see the module's docstring)."""
    if _installed[0]:
        return
    _installed[0] = True
    _guard_tensor()
    for fn, find in _functions:
        _wrap(fn, find)
    for name in _namespaces:
        mod = sys.modules.get(name)
        if mod is not None:
            _guard_module(mod)


def uninstall() -> None:
    """Puts the original code back (a test hook: the fake device's tests switch GPUs)."""
    for fn, (code, defaults, kwdefaults) in _saved.items():
        fn.__code__, fn.__defaults__, fn.__kwdefaults__ = code, defaults, kwdefaults
        fn.__dict__.pop("__wrapped__", None)
    _saved.clear()
    _installed[0] = False


def _on_gpu(index: int) -> None:
    if index and not _installed[0]:
        install()


_devices.gpu_hook = _on_gpu
