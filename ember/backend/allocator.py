"""glibc's malloc, tuned for array temporaries (``tune_malloc``, run once by ``import ember``).

With glibc's default dynamic thresholds the top of the heap is handed back to the OS whenever
freed temporaries pass twice the current mmap threshold, so every training step page-faults its
temporaries afresh (~2 µs per 4 KB page on the project's machine: a GELU forward took 4.7x
longer, a small GPT step 38%; ``shared/design/PERFORMANCE.md``). Keeping 64 MB of slack at the
top, trimming only above 1 GB and mapping only blocks of 32 MB or more stops that. torch gains
nothing from the same settings (its allocator is its own).

The cost: the process keeps up to ~64 MB more than it uses. ``EMBER_MALLOC_TUNING=0`` leaves
malloc as it was. Other C libraries (musl, macOS) have no ``mallopt``: nothing happens there.
"""
from __future__ import annotations

import os
import sys

# glibc's malloc.h
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
SETTINGS = ((M_TOP_PAD, 64 << 20), (M_TRIM_THRESHOLD, 1 << 30), (M_MMAP_THRESHOLD, 32 << 20))

tuned = False  # whether the settings were applied in this process


def tune_malloc() -> bool:
    """Applies ``SETTINGS`` through glibc's ``mallopt`` unless ``EMBER_MALLOC_TUNING=0``;
    returns whether they were applied."""
    global tuned
    if tuned:
        return True
    if os.environ.get("EMBER_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    import ctypes  # (numpy has imported it already)

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # all three together: the mmap threshold alone is slower (measured +11% on a GPT step)
    tuned = all(mallopt(param, value) == 1 for param, value in SETTINGS)
    return tuned
