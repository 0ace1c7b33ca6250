"""ember.optim against torch.optim: several steps of every optimizer from identical weights and
data, state_dict structure and round trips in both directions, reprs and error messages."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import torch_or_skip

import ember
from ember import optim

torch = torch_or_skip()

ATOL, RTOL = 1e-6, 1e-5

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.2)),
    ("SGD", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.05, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6, maximize=True)),
]


def _data(seed=0):
    r = np.random.default_rng(seed)
    return dict(W=r.standard_normal((3, 4)).astype(np.float32),
                b=r.standard_normal((3, 1)).astype(np.float32),
                frozen=r.standard_normal((2,)).astype(np.float32),
                x=r.standard_normal((4, 5)).astype(np.float32),
                y=r.standard_normal((3, 5)).astype(np.float32))


class _Problem:
    """A linear least-squares problem in one framework, with a parameter the loss never uses."""

    def __init__(self, mod, d, params_from=None):
        src = params_from or d
        self.mod = mod
        self.W = mod.tensor(np.array(src["W"]), requires_grad=True)
        self.b = mod.tensor(np.array(src["b"]), requires_grad=True)
        self.frozen = mod.tensor(np.array(d["frozen"]), requires_grad=True)
        self.x, self.y = mod.tensor(d["x"]), mod.tensor(d["y"])

    def params(self):
        return [self.W, self.b, self.frozen]

    def loss(self):
        return ((self.W @ self.x + self.b - self.y) ** 2).mean()

    def train(self, opt, steps):
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = self.loss()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses


def _np(t):
    return t.detach().numpy()


def _groups(mod, p, kw):
    # two groups, the second with its own lr, so per-group options are exercised too
    return [{"params": [p.W, p.frozen]}, {"params": [p.b], "lr": kw.get("lr", 0.01) * 0.5}]


def _assert_state_equal(e_sd, t_sd):
    assert list(e_sd["state"]) == list(t_sd["state"])
    for k, t_state in t_sd["state"].items():
        e_state = e_sd["state"][k]
        assert list(e_state) == list(t_state), (e_state.keys(), t_state.keys())
        for name, tv in t_state.items():
            ev = e_state[name]
            assert isinstance(ev, ember.Tensor), name
            assert str(ev.dtype).split(".")[-1] == str(tv.dtype).split(".")[-1], name
            assert tuple(ev.shape) == tuple(tv.shape), name
            np.testing.assert_allclose(_np(ev), tv.numpy(), atol=ATOL, rtol=RTOL)
    assert len(e_sd["param_groups"]) == len(t_sd["param_groups"])
    for eg, tg in zip(e_sd["param_groups"], t_sd["param_groups"]):
        tg = {k: v for k, v in tg.items() if not (k == "fused" and "fused" not in eg)}
        assert eg == tg


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_steps_match_torch(name, kw):
    d = _data()
    e, t = _Problem(ember, d), _Problem(torch, d)
    e_opt = getattr(optim, name)(_groups(ember, e, kw), **kw)
    t_opt = getattr(torch.optim, name)(_groups(torch, t, kw), **kw)
    e_losses, t_losses = e.train(e_opt, 6), t.train(t_opt, 6)
    np.testing.assert_allclose(e_losses, t_losses, rtol=RTOL, atol=ATOL)
    for ep, tp in zip(e.params(), t.params()):
        np.testing.assert_allclose(_np(ep), _np(tp), atol=ATOL, rtol=RTOL)
    # the unused parameter keeps its value and None grad; only Adagrad (as torch) gives it state
    np.testing.assert_array_equal(_np(e.frozen), d["frozen"])
    assert e.frozen.grad is None
    assert (e.frozen in e_opt.state) == (name == "Adagrad")
    _assert_state_equal(e_opt.state_dict(), t_opt.state_dict())


def _sd_to(mod, sd):
    """Converts a state dict between frameworks, tensors through NumPy."""
    def conv(v):
        if hasattr(v, "numpy") and hasattr(v, "dtype"):
            return mod.tensor(np.array(v.detach().numpy()))
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return {"state": {k: conv(s) for k, s in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
])
def test_state_dict_round_trips_with_torch(name, kw):
    d = _data(1)
    # torch trains 3 steps; ember picks up its weights and optimizer state and both go on
    t = _Problem(torch, d)
    t_opt = getattr(torch.optim, name)(t.params(), **kw)
    t.train(t_opt, 3)
    weights = {"W": _np(t.W), "b": _np(t.b)}
    e = _Problem(ember, d, params_from=weights)
    e_opt = getattr(optim, name)(e.params(), **kw)
    e_opt.load_state_dict(_sd_to(ember, t_opt.state_dict()))
    _assert_state_equal(e_opt.state_dict(), t_opt.state_dict())
    np.testing.assert_allclose(e.train(e_opt, 3), t.train(t_opt, 3), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_np(e.W), _np(t.W), atol=ATOL, rtol=RTOL)

    # and back: ember's state loads into a fresh torch optimizer, which continues identically
    t2 = _Problem(torch, d, params_from={"W": _np(e.W), "b": _np(e.b)})
    t2_opt = getattr(torch.optim, name)(t2.params(), **kw)
    t2_opt.load_state_dict(_sd_to(torch, e_opt.state_dict()))
    np.testing.assert_allclose(e.train(e_opt, 2), t2.train(t2_opt, 2), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_np(e.b), _np(t2.b), atol=ATOL, rtol=RTOL)


def test_state_dict_structure():
    p = [ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)]
    opt = optim.Adam([{"params": [p[0]]}, {"params": [p[1]], "lr": 0.1}])
    for q in p:
        q.grad = ember.ones(q.shape)
    opt.step()
    sd = opt.state_dict()
    assert list(sd) == ["state", "param_groups"]
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    step = sd["state"][0]["step"]
    assert isinstance(step, ember.Tensor) and step.dtype == ember.float32 and step.ndim == 0
    assert step.item() == 1.0
    assert list(sd["state"][1]) == ["step", "exp_avg", "exp_avg_sq"]


def test_sgd_first_step_buffer_is_the_gradient():
    w = ember.zeros(2, requires_grad=True)
    opt = optim.SGD([w], lr=1.0, momentum=0.9, dampening=0.5)
    w.grad = ember.tensor([1.0, 2.0])
    opt.step()
    # the first step copies the gradient into the buffer, undamped; later steps dampen
    np.testing.assert_array_equal(_np(opt.state[w]["momentum_buffer"]), [1.0, 2.0])
    np.testing.assert_array_equal(_np(w), [-1.0, -2.0])
    opt.step()
    np.testing.assert_allclose(_np(opt.state[w]["momentum_buffer"]), [1.4, 2.8], rtol=1e-6)
    assert opt.state[w]["momentum_buffer"] is not w.grad


def test_named_parameters_like_torch():
    e_w, t_w = ember.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    e_sd = optim.SGD([("w", e_w)], lr=0.1).state_dict()
    t_sd = torch.optim.SGD([("w", t_w)], lr=0.1).state_dict()
    assert e_sd["param_groups"][0]["param_names"] == t_sd["param_groups"][0]["param_names"]
    assert e_sd["param_groups"][0]["params"] == [0]


class _Model:
    """A stand-in for the tutorial's resnet: frozen body, fresh ``fc``."""

    def __init__(self):
        self.body = ember.randn(8, 4)
        self.fc_weight = ember.randn(10, 8, requires_grad=True)
        self.fc_bias = ember.zeros(10, requires_grad=True)

    def parameters(self):
        return iter([self.body, self.fc_weight, self.fc_bias])


