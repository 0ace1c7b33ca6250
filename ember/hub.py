"""``torch.hub``'s download-and-cache API for pretrained weights.

Files are cached in ``<get_dir()>/checkpoints`` (``$EMBER_HOME/hub/checkpoints``, by default
``~/.cache/ember/hub/checkpoints``). A file PyTorch already downloaded to its own cache
(``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``) is used in place,
so weights are never fetched twice; ember only reads there, never writes.

A download goes to a temporary ``.partial`` file next to its destination, with an optional sha256
prefix check, and is renamed into place only once complete: a failed, mismatching or interrupted
download leaves nothing in the cache. Without a network, :class:`DownloadError` says where the
file can be put by hand.

Loading models from GitHub repositories (``torch.hub.load``/``list``/``help``) is not supported:
it would run the repository's code.
"""
from __future__ import annotations

import builtins
import hashlib
import http.client
import io
import os
import pickle
import re
import sys
import tempfile
import urllib.error
import uuid
import warnings
from typing import Any
from urllib.parse import urlparse
from urllib.request import Request, urlopen

__all__ = ["DownloadError", "download_url_to_file", "get_dir", "help", "list", "load",
           "load_state_dict_from_url", "set_dir"]

# torch.hub's naming convention: resnet18-f37072fd.pth carries the sha256 prefix f37072fd
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
READ_DATA_CHUNK = 128 * 1024
ENV_EMBER_HOME = "EMBER_HOME"
ENV_TORCH_HOME = "TORCH_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
_USER_AGENT = "ember.hub"

_hub_dir: str | None = None


class DownloadError(urllib.error.URLError):
    """A file could not be downloaded (no network, server unreachable, HTTP error, cut off).

    A ``URLError`` (hence an ``OSError``), so existing handlers keep working. ``url``, ``reason``
    and ``path`` (where the file can be placed by hand) are attributes; ``str()`` says it all.
    """

    def __init__(self, url: str, reason: Any, path: str, torch_path: str | None = None) -> None:
        super().__init__(reason, path)
        self.url = url
        self.path = path
        self.torch_path = torch_path

    def __str__(self) -> str:
        msg = (f"could not download {self.url}: {self.reason}. If this machine is offline, "
               f"download the file elsewhere and place it at {self.path}")
        if self.torch_path:
            msg += f" (a copy in PyTorch's cache, {self.torch_path}, is used too)"
        return msg


# -- cache folders -----------------------------------------------------------------------------
def _cache_home() -> str:
    return os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR)


def _ember_home() -> str:
    return os.path.expanduser(os.getenv(ENV_EMBER_HOME, os.path.join(_cache_home(), "ember")))


def _torch_home() -> str:
    # torch.hub's resolution, without importing torch, so both libraries share what is cached
    return os.path.expanduser(os.getenv(ENV_TORCH_HOME, os.path.join(_cache_home(), "torch")))


def get_dir() -> str:
    r"""The hub cache folder: the :func:`set_dir` value if set, else ``$EMBER_HOME/hub``, where
    ``$EMBER_HOME`` defaults to ``$XDG_CACHE_HOME/ember`` and ``$XDG_CACHE_HOME`` to ``~/.cache``.
    """
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_ember_home(), "hub")


def set_dir(d: str | os.PathLike) -> None:
    r"""Sets the hub cache folder that :func:`get_dir` returns.

    Args:
        d (str): path to a local folder to save downloaded models & weights.
    """
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


# -- downloading -------------------------------------------------------------------------------
def _progress_bar(total: int | None, enabled: bool):
    if enabled:
        try:
            from tqdm import tqdm
        except ImportError:  # tqdm is an optional extra: download silently without it
            pass
        else:
            return tqdm(total=total, disable=False, unit="B", unit_scale=True, unit_divisor=1024)
    return None


def _open_partial(dst: str) -> tuple[Any, str]:
    for _ in range(100):
        tmp = dst + "." + uuid.uuid4().hex + ".partial"
        try:
            # plain open() permissions (not NamedTemporaryFile's 0600): the file ends up in a cache
            return open(tmp, "xb"), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name next to {dst!r}")


