"""ember.io.safetensors against the safetensors package (the oracle) and real torch."""
import io
import json
import os
import struct

import numpy as np
import pytest

import ember
from ember.io import safetensors as S
from helpers import torch_or_skip

torch = torch_or_skip()
st = pytest.importorskip("safetensors.torch")
sn = pytest.importorskip("safetensors.numpy")

NP_DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32,
             np.float64]


def _sample(rng):
    """One tensor per dtype plus awkward layouts: 0-d, empty, F-order, strided, negative step."""
    out = {}
    for i, dt in enumerate(NP_DTYPES):
        a = rng.integers(-100, 100, size=(2, 3)) if dt != np.bool_ else rng.random((2, 3)) > 0.5
        out[f"t{i}_{np.dtype(dt).name}"] = a.astype(dt)
    out["scalar"] = np.array(3.5, dtype=np.float32)
    out["empty"] = np.zeros((0, 4), dtype=np.float32)
    out["fortran"] = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    out["transposed"] = np.arange(12, dtype=np.int64).reshape(3, 4).T
    out["strided"] = np.arange(24, dtype=np.float64)[::2]
    out["reversed"] = np.arange(5, dtype=np.int32)[::-1]
    out["big_endian"] = np.arange(6, dtype=">f4").reshape(2, 3)
    return out


def _ember(arrays):
    return {k: ember.Tensor._make(v) for k, v in arrays.items()}


def _torch(arrays):
    # np.array(order="C"), not np.ascontiguousarray, which turns 0-d arrays into 1-d ones
    return {k: torch.from_numpy(np.array(v, dtype=v.dtype.newbyteorder("="), order="C"))
            for k, v in arrays.items()}


def _assert_same(ours, arrays):
    assert set(ours) == set(arrays)
    for k, v in arrays.items():
        got = ours[k].numpy() if isinstance(ours[k], ember.Tensor) else np.asarray(ours[k])
        assert got.shape == v.shape, k
        assert got.dtype == v.dtype.newbyteorder("="), (k, got.dtype, v.dtype)
        np.testing.assert_array_equal(got, v, err_msg=k)


# -- writing -----------------------------------------------------------------------------------
def test_round_trip(tmp_path, rng):
    arrays = _sample(rng)
    S.save(_ember(arrays), tmp_path / "a.safetensors", metadata={"format": "pt", "epoch": "3"})
    back = S.load(tmp_path / "a.safetensors")
    assert all(isinstance(t, ember.Tensor) for t in back.values())
    _assert_same(back, arrays)
    assert S.load_metadata(tmp_path / "a.safetensors") == {"format": "pt", "epoch": "3"}
    # loaded tensors are ordinary writable tensors
    back["t7_float32"].add_(1)


def test_bytes_identical_to_reference_writer(rng):
    arrays = _sample(rng)
    arrays["ünïcode name"] = np.ones(3, dtype=np.float16)
    buf = io.BytesIO()
    # one metadata key: the package writes metadata from a hash map, in no fixed order
    S.save(_ember(arrays), buf, metadata={"format": "pt"})
    assert buf.getvalue() == st.save(_torch(arrays), metadata={"format": "pt"})
    buf = io.BytesIO()
    S.save(_ember(arrays), buf)
    assert buf.getvalue() == st.save(_torch(arrays))


def test_files_load_in_the_package(tmp_path, rng):
    arrays = _sample(rng)
    path = tmp_path / "a.safetensors"
    S.save_file(_ember(arrays), path)
    _assert_same(sn.load_file(str(path)), arrays)
    by_torch = st.load_file(str(path))
    _assert_same({k: v.numpy() for k, v in by_torch.items()}, arrays)
    with open(path, "rb") as f:
        assert S.is_safetensors(f.read(16))


def test_header_padded_and_aligned(rng):
    buf = io.BytesIO()
    S.save(_ember(_sample(rng)), buf)
    raw = buf.getvalue()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0 and raw[8:9] == b"{"
    header = json.loads(raw[8:8 + n])
    for k, v in header.items():
        size = np.dtype(sn._getdtype(v["dtype"])).itemsize
        assert v["data_offsets"][0] % size == 0, k


def test_shared_memory_refused_like_the_package(tmp_path):
    cases = [
        lambda b: {"w": b, "tied": b},                     # one array twice (tied weights)
        lambda b: {"w": b.reshape(3, 4), "row": b[4:8]},  # a view inside another
        lambda b: {"a": b[:8], "b": b[6:]},                # partial overlap
    ]
    for case in cases:
        path = tmp_path / "x.safetensors"
        path.write_bytes(b"previous")
        with pytest.raises(RuntimeError, match="share memory") as err:
            S.save(_ember(case(np.arange(12, dtype=np.float32))), path)
        for name in case(np.arange(12)):
            assert repr(name) in str(err.value)
        assert path.read_bytes() == b"previous"
        with pytest.raises(RuntimeError, match="share memory"):
            st.save(case(torch.arange(12, dtype=torch.float32)))


