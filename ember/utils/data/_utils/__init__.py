"""Internals of the DataLoader: collation, fetching, worker processes."""
from __future__ import annotations

# how often (seconds) a blocked worker or main process checks that the other side is alive
MP_STATUS_CHECK_INTERVAL = 5.0

from . import collate, fetch, worker  # noqa: E402,F401
