"""Scheduler and optimizer state_dicts cross between torch and ember: torch's are loaded into
ember (and ember's into torch) mid-schedule, and both continue with the same learning rates."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import torch_or_skip

import ember

torch = torch_or_skip()


def _opt(m):
    return m.optim.SGD([{"params": [m.zeros(2, requires_grad=True)]},
                        {"params": [m.zeros(2, requires_grad=True)], "lr": 0.3}],
                       lr=0.1, momentum=0.9)


BUILDERS = {
    "StepLR": lambda m, o: m.optim.lr_scheduler.StepLR(o, 3, gamma=0.5),
    "MultiStepLR": lambda m, o: m.optim.lr_scheduler.MultiStepLR(o, [2, 5], gamma=0.3),
    "ConstantLR": lambda m, o: m.optim.lr_scheduler.ConstantLR(o, factor=0.4, total_iters=4),
    "LinearLR": lambda m, o: m.optim.lr_scheduler.LinearLR(o, 0.2, total_iters=6),
    "ExponentialLR": lambda m, o: m.optim.lr_scheduler.ExponentialLR(o, 0.9),
    "PolynomialLR": lambda m, o: m.optim.lr_scheduler.PolynomialLR(o, total_iters=9, power=2.0),
    "CosineAnnealingLR": lambda m, o: m.optim.lr_scheduler.CosineAnnealingLR(o, 7, 0.01),
    "CosineAnnealingWarmRestarts": lambda m, o: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        o, 3, T_mult=2, eta_min=0.001),
    "MultiplicativeLR": lambda m, o: m.optim.lr_scheduler.MultiplicativeLR(o, lambda e: 0.95),
    "OneCycleLR": lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, 1.0, total_steps=20),
    "CyclicLR": lambda m, o: m.optim.lr_scheduler.CyclicLR(o, 0.01, 0.2, step_size_up=3),
    "SWALR": lambda m, o: m.optim.swa_utils.SWALR(o, 0.05, anneal_epochs=4),
    "ChainedScheduler": lambda m, o: m.optim.lr_scheduler.ChainedScheduler(
        [m.optim.lr_scheduler.ExponentialLR(o, 0.9), m.optim.lr_scheduler.StepLR(o, 2)]),
    "SequentialLR": lambda m, o: m.optim.lr_scheduler.SequentialLR(
        o, [m.optim.lr_scheduler.ConstantLR(o, 0.5, total_iters=2),
            m.optim.lr_scheduler.ExponentialLR(o, 0.8)], milestones=[3]),
}


def _to(m, value):
    """A state dict's tensors moved to module ``m`` (through NumPy)."""
    if hasattr(value, "numpy") and hasattr(value, "dtype"):
        return m.tensor(np.array(value.detach().numpy()))
    if isinstance(value, dict):
        return {k: _to(m, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to(m, v) for v in value]
    return value


def _run(opt, sched, n):
    lrs = []
    for _ in range(n):
        opt.step()
        sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    return lrs


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("direction", ["torch->ember", "ember->torch"])
def test_scheduler_state_dict_crosses(name, direction):
    src, dst = (torch, ember) if direction == "torch->ember" else (ember, torch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s_opt = _opt(src)
        s_sched = BUILDERS[name](src, s_opt)
        _run(s_opt, s_sched, 5)
        d_opt = _opt(dst)
        d_sched = BUILDERS[name](dst, d_opt)
        d_opt.load_state_dict(_to(dst, s_opt.state_dict()))
        d_sched.load_state_dict(_to(dst, s_sched.state_dict()))
        assert sorted(d_sched.state_dict()) == sorted(s_sched.state_dict())
        np.testing.assert_allclose(_run(d_opt, d_sched, 8), _run(s_opt, s_sched, 8), rtol=1e-12)
