"""The limits ``ember.load`` sets on untrusted files, tested in-process at their edges: what is
refused and what still loads (the hostile cases themselves run confined, in
test_hostile_files.py)."""
import io
import os
import pickle
import zipfile

import hostile as h
import numpy as np
import pytest

import ember
from ember import hub
from ember.io import UnsafeCheckpointError, load
from ember.io import _unpickler
from ember.io._zip import BadZipFile, UnsafeZipFile, ZipReader


def archive_file(pkl, records=(), compress=None):
    recs = {"data.pkl": pkl, "version": b"3\n"}
    recs.update({f"data/{i}": r for i, r in enumerate(records)})
    return io.BytesIO(h.archive(recs, compress))


# -- nesting ---------------------------------------------------------------------------------------
def nested_tuple(depth):
    return h.program(b")" + b"\x85" * (depth - 1))  # () is depth 1, each TUPLE1 adds one


def test_nesting_up_to_the_limit_loads():
    obj = load(archive_file(nested_tuple(_unpickler.MAX_DEPTH)))
    depth = 0
    while isinstance(obj, tuple):
        obj = obj[0] if obj else None
        depth += 1
    assert depth == _unpickler.MAX_DEPTH
    with pytest.raises(UnsafeCheckpointError, match=f"more than {_unpickler.MAX_DEPTH} levels"):
        load(archive_file(nested_tuple(_unpickler.MAX_DEPTH + 1)))


def test_what_pythons_pickler_writes_is_within_the_limit():
    # pickle itself refuses deeper structures (its recursion limit), so none reach ember
    x = ()
    while True:
        try:
            data = pickle.dumps((x,), 2)
        except RecursionError:
            break
        x = (x,)
    deepest = h.program(data[2:-1])
    load(archive_file(deepest))  # loads, and is deeper than any torch.save could write


def test_containers_grown_late_count():
    # L0 = [L1], then L1 grown through the memo: the pre-scan counts L1's late growth
    body = (b"]r" + (0).to_bytes(4, "little") + b"]r" + (1).to_bytes(4, "little") + b"a"
            + b"j" + (1).to_bytes(4, "little") + b"]a0")
    assert load(archive_file(h.program(body))) == [[[]]]


def test_unwrap_needs_no_recursion():
    # lists nested to the limit convert without Python's recursion limit (1000 frames)
    pkl = h.program(b"(" * (_unpickler.MAX_DEPTH - 1) + b"]" + b"l" * (_unpickler.MAX_DEPTH - 1))
    obj = load(archive_file(pkl))
    for _ in range(_unpickler.MAX_DEPTH - 1):
        (obj,) = obj
    assert obj == []


def test_error_messages_stay_short():
    big = "x" * 10**6
    pkl = h.program(b"(" + h.text(big) + b"tQ")  # a persistent id the loader refuses
    with pytest.raises(UnsafeCheckpointError, match="bad persistent id") as e:
        load(archive_file(pkl))
    assert len(str(e.value)) < 1000


# -- views -----------------------------------------------------------------------------------------
def test_negated_views_share_their_negated_storage():
    # w = x.expand(...) plain, n and m lazy-negated views of the same storage: n and m share the
    # negated copy, w the original; nothing is as large as the views
    pkl = h.tensor_list([h.tensor(2, [1000, 2], [0, 1]),
                         h.tensor(2, [1000, 2], [0, 1], neg=True),
                         h.tensor(2, [2], [1], neg=True)])
    w, n, m = load(archive_file(pkl, [np.array([1.5, -2.0], np.float32).tobytes()]))
    assert w[999].tolist() == [1.5, -2.0] and n[999].tolist() == [-1.5, 2.0]
    assert m.tolist() == [-1.5, 2.0]
    assert np.shares_memory(n.numpy(), m.numpy())
    assert not np.shares_memory(w.numpy(), n.numpy())
    assert not n.numpy().flags.writeable  # stride 0: elements alias each other
    assert n.numpy().base.nbytes == 8


def test_neg_views_match_torch(tmp_path):
    from helpers import torch_or_skip

    torch = torch_or_skip()
    x = torch.tensor([1.5, -2.0, 3.0])
    obj = {"n": x._neg_view(), "e": x._neg_view()[:2].expand(3, 2), "x": x,
           "i": torch.tensor([1, -2])._neg_view().expand(2, 2)}
    torch.save(obj, tmp_path / "neg.pt")
    e = load(tmp_path / "neg.pt")
    t = torch.load(tmp_path / "neg.pt", weights_only=True)
    for k in obj:
        np.testing.assert_array_equal(e[k].numpy(), t[k].resolve_neg().numpy(), err_msg=k)


# -- zip records -----------------------------------------------------------------------------------
def test_duplicate_names_are_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", h.program(h.tensor(1, [1], [1])))
        z.writestr("archive/data/0", np.float32(1).tobytes())
        with pytest.warns(UserWarning):
            z.writestr("archive/data/0", np.float32(2).tobytes())
    buf.seek(0)
    with pytest.raises(UnsafeCheckpointError, match="'archive/data/0' appears twice"):
        load(buf)