TUTORIAL_REPR = """SGD (
Parameter Group 0
    dampening: 0
    differentiable: False
    foreach: None
    lr: 0.01
    maximize: False
    momentum: 0.9
    nesterov: False
    weight_decay: 0
)"""


def test_tutorial_sgd_repr():
    model = _Model()
    optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    assert repr(optimizer) == TUTORIAL_REPR
    assert str(optimizer) == TUTORIAL_REPR


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adagrad"])
def test_repr_matches_torch(name):
    e = getattr(optim, name)([{"params": [ember.zeros(1, requires_grad=True)]},
                              {"params": [ember.zeros(1, requires_grad=True)], "lr": 0.5}])
    t = getattr(torch.optim, name)([{"params": [torch.zeros(1, requires_grad=True)]},
                                    {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5}])
    assert repr(e) == repr(t)


def test_frozen_parameters_untouched_by_step():
    model = _Model()
    body = _np(model.body).copy()
    opt = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    x = ember.randn(3, 8)
    loss = (x @ model.fc_weight.T + model.fc_bias).sum()  # noqa: F841 (grads below)
    loss.backward()
    opt.step()
    assert model.body.grad is None
    np.testing.assert_array_equal(_np(model.body), body)
    assert model.body not in opt.state and model.fc_weight in opt.state


