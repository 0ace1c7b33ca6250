"""ember.optim.lr_scheduler.CyclicLR against torch's: lr and momentum (or beta1) sequences in every
mode, a custom scale_fn, state_dict contents and resumption from torch's state, errors."""
from __future__ import annotations

import warnings

import pytest
from helpers import same_error, torch_or_skip

import ember

torch = torch_or_skip()


def _optimizer(mod, kind="SGD"):
    groups = [{"params": [mod.zeros(2, requires_grad=True)]},
              {"params": [mod.zeros(2, requires_grad=True)], "lr": 0.3}]
    if kind == "Adam":
        return mod.optim.Adam(groups, lr=0.1)
    return mod.optim.SGD(groups, lr=0.1, momentum=0.9)


class Halving:
    """A callable scale_fn with state (saved in the state_dict as its __dict__)."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, x):
        return self.base ** (x - 1)


CASES = [
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=4), "SGD"),
    (dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.5], step_size_up=3, step_size_down=5,
          mode="triangular2"), "SGD"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range", gamma=0.9), "Adam"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False), "SGD"),
    (dict(base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=lambda x: 0.9**x,
          scale_mode="iterations", base_momentum=0.7, max_momentum=0.95), "SGD"),
]


def _trace(mod, kw, kind, steps=25):
    opt = _optimizer(mod, kind)
    sched = mod.optim.lr_scheduler.CyclicLR(opt, **kw)
    out = []
    for _ in range(steps):
        opt.step()
        sched.step()
        g = opt.param_groups
        out.append((sched.get_last_lr(), [x.get("momentum", x.get("betas", (None,))[0])
                                          for x in g]))
    return out, opt, sched


@pytest.mark.parametrize("kw,kind", CASES)
def test_sequence_matches_torch(kw, kind):
    e, e_opt, e_s = _trace(ember, kw, kind)
    t, t_opt, t_s = _trace(torch, kw, kind)
    for (el, em), (tl, tm) in zip(e, t):
        assert el == pytest.approx(tl, rel=1e-12, abs=1e-15)
        assert em == pytest.approx(tm, rel=1e-12)
    assert sorted(e_s.state_dict()) == sorted(t_s.state_dict())
    assert e_s.state_dict() == t_s.state_dict()
    # ember's SGD has no 'fused' option (tests/optim/test_optim.py); the scheduler's keys match
    assert sorted(e_opt.param_groups[0]) == sorted(set(t_opt.param_groups[0]) - {"fused"}
                                                   | set(e_opt.param_groups[0]) & {"fused"})


def test_state_dict_from_torch_resumes():
    kw = dict(base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2")
    _, t_opt, t_s = _trace(torch, kw, "SGD", steps=7)
    e_opt = _optimizer(ember)
    e_opt.load_state_dict({"state": {}, "param_groups": [dict(g, params=[i]) for i, g in
                                                         enumerate(t_opt.state_dict()
                                                                   ["param_groups"])]})
    e_s = ember.optim.lr_scheduler.CyclicLR(e_opt, **kw, last_epoch=6)
    e_s.load_state_dict(t_s.state_dict())
    for _ in range(8):
        e_opt.step()
        e_s.step()
        t_opt.step()
        t_s.step()
        assert e_s.get_last_lr() == pytest.approx(t_s.get_last_lr(), rel=1e-12)


def test_callable_scale_fn_state_is_saved():
    for mod in (torch, ember):
        fn = Halving()
        s = mod.optim.lr_scheduler.CyclicLR(_optimizer(mod), 0.01, 0.1, scale_fn=fn)
        assert s.state_dict()["_scale_fn_custom"] == {"base": 0.5}
        fn2 = Halving()
        fn2.base = 0.1
        s2 = mod.optim.lr_scheduler.CyclicLR(_optimizer(mod), 0.01, 0.1, scale_fn=fn2)
        s2.load_state_dict(s.state_dict())
        assert fn2.base == 0.5


@pytest.mark.parametrize("build", [
    lambda m: m.optim.lr_scheduler.CyclicLR(_optimizer(m), 0.01, 0.1, mode="bogus"),
    lambda m: m.optim.lr_scheduler.CyclicLR(_optimizer(m), [0.01], 0.1),
    lambda m: m.optim.lr_scheduler.CyclicLR(
        m.optim.Adagrad([m.zeros(2, requires_grad=True)]), 0.01, 0.1),
    lambda m: m.optim.lr_scheduler.CyclicLR(object(), 0.01, 0.1),
])
def test_errors_match_torch(build):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_error(build)
