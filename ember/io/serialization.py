"""``ember.save`` and ``ember.load``: PyTorch checkpoints, read and written without PyTorch.

Files are PyTorch's own formats, so torch and ember read each other's checkpoints:

* writing: the zip format of ``torch.save`` (torch >= 1.6), laid out as torch lays it out, or
  safetensors (``format="safetensors"`` or a ``.safetensors`` path);
* reading: that zip format, the older magic-number format (``_use_new_zipfile_serialization=False``)
  and safetensors, recognised by content.

By default loading never runs code from the file: a checkpoint is unpickled by an allowlist-only
unpickler (``_unpickler.py``), the equivalent of ``torch.load(weights_only=True)``, extended only by
what the user allowlists (:func:`add_safe_globals`). A file that asks for anything else raises
:class:`UnsafeCheckpointError` before anything from it has run. ``weights_only=False`` is torch's:
the file is trusted and fully unpickled (``_full.py``), which can run any code it names.
"""
from __future__ import annotations

import io
import os
import pickle
import pickletools
import re
import struct
from typing import IO, Any, Callable, Union

import numpy as np

from ._pickler import Emitter, collect, plan_storages
from ._safe_globals import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals
from ._unpickler import _ALLOWLIST, _UNSUPPORTED, CallingUnpickler, SafeUnpickler, Storages
from ._unpickler import UnsafeCheckpointError
from ._unpickler import unwrap
from ._zip import BadZipFile, UnsafeZipFile, ZipReader, ZipWriter

__all__ = ["save", "load", "UnsafeCheckpointError", "add_safe_globals", "clear_safe_globals",
           "get_safe_globals", "safe_globals", "get_unsafe_globals_in_checkpoint"]

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

        Any other picklable object (a whole Module, an optimizer, a class of yours) is pickled
        whole, as ``torch.save`` does; such a file loads only with ``weights_only=False``.

    Raises:
        TypeError: ``obj`` holds an object that cannot be pickled (a local class, a lambda);
            the message says where.
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
    try:
        tensors, full = collect(obj), False
    except TypeError as plain_error:  # not plain data (a Module, a user class): pickled whole,
        from ._full import FullEmitter, collect_full  # as torch does (weights_only=False loads)

        try:
            (tensors, reductions), full = collect_full(obj), True
            emitter: Emitter = FullEmitter(plan_storages(tensors), reductions)
            emitter.save(obj)
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            raise TypeError(f"{plain_error}; nor can it be pickled whole: {e}") from None
    if not full:
        emitter = Emitter(plan_storages(tensors))
        emitter.save(obj)
    plan = emitter.plan
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
        if arr.dtype.kind == "V":  # bfloat16 (ml_dtypes): no buffer format, so its raw bytes
            arr = np.ascontiguousarray(arr).view(np.uint8)
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
    Parameters, and tensors that shared a storage share memory again. bfloat16 and complex stay
    themselves; uint16 is widened to int32 and uint32 to int64 (ember lacks those dtypes; nothing
    is lost).

    The file is trusted for nothing: its format is recognised from its first bytes (anything
    else is refused before more is read), every size it declares is checked against the bytes
    really present before memory is set aside for it, and views (``expand``, lazily negated
    tensors) stay views of their storage. So the memory a load takes is about the size of the
    file's tensor data, plus its pickle, whatever the file claims.

    Args:
        f: a path or a readable binary file object.
        map_location: ``None``, ``'cpu'``, a device, a dict mapping saved locations to targets,
            or a callable ``(storage, location)``, as in torch. Storages saved from a GPU go
            back to it when CUDA is available (through CuPy); without it they land on the CPU
            when ``map_location`` is ``None`` (torch raises), and naming a CUDA target raises
            torch's ``RuntimeError``.
        weights_only: True (the default): only tensors, containers, plain values and the globals
            allowlisted with :func:`add_safe_globals` are rebuilt; nothing else runs. False: the
            file is TRUSTED and fully unpickled, as ``torch.load(weights_only=False)`` does:
            whole models and any object come back, and the file can run arbitrary code, so
            use it only for files from a source you trust. ``torch.*`` classes load as ember's.
        mmap: memory-map the file's tensor data instead of reading it (paths only; zip format).
        encoding: (keyword) how to decode Python 2 strings, ``'utf-8'`` by default.

    Raises:
        UnsafeCheckpointError: the file asks for a global outside the allowlist, declares sizes
            or offsets its bytes do not back, nests its objects deeper than
            ``_unpickler.MAX_DEPTH``, or is crafted to read outside its data. A subclass of
            ``pickle.UnpicklingError``.
        pickle.UnpicklingError: the file is not a checkpoint, or is truncated or corrupt.
        SafetensorError: (a ``ValueError``) a malformed safetensors file.
        EOFError: the file is empty (as torch).
        NotImplementedError: the file holds what ember cannot represent (complex, uint64,
            quantized or sparse tensors).
    """
    trusted = weights_only is False
    from ._safe_globals import user_globals

    user_globals()  # torch's checks on the allowlist's (global, name) pairs, before any reading
    unexpected = set(pickle_load_args) - {"encoding"}
    if unexpected:
        raise TypeError(f"load() got an unexpected keyword argument '{sorted(unexpected)[0]}'")
    encoding = pickle_load_args.get("encoding", "utf-8")
    check_location = _location_checker(map_location)

    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        with open(path, "rb") as fh:
            return _load(fh, repr(path), path if mmap else None, check_location, encoding,
                         trusted)
    if not hasattr(f, "read"):
        raise TypeError(f"ember.load expected a path or a readable binary file object, "
                        f"got {type(f).__name__}")
    if mmap:
        raise ValueError("f must be a file path in order to use the mmap argument")
    name = repr(getattr(f, "name", "<file object>"))
    seekable = getattr(f, "seekable", None)
    if not (seekable and seekable()):
        f = _buffered(f, name)  # torch refuses such streams; ember reads them, after a look
    return _load(f, name, None, check_location, encoding, trusted)


# enough to recognise every format: the tar magic sits at 257, the legacy magic pickle is 15 bytes
_HEAD = 512


def _read_up_to(f: IO[bytes], n: int, name: str) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the file), however short the reads are."""
    parts, got = [], 0
    while got < n:
        chunk = f.read(n - got)
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(f"ember.load needs a binary file object; {name} gave "
                            f"{type(chunk).__name__}")
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _buffered(f: IO[bytes], name: str) -> io.BytesIO:
    """A non-seekable stream, in memory: recognised from its first bytes before the rest is
    read, so a stream of garbage (a pipe from ``/dev/zero``) stops at once."""
    head = _read_up_to(f, _HEAD, name)
    _sniff(head, name)
    buf = io.BytesIO()
    buf.write(head)
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            break
        buf.write(chunk)
    buf.seek(0)
    return buf