def test_zero_grad():
    w = ember.zeros(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = ember.ones(2)
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and not g.requires_grad
    np.testing.assert_array_equal(_np(g), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None


def test_closure_runs_with_grad_and_returns_loss():
    w = ember.ones(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with ember.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 2.0
    np.testing.assert_allclose(_np(w), [0.0, 0.0])
    assert not w.grad.requires_grad


def test_step_hooks():
    w = ember.ones(1, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    w.grad = ember.ones(1)
    opt.step()
    h1.remove()
    opt.step()
    assert calls == ["pre", "post", "post"]


def test_load_state_dict_casts_to_param_dtype():
    w = ember.zeros(2, dtype=ember.float64, requires_grad=True)
    opt = optim.Adam([w])
    sd = {"state": {0: {"step": ember.tensor(3.0), "exp_avg": ember.ones(2),
                        "exp_avg_sq": ember.ones(2)}},
          "param_groups": [dict(opt.state_dict()["param_groups"][0])]}
    opt.load_state_dict(sd)
    assert opt.state[w]["exp_avg"].dtype == ember.float64
    assert opt.state[w]["step"].dtype == ember.float32  # step counters are kept as they are


def test_optimizer_subclass_with_required_default():
    class Plain(optim.Optimizer):
        def __init__(self, params, lr=optim.optimizer.required):
            super().__init__(params, dict(lr=lr))

        @optim.optimizer._use_grad
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-group["lr"])

    w = ember.ones(1, requires_grad=True)
    with pytest.raises(ValueError, match="didn't specify a value of required optimization "
                                         "parameter lr"):
        Plain([w])
    opt = Plain([w], lr=0.5)
    w.grad = ember.ones(1)
    opt.step()
    assert w.item() == 0.5


def _error(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, str(e).replace("torch.", "ember.")
    return None


ERROR_CASES = [
    lambda m, p: m.optim.SGD([]),
    lambda m, p: m.optim.SGD(p),
    lambda m, p: m.optim.SGD([3]),
    lambda m, p: m.optim.SGD([p * 2]),
    lambda m, p: m.optim.SGD([p], lr=-0.1),
    lambda m, p: m.optim.SGD([p], momentum=-0.5),
    lambda m, p: m.optim.SGD([p], weight_decay=-1),
    lambda m, p: m.optim.SGD([p], nesterov=True),
    lambda m, p: m.optim.SGD([p], momentum=0.9, dampening=0.1, nesterov=True),
    lambda m, p: m.optim.SGD([{"params": [p]}, {"params": p}]),
    lambda m, p: m.optim.SGD([{"params": {p}}]),
    lambda m, p: m.optim.SGD([("a", p), p * 1]),
    lambda m, p: m.optim.SGD([p]).add_param_group([p]),
    lambda m, p: m.optim.SGD([p]).add_param_group({"params": [("a", m.zeros(1))]}),
    lambda m, p: m.optim.Adam([p], lr=-1.0),
    lambda m, p: m.optim.Adam([p], eps=-1.0),
    lambda m, p: m.optim.Adam([p], betas=(1.0, 0.9)),
    lambda m, p: m.optim.Adam([p], betas=(0.9, 1)),
    lambda m, p: m.optim.Adam([p], betas=(0.9, 0)),
    lambda m, p: m.optim.Adam([p], weight_decay=-0.1),
    lambda m, p: m.optim.AdamW([p], betas=(-0.1, 0.9)),
    lambda m, p: m.optim.RMSprop([p], alpha=-1),
    lambda m, p: m.optim.RMSprop([p], eps=-1),
    lambda m, p: m.optim.RMSprop([p], momentum=-1),
    lambda m, p: m.optim.Adagrad([p], lr_decay=-1),
    lambda m, p: m.optim.Adagrad([p], initial_accumulator_value=-1),
    lambda m, p: m.optim.Adagrad([p], eps=-1),
    lambda m, p: m.optim.SGD([p]).load_state_dict({"state": {}, "param_groups": []}),
    lambda m, p: m.optim.SGD([p]).load_state_dict(
        {"state": {}, "param_groups": [{"params": [0, 1]}]}),
]


@pytest.mark.parametrize("case", range(len(ERROR_CASES)))
def test_errors_match_torch(case):
    fn = ERROR_CASES[case]
    e_err = _error(lambda: fn(ember, ember.zeros(2, requires_grad=True)))
    t_err = _error(lambda: fn(torch, torch.zeros(2, requires_grad=True)))
    assert t_err is not None
    assert e_err == t_err


def test_duplicate_parameters_warn_like_torch():
    w = ember.zeros(1, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters; in future, this will cause an "
                                         "error; see github.com/pytorch/pytorch/issues/40967"):
        optim.SGD([w, w], lr=0.1)


def test_differentiable_is_refused():
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        optim.Adam([ember.zeros(1, requires_grad=True)], differentiable=True)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
                                     ("RMSprop", dict(centered=True, momentum=0.5)),
                                     ("Adagrad", dict(lr_decay=0.1))])
def test_float64_parameters_match_torch(name, kw):
    d = {k: v.astype(np.float64) for k, v in _data(2).items()}
    e, t = _Problem(ember, d), _Problem(torch, d)
    e_opt = getattr(optim, name)(e.params(), **kw)
    t_opt = getattr(torch.optim, name)(t.params(), **kw)
    np.testing.assert_allclose(e.train(e_opt, 5), t.train(t_opt, 5), rtol=1e-12)
    np.testing.assert_allclose(_np(e.W), _np(t.W), rtol=1e-12, atol=1e-14)
    _assert_state_equal(e_opt.state_dict(), t_opt.state_dict())


# -- all-or-nothing steps --------------------------------------------------------------------------
# torch updates parameter after parameter: a step that fails on a loaded state of the wrong shape
# or dtype has already written the parameters before it. ember checks the whole step first and
# raises torch's error (from the op torch fails in) with nothing written.

_STATE_KEYS = [
    ("SGD", dict(lr=0.1, momentum=0.9), "momentum_buffer"),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1), "momentum_buffer"),
    ("Adam", dict(), "exp_avg"),
    ("Adam", dict(weight_decay=0.1), "exp_avg_sq"),
    ("Adam", dict(amsgrad=True), "max_exp_avg_sq"),
    ("AdamW", dict(), "exp_avg_sq"),
    ("RMSprop", dict(), "square_avg"),
    ("RMSprop", dict(momentum=0.9, centered=True), "momentum_buffer"),
    ("RMSprop", dict(momentum=0.9, centered=True), "grad_avg"),
    ("Adagrad", dict(), "sum"),
]
_BAD = {
    "shape (3,)": lambda m, s: m.zeros(3), "shape (2, 3)": lambda m, s: m.zeros(2, 3),
    "shape (4, 3, 3)": lambda m, s: m.zeros(4, 3, 3), "shape (1,)": lambda m, s: m.zeros(1),
    "shape ()": lambda m, s: m.zeros(()), "int64": lambda m, s: s.to(m.int64),
    "bool": lambda m, s: s > 0, "float64": lambda m, s: s.to(m.float64),
    "float16": lambda m, s: s.to(m.float16),
}


