"""Module utilities against torch: get_submodule/get_parameter/get_buffer, full backward hooks,
load_state_dict(assign=True), state_dict(keep_vars=True), to_empty, ParameterList/Dict,
nn.utils.parametrize, parametrizations.weight_norm/spectral_norm, the legacy weight_norm,
fusion.fuse_conv_bn_eval/fuse_linear_bn_eval and utils.checkpoint (both variants)."""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from helpers import same_error, torch_or_skip

import ember
from ember.autograd import gradcheck, gradgradcheck

torch = torch_or_skip()


def _np(t):
    return t.detach().numpy()


def _linear(mod, i=3, o=2, seed=0):
    r = np.random.default_rng(seed)
    m = mod.nn.Linear(i, o)
    with mod.no_grad():
        m.weight.copy_(mod.tensor(r.standard_normal((o, i)).astype(np.float32)))
        m.bias.copy_(mod.tensor(r.standard_normal(o).astype(np.float32)))
    return m


def _same_weights(dst, src):
    dst.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                         for k, v in src.state_dict().items()})


# -- Module accessors, hooks, state dicts ---------------------------------------------------------


def _nested(mod):
    m = mod.nn.Sequential(mod.nn.Linear(2, 3), mod.nn.BatchNorm1d(3))
    return mod.nn.Sequential(m, mod.nn.ReLU())


@pytest.mark.parametrize("call", [
    lambda m: m.get_submodule("0.1"), lambda m: m.get_parameter("0.0.weight"),
    lambda m: m.get_buffer("0.1.running_mean"), lambda m: m.get_submodule(""),
])
def test_accessors_find_what_torch_finds(call):
    e, t = call(_nested(ember)), call(_nested(torch))
    assert type(e).__name__ == type(t).__name__
    assert tuple(e.shape if hasattr(e, "shape") else ()) == tuple(
        t.shape if hasattr(t, "shape") else ())


@pytest.mark.parametrize("call", [
    lambda m: m.get_submodule("0.5"), lambda m: m.get_submodule("1.foo"),
    lambda m: m.get_parameter("0.0.nothing"), lambda m: m.get_parameter("0.1.running_mean"),
    lambda m: m.get_buffer("0.0.weight"), lambda m: m.get_buffer("0.9.x"),
])
def test_accessor_errors_match_torch(call):
    same_error(lambda mod: call(_nested(mod)))


def test_full_backward_hooks_see_torch_gradients():
    seen = {}
    for mod in (torch, ember):
        m = _linear(mod)
        log = []
        m.register_full_backward_pre_hook(lambda mod_, go: log.append(("pre", _np(go[0]))))
        m.register_full_backward_hook(
            lambda mod_, gi, go: log.append(("post", _np(gi[0]), _np(go[0]))))
        x = mod.tensor(np.ones((4, 3), np.float32), requires_grad=True)
        (m(x) ** 2).sum().backward()
        seen[mod.__name__] = log
    assert [e[0] for e in seen["ember"]] == [t[0] for t in seen["torch"]] == ["pre", "post"]
    for e, t in zip(seen["ember"], seen["torch"]):
        for a, b in zip(e[1:], t[1:]):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_state_dict_keep_vars_and_assign():
    for mod in (torch, ember):
        m = _linear(mod)
        sd = m.state_dict(keep_vars=True)
        assert sd["weight"] is m.weight and isinstance(sd["weight"], mod.nn.Parameter)
        plain = m.state_dict()
        assert not isinstance(plain["weight"], mod.nn.Parameter)
        assert not plain["weight"].requires_grad
        new = {"weight": mod.ones(2, 3, dtype=mod.float64), "bias": mod.zeros(2)}
        m.load_state_dict(new, assign=True)
        assert isinstance(m.weight, mod.nn.Parameter) and m.weight.requires_grad
        assert m.weight.dtype == mod.float64  # assign keeps the loaded tensor's dtype
        assert m.weight.data_ptr() == new["weight"].data_ptr()


def test_to_empty_keeps_shapes_and_dtypes():
    for mod in (torch, ember):
        m = _nested(mod).to_empty(device="cpu")
        assert [tuple(p.shape) for p in m.parameters()] == [(3, 2), (3,), (3,), (3,)]
        assert m[0][1].num_batches_tracked.dtype == mod.int64
        assert all(isinstance(p, mod.nn.Parameter) for p in m.parameters())


