"""Reverse-mode automatic differentiation: ``backward``, ``grad``, custom ``Function``s, grad modes."""
from __future__ import annotations

from typing import Any

from ..graph.node import anomaly
from .api import _check_roots, _make_grads, backward, grad  # noqa: F401
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .grad_mode import (  # noqa: F401
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401


class detect_anomaly:
    """Context manager that makes backward check for NaNs and report the forward call of the node
    that failed."""

    def __init__(self, check_nan: bool = True) -> None:
        self._anomaly = anomaly
        self.check_nan = check_nan
        self.prev = anomaly.enabled
        self.prev_check = anomaly.check_nan

    def __enter__(self) -> None:
        import warnings

        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and should "
            "only be enabled for debugging.",
            stacklevel=2,
        )
        self._anomaly.enabled, self._anomaly.check_nan = True, self.check_nan

    def __exit__(self, *exc: Any) -> None:
        self._anomaly.enabled, self._anomaly.check_nan = self.prev, self.prev_check

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with self.__class__(self.check_nan):
                return fn(*a, **k)

        return wrapper


class set_detect_anomaly:
    """Turns anomaly detection on or off (at once, or for a ``with`` block)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._anomaly = anomaly
        self.prev, self.prev_check = anomaly.enabled, anomaly.check_nan
        anomaly.enabled, anomaly.check_nan = mode, check_nan

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        self._anomaly.enabled, self._anomaly.check_nan = self.prev, self.prev_check


def is_anomaly_enabled() -> bool:
    return anomaly.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return anomaly.check_nan


from . import functional  # noqa: E402,F401

from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.autograd")  # torch's names: MissingAPIError

from .._device_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(__name__)