def _stepped(m, name, kw):
    """An optimizer over two parameters after one step, with the gradients of a second."""
    a = m.tensor([[1.0, -2.0, 3.0], [0.5, 0.25, -1.0]], requires_grad=True)
    b = m.tensor([[2.0, 1.0, 0.0], [-1.0, 3.0, 1.5], [0.1, 0.2, 0.3]], requires_grad=True)
    opt = getattr(m.optim, name)([a, b], **kw)
    for _ in range(2):
        opt.zero_grad()
        ((a * a).sum() + (b * b * b).sum()).backward()
        if _ == 0:
            opt.step()
    return a, b, opt


def _snapshot(params, opt):
    return ([p.detach().numpy().copy() for p in params],
            {id(p): {k: v.numpy().copy() if hasattr(v, "numpy") else v
                     for k, v in opt.state[p].items()} for p in params if p in opt.state})


def _assert_same_snapshot(before, after):
    for x, y in zip(before[0], after[0]):
        np.testing.assert_array_equal(x, y)
    assert before[1].keys() == after[1].keys()
    for k in before[1]:
        assert before[1][k].keys() == after[1][k].keys()
        for key in before[1][k]:
            np.testing.assert_array_equal(np.asarray(before[1][k][key]),
                                          np.asarray(after[1][k][key]))