def test_parameter_list_and_dict_like_torch():
    for mod in (torch, ember):
        pl = mod.nn.ParameterList([mod.nn.Parameter(mod.zeros(2)), mod.nn.Parameter(mod.ones(3))])
        pl.append(mod.nn.Parameter(mod.ones(1)))
        pd = mod.nn.ParameterDict({"a": mod.nn.Parameter(mod.zeros(2))})
        pd["b"] = mod.nn.Parameter(mod.ones(2))
        holder = mod.nn.Module()
        holder.pl, holder.pd = pl, pd
        assert list(holder.state_dict()) == ["pl.0", "pl.1", "pl.2", "pd.a", "pd.b"]
        assert len(list(holder.parameters())) == 5


def test_parameter_container_reprs_match_torch():
    reprs = []
    for mod in (torch, ember):
        pl = mod.nn.ParameterList([mod.nn.Parameter(mod.zeros(2, 3))])
        pd = mod.nn.ParameterDict({"a": mod.nn.Parameter(mod.zeros(2, dtype=mod.float64))})
        reprs.append((repr(pl), repr(pd)))
    assert tuple(r.replace("torch.", "ember.") for r in reprs[0]) == reprs[1]


# -- parametrize ----------------------------------------------------------------------------------


def _symmetric(mod):
    class Symmetric(mod.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(-1, -2)

        def right_inverse(self, a):
            return a.triu()
    return Symmetric()


def _scale(mod):
    class Scale(mod.nn.Module):
        def forward(self, x):
            return x * 2

        def right_inverse(self, y):
            return y / 2
    return Scale()


def test_register_parametrization_like_torch():
    out = {}
    for mod in (torch, ember):
        P = mod.nn.utils.parametrize
        m = _linear(mod, 3, 3)
        P.register_parametrization(m, "weight", _symmetric(mod))
        P.register_parametrization(m, "weight", _scale(mod))
        assert type(m).__name__ == "ParametrizedLinear"
        assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
        assert not P.is_parametrized(m, "bias")
        assert P.type_before_parametrizations(m) is mod.nn.Linear
        w = m.weight
        x = mod.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
        m(x).sum().backward()
        orig = m.parametrizations.weight.original
        # assigning goes through the right inverses
        m.weight = mod.tensor(np.full((3, 3), 4.0, np.float32))
        with P.cached():
            a, b = m.weight, m.weight
            assert a is b
        out[mod.__name__] = dict(keys=list(m.state_dict()), w=_np(w), grad=_np(orig.grad),
                                 orig=_np(orig).copy(), after=_np(m.weight), repr=repr(m),
                                 grad_fn=type(w.grad_fn).__name__)
        P.remove_parametrizations(m, "weight")
        assert type(m) is mod.nn.Linear and not hasattr(m, "parametrizations")
        out[mod.__name__]["removed"] = (_np(m.weight), list(m.state_dict()))
    e, t = out["ember"], out["torch"]
    assert e["keys"] == t["keys"] == ["bias", "parametrizations.weight.original"]
    for k in ("w", "grad", "orig", "after"):
        np.testing.assert_allclose(e[k], t[k], rtol=1e-6, err_msg=k)
    assert e["repr"] == t["repr"]
    assert e["grad_fn"] == t["grad_fn"]
    np.testing.assert_allclose(e["removed"][0], t["removed"][0], rtol=1e-6)
    assert e["removed"][1] == t["removed"][1]


def test_remove_keeping_the_original():
    for mod in (torch, ember):
        P = mod.nn.utils.parametrize
        m = _linear(mod, 3, 3)
        before = _np(m.weight).copy()
        P.register_parametrization(m, "weight", _scale(mod))
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
        np.testing.assert_allclose(_np(m.weight), before / 2, rtol=1e-6)


def test_parametrized_module_deepcopies_and_refuses_pickle():
    import pickle
    for mod in (torch, ember):
        m = mod.nn.utils.parametrize.register_parametrization(_linear(mod, 3, 3), "weight",
                                                              _scale(mod))
        c = copy.deepcopy(m)
        assert type(c).__name__ == "ParametrizedLinear"
        np.testing.assert_array_equal(_np(c.weight), _np(m.weight))
        with pytest.raises(RuntimeError, match="only supported through state_dict"):
            pickle.dumps(m)


@pytest.mark.parametrize("build", [
    lambda m: m.nn.utils.parametrize.register_parametrization(m.nn.Linear(2, 2), "nothing",
                                                               m.nn.Identity()),
    lambda m: m.nn.utils.parametrize.remove_parametrizations(m.nn.Linear(2, 2), "weight"),
    lambda m: m.nn.utils.parametrize.register_parametrization(m.nn.Linear(2, 3), "weight",
                                                               m.nn.Flatten(0)),
    lambda m: m.nn.utils.parametrize.ParametrizationList([], m.zeros(2)),
])
def test_parametrize_errors_match_torch(build):
    same_error(build)


# -- weight_norm, spectral_norm -------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_parametrizations_weight_norm_matches_torch(dim):
    t = torch.nn.utils.parametrizations.weight_norm(_linear(torch, 4, 3), dim=dim)
    e = ember.nn.utils.parametrizations.weight_norm(_linear(ember, 4, 3), dim=dim)
    assert list(e.state_dict()) == list(t.state_dict())
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(_np(e.state_dict()[k]), _np(v), rtol=1e-6, err_msg=k)
    assert type(e.weight.grad_fn).__name__ == type(t.weight.grad_fn).__name__
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    (t(torch.tensor(x)) ** 2).sum().backward()
    (e(ember.tensor(x)) ** 2).sum().backward()
    for (k, tp), (_, ep) in zip(t.named_parameters(), e.named_parameters()):
        np.testing.assert_allclose(_np(ep.grad), _np(tp.grad), rtol=1e-5, atol=1e-6, err_msg=k)


def test_weight_norm_loads_legacy_state_dicts():
    with pytest.warns(FutureWarning):
        legacy = torch.nn.utils.weight_norm(_linear(torch, 4, 3))
    e = ember.nn.utils.parametrizations.weight_norm(ember.nn.Linear(4, 3))
    e.load_state_dict({k: ember.tensor(_np(v)) for k, v in legacy.state_dict().items()})
    np.testing.assert_allclose(_np(e.weight), _np(legacy.weight), rtol=1e-6)


@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_weight_norm_op_gradcheck(dim):
    r = np.random.default_rng(2)
    v = ember.tensor(r.standard_normal((3, 4, 2)), requires_grad=True)
    gshape = {0: (3, 1, 1), 1: (1, 4, 1), -1: (), -2: (1, 4, 1)}[dim]
    g = ember.tensor(np.asarray(r.standard_normal(gshape)), requires_grad=True)
    assert gradcheck(lambda a, b: ember._weight_norm(a, b, dim), (v, g))
    assert gradgradcheck(lambda a, b: ember._weight_norm(a, b, dim), (v, g))
    tw = torch._weight_norm(torch.tensor(_np(v)), torch.tensor(_np(g)), dim)
    ew = ember._weight_norm(v, g, dim)
    np.testing.assert_allclose(_np(ew), tw.numpy(), rtol=1e-12)
    assert type(ew.grad_fn).__name__ == type(
        torch._weight_norm(torch.tensor(_np(v), requires_grad=True), torch.tensor(_np(g)),
                           dim).grad_fn).__name__
    np.testing.assert_allclose(_np(ember.norm_except_dim(v, 2, dim)),
                               torch.norm_except_dim(torch.tensor(_np(v)), 2, dim).numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda m: m.nn.Linear(4, 3),
    lambda m: m.nn.Conv2d(2, 3, 3),
    lambda m: m.nn.ConvTranspose2d(2, 3, 3),
])
def test_spectral_norm_matches_torch(make):
    t = torch.nn.utils.parametrizations.spectral_norm(make(torch))
    e = ember.nn.utils.parametrizations.spectral_norm(make(ember))
    assert list(e.state_dict()) == list(t.state_dict())
    _same_weights(e, t)  # torch's weight and power-iteration vectors (drawn from its generator)
    shape = (2, 4) if isinstance(t, torch.nn.Linear) else (2, 2, 5, 5)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    for train in (True, True, False):
        t.train(train)
        e.train(train)
        yt, ye = t(torch.tensor(x)), e(ember.tensor(x))
        # float32 sums of terms up to ~1e2 (the weights come from torch's generator, so their
        # size depends on the test order): the tolerance is on that scale
        np.testing.assert_allclose(_np(ye), _np(yt), rtol=1e-4,
                                   atol=1e-5 * max(1.0, float(np.abs(_np(yt)).max())))
    (yt ** 2).sum().backward()
    (ye ** 2).sum().backward()
    gt = _np(t.parametrizations.weight.original.grad)
    np.testing.assert_allclose(_np(e.parametrizations.weight.original.grad), gt, rtol=1e-4,
                               atol=1e-5 * max(1.0, float(np.abs(gt).max())))
    for name in ("_u", "_v"):
        np.testing.assert_allclose(_np(getattr(e.parametrizations.weight[0], name)),
                                   _np(getattr(t.parametrizations.weight[0], name)), rtol=1e-4,
                                   atol=1e-5)


