"""``ember.save`` and ``ember.load``: PyTorch checkpoints, read and written without PyTorch.

Files are PyTorch's own formats, so torch and ember read each other's checkpoints:

* writing: the zip format of ``torch.save`` (torch >= 1.6), laid out as torch lays it out, or
  safetensors (``format="safetensors"`` or a ``.safetensors`` path);
* reading: that zip format, the older magic-number format (``_use_new_zipfile_serialization=False``)
  and safetensors, recognised by content.

Loading never runs code from the file: a checkpoint is unpickled by an allowlist-only unpickler
(``_unpickler.py``), the equivalent of ``torch.load(weights_only=True)``, and there is no
``weights_only=False``. A file that asks for anything else raises :class:`UnsafeCheckpointError`
before anything from it has run.
"""
from __future__ import annotations

import io
import os
import pickle
import re
import struct
import zipfile
from typing import IO, Any, Callable, Union

import numpy as np

from ._pickler import Emitter, collect, plan_storages
from ._unpickler import SafeUnpickler, Storages, UnsafeCheckpointError, unwrap
from ._zip import ZipWriter

__all__ = ["save", "load", "UnsafeCheckpointError"]

FileLike = Union[str, os.PathLike, IO[bytes]]

_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # the legacy format's first pickle (torch/serialization.py)
_PROTOCOL_VERSION = 1001


# -- saving ----------------------------------------------------------------------------------------
def save(obj: Any, f: FileLike, pickle_protocol: int = 2, *, format: str | None = None) -> None:
    """Saves ``obj`` to ``f`` in PyTorch's checkpoint format, readable by ``torch.load``.

    Args:
        obj: tensors, Parameters, and dict / OrderedDict (with its ``_metadata``) / list / tuple /
            set containers of them and of None, bool, int, float, complex, str, bytes,
            ``ember.Size``, ``ember.device`` and dtypes (NumPy scalars are saved as Python ones).
            Tensors that view one array (tied weights, ``w.t()``, slices) are saved as one
            storage, so they share memory again when loaded, by ember or torch.
        f: a path, or a writable binary file object. A regular file is replaced atomically
            (temporary file ``.NAME.ember-*.tmp``, fsync, rename: a crash mid-save leaves an
            existing file intact; one left by a killed save is removed by a later save to the
            same path once 15 minutes old). A read-only file is refused: make it writable or
            remove it first to replace it. A symbolic link is followed, as ``open()`` does: the
            file it points to, possibly in another folder, is replaced and the link kept. Other
            paths (``/dev/null``, a named pipe, ``/dev/stdout``) are written in place, streamed.
        pickle_protocol: accepted for compatibility (2 to 5). The file always uses protocol-2
            opcodes, the only ones ``torch.load(weights_only=True)`` reads; ember reads any.
        format: ``None`` (safetensors for a path ending in ``.safetensors``, else torch's zip
            format), ``"torch"`` or ``"safetensors"`` (a dict of str -> Tensor only).

    Raises:
        TypeError: ``obj`` holds an object of another type; the message says where.
        PermissionError: ``f`` is a read-only file, or its folder is not writable.
    """
    if type(pickle_protocol) is not int or not 2 <= pickle_protocol <= pickle.HIGHEST_PROTOCOL:
        raise ValueError(f"pickle_protocol must be an int from 2 to {pickle.HIGHEST_PROTOCOL}, "
                         f"got {pickle_protocol!r}")
    is_path = isinstance(f, (str, os.PathLike))
    if format is None:
        format = ("safetensors" if is_path and os.fspath(f).endswith(".safetensors")
                  else "torch")
    if format == "safetensors":
        from . import safetensors

        safetensors.save(obj, f)
        return
    if format != "torch":
        raise ValueError(f"format must be None, 'torch' or 'safetensors', got {format!r}")
    if not is_path and not hasattr(f, "write"):
        raise TypeError(f"ember.save expected a path or a writable binary file object as f, "
                        f"got {type(f).__name__}")

    # Everything is checked and pickled before the first byte is written.
    tensors = collect(obj)
    plan = plan_storages(tensors)
    emitter = Emitter(plan)
    emitter.save(obj)
    emitter.out += b"."  # STOP
    if is_path:
        from ._atomic import atomic_write

        with atomic_write(f) as out:
            _write_archive(out, _archive_name(os.fspath(f)), bytes(emitter.out), plan.records)
    else:
        _write_archive(f, "archive", bytes(emitter.out), plan.records)


def _archive_name(path: str) -> str:
    # torch names the archive's top folder after the file (``model.pt`` -> ``model/``)
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem if stem and stem.isascii() and stem.isprintable() else "archive"