def _is_legacy(head: bytes) -> bool:
    # the legacy format opens with a pickle of torch's magic number (15 bytes at protocol 2)
    if head[:1] != b"\x80":
        return False
    try:
        magic = unwrap(SafeUnpickler(io.BytesIO(head[:64]), None).load())
    except Exception:  # anything at all in a 64-byte pickle means: not that magic number
        return False
    return type(magic) is int and magic == _MAGIC_NUMBER


def _sniff(head: bytes, name: str) -> str:
    """The format of a file from its first bytes: ``"zip"``, ``"safetensors"`` or ``"legacy"``;
    raises for anything else, so that nothing more of it is read."""
    from . import safetensors

    if not head:
        raise EOFError(f"Ran out of input: {name} is empty")
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[257:262] == b"ustar":
        raise RuntimeError(
            f"{name} is in torch's legacy .tar format (torch < 0.4, before 2018), which ember "
            "does not read; re-save it with torch>=1.6: torch.save(torch.load(f, "
            "weights_only=False), f) on a trusted file")
    if safetensors.is_safetensors(head):
        return "safetensors"
    if _is_legacy(head):
        return "legacy"
    if head[:1] == b"\x80":  # a pickle, but not torch's legacy format
        raise pickle.UnpicklingError(f"{name}: Invalid magic number; corrupt file? (a pickle "
                                     "that does not start with torch's legacy magic number)")
    raise pickle.UnpicklingError(
        f"{name} is not a checkpoint: unknown format (starts with {head[:8]!r}); ember reads "
        "torch.save's zip and legacy formats and safetensors")