def test_spectral_norm_normalises_the_largest_singular_value():
    m = ember.nn.utils.parametrizations.spectral_norm(ember.nn.Linear(6, 5), n_power_iterations=3)
    for _ in range(20):
        w = m.weight
    assert abs(np.linalg.svd(_np(w), compute_uv=False)[0] - 1.0) < 1e-3


@pytest.mark.parametrize("build", [
    lambda m: m.nn.utils.parametrizations.spectral_norm(m.nn.Linear(2, 2), name="nothing"),
    lambda m: m.nn.utils.parametrizations.spectral_norm(m.nn.Linear(2, 2), dim=3),
    lambda m: m.nn.utils.parametrizations.spectral_norm(m.nn.Linear(2, 2),
                                                        n_power_iterations=0),
])
def test_spectral_norm_errors_match_torch(build):
    same_error(build)


def test_legacy_weight_norm_matches_torch():
    out = {}
    for mod in (torch, ember):
        with pytest.warns(FutureWarning, match="weight_norm` is deprecated"):
            m = mod.nn.utils.weight_norm(_linear(mod, 4, 3), dim=0)
        x = mod.tensor(np.ones((2, 4), np.float32))
        with mod.no_grad():
            m.weight_g.mul_(2)  # the hook recomputes weight before each forward
        y = m(x)
        y.sum().backward()
        out[mod.__name__] = (list(m.state_dict()), _np(y), _np(m.weight_v.grad),
                             type(m.weight.grad_fn).__name__)
        mod.nn.utils.remove_weight_norm(m)
        assert list(m.state_dict()) == ["bias", "weight"]
        with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
            mod.nn.utils.remove_weight_norm(m)
    e, t = out["ember"], out["torch"]
    assert e[0] == t[0] == ["bias", "weight_g", "weight_v"]
    np.testing.assert_allclose(e[1], t[1], rtol=1e-6)
    np.testing.assert_allclose(e[2], t[2], rtol=1e-5, atol=1e-6)
    assert e[3] == t[3]

    def twice(m):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.nn.utils.weight_norm(m.nn.utils.weight_norm(m.nn.Linear(2, 2)))
    same_error(twice)


