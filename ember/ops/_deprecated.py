"""torch's deprecated call forms that it still parses (``add_(Number alpha, Tensor other)``,
``addcmul_(Number value, Tensor tensor1, Tensor tensor2)``, ...), as older programs and
optimizers write them: one warning per process for all of them, as torch's argument parser
gives (a TORCH_WARN_ONCE)."""
from __future__ import annotations

import sys
import warnings

_warned: list = []


def user_stacklevel() -> int:
    """For a ``warnings.warn`` in the calling function: the stack level of the first frame
    outside ember (the user's call), however many of ember's frames (method, in-place
    wrapper, function) lie between."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("ember."):
        frame, level = frame.f_back, level + 1
    return level


def warn_overload(name: str, old: str, new: str, stacklevel: int | None = None) -> None:
    """The deprecation warning for ``name``'s ``old`` signature (``new`` is torch's advice),
    the first time any deprecated form is used, pointing at the user's line."""
    if not _warned:
        _warned.append(name)
        warnings.warn(f"This overload of {name} is deprecated:\n\t{old}\nConsider using one of "
                      f"the following signatures instead:\n\t{new}", UserWarning,
                      stacklevel=user_stacklevel() if stacklevel is None else stacklevel)
