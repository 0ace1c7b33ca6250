"""``ember.multiprocessing``: Python's ``multiprocessing``, as ``torch.multiprocessing`` wraps it,
with torch's ``spawn``/``start_processes`` (run ``fn(i, *args)`` in ``nprocs`` processes and
raise the first failure in the parent) and its sharing-strategy switches.

ember's tensors pickle by value (their arrays), so no tensor needs a shared-memory reducer:
the sharing strategy is recorded and reported, as torch's API expects, and changes nothing.
"""
from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F401,F403

from .spawn import (  # noqa: F401
    ProcessContext,
    ProcessException,
    ProcessExitedException,
    ProcessRaisedException,
    spawn,
    start_processes,
)

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies",
           "spawn", "start_processes", "ProcessContext", "ProcessException",
           "ProcessExitedException", "ProcessRaisedException"] + list(multiprocessing.__all__)

_STRATEGIES = frozenset({"file_descriptor", "file_system"})
_strategy = "file_descriptor"  # torch's default on Linux


def set_sharing_strategy(new_strategy: str) -> None:
    """Sets how tensors would be shared between processes (``'file_descriptor'`` or
    ``'file_system'``)."""
    global _strategy
    assert new_strategy in _STRATEGIES
    _strategy = new_strategy


def get_sharing_strategy() -> str:
    """The current sharing strategy."""
    return _strategy


def get_all_sharing_strategies() -> set:
    """The sharing strategies this system supports."""
    return set(_STRATEGIES)
