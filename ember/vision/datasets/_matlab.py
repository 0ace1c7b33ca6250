"""A minimal reader for MATLAB 5 ``.mat`` files: the named numeric arrays that SVHN and
Flowers102 ship (compressed or not). Cells, structs, sparse and v7.3 (HDF5) files are refused."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np

__all__ = ["loadmat"]

# miTYPE -> numpy dtype (without byte order)
_MI = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
# mxCLASS -> numpy dtype of the array as MATLAB holds it
_MX = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4", 14: "i8",
       15: "u8"}
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def _elements(buf: bytes, order: str, pos: int = 0):
    """Yields ``(type, payload)`` of each data element in ``buf``."""
    while pos + 8 <= len(buf):
        mtype, nbytes = struct.unpack_from(order + "II", buf, pos)
        if mtype >> 16:  # the small element format: 1-4 bytes packed into the tag itself
            mtype, nbytes = mtype & 0xFFFF, mtype >> 16
            yield mtype, buf[pos + 4:pos + 4 + nbytes]
            pos += 8
            continue
        yield mtype, buf[pos + 8:pos + 8 + nbytes]
        # elements are padded to 8 bytes, except compressed ones
        pos += 8 + (nbytes if mtype == _MI_COMPRESSED else (nbytes + 7) // 8 * 8)


def _numeric(mtype: int, payload: bytes, order: str) -> np.ndarray:
    if mtype not in _MI:
        raise ValueError(f"unsupported MAT data type {mtype}")
    return np.frombuffer(payload, dtype=np.dtype(_MI[mtype]).newbyteorder(order))


def _matrix(payload: bytes, order: str) -> tuple[str, np.ndarray]:
    parts = list(_elements(payload, order))
    flags = _numeric(*parts[0], order)
    mx_class, is_complex = int(flags[0]) & 0xFF, bool(int(flags[0]) & 0x0800)
    dims = tuple(int(d) for d in _numeric(*parts[1], order))
    name = parts[2][1].decode("ascii")
    if mx_class not in _MX or is_complex:
        raise ValueError(f"{name!r}: only real numeric arrays are supported (class {mx_class})")
    real = _numeric(*parts[3], order).astype(np.dtype(_MX[mx_class]).newbyteorder("="))
    return name, real.reshape(dims, order="F")  # MATLAB stores columns first


def loadmat(path: str | os.PathLike, squeeze_me: bool = False) -> dict[str, np.ndarray]:
    """The numeric arrays of a MATLAB 5 file by name (as ``scipy.io.loadmat`` returns them)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI"):
        raise ValueError(f"{path} is not a MATLAB 5 .mat file")
    order = "<" if data[126:128] == b"IM" else ">"
    if struct.unpack_from(order + "H", data, 124)[0] != 0x0100:
        raise ValueError(f"{path}: only MATLAB 5 files are supported (not v7.3/HDF5)")
    out: dict[str, np.ndarray] = {}
    for mtype, payload in _elements(data, order, 128):
        if mtype == _MI_COMPRESSED:
            mtype, payload = next(_elements(zlib.decompress(payload), order))
        if mtype != _MI_MATRIX:
            continue
        name, arr = _matrix(payload, order)
        out[name] = arr.squeeze() if squeeze_me else arr
    return out
