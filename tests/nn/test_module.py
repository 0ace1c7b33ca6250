"""Module, Parameter and the containers, checked against torch: registration, iteration,
state_dict/load_state_dict (keys, metadata, error text), reprs, hooks, modes, casts, copies."""
from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember import nn
from helpers import torch_or_skip


def _to_ember(text: str) -> str:
    return text.replace("torch.", "ember.").replace("torch Tensor", "ember Tensor")


def _error(fn):
    """``(type name, message)`` of what ``fn()`` raises, with torch's names made ember's."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - we compare whatever is raised
        return type(e).__name__, _to_ember(str(e))
    raise AssertionError("no exception raised")


def _copy_weights(src_torch, dst_ember):
    """Loads torch's state_dict values into the ember twin through NumPy."""
    sd = OrderedDict((k, ember.tensor(v.detach().numpy().copy())) for k, v in
                     src_torch.state_dict().items())
    dst_ember.load_state_dict(sd)


# -- models built the same way in both libraries -------------------------------------------------

def _make_net(lib):
    nn_ = lib.nn

    class Block(nn_.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn_.Linear(4, 4)
            self.register_buffer("running", lib.zeros(4))
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.scale = nn_.Parameter(lib.ones(1))

        def forward(self, x):
            return self.fc(x) * self.scale + self.running

    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.features = nn_.Sequential(nn_.Linear(3, 4), Block(), nn_.Identity())
            self.heads = nn_.ModuleList([nn_.Linear(4, 2) for _ in range(3)])
            self.extra = nn_.ModuleDict({"b": nn_.Linear(4, 1, bias=False), "a": nn_.Identity()})
            self.plist = nn_.ParameterList([nn_.Parameter(lib.zeros(2, 3)), lib.ones(5)])
            self.pdict = nn_.ParameterDict({"y": nn_.Parameter(lib.zeros(2)), "x": lib.ones(1)})
            self.empty = nn_.Sequential()
            self.fc = nn_.Linear(4, 10)

        def forward(self, x):
            h = self.features(x)
            return self.fc(h) + sum(head(h).sum() for head in self.heads)

    return Net()


def _pair():
    torch = torch_or_skip()
    t = _make_net(torch)
    e = _make_net(ember)
    _copy_weights(t, e)
    return torch, t, e


# -- Parameter -----------------------------------------------------------------------------------

def test_parameter_repr_matches_torch():
    torch = torch_or_skip()
    for data in ([1.0, 2.0], [[1.5, -2.0], [3.0, 4.0]], 3.0):
        assert repr(nn.Parameter(ember.tensor(data))) == repr(
            torch.nn.Parameter(torch.tensor(data)))
        assert repr(nn.Parameter(ember.tensor(data), requires_grad=False)) == repr(
            torch.nn.Parameter(torch.tensor(data), requires_grad=False))
    assert _to_ember(repr(torch.nn.Parameter(torch.ones(2, dtype=torch.float64)))) == repr(
        nn.Parameter(ember.ones(2, dtype=ember.float64)))
    assert repr(nn.Parameter()) == repr(torch.nn.Parameter())
    assert repr(nn.Parameter(ember.tensor([1, 2]), requires_grad=False)) == repr(
        torch.nn.Parameter(torch.tensor([1, 2]), requires_grad=False))


def test_parameter_is_a_leaf_tensor_sharing_data():
    x = ember.ones(3)
    p = nn.Parameter(x)
    assert isinstance(p, ember.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    with ember.no_grad():
        p.add_(1)
    assert x.tolist() == [2.0, 2.0, 2.0]  # same memory
    assert x._version == p._version == 1  # and the same version counter, as in torch
    y = x * 2
    y.requires_grad_(False)
    assert nn.Parameter(ember.ones(2, requires_grad=True) * 2).is_leaf


def test_ops_on_parameters_give_plain_tensors():
    p = nn.Parameter(ember.ones(2, 2))
    for out in (p * 2, p + p, p.sum(), p.t(), p.detach(), p.data, p[0]):
        assert type(out) is ember.Tensor


def test_parameter_deepcopy_and_pickle_keep_the_class():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    p.grad = ember.ones(2)
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad and q.tolist() == [1.0, 2.0]
    assert q.grad is None  # torch copies neither .grad nor attributes of a Parameter
    with ember.no_grad():
        q.add_(1)
    assert p.tolist() == [1.0, 2.0]
    r = pickle.loads(pickle.dumps(nn.Parameter(ember.zeros(2), requires_grad=False)))
    assert type(r) is nn.Parameter and not r.requires_grad


def test_parameter_of_integer_tensor_must_not_require_grad():
    torch = torch_or_skip()
    assert _error(lambda: nn.Parameter(ember.tensor([1, 2]))) == _error(
        lambda: torch.nn.Parameter(torch.tensor([1, 2])))


def test_buffer_marks_a_tensor_for_registration():
    m = nn.Module()
    m.a = nn.Buffer(ember.ones(2))
    m.b = nn.Buffer(ember.zeros(1), persistent=False)
    assert list(m._buffers) == ["a", "b"] and m._non_persistent_buffers_set == {"b"}
    assert isinstance(m.a, nn.Buffer) and not isinstance(ember.ones(1), nn.Buffer)
    assert list(m.state_dict()) == ["a"]


# -- registration and attribute routing ----------------------------------------------------------

def test_setattr_routes_parameters_modules_and_buffers():
    m = nn.Linear(2, 3)
    assert list(m._parameters) == ["weight", "bias"]
    m.register_buffer("stat", ember.zeros(3))
    old = m.stat
    m.stat = ember.ones(3)  # a plain tensor assigned to a buffer's name updates the buffer
    assert m._buffers["stat"] is not old and m.stat.tolist() == [1.0, 1.0, 1.0]
    m.sub = nn.Identity()
    assert "sub" in m._modules and "sub" not in m.__dict__
    new = nn.Linear(2, 2)
    m.sub = new  # replacing a module
    assert m.sub is new and list(m._modules) == ["sub"]
    m.bias = None
    assert m.bias is None and "bias" in m._parameters
    assert list(m.state_dict()) == ["weight", "stat", "sub.weight", "sub.bias"]
    m.plain = 3
    assert m.__dict__["plain"] == 3
    m.plain = nn.Parameter(ember.zeros(1))  # an attribute becomes a parameter
    assert "plain" not in m.__dict__ and "plain" in m._parameters
    del m.plain, m.stat, m.sub
    assert "plain" not in m._parameters and "stat" not in m._buffers and "sub" not in m._modules


def test_registration_errors_match_torch():
    torch = torch_or_skip()

    def cases(lib):
        def lin():
            return lib.nn.Linear(3, 2)

        return [
            lambda: setattr(lin(), "weight", lib.zeros(2, 3)),
            lambda: setattr(lin(), "weight", lib.zeros(2, 3, dtype=lib.float64)),
            lambda: lin().foo,
            lambda: lin().register_parameter("x", lib.zeros(2)),
            lambda: lin().register_parameter("a.b", None),
            lambda: lin().register_parameter("", None),
            lambda: lin().register_parameter("forward", None),
            lambda: lin().register_buffer("weight", lib.zeros(2)),
            lambda: lin().register_buffer("a.b", lib.zeros(2)),
            lambda: lin().register_buffer("", lib.zeros(2)),
            lambda: lin().register_buffer("x", 3),
            lambda: lin().add_module("x", 3),
            lambda: lin().add_module("weight", lib.nn.ReLU() if lib is torch else nn.Identity()),
            lambda: lin().add_module("a.b", lin()),
            lambda: lin().get_submodule("a.b"),
            lambda: lin().get_parameter("bias.x"),
            lambda: lin().get_parameter("in_features"),
            lambda: lib.nn.Sequential(lin()).get_submodule("0.weight"),
            lambda: lin().get_buffer("weight"),
            lambda: lin().train(1),
            lambda: lin().to(lib.int64),
            lambda: lib.nn.Module().forward(1),
            lambda: lib.nn.Module(3),
            lambda: lin().load_state_dict([1]),
            lambda: lib.nn.Sequential(lin())[1],
            lambda: lib.nn.ModuleList([lin()])[-2],
            lambda: lib.nn.Sequential(lin()) + lib.nn.ModuleList(),
            lambda: lib.nn.ParameterList()(1),
            lambda: lib.nn.ParameterDict()[1],
        ]

    for i, (e_case, t_case) in enumerate(zip(cases(ember), cases(torch))):
        e_err, t_err = _error(e_case), _error(t_case)
        t_err = (t_err[0], t_err[1].replace("ReLU", "Identity"))
        if "nn.Module.to only accepts" in t_err[1]:  # torch prints its dtype, "ember.int64" here
            t_err = (t_err[0], t_err[1].replace("torch.", "ember."))
        assert e_err == t_err, (i, e_err, t_err)


def test_getattr_error_names_the_class():
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'foo'"):
        nn.Linear(1, 1).foo


def test_dir_lists_members():
    m = nn.Linear(2, 2)
    m.register_buffer("buf", ember.zeros(1))
    names = dir(m)
    assert {"weight", "bias", "buf", "forward", "in_features"} <= set(names)
    assert names == sorted(names)
    assert "0" not in dir(nn.Sequential(nn.Identity()))


def test_submodule_parameter_and_buffer_lookup():
    _, _, e = _pair()
    assert e.get_submodule("features.1.fc") is e.features[1].fc
    assert e.get_submodule("") is e
    assert e.get_parameter("features.1.scale") is e.features[1].scale
    assert e.get_buffer("features.1.running") is e.features[1].running
    new = nn.Linear(4, 4)
    e.set_submodule("features.1.fc", new)
    assert e.features[1].fc is new


# -- iteration -----------------------------------------------------------------------------------

def test_named_members_match_torch():
    torch, t, e = _pair()

    def names(it):
        return [n for n, _ in it]

    for fn in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        assert names(getattr(e, fn)()) == names(getattr(t, fn)()), fn
    assert names(e.named_parameters(prefix="m", recurse=False)) == names(
        t.named_parameters(prefix="m", recurse=False))
    assert names(e.named_modules(prefix="root")) == names(t.named_modules(prefix="root"))
    assert len(list(e.parameters())) == len(list(t.parameters()))
    assert len(list(e.buffers(recurse=False))) == 0


def test_shared_modules_and_parameters_are_yielded_once():
    torch = torch_or_skip()

    def build(lib):
        shared = lib.nn.Linear(2, 2)
        seq = lib.nn.Sequential(shared, lib.nn.Tanh() if lib is torch else lib.nn.Identity(),
                                shared)
        other = lib.nn.Linear(2, 2)
        other.weight = shared.weight  # a tied weight
        seq.add_module("tied", other)
        return seq

    e, t = build(ember), build(torch)
    for fn in ("named_parameters", "named_modules"):
        assert [n for n, _ in getattr(e, fn)()] == [n for n, _ in getattr(t, fn)()]
        assert [n for n, _ in getattr(e, fn)(remove_duplicate=False)] == [
            n for n, _ in getattr(t, fn)(remove_duplicate=False)]
    assert len(list(e.parameters())) == 3
    assert list(e.state_dict()) == list(t.state_dict())


# -- state_dict ----------------------------------------------------------------------------------

def test_state_dict_keys_values_and_metadata_match_torch():
    torch, t, e = _pair()
    e_sd, t_sd = e.state_dict(), t.state_dict()
    assert type(e_sd) is OrderedDict
    assert list(e_sd) == list(t_sd)
    assert e_sd._metadata == t_sd._metadata
    for k in t_sd:
        np.testing.assert_array_equal(e_sd[k].numpy(), t_sd[k].numpy())
        assert type(e_sd[k]) is ember.Tensor and not e_sd[k].requires_grad
    kept = e.state_dict(keep_vars=True)
    assert kept["fc.weight"] is e.fc.weight
    assert list(e.state_dict(prefix="model.")) == list(t.state_dict(prefix="model."))
    assert e.state_dict(prefix="model.")._metadata == t.state_dict(prefix="model.")._metadata


def test_state_dict_values_share_memory():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    with ember.no_grad():
        m.weight.fill_(3.0)
    assert sd["weight"].tolist() == [[3.0, 3.0], [3.0, 3.0]]


def test_round_trip_torch_to_ember_to_torch():
    torch, t, e = _pair()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(e(ember.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    t2 = _make_net(torch)
    r = t2.load_state_dict({k: torch.tensor(v.numpy().copy()) for k, v in e.state_dict().items()})
    assert repr(r) == "<All keys matched successfully>"
    for k, v in t.state_dict().items():
        assert torch.equal(t2.state_dict()[k], v)


def test_load_state_dict_copies_in_place_keeping_identity():
    m = nn.Linear(2, 2)
    w = m.weight
    version = w._version
    r = m.load_state_dict({"weight": ember.ones(2, 2), "bias": ember.zeros(2)})
    assert m.weight is w and w.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert w.requires_grad and w.grad_fn is None and w._version > version
    assert r.missing_keys == [] and r.unexpected_keys == []
    assert repr(r) == str(r) == "<All keys matched successfully>"


def test_load_state_dict_results_and_errors_match_torch():
    torch = torch_or_skip()

    def cases(lib):
        z = lib.zeros
        return [
            ({"weight": z(2, 2), "bias": z(2)}, True),
            ({"weight": z(2, 2), "x": z(2)}, False),
            ({"weight": z(2, 2), "x": z(2)}, True),
            ({"weight": z(3, 2), "x": z(2)}, True),
            ({"weight": z(3, 2), "bias": z(2)}, True),
            ({"weight": z(3, 2), "bias": z(2)}, False),
            ({"weight": z(2, 2), "bias": z(2), "bias.x": z(1)}, True),
            ({"weight": [1.0], "bias": z(2)}, True),
            ({}, True),
        ]

    for (e_sd, strict), (t_sd, _) in zip(cases(ember), cases(torch)):
        e_m, t_m = nn.Linear(2, 2), torch.nn.Linear(2, 2)
        try:
            t_out = repr(t_m.load_state_dict(t_sd, strict=strict))
        except Exception as ex:  # noqa: BLE001
            t_out = (type(ex).__name__, _to_ember(str(ex)))
        try:
            e_out = repr(e_m.load_state_dict(e_sd, strict=strict))
        except Exception as ex:  # noqa: BLE001
            e_out = (type(ex).__name__, str(ex))
        assert e_out == t_out


def test_nested_load_errors_match_torch():
    torch, t, e = _pair()
    bad_t = {k: v for k, v in t.state_dict().items() if "heads.1" not in k}
    bad_t["fc.weight"] = torch.zeros(3, 4)
    bad_t["features.9.weight"] = torch.zeros(1)
    bad_e = {k: ember.tensor(v.numpy().copy()) for k, v in bad_t.items()}
    assert _error(lambda: e.load_state_dict(bad_e)) == _error(lambda: t.load_state_dict(bad_t))
    res_t = t.load_state_dict({k: v for k, v in bad_t.items() if k != "fc.weight"}, strict=False)
    res_e = e.load_state_dict({k: v for k, v in bad_e.items() if k != "fc.weight"}, strict=False)
    assert repr(res_e) == repr(res_t)


def test_failed_load_modifies_nothing():
    e = _make_net(ember)
    before = {k: v.numpy().copy() for k, v in e.state_dict().items()}
    versions = {k: v._version for k, v in e.state_dict(keep_vars=True).items()}
    sd = {k: ember.full_like(v, 7.0) for k, v in e.state_dict().items()}
    sd["fc.weight"] = ember.zeros(3, 3)  # one size mismatch among many good entries
    with pytest.raises(RuntimeError, match="size mismatch for fc.weight"):
        e.load_state_dict(sd)
    del sd["fc.weight"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "fc.weight"'):
        e.load_state_dict(sd)
    for k, v in e.state_dict(keep_vars=True).items():
        np.testing.assert_array_equal(v.detach().numpy(), before[k])
        assert v._version == versions[k]
    e.load_state_dict(sd, strict=False)  # the same dict loads when missing keys are allowed
    assert float(e.features[0].weight[0, 0]) == 7.0


def test_assign_installs_the_given_tensors():
    m = nn.Linear(2, 2)
    w = ember.ones(2, 2, dtype=ember.float64)
    m.load_state_dict({"weight": w, "bias": ember.zeros(2)}, assign=True)
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    assert m.weight.dtype == ember.float64 and m.weight.data_ptr() == w.data_ptr()


def _versioned_module(lib):
    """A module that, like torch's BatchNorm, fills in a buffer that old checkpoints lack."""

    class Counted(lib.nn.Module):
        _version = 2

        def __init__(self):
            super().__init__()
            self.weight = lib.nn.Parameter(lib.ones(2))
            self.register_buffer("count", lib.tensor(5))

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                                  unexpected_keys, error_msgs):
            version = local_metadata.get("version", None)
            if (version is None or version < 2) and prefix + "count" not in state_dict:
                state_dict[prefix + "count"] = lib.tensor(0)
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                          missing_keys, unexpected_keys, error_msgs)

    return lib.nn.Sequential(lib.nn.Linear(2, 2), Counted())


def test_load_from_state_dict_override_fills_old_checkpoints_like_torch():
    torch = torch_or_skip()
    e, t = _versioned_module(ember), _versioned_module(torch)
    assert e.state_dict()._metadata == t.state_dict()._metadata
    old_t = t.state_dict()
    del old_t["1.count"]
    old_t._metadata["1"]["version"] = 1
    old_e = OrderedDict((k, ember.tensor(v.numpy().copy())) for k, v in old_t.items())
    old_e._metadata = copy.deepcopy(old_t._metadata)
    assert repr(e.load_state_dict(old_e)) == repr(t.load_state_dict(old_t))
    assert e[1].count.item() == t[1].count.item() == 0
    assert "1.count" not in old_e  # load_state_dict worked on a copy
    # a current-version checkpoint without the key is reported as missing, in both
    new_t = t.state_dict()
    del new_t["1.count"]
    new_e = e.state_dict()
    del new_e["1.count"]
    assert _error(lambda: e.load_state_dict(new_e)) == _error(lambda: t.load_state_dict(new_t))


def test_load_state_dict_hooks():
    m = nn.Linear(2, 2)
    seen = []
    m.register_load_state_dict_pre_hook(lambda mod, sd, prefix, *rest: seen.append(sorted(sd)))

    def post(module, keys):
        seen.append(list(keys.missing_keys))
        keys.missing_keys.clear()  # a post hook may forgive missing keys

    m.register_load_state_dict_post_hook(post)
    m.load_state_dict({"weight": ember.ones(2, 2)})
    assert seen == [["weight"], ["bias"]]
    assert m.weight.tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_extra_state_round_trips():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.value = 1

        def get_extra_state(self):
            return {"value": self.value}

        def set_extra_state(self, state):
            self.value = state["value"]

    a, b = WithExtra(), WithExtra()
    a.value = 5
    sd = a.state_dict()
    assert list(sd) == ["_extra_state"]
    b.load_state_dict(sd)
    assert b.value == 5
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "_extra_state"'):
        b.load_state_dict({})


def test_state_dict_hooks():
    m = nn.Linear(2, 2)
    calls = []
    m.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: calls.append(prefix))
    h = m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: calls.append(list(sd)))
    m.state_dict()
    assert calls == ["", ["weight", "bias"]]
    h.remove()
    m.state_dict()
    assert calls == ["", ["weight", "bias"], ""]


# -- reprs ---------------------------------------------------------------------------------------

def test_nested_repr_matches_torch():
    torch, t, e = _pair()
    assert repr(e) == repr(t).replace("torch.", "ember.")


def test_container_reprs_match_torch():
    torch = torch_or_skip()

    def build(lib):
        n = lib.nn
        same = [n.Linear(2, 2) for _ in range(3)]
        return [
            n.Module(),
            n.Sequential(),
            n.ModuleList(),
            n.ModuleDict(),
            n.ParameterList(),
            n.ModuleList(same + [n.Linear(2, 3), n.Linear(2, 3), n.Identity()]),
            n.ModuleList([n.Sequential(n.Linear(1, 1), n.Identity())] * 2 + [n.Identity()]),
            n.Sequential(*same),  # Sequential does not collapse repeats
            n.Sequential(OrderedDict([("first", n.Linear(1, 2)), ("second", n.Identity())])),
            n.ModuleDict([("x", n.Linear(1, 1)), ("y", n.ModuleList([n.Identity()]))]),
            n.ParameterList([n.Parameter(lib.zeros(2, 3)), lib.ones(4, dtype=lib.float64)]),
            n.ParameterDict({"b": lib.zeros(2), "a": n.Parameter(lib.ones(1, 2, 3))}),
            n.Linear(512, 10, bias=False),
        ]

    for e_m, t_m in zip(build(ember), build(torch)):
        assert repr(e_m) == repr(t_m).replace("torch.", "ember."), (repr(e_m), repr(t_m))


def test_multiline_extra_repr_and_none_children():
    torch = torch_or_skip()

    def build(lib):
        class Custom(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = lib.nn.Linear(1, 1)
                self.gone = None
                self.register_module("missing", None)

            def extra_repr(self):
                return "a=1,\nb=2"

        return Custom()

    assert repr(build(ember)) == repr(build(torch))


# -- modes, grads, casts -------------------------------------------------------------------------

def test_train_eval_propagate():
    torch, t, e = _pair()
    for m in (e, t):
        m.eval()
    assert [m.training for m in e.modules()] == [m.training for m in t.modules()] == [False] * len(
        list(t.modules()))
    e.features.train()
    t.features.train()
    assert [m.training for m in e.modules()] == [m.training for m in t.modules()]
    assert e.train() is e and all(m.training for m in e.modules())


def test_zero_grad_and_requires_grad_():
    m = nn.Linear(3, 2)
    m(ember.ones(4, 3)).sum().backward()
    assert m.weight.grad is not None
    g = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is g and not g.numpy().any()
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    assert m.requires_grad_(False) is m
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_apply_visits_children_first_like_torch():
    torch, t, e = _pair()
    e_order, t_order = [], []
    e.apply(lambda m: e_order.append(type(m).__name__))
    t.apply(lambda m: t_order.append(type(m).__name__))
    assert e_order == t_order


def test_casts_keep_parameter_identity():
    m = nn.Sequential(nn.Linear(2, 2))
    m.register_buffer("count", ember.tensor(3))
    m.register_buffer("stat", ember.zeros(2))
    w = m[0].weight
    m[0](ember.ones(1, 2)).sum().backward()
    assert m.double() is m
    assert m[0].weight is w and w.dtype == ember.float64 and w.requires_grad
    assert w.grad.dtype == ember.float64
    assert m.stat.dtype == ember.float64 and m.count.dtype == ember.int64
    m.to(ember.float32)
    assert w.dtype == ember.float32 and m.stat.dtype == ember.float32
    m.to("cpu", dtype=ember.float64)
    assert w.dtype == ember.float64
    m.to(ember.ones(1, dtype=ember.float16))
    assert w.dtype == ember.float16
    m.float()
    assert w.dtype == ember.float32 and m.count.dtype == ember.int64
    m.half()
    assert w.dtype == ember.float16
    m.type(ember.float64)
    assert w.dtype == ember.float64 and m.count.dtype == ember.float64  # type() casts all
    m.type("ember.FloatTensor")
    assert w.dtype == ember.float32
    assert m.cpu() is m and m[0].weight is w
    out = m(ember.ones(1, 2, device=w.device))
    assert out.dtype == ember.float32
    if not ember.cuda.is_available():  # torch's CPU build's error
        with pytest.raises(AssertionError, match="not compiled with CUDA"):
            m.to("cuda")


# -- hooks and calling ---------------------------------------------------------------------------

def test_forward_hooks_match_torch():
    torch = torch_or_skip()

    def run(lib):
        log = []
        m = lib.nn.Linear(2, 2)
        with lib.no_grad():
            m.weight.copy_(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
            m.bias.zero_()
        h1 = m.register_forward_pre_hook(lambda mod, args: log.append("pre1") or (args[0] * 2,))
        m.register_forward_pre_hook(lambda mod, args: log.append("pre0"), prepend=True)
        m.register_forward_pre_hook(
            lambda mod, args, kw: (log.append(sorted(kw)), (args, {}))[1], with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: out + 1)
        m.register_forward_hook(lambda mod, args, kw, out: log.append(("kw", sorted(kw))),
                                with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append("first"), prepend=True)
        x = lib.tensor([[1.0, 1.0]])
        y1 = m(x).tolist()
        h1.remove()
        y2 = m(x).tolist()
        return log, y1, y2

    assert run(ember) == run(torch)


def test_pre_hook_may_return_a_single_value_and_kwargs_are_passed_on():
    class Add(nn.Module):
        def forward(self, x, y=0):
            return x + y

    m = Add()
    m.register_forward_pre_hook(lambda mod, args: args[0] * 10)  # not a tuple: wrapped
    assert m(ember.tensor(1.0), y=ember.tensor(2.0)).item() == 12.0
    m2 = Add()
    m2.register_forward_pre_hook(lambda mod, args, kw: ((args[0],), {"y": kw["y"] * 3}),
                                 with_kwargs=True)
    assert m2(ember.tensor(1.0), y=ember.tensor(2.0)).item() == 7.0
    m3 = Add()
    m3.register_forward_pre_hook(lambda mod, args, kw: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match="forward pre-hook must return None or a tuple"):
        m3(ember.tensor(1.0))


def test_always_call_hook_runs_when_forward_raises():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m, seen = Boom(), []
    m.register_forward_hook(lambda mod, args, out: seen.append("always"), always_call=True)
    m.register_forward_hook(lambda mod, args, out: seen.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        m(1)
    assert seen == ["always"]


def test_call_without_hooks_goes_straight_to_forward():
    m = nn.Linear(2, 2)
    assert not m._forward_hooks and not m._forward_pre_hooks
    h = m.register_forward_hook(lambda *a: None)
    h.remove()
    assert not m._forward_hooks and not m._forward_hooks_with_kwargs


def test_full_backward_hooks_match_torch():
    torch = torch_or_skip()

    def run(lib):
        m = lib.nn.Linear(3, 2)
        with lib.no_grad():
            m.weight.copy_(lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]))
            m.bias.zero_()
        seen = []

        def hook(mod, grad_input, grad_output):
            seen.append(([None if g is None else g.tolist() for g in grad_input],
                         [g.tolist() for g in grad_output]))
            return None if grad_input[0] is None else (grad_input[0] * 2,)

        def pre(mod, grad_output):
            seen.append(("pre", [g.tolist() for g in grad_output]))

        m.register_full_backward_hook(hook)
        m.register_full_backward_pre_hook(pre)
        x = lib.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]], requires_grad=True)
        m(x).pow(2).sum().backward()
        # input without grad: the hook still fires, with grad_input None
        m(lib.ones(1, 3)).sum().backward()
        return seen, x.grad.tolist(), m.weight.grad.tolist()

    e_seen, e_xg, e_wg = run(ember)
    t_seen, t_xg, t_wg = run(torch)
    assert e_seen == t_seen
    np.testing.assert_allclose(e_xg, t_xg)
    np.testing.assert_allclose(e_wg, t_wg)


