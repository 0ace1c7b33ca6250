"""ember.func against torch.func: grad/grad_and_value (argnums, has_aux, nesting), vjp, jvp,
jacrev/jacfwd/hessian, vmap (in_dims/out_dims, pytrees, randomness, per-sample gradients),
functional_call (tied weights, strict, several dicts), and torch's errors."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import same_error, torch_or_skip

import ember
import ember.func

torch = torch_or_skip()


def _np(t):
    return t.detach().numpy()


def _close(e, t, rtol=1e-10, atol=1e-12):
    if isinstance(t, (tuple, list)):
        assert isinstance(e, (tuple, list)) and len(e) == len(t)
        for a, b in zip(e, t):
            _close(a, b, rtol, atol)
    elif isinstance(t, dict):
        assert list(e) == list(t)
        for k in t:
            _close(e[k], t[k], rtol, atol)
    elif t is None:
        assert e is None
    else:
        assert tuple(e.shape) == tuple(t.shape)
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_allclose(_np(e), _np(t), rtol=rtol, atol=atol)


R = np.random.default_rng(0)
X = R.standard_normal(4)
Y = R.standard_normal(4)
M = R.standard_normal((3, 4))


def _both(fn, *arrays):
    """fn(module, *tensors) on torch and on ember with the same float64 data."""
    out = {}
    for mod in (torch, ember):
        out[mod.__name__] = fn(mod, *(mod.tensor(a.copy()) for a in arrays))
    return out["ember"], out["torch"]


def f_scalar(m, x, y):
    return (m.sin(x) * y ** 2).sum() + (x * x).sum()


def f_vec(m, x):
    return m.sin(x) * x.sum()


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1,)])
def test_grad_matches_torch(argnums):
    _close(*_both(lambda m, x, y: m.func.grad(lambda a, b: f_scalar(m, a, b), argnums)(x, y),
                  X, Y))


def test_grad_and_value_with_aux_matches_torch():
    def run(m, x, y):
        def f(a, b):
            loss = f_scalar(m, a, b)
            return loss, {"double": loss * 2, "x": a}
        return m.func.grad_and_value(f, argnums=(0,), has_aux=True)(x, y)
    _close(*_both(run, X, Y))


def test_grad_of_dict_argument_matches_torch():
    def run(m, x, y):
        return m.func.grad(lambda p: (p["a"] * p["b"].exp()).sum())({"a": x, "b": y})
    _close(*_both(run, X, Y))


def test_nested_grad_matches_torch():
    def run(m, x):
        third = m.func.grad(m.func.grad(m.func.grad(lambda a: (a.sin() * a ** 3).sum())))
        return m.func.vmap(third)(x)
    _close(*_both(run, X))


def test_grad_through_ordinary_autograd():
    x = ember.tensor(X.copy(), requires_grad=True)
    g = ember.func.grad(lambda a: (a ** 3).sum())(x)
    g.sum().backward()  # d/dx sum(3x^2) = 6x
    np.testing.assert_allclose(_np(x.grad), 6 * X, rtol=1e-12)
    assert ember.func.grad(lambda a: (a ** 3).sum())(ember.tensor(X)).grad_fn is None


def test_vjp_matches_torch():
    def run(m, x, y):
        out, fn = m.func.vjp(lambda a, b: (f_vec(m, a), a * b), x, y)
        return out, fn((m.ones(4, dtype=m.float64), y))
    _close(*_both(run, X, Y))


def test_vjp_with_aux_matches_torch():
    def run(m, x):
        out, fn, aux = m.func.vjp(lambda a: (f_vec(m, a), a.cos()), x, has_aux=True)
        return out, fn(x), aux
    _close(*_both(run, X))


def test_jvp_matches_torch():
    def run(m, x, y):
        return m.func.jvp(lambda a, b: (f_vec(m, a) * b, b.exp()), (x, y), (y, x))
    _close(*_both(run, X, Y))


def test_jvp_with_aux_matches_torch():
    def run(m, x, y):
        return m.func.jvp(lambda a: (a.tanh(), a.sum()), (x,), (y,), has_aux=True)
    _close(*_both(run, X, Y))


@pytest.mark.parametrize("transform", ["jacrev", "jacfwd"])
@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_jacobians_match_torch(transform, argnums):
    def run(m, x, mat):
        jac = getattr(m.func, transform)
        return jac(lambda a, b: (f_vec(m, a) * b[:, :1].sum(), (a * b).sum()), argnums)(x, mat)
    _close(*_both(run, X, M))


def test_hessian_matches_torch():
    _close(*_both(lambda m, x: m.func.hessian(lambda a: (a.sin() * a.sum() ** 2).sum())(x), X))
    _close(*_both(lambda m, x, y: m.func.hessian(lambda a, b: (a * b.exp()).sum() * a.sum(),
                                                 argnums=(0, 1))(x, y), X, Y))


def test_jacrev_with_aux_matches_torch():
    _close(*_both(lambda m, x: m.func.jacrev(lambda a: (a.exp(), a.sum()), has_aux=True)(x), X))


# -- vmap -----------------------------------------------------------------------------------------


B = R.standard_normal((5, 4))
C = R.standard_normal((4, 5))


@pytest.mark.parametrize("case", [
    lambda m, b, c: m.func.vmap(lambda r: r.sin() * 2)(b),
    lambda m, b, c: m.func.vmap(m.dot)(b, c.T),
    lambda m, b, c: m.func.vmap(m.dot, in_dims=(0, 1))(b, c),
    lambda m, b, c: m.func.vmap(lambda r, w: r * w, in_dims=(0, None))(b, c[:, 0]),
    lambda m, b, c: m.func.vmap(lambda r: (r, r.sum()), out_dims=(1, 0))(b),
    lambda m, b, c: m.func.vmap(lambda d: d["a"] + d["b"], in_dims=({"a": 0, "b": 1},))(
        {"a": b, "b": c}),
    lambda m, b, c: m.func.vmap(m.func.vmap(lambda s: s * s))(b),
    lambda m, b, c: m.func.vmap(lambda r: r.sum(), in_dims=-1)(c),
    lambda m, b, c: m.func.vmap(lambda r, k: r * k, in_dims=(0, None))(b, 3.0),
    lambda m, b, c: m.func.vmap(lambda r: (r * 2, c), out_dims=(0, None))(b),
])
def test_vmap_matches_torch(case):
    _close(*_both(case, B, C))


def test_per_sample_gradients_match_torch():
    def run(m, xs, w):
        def loss(weight, x):
            return ((x @ weight).tanh() ** 2).sum()
        return m.func.vmap(m.func.grad(loss), in_dims=(None, 0))(w, xs)
    _close(*_both(run, B, C))


def test_vmap_randomness():
    x = ember.ones(4, 3)
    with pytest.raises(RuntimeError, match="called random operation while in randomness error"):
        ember.func.vmap(lambda r: r * ember.rand(3))(x)
    same = ember.func.vmap(lambda r: r * ember.rand(3), randomness="same")(x)
    assert bool((same == same[0]).all())
    diff = ember.func.vmap(lambda r: r * ember.rand(3), randomness="different")(x)
    assert not bool((diff == diff[0]).all())


@pytest.mark.parametrize("call", [
    lambda m: m.func.vmap(m.add)(m.ones(3), m.ones(4)),
    lambda m: m.func.vmap(m.sin, in_dims=None)(m.ones(3)),
    lambda m: m.func.vmap(m.sin, in_dims=1)(m.ones(3)),
    lambda m: m.func.vmap(lambda a: 1)(m.ones(3)),
    lambda m: m.func.vmap(lambda a: a * 2, randomness="bogus")(m.ones(3)),
    lambda m: m.func.grad(lambda a: a)(m.ones(3)),
    lambda m: m.func.grad(lambda a: 3)(m.ones(3)),
    lambda m: m.func.grad(lambda a: a.sum(), has_aux=True)(m.ones(3)),
    lambda m: m.func.grad(lambda a: a.sum(), argnums=2)(m.ones(3)),
    lambda m: m.func.jvp(m.sin, m.ones(3), m.ones(3)),
])
def test_errors_match_torch(call):
    same_error(call)


def test_vmap_in_dims_structure_error_like_torch():
    same_error(lambda m: m.func.vmap(m.sin, in_dims=(0, 1))(m.ones(3)), exact=False)


# -- functional_call ------------------------------------------------------------------------------


class _Tied:
    @staticmethod
    def make(m):
        net = m.nn.Sequential(m.nn.Linear(4, 3), m.nn.BatchNorm1d(3), m.nn.Linear(3, 4))
        return net


def _weights(m):
    r = np.random.default_rng(7)
    return {"0.weight": m.tensor(r.standard_normal((3, 4))),
            "0.bias": m.tensor(r.standard_normal(3)),
            "1.running_mean": m.tensor(r.standard_normal(3))}


def test_functional_call_matches_torch_and_restores():
    t_net = _Tied.make(torch).double().eval()
    e_net = _Tied.make(ember).double().eval()
    e_net.load_state_dict({k: ember.tensor(v.numpy().copy())
                           for k, v in t_net.state_dict().items()})
    outs = []
    for m, net in ((torch, t_net), (ember, e_net)):
        before = [p.clone() for p in net.state_dict().values()]
        outs.append(m.func.functional_call(net, _weights(m), (m.tensor(B.copy()),)))
        after = list(net.state_dict().values())
        assert all(bool((a == b).all()) for a, b in zip(before, after))
        assert isinstance(net[0].weight, m.nn.Parameter)
    np.testing.assert_allclose(_np(outs[1]), _np(outs[0]), rtol=1e-10)


def test_functional_call_gradients_flow_to_the_given_tensors():
    outs = []
    for m in (torch, ember):
        net = m.nn.Linear(4, 3).double()
        params = {"weight": m.tensor(C.T[:3].copy(), requires_grad=True),
                  "bias": m.tensor(C[0, :3].copy(), requires_grad=True)}
        x = m.tensor(B.copy())
        g = m.func.grad(lambda p: (m.func.functional_call(net, p, (x,)) ** 2).sum())(params)
        outs.append(g)
        assert net.weight.grad is None
    for k in outs[1]:
        np.testing.assert_allclose(_np(outs[0][k]), _np(outs[1][k]), rtol=1e-10)


def test_functional_call_tied_weights_and_several_dicts():
    for m in (torch, ember):
        net = m.nn.Sequential(m.nn.Linear(3, 3, bias=False), m.nn.Linear(3, 3, bias=False))
        net[1].weight = net[0].weight
        x = m.ones(1, 3)
        w = m.eye(3)
        assert bool((m.func.functional_call(net, {"0.weight": w}, x) == x).all())
        untied = m.func.functional_call(net, {"0.weight": w}, x, tie_weights=False)
        assert not bool((untied == x).all())
        y = m.func.functional_call(net, ({"0.weight": w}, {}), (x,), {})
        assert bool((y == x).all())


@pytest.mark.parametrize("call", [
    lambda m: m.func.functional_call(m.nn.Linear(2, 2), {"weight": m.ones(2, 2)},
                                     (m.ones(2),), strict=True),
    lambda m: m.func.functional_call(m.nn.Linear(2, 2), ({"weight": m.ones(2, 2)},
                                                         {"weight": m.ones(2, 2)}), (m.ones(2),)),
])
def test_functional_call_errors_match_torch(call):
    same_error(call)


def test_stack_module_state_ensemble_matches_torch():
    torch.manual_seed(0)
    t_models = [torch.nn.Linear(4, 3).double() for _ in range(3)]
    e_models = [ember.nn.Linear(4, 3).double() for _ in range(3)]
    for e_mod, t_mod in zip(e_models, t_models):  # torch's weights
        e_mod.load_state_dict({k: ember.tensor(v.detach().numpy())
                               for k, v in t_mod.state_dict().items()})
    outs = []
    for m, models in ((torch, t_models), (ember, e_models)):
        params, buffers = m.func.stack_module_state(models)
        assert list(params) == ["weight", "bias"] and params["weight"].is_leaf
        assert params["weight"].requires_grad and tuple(params["weight"].shape) == (3, 3, 4)

        def run(p, b, x, net=models[0], m=m):
            return m.func.functional_call(net, (p, b), (x,))
        outs.append(m.func.vmap(run, in_dims=(0, 0, None))(params, buffers, m.tensor(B.copy())))
    _close(outs[1], outs[0])


@pytest.mark.filterwarnings("ignore:Attempted to insert a get_attr Node")  # torch.fx's
def test_linearize_and_functionalize_match_torch():
    def run(m, x, y):
        out, fn = m.func.linearize(lambda a: a.sin() * a, x)
        return out, fn(y), m.func.functionalize(lambda a: a.exp())(x)
    _close(*_both(run, X, Y))


@pytest.mark.parametrize("call", [
    lambda m: m.func.stack_module_state([]),
    lambda m: m.func.stack_module_state([m.nn.Linear(2, 2), m.nn.Linear(2, 2).eval()]),
    lambda m: m.func.stack_module_state([m.nn.Linear(2, 2), m.nn.Conv1d(2, 2, 1)]),
])
def test_stack_module_state_errors_match_torch(call):
    same_error(call)


def test_replace_all_batch_norm_modules_like_torch():
    for m in (torch, ember):
        net = m.nn.Sequential(m.nn.Linear(2, 3), m.nn.BatchNorm1d(3))
        m.func.replace_all_batch_norm_modules_(net)
        assert net[1].running_mean is None and not net[1].track_running_stats
        assert list(net.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_top_level_vmap_like_torch():
    assert ember.vmap is ember.func.vmap
    _close(*_both(lambda m, b: m.vmap(m.sum)(b), B))
