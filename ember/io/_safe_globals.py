"""The user's allowlist for ``weights_only=True`` (``torch.serialization.add_safe_globals``).

A class or function added here may be named by a checkpoint loaded with ``weights_only=True``,
and is then rebuilt as torch's weights-only unpickler rebuilds it: a class by ``NEWOBJ``
(``cls.__new__``) or ``REDUCE`` (``cls(*args)``), its state by ``BUILD`` (``__setstate__`` or its
``__dict__``), a function by calling it. Adding a global trusts it with what the file passes.
"""
from __future__ import annotations

from typing import Any, Callable, Union

__all__ = ["add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals",
           "user_globals"]

SafeGlobal = Union[Callable, "tuple[Callable, str]"]
_marked: set = set()


def add_safe_globals(safe_globals: list[SafeGlobal]) -> None:
    """Marks the given globals as safe for ``weights_only`` load.

    Args:
        safe_globals: classes or functions, or ``(global, "module.qualname")`` pairs for a global
            saved under another name.
    """
    global _marked
    _marked = _marked.union(set(safe_globals))


def get_safe_globals() -> list[SafeGlobal]:
    """The globals added with :func:`add_safe_globals` (or :class:`safe_globals`)."""
    return list(_marked)


def clear_safe_globals() -> None:
    """Forgets every global added with :func:`add_safe_globals`."""
    global _marked
    _marked = set()


class safe_globals:  # noqa: N801 - torch's name
    """Allowlists globals for ``weights_only`` load inside a ``with`` block only."""

    def __init__(self, safe_globals: list[SafeGlobal]) -> None:
        self.safe_globals = safe_globals

    def __enter__(self) -> None:
        global _marked
        self.initial_safe_globals = set(_marked)
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc: Any) -> None:
        global _marked
        _marked = self.initial_safe_globals


def user_globals() -> dict[str, Any]:
    """``"module.qualname"`` -> object, for every added global (torch's checks on the pairs)."""
    rc: dict[str, Any] = {}
    for f in _marked:
        if isinstance(f, tuple):
            if len(f) != 2:
                raise ValueError("Expected tuple of length 2 (global, str of callable full path), "
                                 f"but got tuple of length: {len(f)}")
            if type(f[1]) is not str:
                raise TypeError("Expected second item in tuple to be str of callable full path, "
                                f"but got: {type(f[1])}")
            f, name = f
            rc[name] = f
        else:
            rc[f"{f.__module__}.{f.__qualname__}"] = f
    return rc