def _load(fh: IO[bytes], name: str, mmap_path: str | None,
          check_location: Callable[[str], None], encoding: str, trusted: bool = False) -> Any:
    start = fh.tell()
    head = _read_up_to(fh, _HEAD, name)
    fh.seek(start)
    kind = _sniff(head, name)
    if kind == "zip":
        return _guarded(name, lambda: _load_zip(fh, name, mmap_path, check_location, encoding,
                                                trusted))
    if kind == "safetensors":
        from . import safetensors

        check_location("cpu")
        return safetensors._load_stream(fh, name)
    if mmap_path is not None:
        raise RuntimeError(
            f"mmap can only be used with files saved with `torch.save({name}, "
            "_use_new_zipfile_serialization=True), please torch.save your checkpoint with this "
            "option in order to use mmap.")
    return _guarded(name, lambda: _load_legacy(fh, check_location, encoding, trusted))


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
    except UnsafeZipFile as e:
        raise UnsafeCheckpointError(f"{name}: not a valid checkpoint: {e}") from None
    except BadZipFile as e:
        raise pickle.UnpicklingError(f"{name}: not a valid checkpoint: truncated or corrupt zip "
                                     f"archive ({e})") from None
    except MemoryError:
        raise
    except Exception as e:
        raise pickle.UnpicklingError(
            f"malformed checkpoint {name}: {type(e).__name__}: {e}") from None


def _location_checker(map_location: Any) -> Callable[[str], Any]:
    """A function of a saved location giving the device its storage goes to (None: the CPU),
    raising where that device cannot be reached."""
    def target_ok(target: Any) -> Any:
        kind = str(target).split(":")[0]
        if kind == "cpu":
            return None
        if kind == "cuda":
            from .. import cuda

            if cuda.is_available():
                return str(target)
            raise _Deliberate(RuntimeError(
                "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() "
                "is False. If you are running on a CPU-only machine, please use torch.load with "
                "map_location=torch.device('cpu') to map your storages to the CPU."))
        raise _Deliberate(RuntimeError(f"cannot load a storage to device {str(target)!r}: "
                                       "ember has only the CPU and CUDA; pass map_location='cpu'"))

    def saved(location: str) -> Any:
        # a GPU storage goes back to its GPU where CUDA is available, as torch; without
        # CUDA ember lands it on the CPU (torch raises and asks for map_location)
        if location.startswith("cuda"):
            from .. import cuda

            if cuda.is_available():
                return location
        return None

    if map_location is None:
        return saved
    if isinstance(map_location, dict):
        return lambda location: (target_ok(map_location[location]) if location in map_location
                                 else saved(location))
    if callable(map_location):
        def check(location: str) -> Any:
            from ..tensor import Tensor

            # torch passes the storage; ember gives an empty CPU tensor standing in for it
            stand_in = Tensor._make(np.empty(0, np.uint8))
            try:
                result = map_location(stand_in, location)
            except Exception as e:  # the user's function failed: its error, unchanged
                raise _Deliberate(e) from e
            if result is not None and result is not stand_in:
                return target_ok(getattr(result, "device", result))
            return saved(location)
        return check
    if isinstance(map_location, (str, os.PathLike)) or hasattr(map_location, "type"):
        return lambda location: target_ok(map_location)
    raise TypeError("map_location must be None, a str, a device, a dict or a callable, got "
                    f"{type(map_location).__name__}")