# -- copies --------------------------------------------------------------------------------------

def test_deepcopy_and_pickle_of_a_model():
    _, _, e = _pair()
    e.features[1].fc.weight.grad = ember.ones(4, 4)
    c = copy.deepcopy(e)
    assert repr(c) == repr(e)
    for (n1, p1), (n2, p2) in zip(e.named_parameters(), c.named_parameters()):
        assert n1 == n2 and p1 is not p2 and type(p2) is nn.Parameter
        np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())
    x = ember.randn(2, 3)
    np.testing.assert_array_equal(e(x).detach().numpy(), c(x).detach().numpy())
    with ember.no_grad():
        c.fc.weight.fill_(0)
    assert e.fc.weight.abs().sum().item() > 0
    tied = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    tied[1].weight = tied[0].weight
    tied_copy = copy.deepcopy(tied)
    assert tied_copy[1].weight is tied_copy[0].weight
    seq = nn.Sequential(nn.Linear(3, 4), nn.Identity(), nn.ModuleList([nn.Linear(4, 4)]))
    p = pickle.loads(pickle.dumps(seq))
    assert repr(p) == repr(seq) and list(p.state_dict()) == list(seq.state_dict())
    np.testing.assert_array_equal(p[0](x).detach().numpy(), seq[0](x).detach().numpy())


