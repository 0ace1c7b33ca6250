"""The safetensors format, read and written in pure Python (NumPy only).

A file is: an 8-byte little-endian header length ``N``; ``N`` bytes of UTF-8 JSON mapping each
tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (plus an optional
``"__metadata__"`` of str -> str); then the raw little-endian, row-major tensor bytes, packed
back to back. No code runs on load, which is the point of the format.

Why not the ``safetensors`` package: its NumPy API has no bfloat16, 0.8.0 writes wrong bytes for
non-contiguous arrays, and it is compiled code. It serves as the test oracle instead. Files
written here are byte-identical to ``safetensors.torch.save`` for the same tensors (the order of
several metadata entries aside: the package's is arbitrary).

BF16 loads as bfloat16. Types ember has no dtype for are widened without loss on load: the F8
formats to float32, U16 to int32, U32 to int64, and U64 to int64 when every value fits.
"""
from __future__ import annotations

import io
import json
import os
import reprlib
import struct
from typing import IO, Any, Union

import numpy as np

from .. import dtypes as _dt
from ..backend import NUMPY, backend_of
from ..devices import backend_for, move
from ..tensor import Tensor
from ._atomic import atomic_write

__all__ = ["SafetensorError", "save", "load", "load_metadata", "save_file", "load_file",
           "is_safetensors"]

FileLike = Union[str, os.PathLike, IO[bytes]]

# the reference reader's limit; larger headers are refused before any JSON parsing
MAX_HEADER_SIZE = 100_000_000


class SafetensorError(ValueError):
    """A safetensors file is malformed (bad header, offsets, sizes or dtype)."""


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxstring, _REPR.maxother = 3, 8, 60, 60


def _short(x: Any) -> str:
    """A bounded ``repr`` for error messages about values a file chose."""
    return _REPR.repr(x)


# name -> (little-endian dtype as stored, rank in the reference writer's order: larger first)
_WRITE = {
    _dt.int64: ("I64", 9), _dt.float64: ("F64", 8), _dt.float32: ("F32", 6), _dt.int32: ("I32", 5),
    _dt.float16: ("F16", 4), _dt.bfloat16: ("BF16", 4), _dt.int16: ("I16", 3), _dt.int8: ("I8", 2),
    _dt.uint8: ("U8", 1),
    _dt.bool: ("BOOL", 0),
}
_READ = {  # safetensors name -> numpy dtype as stored on disk
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
    "I8": "i1", "U8": "u1", "BOOL": "?", "U64": "<u8", "U32": "<u4", "U16": "<u2", "BF16": "<u2",
    "F8_E4M3": "u1", "F8_E5M2": "u1", "F8_E4M3FNUZ": "u1", "F8_E5M2FNUZ": "u1",
}


def _f8_table(exp_bits: int, man_bits: int, bias: int, style: str) -> np.ndarray:
    """All 256 values of an 8-bit float format as float32 (a lookup table decodes any array)."""
    b = np.arange(256)
    sign = np.where(b & 0x80, -1.0, 1.0)
    e = (b >> man_bits) & ((1 << exp_bits) - 1)
    m = (b & ((1 << man_bits) - 1)) / (1 << man_bits)
    val = sign * np.where(e == 0, m * 2.0 ** (1 - bias), (1 + m) * 2.0 ** (e - bias))
    top = (1 << exp_bits) - 1
    if style == "ieee":  # E5M2: an all-ones exponent means inf (mantissa 0) or NaN
        val = np.where(e == top, np.where(m == 0, sign * np.inf, np.nan), val)
    elif style == "fn":  # E4M3FN: no inf; only all-ones exponent and mantissa is NaN
        val = np.where((b & 0x7F) == 0x7F, np.nan, val)
    else:  # "fnuz": no inf, no negative zero; 0x80 is the only NaN
        val = np.where(b == 0x80, np.nan, val)
    return val.astype(np.float32)


_F8 = {"F8_E4M3": (4, 3, 7, "fn"), "F8_E5M2": (5, 2, 15, "ieee"),
       "F8_E4M3FNUZ": (4, 3, 8, "fnuz"), "F8_E5M2FNUZ": (5, 2, 16, "fnuz")}


def _widen(name: str, key: str, arr: np.ndarray) -> np.ndarray:
    """Converts a stored array to a dtype ember has, exactly (or raises)."""
    if name == "BF16":  # kept as bfloat16: the same 16 bits
        return arr.view(_dt.bfloat16.np)
    if name in _F8:
        return _f8_table(*_F8[name])[arr]
    if name == "U16":
        return arr.astype(np.int32)
    if name == "U32":
        return arr.astype(np.int64)
    if name == "U64":
        if arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise SafetensorError(f"tensor {key!r} (U64) holds values above 2**63 - 1, which "
                                  "ember's largest integer dtype (int64) cannot represent")
        return arr.astype(np.int64)
    return arr.astype(arr.dtype.newbyteorder("="), copy=False)