def _load_zip(fh: IO[bytes], name: str, mmap_path: str | None,
              check_location: Callable[[str], None], encoding: str, trusted: bool = False) -> Any:
    zr = ZipReader(fh)  # checks every declared size and offset against the file
    if not zr.entries:
        raise pickle.UnpicklingError("not a valid checkpoint: the zip archive is empty")
    first = next(iter(zr.entries))
    if "/" not in first:
        raise pickle.UnpicklingError(f"file in archive is not in a subdirectory: {first}")
    prefix = first.split("/")[0] + "/"  # torch takes the folder of the first record
    records = zr.entries
    if prefix + "constants.pkl" in records or any(n.startswith(prefix + "code/") for n in records):
        raise _Deliberate(RuntimeError(
            f"{name} is a TorchScript archive (torch.jit.save), which ember cannot load: "
            "TorchScript holds code. Load it with torch.jit.load and save its state_dict()"))

    def read_record(record: str, nbytes: int | None = None) -> np.ndarray:
        entry = records.get(prefix + record)
        if entry is None:
            raise pickle.UnpicklingError(f"malformed checkpoint: record {record!r} is missing")
        if nbytes is not None and entry.file_size != nbytes:
            raise UnsafeCheckpointError(
                f"{record}: size mismatch, the pickle declares {nbytes} bytes but the record "
                f"holds {entry.file_size}")
        if not entry.file_size:
            return np.empty(0, np.uint8)
        if mmap_path is not None and entry.method == 0:  # stored: the bytes are in the file
            # copy-on-write, as torch's default MAP_PRIVATE: edits never reach the file
            return np.memmap(mmap_path, np.uint8, "c", zr.data_offset(entry), (entry.file_size,))
        return np.frombuffer(zr.read(entry), np.uint8)  # a bytearray: the tensors are writable

    byteorder = "little"
    if prefix + "byteorder" in records:
        byteorder = read_record("byteorder").tobytes().decode("ascii", "replace")
        if byteorder not in ("little", "big"):
            raise _Deliberate(ValueError("Unknown endianness type: " + byteorder))
    data_pkl = io.BytesIO(read_record("data.pkl"))
    storages = Storages(lambda key, nbytes: read_record(f"data/{key}", nbytes), byteorder,
                        check_location)
    unpickler = _unpickler(trusted)(data_pkl, storages, encoding=encoding)
    obj = unpickler.load()
    return unwrap(obj, byteorder, unpickler.accept)


def _unpickler(trusted: bool) -> type[SafeUnpickler] | type[CallingUnpickler]:
    if trusted:  # weights_only=False: the whole pickle, as torch (the file is trusted)
        from ._full import TrustedUnpickler

        return TrustedUnpickler
    from ._safe_globals import user_globals

    # code the user allowlisted gets real tensors, through pickle's Python unpickler
    return CallingUnpickler if user_globals() else SafeUnpickler


_KEY = re.compile(r"[0-9]{1,40}")


class _Bounded:
    """Reads of ``f`` that never ask for more than is left before ``end``: a buffered file's
    ``read(n)`` sets aside ``n`` bytes first, and here ``n`` comes from the file."""

    def __init__(self, f: IO[bytes], end: int) -> None:
        self.f, self.end = f, end

    def tell(self) -> int:
        return self.f.tell()

    def read(self, n: int = -1) -> bytes:
        left = max(0, self.end - self.f.tell())
        return self.f.read(left if n is None or n < 0 or n > left else n)

    def readline(self) -> bytes:
        return self.f.readline(max(0, self.end - self.f.tell()))


def _next_pickle(fh: IO[bytes], end: int) -> io.BytesIO:
    """The pickle starting at ``fh``'s position, in memory (the unpickler's reads are then
    bounded by its length), and ``fh`` just past it. Its opcodes are read once to find its end,
    so a pickle that never ends costs what the file holds, not what it declares."""
    start = fh.tell()
    try:
        for _ in pickletools.genops(_Bounded(fh, end)):  # stops after STOP
            pass
    except ValueError as e:  # an unknown opcode, or an argument running past the end
        raise pickle.UnpicklingError(f"malformed pickle at byte {start}: {e}") from None
    stop = fh.tell()
    fh.seek(start)
    return io.BytesIO(_read_up_to(fh, stop - start, "the checkpoint"))