# -- containers ----------------------------------------------------------------------------------

def test_sequential_list_api_matches_torch():
    torch = torch_or_skip()

    def run(lib):
        n = lib.nn
        lin = [n.Linear(i + 1, i + 2) for i in range(6)]
        s = n.Sequential(*lin[:3])
        out = [type(s[-1]).__name__, s[-1].in_features, len(s)]
        sl = s[1:]
        out += [type(sl).__name__, list(sl._modules), sl[0].in_features]
        s.append(lin[3])
        s.extend([lin[4]])
        s.insert(1, lin[5])
        s.insert(-1, n.Identity())
        out.append(repr(s))
        out.append(s.pop(0).in_features)
        del s[-1]
        del s[1:3]
        s[0] = n.Identity()
        out.append(repr(s))
        out.append(repr(s + n.Sequential(n.Identity())))
        out.append(repr(n.Sequential(n.Identity(), n.Linear(1, 1)) * 2))
        named = n.Sequential(OrderedDict([("a", n.Identity()), ("b", n.Linear(1, 1))]))
        del named[0]
        out.append(list(named._modules))
        out.append([type(m).__name__ for m in s])
        return out

    assert run(ember) == [x.replace("torch.", "ember.") if isinstance(x, str) else x
                          for x in run(torch)]