def test_disjoint_slices_of_one_buffer_allowed():
    base = np.arange(12, dtype=np.float32)
    arrays = {"a": base[:4], "b": base[4:]}
    buf = io.BytesIO()
    S.save(_ember(arrays), buf)
    tb = torch.arange(12, dtype=torch.float32)
    assert buf.getvalue() == st.save({"a": tb[:4], "b": tb[4:]})
    _assert_same(S.load(buf.getvalue()), arrays)


def test_type_errors():
    t = ember.ones(2)
    with pytest.raises(TypeError, match="names must be str"):
        S.save({1: t}, io.BytesIO())
    with pytest.raises(TypeError, match="must be a Tensor"):
        S.save({"a": np.ones(2)}, io.BytesIO())
    with pytest.raises(TypeError, match="dict"):
        S.save([t], io.BytesIO())
    with pytest.raises(TypeError, match="metadata"):
        S.save({"a": t}, io.BytesIO(), metadata={"epoch": 3})
    with pytest.raises(TypeError, match="metadata"):
        S.save({"a": t}, io.BytesIO(), metadata={3: "x"})
    with pytest.raises(ValueError, match="reserved"):
        S.save({"__metadata__": t}, io.BytesIO())


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "x.safetensors"
    S.save({"a": ember.ones(3)}, path)
    before = path.read_bytes()

    def boom(a):
        raise KeyboardInterrupt

    monkeypatch.setattr(S, "_chunks", boom)
    with pytest.raises(KeyboardInterrupt):
        S.save({"a": ember.zeros(3)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["x.safetensors"]


def test_file_objects(tmp_path):
    buf = io.BytesIO(b"prefix")
    buf.seek(0, io.SEEK_END)
    S.save({"a": ember.arange(4)}, buf)
    buf.seek(len(b"prefix"))
    out = S.load(buf)  # reads from the current position
    np.testing.assert_array_equal(out["a"].numpy(), np.arange(4))
    assert S.load_metadata(buf.getvalue()[6:]) is None
    # a real file object, positioned after some other data
    path = tmp_path / "joined.bin"
    path.write_bytes(buf.getvalue())
    with open(path, "rb") as f:
        f.seek(len(b"prefix"))
        np.testing.assert_array_equal(S.load(f)["a"].numpy(), np.arange(4))



def test_cuda_tensors_write_host_bytes_and_load_file_places_tensors(tmp_path):
    # CUDA tensors are read back to the host to be written; views of one device array are still
    # refused; load_file(device=) puts the tensors there (safetensors.torch's signature)
    if not ember.cuda.is_available():
        pytest.skip("needs a CUDA device (pytest --device fakecuda)")
    w = ember.arange(6.0, device="cuda").view(2, 3)
    with pytest.raises(RuntimeError, match="share memory"):
        S.save({"w": w, "t": w.t()}, io.BytesIO())
    path = tmp_path / "cuda.safetensors"
    S.save({"w": w, "b": ember.tensor([1, 2], device="cuda"), "c": ember.ones(2, device="cpu")},
           path)
    got = sn.load_file(str(path))
    np.testing.assert_array_equal(got["w"], np.arange(6.0, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(got["b"], [1, 2])
    assert not S.load(path)["w"].is_cuda and not S.load_file(path)["w"].is_cuda
    on = S.load_file(path, device="cuda")
    assert all(t.device == ember.device("cuda", 0) for t in on.values())
    np.testing.assert_array_equal(on["w"].cpu().numpy(), got["w"])

# -- reading files written by the package ------------------------------------------------------
def test_reads_reference_files(tmp_path):
    ts = {
        "bf16": torch.tensor([1.0, -3.5, 1e30, float("inf"), float("nan")], dtype=torch.bfloat16),
        "f16": torch.randn(3, 2).half(),
        "u16": torch.tensor([0, 1, 65535], dtype=torch.uint16),
        "u32": torch.tensor([0, 4294967295], dtype=torch.uint32),
        "u64": torch.tensor([0, 2**63 - 1], dtype=torch.uint64),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "b": torch.tensor([[True, False]]),
        "zero_d": torch.tensor(7, dtype=torch.int64),
        "empty": torch.zeros(2, 0),
    }
    path = tmp_path / "ref.safetensors"
    st.save_file(ts, str(path), metadata={"format": "pt"})
    out = S.load_file(path)
    assert S.load_metadata(path) == {"format": "pt"}
    widened = {"u16": torch.int32, "u32": torch.int64, "u64": torch.int64}  # (bf16 stays bf16)
    for k, v in ts.items():
        want = v.to(widened[k]) if k in widened else v
        assert str(out[k].dtype).split(".")[1] == str(want.dtype).split(".")[1], k
        got = out[k].float() if k == "bf16" else out[k]
        np.testing.assert_array_equal(got.numpy(), (want.float() if k == "bf16" else want).numpy(),
                                      err_msg=k)


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                                  "float8_e5m2fnuz"])
def test_reads_float8_widened(name):
    dt = getattr(torch, name, None)
    if dt is None:
        pytest.skip(f"torch has no {name}")
    every = torch.arange(256, dtype=torch.uint8).view(dt)
    try:
        raw = st.save({"x": every})
    except Exception as e:  # older package versions lack the FNUZ formats
        pytest.skip(f"safetensors cannot write {name}: {e}")
    got = S.load(raw)["x"]
    assert got.dtype == ember.float32
    np.testing.assert_array_equal(got.numpy(), every.float().numpy())


def test_u64_out_of_range_refused():
    raw = st.save({"x": torch.tensor([2**63], dtype=torch.uint64)})
    with pytest.raises(S.SafetensorError, match="int64"):
        S.load(raw)


def test_is_safetensors(tmp_path):
    assert S.is_safetensors(st.save({"a": torch.ones(2)}))
    torch.save({"a": torch.ones(2)}, tmp_path / "zip.pt")
    torch.save({"a": torch.ones(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for f in ("zip.pt", "legacy.pt"):
        assert not S.is_safetensors((tmp_path / f).read_bytes()[:64])
    assert not S.is_safetensors(b"")
    assert not S.is_safetensors(b"\x08\0\0\0\0\0\0\0")  # too short to tell
    assert not S.is_safetensors(b"\x08\0\0\0\0\0\0\0[")
    assert not S.is_safetensors(struct.pack("<Q", 10**9) + b"{")


# -- corrupted files: each rule of the reference reader ----------------------------------------
E = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


def _mk(header=None, data=b"", n=None, raw=None):
    text = raw if raw is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if n is None else n) + text + data


BAD = {
    "too short": (b"\1\0\0", "too short"),
    "header too large": (_mk({"a": E}, b"\0" * 8, n=100_000_001), "exceeds the limit"),
    "header past end": (_mk({"a": E}, n=500), "runs past the end"),
    "not utf-8": (_mk(raw=b'{"\xff":1}'), "UTF-8"),
    "bad json": (_mk(raw=b'{"a":'), "JSON"),
    "trailing garbage": (_mk(raw=json.dumps({"a": E}).encode() + b" x", data=b"\0" * 8), "JSON"),
    "not an object": (_mk(raw=b"[1, 2]"), "object"),
    "duplicate key": (_mk(raw=b'{"a":' + json.dumps(E).encode() + b',"a":' + json.dumps(
        dict(E, data_offsets=[8, 16])).encode() + b"}", data=b"\0" * 16), "duplicate"),
    "unknown dtype": (_mk({"a": dict(E, dtype="F33")}, b"\0" * 8), "F33"),
    "gap at start": (_mk({"a": dict(E, data_offsets=[4, 12])}, b"\0" * 12), "start at 0"),
    "overlap": (_mk({"a": E, "b": dict(E, data_offsets=[4, 12])}, b"\0" * 12), "start at 8"),
    "end before begin": (_mk({"a": dict(E, shape=[0], data_offsets=[8, 0])}, b"\0" * 8),
                         "data_offsets"),
    "size mismatch": (_mk({"a": dict(E, shape=[3])}, b"\0" * 8), "needs 12 bytes"),
    "extra data": (_mk({"a": E}, b"\0" * 12), "holds 12"),
    "truncated data": (_mk({"a": E}, b"\0" * 4), "truncated"),
    "negative dim": (_mk({"a": dict(E, shape=[-2])}, b"\0" * 8), "shape"),
    "bool dim": (_mk({"a": dict(E, shape=[True, 2])}, b"\0" * 8), "shape"),
    "float offset": (_mk({"a": dict(E, data_offsets=[0.0, 8])}, b"\0" * 8), "data_offsets"),
    "missing field": (_mk({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8), "keys"),
    "metadata not str": (_mk({"__metadata__": {"x": 1}, "a": E}, b"\0" * 8), "__metadata__"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_corrupt_files_rejected(case, tmp_path):
    raw, msg = BAD[case]
    with pytest.raises(S.SafetensorError, match=msg) as err:
        S.load(raw)
    assert isinstance(err.value, ValueError)
    # the oracle agrees the file is invalid
    with pytest.raises(Exception):
        st.load(raw)
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(S.SafetensorError, match="bad.safetensors"):
        S.load(path)


def test_complex_refused_with_clear_error():
    raw = st.save({"c": torch.ones(2, dtype=torch.complex64)})
    with pytest.raises(S.SafetensorError, match="C64"):
        S.load(raw)


def test_lenient_where_the_reference_is():
    # the reference accepts these, so ember does too
    ok = [
        _mk(raw=b" " + json.dumps({"a": E}).encode(), data=b"\0" * 8),
        _mk({"a": dict(E, extra=1)}, b"\0" * 8),
        _mk({"__metadata__": None, "a": E}, b"\0" * 8),
        _mk({}),
    ]
    for raw in ok:
        st.load(raw)
        S.load(raw)
