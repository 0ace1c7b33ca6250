"""A write-only zip container laid out byte for byte as torch's (miniz's) writer lays it out.

torch's reader can compute record offsets instead of reading local headers
(``calculate_storage_offsets``, CHECKPOINTS.md §3.3), so the layout matters, not just validity:
STORED entries; each payload 64-byte aligned by an ``FB`` extra field of ``Z`` padding; a data
descriptor after every non-empty payload (flags 0x0808), none after an empty one (0x0800); zip64
extras and 24-byte descriptors once a size or an offset reaches 4 GiB; and always the zip64 end
records, as miniz writes them.
"""
from __future__ import annotations

import struct
import zlib
from typing import IO, Any

__all__ = ["ZipWriter"]

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