def test_sequential_forward_chains():
    s = nn.Sequential(nn.Linear(3, 4), nn.Identity(), nn.Linear(4, 2))
    x = ember.randn(5, 3)
    expected = s[2](s[0](x))
    np.testing.assert_array_equal(s(x).detach().numpy(), expected.detach().numpy())


def test_module_list_and_dict_match_torch():
    torch = torch_or_skip()

    def run(lib):
        n = lib.nn
        ml = n.ModuleList([n.Linear(1, 1), n.Linear(1, 2)])
        ml.append(n.Linear(1, 3))
        ml.extend([n.Linear(1, 4)])
        ml += [n.Linear(1, 5)]
        ml.insert(1, n.Identity())
        out = [len(ml), ml[-1].out_features, type(ml[1:3]).__name__, len(ml[1:3])]
        out.append(ml.pop(1).__class__.__name__)
        del ml[0]
        ml[0] = n.Linear(2, 2)
        out.append(repr(ml))
        out.append(repr(ml + n.ModuleList([n.Identity()])))
        out.append([k for k, _ in ml.named_children()])
        md = n.ModuleDict({"z": n.Identity(), "a": n.Linear(1, 1)})
        md["m"] = n.Linear(2, 2)
        md.update([("q", n.Identity())])
        md.update(OrderedDict([("r", n.Identity())]))
        out += [list(md.keys()), "a" in md, len(md), type(md.pop("z")).__name__, list(md)]
        out.append([type(v).__name__ for v in md.values()])
        out.append(repr(md))
        del md["a"]
        md.clear()
        out.append(len(md))
        return out

    assert run(ember) == [x.replace("torch.", "ember.") if isinstance(x, str) else x
                          for x in run(torch)]


