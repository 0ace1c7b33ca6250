"""Atomic file replacement: a crash or an exception mid-write never leaves a half-written file.

The data goes to a temporary file in the target's folder (so the final rename stays on one file
system and is atomic), is flushed and fsync'ed, and only then renamed over the target.
"""
from __future__ import annotations

import contextlib
import os
import stat
import uuid
from typing import IO, Iterator

__all__ = ["atomic_write"]


def _fsync_dir(folder: str) -> None:
    # Makes the rename itself durable. Best effort: some platforms/file systems cannot open or
    # fsync a directory, and the data file is already safe on disk by then.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _open_temp(target: str, mode: str) -> tuple[IO, str]:
    folder, name = os.path.split(target)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            # exclusive creation, with the permissions a plain open() gives (umask applied)
            if "b" in mode:
                return open(tmp, "xb"), tmp
            return open(tmp, "x", encoding="utf-8"), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name next to {target!r}")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Opens a temporary file next to ``path`` for writing; on a clean exit it replaces ``path``.

    On any exception (``KeyboardInterrupt`` included) the temporary file is removed and the
    exception propagates, leaving a previous ``path`` untouched. An existing target keeps its
    permission bits; a symlink target is followed, so the link itself survives.

    Args:
        path: the file to create or replace.
        mode: ``"wb"`` (default) for a binary file, or ``"w"`` for UTF-8 text.

    Example::

        >>> with atomic_write("model.pt") as f:
        ...     f.write(data)
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    target = os.path.realpath(os.fspath(path))
    if os.path.isdir(target):
        raise IsADirectoryError(f"[Errno 21] Is a directory: {os.fspath(path)!r}")
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        old_mode = None
    f, tmp = _open_temp(target, mode)
    try:
        with f:
            yield f
            if not f.closed:  # the caller may have closed it already; then it is flushed
                f.flush()
                os.fsync(f.fileno())
        if old_mode is not None:
            os.chmod(tmp, old_mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(os.path.dirname(target))
