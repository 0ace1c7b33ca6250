"""Downloads, MD5 checks and archive extraction, as ``torchvision.datasets.utils``."""
from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import tarfile
import zipfile
from collections.abc import Iterable
from typing import Any
from urllib.error import URLError
from urllib.request import Request, urlopen

__all__ = [
    "calculate_md5", "check_md5", "check_integrity", "download_url", "download_and_extract_archive",
    "extract_archive", "verify_str_arg", "list_dir", "list_files",
]

_USER_AGENT = "pytorch/vision"
_CHUNK = 1024 * 1024


def calculate_md5(fpath: str | os.PathLike, chunk_size: int = _CHUNK) -> str:
    """The hex MD5 of a file, read in chunks."""
    md5 = hashlib.md5(usedforsecurity=False)  # torchvision's checks are MD5: a checksum, not a defence
    with open(fpath, "rb") as f:
        while chunk := f.read(chunk_size):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath: str | os.PathLike, md5: str, **kwargs: Any) -> bool:
    return md5 == calculate_md5(fpath, **kwargs)


def check_integrity(fpath: str | os.PathLike, md5: str | None = None) -> bool:
    """True when ``fpath`` is a file and, if ``md5`` is given, has that MD5."""
    if not os.path.isfile(fpath):
        return False
    if md5 is None:
        return True
    return check_md5(fpath, md5)


def _urlretrieve(url: str, filename: str, chunk_size: int = _CHUNK) -> None:
    # into a .partial file, renamed when complete: an interrupted download never looks finished
    partial = filename + ".partial"
    try:
        with urlopen(Request(url, headers={"User-Agent": _USER_AGENT})) as response, \
                open(partial, "wb") as fh:
            while chunk := response.read(chunk_size):
                fh.write(chunk)
        os.replace(partial, filename)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def download_url(url: str, root: str | os.PathLike, filename: str | os.PathLike | None = None,
                 md5: str | None = None, max_redirect_hops: int = 3) -> None:
    """Downloads ``url`` to ``root/filename`` (default: the URL's basename) unless a file with
    that MD5 is already there; checks the MD5 after downloading."""
    root = os.path.expanduser(root)
    if not filename:
        filename = os.path.basename(url)
    fpath = os.fspath(os.path.join(root, filename))
    os.makedirs(root, exist_ok=True)
    if check_integrity(fpath, md5):
        return
    try:
        _urlretrieve(url, fpath)
    except (URLError, OSError) as e:
        if url[:5] == "https":
            url = url.replace("https:", "http:")
            print("Failed download. Trying https -> http instead. Downloading " + url + " to "
                  + fpath)
            _urlretrieve(url, fpath)
        else:
            raise e
    if not check_integrity(fpath, md5):
        raise RuntimeError("File not found or corrupted.")


def list_dir(root: str | os.PathLike, prefix: bool = False) -> list[str]:
    root = os.path.expanduser(root)
    dirs = [p for p in os.listdir(root) if os.path.isdir(os.path.join(root, p))]
    return [os.path.join(root, d) for d in dirs] if prefix else dirs


def list_files(root: str | os.PathLike, suffix: str, prefix: bool = False) -> list[str]:
    root = os.path.expanduser(root)
    files = [p for p in os.listdir(root)
             if os.path.isfile(os.path.join(root, p)) and p.endswith(suffix)]
    return [os.path.join(root, d) for d in files] if prefix else files


_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tbz2", ".tar.xz", ".txz")


def _safe_members(tar: tarfile.TarFile, to_path: str) -> Any:
    # the "data" filter refuses absolute paths, links out of the folder and device files
    return {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


def extract_archive(from_path: str | os.PathLike, to_path: str | os.PathLike | None = None,
                    remove_finished: bool = False) -> str:
    """Extracts a tar (any compression), zip, or a single ``.gz``/``.bz2``/``.xz`` file; returns
    the folder (or, for a single compressed file, the file) extracted to."""
    from_path = os.fspath(from_path)
    if to_path is None:
        to_path = os.path.dirname(from_path)
    to_path = os.fspath(to_path)
    name = from_path.lower()
    if name.endswith(_TAR_SUFFIXES):
        with tarfile.open(from_path, "r:*") as tar:
            tar.extractall(to_path, **_safe_members(tar, to_path))
        out = to_path
    elif name.endswith(".zip"):
        with zipfile.ZipFile(from_path, "r") as z:
            for member in z.namelist():  # zip members may not climb out of the folder
                target = os.path.realpath(os.path.join(to_path, member))
                if not target.startswith(os.path.realpath(to_path) + os.sep) and \
                        target != os.path.realpath(to_path):
                    raise RuntimeError(f"Refusing to extract {member!r} outside {to_path!r}")
            z.extractall(to_path)
        out = to_path
    else:
        suffix = os.path.splitext(name)[1]
        if suffix not in _COMPRESSED:
            raise RuntimeError(
                f"Archive type of {from_path} not supported. Supported suffixes are: "
                f"{sorted(set(_TAR_SUFFIXES) | {'.zip'} | set(_COMPRESSED))}")
        out = os.path.join(to_path, os.path.basename(from_path)[: -len(suffix)])
        with _COMPRESSED[suffix](from_path, "rb") as rf, open(out, "wb") as wf:
            shutil.copyfileobj(rf, wf)
    if remove_finished:
        os.remove(from_path)
    return out


def download_and_extract_archive(url: str, download_root: str | os.PathLike,
                                 extract_root: str | os.PathLike | None = None,
                                 filename: str | os.PathLike | None = None, md5: str | None = None,
                                 remove_finished: bool = False) -> None:
    """:func:`download_url`, then :func:`extract_archive` into ``extract_root`` (default: the
    download folder)."""
    download_root = os.path.expanduser(download_root)
    if extract_root is None:
        extract_root = download_root
    if not filename:
        filename = os.path.basename(url)
    download_url(url, download_root, filename, md5)
    archive = os.path.join(download_root, filename)
    extract_archive(archive, extract_root, remove_finished)


def verify_str_arg(value: str, arg: str | None = None,
                   valid_values: Iterable[str] | None = None,
                   custom_msg: str | None = None) -> str:
    """Checks that ``value`` is a string among ``valid_values`` with torchvision's messages."""
    if not isinstance(value, str):
        msg = "Expected type str" if arg is None else f"Expected type str for argument {arg}"
        raise ValueError(f"{msg}, but got type {type(value)}.")
    if valid_values is None:
        return value
    if value not in valid_values:
        if custom_msg is not None:
            raise ValueError(custom_msg)
        valid = ", ".join(f"'{v}'" for v in valid_values)
        raise ValueError(f"Unknown value '{value}' for argument {arg}. Valid values are {{{valid}}}.")
    return value