@pytest.mark.parametrize("bad", list(_BAD))
@pytest.mark.parametrize("name,kw,key", _STATE_KEYS)
def test_step_is_all_or_nothing(name, kw, key, bad):
    outcome = {}
    for m in (torch, ember):
        a, b, opt = _stepped(m, name, kw)
        opt.state[b][key] = _BAD[bad](m, opt.state[b][key])
        before = _snapshot([a, b], opt)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                opt.step()
        except Exception as e:  # the error is what is compared
            outcome[m] = (type(e), str(e))
            if m is ember:  # torch has written `a` by now; ember nothing at all
                _assert_same_snapshot(before, _snapshot([a, b], opt))
        else:
            outcome[m] = ("ok", a.detach().numpy().copy(), b.detach().numpy().copy())
    t, e = outcome[torch], outcome[ember]
    assert e[0] == t[0], (e, t)
    if t[0] == "ok":  # a state of another float width that torch accepts: the same update
        np.testing.assert_allclose(e[1], t[1], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(e[2], t[2], rtol=1e-3, atol=1e-3)
    else:
        assert e[1] == t[1]


@pytest.mark.parametrize("name,kw", [("Adam", {}), ("Adagrad", {}), ("RMSprop", {})])
@pytest.mark.parametrize("step", ["zeros(2)", "ones(1)", "tensor(3)", "zeros(2, 2)"])
def test_step_counter_of_the_wrong_size(name, kw, step):
    outcome = {}
    for m in (torch, ember):
        a, b, opt = _stepped(m, name, kw)
        opt.state[b]["step"] = eval(f"m.{step}")
        before = _snapshot([a, b], opt)
        try:
            opt.step()
        except Exception as e:  # the error is what is compared
            outcome[m] = (type(e), str(e))
            if m is ember:
                _assert_same_snapshot(before, _snapshot([a, b], opt))
        else:
            outcome[m] = ("ok",)
    assert outcome[ember] == outcome[torch]


def test_failed_step_in_a_later_group_writes_no_earlier_group():
    a = ember.ones(2, 3, requires_grad=True)
    b = ember.ones(3, 3, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    (a.sum() + b.sum()).backward()
    opt.step()
    opt.state[b]["momentum_buffer"] = ember.zeros(3)
    before = _snapshot([a, b], opt)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast "
                                           r"shape \[3, 3\]"):
        opt.step()
    _assert_same_snapshot(before, _snapshot([a, b], opt))


@pytest.mark.parametrize("name", ["Adam", "RMSprop", "Adagrad"])
def test_failed_step_leaves_no_new_state(name):
    # `a` gets its state in this step, which then fails on `b`: `a`'s new state goes too
    a = ember.ones(2, 3, requires_grad=True)
    b = ember.ones(3, 3, requires_grad=True)
    opt = getattr(optim, name)([a, b])
    b.sum().backward()
    opt.step()
    opt.state.pop(a, None)  # (Adagrad makes every state when it is constructed)
    a.sum().backward()
    key = {"Adam": "exp_avg", "RMSprop": "square_avg", "Adagrad": "sum"}[name]
    opt.state[b][key] = ember.zeros(5)
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(5\)"):
        opt.step()
    assert not opt.state.get(a)
    np.testing.assert_array_equal(a.detach().numpy(), np.ones((2, 3), np.float32))


def test_non_tensor_state_is_refused_before_any_write():
    # torch fails midway with AttributeError ('list' object has no attribute 'mul_')
    a, b, opt = _stepped(ember, "SGD", dict(lr=0.1, momentum=0.9))
    opt.state[b]["momentum_buffer"] = [1.0, 2.0]
    before = _snapshot([a], opt)
    with pytest.raises(TypeError, match="optimizer state holds a list where a Tensor is expected"):
        opt.step()
    _assert_same_snapshot(before, _snapshot([a], opt))
