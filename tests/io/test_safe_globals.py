"""torch 2.13's serialization surface: the user's allowlist for weights_only=True (add_safe_globals,
safe_globals, get/clear_safe_globals, get_unsafe_globals_in_checkpoint) and weights_only=False,
which trusts the file and unpickles it whole (ember.save(model) round trips; torch's whole-model
files load as ember models)."""
import collections
import io

import numpy as np
import pytest

import ember
from ember.io import UnsafeCheckpointError
from ember.serialization import (add_safe_globals, clear_safe_globals, get_safe_globals,
                                 get_unsafe_globals_in_checkpoint, safe_globals)
from helpers import torch_or_skip

torch = torch_or_skip()


class Box:
    """A user class holding a tensor and a number (rebuilt by NEWOBJ + BUILD)."""

    def __init__(self, t, k):
        self.t, self.k = t, k


class Stateful:
    """A user class with __setstate__ (BUILD calls it, as torch's unpickler does)."""

    def __init__(self, v):
        self.v = v

    def __getstate__(self):
        return {"payload": self.v}

    def __setstate__(self, state):
        self.v = state["payload"]
        self.restored = True


Point = collections.namedtuple("Point", "x y")


def scaled(t, k):
    return t * k


class Scaled:
    """Pickles as a call of the module-level function ``scaled`` (REDUCE on a function)."""

    def __init__(self, t):
        self.t = t

    def __reduce__(self):
        return (scaled, (self.t, 2))


@pytest.fixture(autouse=True)
def _clean_allowlists():
    clear_safe_globals()
    torch.serialization.clear_safe_globals()
    yield
    clear_safe_globals()
    torch.serialization.clear_safe_globals()


def _torch_file(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    buf.seek(0)
    return buf


def test_registry_functions_as_torch():
    assert get_safe_globals() == []
    add_safe_globals([Box, (Point, "somewhere.Point")])
    assert set(get_safe_globals()) == {Box, (Point, "somewhere.Point")}
    with safe_globals([Stateful]):
        assert set(get_safe_globals()) == {Box, (Point, "somewhere.Point"), Stateful}
    assert Stateful not in get_safe_globals()
    clear_safe_globals()
    assert get_safe_globals() == []


@pytest.mark.parametrize("bad", [[(Box, "a", "b")], [(Box, 3)]])
def test_bad_tuples_fail_as_torch(bad):
    buf = _torch_file({"b": Box(torch.ones(1), 1)})
    data = buf.getvalue()
    add_safe_globals(bad)
    torch.serialization.add_safe_globals(bad)
    with pytest.raises(Exception) as t_err:
        torch.load(io.BytesIO(data))
    with pytest.raises(Exception) as e_err:
        ember.load(io.BytesIO(data))
    assert type(e_err.value) is type(t_err.value)
    assert str(t_err.value) in str(e_err.value)


def test_unlisted_class_is_refused_naming_the_fix():
    data = _torch_file({"b": Box(torch.ones(2), 3)}).getvalue()
    with pytest.raises(UnsafeCheckpointError) as err:
        ember.load(io.BytesIO(data))
    msg = str(err.value)
    assert "test_safe_globals.Box" in msg and "add_safe_globals" in msg
    assert "weights_only=False" in msg


def test_allowlisted_classes_rebuilt_as_torch_rebuilds_them():
    obj = {"box": Box(torch.arange(3.0), 7), "st": Stateful(torch.ones(2)),
           "pt": Point(torch.zeros(1), 5), "sc": Scaled(torch.ones(2)),
           "w": torch.nn.Linear(2, 2).state_dict()}
    data = _torch_file(obj).getvalue()
    allow = [Box, Stateful, Point, scaled]
    with safe_globals(allow), torch.serialization.safe_globals(allow):
        e = ember.load(io.BytesIO(data))
        t = torch.load(io.BytesIO(data))
    assert type(e["box"]) is Box and e["box"].k == t["box"].k == 7
    assert isinstance(e["box"].t, ember.Tensor) and e["box"].t.tolist() == t["box"].t.tolist()
    assert type(e["st"]) is Stateful and e["st"].restored and t["st"].restored
    assert isinstance(e["st"].v, ember.Tensor) and e["st"].v.tolist() == [1.0, 1.0]
    assert type(e["pt"]) is Point and isinstance(e["pt"].x, ember.Tensor) and e["pt"].y == 5
    assert isinstance(e["sc"], ember.Tensor) and e["sc"].tolist() == t["sc"].tolist() == [2, 2]
    assert list(e["w"]) == list(t["w"])
    # outside the block the allowlist is gone again, in both
    with pytest.raises(UnsafeCheckpointError):
        ember.load(io.BytesIO(data))


def test_a_global_saved_under_another_name():
    data = _torch_file({"p": Point(torch.ones(1), 2)}).getvalue()
    add_safe_globals([(Point, "test_safe_globals.Point")])
    assert ember.load(io.BytesIO(data))["p"].y == 2


def test_get_unsafe_globals_in_checkpoint_as_torch():
    files = [
        _torch_file({"b": Box(torch.ones(1), 1), "s": Stateful(1)}),
        _torch_file(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())),
        _torch_file({"w": torch.ones(2), "n": torch.nn.Parameter(torch.ones(1)),
                     "d": torch.float16, "sz": torch.Size([2]), "dev": torch.device("cpu"),
                     "c": 1 + 2j, "st": {1, 2}, "od": collections.OrderedDict(a=1)}),
    ]
    for buf in files:
        data = buf.getvalue()
        expected = torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data))
        got = get_unsafe_globals_in_checkpoint(io.BytesIO(data))
        assert sorted(got) == sorted(expected)
    add_safe_globals([Box])
    torch.serialization.add_safe_globals([Box])
    data = files[0].getvalue()
    assert (get_unsafe_globals_in_checkpoint(io.BytesIO(data))
            == torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)))


