"""Hostile checkpoints: each is refused before any of it runs (a canary file proves it)."""
import builtins
import io
import os
import pathlib
import pickle
import random
import re
import zipfile

import numpy as np
import pytest

import ember
from ember.io import UnsafeCheckpointError, load, save


def zipped(tmp_path, data_pkl, records=(), name="evil.pt"):
    """A checkpoint archive holding ``data_pkl`` and ``data/<i>`` records."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", b"little")
        for i, r in enumerate(records):
            z.writestr(f"archive/data/{i}", r)
        z.writestr("archive/version", b"3\n")
    return path


def touch(canary):
    return f"touch {canary}".encode()


def pid(numel, key=b"0"):
    # ('storage', torch.FloatStorage, key, 'cpu', numel) -> BINPERSID
    return (b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX" + len(key).to_bytes(4, "little")
            + key + b"X\x03\x00\x00\x00cpuJ" + int(numel).to_bytes(4, "little", signed=True)
            + b"tQ")


def tensor(numel, size, stride, offset=0):
    def tup(xs):
        return b"(" + b"".join(b"J" + x.to_bytes(4, "little", signed=True) for x in xs) + b"t"
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid(numel) + b"J"
            + offset.to_bytes(4, "little") + tup(size) + tup(stride)
            + b"\x89ccollections\nOrderedDict\n)RtR")


class _Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def cases(canary):
    cmd = touch(canary)
    return {
        "os.system via GLOBAL+REDUCE": (
            b"\x80\x02cos\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd + b"\x85R.",
            UnsafeCheckpointError, "os.system"),
        "protocol 4 STACK_GLOBAL builtins.eval": (
            pickle.dumps(_Reduce(builtins.eval, (f"__import__('os').system({cmd!r})",)), 4),
            UnsafeCheckpointError, "builtins.eval"),
        "protocol 0 INST": (b"(S'" + cmd + b"'\nios\nsystem\n.", UnsafeCheckpointError,
                            "os.system"),
        "dotted name": (b"\x80\x04\x8c\x02os\x8c\tpath.join\x93.", UnsafeCheckpointError,
                        "os.path.join"),
        "BUILD on an allowlisted function": (
            b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n}X\x0c\x00\x00\x00__defaults__"
            b"(\x88NNtsb.", UnsafeCheckpointError, "BUILD"),
        "BUILD with slot state on a dtype": (
            b"\x80\x02ctorch\nfloat32\nN}X\x04\x00\x00\x00nameX\x01\x00\x00\x00x"
            b"s\x86b.", UnsafeCheckpointError, "BUILD"),
        "BUILD on a storage": (b"\x80\x02" + pid(1) + b"}b.", UnsafeCheckpointError, "BUILD"),
        "BUILD on a tensor": (b"\x80\x02" + tensor(1, [1], [1]) + b"}b.", UnsafeCheckpointError,
                              "BUILD"),
        "view past its storage": (b"\x80\x02" + tensor(1, [1000000], [1]) + b".",
                                  UnsafeCheckpointError, "exceeds its storage"),
        "view offset past its storage": (b"\x80\x02" + tensor(1, [1], [1], offset=1) + b".",
                                         UnsafeCheckpointError, "exceeds its storage"),
        "size lie": (b"\x80\x02" + tensor(10**9, [1], [1]) + b".", UnsafeCheckpointError,
                     "size mismatch"),
        "REDUCE on a storage type": (b"\x80\x02ctorch\nFloatStorage\n)R.", pickle.UnpicklingError,
                                     "malformed"),
        "NEWOBJ on an allowlisted callable": (b"\x80\x02ccollections\nOrderedDict\n)\x81.",
                                              pickle.UnpicklingError, ""),
        "bad persistent id": (b"\x80\x02X\x04\x00\x00\x00evilQ.", UnsafeCheckpointError,
                              "bad persistent id"),
        "pid naming another record": (b"\x80\x02" + pid(1, b"../data.pkl") + b".",
                                      UnsafeCheckpointError, "bad persistent id"),
        "text persistent id": (b"Pevil\n.", UnsafeCheckpointError, "bad persistent id"),
        "extension registry": (b"\x80\x02\x82\x01.", pickle.UnpicklingError, ""),
        "huge memo index": (b"\x80\x02Nr\xff\xff\xff\x7f.", UnsafeCheckpointError, "memo index"),
        "negative stride": (b"\x80\x02" + tensor(4, [2], [-1], offset=3) + b".",
                            pickle.UnpicklingError, "stride"),
        "a bare storage": (b"\x80\x02" + pid(1) + b".", pickle.UnpicklingError, "storage"),
    }


@pytest.mark.parametrize("case", list(cases("x")))
def test_refused(tmp_path, canary, case):
    data, error, match = cases(canary)[case]
    with pytest.raises(error, match=re.escape(match) if match else None):
        load(zipped(tmp_path, data, [b"\x00\x00\x80\x3f"]))
    # the same pickle as a raw (legacy-looking) file is refused too
    raw = tmp_path / "raw.pt"
    raw.write_bytes(data)
    with pytest.raises(pickle.UnpicklingError):
        load(raw)
    assert load(zipped(tmp_path, b"\x80\x02" + tensor(1, [1], [1]) + b".",
                       [b"\x00\x00\x80\x3f"], "good.pt")).tolist() == [1.0]


class Evil:
    def __init__(self, canary):
        self.canary = str(canary)

    def __reduce__(self):
        return (os.system, (f"touch {self.canary}",))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_real_torch_save_of_a_reduce_payload(tmp_path, canary, zip_format):
    from helpers import torch_or_skip

    torch = torch_or_skip()
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": torch.nn.Linear(2, 2).state_dict(), "x": Evil(canary)}, path,
               _use_new_zipfile_serialization=zip_format)
    with pytest.raises(UnsafeCheckpointError, match=r"posix\.system|os\.system"):
        load(path)
    with pytest.raises(pickle.UnpicklingError):  # torch refuses it too
        torch.load(path, weights_only=True)


def test_refused_before_anything_runs(tmp_path, canary):
    # a payload after a refused global never gets to run, even with a valid prefix
    cmd = touch(canary)
    data = (b"\x80\x02(X\x01\x00\x00\x00acos\nsystem\nX" + len(cmd).to_bytes(4, "little") + cmd
            + b"\x85Rl.")
    with pytest.raises(UnsafeCheckpointError):
        load(zipped(tmp_path, data))


def test_rebuild_functions_unchanged_after_attacks(tmp_path):
    from ember.io import _unpickler

    fn = _unpickler._ALLOWLIST[("torch._utils", "_rebuild_tensor_v2")]
    before = fn.fn.__defaults__
    with pytest.raises(UnsafeCheckpointError):
        load(zipped(tmp_path, cases("x")["BUILD on an allowlisted function"][0]))
    assert fn.fn.__defaults__ == before
    with pytest.raises(UnsafeCheckpointError):
        load(zipped(tmp_path, cases("x")["BUILD with slot state on a dtype"][0]))
    assert ember.float32.name == "float32"


def _mutations(data, rng, n):
    for _ in range(n):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] = rng.choice([rng.randrange(256), b[i] ^ (1 << rng.randrange(8)), 0, 0xFF])
        yield bytes(b)


def _fixture_pickle():
    # a checkpoint with most of what real ones hold: OrderedDict+_metadata, views, params, leaves
    m = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.BatchNorm1d(2))
    w = ember.arange(6.0).view(2, 3)
    buf = io.BytesIO()
    save({"sd": m.state_dict(), "v": [w, w.t(), w[1]], "p": ember.nn.Parameter(ember.ones(2)),
          "x": (1, 2.5, "s", b"b", {3}, None, True, 2**70, ember.float16, ember.Size([1]))}, buf)
    return buf.getvalue()


ALLOWED = (pickle.UnpicklingError, NotImplementedError)


def test_fuzz_pickle_opcodes(tmp_path, canary):
    # mutate data.pkl inside a valid archive, so the unpickler itself sees the damage
    with zipfile.ZipFile(io.BytesIO(_fixture_pickle())) as z:
        records = {i.filename: z.read(i) for i in z.infolist()}
    pkl = next(k for k in records if k.endswith("/data.pkl"))
    rng = random.Random(1234)
    outcomes = {"ok": 0, "refused": 0}
    for i, data in enumerate(_mutations(records[pkl], rng, 200)):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for k, v in records.items():
                z.writestr(k, data if k == pkl else v)
        buf.seek(0)
        try:
            load(buf)
            outcomes["ok"] += 1
        except ALLOWED:
            outcomes["refused"] += 1
        except Exception as e:  # pragma: no cover - the failure report
            pytest.fail(f"mutation {i}: {type(e).__name__}: {e}")
    assert outcomes["refused"] > 50, outcomes


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_fuzz_whole_file(tmp_path, canary, fmt):
    from helpers import torch_or_skip

    if fmt == "zip":
        data = _fixture_pickle()
    else:
        torch = torch_or_skip()
        buf = io.BytesIO()
        torch.save({"sd": torch.nn.Linear(3, 2).state_dict(), "evil": Evil(canary)}, buf,
                   _use_new_zipfile_serialization=False)
        data = buf.getvalue()
    rng = random.Random(99)
    for i, bad in enumerate(_mutations(data, rng, 100)):
        try:
            load(io.BytesIO(bad))
        except ALLOWED + (ValueError, EOFError):  # ValueError: an unknown byteorder record
            pass
        except Exception as e:  # pragma: no cover
            pytest.fail(f"mutation {i}: {type(e).__name__}: {e}")
    for n in range(0, len(data), max(1, len(data) // 40)):  # every truncation point
        with pytest.raises(ALLOWED + (EOFError,)):
            load(io.BytesIO(data[:n]))


def test_no_unpickling_outside_ember_io():
    root = pathlib.Path(ember.__file__).parent
    # what ember's own processes send each other: the object collectives unpickle what the other
    # ranks of one job sent, as torch's do; a DataLoader unpickles its worker processes' batches
    # (multiprocessing's queues would unpickle them anyway)
    peers = {root / "distributed" / "distributed_c10d.py", root / "utils/data/_utils/worker.py"}
    for f in root.rglob("*.py"):
        text = f.read_text()
        if f in peers:
            assert text.count("pickle.loads(") == 1 and "pickle.load(" not in text, f
            continue
        assert "pickle.load(" not in text and "pickle.loads(" not in text, f
        if root / "io" not in f.parents:
            assert "Unpickler(" not in text, f


def test_allowlist_objects_are_inert():
    from ember.io import _unpickler

    for obj in _unpickler._ALLOWLIST.values():
        assert not isinstance(obj, type) and not hasattr(obj, "__dict__"), obj
        with pytest.raises(UnsafeCheckpointError):
            obj.__setstate__({})
    assert builtins.eval not in [getattr(o, "fn", None) for o in _unpickler._ALLOWLIST.values()]


def test_legacy_storage_section_lies(tmp_path):
    from helpers import torch_or_skip

    torch = torch_or_skip()
    path = tmp_path / "legacy.pt"
    torch.save({"w": torch.arange(4.0)}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    count = np.int64(4).tobytes()
    at = data.rindex(count)  # the element count written before the raw floats
    lie = data[:at] + np.int64(10**12).tobytes() + data[at + 8:]
    (tmp_path / "lie.pt").write_bytes(lie)
    with pytest.raises(UnsafeCheckpointError, match="size mismatch"):
        load(tmp_path / "lie.pt")
    (tmp_path / "short.pt").write_bytes(data[:-4])
    with pytest.raises(pickle.UnpicklingError):
        load(tmp_path / "short.pt")