# -- writing -----------------------------------------------------------------------------------
_byte_bounds = getattr(getattr(np.lib, "array_utils", np), "byte_bounds", None) or np.byte_bounds


def _span(a: Any) -> tuple:
    """``(device, lo, hi)``: the bytes ``a`` touches. A device array's come from its address and
    strides (NumPy's ``byte_bounds`` reads ``__array_interface__``, which CuPy arrays lack)."""
    if type(a) is np.ndarray:
        return ("cpu", *_byte_bounds(a))
    b = backend_of(a)
    lo = hi = b.data_ptr(a)
    for n, st in zip(a.shape, a.strides):
        if st < 0:
            lo += st * (n - 1)
        else:
            hi += st * (n - 1)
    return (f"{b.device_type}:{b.device_index(a)}", lo, hi + a.itemsize)


def _check_no_sharing(arrays: dict[str, np.ndarray]) -> None:
    # Like safetensors.torch: overlapping memory (tied weights, views of one another) would be
    # stored twice and come back untied, so it is refused rather than silently duplicated.
    spans = []
    for k, a in arrays.items():
        if a.size:
            dev, lo, hi = _span(a)
            spans.append((dev, lo, hi, k))
    spans.sort()
    failing: list[set[str]] = []
    group: set[str] = set()
    end = where = None
    for dev, lo, hi, k in spans:
        if end is not None and dev == where and lo < end:
            group.add(k)
            end = max(end, hi)
        else:
            if len(group) > 1:
                failing.append(group)
            group, end, where = {k}, hi, dev
    if len(group) > 1:
        failing.append(group)
    if failing:
        raise RuntimeError(
            f"Some tensors share memory, this will lead to duplicate memory on disk and potential "
            f"differences when loading them again: {failing}. Save each shared tensor once (e.g. "
            "drop tied duplicates from the state_dict) or .clone() them before saving.")