def test_get_unsafe_globals_from_a_path(tmp_path):
    path = tmp_path / "m.pt"
    ember.save(ember.nn.Linear(2, 2), path)
    assert get_unsafe_globals_in_checkpoint(path) == ["ember.nn.modules.linear.Linear"]
    ember.save({"w": ember.ones(1)}, path)
    assert get_unsafe_globals_in_checkpoint(str(path)) == []


class Net(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = ember.nn.Conv2d(1, 2, 3)
        self.bn = ember.nn.BatchNorm2d(2)
        self.head = ember.nn.Sequential(ember.nn.Flatten(), ember.nn.Linear(2 * 4 * 4, 3))
        self.register_buffer("scale", ember.tensor(2.0))
        self.note = "kept"

    def forward(self, x):
        return self.head(ember.relu(self.bn(self.conv(x)))) * self.scale


def test_whole_module_round_trips_with_weights_only_false(tmp_path):
    net = Net()
    net.head[1].weight.data.mul_(3)  # not the initial weights
    net.eval()
    path = tmp_path / "net.pt"
    ember.save(net, path)
    with pytest.raises(UnsafeCheckpointError, match="test_safe_globals.Net"):
        ember.load(path)  # weights_only=True stays the default
    back = ember.load(path, weights_only=False)
    assert type(back) is Net and back.note == "kept" and not back.training
    assert list(back.state_dict()) == list(net.state_dict())
    for k, v in net.state_dict().items():
        assert back.state_dict()[k].tolist() == v.tolist(), k
    x = ember.randn(2, 1, 6, 6)
    assert (back(x) == net(x)).all()
    assert isinstance(back.conv.weight, ember.nn.Parameter) and back.conv.weight.requires_grad
    back(x).sum().backward()  # a working model: hooks, buffers, parameters in place
    assert back.conv.weight.grad is not None


def test_whole_optimizer_and_tied_weights_round_trip(tmp_path):
    lin = ember.nn.Linear(3, 3)
    model = ember.nn.Sequential(lin, ember.nn.ReLU(), lin)  # one module twice
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(ember.ones(1, 3)).sum().backward()
    opt.step()
    ember.save({"model": model, "opt": opt, "arr": np.arange(3)}, tmp_path / "all.pt")
    back = ember.load(tmp_path / "all.pt", weights_only=False)
    m, o = back["model"], back["opt"]
    assert m[0] is m[2]
    assert o.param_groups[0]["params"][0] is m[0].weight  # the optimizer holds the same tensors
    assert o.state_dict()["state"][0]["momentum_buffer"].tolist() == \
        opt.state_dict()["state"][0]["momentum_buffer"].tolist()
    np.testing.assert_array_equal(back["arr"], np.arange(3))


@pytest.mark.parametrize("zip_format", [True, False])
def test_torch_whole_model_files_load_as_ember_models(tmp_path, zip_format):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU(),
                             torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 3),
                             torch.nn.Dropout(0.1))
    tm.eval()
    path = tmp_path / "torch_model.pt"
    torch.save(tm, path, _use_new_zipfile_serialization=zip_format)
    em = ember.load(path, weights_only=False)
    assert isinstance(em, ember.nn.Sequential) and isinstance(em[4], ember.nn.Linear)
    assert repr(em) == repr(tm)
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    assert all(not p.is_cuda for p in em.parameters())  # torch's file says "cpu"
    em.to(ember.get_default_device())  # (the default device: cuda under --device)
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(),
                               tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert list(em.state_dict()) == list(tm.state_dict())


def test_weights_only_false_still_checks_storages(tmp_path):
    # trusting the pickle does not mean trusting sizes: a storage that lies is still refused
    path = tmp_path / "w.pt"
    torch.save({"w": torch.arange(4.0)}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    count = np.int64(4).tobytes()
    at = data.rindex(count)
    (tmp_path / "lie.pt").write_bytes(data[:at] + np.int64(10**12).tobytes() + data[at + 8:])
    with pytest.raises(UnsafeCheckpointError, match="size mismatch"):
        ember.load(tmp_path / "lie.pt", weights_only=False)


class Norm:
    """Does tensor maths in __init__ and __setstate__: torch gives both real tensors."""

    def __init__(self, t):
        self.total = float(t.sum())
        self.t = t

    def __reduce__(self):
        return (Norm, (self.t,), {"extra": self.t * 2})

    def __setstate__(self, state):
        self.extra_sum = float(state["extra"].sum())


def test_allowlisted_code_gets_real_tensors_and_sharing_is_kept():
    t = torch.arange(3.0)
    data = _torch_file({"n": Norm(t), "t": t}).getvalue()
    with safe_globals([Norm]), torch.serialization.safe_globals([Norm]):
        e = ember.load(io.BytesIO(data))
        tt = torch.load(io.BytesIO(data))
    assert (e["n"].total, e["n"].extra_sum) == (tt["n"].total, tt["n"].extra_sum) == (3.0, 6.0)
    assert e["n"].t is e["t"]  # the tensor REDUCE got is the one the file returns
    assert isinstance(e["t"], ember.Tensor) and e["t"].tolist() == [0.0, 1.0, 2.0]


def test_weights_only_false_gives_code_real_tensors_too(tmp_path):
    ember.save({"n": Norm(ember.arange(4.0))}, tmp_path / "n.pt")
    back = ember.load(tmp_path / "n.pt", weights_only=False)
    assert (back["n"].total, back["n"].extra_sum) == (6.0, 12.0)
