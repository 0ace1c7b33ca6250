"""Hostile files, each loaded in a child process with an address-space limit and a timeout.

Every case is a file these tests build: small files that declare huge sizes, views that would
expand to gigabytes, gigabytes of zeros, pickles nested a million levels deep, safetensors
headers that lie. Loading one must end, within the timeout, in the clean exception named for it
(or in a correct result, for views that are merely large), with the child's memory growing by at
most a few MiB: ``RLIMIT_AS`` turns any attempt at a large allocation into a ``MemoryError``,
which fails the test, and a crash shows up as the child's death by a signal.

Set ``EMBER_SECURITY_REPORT=path.json`` to write each case's peak memory and time there.
"""
import faulthandler
import io
import json
import os
import pickle
import signal
import struct
import zipfile
import zlib

import hostile as h
import numpy as np
import pytest
from sandbox import MB, run_confined

import ember
from ember import hub
from ember.io import UnsafeCheckpointError, load
from ember.io.safetensors import SafetensorError

BUDGET = 256 * MB  # what a child may map beyond what it had: every case asks for far more
PEAK = 16 * MB  # what loading any of these files may really use
TIMEOUT = 60.0  # seconds; each case takes well under one
UNPICKLING = pickle.UnpicklingError

CASES = {}


def case(expect, *fragments, budget=BUDGET, peak=PEAK):
    """Registers a builder ``f(tmp_path) -> target``: calling ``target()`` in the child must
    raise ``expect`` (None: must return) with each fragment in its message."""
    def register(build):
        CASES[build.__name__] = (build, expect, fragments, budget, peak)
        return build
    return register


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def sparse(tmp_path, name, head, size=3 * h.GiB, tail=b""):
    """A file of ``size`` bytes: ``head``, zeros that take no disk, then ``tail``."""
    path = tmp_path / name
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size - len(tail))
        f.seek(size - len(tail))
        f.write(tail)
    return path


def loads(path):
    return lambda: load(path)


def one_float(value=1.5):
    return np.float32(value).tobytes()


# -- zip archives whose records lie ---------------------------------------------------------------
@case(UnsafeCheckpointError, "data/0", "runs into")
def zip_declared_size_past_the_file(tmp_path):
    # the 1 KB file: a deflated record declaring 1 GiB from 1 MiB it does not have
    data = h.archive({"data.pkl": h.program(h.tensor(1 << 28, [1 << 28], [1])),
                      "byteorder": b"little", "data/0": bytes(64), "version": b"3\n"},
                     compress={"data/0": zipfile.ZIP_DEFLATED})
    data = h.patch_record(data, "data/0", compress_size=1 << 20, file_size=1 << 30)
    assert len(data) < 1500
    return loads(write(tmp_path, "declared.pt", data))


@case(UNPICKLING, "data/0", "holds 1048576 of the 1073741824 bytes")
def zip_deflated_record_shorter_than_declared(tmp_path):
    # within deflate's 1032:1 ratio, so only reading it shows the lie: never preallocated
    noise = np.random.default_rng(0).bytes(1 << 20)
    data = h.archive({"data.pkl": h.program(h.tensor(1 << 28, [1 << 28], [1])),
                      "data/0": noise, "version": b"3\n"},
                     compress={"data/0": zipfile.ZIP_DEFLATED})
    return loads(write(tmp_path, "short.pt", h.patch_record(data, "data/0", file_size=1 << 30)))


