"""Builders for hostile checkpoint files: pickles written opcode by opcode, zip archives laid out
by hand (so that they can lie), legacy-format files and safetensors headers.

Nothing here is loaded; the tests load what these build, in a confined child process.
"""
import io
import json
import pickle
import struct
import zipfile
import zlib

import numpy as np

GiB = 1 << 30


# -- pickle opcodes (protocol 2, as torch writes them) ---------------------------------------------
def text(s: str) -> bytes:
    b = s.encode()
    return b"X" + len(b).to_bytes(4, "little") + b


def integer(n: int) -> bytes:
    if -(1 << 31) <= n < 1 << 31:
        return b"J" + n.to_bytes(4, "little", signed=True)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw  # LONG1


def ints(xs) -> bytes:
    return b"(" + b"".join(integer(x) for x in xs) + b"t"


def pid(numel: int, key: str = "0", storage: str = "FloatStorage") -> bytes:
    """BINPERSID of ('storage', torch.<storage>, key, 'cpu', numel)."""
    return (b"(" + text("storage") + b"ctorch\n" + storage.encode() + b"\n" + text(key)
            + text("cpu") + integer(numel) + b"tQ")


def tensor(numel: int, size, stride, offset: int = 0, key: str = "0",
           storage: str = "FloatStorage", neg: bool = False) -> bytes:
    """A ``_rebuild_tensor_v2`` call, with ``{'neg': True}`` metadata when ``neg``."""
    meta = b"}" + text("neg") + b"\x88s" if neg else b""
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid(numel, key, storage) + integer(offset)
            + ints(size) + ints(stride) + b"\x89ccollections\nOrderedDict\n)R" + meta + b"tR")


def program(body: bytes) -> bytes:
    return b"\x80\x02" + body + b"."


def tensor_list(tensors) -> bytes:
    """A pickled list of the given tensor pickles."""
    return program(b"(" + b"".join(tensors) + b"l")


# -- zip archives --------------------------------------------------------------------------------
def archive(records: dict, compress: dict | None = None) -> bytes:
    """An honest zip checkpoint holding ``archive/<name>`` for each record (via zipfile)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in records.items():
            z.writestr("archive/" + name, data,
                       compress_type=(compress or {}).get(name, zipfile.ZIP_STORED))
    return buf.getvalue()


def central_records(data: bytes):
    """(position, name) of each central directory record of a zip without a comment."""
    _, _, _, _, count, _, cd_offset, _ = struct.unpack("<IHHHHIIH", data[-22:])
    pos, out = cd_offset, []
    for _ in range(count):
        nlen, xlen, clen = struct.unpack_from("<HHH", data, pos + 28)
        out.append((pos, data[pos + 46:pos + 46 + nlen].decode()))
        pos += 46 + nlen + xlen + clen
    return out


def patch_record(data: bytes, name: str, compress_size=None, file_size=None) -> bytes:
    """``data`` with the central directory's sizes for ``archive/<name>`` replaced."""
    out = bytearray(data)
    for pos, n in central_records(data):
        if n == "archive/" + name:
            if compress_size is not None:
                struct.pack_into("<I", out, pos + 20, compress_size)
            if file_size is not None:
                struct.pack_into("<I", out, pos + 24, file_size)
            return bytes(out)
    raise KeyError(name)


def nested_records(payload: bytes, count: int, data_pkl: bytes) -> bytes:
    """A zip whose ``count`` storage records overlap: record i's data is every later record's
    local header followed by ``payload``, so each holds about ``len(payload)`` bytes and the
    archive declares ``count`` times the bytes it has. Each header is 64 bytes (an extra field
    pads it), so every record's size stays a multiple of 4."""
    names = [f"archive/data/{i}".encode() for i in range(count)]

    def local(name: bytes) -> bytes:  # sizes and CRC deferred to the central directory
        pad = 64 - 30 - len(name)
        return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0808, 0, 0, 0, 0, 0, 0, len(name),
                           pad) + name + b"\0" * pad

    pkl_name = b"archive/data.pkl"
    head = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, zlib.crc32(data_pkl),
                       len(data_pkl), len(data_pkl), len(pkl_name), 0) + pkl_name
    out = bytearray(head + data_pkl)
    entries = [(pkl_name, 0, zlib.crc32(data_pkl), len(data_pkl))]
    headers = [local(n) for n in names]
    start = len(out)
    out += b"".join(headers) + payload
    for i, name in enumerate(names):
        at = start + 64 * i
        body = bytes(out[at + 64:])
        entries.append((name, at, zlib.crc32(body), len(body)))
    cd = len(out)
    for name, at, crc, size in entries:
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, crc, size, size,
                           len(name), 0, 0, 0, 0, 0, at) + name
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                       len(out) - cd, cd, 0)
    return bytes(out)


def deflated_zeros(n_mib: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``n_mib`` MiB of zeros, built from one compressed MiB repeated
    (after a full flush the compressor's output for the same input repeats), and its length."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return block * n_mib + c.flush(), n_mib << 20


def single_member_zip(name: str, stream: bytes, size: int, crc: int = 0) -> bytes:
    """A zip of one DEFLATED member whose compressed bytes are ``stream``."""
    raw = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(stream),
                        min(size, 0xFFFFFFFF), len(raw), 0) + raw
    out = local + stream
    cd = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(stream),
                     size, len(raw), 0, 0, 0, 0, 0, 0) + raw
    return out + cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(cd), len(out), 0)


# -- the legacy (pre-1.6) format -----------------------------------------------------------------
def legacy(main_pickle: bytes, storages: dict) -> bytes:
    """magic, protocol version, sys_info, the object, its keys, then each storage's element
    count and bytes (``storages``: key -> an array of the storage's element type)."""
    parts = [pickle.dumps(0x1950A86A20F9469CFC6C, 2), pickle.dumps(1001, 2),
             pickle.dumps({"protocol_version": 1001, "little_endian": True,
                           "type_sizes": {"short": 2, "int": 4, "long": 4}}, 2),
             main_pickle, pickle.dumps(list(storages), 2)]
    for arr in storages.values():
        arr = np.ascontiguousarray(arr, arr.dtype.newbyteorder("<"))
        parts += [np.int64(arr.size).tobytes(), arr.tobytes()]
    return b"".join(parts)


# -- safetensors ---------------------------------------------------------------------------------
def safetensors_file(header, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data
