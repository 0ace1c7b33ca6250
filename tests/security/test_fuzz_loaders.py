"""Mutation fuzzing of ``ember.load`` on its four inputs: the zip container, the pickle inside it,
the legacy (pre-1.6) format and safetensors; and of the hub's cached legacy zips.

Each seed is a valid file with most of what real ones hold; each mutation flips bytes, writes a
boundary value (0, -1, 2**31, 2**63, the file's size ...) into an integer, or splices, deletes
or truncates, either anywhere or where the format keeps its sizes and offsets (zip headers and
directory, pickle opcodes and their arguments, legacy storage counts, safetensors header
numbers). Loading a mutant must either succeed or raise one of the loader's clean errors; all
mutants of a format run in one child process under an address-space limit and a timeout, so a
crash, a hang or a large allocation fails the test (naming the mutation that caused it).

``EMBER_FUZZ_N`` sets the number of mutations per input (default 150, 750 in all, plus
truncations);
``EMBER_FUZZ_SEED`` changes the seed.
"""
import io
import json
import os
import pickle
import pickletools
import random
import re
import struct
import warnings
import zipfile

import hostile as h
import numpy as np
import pytest
from sandbox import MB, run_confined

import ember
from ember import hub
from ember.io import load
from ember.io.safetensors import SafetensorError

N = int(os.environ.get("EMBER_FUZZ_N", "150"))
SEED = os.environ.get("EMBER_FUZZ_SEED", "0")
BUDGET = 256 * MB

# what loading garbage may raise: torch's types for these failures, and ember's safetensors error
CLEAN = (pickle.UnpicklingError, NotImplementedError, EOFError, SafetensorError)


def _clean(e: BaseException) -> bool:
    if isinstance(e, CLEAN):
        return True
    # torch's own error for a byteorder record that names neither endianness
    return type(e) is ValueError and str(e).startswith("Unknown endianness type")


# -- seeds ----------------------------------------------------------------------------------------
def _checkpoint():
    m = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.BatchNorm1d(2))
    w = ember.arange(6.0).view(2, 3)
    return {"sd": m.state_dict(), "v": [w, w.t(), w[1], ember.ones(1).expand(3, 2)],
            "p": ember.nn.Parameter(ember.ones(2)), "i": ember.arange(4),
            "x": (1, 2.5, "s", b"b", {3}, None, True, 2**70, ember.float16, ember.Size([1]))}


def zip_seed() -> bytes:
    buf = io.BytesIO()
    ember.save(_checkpoint(), buf)
    return buf.getvalue()


def legacy_seed() -> bytes:
    body = (b"}(" + h.text("w") + h.tensor(6, [2, 3], [3, 1])
            + h.text("t") + h.tensor(6, [3, 2], [1, 3])
            + h.text("n") + h.tensor(6, [2, 2], [0, 1], offset=1, neg=True)
            + h.text("b") + h.tensor(2, [2], [1], key="1", storage="LongStorage")
            + h.text("l") + b"(" + h.integer(1) + h.text("x") + b"N\x88l" + b"u")
    return h.legacy(h.program(body), {"0": np.arange(6, dtype=np.float32),
                                      "1": np.arange(2, dtype=np.int64)})


def deflated_zip_seed() -> bytes:
    """The zip seed re-zipped with compressed records (torch reads those too)."""
    with zipfile.ZipFile(io.BytesIO(zip_seed())) as src:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for info in src.infolist():
                z.writestr(info.filename, src.read(info))
    return buf.getvalue()