# -- fusion ---------------------------------------------------------------------------------------


def _bn(mod, n, seed):
    r = np.random.default_rng(seed)
    bn = mod.nn.BatchNorm2d(n) if seed % 2 else mod.nn.BatchNorm1d(n)
    with mod.no_grad():
        bn.running_mean.copy_(mod.tensor(r.standard_normal(n).astype(np.float32)))
        bn.running_var.copy_(mod.tensor(r.uniform(0.5, 2, n).astype(np.float32)))
        bn.weight.copy_(mod.tensor(r.standard_normal(n).astype(np.float32)))
        bn.bias.copy_(mod.tensor(r.standard_normal(n).astype(np.float32)))
    return bn.eval()


@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn_eval_matches_torch(transpose):
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 6)).astype(np.float32)
    outs, convs = [], []
    for mod in (torch, ember):
        conv = (mod.nn.ConvTranspose2d(3, 4, 3) if transpose else mod.nn.Conv2d(3, 4, 3)).eval()
        convs.append(conv)
        if mod is ember:
            _same_weights(conv, convs[0])
        bn = _bn(mod, 4, 1)
        fused = mod.nn.utils.fusion.fuse_conv_bn_eval(conv, bn, transpose=transpose)
        assert fused is not conv and isinstance(fused.weight, mod.nn.Parameter)
        outs.append((_np(fused(mod.tensor(x))), _np(bn(conv(mod.tensor(x))))))
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[1][0], outs[1][1], rtol=1e-4, atol=1e-5)


def test_fuse_linear_bn_eval_matches_torch():
    x = np.random.default_rng(5).standard_normal((4, 3)).astype(np.float32)
    outs = []
    for mod in (torch, ember):
        lin = _linear(mod, 3, 4).eval()
        bn = _bn(mod, 4, 2)
        fused = mod.nn.utils.fusion.fuse_linear_bn_eval(lin, bn)
        outs.append((_np(fused(mod.tensor(x))), _np(bn(lin(mod.tensor(x))))))
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(outs[1][0], outs[1][1], rtol=1e-4, atol=1e-5)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        ember.nn.utils.fusion.fuse_linear_bn_eval(ember.nn.Linear(2, 2), ember.nn.BatchNorm1d(2))


