"""Saving without losing what is being overwritten.

A regular file (or a new path) is replaced atomically: the data goes to a temporary file in the
target's folder (so the final rename stays on one file system and is atomic), is flushed and
fsync'ed, and only then renamed over the target. A crash or an exception mid-write never leaves
a half-written file.

What is at the path decides how it is written, and what is refused:

* **Not a regular file** (a character device such as ``/dev/null``, a named pipe, a socket) and
  the process's own streams (``/dev/stdout``, ``/dev/stderr``, ``/dev/fd/N``, ``/proc/...``):
  opened and written in place, streamed, as ``open(path, "wb")`` and ``torch.save`` do.
  Replacing such a path would destroy the device or pipe, or write to a file nobody reads.
* **A read-only regular file** (one the process may not write, or whose permission bits grant no
  write at all, such as 0444, even to root): ``PermissionError`` naming it. The caller asks for
  the replacement by making it writable (``os.chmod``) or removing it first, or, inside ember,
  with ``replace_readonly=True``.
* **A symbolic link** is followed, as ``open()`` follows it: the file it points to is replaced
  atomically (its temporary file is made in *that* file's folder, which may be outside the folder
  the caller named) and the link itself is kept; a dangling link creates its target.

Temporary files are named ``.NAME.ember-XXXXXXXXXXXX.tmp`` (12 hex digits) next to the file they
will replace. One left behind by a save that was killed (SIGKILL, power loss) is removed by the
next save to the same target once it is :data:`STALE_AFTER_S` old and owned by the same user;
the ``.NAME.XXXXXXXXXXXX.tmp`` names of earlier ember versions are removed the same way.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import time
import uuid
from typing import IO, Iterator

__all__ = ["STALE_AFTER_S", "atomic_write"]

# A temporary file this old belongs to a save that died: a live save writes to it continuously
# (everything is pickled before the file is opened), so its modification time stays recent.
STALE_AFTER_S = 15 * 60

_TEMP_SUFFIX = re.compile(r"(?:ember-)?[0-9a-f]{12}\.tmp")  # after ".NAME."; bare hex: legacy

# Paths that reach the process's own file descriptors: opening one opens what the descriptor
# refers to, so even when that is a regular file (``> out.pt``) it must be written in place.
_STREAM_PATHS = ("/dev/stdin", "/dev/stdout", "/dev/stderr")
_STREAM_PREFIXES = ("/dev/fd/", "/proc/")


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


def _is_stream_path(path: str) -> bool:
    """True when ``path``, or a symbolic link on the way to its target, names a descriptor of
    this process (``/dev/stdout`` is a link to ``/proc/self/fd/1``)."""
    p = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        if p in _STREAM_PATHS or p.startswith(_STREAM_PREFIXES):
            return True
        try:
            link = os.readlink(p)
        except OSError:  # not a link (or gone): the chain ends here
            return False
        p = os.path.normpath(os.path.join(os.path.dirname(p), link))
    return False


def _read_only(target: str, st: os.stat_result) -> bool:
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return True  # 0444 and the like: read-only on purpose, even for root, who could write it
    if os.access in os.supports_effective_ids:
        return not os.access(target, os.W_OK, effective_ids=True)
    return not os.access(target, os.W_OK)


def _remove_stale(folder: str, name: str) -> None:
    """Removes temporary files of earlier saves to ``folder/name`` that died (best effort)."""
    prefix = f".{name}."
    now = time.time()
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        entries = os.scandir(folder or ".")
    except OSError:
        return
    with entries:
        for entry in entries:
            if not (entry.name.startswith(prefix)
                    and _TEMP_SUFFIX.fullmatch(entry.name, len(prefix))):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                if (stat.S_ISREG(st.st_mode) and (uid is None or st.st_uid == uid)
                        and now - st.st_mtime > STALE_AFTER_S):
                    os.remove(entry.path)
            except OSError:  # another save removed it first, or it is not ours to remove
                continue


def _open_temp(target: str, shown: str, mode: str) -> tuple[IO, str]:
    folder, name = os.path.split(target)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.ember-{uuid.uuid4().hex[:12]}.tmp")
        try:
            # exclusive creation, with the permissions a plain open() gives (umask applied); it
            # refuses to follow a link planted under the temporary name
            if "b" in mode:
                return open(tmp, "xb"), tmp
            return open(tmp, "x", encoding="utf-8"), tmp
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory (its folder does "
                                    "not exist)", shown) from None
        except PermissionError as e:
            # the folder is not writable: name the file the caller asked for, not our temp name
            raise PermissionError(e.errno, f"{e.strerror} (can't create a temporary file in "
                                  f"{folder or '.'!r} to replace it atomically)", shown) from None
    raise FileExistsError(f"no free temporary file name next to {shown!r}")


@contextlib.contextmanager
def _in_place(path: str, mode: str) -> Iterator[IO]:
    # A pipe, device or socket: no temporary file, no rename, no fsync (pipes refuse it).
    with open(path, mode) if "b" in mode else open(path, mode, encoding="utf-8") as f:
        yield f


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *,
                 replace_readonly: bool = False) -> Iterator[IO]:
    """Opens ``path`` for writing so that a failure never loses what was there before.

    A regular file (or a new path) is written to a temporary file next to it that replaces it
    on a clean exit; on any exception (``KeyboardInterrupt`` included) the temporary file is
    removed and the exception propagates, leaving a previous ``path`` untouched. An existing
    target keeps its permission bits (and, where allowed, its owner). A path that is not a
    regular file (``/dev/null``, a named pipe, ``/dev/stdout``) is written in place instead. A
    symbolic link is followed: its target is replaced and the link kept. See the module's
    docstring for the whole policy.

    Args:
        path: the file to create or replace.
        mode: ``"wb"`` (default) for a binary file, or ``"w"`` for UTF-8 text.
        replace_readonly: replace a read-only regular file too (default: refuse).

    Raises:
        PermissionError: ``path`` is a read-only file, or its folder is not writable.
        IsADirectoryError: ``path`` is a directory.
        FileNotFoundError: ``path``'s folder does not exist.

    Example::

        >>> with atomic_write("model.pt") as f:
        ...     f.write(data)
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")
    shown = os.fspath(path)
    try:
        st: os.stat_result | None = os.stat(shown)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", shown)
    if (st is not None and not stat.S_ISREG(st.st_mode)) or _is_stream_path(shown):
        with _in_place(shown, mode) as f:
            yield f
        return

    target = os.path.realpath(shown)
    if st is not None and not replace_readonly and _read_only(target, st):
        raise PermissionError(errno.EACCES, "Permission denied: the file is read-only and was "
                              "not replaced (make it writable or remove it first)", shown)
    folder, name = os.path.split(target)
    _remove_stale(folder, name)
    f, tmp = _open_temp(target, shown, mode)
    try:
        with f:
            yield f
            if not f.closed:  # the caller may have closed it already; then it is flushed
                f.flush()
                os.fsync(f.fileno())
        if st is not None:
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if hasattr(os, "chown") and (st.st_uid, st.st_gid) != _owner(tmp):
                with contextlib.suppress(OSError):  # only root may give a file away
                    os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(folder)


def _owner(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_uid, st.st_gid
