"""ember.io.save writes files real torch reads (weights_only=True, mmap, computed offsets)."""
import collections
import io
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from helpers import torch_or_skip

import ember
from ember.io import load, save

torch = torch_or_skip()
# torch.load(map_location="cpu") throughout: under --device the tensors saved are CUDA ones, their
# storages tagged cuda:0, which torch's CPU build reads only when mapped to the CPU


def ember_objects():
    g = np.random.default_rng(0)
    base = ember.tensor(np.arange(12.0, dtype=np.float32)).view(3, 4)
    lin = ember.nn.Linear(4, 3)
    model = ember.nn.Sequential(ember.nn.Conv2d(3, 4, 3), ember.nn.BatchNorm2d(4))
    return {
        "dtypes": {name: ember.tensor(g.integers(0, 2, (2, 3)) if name == "bool" else
                                      g.standard_normal((2, 3)) * 50).to(getattr(ember, name))
                   for name in ("float16", "float32", "float64", "int8", "int16", "int32",
                                "int64", "uint8", "bool")},
        "scalar": ember.tensor(2.5), "long": ember.tensor(2**40), "empty": ember.zeros(0, 5),
        "views": {"base": base, "T": base.t(), "row": base[1], "step": base.view(-1)[::3]},
        "param": lin.weight, "frozen": ember.nn.Parameter(ember.ones(2), requires_grad=False),
        "leaf": ember.zeros(3, requires_grad=True),
        "model": model.state_dict(),
        "leaves": [None, True, False, 2**70, -5, 1.5, float("inf"), "héllo", b"\x00\xff",
                   (1, (2, 3)), {1, 2}, 1 + 2j, ember.Size([2, 3]), ember.device("cpu"),
                   ember.float16, np.float32(0.25), np.int64(7)],
    }


