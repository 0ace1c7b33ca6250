"""The zip container of torch's checkpoints: a writer laid out byte for byte as torch's (miniz's)
writer lays it out, and a reader that trusts nothing the archive declares (:class:`ZipReader`).

torch's reader can compute record offsets instead of reading local headers
(``calculate_storage_offsets``, CHECKPOINTS.md §3.3), so the layout matters, not just validity:
STORED entries; each payload 64-byte aligned by an ``FB`` extra field of ``Z`` padding; a data
descriptor after every non-empty payload (flags 0x0808), none after an empty one (0x0800); zip64
extras and 24-byte descriptors once a size or an offset reaches 4 GiB; and always the zip64 end
records, as miniz writes them.
"""
from __future__ import annotations

import struct
import zipfile
import zlib
from typing import IO, Any, Iterator

__all__ = ["ZipWriter", "ZipReader", "ZipEntry", "BadZipFile", "UnsafeZipFile"]

_LIMIT = 0xFFFFFFFF  # sizes and offsets from here on need zip64
_FULL = 0xFFFFFFFF  # the placeholder a 32-bit field holds when the value is in the zip64 extra
_ALIGN = 64


class ZipWriter:
    """Appends STORED records to a binary file, then the central directory on :meth:`close`."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.pos = 0  # offsets are relative to where the archive starts in ``f``
        self.entries: list[tuple[bytes, int, int, int]] = []  # name, crc, size, header offset

    def _write(self, data: Any) -> None:
        self.f.write(data)
        self.pos += len(data)

    def write(self, name: str, payload: Any) -> None:
        """Writes one record; ``payload`` is bytes or a C-contiguous buffer (e.g. an ndarray)."""
        data = memoryview(payload).cast("B") if not isinstance(payload, bytes) else payload
        size, offset, raw_name = len(data), self.pos, name.encode("utf-8")
        crc = zlib.crc32(data)
        zip64 = b""
        if size >= _LIMIT or offset >= _LIMIT:
            fields = (struct.pack("<QQ", size, size) if size >= _LIMIT else b"") + (
                struct.pack("<Q", offset) if offset >= _LIMIT else b"")
            zip64 = struct.pack("<HH", 1, len(fields)) + fields
        # pad so the payload starts on a 64-byte boundary, counting the 4-byte "FB" field header
        start = offset + 30 + len(raw_name) + len(zip64) + 4
        pad = -start % _ALIGN
        extra = zip64 + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        flags = 0x0808 if size else 0x0800  # data descriptor follows; names are UTF-8
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, flags, 0, 0, 0,
                                0, _FULL if size >= _LIMIT else 0,
                                _FULL if size >= _LIMIT else 0, len(raw_name), len(extra)))
        self._write(raw_name)
        self._write(extra)
        self._write(data)
        if size:
            big = size >= _LIMIT or offset >= _LIMIT
            self._write(struct.pack("<IIQQ" if big else "<IIII", 0x08074B50, crc, size, size))
        self.entries.append((raw_name, crc, size, offset))

    def close(self) -> None:
        """Writes the central directory and the (zip64 and classic) end records."""
        cd_start = self.pos
        for raw_name, crc, size, offset in self.entries:
            fields = (struct.pack("<QQ", size, size) if size >= _LIMIT else b"") + (
                struct.pack("<Q", offset) if offset >= _LIMIT else b"")
            extra = struct.pack("<HH", 1, len(fields)) + fields if fields else b""
            self._write(struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 45 if extra else 20, 45 if extra else 20,
                0x0808 if size else 0x0800, 0, 0, 0, crc, _FULL if size >= _LIMIT else size,
                _FULL if size >= _LIMIT else size, len(raw_name), len(extra), 0, 0, 0, 0,
                _FULL if offset >= _LIMIT else offset))
            self._write(raw_name)
            self._write(extra)
        cd_size, n, eocd64 = self.pos - cd_start, len(self.entries), self.pos
        self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, cd_size,
                                cd_start))
        self._write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF),
                                _FULL if cd_size >= _LIMIT else cd_size,
                                _FULL if cd_start >= _LIMIT else cd_start, 0))


# -- reading ---------------------------------------------------------------------------------------
class BadZipFile(zipfile.BadZipFile):
    """The archive is truncated or corrupt, or uses a zip feature a checkpoint never needs."""


class UnsafeZipFile(BadZipFile):
    """The archive's declared sizes or offsets lie: they do not fit the file, records overlap (a
    'zip bomb' counting the same bytes many times), or a name appears twice."""


_STORED, _DEFLATED = 0, 8
_DEFLATE_RATIO = 1032  # deflate's largest possible expansion, so a bound on any honest record
_CHUNK = 1 << 20
_EOCD_SEARCH = 22 + 0xFFFF  # the end record plus the longest comment it may carry


class ZipEntry:
    """One central-directory record, as declared (checked against the file by :class:`ZipReader`)."""

    __slots__ = ("name", "name_len", "method", "flags", "crc", "compress_size", "file_size",
                 "header_offset", "limit")

    def __init__(self, name: str, name_len: int, method: int, flags: int, crc: int,
                 compress_size: int, file_size: int, header_offset: int) -> None:
        self.name, self.name_len, self.method, self.flags, self.crc = (name, name_len, method,
                                                                        flags, crc)
        self.compress_size, self.file_size, self.header_offset = (compress_size, file_size,
                                                                  header_offset)
        self.limit = 0  # where the next record (or the central directory) starts

    def __repr__(self) -> str:
        return f"ZipEntry({self.name!r}, {self.file_size} bytes)"


class ZipReader:
    """Reads the records of a zip archive without trusting what it declares.

    Everything a record's header says is checked against the file before any memory is set aside
    for it: the end records and the central directory lie inside the file; each record's header
    and payload lie before the next record's header (so no two payloads overlap, and the bytes
    stored records hold add up to at most the file's size); a STORED record's sizes agree; a
    DEFLATED record declares at most deflate's 1032:1 expansion, and its output is never allowed
    to grow past that declaration. Other compression methods, encryption and split archives are
    refused (``torch.save`` writes none of them).

    A name that appears twice is refused with :class:`UnsafeZipFile`. torch's reader (miniz)
    returns whichever copy its binary search over the sorted names meets first, which depends on
    where the copies sit in the archive, and Python's ``zipfile`` returns the last: a file with a
    duplicate name would load different weights in different readers. torch's own writer refuses
    to write a name twice, so no checkpoint it made is affected.

    Args:
        f: a seekable binary file positioned anywhere; offsets are taken from its start.
        name: how errors name the file (not at all by default).
    """

    def __init__(self, f: IO[bytes], name: str | None = None) -> None:
        self.f, self.name = f, name
        self.base = f.tell()  # the archive may start inside the file
        self.size = f.seek(0, 2) - self.base
        self.entries: dict[str, ZipEntry] = {}  # in central-directory order
        cd_offset, cd_size, count = self._end_records()
        self._central_directory(cd_offset, cd_size, count)

    def _bad(self, msg: str, unsafe: bool = False) -> BadZipFile:
        return (UnsafeZipFile if unsafe else BadZipFile)(
            f"{self.name}: {msg}" if self.name is not None else msg)

    def _read_at(self, offset: int, n: int) -> bytes:
        self.f.seek(self.base + offset)
        data = self.f.read(n)
        if len(data) != n:
            raise self._bad(f"truncated: {n} bytes expected at offset {offset}")
        return data

    def _end_records(self) -> tuple[int, int, int]:
        tail_start = max(0, self.size - _EOCD_SEARCH)
        tail = self._read_at(tail_start, self.size - tail_start)
        at = tail.rfind(b"PK\x05\x06")
        # a signature inside the comment (or one cut short): look further back
        while at >= 0 and (at + 22 > len(tail)
                           or at + 22 + struct.unpack_from("<H", tail, at + 20)[0] > len(tail)):
            at = tail.rfind(b"PK\x05\x06", 0, at)
        if at < 0:
            raise self._bad("not a zip archive (no end of central directory record)")
        eocd = tail_start + at
        (_, disk, cd_disk, _, count, cd_size, cd_offset, _) = struct.unpack_from(
            "<IHHHHIIH", tail, at)
        end = eocd  # the central directory must end before the end records
        if eocd >= 20 and self._read_at(eocd - 20, 4) == b"PK\x06\x07":
            _, _, z64_at, _ = struct.unpack("<IIQI", self._read_at(eocd - 20, 20))
            if z64_at + 56 > eocd - 20:
                raise self._bad("the zip64 end record lies outside the file", True)
            rec = self._read_at(z64_at, 56)
            if rec[:4] != b"PK\x06\x06":
                raise self._bad("bad zip64 end of central directory record")
            (_, _, _, _, disk, cd_disk, _, count, cd_size, cd_offset) = struct.unpack(
                "<IQHHIIQQQQ", rec)
            end = z64_at
        if disk or cd_disk:
            raise self._bad("split (multi-disk) archives are not supported")
        if cd_offset + cd_size > end:
            raise self._bad(f"the central directory ({cd_size} bytes at offset {cd_offset}) "
                            f"does not fit the file ({self.size} bytes)", True)
        if count > cd_size // 46:  # each record takes at least 46 bytes
            raise self._bad(f"the central directory declares {count} records but has room for "
                            f"{cd_size // 46}", True)
        return cd_offset, cd_size, count

    def _central_directory(self, cd_offset: int, cd_size: int, count: int) -> None:
        # record by record: a directory declared (but not backed) as gigabytes of zeros fails
        # at its first record instead of being read whole
        self.f.seek(self.base + cd_offset)
        pos = 0
        for _ in range(count):
            head = self.f.read(46)
            if pos + 46 > cd_size or len(head) < 46 or head[:4] != b"PK\x01\x02":
                raise self._bad("bad central directory record")
            (flags, method, _, _, crc, csize, usize, nlen, xlen, clen, _, _, _,
             offset) = struct.unpack_from("<HHHHIIIHHHHHII", head, 8)
            pos += 46 + nlen + xlen + clen
            rest = self.f.read(nlen + xlen + clen)
            if pos > cd_size or len(rest) < nlen + xlen + clen:
                raise self._bad("a central directory record runs past the directory")
            raw, extra = rest[:nlen], rest[nlen:nlen + xlen]
            usize, csize, offset = self._zip64(extra, usize, csize, offset)
            name = raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
            if name in self.entries:
                raise self._bad(f"the name {name!r} appears twice; ember refuses the file rather "
                                "than pick one copy (torch's and Python's readers disagree on "
                                "which)", True)
            if flags & 0x1:
                raise self._bad(f"{name!r} is encrypted")
            if method == _STORED and csize != usize:
                raise self._bad(f"{name!r} is stored uncompressed but declares {csize} bytes "
                                f"stored and {usize} bytes of data", True)
            if method == _DEFLATED and usize > _DEFLATE_RATIO * csize + _DEFLATE_RATIO:
                raise self._bad(f"{name!r} declares {usize} bytes from {csize} compressed bytes, "
                                f"more than deflate can expand (1032:1)", True)
            if method not in (_STORED, _DEFLATED):
                raise self._bad(f"{name!r} uses compression method {method}; only stored and "
                                "deflated records are supported")
            self.entries[name] = ZipEntry(name, nlen, method, flags, crc, csize, usize, offset)
        # Records sorted by offset: each must end before the next begins, which bounds both the
        # file's real bytes behind every declared size and overlap.
        order = sorted(self.entries.values(), key=lambda e: e.header_offset)
        for e, nxt in zip(order, order[1:] + [None]):
            e.limit = cd_offset if nxt is None else nxt.header_offset
            need = 30 + e.name_len + e.compress_size
            if e.header_offset + need > e.limit:
                what = "the central directory" if nxt is None else repr(nxt.name)
                raise self._bad(f"{e.name!r} ({e.compress_size} bytes at offset "
                                f"{e.header_offset}) runs into {what}", True)

    def _zip64(self, extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
        pos = 0
        while pos + 4 <= len(extra):
            tag, n = struct.unpack_from("<HH", extra, pos)
            if tag == 1:
                fields = extra[pos + 4:pos + 4 + n]
                i = 0
                for which in ("u", "c", "o"):  # each present only where the 32-bit field is full
                    value = {"u": usize, "c": csize, "o": offset}[which]
                    if value == _FULL:
                        if i + 8 > len(fields):
                            raise self._bad("truncated zip64 extra field")
                        value = struct.unpack_from("<Q", fields, i)[0]
                        i += 8
                        if which == "u":
                            usize = value
                        elif which == "c":
                            csize = value
                        else:
                            offset = value
                break
            pos += 4 + n
        return usize, csize, offset

    def data_offset(self, e: ZipEntry) -> int:
        """Where ``e``'s payload starts in the file, from its local header (checked against the
        directory)."""
        return self.base + self._data_start(e)

    def _data_start(self, e: ZipEntry) -> int:
        head = self._read_at(e.header_offset, 30)
        if head[:4] != b"PK\x03\x04":
            raise self._bad(f"bad local header for {e.name!r}")
        nlen, xlen = struct.unpack_from("<HH", head, 26)
        start = e.header_offset + 30 + nlen + xlen
        if start + e.compress_size > e.limit:
            raise self._bad(f"{e.name!r} runs past the start of the next record", True)
        raw = self._read_at(e.header_offset + 30, nlen)
        if nlen != e.name_len or raw.decode("utf-8" if e.flags & 0x800 else "cp437",
                                            "replace") != e.name:
            raise self._bad(f"the local header of {e.name!r} names {raw!r}")
        return start

    def chunks(self, e: ZipEntry, size: int = _CHUNK) -> Iterator[bytes]:
        """``e``'s data in chunks of at most ``size`` bytes; raises once it is complete if its
        length or CRC differs from what the directory declares."""
        pos, left = self._data_start(e), e.compress_size
        crc = produced = 0
        inflate = zlib.decompressobj(-15) if e.method == _DEFLATED else None
        pending = b""
        while inflate is None or not inflate.eof:
            if not pending and left:
                pending = self._read_at(pos, min(size, left))
                pos += len(pending)
                left -= len(pending)
            if inflate is None:
                data, pending = pending, b""
            else:  # bounded output per step, never past the declared size (+1 exposes a lie)
                try:
                    data = inflate.decompress(pending, min(size, e.file_size - produced + 1))
                except zlib.error as err:
                    raise self._bad(f"{e.name!r} is corrupt: {err}") from None
                pending = inflate.unconsumed_tail
            if not data and not pending and not left:
                break  # nothing more to read, and the decompressor has nothing left either
            produced += len(data)
            if produced > e.file_size:
                raise self._bad(f"{e.name!r} holds more than the {e.file_size} bytes it "
                                "declares", True)
            crc = zlib.crc32(data, crc)
            if data:
                yield data
        if produced != e.file_size or (inflate is not None and not inflate.eof):
            raise self._bad(f"{e.name!r} is truncated or corrupt: it holds {produced} of the "
                            f"{e.file_size} bytes it declares")
        if crc != e.crc:
            raise self._bad(f"bad CRC-32 for {e.name!r}")

    def read(self, e: ZipEntry) -> bytearray:
        """``e``'s data, read in chunks into a buffer that grows only as data arrives."""
        if e.method == _STORED:  # the size is backed by the file's bytes: allocate it once
            buf = bytearray(e.file_size)
            view, at = memoryview(buf), 0
            for chunk in self.chunks(e):
                view[at:at + len(chunk)] = chunk
                at += len(chunk)
            return buf
        buf = bytearray()
        for chunk in self.chunks(e):
            buf += chunk
        return buf