def _serialize(tensors: dict[str, Tensor], metadata: dict[str, str] | None) -> tuple[bytes, list]:
    """Header bytes (length prefix included) and the arrays to write after it, in order."""
    if not isinstance(tensors, dict):
        raise TypeError(f"safetensors.save: expected a dict of str -> Tensor, got {type(tensors)}")
    arrays: dict[str, np.ndarray] = {}
    for k, v in tensors.items():
        if not isinstance(k, str):
            raise TypeError(f"safetensors.save: tensor names must be str, got {k!r} ({type(k)})")
        if k == "__metadata__":
            raise ValueError("safetensors.save: '__metadata__' is reserved, not a tensor name")
        if not isinstance(v, Tensor):
            raise TypeError(f"safetensors.save: value of {k!r} must be a Tensor, got {type(v)}")
        arrays[k] = v._data
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise TypeError(f"safetensors.save: metadata must be a dict of str -> str, got "
                            f"{type(metadata)}")
        for mk, mv in metadata.items():
            if not isinstance(mk, str) or not isinstance(mv, str):
                raise TypeError(f"safetensors.save: metadata must map str to str, got {mk!r}: "
                                f"{mv!r} ({type(mk).__name__} -> {type(mv).__name__})")
    _check_no_sharing(arrays)
    for k, a in arrays.items():  # a CUDA tensor's bytes are read back to the host to be written
        if type(a) is not np.ndarray:
            arrays[k] = move(a, NUMPY, None)

    def kind(a: np.ndarray) -> tuple[str, int]:
        return _WRITE[_dt.from_numpy_dtype(a.dtype.newbyteorder("="))]

    # the reference writer's order: by dtype (wider first), then by name
    order = sorted(arrays, key=lambda k: (-kind(arrays[k])[1], k))
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for k in order:
        a = arrays[k]
        n = a.size * a.dtype.itemsize
        header[k] = {"dtype": kind(a)[0], "shape": list(a.shape),
                     "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # keeps every tensor 8-byte aligned, like the reference
    return struct.pack("<Q", len(text)) + text, [arrays[k] for k in order]


def _chunks(a: np.ndarray):
    # row-major little-endian bytes, without copying an already suitable array
    if a.dtype.kind == "V":  # bfloat16 (ml_dtypes) exports no buffer format: its raw bytes
        a = np.ascontiguousarray(a).view(np.uint16)
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return memoryview(a.reshape(-1)).cast("B") if a.size else b""


def save(tensors: dict[str, Tensor], f: FileLike, metadata: dict[str, str] | None = None) -> None:
    """Writes ``tensors`` to ``f`` in the safetensors format.

    Args:
        tensors: name -> Tensor. Tensors sharing memory are refused (``RuntimeError``); views and
            non-contiguous tensors are written in row-major order.
        f: a path (written atomically) or a writable binary file object.
        metadata: optional str -> str pairs stored in the header's ``__metadata__``.
    """
    head, arrays = _serialize(tensors, metadata)
    if isinstance(f, (str, os.PathLike)):
        with atomic_write(f) as out:
            _write(out, head, arrays)
    else:
        _write(f, head, arrays)


def _write(out: IO[bytes], head: bytes, arrays: list) -> None:
    out.write(head)
    for a in arrays:
        out.write(_chunks(a))


def save_file(tensors: dict[str, Tensor], filename: str | os.PathLike,
              metadata: dict[str, str] | None = None) -> None:
    """``safetensors.torch.save_file``'s name for :func:`save` to a path."""
    save(tensors, filename, metadata)


# -- reading -----------------------------------------------------------------------------------
def is_safetensors(prefix: bytes) -> bool:
    """Whether ``prefix`` (a file's first bytes, at least 9) looks like the start of a safetensors
    file: a plausible little-endian header length followed by ``{``."""
    if len(prefix) < 9:
        return False
    n = struct.unpack("<Q", bytes(prefix[:8]))[0]
    return 2 <= n <= MAX_HEADER_SIZE and prefix[8:9] == b"{"


def _no_duplicates(pairs: list) -> dict:
    seen: dict = {}
    for k, v in pairs:
        if k in seen:
            raise SafetensorError(f"duplicate key {k!r} in the header")
        seen[k] = v
    return seen


def _read_exact(fh: IO[bytes], n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = fh.read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _remaining(fh: IO[bytes]) -> int | None:
    """How many bytes are left after ``fh``'s position, or None for a stream that cannot tell."""
    try:
        if not fh.seekable():
            return None
        here = fh.tell()
        end = fh.seek(0, os.SEEK_END)
        fh.seek(here)
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    return max(0, end - here)


_MAX_DIMS = 64  # NumPy's limit on dimensions


def _header(text: str, bad) -> tuple[list, dict[str, str] | None]:
    """The header's tensors as ``(begin, end, name, dtype, shape)``, sorted by offset, and its
    metadata; everything checked but the offsets' fit to the data."""
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates)
    except SafetensorError as e:
        raise bad(str(e)) from None
    except RecursionError:  # json's parser recurses per level of nesting
        raise bad("the header's JSON is nested too deeply to parse (a tensor entry needs 3 "
                  "levels)") from None
    except ValueError as e:
        raise bad(f"header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")

    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise bad("__metadata__ must map strings to strings")
    entries = []
    for k, info in header.items():
        # unknown extra keys are ignored, as the reference reader does
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise bad(f"entry {k!r} must be an object with the keys dtype, shape, data_offsets")
        name, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(name, str) or name not in _READ:
            raise bad(f"tensor {k!r} has dtype {_short(name)}, which ember cannot read "
                      f"(supported: {', '.join(_READ)})")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            raise bad(f"tensor {k!r} has an invalid shape {_short(shape)}")
        if not (isinstance(offs, list) and len(offs) == 2
                and all(type(o) is int and o >= 0 for o in offs)):
            raise bad(f"tensor {k!r} has invalid data_offsets {_short(offs)}")
        if len(shape) > _MAX_DIMS:
            raise bad(f"tensor {k!r} has {len(shape)} dimensions; ember's arrays (NumPy's) have "
                      f"at most {_MAX_DIMS}")
        extent = 1
        for d in shape:
            extent *= max(d, 1)  # NumPy refuses such shapes even when a 0 makes them empty
        if extent * np.dtype(_READ[name]).itemsize >= 1 << 63:
            raise bad(f"tensor {k!r} has shape {_short(shape)}, more elements than a 64-bit "
                      "size can count")
        entries.append((offs[0], offs[1], k, name, shape))
    entries.sort(key=lambda e: (e[0], e[1]))
    return entries, metadata


def _check_layout(entries: list, data_len: int, bad) -> None:
    # tensors must tile the data section exactly: sorted by offset, no gaps, no overlaps
    pos = 0
    for begin, end, k, name, shape in entries:
        if begin != pos or end < begin:
            raise bad(f"tensor {k!r} has data_offsets [{begin}, {end}], expected it to start at "
                      f"{pos} (tensors must be contiguous and non-overlapping)")
        count = int(np.prod(shape, dtype=object))  # Python ints: no overflow on huge shapes
        nbytes = count * np.dtype(_READ[name]).itemsize
        if nbytes != end - begin:
            raise bad(f"tensor {k!r} with dtype {name} and shape {shape} needs {nbytes} bytes, "
                      f"but data_offsets [{begin}, {end}] span {end - begin}")
        if end > data_len:
            raise bad(f"tensor {k!r} ends at byte {end} of the data, but the data section is only "
                      f"{data_len} bytes (truncated file?)")
        pos = end
    if pos != data_len:
        raise bad(f"the tensors cover {pos} bytes of data, but the file holds {data_len}")


def _read_stream(fh: IO[bytes], where: str) -> tuple[dict[str, np.ndarray], dict[str, str] | None]:
    """Reads a safetensors file from ``fh``'s position: the header first, checked against the
    file's size before the data is read, so memory never exceeds what the file holds."""
    def bad(msg: str) -> SafetensorError:
        return SafetensorError(f"invalid safetensors file {where}: {msg}")

    prefix = _read_exact(fh, 8)
    if len(prefix) < 8:
        raise bad(f"{len(prefix)} bytes is too short to hold the 8-byte header length")
    n = struct.unpack("<Q", prefix)[0]
    if n > MAX_HEADER_SIZE:
        raise bad(f"header length {n} exceeds the limit of {MAX_HEADER_SIZE} bytes")
    left = _remaining(fh)
    if left is not None and n > left:
        raise bad(f"header length {n} runs past the end of the file ({8 + left} bytes)")
    raw = _read_exact(fh, n)
    if len(raw) < n:
        raise bad(f"header length {n} runs past the end of the file ({8 + len(raw)} bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"header is not valid UTF-8 ({e})") from None
    entries, metadata = _header(text, bad)

    if left is not None:  # the layout is checked before the data is read
        data_len = left - n
        _check_layout(entries, data_len, bad)
        buf = np.empty(data_len, dtype=np.uint8)
        got = 0
        while got < data_len:
            k = fh.readinto(memoryview(buf)[got:])
            if not k:
                raise bad(f"the file ends after {got} of its {data_len} data bytes")
            got += k
    else:  # a stream of unknown length: what it really holds bounds the buffer
        rest = io.BytesIO()
        while chunk := fh.read(1 << 20):
            rest.write(chunk)
        _check_layout(entries, rest.tell(), bad)
        buf = np.frombuffer(rest.getbuffer(), dtype=np.uint8)  # writable, and not a copy

    arrays = {}
    for begin, end, k, name, shape in entries:
        dt = np.dtype(_READ[name])
        try:
            arr = np.frombuffer(buf, dtype=dt, count=(end - begin) // dt.itemsize,
                                offset=begin).reshape(shape)
        except ValueError as e:  # any shape NumPy refuses that the checks above let through
            raise bad(f"tensor {k!r} of shape {_short(shape)}: {e}") from None
        if not arr.flags.aligned:
            arr = arr.copy()
        arrays[k] = _widen(name, k, arr)
    return arrays, metadata


def _read(f: FileLike | bytes) -> tuple[dict[str, np.ndarray], dict[str, str] | None]:
    if isinstance(f, (bytes, bytearray, memoryview)):
        return _read_stream(io.BytesIO(f), "<bytes>")
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return _read_stream(fh, os.fspath(f))
    return _read_stream(f, str(getattr(f, "name", "<file object>")))


def _load_stream(fh: IO[bytes], where: str) -> dict[str, Tensor]:
    """:func:`load` from an open file, naming it ``where`` in errors (for ``ember.load``)."""
    arrays, _ = _read_stream(fh, where)
    return {k: Tensor._make(a) for k, a in arrays.items()}


def load(f: FileLike | bytes) -> dict[str, Tensor]:
    """Reads a safetensors file into a dict of name -> Tensor (in the order of their data).

    The header is read and checked (sizes, offsets, shapes, nesting) before the data, and the
    data is read only once it is known to match the file's size.

    Args:
        f: a path, a readable binary file object (read from its current position to the end),
            or the file's bytes.

    Raises:
        SafetensorError: (a ``ValueError``) the file is malformed or holds a dtype ember cannot
            represent; the message names the file and what is wrong.
    """
    arrays, _ = _read(f)
    return {k: Tensor._make(a) for k, a in arrays.items()}


def load_file(filename: str | os.PathLike, device: Any = "cpu") -> dict[str, Tensor]:
    """``safetensors.torch.load_file``: :func:`load` from a path, the tensors placed on
    ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, an int or an ``ember.device``)."""
    backend, index = backend_for(device)
    arrays, _ = _read(filename)
    return {k: Tensor._make(move(a, backend, index)) for k, a in arrays.items()}


def load_metadata(f: FileLike | bytes) -> dict[str, str] | None:
    """The ``__metadata__`` of a safetensors file (``None`` if absent), validating the file."""
    return _read(f)[1]