def as_torch_expects(obj):
    # numpy scalars are saved as the Python numbers they hold
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        out = type(obj)((k, as_torch_expects(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):
            out._metadata = obj._metadata
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(as_torch_expects(v) for v in obj)
    return obj


def test_torch_reads_every_kind_of_object(tmp_path, same):
    obj = ember_objects()
    path = tmp_path / "ember.pt"
    save(obj, path)
    t = torch.load(path, map_location="cpu", weights_only=True)
    same(as_torch_expects(obj), t)
    assert isinstance(t["model"], collections.OrderedDict)
    assert t["model"]._metadata == obj["model"]._metadata
    assert isinstance(t["param"], torch.nn.Parameter) and t["param"].requires_grad
    assert t["leaf"].requires_grad and not t["frozen"].requires_grad
    assert t["empty"].stride() == (5, 1)
    v = t["views"]
    ptr = v["base"].untyped_storage().data_ptr()
    assert all(v[k].untyped_storage().data_ptr() == ptr for k in ("T", "row", "step"))
    v["base"][1, 0] = -1.0
    assert v["row"][0] == -1.0 and v["T"][0, 1] == -1.0
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        names = z.namelist()
    assert names[:4] == ["ember/data.pkl", "ember/.format_version", "ember/.storage_alignment",
                         "ember/byteorder"]
    assert names[-2:] == ["ember/version", "ember/.data/serialization_id"]


def test_torch_mmap_and_computed_offsets(tmp_path, same):
    obj = ember_objects()
    path = tmp_path / "ember.pt"
    save(obj, path)
    want = as_torch_expects(obj)
    same(want, torch.load(path, map_location="cpu", weights_only=True, mmap=True))
    from torch.utils.serialization import config

    old = config.load.calculate_storage_offsets
    config.load.calculate_storage_offsets = True  # trusts miniz's exact layout
    try:
        same(want, torch.load(path, map_location="cpu", weights_only=True, mmap=True))
    finally:
        config.load.calculate_storage_offsets = old


def test_torch_serialization_debug(tmp_path):
    # TORCH_SERIALIZATION_DEBUG is read when torch loads the file: it asserts that every computed
    # record offset equals the real one. The environment variable needs a fresh interpreter.
    path = tmp_path / "ember.pt"
    save(ember_objects(), path)
    script = (
        "import sys, torch\n"
        "from torch.utils.serialization import config\n"
        "a = torch.load(sys.argv[1], map_location='cpu', weights_only=True)\n"
        "config.load.calculate_storage_offsets = True\n"
        "b = torch.load(sys.argv[1], map_location='cpu', weights_only=True, mmap=True)\n"
        "assert torch.equal(a['views']['base'], b['views']['base'])\n"
        "print('ok')\n")
    env = dict(os.environ, TORCH_SERIALIZATION_DEBUG="1")
    out = subprocess.run([sys.executable, "-c", script, str(path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_payloads_are_aligned_like_torch(tmp_path):
    path = tmp_path / "ember.pt"
    save(ember_objects(), path)
    with open(path, "rb") as f, zipfile.ZipFile(path) as z:
        for info in z.infolist():
            f.seek(info.header_offset + 26)
            n, m = np.frombuffer(f.read(4), "<u2")
            assert (info.header_offset + 30 + n + m) % 64 == 0, info.filename


def test_ember_round_trip(tmp_path, shares):
    obj = ember_objects()
    path = tmp_path / "rt.pt"
    save(obj, path)
    e = load(path)
    assert e["model"]._metadata == obj["model"]._metadata
    for k in obj["dtypes"]:
        assert e["dtypes"][k].dtype == obj["dtypes"][k].dtype
        np.testing.assert_array_equal(e["dtypes"][k].numpy(), obj["dtypes"][k].numpy())
    assert all(shares(e["views"]["base"], e["views"][k]) for k in ("T", "row", "step"))
    assert e["leaves"][:12] == obj["leaves"][:12]
    assert e["leaves"][12:15] == obj["leaves"][12:15] and e["leaves"][15:] == [0.25, 7]
    assert type(e["param"]) is ember.nn.Parameter
    # saving what was loaded keeps the sharing (views of the loaded storage stay one record)
    save(e, tmp_path / "again.pt")
    t = torch.load(tmp_path / "again.pt", map_location="cpu", weights_only=True)
    assert t["views"]["T"].untyped_storage().data_ptr() == \
        t["views"]["base"].untyped_storage().data_ptr()


def test_tied_weights_and_shared_containers(tmp_path):
    w = ember.nn.Parameter(ember.randn(4, 3))
    shared = [1, 2]
    cyclic = []
    cyclic.append(cyclic)
    obj = {"enc": w, "dec": w, "a": shared, "b": shared, "cyc": cyclic}
    save(obj, tmp_path / "tied.pt")
    t = torch.load(tmp_path / "tied.pt", map_location="cpu", weights_only=True)
    assert t["enc"] is t["dec"] and t["a"] is t["b"] and t["cyc"][0] is t["cyc"]
    e = load(tmp_path / "tied.pt")
    assert e["enc"] is e["dec"] and e["a"] is e["b"] and e["cyc"][0] is e["cyc"]


def test_unshareable_views_are_copied(tmp_path):
    base = np.arange(10.0, dtype=np.float32)
    flipped = ember.from_numpy(base[::-1].copy())  # a plain array
    neg_stride = ember.Tensor._make(base[::-1])   # negative strides: torch has none
    save({"a": flipped, "b": neg_stride}, tmp_path / "neg.pt")
    t = torch.load(tmp_path / "neg.pt", map_location="cpu", weights_only=True)
    np.testing.assert_array_equal(t["b"].numpy(), base[::-1])


def test_file_object_and_protocols(tmp_path):
    buf = io.BytesIO()
    save({"w": ember.ones(3)}, buf, pickle_protocol=4)
    buf.seek(0)
    assert torch.equal(torch.load(buf, map_location="cpu", weights_only=True)["w"], torch.ones(3))
    with pytest.raises(ValueError, match="pickle_protocol"):
        save({}, io.BytesIO(), pickle_protocol=1)


def test_unsupported_object_names_its_path(tmp_path):
    path = tmp_path / "keep.pt"
    save({"w": ember.ones(2)}, path)
    before = path.read_bytes()

    class Custom:
        pass

    with pytest.raises(TypeError, match=r"Custom at obj\['model'\]\['x'\]\[1\]"):
        save({"model": {"x": [1, Custom()]}}, path)
    with pytest.raises(TypeError, match="Custom"):  # a local class cannot be pickled whole
        save({"a": Custom}, path)
    assert path.read_bytes() == before  # nothing was written: the old file is intact
    assert sorted(os.listdir(tmp_path)) == ["keep.pt"]  # and no temporary file is left
    buf = io.BytesIO()
    with pytest.raises(TypeError):
        save([Custom()], buf)
    assert buf.getvalue() == b""


def test_safetensors_format(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    tensors = {"a": ember.arange(6.0).view(2, 3), "b": ember.tensor([1, 2])}
    save(tensors, tmp_path / "w.safetensors")
    save(tensors, tmp_path / "w.bin", format="safetensors")
    for name in ("w.safetensors", "w.bin"):
        got = st.load_file(str(tmp_path / name))
        np.testing.assert_array_equal(got["a"], np.arange(6.0, dtype=np.float32).reshape(2, 3))
        e = load(tmp_path / name)
        np.testing.assert_array_equal(e["b"].numpy(), [1, 2])
    with pytest.raises(ValueError, match="format"):
        save(tensors, tmp_path / "x", format="npz")


def test_zip64_layout(tmp_path, monkeypatch):
    # Records of 4 GiB are too big for a test; lowering the threshold exercises the same code:
    # zip64 extras, 24-byte descriptors and placeholder sizes, which zipfile must still read.
    from ember.io import _zip

    monkeypatch.setattr(_zip, "_LIMIT", 200)
    obj = {"w": ember.arange(100.0), "small": ember.ones(2)}
    save(obj, tmp_path / "z64.pt")
    with zipfile.ZipFile(tmp_path / "z64.pt") as z:
        assert z.testzip() is None
        assert z.getinfo("z64/data/0").file_size == 400
    e = load(tmp_path / "z64.pt")
    np.testing.assert_array_equal(e["w"].numpy(), np.arange(100.0))
    t = torch.load(tmp_path / "z64.pt", map_location="cpu", weights_only=True)
    np.testing.assert_array_equal(t["w"].numpy(), np.arange(100.0))


def test_archive_name_follows_the_file_name(tmp_path):
    for name, folder in [("model.v2.pt", "model.v2"), ("noext", "noext"), ("ünï.pt", "archive")]:
        save({"w": ember.ones(1)}, tmp_path / name)
        torch.save({"w": torch.ones(1)}, tmp_path / ("torch_" + name))
        with zipfile.ZipFile(tmp_path / name) as z:
            assert z.namelist()[0] == f"{folder}/data.pkl"
    with pytest.raises(pickle.UnpicklingError):
        load(io.BytesIO(b"PK\x03\x04 nothing else"))
