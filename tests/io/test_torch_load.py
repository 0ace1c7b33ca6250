"""ember.io.load on files real torch writes (made in tmp_path by torch), against torch.load."""
import collections
import io
import pickle
import tarfile
import zipfile

import numpy as np
import pytest

from helpers import torch_or_skip

import ember
from ember.io import load

torch = torch_or_skip()


def saved(tmp_path, obj, name="ckpt.pt", **kw):
    path = tmp_path / name
    torch.save(obj, path, **kw)
    return path


def roundtrip(tmp_path, same, obj, **kw):
    path = saved(tmp_path, obj, **kw)
    e = load(path)
    same(e, torch.load(path, weights_only=True) if kw.get("pickle_protocol", 2) == 2
         else torch.load(path, weights_only=False))
    return e


DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
          "uint8", "bool", "uint16", "uint32"]


@pytest.mark.parametrize("name", DTYPES)
def test_every_dtype(tmp_path, same, name):
    dt = getattr(torch, name)
    g = torch.Generator().manual_seed(0)
    if name == "bool":
        t = torch.rand(3, 4, generator=g) > 0.5
    elif dt.is_floating_point:
        t = (torch.randn(3, 4, generator=g) * 100).to(dt)
    else:
        info = torch.iinfo(dt)
        t = torch.tensor([[info.min, info.max, 0, 1]] * 3).to(dt)
    roundtrip(tmp_path, same, {"t": t, "t_T": t.t()})


def test_zero_d_and_empty(tmp_path, same):
    obj = {"scalar": torch.tensor(3.5), "long": torch.tensor(2**40), "empty": torch.empty(0, 5),
           "empty_i": torch.zeros(2, 0, 3, dtype=torch.int8)}
    e = roundtrip(tmp_path, same, obj)
    assert e["scalar"].shape == () and e["empty"].shape == (0, 5)


def test_views_share_one_storage(tmp_path, same, shares):
    base = torch.arange(12.0).view(3, 4)
    obj = {"base": base, "T": base.t(), "row": base[1], "step": base.view(-1)[::3],
           "expand": torch.tensor([7.0]).expand(5)}
    e = roundtrip(tmp_path, same, obj)
    for k in ("T", "row", "step"):
        assert shares(e["base"], e[k]), k
    e["base"][1, 0] = -1.0  # writes show through every view, as in torch
    assert e["row"][0].item() == -1.0 and e["T"][0, 1].item() == -1.0
    assert not e["expand"].numpy().flags.writeable  # its 5 elements alias one float


def test_lazy_neg_view(tmp_path, same):
    x = torch.tensor([1.0, -2.0, 3.0])
    neg = x._neg_view()
    assert neg.is_neg()
    e = roundtrip(tmp_path, same, {"neg": neg, "x": x})
    np.testing.assert_array_equal(e["neg"].numpy(), [-1.0, 2.0, -3.0])


def test_parameter_and_requires_grad(tmp_path, same):
    obj = {"p": torch.nn.Parameter(torch.ones(2, 3)),
           "frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
           "leaf": torch.zeros(3, requires_grad=True), "plain": torch.zeros(3)}
    e = roundtrip(tmp_path, same, obj)
    assert type(e["p"]) is ember.nn.Parameter and e["p"].requires_grad
    assert type(e["leaf"]) is ember.Tensor and e["leaf"].requires_grad and e["leaf"].is_leaf


def test_non_tensor_leaves(tmp_path, same):
    obj = {"none": None, "t": True, "f": False, "big": 2**70, "neg": -(2**40), "small": -3,
           "inf": float("inf"), "nan": float("nan"), "uni": "héllo ✓", "bytes": b"\x00\xff ok",
           "tuple": (1, 2.5, "x", None), "list": [1, [2, [3]]], "nested": {"a": {"b": {}}},
           "set": {1, 2, 3}, "complex": 1 + 2j, "size": torch.Size([2, 3]),
           "device": torch.device("cpu"), "dtype": torch.float16, "bf": torch.bfloat16,
           1: "int key", (1, 2): "tuple key"}
    e = roundtrip(tmp_path, same, obj)
    assert e["set"] == {1, 2, 3} and type(e["set"]) is set