# -- checkpoint -----------------------------------------------------------------------------------


def _block(mod):
    m = mod.nn.Sequential(mod.nn.Linear(3, 5), mod.nn.Tanh(), mod.nn.Linear(5, 2))
    return m


@pytest.mark.parametrize("reentrant", [True, False])
def test_checkpoint_gives_the_gradients_of_the_plain_run(reentrant):
    t_block = _block(torch)
    e_block = _block(ember)
    _same_weights(e_block, t_block)
    x = np.random.default_rng(6).standard_normal((4, 3)).astype(np.float32)
    grads = {}
    for mod, block in ((torch, t_block), (ember, e_block)):
        ck = mod.utils.checkpoint
        for use in (True, False):
            block.zero_grad()
            xi = mod.tensor(x, requires_grad=True)
            y = ck.checkpoint(block, xi, use_reentrant=reentrant) if use else block(xi)
            (y ** 2).sum().backward()
            grads[(mod.__name__, use)] = [_np(xi.grad)] + [_np(p.grad) for p in block.parameters()]
    for key in grads:
        for a, b in zip(grads[key], grads[("torch", False)]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    xi = ember.tensor(x, requires_grad=True)
    y = ember.utils.checkpoint.checkpoint(e_block, xi, use_reentrant=reentrant)
    assert type(y.grad_fn).__name__ == ("CheckpointFunctionBackward" if reentrant
                                        else "CheckpointNonReentrantBackward")


def test_checkpoint_replays_dropout_masks():
    for reentrant in (True, False):
        drop = ember.nn.Dropout(0.5)
        x = ember.ones(50, requires_grad=True)
        ember.manual_seed(0)
        y = ember.utils.checkpoint.checkpoint(lambda a: drop(a) * a, x, use_reentrant=reentrant)
        y.sum().backward()
        # d/dx (mask * x * x) = 2 * mask * x: the recomputation used the forward's mask
        np.testing.assert_allclose(_np(x.grad), 2 * _np(y), rtol=1e-6)


def test_non_reentrant_checkpoint_reaches_leaves_through_autograd_grad():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    x = ember.tensor([0.5, -1.0], requires_grad=True)
    y = ember.utils.checkpoint.checkpoint(lambda a, scale=1.0: (a * w).exp() * scale, x,
                                          use_reentrant=False, scale=3.0)
    (gw,) = ember.autograd.grad(y.sum(), w)
    np.testing.assert_allclose(_np(gw), 3 * _np(x) * np.exp(_np(x) * _np(w)), rtol=1e-6)
    # without anything that requires grad, the output requires none (as torch)
    z = ember.utils.checkpoint.checkpoint(lambda a: a * 2, ember.ones(2), use_reentrant=False)
    assert not z.requires_grad


def test_checkpoint_sequential_matches_plain_run():
    t_block, e_block = _block(torch), _block(ember)
    _same_weights(e_block, t_block)
    x = np.ones((2, 3), np.float32)
    for mod, block in ((torch, t_block), (ember, e_block)):
        xi = mod.tensor(x, requires_grad=True)
        y = mod.utils.checkpoint.checkpoint_sequential(block, 2, xi, use_reentrant=False)
        y.sum().backward()
    np.testing.assert_allclose(_np(e_block[0].weight.grad), _np(t_block[0].weight.grad),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call", [
    lambda m, x: m.utils.checkpoint.checkpoint(lambda a: a * 2, x, use_reentrant=True, foo=1),
    lambda m, x: m.utils.checkpoint.checkpoint(lambda a: a * 2, x, use_reentrant=True,
                                               debug=True),
])
def test_checkpoint_errors_match_torch(call):
    same_error(lambda m: call(m, m.ones(2, requires_grad=True)))


def test_checkpoint_warnings_match_torch():
    msgs = []
    for mod in (torch, ember):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            mod.utils.checkpoint.checkpoint(lambda a: a * 2, mod.ones(2))
        msgs.append(sorted(str(w.message).replace("torch.", "ember.") for w in rec))
    assert msgs[0] == msgs[1]
    assert len(msgs[1]) == 2