def _write_archive(f: IO[bytes], name: str, data_pkl: bytes, records: list[np.ndarray]) -> None:
    # the record set and order torch 2.x writes (CHECKPOINTS.md §1.1)
    z = ZipWriter(f)
    z.write(f"{name}/data.pkl", data_pkl)
    z.write(f"{name}/.format_version", b"1")
    z.write(f"{name}/.storage_alignment", b"64")
    z.write(f"{name}/byteorder", b"little")
    for key, arr in enumerate(records):
        arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
        z.write(f"{name}/data/{key}", arr if arr.size else b"")
    z.write(f"{name}/version", b"3\n")
    z.write(f"{name}/.data/serialization_id",
            str(int.from_bytes(os.urandom(17), "big")).zfill(41)[:40].encode())
    z.close()


# -- loading ---------------------------------------------------------------------------------------
def load(f: FileLike, map_location: Any = None, weights_only: bool | None = True,
         mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Loads an object saved with ``torch.save``, ``ember.save`` or as safetensors.

    Tensors come back as ember Tensors (``requires_grad`` as saved), ``nn.Parameter`` as ember
    Parameters, and tensors that shared a storage share memory again. bfloat16 is widened to
    float32, uint16 to int32 and uint32 to int64 (ember lacks those dtypes; nothing is lost).

    Args:
        f: a path or a readable binary file object.
        map_location: ``None``, ``'cpu'``, a device, a dict mapping saved locations to targets,
            or a callable ``(storage, location)``, as in torch. ember has only the CPU: storages
            saved from a GPU load there when ``map_location`` is ``None``; naming another device
            as the target raises ``RuntimeError``.
        weights_only: must be true (the default). ember never runs code from a checkpoint.
        mmap: memory-map the file's tensor data instead of reading it (paths only; zip format).
        encoding: (keyword) how to decode Python 2 strings, ``'utf-8'`` by default.

    Raises:
        UnsafeCheckpointError: the file asks for a global outside the allowlist or is crafted
            to read outside its data. A subclass of ``pickle.UnpicklingError``.
        pickle.UnpicklingError: the file is not a checkpoint, or is truncated or corrupt.
        EOFError: the file is empty (as torch).
        NotImplementedError: the file holds what ember cannot represent (complex, uint64,
            quantized or sparse tensors).
    """
    if weights_only is False:
        raise ValueError("ember.load has no weights_only=False: ember never runs code from a "
                         "checkpoint. It reads tensors, containers and plain values, as "
                         "torch.load(weights_only=True) does")
    unexpected = set(pickle_load_args) - {"encoding"}
    if unexpected:
        raise TypeError(f"load() got an unexpected keyword argument '{sorted(unexpected)[0]}'")
    encoding = pickle_load_args.get("encoding", "utf-8")
    check_location = _location_checker(map_location)

    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        with open(path, "rb") as fh:
            return _load(fh, repr(path), path if mmap else None, check_location, encoding)
    if not hasattr(f, "read"):
        raise TypeError(f"ember.load expected a path or a readable binary file object, "
                        f"got {type(f).__name__}")
    if mmap:
        raise ValueError("f must be a file path in order to use the mmap argument")
    name = repr(getattr(f, "name", "<file object>"))
    seekable = getattr(f, "seekable", None)
    if not (seekable and seekable()):
        f = io.BytesIO(f.read())
    return _load(f, name, None, check_location, encoding)


def _load(fh: IO[bytes], name: str, mmap_path: str | None,
          check_location: Callable[[str], None], encoding: str) -> Any:
    start = fh.tell()
    head = fh.read(512)
    fh.seek(start)
    if not isinstance(head, (bytes, bytearray)):
        raise TypeError(f"ember.load needs a binary file object; {name} gave {type(head).__name__}")
    if not head:
        raise EOFError(f"Ran out of input: {name} is empty")
    if head[:4] == b"PK\x03\x04":
        return _guarded(name, lambda: _load_zip(fh, name, mmap_path, check_location, encoding))
    if head[257:262] == b"ustar":
        raise RuntimeError(
            f"{name} is in torch's legacy .tar format (torch < 0.4, before 2018), which ember "
            "does not read; re-save it with torch>=1.6: torch.save(torch.load(f, "
            "weights_only=False), f) on a trusted file")
    from . import safetensors

    if safetensors.is_safetensors(head):
        check_location("cpu")
        return safetensors.load(fh)
    if mmap_path is not None:
        raise RuntimeError(
            f"mmap can only be used with files saved with `torch.save({name}, "
            "_use_new_zipfile_serialization=True), please torch.save your checkpoint with this "
            "option in order to use mmap.")
    return _guarded(name, lambda: _load_legacy(fh, name, check_location, encoding))


class _Deliberate(Exception):
    """Carries an error raised on purpose (its type matters) past the catch-all of _guarded."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _guarded(name: str, run: Callable[[], Any]) -> Any:
    """Runs a loader, naming the file in its errors; anything unexpected a malformed file can
    trigger (KeyError, TypeError, RecursionError, ...) becomes an UnpicklingError."""
    try:
        return run()
    except _Deliberate as e:
        raise e.error from None
    except (pickle.UnpicklingError, NotImplementedError) as e:
        raise type(e)(f"{name}: {e}") from None
    except MemoryError:
        raise
    except Exception as e:
        raise pickle.UnpicklingError(
            f"malformed checkpoint {name}: {type(e).__name__}: {e}") from None


def _location_checker(map_location: Any) -> Callable[[str], None]:
    """A function of a saved location that raises where the target device is not the CPU."""
    def target_ok(target: Any) -> None:
        kind = str(target).split(":")[0]
        if kind == "cpu":
            return
        if kind == "cuda":
            raise _Deliberate(RuntimeError(
                "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() "
                "is False. If you are running on a CPU-only machine, please use torch.load with "
                "map_location=torch.device('cpu') to map your storages to the CPU."))
        raise _Deliberate(RuntimeError(f"cannot load a storage to device {str(target)!r}: "
                                       "ember has only the CPU; pass map_location='cpu'"))

    if map_location is None:  # ember is CPU-only: what was saved from a GPU lands on the CPU
        return lambda location: None
    if isinstance(map_location, dict):
        return lambda location: target_ok(map_location.get(location, "cpu"))
    if callable(map_location):
        def check(location: str) -> None:
            from ..tensor import Tensor

            # torch passes the storage; ember gives an empty CPU tensor standing in for it
            stand_in = Tensor._make(np.empty(0, np.uint8))
            try:
                result = map_location(stand_in, location)
            except Exception as e:  # the user's function failed: its error, unchanged
                raise _Deliberate(e) from e
            if result is not None and result is not stand_in:
                target_ok(getattr(result, "device", result))
        return check
    if isinstance(map_location, (str, os.PathLike)) or hasattr(map_location, "type"):
        return lambda location: target_ok(map_location)
    raise TypeError("map_location must be None, a str, a device, a dict or a callable, got "
                    f"{type(map_location).__name__}")


def _load_zip(fh: IO[bytes], name: str, mmap_path: str | None,
              check_location: Callable[[str], None], encoding: str) -> Any:
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as e:
        raise pickle.UnpicklingError(f"not a valid checkpoint: truncated or corrupt zip archive "
                                     f"({e})") from None
    infos = zf.infolist()
    if not infos:
        raise pickle.UnpicklingError("not a valid checkpoint: the zip archive is empty")
    first = infos[0].filename
    if "/" not in first:
        raise pickle.UnpicklingError(f"file in archive is not in a subdirectory: {first}")
    prefix = first.split("/")[0] + "/"
    records = {i.filename: i for i in infos}
    if prefix + "constants.pkl" in records or any(n.startswith(prefix + "code/") for n in records):
        raise _Deliberate(RuntimeError(
            f"{name} is a TorchScript archive (torch.jit.save), which ember cannot load: "
            "TorchScript holds code. Load it with torch.jit.load and save its state_dict()"))
    fh.seek(0, io.SEEK_END)
    file_end = fh.tell()

    def read_record(record: str, nbytes: int | None = None) -> np.ndarray:
        info = records.get(prefix + record)
        if info is None:
            raise pickle.UnpicklingError(f"malformed checkpoint: record {record!r} is missing")
        if nbytes is not None and info.file_size != nbytes:
            raise UnsafeCheckpointError(
                f"{record}: size mismatch, the pickle declares {nbytes} bytes but the record "
                f"holds {info.file_size}")
        _check_record(info, file_end)
        if not info.file_size:
            return np.empty(0, np.uint8)
        if mmap_path is not None and info.compress_type == zipfile.ZIP_STORED:
            fh.seek(info.header_offset)
            header = fh.read(30)
            _check_header(header, info)
            offset = info.header_offset + 30 + sum(struct.unpack("<HH", header[26:30]))
            if offset + info.file_size > file_end:
                raise UnsafeCheckpointError(f"{record}: the record runs past the end of the file")
            # copy-on-write, as torch's default MAP_PRIVATE: edits never reach the file
            return np.memmap(mmap_path, np.uint8, "c", offset, (info.file_size,))
        buf = bytearray(info.file_size)  # writable, so the tensors built on it are too
        view, got = memoryview(buf), 0
        with zf.open(info) as r:  # checks the CRC once everything is read
            while got < len(buf):
                chunk = r.read(min(1 << 22, len(buf) - got))
                if not chunk:
                    raise pickle.UnpicklingError(f"malformed checkpoint: record {record!r} is "
                                                 "truncated")
                view[got:got + len(chunk)] = chunk
                got += len(chunk)
            r.read(1)  # reach EOF, where zipfile compares the CRC
        return np.frombuffer(buf, np.uint8)

    byteorder = "little"
    if prefix + "byteorder" in records:
        byteorder = read_record("byteorder").tobytes().decode("ascii", "replace")
        if byteorder not in ("little", "big"):
            raise _Deliberate(ValueError("Unknown endianness type: " + byteorder))
    data_pkl = read_record("data.pkl").tobytes()
    storages = Storages(lambda key, nbytes: read_record(f"data/{key}", nbytes), byteorder,
                        check_location)
    obj = SafeUnpickler(io.BytesIO(data_pkl), storages, encoding=encoding).load()
    return unwrap(obj, byteorder)


def _check_record(info: zipfile.ZipInfo, file_end: int) -> None:
    # Bound what a record may make us allocate by the file's real size, before reading it.
    if info.compress_type == zipfile.ZIP_STORED:
        ok = (info.compress_size == info.file_size
              and info.header_offset + 30 + info.compress_size <= file_end)
    elif info.compress_type == zipfile.ZIP_DEFLATED:  # deflate expands at most ~1032:1
        ok = info.file_size <= 1032 * info.compress_size + 1024
    else:
        raise pickle.UnpicklingError(f"malformed checkpoint: record {info.filename!r} uses "
                                     f"unsupported compression {info.compress_type}")
    if not ok:
        raise UnsafeCheckpointError(f"{info.filename}: the zip entry's sizes do not fit the file")


def _check_header(header: bytes, info: zipfile.ZipInfo) -> None:
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise pickle.UnpicklingError(f"malformed checkpoint: bad local header for "
                                     f"{info.filename!r}")


_KEY = re.compile(r"[0-9]{1,40}")


def _load_legacy(fh: IO[bytes], name: str, check_location: Callable[[str], None],
                 encoding: str) -> Any:
    # magic number, protocol version, sys_info, the object, its storage keys, then for each key
    # an int64 element count and the raw bytes (CHECKPOINTS.md §1.3)
    data = fh.read()
    buf = io.BytesIO(data)

    def plain() -> Any:  # the small header pickles: no globals, no storages
        return unwrap(SafeUnpickler(buf, None, encoding=encoding).load())

    if data[:1] != b"\x80":
        raise pickle.UnpicklingError(f"not a checkpoint: unknown format (starts with "
                                     f"{data[:8]!r})")
    magic = plain()
    if magic != _MAGIC_NUMBER:
        raise pickle.UnpicklingError("Invalid magic number; corrupt file?")
    version = plain()
    if version != _PROTOCOL_VERSION:
        raise pickle.UnpicklingError(f"Invalid protocol version: {version!r}")
    sys_info = plain()
    if not isinstance(sys_info, dict) or type(sys_info.get("little_endian", True)) is not bool:
        raise pickle.UnpicklingError("malformed checkpoint: bad sys_info header")
    byteorder = "little" if sys_info.get("little_endian", True) else "big"

    expected: dict[str, int] = {}

    def read_later(key: str, nbytes: int) -> None:
        expected[key] = nbytes  # the bytes come after the pickle

    storages = Storages(read_later, byteorder, check_location, legacy=True)
    obj = SafeUnpickler(buf, storages, encoding=encoding).load()
    keys = plain()
    if not (isinstance(keys, list) and all(isinstance(k, str) and _KEY.fullmatch(k) for k in keys)
            and len(set(keys)) == len(keys)):
        raise pickle.UnpicklingError("malformed checkpoint: bad storage key list")
    pos = buf.tell()
    count = "<q" if byteorder == "little" else ">q"
    for key in keys:
        if key not in storages.cache:
            raise pickle.UnpicklingError(f"malformed checkpoint: storage {key!r} is never used")
        storage = storages.cache[key]
        itemsize = 1 if storage.dtype is None else _itemsize(storage.dtype)
        if pos + 8 > len(data):
            raise pickle.UnpicklingError(f"malformed checkpoint: storage {key!r} is truncated")
        (numel,) = struct.unpack_from(count, data, pos)
        nbytes = numel * itemsize
        if nbytes != expected[key] or pos + 8 + nbytes > len(data):
            raise UnsafeCheckpointError(f"storage {key!r}: size mismatch, the pickle declares "
                                        f"{expected[key]} bytes, the file {nbytes}")
        storage.raw = np.frombuffer(bytearray(data[pos + 8:pos + 8 + nbytes]), np.uint8)
        pos += 8 + nbytes
    return unwrap(obj, byteorder)


def _itemsize(dtype_name: str) -> int:
    from ._unpickler import _DTYPES

    return np.dtype(_DTYPES[dtype_name][0]).itemsize