def test_parameter_containers_match_torch():
    torch = torch_or_skip()

    def run(lib):
        n = lib.nn
        pl = n.ParameterList([lib.zeros(2), n.Parameter(lib.ones(3), requires_grad=False)])
        pl.append(lib.ones(1))
        pl.extend([lib.zeros(2, 2)])
        out = [len(pl), [type(p).__name__ for p in pl], [p.requires_grad for p in pl],
               [name for name, _ in pl.named_parameters()], len(pl[1:]), repr(pl)]
        pd = n.ParameterDict({"b": lib.zeros(2), "a": lib.ones(1)})  # a plain dict: sorted
        pd["c"] = n.Parameter(lib.zeros(1))
        pd.update([("d", lib.ones(2))])
        out += [list(pd), [name for name, _ in pd.named_parameters()], "a" in pd,
                type(pd["a"]).__name__, repr(pd), pd.get("zz", 3)]
        out.append(pd.popitem()[0])
        out.append(pd.setdefault("e", lib.ones(1)).shape == (1,))
        out.append(list(pd.copy()))
        out.append(list(pd | n.ParameterDict({"f": lib.zeros(1)})))
        return out

    assert run(ember) == [x.replace("torch.", "ember.") if isinstance(x, str) else x
                          for x in run(torch)]


# -- the tutorial's cells 6-10 with a stand-in model ---------------------------------------------

class _StandIn(nn.Module):
    """A small stand-in for resnet18: a feature extractor, then the classifier ``fc``."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(8, 512), nn.Identity())
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        return self.fc(self.features(x))


def test_tutorial_finetuning_cells(capsys):
    model = _StandIn()
    # Freeze all the parameters in the network
    for param in model.parameters():
        param.requires_grad = False
    old_fc = model.fc
    model.fc = nn.Linear(512, 10)
    assert model.fc is not old_fc and list(model._modules) == ["features", "fc"]
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["features.0.weight", "features.0.bias"]
    print(model.fc)
    assert capsys.readouterr().out == "Linear(in_features=512, out_features=10, bias=True)\n"
    model(ember.randn(4, 8)).sum().backward()
    assert model.features[0].weight.grad is None
    assert model.fc.weight.grad is not None and model.fc.weight.grad.shape == (10, 512)