@case(UnsafeCheckpointError, "runs into")
def zip_overlapping_records(tmp_path):
    # 64 records sharing one 8 MiB payload: 512 MiB declared by an 8 MiB file
    count, payload = 64, bytes(8 * MB)
    sizes = [len(payload) + 64 * (count - 1 - i) for i in range(count)]
    pkl = h.tensor_list([h.tensor(n // 4, [n // 4], [1], key=str(i))
                         for i, n in enumerate(sizes)])
    return loads(write(tmp_path, "overlap.pt", h.nested_records(payload, count, pkl)))


@case(UnsafeCheckpointError, "appears twice")
def zip_duplicate_name(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", h.program(h.tensor(1, [1], [1])))
        z.writestr("archive/data/0", one_float(1.0))
        z.writestr("archive/version", b"3\n")
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr("archive/data/0", one_float(2.0))  # torch reads one, zipfile the other
    return loads(write(tmp_path, "dup.pt", buf.getvalue()))


@case(UNPICKLING, "central directory")
def zip_directory_past_the_end(tmp_path):
    data = bytearray(h.archive({"data.pkl": h.program(b"N"), "version": b"3\n"}))
    struct.pack_into("<I", data, len(data) - 6, 1 << 31)  # the directory's offset
    return loads(write(tmp_path, "cd.pt", bytes(data)))


@case(UnsafeCheckpointError, "records")
def zip64_record_count(tmp_path):
    buf = io.BytesIO()
    ember.save({"w": ember.ones(2)}, buf)
    data = bytearray(buf.getvalue())
    at = data.rindex(b"PK\x06\x06")
    struct.pack_into("<QQ", data, at + 24, 1 << 40, 1 << 40)  # records on disk, in all
    return loads(write(tmp_path, "count.pt", bytes(data)))


@case(UNPICKLING, "central directory")
def zip_directory_of_zeros(tmp_path):
    # the end record places a 3 GiB central directory over gigabytes of zeros
    size = 3 * h.GiB
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1000, 1000, size - 100, 4, 0)
    return loads(sparse(tmp_path, "zeros_cd.pt", b"PK\x03\x04", size, eocd))


# -- views that would expand ----------------------------------------------------------------------
def views(tmp_path, name, pkl, record, check):
    path = write(tmp_path, name, h.archive({"data.pkl": pkl, "data/0": record,
                                            "version": b"3\n"}))

    def target():
        t = load(path)
        if check is not None:
            check(t)
        return tuple(t.shape), t.numpy().strides
    return target


@case(None)
def neg_expanded_view(tmp_path):
    # the 622-byte file: x._neg_view().expand(32768, 32768) materialised 4 GiB
    pkl = h.program(h.tensor(1, [32768, 32768], [0, 0], neg=True))

    def check(t):
        assert t.shape == (32768, 32768) and t.dtype == ember.float32
        assert t[0, 0].item() == -1.5 and t[-1, -1].item() == -1.5
    return views(tmp_path, "neg.pt", pkl, one_float(), check)


@case(None)
def neg_expanded_bfloat16_view(tmp_path):
    pkl = h.program(h.tensor(2, [1 << 15, 1 << 15, 2], [0, 0, 1], storage="BFloat16Storage",
                             neg=True))

    def check(t):  # bf16 stays bf16 (as torch), negated per storage
        assert t.shape == (1 << 15, 1 << 15, 2) and t.dtype == ember.bfloat16
        assert t[7, 9].tolist() == [-1.5, 2.0]
    return views(tmp_path, "bf16.pt", pkl, np.array([0x3FC0, 0xC000], "<u2").tobytes(), check)


@case(None)
def expanded_view_of_4_tib(tmp_path):
    pkl = h.program(h.tensor(1, [1 << 20, 1 << 20], [0, 0]))

    def check(t):
        assert t.shape == (1 << 20, 1 << 20) and t[12345, 678].item() == 1.5
    return views(tmp_path, "expand.pt", pkl, one_float(), check)


@case(UNPICKLING, "64-bit")
def view_element_count_overflows(tmp_path):
    return views(tmp_path, "overflow.pt", h.program(h.tensor(1, [1 << 40, 1 << 40], [0, 0])),
                 one_float(), None)


@case(NotImplementedError, "65 dimensions")
def view_of_65_dimensions(tmp_path):
    return views(tmp_path, "dims.pt", h.program(h.tensor(1, [1] * 65, [0] * 65)), one_float(),
                 None)


# -- not checkpoints at all -----------------------------------------------------------------------
@case(UNPICKLING, "zeros.pt", "unknown format")
def three_gib_of_zeros(tmp_path):
    return loads(sparse(tmp_path, "zeros.pt", b""))


@case(UNPICKLING, "/dev/zero", "unknown format")
def dev_zero(tmp_path):
    return loads("/dev/zero")


class _Zeros(io.RawIOBase):
    """An endless, non-seekable stream of zeros."""

    def readable(self):
        return True

    def readinto(self, b):
        b[:] = bytes(len(b))
        return len(b)


@case(UNPICKLING, "unknown format")
def endless_stream_of_zeros(tmp_path):
    return lambda: load(io.BufferedReader(_Zeros()))


@case(UNPICKLING, "zip_zeros.pt")
def zip_magic_then_zeros(tmp_path):
    return loads(sparse(tmp_path, "zip_zeros.pt", b"PK\x03\x04"))


@case(SafetensorError, "st_zeros.safetensors", "not valid JSON")
def safetensors_header_then_zeros(tmp_path):
    return loads(sparse(tmp_path, "st_zeros.safetensors", struct.pack("<Q", 4096) + b'{"a'))


@case(UNPICKLING, "legacy_zeros.pt")
def legacy_magic_then_zeros(tmp_path):
    return loads(sparse(tmp_path, "legacy_zeros.pt", pickle.dumps(0x1950A86A20F9469CFC6C, 2)))


# -- pickles that make C code recurse or allocate -----------------------------------------------
def in_archive(tmp_path, name, pkl):
    return loads(write(tmp_path, name, h.archive({"data.pkl": pkl, "version": b"3\n"})))


@case(UnsafeCheckpointError, "1000 levels", "MAX_DEPTH")
def deep_tuple_as_dict_key(tmp_path):
    # the 1 MB pickle: hashing a 10**6-deep tuple recursed in C until it segfaulted
    return in_archive(tmp_path, "tuple.pt",
                      h.program(b"})" + b"\x85" * 10**6 + b"K\x01s"))


@case(UnsafeCheckpointError, "1000 levels")
def deep_lists(tmp_path):
    return in_archive(tmp_path, "lists.pt", h.program(b"(" * 10**6 + b"l" * 10**6))


@case(UnsafeCheckpointError, "1000 levels")
def deep_lists_grown_through_the_memo(tmp_path):
    # 10**5 empty lists, then each appended into the one before it, top down: every list is
    # already inside its parent when it grows, which a depth count at creation would miss
    n = 10**5
    body = b"".join(b"]r" + i.to_bytes(4, "little") + b"0" for i in range(n))
    body += b"".join(b"j" + i.to_bytes(4, "little") + b"j" + (i + 1).to_bytes(4, "little")
                     + b"a0" for i in range(n - 1))
    return in_archive(tmp_path, "grown.pt", h.program(body + b"j" + bytes(4)))


@case(UnsafeCheckpointError, "1000 levels")
def deep_frozensets(tmp_path):
    return in_archive(tmp_path, "frozen.pt", b"\x80\x04" + b"(" * 10**6 + b"\x91" * 10**6 + b".")


@case(UNPICKLING, "bytes8")
def bytes_declared_as_a_tebibyte(tmp_path):
    return in_archive(tmp_path, "bytes8.pt", b"\x80\x04\x8e" + (1 << 40).to_bytes(8, "little")
                      + b"abc.")


@case(UnsafeCheckpointError, "memo index")
def memo_index_of_two_billion(tmp_path):
    return in_archive(tmp_path, "memo.pt", b"\x80\x02Nr\xff\xff\xff\x7f.")


# -- safetensors ---------------------------------------------------------------------------------
def st(tmp_path, name, header, data=b""):
    return loads(write(tmp_path, name, h.safetensors_file(header, data)))


@case(SafetensorError, "deep.safetensors", "nested too deeply")
def safetensors_deeply_nested_json(tmp_path):
    return st(tmp_path, "deep.safetensors", b'{"a":' + b"[" * 10**5 + b"]" * 10**5 + b"}")


@case(SafetensorError, "shape.safetensors", "64-bit")
def safetensors_impossible_shape(tmp_path):
    return st(tmp_path, "shape.safetensors",
              {"a": {"dtype": "F32", "shape": [0, 1 << 62, 1 << 62], "data_offsets": [0, 0]}})


@case(SafetensorError, "dims.safetensors", "65 dimensions")
def safetensors_65_dimensions(tmp_path):
    return st(tmp_path, "dims.safetensors",
              {"a": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, bytes(4))


@case(SafetensorError, "big.safetensors", "truncated")
def safetensors_offsets_past_the_end(tmp_path):
    return st(tmp_path, "big.safetensors",
              {"a": {"dtype": "F32", "shape": [1 << 28], "data_offsets": [0, 1 << 30]}},
              bytes(16))


@case(SafetensorError, "hdr.safetensors", "runs past the end")
def safetensors_header_length_past_the_end(tmp_path):
    return loads(write(tmp_path, "hdr.safetensors", struct.pack("<Q", 99_000_000) + b"{}"))


# -- the legacy format ---------------------------------------------------------------------------
@case(UnsafeCheckpointError, "size mismatch")
def legacy_storage_count_lie(tmp_path):
    data = h.legacy(h.program(h.tensor(4, [4], [1])), {"0": np.arange(4, dtype=np.float32)})
    at = data.rindex(np.int64(4).tobytes())
    data = data[:at] + np.int64(10**12).tobytes() + data[at + 8:]
    return loads(write(tmp_path, "legacy_lie.pt", data))


@case(UnsafeCheckpointError, "size mismatch")
def legacy_storage_past_the_end(tmp_path):
    data = h.legacy(h.program(h.tensor(1 << 28, [1 << 28], [1])), {})
    data = data[:-len(pickle.dumps([], 2))] + pickle.dumps(["0"], 2)
    data += np.int64(1 << 28).tobytes() + bytes(16)
    return loads(write(tmp_path, "legacy_short.pt", data))


# -- the hub cache -------------------------------------------------------------------------------
@case(UNPICKLING, "big.pth", "unknown format")
def hub_zip_with_a_3_gib_member(tmp_path):
    stream, size = h.deflated_zeros(3 * 1024)  # 3 GiB of zeros in 3 MiB
    (tmp_path / "cache").mkdir()
    write(tmp_path / "cache", "big-0123abcd.pth", h.single_member_zip("big.pth", stream, size))
    return lambda: hub.load_state_dict_from_url("http://127.0.0.1:9/big-0123abcd.pth",
                                                model_dir=str(tmp_path / "cache"),
                                                progress=False)


@case(None, budget=512 * MB, peak=96 * MB)
def hub_zip_member_is_streamed(tmp_path):
    # a real legacy checkpoint holding 64 MiB, zipped: unpacked to disk as it is read, so the
    # load needs the tensor's memory and little more (read whole, it took three times that)
    n = 16 * MB
    data = h.legacy(h.program(h.tensor(n, [n], [1])), {"0": np.zeros(n, np.float32)})
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    c = c.compress(data) + c.flush()
    (tmp_path / "cache").mkdir()
    write(tmp_path / "cache", "w-0123abcd.pth",
          h.single_member_zip("w.pth", c, len(data), crc=zlib.crc32(data)))

    def target():
        t = hub.load_state_dict_from_url("http://127.0.0.1:9/w-0123abcd.pth",
                                         model_dir=str(tmp_path / "cache"), progress=False)
        assert t.shape == (n,) and not t.numpy().any()
        return t.shape[0]
    return target


# -- the test ------------------------------------------------------------------------------------
def _qualname(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


@pytest.mark.filterwarnings("ignore::FutureWarning")  # the hub's legacy-zip notice
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_file(tmp_path, name):
    build, expect, fragments, budget, peak = CASES[name]
    out = run_confined(build(tmp_path), budget=budget, timeout=TIMEOUT)
    report = os.environ.get("EMBER_SECURITY_REPORT")
    if report:
        with open(report, "a") as f:
            f.write(json.dumps({"case": name, "peak": out.peak, "seconds": out.seconds,
                                "error": out.error, "message": out.message[:300]}) + "\n")
    if expect is None:
        assert out.error is None, f"{out.error}: {out.message}"
    else:
        assert out.raised(_qualname(expect)), f"expected {expect.__name__}, got {out.error}: " \
                                              f"{out.message}"
        for fragment in fragments:
            assert fragment in out.message, out.message
    assert out.peak < peak, f"loading took {out.peak / MB:.1f} MiB"


def test_the_sandbox_catches_what_it_must(tmp_path):
    # the harness itself: a large allocation, a crash and a hang are each noticed
    out = run_confined(lambda: bytearray(1 << 30), budget=64 * MB)
    assert out.raised("builtins.MemoryError")
    with pytest.raises(AssertionError, match="crashed"):
        run_confined(lambda: (faulthandler.disable(), os.kill(os.getpid(), signal.SIGSEGV)))
    with pytest.raises(AssertionError, match="ran past"):
        run_confined(lambda: __import__("time").sleep(30), timeout=0.5)
    out = run_confined(lambda: 41 + 1)
    assert out.error is None and out.value == 42 and out.peak < 8 * MB
