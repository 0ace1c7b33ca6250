"""Grad-mode switches: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``."""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    # one global flag read by every op on its hot path; a plain attribute keeps that read cheap
    enabled = True
    inference = False


state = _State()


def is_grad_enabled() -> bool:
    """Returns True if gradient recording is currently enabled."""
    return state.enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _DecoratorContextManager:
    """Usable as ``with ctx():`` and as ``@ctx()`` (or bare ``@ctx`` for no_grad-like managers)."""

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.clone():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def clone(self) -> _DecoratorContextManager:
        return self.__class__()

    def __exit__(self, *exc: Any) -> None:
        state.enabled = self._prev


class no_grad(_DecoratorContextManager):
    """Context manager (and decorator) that disables gradient recording."""

    def __new__(cls, func: Callable | None = None):
        self = super().__new__(cls)
        if callable(func):  # bare @no_grad
            self.__init__()
            return self(func)
        return self

    def __init__(self, func: Callable | None = None) -> None:
        self._prev = False

    def __enter__(self) -> None:
        self._prev = state.enabled
        state.enabled = False


class enable_grad(no_grad):
    """Context manager (and decorator) that enables gradient recording."""

    def __enter__(self) -> None:
        self._prev = state.enabled
        state.enabled = True


class set_grad_enabled(_DecoratorContextManager):
    """Sets gradient recording on or off; takes effect at once, and also works as a context manager."""

    def __init__(self, mode: bool) -> None:
        self._prev = state.enabled
        self.mode = mode
        state.enabled = mode

    def __enter__(self) -> None:
        pass

    def clone(self) -> set_grad_enabled:
        return self.__class__(self.mode)

    def __call__(self, func: F) -> F:
        state.enabled = self._prev  # as a decorator it must not change the mode at definition time
        return super().__call__(func)


class inference_mode(_DecoratorContextManager):
    """Like ``no_grad``; tensors made inside are plain tensors (ember keeps no separate inference state)."""

    def __new__(cls, mode: Any = True):
        self = super().__new__(cls)
        if callable(mode):  # bare @inference_mode
            self.__init__()
            return self(mode)
        return self

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode if isinstance(mode, bool) else True
        self._prev = state.enabled
        self._prev_inf = state.inference

    def __enter__(self) -> None:
        self._prev, self._prev_inf = state.enabled, state.inference
        if self.mode:
            state.enabled, state.inference = False, True

    def __exit__(self, *exc: Any) -> None:
        state.enabled, state.inference = self._prev, self._prev_inf

    def clone(self) -> inference_mode:
        return self.__class__(self.mode)