def test_deflated_records_load():
    # torch reads checkpoints whose records were compressed (re-zipped by hand); so does ember
    pkl = h.program(h.tensor(1000, [1000], [1]))
    f = archive_file(pkl, [np.arange(1000, dtype=np.float32).tobytes()],
                     {"data.pkl": zipfile.ZIP_DEFLATED, "data/0": zipfile.ZIP_DEFLATED})
    assert load(f).tolist() == list(range(1000))


def test_an_archive_inside_a_larger_file():
    buf = io.BytesIO()
    ember.save({"w": ember.arange(3.0)}, buf)
    f = io.BytesIO(b"header" * 10 + buf.getvalue())
    f.seek(60)
    assert load(f)["w"].tolist() == [0.0, 1.0, 2.0]


def test_zip_reader_checks_every_record():
    data = h.archive({"data.pkl": b"x" * 100, "data/0": bytes(10)})
    reader = ZipReader(io.BytesIO(data), "t.pt")
    assert [e.name for e in reader.entries.values()] == ["archive/data.pkl", "archive/data/0"]
    assert bytes(reader.read(reader.entries["archive/data.pkl"])) == b"x" * 100
    with pytest.raises(UnsafeZipFile, match="t.pt: 'archive/data.pkl' is stored uncompressed"):
        ZipReader(io.BytesIO(h.patch_record(data, "data.pkl", file_size=101)), "t.pt")
    bad_crc = data.replace(b"x" * 100, b"y" * 100)
    reader = ZipReader(io.BytesIO(bad_crc))
    with pytest.raises(BadZipFile, match="bad CRC-32"):
        reader.read(reader.entries["archive/data.pkl"])
    with pytest.raises(BadZipFile, match="no end of central directory"):
        ZipReader(io.BytesIO(data[:-10]))


# -- formats and streams ---------------------------------------------------------------------------
class _Stream(io.RawIOBase):
    """A non-seekable stream of ``data``, a few bytes per read."""

    def __init__(self, data):
        self.data = memoryview(data)

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), 7, len(self.data))
        b[:n] = self.data[:n]
        self.data = self.data[n:]
        return n


@pytest.mark.parametrize("fmt", ["zip", "legacy", "safetensors"])
def test_non_seekable_streams_load(fmt):
    if fmt == "legacy":
        data = h.legacy(h.program(h.tensor(3, [3], [1])), {"0": np.arange(3, dtype=np.float32)})
    else:
        buf = io.BytesIO()
        ember.save({"w": ember.arange(3.0)}, buf, format="torch" if fmt == "zip" else fmt)
        data = buf.getvalue()
    out = load(_Stream(data))
    assert (out if fmt == "legacy" else out["w"]).tolist() == [0.0, 1.0, 2.0]


def test_a_pickle_that_is_not_a_legacy_checkpoint():
    with pytest.raises(pickle.UnpicklingError, match="Invalid magic number"):
        load(io.BytesIO(pickle.dumps({"a": 1}, 2)))


# -- the hub's legacy zip --------------------------------------------------------------------------
def _cached(tmp_path, name, member, data, method=zipfile.ZIP_DEFLATED):
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    with zipfile.ZipFile(cache / name, "w", method) as z:
        z.writestr(member, data)
    return cache


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("fmt", ["legacy", "zip"])
def test_hub_legacy_zip_member_is_unpacked_as_read(tmp_path, method, fmt):
    if fmt == "legacy":
        data = h.legacy(h.program(h.tensor(5, [5], [1])), {"0": np.arange(5, dtype=np.float32)})
    else:  # a zip-format checkpoint inside: read from its end first, so unpacked whole
        buf = io.BytesIO()
        ember.save(ember.arange(5.0), buf)
        data = buf.getvalue()
    cache = _cached(tmp_path, "m-0123abcd.pth", "inner.pth", data, method)
    t = hub.load_state_dict_from_url("http://127.0.0.1:9/m-0123abcd.pth", model_dir=str(cache),
                                     progress=False)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert sorted(os.listdir(cache)) == ["m-0123abcd.pth"]  # nothing extracted or left behind


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_hub_legacy_zip_member_that_lies(tmp_path):
    data = h.legacy(h.program(h.tensor(5, [5], [1])), {"0": np.arange(5, dtype=np.float32)})
    cache = _cached(tmp_path, "m-0123abcd.pth", "inner.pth", data)
    path = cache / "m-0123abcd.pth"
    raw = path.read_bytes()
    at = len(raw) - 22 - 46 - len("inner.pth") + 24  # the directory's uncompressed size
    path.write_bytes(raw[:at] + (len(data) + 1).to_bytes(4, "little") + raw[at + 4:])
    with pytest.raises(pickle.UnpicklingError, match="m-0123abcd.pth:inner.pth"):
        hub.load_state_dict_from_url("http://127.0.0.1:9/m-0123abcd.pth", model_dir=str(cache),
                                     progress=False)
