"""The optimizers' array kernels (``ember/backend/optim_kernels.py``, ``backend.optim``) against
torch.optim: several steps of every variant in float32 and float64, the version counters that
torch's in-place ops bump, state_dict contents, no op dispatch inside a step, no graph, and torch's
outcome for state tensors of the wrong shape or dtype."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import torch_or_skip

import ember
from ember import optim
from ember.backend import NUMPY

torch = torch_or_skip()

# every optimizer whose update is a backend kernel, with the variants its kernel branches on
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.3, 0.99), eps=1e-6)),  # lerp's other branch (weight >= 0.5)
    ("Adam", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5,
                     maximize=True)),
    ("Adadelta", dict(lr=0.5)),
    ("Adadelta", dict(lr=0.5, rho=0.3, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.9), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),  # the first steps: momentum SGD
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.5), weight_decay=0.1, decoupled_weight_decay=True,
                   maximize=True)),  # beta2 0.5: the rectified step from the second step on
    ("ASGD", dict(lr=0.01, weight_decay=0.1)),
    ("ASGD", dict(lr=0.01, t0=2, maximize=True)),  # averaging from the third step
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-3, 0.02), maximize=True)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]
SCALARS = ("step", "mu_product", "eta", "mu")


def _problem(m, dtype):
    """Two parameters (a matrix and a bias) and a fixed least-squares loss with a cubic term,
    so that gradients change sign and size from step to step."""
    r = np.random.default_rng(3)
    W = m.tensor(r.standard_normal((6, 5)).astype(dtype), requires_grad=True)
    b = m.tensor(r.standard_normal((6,)).astype(dtype), requires_grad=True)
    x = m.tensor(r.standard_normal((5, 8)).astype(dtype))
    y = m.tensor(r.standard_normal((6, 8)).astype(dtype))

    def loss():
        z = W @ x + b[:, None] - y
        return (z * z).mean() + 0.1 * (W * W * W).sum()

    return [W, b], loss


def _run(m, name, kw, dtype, steps=7):
    params, loss = _problem(m, dtype)
    opt = getattr(m.optim, name)(params, **kw)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(steps):
            opt.zero_grad()
            value = loss()
            value.backward()
            opt.step()
            losses.append(value.item())
    return params, opt, losses


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("dtype,tol", [(np.float32, dict(rtol=1e-5, atol=1e-6)),
                                       (np.float64, dict(rtol=1e-12, atol=1e-13))],
                         ids=["float32", "float64"])
@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_steps_match_torch(name, kw, dtype, tol):
    e_params, e_opt, e_losses = _run(ember, name, kw, dtype)
    t_params, t_opt, t_losses = _run(torch, name, kw, dtype)
    np.testing.assert_allclose(e_losses, t_losses, **tol)
    for ep, tp in zip(e_params, t_params):
        assert ep.dtype == getattr(ember, str(tp.dtype).split(".")[1])
        np.testing.assert_allclose(_np(ep), _np(tp), **tol)
    # the state: the same keys in torch's order, dtypes, shapes and values
    e_sd, t_sd = e_opt.state_dict(), t_opt.state_dict()
    assert list(e_sd["state"]) == list(t_sd["state"])
    for k, t_state in t_sd["state"].items():
        e_state = e_sd["state"][k]
        assert list(e_state) == list(t_state)
        for key, tv in t_state.items():
            ev = e_state[key]
            assert str(ev.dtype).split(".")[1] == str(tv.dtype).split(".")[1], key
            assert tuple(ev.shape) == tuple(tv.shape), key
            np.testing.assert_allclose(_np(ev), tv.numpy(), **tol)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_versions_bump_as_torch(name, kw):
    # each in-place op torch's update runs on a parameter or a state tensor bumps its version
    e_params, e_opt, _ = _run(ember, name, kw, np.float32, steps=3)
    t_params, t_opt, _ = _run(torch, name, kw, np.float32, steps=3)
    for ep, tp in zip(e_params, t_params):
        assert ep._version == tp._version
        e_state, t_state = e_opt.state[ep], t_opt.state[tp]
        assert {k: v._version for k, v in e_state.items()} == \
            {k: v._version for k, v in t_state.items()}


@pytest.mark.parametrize("name,kw", CASES[::3], ids=IDS[::3])
def test_a_step_records_nothing(name, kw):
    # differentiable=False: the update writes the leaves' memory, outside autograd, even when
    # step() is called with grad mode on; the parameters stay leaves that require grad
    params, loss = _problem(ember, np.float32)
    opt = getattr(optim, name)(params, **kw)
    loss().backward()
    before = [_np(p).copy() for p in params]
    with ember.enable_grad():
        opt.step()
    for p, b in zip(params, before):
        assert p.is_leaf and p.requires_grad and p.grad_fn is None
        assert not np.array_equal(_np(p), b)
    for state in opt.state.values():
        for v in state.values():
            assert not v.requires_grad and v.grad_fn is None
    # the parameters still train: a new loss has a graph to them
    value = loss()
    value.backward()
    assert all(p.grad is not None for p in params)


def test_step_dispatches_no_ops(monkeypatch):
    # the update runs on arrays: no op node, no in-place op dispatch, for any optimizer
    from ember.ops import _op, inplace

    calls = []
    real_apply, real_inplace = _op.Op.apply.__func__, inplace.apply_inplace
    monkeypatch.setattr(_op.Op, "apply", classmethod(
        lambda cls, *a, **k: calls.append(cls.__name__) or real_apply(cls, *a, **k)))
    monkeypatch.setattr(inplace, "apply_inplace",
                        lambda *a, **k: calls.append("inplace") or real_inplace(*a, **k))
    for name, kw in CASES:
        params, loss = _problem(ember, np.float32)
        opt = getattr(optim, name)(params, **kw)
        for _ in range(3):
            opt.zero_grad()
            loss().backward()
            calls.clear()
            opt.step()
            assert calls == [], (name, kw, calls)


def test_kernels_are_the_backends():
    # one named kernel per optimizer, on the backend object (a CuPy backend offers the same)
    names = {"sgd", "adam", "adamax", "nadam", "radam", "rmsprop", "adagrad", "adadelta", "asgd",
             "rprop"}
    assert names <= {n for n in dir(NUMPY.optim) if not n.startswith("_")}
    assert NUMPY.optim.xp is NUMPY.xp


def test_kernel_on_arrays_matches_the_optimizer():
    # the kernel alone, on arrays, is the optimizer's update: Adam's first step from zeros moves
    # every coordinate by lr against the sign of its gradient
    p = np.array([1.0, -2.0, 3.0], np.float32)
    g = np.array([0.5, -0.25, 0.0], np.float32)
    m, v, step = np.zeros(3, np.float32), np.zeros(3, np.float32), np.zeros((), np.float32)
    NUMPY.optim.adam(p, g, m, v, None, step, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8,
                     weight_decay=0, amsgrad=False, maximize=False, decoupled_weight_decay=False)
    t = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    t.grad = torch.tensor([0.5, -0.25, 0.0])
    torch.optim.Adam([t], lr=0.1).step()
    np.testing.assert_array_equal(p, t.detach().numpy())
    assert step == 1 and g.tolist() == [0.5, -0.25, 0.0]  # the gradient is never written


@pytest.mark.parametrize("state_dtype,rtol", [("float64", 2e-6), ("float16", 2e-3)])
def test_mixed_dtype_state_matches_torch(state_dtype, rtol):
    # a state loaded in another float width than its parameter widens the intermediates it takes
    # part in, as promotion does in torch (SGD's momentum buffer in float64 and in float16; torch
    # computes float16 ops in float32, rounding once per op, so that case agrees to float16's
    # precision)
    out = []
    for m in (torch, ember):
        params, loss = _problem(m, np.float32)
        opt = m.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, dampening=0)
        for i in range(4):
            opt.zero_grad()
            loss().backward()
            opt.step()
            if i == 0:
                for p in params:
                    opt.state[p]["momentum_buffer"] = \
                        opt.state[p]["momentum_buffer"].to(getattr(m, state_dtype))
        out.append([_np(p).copy() for p in params])
    for t, e in zip(*out):
        np.testing.assert_allclose(e, t, rtol=rtol, atol=1e-6)


# -- a state tensor of the wrong shape or dtype -----------------------------------------------------
# The per-parameter optimizers check a step's shapes and dtypes as torch's ops would (each
# ``_check``) before any write: the same error as torch, or, where torch accepts, the same update.

_BAD = {"(7,)": lambda m, s: m.zeros(7), "(2,6,5)": lambda m, s: m.zeros(2, 6, 5),
        "(1,)": lambda m, s: m.zeros(1), "()": lambda m, s: m.zeros(()),
        "int64": lambda m, s: s.to(m.int64), "bool": lambda m, s: s > 0,
        "float64": lambda m, s: s.to(m.float64), "float16": lambda m, s: s.to(m.float16)}
_KEYS = [("Adadelta", "square_avg"), ("Adadelta", "acc_delta"), ("Adamax", "exp_avg"),
         ("Adamax", "exp_inf"), ("NAdam", "exp_avg"), ("NAdam", "exp_avg_sq"),
         ("NAdam", "mu_product"), ("NAdam", "step"), ("RAdam", "exp_avg"),
         ("RAdam", "exp_avg_sq"), ("RAdam", "step"), ("ASGD", "ax"), ("ASGD", "eta"),
         ("ASGD", "mu"), ("ASGD", "step"), ("Rprop", "prev"), ("Rprop", "step_size"),
         ("Rprop", "step")]


@pytest.mark.parametrize("bad", list(_BAD))
@pytest.mark.parametrize("name,key", _KEYS)
def test_bad_state_as_torch(name, key, bad):
    outcome = {}
    for m in (torch, ember):
        params, loss = _problem(m, np.float32)
        W = params[0]
        opt = getattr(m.optim, name)(params, **({"t0": 1} if name == "ASGD" else {}))
        result = None
        for s in range(3):
            opt.zero_grad()
            loss().backward()
            if s == 1:
                opt.state[W][key] = _BAD[bad](m, opt.state[W][key])
                before = [_np(p).copy() for p in params]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    opt.step()
            except RuntimeError as e:
                result = ("error", str(e))
                if m is ember:  # torch has written W's update by now; ember nothing at all
                    for p, b in zip(params, before):
                        np.testing.assert_array_equal(_np(p), b)
                break
        outcome[m] = result or ("ok", [_np(p).copy() for p in params])
    t, e = outcome[torch], outcome[ember]
    assert e[0] == t[0], (e, t)
    if t[0] == "error":
        assert e[1] == t[1]
    else:
        for x, y in zip(e[1], t[1]):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
