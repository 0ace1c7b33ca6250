"""Shared checks for the optimizers of issue 13 against torch.optim: steps from identical weights
and data, state_dict round trips in both directions, all-or-nothing steps, torch's errors."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import same_error, torch_or_skip

import ember
from ember import optim

torch = torch_or_skip()

ATOL, RTOL = 1e-6, 1e-5


def data(seed=0, dtype=np.float32):
    r = np.random.default_rng(seed)
    return dict(W=r.standard_normal((3, 4)).astype(dtype),
                b=r.standard_normal((3, 1)).astype(dtype),
                frozen=r.standard_normal((2,)).astype(dtype),
                x=r.standard_normal((4, 5)).astype(dtype),
                y=r.standard_normal((3, 5)).astype(dtype))


class Problem:
    """A least-squares problem in one framework, with a parameter the loss never uses."""

    def __init__(self, mod, d, params_from=None):
        src = params_from or d
        self.W = mod.tensor(np.array(src["W"]), requires_grad=True)
        self.b = mod.tensor(np.array(src["b"]), requires_grad=True)
        self.frozen = mod.tensor(np.array(d["frozen"]), requires_grad=True)
        self.x, self.y = mod.tensor(d["x"]), mod.tensor(d["y"])

    def params(self):
        return [self.W, self.b, self.frozen]

    def loss(self):
        return ((self.W @ self.x + self.b - self.y) ** 2).mean()

    def closure(self, opt):
        def c():
            opt.zero_grad()
            loss = self.loss()
            loss.backward()
            return loss
        return c

    def train(self, opt, steps):
        losses = []
        for _ in range(steps):
            opt.zero_grad()
            loss = self.loss()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses


def np_(t):
    return t.detach().numpy()


def assert_state_equal(e_sd, t_sd, atol=ATOL, rtol=RTOL):
    assert list(e_sd["state"]) == list(t_sd["state"])
    for k, t_state in t_sd["state"].items():
        e_state = e_sd["state"][k]
        assert list(e_state) == list(t_state), (e_state.keys(), t_state.keys())
        for name, tv in t_state.items():
            ev = e_state[name]
            if isinstance(tv, torch.Tensor):
                assert isinstance(ev, ember.Tensor), name
                assert str(ev.dtype).split(".")[-1] == str(tv.dtype).split(".")[-1], name
                assert tuple(ev.shape) == tuple(tv.shape), name
                np.testing.assert_allclose(np_(ev), tv.numpy(), atol=atol, rtol=rtol)
            elif isinstance(tv, list):
                assert len(ev) == len(tv), name
            else:
                np.testing.assert_allclose(float(ev), float(tv), atol=atol, rtol=rtol)
    assert len(e_sd["param_groups"]) == len(t_sd["param_groups"])
    for eg, tg in zip(e_sd["param_groups"], t_sd["param_groups"]):
        assert eg == tg


def groups(p, kw):
    # two groups, the second with its own lr, so per-group options are exercised too
    return [{"params": [p.W, p.frozen]}, {"params": [p.b], "lr": kw.get("lr", 0.01) * 0.5}]


def check_steps(name, kw, steps=6, dtype=np.float32, atol=ATOL, rtol=RTOL):
    d = data(0, dtype)
    e, t = Problem(ember, d), Problem(torch, d)
    e_opt = getattr(optim, name)(groups(e, kw), **kw)
    t_opt = getattr(torch.optim, name)(groups(t, kw), **kw)
    np.testing.assert_allclose(e.train(e_opt, steps), t.train(t_opt, steps), rtol=rtol, atol=atol)
    for ep, tp in zip(e.params(), t.params()):
        np.testing.assert_allclose(np_(ep), np_(tp), atol=atol, rtol=rtol)
    np.testing.assert_array_equal(np_(e.frozen), d["frozen"])
    assert (e.frozen in e_opt.state) == (t.frozen in t_opt.state)
    assert_state_equal(e_opt.state_dict(), t_opt.state_dict(), atol, rtol)
    assert repr(e_opt) == repr(t_opt)


def sd_to(mod, sd):
    """Converts a state dict between frameworks, tensors through NumPy."""
    def conv(v):
        if hasattr(v, "numpy") and hasattr(v, "dtype"):
            return mod.tensor(np.array(v.detach().numpy()))
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return {"state": {k: conv(s) for k, s in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


def check_round_trip(name, kw):
    d = data(1)
    # torch trains 3 steps; ember picks up its weights and optimizer state and both go on
    t = Problem(torch, d)
    t_opt = getattr(torch.optim, name)(t.params(), **kw)
    t.train(t_opt, 3)
    e = Problem(ember, d, params_from={"W": np_(t.W), "b": np_(t.b)})
    e_opt = getattr(optim, name)(e.params(), **kw)
    e_opt.load_state_dict(sd_to(ember, t_opt.state_dict()))
    assert_state_equal(e_opt.state_dict(), t_opt.state_dict())
    np.testing.assert_allclose(e.train(e_opt, 3), t.train(t_opt, 3), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np_(e.W), np_(t.W), atol=ATOL, rtol=RTOL)
    # and back: ember's state loads into a fresh torch optimizer, which continues identically
    t2 = Problem(torch, d, params_from={"W": np_(e.W), "b": np_(e.b)})
    t2_opt = getattr(torch.optim, name)(t2.params(), **kw)
    t2_opt.load_state_dict(sd_to(torch, e_opt.state_dict()))
    np.testing.assert_allclose(e.train(e_opt, 2), t2.train(t2_opt, 2), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(np_(e.b), np_(t2.b), atol=ATOL, rtol=RTOL)


def check_all_or_nothing(name, kw, key):
    """A state tensor of the wrong shape, loaded for the last parameter: torch raises (after
    writing the first parameter); ember raises the same error and writes nothing."""
    d = data(2)
    results = {}
    for mod, opt_mod in ((torch, torch.optim), (ember, optim)):
        p = Problem(mod, d)
        opt = getattr(opt_mod, name)(p.params(), **kw)
        p.train(opt, 1)
        opt.state[p.b][key] = mod.zeros(7)
        opt.zero_grad()
        p.loss().backward()
        before = [np_(x).copy() for x in p.params()]
        states = {k: (np_(v).copy() if hasattr(v, "numpy") else v)
                  for k, v in opt.state[p.W].items()}
        with pytest.raises(RuntimeError) as err:
            opt.step()
        results[mod.__name__] = str(err.value)
        if mod is ember:
            for x, b in zip(p.params(), before):
                np.testing.assert_array_equal(np_(x), b)
            for k, v in opt.state[p.W].items():
                np.testing.assert_array_equal(np_(v) if hasattr(v, "numpy") else v, states[k])
    assert results["ember"] == results["torch"], results


def check_errors(name, cases):
    """Each of ``cases`` (constructor keywords) raises torch's exception and message."""
    for kw in cases:
        def make(m, kw=kw):
            return getattr(m.optim, name)([m.zeros(2, requires_grad=True)], **kw)
        same_error(make)


def check_capturable_on_cpu(name, kw=None):
    """capturable=True is accepted by the constructor; the step asserts, as torch's on CPU."""
    def step(m):
        w = m.ones(2, requires_grad=True)
        opt = getattr(m.optim, name)([w], capturable=True, **(kw or {}))
        (w * w).sum().backward()
        opt.step()
    same_error(step)
