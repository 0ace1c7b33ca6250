"""ember.optim.lr_scheduler against torch's: lr (and momentum) sequences over many steps,
state_dict contents and resumption, warnings and errors."""
from __future__ import annotations

import math
import warnings

import pytest
from helpers import torch_or_skip

import ember
from ember import optim

torch = torch_or_skip()


def _optimizer(mod, kind="SGD"):
    a = mod.zeros(2, requires_grad=True)
    b = mod.zeros(2, requires_grad=True)
    groups = [{"params": [a]}, {"params": [b], "lr": 0.3}]
    if kind == "Adam":
        return mod.optim.Adam(groups, lr=0.1)
    return mod.optim.SGD(groups, lr=0.1, momentum=0.9)


def _sched(mod, opt, name, kwargs):
    lr_scheduler = mod.optim.lr_scheduler
    if name == "SequentialLR":
        first = lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=5)
        second = lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=0.001)
        return lr_scheduler.SequentialLR(opt, [first, second], milestones=[5])
    if name == "SequentialLR3":
        s1 = lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=3)
        s2 = lr_scheduler.ExponentialLR(opt, gamma=0.9)
        s3 = lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
        return lr_scheduler.SequentialLR(opt, [s1, s2, s3], milestones=[4, 12])
    if name == "ChainedScheduler":
        return lr_scheduler.ChainedScheduler([lr_scheduler.ExponentialLR(opt, gamma=0.95),
                                              lr_scheduler.StepLR(opt, step_size=5)])
    return getattr(lr_scheduler, name)(opt, **kwargs)


SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 8, 8, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95**epoch)),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.5 * (e % 4)])),
    ("MultiplicativeLR", dict(lr_lambda=lambda epoch: 0.97)),
    ("LinearLR", dict(start_factor=0.25, total_iters=8)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=12)),
    ("ConstantLR", dict(factor=0.5, total_iters=4)),
    ("PolynomialLR", dict(total_iters=20, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5, T_mult=2, eta_min=0.001)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=31)),
    ("OneCycleLR", dict(max_lr=[1.0, 2.0], total_steps=31, anneal_strategy="linear",
                        pct_start=0.25, div_factor=10.0, final_div_factor=100.0)),
    ("OneCycleLR", dict(max_lr=0.5, epochs=3, steps_per_epoch=11, three_phase=True,
                        base_momentum=0.8, max_momentum=0.9)),
    ("SequentialLR", {}),
    ("SequentialLR3", {}),
    ("ChainedScheduler", {}),
]


def _trace(mod, name, kwargs, kind="SGD", steps=30):
    opt = _optimizer(mod, kind)
    sched = _sched(mod, opt, name, kwargs)
    out = [(sched.get_last_lr(), [dict(g) for g in opt.param_groups])]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append((sched.get_last_lr(), [dict(g) for g in opt.param_groups]))
    return out, sched


def _hyper(groups):
    return [{k: v for k, v in g.items() if k in ("lr", "momentum", "betas", "initial_lr",
                                                   "max_lr", "min_lr", "max_momentum",
                                                   "base_momentum")} for g in groups]


# the optimizer only matters to OneCycleLR, which cycles SGD's momentum or Adam's beta1
CASES = [(n, kw, "SGD") for n, kw in SCHEDULERS] + [
    (n, kw, "Adam") for n, kw in SCHEDULERS if n == "OneCycleLR"]


@pytest.mark.parametrize("name,kwargs,kind", CASES,
                         ids=[f"{n}-{k}-{i}" for i, (n, _, k) in enumerate(CASES)])
def test_lr_sequence_matches_torch(name, kwargs, kind):
    e_trace, e_sched = _trace(ember, name, kwargs, kind)
    t_trace, t_sched = _trace(torch, name, kwargs, kind)
    for step, ((e_last, e_groups), (t_last, t_groups)) in enumerate(zip(e_trace, t_trace)):
        # the same float arithmetic in the same order: equal, not merely close
        assert e_last == t_last, step
        assert _hyper(e_groups) == _hyper(t_groups), step
    e_sd, t_sd = e_sched.state_dict(), t_sched.state_dict()
    assert list(e_sd) == list(t_sd)


