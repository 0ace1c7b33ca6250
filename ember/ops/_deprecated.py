"""torch's deprecated call forms that it still parses (``add_(Number alpha, Tensor other)``,
``addcmul_(Number value, Tensor tensor1, Tensor tensor2)``, ...), as older programs and
optimizers write them: one warning per process for all of them, as torch's argument parser
gives (a TORCH_WARN_ONCE)."""
from __future__ import annotations

import warnings

_warned: list = []


def warn_overload(name: str, old: str, new: str, stacklevel: int = 4) -> None:
    """The deprecation warning for ``name``'s ``old`` signature (``new`` is torch's advice),
    the first time any deprecated form is used."""
    if not _warned:
        _warned.append(name)
        warnings.warn(f"This overload of {name} is deprecated:\n\t{old}\nConsider using one of "
                      f"the following signatures instead:\n\t{new}", UserWarning,
                      stacklevel=stacklevel)
