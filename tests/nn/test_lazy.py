"""Lazy modules (LazyLinear, LazyConv*, LazyConvTranspose*, LazyBatchNorm*, LazyInstanceNorm*),
UninitializedParameter/UninitializedBuffer, NLLLoss2d and Container against torch 2.13: reprs
before and after the first forward, state_dict entries, materialization by forward and by
load_state_dict, outputs, optimizers built before the first forward, and torch's errors."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import ember
from helpers import same_error, torch_or_skip

torch = torch_or_skip()

# (class name, constructor args, kwargs, input shape)
CASES = [
    ("LazyLinear", (3,), {}, (2, 5)),
    ("LazyLinear", (4,), {"bias": False}, (2, 3, 6)),
    ("LazyConv1d", (4, 3), {}, (2, 3, 9)),
    ("LazyConv1d", (4, 3), {"stride": 2, "padding": 1, "groups": 2, "bias": False}, (2, 4, 9)),
    ("LazyConv2d", (4, 3), {}, (2, 2, 6, 6)),
    ("LazyConv2d", (6, (3, 2)), {"dilation": 2, "padding_mode": "reflect", "padding": 1},
     (1, 3, 7, 7)),
    ("LazyConv2d", (4, 3), {}, (2, 6, 6)),  # unbatched
    ("LazyConv3d", (2, 2), {}, (1, 3, 4, 4, 4)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2, "output_padding": 1}, (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), {"groups": 2}, (1, 2, 5, 5)),
    ("LazyConvTranspose3d", (2, 2), {"bias": False}, (1, 3, 3, 3, 3)),
    ("LazyBatchNorm1d", (), {}, (4, 3)),
    ("LazyBatchNorm1d", (), {"affine": False}, (4, 3, 5)),
    ("LazyBatchNorm2d", (), {"momentum": None}, (2, 3, 4, 4)),
    ("LazyBatchNorm2d", (), {"track_running_stats": False, "bias": False}, (2, 3, 4, 4)),
    ("LazyBatchNorm3d", (), {"eps": 1e-3}, (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 6)),
    ("LazyInstanceNorm2d", (), {"affine": False, "track_running_stats": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), {}, (2, 3, 2, 3, 2)),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _build(m, name, args, kwargs):
    return getattr(m.nn, name)(*args, **kwargs)


def _state_repr(sd):
    return [(k, repr(v) if type(v).__name__.startswith("Uninitialized") else tuple(v.shape))
            for k, v in sd.items()]


def _copy_state(e_mod, t_mod):
    with ember.no_grad():
        for k, v in t_mod.state_dict().items():
            target = e_mod.get_parameter(k) if k in dict(e_mod.named_parameters()) else \
                e_mod.get_buffer(k)
            target.copy_(ember.tensor(v.numpy()))


@pytest.mark.parametrize("name,args,kwargs,shape", CASES, ids=IDS)
def test_lazy_module(name, args, kwargs, shape, rng):
    e_mod, t_mod = _build(ember, name, args, kwargs), _build(torch, name, args, kwargs)
    assert repr(e_mod) == repr(t_mod)
    assert _state_repr(e_mod.state_dict()) == _state_repr(t_mod.state_dict())
    assert [(n, repr(p)) for n, p in e_mod.named_parameters()] == \
        [(n, repr(p)) for n, p in t_mod.named_parameters()]
    assert e_mod.has_uninitialized_params() == t_mod.has_uninitialized_params()
    x = rng.standard_normal(shape).astype(np.float32)
    e_out, t_out = e_mod(ember.tensor(x)), t_mod(torch.tensor(x))
    assert type(e_mod).__name__ == type(t_mod).__name__ and repr(e_mod) == repr(t_mod)
    assert _state_repr(e_mod.state_dict()) == _state_repr(t_mod.state_dict())
    assert all(type(p) is ember.nn.Parameter for p in e_mod.parameters())
    assert not e_mod._forward_pre_hooks and not hasattr(e_mod, "_initialize_hook")
    assert e_out.shape == t_out.shape
    if "BatchNorm" in name or "InstanceNorm" in name:  # deterministic: the statistics match
        np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
        for k, v in t_mod.state_dict().items():
            np.testing.assert_allclose(e_mod.state_dict()[k].numpy(), v.numpy(), rtol=1e-5)
    _copy_state(e_mod, t_mod)  # the same weights: the same outputs
    x2 = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(e_mod(ember.tensor(x2)).detach().numpy(),
                               t_mod(torch.tensor(x2)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_lazy_init_follows_the_regular_module(rng):
    m = ember.nn.LazyLinear(7)
    m(ember.ones(2, 50))
    bound = 1 / np.sqrt(50)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound and w.std() > bound / 4
    c = ember.nn.LazyConv2d(5, 3)
    c(ember.ones(1, 4, 5, 5))
    assert np.abs(c.weight.detach().numpy()).max() <= 1 / np.sqrt(36)
    bn = ember.nn.LazyBatchNorm1d().eval()  # eval mode uses the statistics, made (0, 1)
    np.testing.assert_allclose(bn(ember.ones(2, 3)).detach().numpy(),
                               np.full((2, 3), 1 / np.sqrt(1 + 1e-5)), rtol=1e-6)
    assert bn.running_mean.tolist() == [0.0] * 3 and bn.running_var.tolist() == [1.0] * 3
    assert bn.weight.tolist() == [1.0] * 3 and bn.bias.tolist() == [0.0] * 3


@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_optimizer_built_before_the_first_forward(opt, rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    mods, opts = {}, {}
    for m in (ember, torch):
        mods[m] = m.nn.LazyLinear(3)
        kw = {"lr": 0.1, "momentum": 0.9} if opt == "SGD" else {"lr": 0.1}
        opts[m] = getattr(m.optim, opt)(mods[m].parameters(), **kw)
        mods[m](m.tensor(x))
    _copy_state(mods[ember], mods[torch])
    for _ in range(3):
        for m in (ember, torch):
            opts[m].zero_grad()
            mods[m](m.tensor(x)).pow(2).sum().backward()
            opts[m].step()
    for (n, e), (_, t) in zip(mods[ember].named_parameters(), mods[torch].named_parameters()):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert opts[ember].param_groups[0]["params"][0] is mods[ember].weight


def test_load_state_dict_materializes(rng):
    src = {m: m.nn.Linear(5, 3) for m in (ember, torch)}
    _copy_state(src[ember], src[torch])
    x = rng.standard_normal((2, 5)).astype(np.float32)
    for m in (ember, torch):
        lazy = m.nn.LazyLinear(3)
        lazy.load_state_dict(src[m].state_dict())
        assert type(lazy).__name__ == "LazyLinear" and tuple(lazy.weight.shape) == (3, 5)
        assert type(lazy.weight).__name__ == "Parameter" and lazy.in_features == 0
        out = lazy(m.tensor(x))
        assert type(lazy).__name__ == "Linear" and lazy.in_features == 5
        np.testing.assert_allclose(out.detach().numpy(),
                                   src[m](m.tensor(x)).detach().numpy(), rtol=1e-6)
    for m in (ember, torch):  # lazy into lazy: nothing to copy, nothing materialized
        a, b = m.nn.LazyConv1d(2, 3), m.nn.LazyConv1d(2, 3)
        a.load_state_dict(b.state_dict())
        assert a.has_uninitialized_params()
    bn = {m: m.nn.LazyBatchNorm1d() for m in (ember, torch)}
    full = {m: m.nn.BatchNorm1d(4) for m in (ember, torch)}
    for m in (ember, torch):
        bn[m].load_state_dict(full[m].state_dict())
        assert tuple(bn[m].running_mean.shape) == (4,) and bn[m].num_features == 0
    assert repr(bn[ember]) == repr(bn[torch])


def test_lazy_errors():
    same_error(lambda m: m.nn.LazyLinear(3).weight.shape)
    same_error(lambda m: m.nn.UninitializedParameter().share_memory_())
    same_error(lambda m: m.nn.Linear(5, 3).load_state_dict(m.nn.LazyLinear(3).state_dict()))
    same_error(lambda m: m.nn.LazyConv2d(4, 3)(m.ones(5, 5)))
    same_error(lambda m: m.nn.LazyConv1d(4, 3)(m.ones(1, 2, 3, 5)))
    same_error(lambda m: m.nn.LazyConv2d(4, 3, groups=2)(m.ones(1, 3, 5, 5)))
    same_error(lambda m: m.nn.LazyConvTranspose1d(4, 3, padding_mode="reflect"))
    same_error(lambda m: m.nn.LazyBatchNorm2d()(m.ones(2, 3, 4)))

    class Half(ember.nn.LazyLinear):
        def initialize_parameters(self, input):  # forgets the bias
            self.weight.materialize((self.out_features, input.shape[-1]))

    with pytest.raises(RuntimeError, match="module Half has not been fully initialized"):
        Half(2)(ember.ones(1, 3))


def test_uninitialized_tensors():
    for m in (ember, torch):
        p, b = m.nn.UninitializedParameter(), m.nn.UninitializedBuffer()
        assert (repr(p), repr(b)) == ("<UninitializedParameter>", "<UninitializedBuffer>")
        assert p.requires_grad and not b.requires_grad and p.dtype == m.float32
        assert m.nn.parameter.is_lazy(p) and m.nn.parameter.is_lazy(b)
        assert isinstance(p, m.nn.Parameter)
        assert isinstance(p, m.nn.parameter.UninitializedTensorMixin)
        q = m.nn.UninitializedParameter(requires_grad=False, dtype=m.float64)
        assert not q.requires_grad and q.dtype == m.float64
        dq = copy.deepcopy(q)
        assert type(dq) is type(q) and dq.dtype == m.float64 and not dq.requires_grad
        pq = pickle.loads(pickle.dumps(p))
        assert type(pq) is type(p) and pq.requires_grad
        p.materialize((2, 3))
        b.materialize((4,), dtype=m.float64)
        assert type(p) is m.nn.Parameter and tuple(p.shape) == (2, 3) and p.requires_grad
        assert type(b) is m.Tensor and tuple(b.shape) == (4,) and b.dtype == m.float64
        assert not m.nn.parameter.is_lazy(p)
        assert m.nn.UninitializedBuffer(persistent=False).persistent is False


def test_lazy_dtype_and_casts():
    for m in (ember, torch):
        a = m.nn.LazyLinear(3, dtype=m.float64)
        a(m.ones(2, 4, dtype=m.float64))
        assert a.weight.dtype == m.float64
        b = m.nn.LazyConv1d(2, 3).double()
        b(m.ones(1, 2, 5, dtype=m.float64))
        assert b.weight.dtype == m.float64 and b.bias.dtype == m.float64
        c = copy.deepcopy(m.nn.LazyLinear(2))
        c(m.ones(1, 3))
        assert tuple(c.weight.shape) == (2, 3)


def test_nllloss2d_and_container(rng):
    logits = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    target = rng.integers(0, 3, (2, 4, 4))
    seen = {}
    for m in (ember, torch):
        with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
            loss = m.nn.NLLLoss2d(ignore_index=1)
        assert repr(loss) == "NLLLoss2d()" and loss.ignore_index == 1
        assert isinstance(loss, m.nn.NLLLoss)
        value = loss(m.tensor(logits).log_softmax(1), m.tensor(target)).item()
        with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
            c = m.nn.Container(a=m.nn.Linear(1, 2), b=m.nn.ReLU())
        seen[m] = (value, repr(c), [n for n, _ in c.named_parameters()])
    assert np.isclose(seen[ember][0], seen[torch][0], rtol=1e-6)
    assert seen[ember][1:] == seen[torch][1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_error(lambda m: m.nn.Container(1), exact=False)


@pytest.mark.parametrize("use", [
    lambda m, p: p.numel(), lambda m, p: p.dim(), lambda m, p: p.sum(), lambda m, p: p + 1,
    lambda m, p: 2 * p, lambda m, p: p @ p, lambda m, p: -p, lambda m, p: p.detach(),
    lambda m, p: p.clone(), lambda m, p: p.tolist(), lambda m, p: m.nn.init.zeros_(p),
    lambda m, p: m.nn.init.uniform_(p), lambda m, p: p.t(),
])
def test_uninitialized_use_is_refused(use):
    for m in (ember, torch):
        with pytest.raises(ValueError, match="Attempted to use an uninitialized parameter in "):
            use(m, m.nn.UninitializedParameter())


def test_uninitialized_allowed_uses():
    for m in (ember, torch):
        p = m.nn.UninitializedParameter()
        assert p.dtype == m.float32 and p.requires_grad and p.is_leaf and p.grad is None
        assert p.is_floating_point() and tuple(p.size()) == (0,)
        assert str(p.device) == str(m.get_default_device())
        assert repr(p.float()) == "<UninitializedParameter>"
        with pytest.raises(ValueError):
            p.requires_grad_(False)
        lazy = m.nn.LazyLinear(2)
        assert sorted(lazy.state_dict(keep_vars=True)) == ["bias", "weight"]
        m.optim.Adam(lazy.parameters())  # built before the first forward, as torch allows


@pytest.mark.parametrize("cast", [lambda m, mod: mod.double(), lambda m, mod: mod.to(m.float64),
                                  lambda m, mod: mod.half().double()])
def test_lazy_module_cast_before_forward(cast):
    for m in (ember, torch):
        bn = cast(m, m.nn.LazyBatchNorm1d())
        assert type(bn.running_mean).__name__ == "UninitializedBuffer"
        assert bn.running_mean.dtype == m.float64 and bn.weight.dtype == m.float64
        bn(m.ones(4, 3, dtype=m.float64))
        assert type(bn).__name__ == "BatchNorm1d" and bn.running_mean.dtype == m.float64
        assert tuple(bn.running_mean.shape) == (3,)
    for m in (ember, torch):
        b = m.nn.UninitializedBuffer().to(m.float16)
        assert type(b).__name__ == "UninitializedBuffer" and b.dtype == m.float16
        p = m.nn.UninitializedParameter()
        assert p.float() is p and type(p.double()).__name__ == "Tensor"


def test_uninitialized_state_dict_round_trips_through_files(tmp_path):
    path = str(tmp_path / "lazy.pt")
    ember.save(ember.nn.LazyLinear(3).state_dict(), path)
    for loaded in (ember.load(path, weights_only=False), torch.load(path, weights_only=False)):
        assert [repr(v) for v in loaded.values()] == ["<UninitializedParameter>"] * 2
    with pytest.raises(Exception):
        ember.load(path)  # (weights_only=True refuses the class, as torch's does)
    torch_path = str(tmp_path / "torch.pt")
    torch.save(torch.nn.LazyLinear(3).state_dict(), torch_path)
    loaded = ember.load(torch_path, weights_only=False)
    assert type(loaded["weight"]) is ember.nn.UninitializedParameter
    lazy = ember.nn.LazyLinear(3)
    lazy.load_state_dict(loaded)
    assert lazy.has_uninitialized_params()