def test_cosine_annealing_follows_closed_form_over_several_periods():
    opt = _optimizer(ember)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=0.01)
    for epoch in range(1, 40):
        opt.step()
        sched.step()
        expected = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * epoch / 5)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(mode="max", factor=0.5, patience=2, threshold=0.1, cooldown=1),
    dict(mode="min", factor=0.5, patience=1, threshold=0.05, threshold_mode="abs",
         min_lr=[0.02, 0.1], eps=1e-3),
    dict(mode="max", patience=0, threshold_mode="abs", cooldown=2, min_lr=0.001),
])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    metrics = [1.0, 0.9, 0.95, 0.95, 0.94, 0.96, 0.8, 0.85, 0.85, 0.9, 0.7, 0.7, 0.7, 0.71,
               0.72, 0.4, 0.41, 0.41, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.31, 0.31, 0.6, 0.2, 0.2, 0.2]
    traces = []
    for mod in (ember, torch):
        opt = _optimizer(mod)
        sched = mod.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
        trace = []
        for m in metrics:
            opt.step()
            sched.step(m)
            trace.append((sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter,
                          sched.best))
        traces.append((trace, sched.state_dict()))
    assert traces[0][0] == traces[1][0]
    assert traces[0][1] == traces[1][1]


def test_scheduler_sets_initial_lr_and_base_lrs():
    opt = _optimizer(ember)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.3]
    assert sched.base_lrs == [0.1, 0.3]
    assert sched.last_epoch == 0
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups"):
        optim.lr_scheduler.StepLR(_optimizer(ember), step_size=2, last_epoch=3)


def test_state_dict_resume_matches_uninterrupted_run():
    def make():
        opt = _optimizer(ember)
        return opt, optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=20)

    opt, sched = make()
    for _ in range(8):
        opt.step()
        sched.step()
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    expected = []
    for _ in range(8):
        opt.step()
        sched.step()
        expected.append(sched.get_last_lr())

    opt2, sched2 = make()
    sched2.load_state_dict(saved_sched)
    opt2.load_state_dict(saved_opt)
    got = []
    for _ in range(8):
        opt2.step()
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected


def test_closed_form_with_epoch_argument_matches_torch():
    results = []
    for mod in (ember, torch):
        opt = _optimizer(mod)
        sched = mod.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lrs = []
            for epoch in (3, 1, 6, 4):
                opt.step()
                sched.step(epoch)
                lrs.append(sched.get_last_lr())
        results.append(lrs)
    assert results[0] == results[1]


def test_lambda_state_dict_skips_plain_functions():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate**epoch

    opt = _optimizer(ember)
    sched = optim.lr_scheduler.LambdaLR(opt, [lambda e: 1.0, Decay()])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"rate": 0.5}]
    sd["lr_lambdas"][1] = {"rate": 0.25}
    sched.load_state_dict(sd)
    assert sched.lr_lambdas[1].rate == 0.25


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _optimizer(ember)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before "
                                         "`optimizer.step\\(\\)`"):
        sched.step()
    opt2 = _optimizer(ember)
    sched2 = optim.lr_scheduler.StepLR(opt2, step_size=2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        sched2.get_lr()


@pytest.mark.parametrize("build", [
    lambda m, o: m.optim.lr_scheduler.StepLR(object(), step_size=2),
    lambda m, o: m.optim.lr_scheduler.LinearLR(o, start_factor=0),
    lambda m, o: m.optim.lr_scheduler.LinearLR(o, end_factor=1.5),
    lambda m, o: m.optim.lr_scheduler.ConstantLR(o, factor=2),
    lambda m, o: m.optim.lr_scheduler.LambdaLR(o, [lambda e: 1.0]),
    lambda m, o: m.optim.lr_scheduler.ReduceLROnPlateau(o, factor=1.0),
    lambda m, o: m.optim.lr_scheduler.ReduceLROnPlateau(o, mode="up"),
    lambda m, o: m.optim.lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"),
    lambda m, o: m.optim.lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]),
    lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0),
    lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=0),
    lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=5, pct_start=1.5),
    lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=5,
                                                 anneal_strategy="x"),
    lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=[1.0], total_steps=5),
    lambda m, o: m.optim.lr_scheduler.OneCycleLR(m.optim.Adagrad(o.param_groups[0]["params"]),
                                                 max_lr=1.0, total_steps=5),
    lambda m, o: m.optim.lr_scheduler.SequentialLR(o, [], milestones=[]),
    lambda m, o: m.optim.lr_scheduler.SequentialLR(
        o, [m.optim.lr_scheduler.StepLR(o, 2)], milestones=[3]),
    lambda m, o: m.optim.lr_scheduler.SequentialLR(
        o, [m.optim.lr_scheduler.ReduceLROnPlateau(o)], milestones=[]),
])
def test_errors_match_torch(build):
    errors = []
    for mod in (ember, torch):
        try:
            build(mod, _optimizer(mod))
            errors.append(None)
        except Exception as e:  # noqa: BLE001
            errors.append((type(e).__name__, str(e)))
    assert errors[1] is not None
    assert errors[0] == errors[1]


def test_one_cycle_overrun_raises():
    opt = _optimizer(ember)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total "
                                         "steps is 3"):
        sched.step()
