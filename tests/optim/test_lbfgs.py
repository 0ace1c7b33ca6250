"""ember.optim.LBFGS against torch.optim.LBFGS: closures, fixed steps and the strong-Wolfe line
search, history limits, the state it keeps, a state_dict from torch, torch's errors."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import same_error
from optim_parity import Problem, data, np_, sd_to, torch

import ember
from ember import optim

CASES = [
    dict(),
    dict(lr=0.5, max_iter=5),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=7),
    dict(lr=0.8, max_iter=4, max_eval=6, tolerance_grad=1e-4, tolerance_change=1e-6),
]


def _data(dtype):
    # more samples than unknowns: one minimum, so float rounding cannot drift along a flat valley
    d = data(0, dtype)
    r = np.random.default_rng(5)
    d["x"] = r.standard_normal((4, 30)).astype(dtype)
    d["y"] = r.standard_normal((3, 30)).astype(dtype)
    return d


def _run(mod, opt_mod, kw, steps, dtype):
    p = Problem(mod, _data(dtype))
    opt = opt_mod.LBFGS([p.W, p.b], **kw)
    losses = [float(opt.step(p.closure(opt)).detach()) for _ in range(steps)]
    return p, opt, losses


# float32 runs to convergence stop where rounding makes a tolerance test flip, one iteration
# apart from torch's; the float32 cases are the ones whose iterations are bounded
PAIRS = [(kw, np.float64) for kw in CASES] + [(CASES[1], np.float32), (CASES[4], np.float32)]


@pytest.mark.parametrize("kw,dtype", PAIRS)
def test_steps_match_torch(kw, dtype):
    tol = dict(atol=1e-9, rtol=1e-8) if dtype == np.float64 else dict(atol=2e-5, rtol=1e-4)
    e, e_opt, e_losses = _run(ember, optim, kw, 3, dtype)
    t, t_opt, t_losses = _run(torch, torch.optim, kw, 3, dtype)
    np.testing.assert_allclose(e_losses, t_losses, **tol)
    np.testing.assert_allclose(np_(e.W), np_(t.W), **tol)
    e_state, t_state = e_opt.state[e.W], t_opt.state[t.W]
    assert list(e_state) == list(t_state)
    assert e_state["func_evals"] == t_state["func_evals"]
    assert e_state["n_iter"] == t_state["n_iter"]
    assert len(e_state["old_dirs"]) == len(t_state["old_dirs"])
    np.testing.assert_allclose(np_(e_state["d"]), np_(t_state["d"]), **tol)
    assert repr(e_opt) == repr(t_opt)


def test_state_dict_from_torch_continues_identically():
    kw = dict(line_search_fn="strong_wolfe", max_iter=3)
    t, t_opt, _ = _run(torch, torch.optim, kw, 1, np.float64)
    e = Problem(ember, _data(np.float64), params_from={"W": np_(t.W), "b": np_(t.b)})
    e_opt = optim.LBFGS([e.W, e.b], **kw)
    e_opt.load_state_dict(sd_to(ember, t_opt.state_dict()))
    e_loss = [float(e_opt.step(e.closure(e_opt)).detach()) for _ in range(2)]
    t_loss = [float(t_opt.step(t.closure(t_opt)).detach()) for _ in range(2)]
    np.testing.assert_allclose(e_loss, t_loss, rtol=1e-10)
    np.testing.assert_allclose(np_(e.W), np_(t.W), rtol=1e-8, atol=1e-10)


def test_optimal_start_returns_at_once():
    for mod, opt_mod in ((torch, torch.optim), (ember, optim)):
        w = mod.zeros(3, requires_grad=True)
        opt = opt_mod.LBFGS([w])
        calls = []

        def closure():
            calls.append(1)
            opt.zero_grad()
            loss = (w * 0).sum()
            loss.backward()
            return loss
        opt.step(closure)
        assert len(calls) == 1 and opt.state[w]["func_evals"] == 1


def test_errors_match_torch():
    same_error(lambda m: m.optim.LBFGS([m.zeros(2, requires_grad=True)], lr=-1))
    same_error(lambda m: m.optim.LBFGS([{"params": [m.zeros(2, requires_grad=True)]},
                                        {"params": [m.zeros(2, requires_grad=True)]}]))

    def bad_search(m):
        w = m.ones(2, requires_grad=True)
        opt = m.optim.LBFGS([w], line_search_fn="backtracking")

        def closure():
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            return loss
        opt.step(closure)
    same_error(bad_search)