# -- orthogonal -----------------------------------------------------------------------------------


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_orthogonal_matches_torch(orthogonal_map, shape):
    out, plain = {}, None
    for mod in (torch, ember):
        m = mod.nn.Linear(shape[1], shape[0]).double()
        if mod is ember:
            _same_weights(m, plain)
        else:
            plain = copy.deepcopy(m)
        mod.nn.utils.parametrizations.orthogonal(m, orthogonal_map=orthogonal_map)
        out[mod.__name__] = m
    e, t = out["ember"], out["torch"]
    assert list(e.state_dict()) == list(t.state_dict())
    assert repr(e).replace("ember.", "torch.") == repr(t)
    if shape[0] == shape[1]:  # the base is the weight made orthogonal: no random completion
        np.testing.assert_allclose(_np(e.weight), _np(t.weight), rtol=1e-10, atol=1e-12)
    # a wide or tall base is completed with random columns: take torch's
    e.load_state_dict({k: ember.tensor(_np(v)) for k, v in t.state_dict().items()})
    np.testing.assert_allclose(_np(e.weight), _np(t.weight), rtol=1e-10, atol=1e-12)
    # one SGD step through the parametrization, then the weight again
    x = np.random.default_rng(8).standard_normal((2, shape[1]))
    for mod, m in ((torch, t), (ember, e)):
        opt = mod.optim.SGD(m.parameters(), lr=0.1)
        (m(mod.tensor(x)) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(_np(e.parametrizations.weight.original),
                               _np(t.parametrizations.weight.original), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(_np(e.weight), _np(t.weight), rtol=1e-9, atol=1e-12)
    w = _np(e.weight)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-12)


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_gradcheck(orthogonal_map):
    m = ember.nn.utils.parametrizations.orthogonal(ember.nn.Linear(3, 4).double(),
                                                   orthogonal_map=orthogonal_map)
    orth = m.parametrizations.weight[0]
    x = ember.tensor(np.random.default_rng(9).standard_normal((4, 3)) * 0.3, requires_grad=True)
    assert gradcheck(orth, (x,))


@pytest.mark.parametrize("build", [
    lambda m: m.nn.utils.parametrizations.orthogonal(m.nn.Linear(2, 2), orthogonal_map="qr"),
    lambda m: m.nn.utils.parametrizations.orthogonal(m.nn.Linear(2, 2), name="bias"),
    lambda m: m.nn.utils.parametrizations.orthogonal(m.nn.Linear(2, 2), name="nothing"),
])
def test_orthogonal_errors_match_torch(build):
    same_error(build)


# -- legacy spectral_norm -------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda m: m.nn.Linear(4, 3),
                                  lambda m: m.nn.ConvTranspose2d(2, 3, 3)])
def test_legacy_spectral_norm_matches_torch(make):
    t = torch.nn.utils.spectral_norm(make(torch))
    e = ember.nn.utils.spectral_norm(make(ember))
    assert list(e.state_dict()) == list(t.state_dict())
    _same_weights(e, t)  # torch's weight_orig and its random u, v
    shape = (2, 4) if isinstance(t, torch.nn.Linear) else (2, 2, 5, 5)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    for train in (True, True, False):
        t.train(train)
        e.train(train)
        yt, ye = t(torch.tensor(x)), e(ember.tensor(x))
        np.testing.assert_allclose(_np(ye), _np(yt), rtol=1e-4, atol=1e-5)
    assert type(e.weight.grad_fn).__name__ == type(t.weight.grad_fn).__name__
    (yt ** 2).sum().backward()
    (ye ** 2).sum().backward()
    # float32 round-off on the gradient's own scale (torch's unseeded init: up to ~1e2 here)
    want = _np(t.weight_orig.grad)
    np.testing.assert_allclose(_np(e.weight_orig.grad), want, rtol=1e-4,
                               atol=1e-6 * max(1.0, float(np.abs(want).max())))
    np.testing.assert_allclose(_np(e.weight_u), _np(t.weight_u), rtol=1e-4, atol=1e-6)
    ember.nn.utils.remove_spectral_norm(e)
    torch.nn.utils.remove_spectral_norm(t)
    assert list(e.state_dict()) == list(t.state_dict())
    np.testing.assert_allclose(_np(e.weight), _np(t.weight), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("call", [
    lambda m: m.nn.utils.spectral_norm(m.nn.utils.spectral_norm(m.nn.Linear(3, 2))),
    lambda m: m.nn.utils.remove_spectral_norm(m.nn.Linear(3, 2)),
    lambda m: m.nn.utils.spectral_norm(m.nn.Linear(3, 2), n_power_iterations=0),
])
def test_legacy_spectral_norm_errors_match_torch(call):
    same_error(call)