def _model(nn):
    # a small ResNet-shaped tree: conv/bn/relu stem, a residual block with downsample, fc
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(8)
            self.downsample = nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, bias=False),
                                            nn.BatchNorm2d(8))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(y)) + self.downsample(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.layer1 = nn.Sequential(Block())
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            x = self.layer1(self.relu(self.bn1(self.conv1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return Net()


def _random_torch_model():
    torch.manual_seed(0)
    m = _model(torch.nn)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.num_batches_tracked.fill_(7)
    return m.eval()


@pytest.mark.parametrize("old_style", [False, True], ids=["torch2", "no_nbt_no_metadata"])
def test_state_dict_loads_into_ember_module(tmp_path, old_style):
    tm = _random_torch_model()
    sd = tm.state_dict()
    if old_style:  # like torchvision's resnet18-f37072fd.pth: saved before num_batches_tracked
        sd = collections.OrderedDict((k, v) for k, v in sd.items()
                                     if not k.endswith("num_batches_tracked"))
        assert not hasattr(sd, "_metadata")
    path = saved(tmp_path, sd, "net.pth")
    loaded = load(path)
    assert hasattr(loaded, "_metadata") != old_style
    em = _model(ember.nn).eval()
    em.load_state_dict(loaded)  # strict: fills num_batches_tracked like torch's BatchNorm
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(), want, atol=1e-4)
    nbt = em.state_dict()["bn1.num_batches_tracked"]
    assert nbt.item() == (0 if old_style else 7)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_full_training_checkpoint(tmp_path, same, opt):
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    o = (torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) if opt == "sgd"
         else torch.optim.Adam(m.parameters(), lr=1e-3))
    for _ in range(2):
        o.zero_grad()
        m(torch.randn(8, 4)).pow(2).mean().backward()
        o.step()
    e = roundtrip(tmp_path, same, {"model": m.state_dict(), "optimizer": o.state_dict(),
                                   "epoch": 3, "best": 0.5})
    assert e["epoch"] == 3


def test_legacy_format(tmp_path, same, shares):
    base = torch.arange(6.0)
    obj = {"w": base.view(2, 3), "tail": base[3:], "i": torch.tensor([1, 2], dtype=torch.int16),
           "p": torch.nn.Parameter(torch.ones(2)), "bf": torch.tensor([1.5], dtype=torch.bfloat16),
           "n": 4}
    e = roundtrip(tmp_path, same, obj, _use_new_zipfile_serialization=False)
    assert shares(e["w"], e["tail"])
    assert not zipfile.is_zipfile(tmp_path / "ckpt.pt")


def test_legacy_training_checkpoint(tmp_path, same):
    m = torch.nn.Linear(3, 2)
    o = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m(torch.ones(1, 3)).sum().backward()
    o.step()
    roundtrip(tmp_path, same, {"model": m.state_dict(), "optimizer": o.state_dict()},
              _use_new_zipfile_serialization=False)


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_newer_pickle_protocols(tmp_path, same, protocol):
    # torch's own weights_only loader rejects these (FRAME etc.); ember's reads them
    sd = torch.nn.Linear(3, 2).state_dict()
    roundtrip(tmp_path, same, {"sd": sd, "b": b"xy", "s": {1}}, pickle_protocol=protocol)


def test_big_endian_file(tmp_path):
    obj = {"f": torch.tensor([1.5, -2.0]), "i": torch.tensor([1, -(2**40)]),
           "h": torch.tensor([0.5, 3.0], dtype=torch.float16), "b": torch.tensor([True, False]),
           "u": torch.tensor([1, 65535], dtype=torch.uint16),
           "bf": torch.tensor([1.0, 3.0], dtype=torch.bfloat16)}
    little = saved(tmp_path, obj, "little.pt")
    sizes = {"0": 4, "1": 8, "2": 2, "3": 1, "4": 2, "5": 2}  # keys in the order torch met them
    big = tmp_path / "big.pt"
    with zipfile.ZipFile(little) as src, zipfile.ZipFile(big, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            name = info.filename.split("/", 1)[1]
            if name == "byteorder":
                data = b"big"
            elif name.startswith("data/"):
                item = sizes[name[5:]]
                data = np.frombuffer(data, f"<u{item}").astype(f">u{item}").tobytes()
            dst.writestr(info.filename, data)
    e, want = load(big), load(little)
    for k in obj:
        assert e[k].dtype == want[k].dtype
        np.testing.assert_array_equal(e[k].numpy(), want[k].numpy(), err_msg=k)
    np.testing.assert_array_equal(e["u"].numpy(), [1, 65535])


def test_file_objects(tmp_path, same):
    obj = {"w": torch.arange(4.0)}
    path = saved(tmp_path, obj)
    with open(path, "rb") as f:
        same(load(f), obj)
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    same(load(buf), obj)

    class Pipe(io.RawIOBase):  # readable, not seekable
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.data.readinto(b)

    same(load(io.BufferedReader(Pipe(path.read_bytes()))), obj)
    same(load(str(path)), obj)


@pytest.mark.parametrize("map_location", [None, "cpu", "cpu:0", {"cuda:0": "cpu"},
                                          lambda storage, loc: storage, lambda s, loc: None])
def test_map_location_to_cpu(tmp_path, same, map_location):
    obj = {"w": torch.arange(4.0)}
    same(load(saved(tmp_path, obj), map_location=map_location), obj)
    same(load(saved(tmp_path, obj), map_location=ember.device("cpu")), obj)


@pytest.mark.cpu_build
def test_map_location_to_missing_device(tmp_path):
    path = saved(tmp_path, {"w": torch.arange(4.0)})
    for ml in ("cuda", "cuda:1", {"cpu": "cuda:0"}):
        with pytest.raises(RuntimeError, match="CUDA"):
            load(path, map_location=ml)
    # (torch's CPU build fails inside its own code here, with a TypeError)
    with pytest.raises(AssertionError, match="not compiled with CUDA"):
        load(path, map_location=lambda storage, loc: storage.cuda())
    with pytest.raises(TypeError, match="map_location"):
        load(path, map_location=3)


def test_mmap(tmp_path, same):
    obj = {"w": torch.randn(64, 64), "i": torch.arange(10), "e": torch.empty(0)}
    path = saved(tmp_path, obj)
    e = load(path, mmap=True)
    same(e, obj)
    e["w"][0, 0] = 123.0  # copy-on-write: the file is untouched
    same(load(path), obj)
    with pytest.raises(ValueError, match="file path"), open(path, "rb") as f:
        load(f, mmap=True)
    legacy = saved(tmp_path, obj, "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap can only be used"):
        load(legacy, mmap=True)


def test_safetensors_by_content(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    path = tmp_path / "weights.bin"  # no telling suffix: recognised by its bytes
    st.save_file({"a": torch.arange(6.0).view(2, 3), "b": torch.tensor([1, 2])}, str(path))
    e = load(path)
    np.testing.assert_array_equal(e["a"].numpy(), np.arange(6.0).reshape(2, 3))
    assert e["b"].dtype == ember.int64


def test_arguments(tmp_path):
    path = saved(tmp_path, {"w": torch.ones(1)})
    assert load(path, weights_only=False)["w"].item() == 1.0  # trusted: torch's full unpickling
    assert load(path, weights_only=None)["w"].item() == 1.0
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        load(path, foo=1)
    assert load(path, encoding="latin1")["w"].item() == 1.0
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="path or a readable"):
        load(123)


def test_bad_files(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(EOFError):
        torch.load(empty)  # torch raises EOFError too
    with pytest.raises(EOFError, match="empty.pt"):
        load(empty)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"hello world, not a checkpoint" * 10)
    with pytest.raises(pickle.UnpicklingError, match="garbage.pt"):
        load(garbage)
    good = saved(tmp_path, {"w": torch.randn(100)}).read_bytes()
    for n in (10, len(good) // 2, len(good) - 30):
        cut = tmp_path / f"cut{n}.pt"
        cut.write_bytes(good[:n])
        with pytest.raises(pickle.UnpicklingError, match=f"cut{n}.pt"):
            load(cut)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit's own notice
def test_unsupported_content(tmp_path):
    with pytest.raises(NotImplementedError, match="complex32"):
        load(saved(tmp_path, {"c": torch.tensor([1 + 2j], dtype=torch.complex32)}))
    with pytest.raises(NotImplementedError, match="uint64"):
        load(saved(tmp_path, {"u": torch.tensor([1], dtype=torch.uint64)}))
    with pytest.raises(NotImplementedError, match="sparse"):
        load(saved(tmp_path, {"s": torch.eye(2).to_sparse()}))
    ts = tmp_path / "script.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), ts)
    with pytest.raises(RuntimeError, match="TorchScript"):
        load(ts)
    tar = tmp_path / "old.tar.pth"
    member = tmp_path / "sys_info"
    member.write_bytes(b"x")
    with tarfile.open(tar, "w") as t:
        t.add(member, arcname="sys_info")
    with pytest.raises(RuntimeError, match="legacy .tar format"):
        load(tar)