def _load_legacy(fh: IO[bytes], check_location: Callable[[str], None], encoding: str,
                 trusted: bool = False) -> Any:
    # magic number, protocol version, sys_info, the object, its storage keys, then for each key
    # an int64 element count and the raw bytes (CHECKPOINTS.md §1.3), read in that order from
    # the file: only the pickles and the storages' bytes are ever held in memory
    start = fh.tell()
    end = fh.seek(0, io.SEEK_END)
    fh.seek(start)

    def plain() -> Any:  # the small header pickles: no globals, no storages
        return unwrap(SafeUnpickler(_next_pickle(fh, end), None, encoding=encoding).load())

    magic = plain()
    if type(magic) is not int or magic != _MAGIC_NUMBER:
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
    unpickler = _unpickler(trusted)(_next_pickle(fh, end), storages, encoding=encoding)
    obj = unpickler.load()
    keys = plain()
    if not (isinstance(keys, list) and all(isinstance(k, str) and _KEY.fullmatch(k) for k in keys)
            and len(set(keys)) == len(keys)):
        raise pickle.UnpicklingError("malformed checkpoint: bad storage key list")
    count = "<q" if byteorder == "little" else ">q"
    for key in keys:
        if key not in storages.cache:
            raise pickle.UnpicklingError(f"malformed checkpoint: storage {key!r} is never used")
        storage = storages.cache[key]
        itemsize = 1 if storage.dtype is None else _itemsize(storage.dtype)
        head = _read_up_to(fh, 8, "the checkpoint")
        if len(head) < 8:
            raise pickle.UnpicklingError(f"malformed checkpoint: storage {key!r} is truncated")
        (numel,) = struct.unpack(count, head)
        nbytes = numel * itemsize
        # checked before anything is set aside: the pickle's size, and the bytes really left
        if nbytes != expected[key]:
            raise UnsafeCheckpointError(f"storage {key!r}: size mismatch, the pickle declares "
                                        f"{expected[key]} bytes, the file {nbytes}")
        if fh.tell() + nbytes > end:
            raise UnsafeCheckpointError(f"storage {key!r}: size mismatch, {nbytes} bytes "
                                        f"declared but only {end - fh.tell()} left in the file")
        raw = bytearray(nbytes)  # writable, so the tensors built on it are too
        if fh.readinto(raw) != nbytes:
            raise pickle.UnpicklingError(f"malformed checkpoint: storage {key!r} is truncated")
        storage.raw = np.frombuffer(raw, np.uint8)
    return unwrap(obj, byteorder, unpickler.accept)


def _itemsize(dtype_name: str) -> int:
    from ._unpickler import _DTYPES

    return np.dtype(_DTYPES[dtype_name][0]).itemsize


# torch's own weights-only allowlist beyond ember's: globals torch accepts by default that ember
# refuses or cannot represent are not "unsafe" in torch's sense
_TORCH_DEFAULT_SAFE = {"torch.nn.parameter.Parameter", "torch.Tensor",
                       "torch.nn.parameter.Buffer", "collections.Counter", "builtins.bytearray",
                       "torch.serialization._get_layout", "torch._tensor._rebuild_from_type_v2",
                       "builtins.slice", "builtins.range"}


def get_unsafe_globals_in_checkpoint(f: FileLike) -> list[str]:
    """The globals in a ``torch.save`` file that ``weights_only=True`` would refuse (neither
    torch's defaults nor allowlisted with :func:`add_safe_globals`), as ``"module.qualname"``.
    Reads the pickle's opcodes only: nothing in the file is run."""
    from ._safe_globals import user_globals

    if isinstance(f, (str, os.PathLike)):
        with open(os.fspath(f), "rb") as fh:
            return get_unsafe_globals_in_checkpoint(fh)
    head = _read_up_to(f, _HEAD, repr(getattr(f, "name", "<file object>")))
    f.seek(-len(head), io.SEEK_CUR)
    if _sniff(head, "the checkpoint") != "zip":
        raise ValueError("Expected input to be a checkpoint returned by torch.save")
    zr = ZipReader(f)
    pkl = [n for n in zr.entries if n.endswith("/data.pkl")]
    if not pkl:
        raise ValueError("Expected input to be a checkpoint returned by torch.save")
    data = zr.read(zr.entries[pkl[0]])
    safe = ({f"{m}.{n}" for m, n in _ALLOWLIST} | {f"{m}.{n}" for m, n in _UNSUPPORTED}
            | _TORCH_DEFAULT_SAFE | set(user_globals()))
    found, strings = [], []
    for op, arg, _ in pickletools.genops(io.BytesIO(bytes(data))):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strings.append(arg)  # STACK_GLOBAL takes its two names from the stack
        if op.name == "GLOBAL":
            module, name = arg.split(" ", 1)
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            module, name = strings[-2], strings[-1]
        else:
            continue
        module = "builtins" if module == "__builtin__" else module
        full = f"{module}.{name}"
        if full not in safe and full not in found and not (
                module == "torch" and name in _TORCH_DTYPE_NAMES):
            found.append(full)
    return found


_TORCH_DTYPE_NAMES = {n for (m, n) in _ALLOWLIST if m == "torch"}
