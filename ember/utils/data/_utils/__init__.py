"""Internals of the DataLoader: collation, fetching, worker processes."""
from __future__ import annotations

# how often (seconds) a blocked worker checks that the main process is alive
MP_STATUS_CHECK_INTERVAL = 5.0
# how often (seconds) a main process waiting for a batch checks that its workers are alive: a
# worker killed by a signal is reported within this time (torch hears of it through SIGCHLD)
MP_WORKER_CHECK_INTERVAL = 0.1

from . import collate, fetch, worker  # noqa: E402,F401