def hub_seed() -> bytes:
    """A cached hub file in torch.hub's legacy packaging: a zip holding one legacy checkpoint."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inner.pth", legacy_seed())
    return buf.getvalue()


def safetensors_seed() -> bytes:
    buf = io.BytesIO()
    ember.save({"a": ember.arange(6.0).view(2, 3), "b": ember.tensor([1, 2]),
                "c": ember.tensor(True), "e": ember.zeros(0, 3)}, buf, format="safetensors")
    return buf.getvalue()


# -- where each format keeps its numbers ----------------------------------------------------------
def zip_fields(data: bytes) -> list:
    """(offset, width) of the size, offset and length fields of every zip header and record."""
    fields = []
    for m in re.finditer(b"PK\x03\x04", data):  # local headers
        fields += [(m.start() + o, w) for o, w in ((14, 4), (18, 4), (22, 4), (26, 2), (28, 2))]
    for m in re.finditer(b"PK\x01\x02", data):  # central directory records
        fields += [(m.start() + o, w) for o, w in ((16, 4), (20, 4), (24, 4), (28, 2), (30, 2),
                                                   (32, 2), (42, 4))]
    for m in re.finditer(b"PK\x07\x08", data):  # data descriptors
        fields += [(m.start() + o, 4) for o in (4, 8, 12)]
    for m in re.finditer(b"PK\x06\x06", data):  # zip64 end record
        fields += [(m.start() + o, 8) for o in (4, 24, 32, 40, 48)]
    for m in re.finditer(b"PK\x06\x07", data):  # zip64 locator
        fields += [(m.start() + 8, 8)]
    for m in re.finditer(b"PK\x05\x06", data):  # end record
        fields += [(m.start() + o, w) for o, w in ((8, 2), (10, 2), (12, 4), (16, 4), (20, 2))]
    return [(o, w) for o, w in fields if o + w <= len(data)]


def pickle_fields(data: bytes, base: int = 0) -> list:
    """(offset, width) of every opcode (width 1) and integer argument of a pickle."""
    fields = []
    try:
        for op, arg, pos in pickletools.genops(data):
            fields.append((base + pos, 1))
            n = {"BININT": 4, "BININT2": 2, "BININT1": 1, "BINPUT": 1, "LONG_BINPUT": 4,
                 "BINGET": 1, "LONG_BINGET": 4, "BINUNICODE": 4, "SHORT_BINUNICODE": 1,
                 "BINBYTES": 4, "SHORT_BINBYTES": 1, "LONG1": 1, "PROTO": 1}.get(op.name)
            if n:
                fields.append((base + pos + 1, n))
    except ValueError:
        pass
    return fields


def legacy_fields(data: bytes) -> list:
    fields = []
    buf = io.BytesIO(data)
    for _ in range(5):  # the five pickles
        start = buf.tell()
        for _ in pickletools.genops(buf):
            pass
        fields += pickle_fields(data[start:buf.tell()], start)
    pos = buf.tell()
    for itemsize in (4, 8):  # each storage of the seed: an int64 count, then its bytes
        fields.append((pos, 8))
        (count,) = struct.unpack_from("<q", data, pos)
        pos += 8 + itemsize * count
    assert pos == len(data)
    return fields


def safetensors_text_mutants(data: bytes, rng: random.Random) -> bytes:
    """A mutation of the JSON header (its length prefix kept right, or not)."""
    (n,) = struct.unpack_from("<Q", data)
    text = data[8:8 + n].decode()
    numbers = list(re.finditer(r"\d+", text))
    choice = rng.randrange(5)
    if choice == 0 and numbers:
        m = rng.choice(numbers)
        value = rng.choice(["0", "-1", str(2**31), str(2**63), str(2**64), "1e309", "1.5",
                            "9" * 5000, str(rng.randrange(1 << 40)), "[]", "null", '"x"'])
        text = text[:m.start()] + value + text[m.end():]
    elif choice == 1:
        at = rng.randrange(len(text))
        depth = rng.choice([10, 200, 5000])
        text = text[:at] + "[" * depth + "]" * depth + text[at:]
    elif choice == 2:
        text = text.replace(rng.choice(['"F32"', '"I64"', '"BOOL"']),
                            rng.choice(['"F64"', '"U8"', '"BF16"', '"X"', "3", '"F8_E4M3"']), 1)
    elif choice == 3:
        text = text.replace('"shape":[', rng.choice(['"shape":[0,', '"shape":[4611686018427387904,',
                                                      '"shape":[1,1,1,1,', '"shape":[-2,']), 1)
    else:
        text = text.replace("data_offsets", rng.choice(["data_offset", "shape", "dtype"]), 1)
    raw = text.encode()
    length = len(raw) if rng.random() < 0.8 else rng.choice([0, 1, len(raw) + 1, 2**40])
    return struct.pack("<Q", length) + raw + data[8 + n:]


# -- mutation operators --------------------------------------------------------------------------
def _boundary(rng, width, size):
    top = (1 << (8 * width)) - 1
    return rng.choice([0, 1, top, top >> 1, (top >> 1) + 1, size, size - 1, size + 1,
                       rng.randrange(top + 1)]) & top


def mutate(data: bytes, rng: random.Random, fields: list) -> bytes:
    b = bytearray(data)
    choice = rng.randrange(6 if fields else 4)
    if choice == 0:  # a few random bytes
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] = rng.choice([rng.randrange(256), b[i] ^ (1 << rng.randrange(8)), 0, 0xFF])
    elif choice == 1:  # delete, duplicate or insert a span
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.choice([1, 2, 4, 8, 64, 1024]))
        op = rng.randrange(3)
        if op == 0:
            del b[i:j]
        elif op == 1:
            b[i:i] = b[i:j]
        else:
            b[i:i] = bytes(rng.randrange(256) for _ in range(j - i))
    elif choice == 2:  # truncate
        del b[rng.randrange(len(b)):]
    elif choice == 3:  # a boundary integer anywhere
        w = rng.choice([2, 4, 8])
        i = rng.randrange(max(1, len(b) - w))
        b[i:i + w] = _boundary(rng, w, len(data)).to_bytes(w, "little")
    else:  # a boundary value in a field the format uses for sizes, offsets or opcodes
        for _ in range(rng.randint(1, 2)):
            i, w = rng.choice(fields)
            if w == 1 and rng.random() < 0.5:
                b[i] = rng.choice(b"()tlds}]aeuRbcXJKMNQ\x80\x85\x86\x87\x88\x89\x8a\x8c\x8e"
                                  b"\x91\x93\x94\x95qrjhpg0201.")
            else:
                b[i:i + w] = _boundary(rng, w, len(data)).to_bytes(w, "little")
    return bytes(b)


def mutants(fmt: str, n: int) -> list:
    rng = random.Random(f"{fmt}-{SEED}")
    if fmt == "pickle":  # data.pkl inside an otherwise intact archive
        with zipfile.ZipFile(io.BytesIO(zip_seed())) as z:
            records = {i.filename: z.read(i) for i in z.infolist()}
        name = next(k for k in records if k.endswith("/data.pkl"))
        fields = pickle_fields(records[name])
        out = []
        for _ in range(n):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                for k, v in records.items():
                    z.writestr(k, mutate(v, rng, fields) if k == name else v)
            out.append(buf.getvalue())
        return out
    seed = {"zip": zip_seed, "legacy": legacy_seed, "safetensors": safetensors_seed,
            "hub": hub_seed}[fmt]()
    fields = {"zip": zip_fields, "legacy": legacy_fields, "safetensors": lambda d: [],
              "hub": zip_fields}[fmt](seed)
    other = deflated_zip_seed() if fmt == "zip" else None
    other_fields = zip_fields(other) if other else None
    out = []
    for i in range(n):
        if fmt == "safetensors" and rng.random() < 0.5:
            out.append(safetensors_text_mutants(seed, rng))
        elif other and i % 2:
            out.append(mutate(other, rng, other_fields))
        else:
            out.append(mutate(seed, rng, fields))
    cuts = sorted({rng.randrange(len(seed)) for _ in range(min(n, 40))})
    return out + [seed[:c] for c in cuts] + [seed]


def _load_from_the_hub_cache(data: bytes, cache: str) -> None:
    with open(os.path.join(cache, "m-0123abcd.pth"), "wb") as f:
        f.write(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the legacy-zip notice
        hub.load_state_dict_from_url("http://127.0.0.1:9/m-0123abcd.pth", model_dir=cache,
                                     progress=False)


def _run_all(files: list, progress: str, fmt: str) -> dict:
    """In the child: loads each file, counting outcomes; records anything unclean."""
    counts, bad = {"loaded": 0}, []
    cache = os.path.join(os.path.dirname(progress), "cache")
    os.makedirs(cache, exist_ok=True)
    for i, data in enumerate(files):
        with open(progress, "w") as f:  # if this mutant crashes the child, the parent says which
            f.write(str(i))
        try:
            if fmt == "hub":
                _load_from_the_hub_cache(data, cache)
            else:
                load(io.BytesIO(data))
            counts["loaded"] += 1
        except BaseException as e:  # noqa: BLE001 - classified here
            kind = type(e).__name__
            counts[kind] = counts.get(kind, 0) + 1
            if not _clean(e):
                bad.append((i, kind, str(e)[:300]))
    return {"counts": counts, "bad": bad}


@pytest.mark.parametrize("fmt", ["zip", "pickle", "legacy", "safetensors", "hub"])
def test_fuzz(tmp_path, fmt):
    files = mutants(fmt, N)
    progress = str(tmp_path / "progress")
    try:
        out = run_confined(_run_all, files, progress, fmt, budget=BUDGET, timeout=120 + N / 5)
    except AssertionError as e:  # a crash or a hang: name the mutant, keep it for a rerun
        at = int(open(progress).read())
        (tmp_path / "mutant.bin").write_bytes(files[at])
        raise AssertionError(f"{fmt} mutant {at} (seed {SEED!r}, saved as "
                             f"{tmp_path / 'mutant.bin'}): {e}") from None
    assert out.error is None, f"{out.error}: {out.message}"
    result = out.value
    report = os.environ.get("EMBER_SECURITY_REPORT")
    if report:
        with open(report, "a") as f:
            f.write(json.dumps({"fuzz": fmt, "mutants": len(files), "peak": out.peak,
                                "seconds": out.seconds, **result}) + "\n")
    assert not result["bad"], result["bad"][:5]
    assert result["counts"]["loaded"] < len(files), result["counts"]  # the mutations bite
    assert out.peak < 64 * MB, f"fuzzing {fmt} took {out.peak / MB:.1f} MiB"