def _download(url: str, dst: str, hash_prefix: str | None, progress: bool,
              torch_path: str | None = None) -> None:
    f, tmp = _open_partial(dst)
    try:
        try:
            response = urlopen(Request(url, headers={"User-Agent": _USER_AGENT}))
        except ValueError as e:  # not a URL at all: the caller's mistake, not the network's
            raise ValueError(f"download_url_to_file: invalid URL {url!r}: {e}") from None
        except (OSError, http.client.HTTPException) as e:  # URLError/HTTPError are OSErrors
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            if isinstance(e, urllib.error.HTTPError):
                reason = f"HTTP Error {e.code}: {e.reason}"
                e.close()
            raise DownloadError(url, reason, dst, torch_path) from e
        with response, f:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            sha256 = hashlib.sha256() if hash_prefix is not None else None
            bar = _progress_bar(total, progress)
            received = 0
            try:
                while True:
                    try:
                        buffer = response.read(READ_DATA_CHUNK)
                    except (OSError, http.client.HTTPException) as e:
                        raise DownloadError(url, f"connection lost after {received} bytes ({e!r})",
                                            dst, torch_path) from e
                    if not buffer:
                        break
                    f.write(buffer)
                    received += len(buffer)
                    if sha256 is not None:
                        sha256.update(buffer)
                    if bar is not None:
                        bar.update(len(buffer))
            finally:
                if bar is not None:
                    bar.close()
            if total is not None and received != total:
                raise DownloadError(url, f"connection closed after {received} of {total} bytes",
                                    dst, torch_path)
            if sha256 is not None:
                digest = sha256.hexdigest()
                if digest[: len(hash_prefix)] != hash_prefix:
                    raise RuntimeError(
                        f'invalid hash value (expected "{hash_prefix}", got "{digest}")')
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)  # same folder, so the file appears whole or not at all
    finally:
        f.close()
        if os.path.exists(tmp):
            os.remove(tmp)


def download_url_to_file(url: str, dst: str | os.PathLike, hash_prefix: str | None = None,
                         progress: bool = True) -> None:
    r"""Downloads the object at ``url`` to the local path ``dst``.

    The data is streamed to ``dst + "." + <random> + ".partial"`` and renamed to ``dst`` only when
    complete (and, with ``hash_prefix``, verified), so ``dst`` is never half-written.

    Args:
        url (str): URL of the object to download
        dst (str): full path where the object will be saved, e.g. ``/tmp/temporary_file``
        hash_prefix (str, optional): if not None, the SHA256 of the downloaded file must start
            with ``hash_prefix``. Default: None
        progress (bool, optional): whether to display a progress bar to stderr (needs tqdm).
            Default: True

    Raises:
        DownloadError: the server could not be reached, answered with an HTTP error, or the
            connection broke off.
        RuntimeError: the file's SHA256 does not start with ``hash_prefix``.
    """
    _download(url, os.path.expanduser(os.fspath(dst)), hash_prefix, progress)


# -- loading -----------------------------------------------------------------------------------
def _legacy_zip_member(filename: str) -> Any:
    """``(reader, entry)`` for the sole record of ``filename`` if it is a zip archive of exactly
    one file (torch.hub's legacy packaging), else None. torch's own (1.6+) zip format always
    holds several records."""
    from .io._zip import BadZipFile, ZipReader

    f = open(filename, "rb")
    try:
        if f.read(4) == b"PK\x03\x04":
            f.seek(0)
            reader = ZipReader(f, repr(filename))  # checks what the archive declares
            entries = builtins.list(reader.entries.values())
            if len(entries) == 1 and not entries[0].name.endswith("/"):
                return reader, entries[0]
    except BadZipFile:
        pass  # not an archive the hub would unpack: ember.load says what the file is
    except BaseException:
        f.close()
        raise
    f.close()
    return None


class _MemberFile(io.RawIOBase):
    """A zip record as a seekable file, decompressed to a temporary file only as far as it is
    read: memory stays at one chunk whatever the record's size, and a record whose first bytes
    are not a checkpoint is refused having unpacked little more than those bytes."""

    def __init__(self, reader: Any, entry: Any, filename: str) -> None:
        super().__init__()
        self.name = f"{filename}:{entry.name}"  # how ember.load names it in errors
        self._reader = reader
        self._chunks = reader.chunks(entry, READ_DATA_CHUNK)
        self._size = entry.file_size  # checked by ZipReader; the chunks hold exactly that
        try:  # next to the cache, as torch.hub extracts there; deleted on close, even on a crash
            self._spool = tempfile.TemporaryFile(dir=os.path.dirname(os.path.abspath(filename)))
        except OSError:  # a read-only cache (e.g. torch's): the system's temporary folder
            self._spool = tempfile.TemporaryFile()
        self._have = 0  # bytes unpacked into the spool so far
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, b: Any) -> int:
        end = min(self._pos + len(b), self._size)
        if end <= self._pos:
            return 0
        self._spool.seek(self._have)
        while self._have < end:
            chunk = next(self._chunks, None)  # raises BadZipFile if the record breaks its word
            if chunk is None:
                break
            self._spool.write(chunk)
            self._have += len(chunk)
        self._spool.seek(self._pos)
        got = self._spool.readinto(memoryview(b).cast("B")[:end - self._pos])
        self._pos += got
        return got

    def close(self) -> None:
        if not self.closed:
            self._spool.close()
            self._reader.f.close()
        super().close()


def _legacy_zip_load(filename: str, reader: Any, entry: Any, map_location: Any,
                     weights_only: bool) -> Any:
    from .io import load as _load

    try:
        warnings.warn(
            "Falling back to the old format < 1.6. This support will be deprecated in favor of "
            "default zipfile format introduced in 1.6. Please redo torch.save() to save it in "
            "the new zipfile format.", FutureWarning, stacklevel=3)
        # torch.hub extracts the member next to the cache and loads that; here it is unpacked
        # into an anonymous temporary file as the loader reads it (a hostile member name cannot
        # escape the folder, nothing is left behind, and a member that is not a checkpoint
        # stops at once)
        member = _MemberFile(reader, entry, filename)
    except BaseException:
        reader.f.close()
        raise
    from .io._zip import BadZipFile

    with io.BufferedReader(member, READ_DATA_CHUNK) as f:  # closing it closes the archive
        try:
            return _load(f, map_location=map_location, weights_only=weights_only)
        except BadZipFile as e:  # the member broke its word while being read (CRC, length)
            raise pickle.UnpicklingError(f"{member.name!r}: not a valid checkpoint: {e}") from None


def load_state_dict_from_url(url: str, model_dir: str | None = None, map_location: Any = None,
                             progress: bool = True, check_hash: bool = False,
                             file_name: str | None = None,
                             weights_only: bool = True) -> dict[str, Any]:
    r"""Loads the serialized object at ``url``, downloading it into the cache first if needed.

    The file name is the URL's last path component (or ``file_name``). If the file is already in
    ``model_dir`` (default ``<get_dir()>/checkpoints``), or, with the default ``model_dir``, in
    PyTorch's cache ``$TORCH_HOME/hub/checkpoints``, that copy is loaded as is, as torch.hub does.

    Args:
        url (str): URL of the object to download
        model_dir (str, optional): folder to look in and download to
        map_location (optional): how to remap storage locations (see :func:`ember.load`)
        progress (bool, optional): whether to display a progress bar to stderr. Default: True
        check_hash (bool, optional): if True, the file name must follow the convention
            ``filename-<sha256>.ext``, where ``<sha256>`` is the first eight or more hex digits of
            the file's SHA256, and a download is verified against it. Default: False
        file_name (str, optional): name for the downloaded file. Default: from ``url``
        weights_only (bool, optional): load tensors and plain containers only (the safe loader).
            Default: True

    Raises:
        DownloadError: the file is not cached and cannot be downloaded; the message names the
            path where it can be placed by hand.

    Example:
        >>> state_dict = ember.hub.load_state_dict_from_url(
        ...     "https://download.pytorch.org/models/resnet18-f37072fd.pth", check_hash=True)
    """
    filename = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
        places = [os.path.join(model_dir, filename),
                  os.path.join(_torch_home(), "hub", "checkpoints", filename)]
    else:
        model_dir = os.path.expanduser(os.fspath(model_dir))
        places = [os.path.join(model_dir, filename)]
    cached_file = next((p for p in places if os.path.isfile(p)), None)
    if cached_file is None:
        cached_file = places[0]
        os.makedirs(model_dir, exist_ok=True)
        sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
        hash_prefix = None
        if check_hash:
            r = HASH_REGEX.search(filename)
            hash_prefix = r.group(1) if r else None
        _download(url, cached_file, hash_prefix, progress, places[1] if len(places) > 1 else None)

    from .io import load as _load  # lazily: ember.io is only needed once there is a file

    legacy = _legacy_zip_member(cached_file)
    if legacy is not None:
        return _legacy_zip_load(cached_file, *legacy, map_location, weights_only)
    return _load(cached_file, map_location=map_location, weights_only=weights_only)


# -- GitHub repositories: not supported --------------------------------------------------------
def _no_repos(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"ember.hub.{name}: loading models from GitHub repositories (hubconf.py) is not supported "
        "by ember, since it means running the repository's code. Use ember.vision.models (e.g. "
        "resnet18(weights='DEFAULT')) or ember.hub.load_state_dict_from_url(url) with a model "
        "you build yourself.")


def load(repo_or_dir: str, model: str, *args: Any, source: str = "github",
         trust_repo: Any = None, force_reload: bool = False, verbose: bool = True,
         skip_validation: bool = False, **kwargs: Any) -> Any:
    """Not supported: ``torch.hub.load`` runs a repository's ``hubconf.py``."""
    raise _no_repos("load")


def list(github: str, force_reload: bool = False, skip_validation: bool = False,  # noqa: A001
         trust_repo: Any = None, verbose: bool = True) -> builtins.list[str]:
    """Not supported: ``torch.hub.list`` runs a repository's ``hubconf.py``."""
    raise _no_repos("list")


def help(github: str, model: str, force_reload: bool = False,  # noqa: A001
         skip_validation: bool = False, trust_repo: Any = "check") -> str:
    """Not supported: ``torch.hub.help`` runs a repository's ``hubconf.py``."""
    raise _no_repos("help")

from ._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.hub")  # torch's: MissingAPIError
