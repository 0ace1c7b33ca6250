"""ember.optim.NAdam against torch.optim.NAdam: steps (float32 and
float64), state_dict round trips both ways, an all-or-nothing step, torch's constructor errors."""
from __future__ import annotations

import numpy as np
import pytest
from optim_parity import (check_all_or_nothing, check_capturable_on_cpu, check_errors,
                          check_round_trip, check_steps)

CASES = [dict(), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, momentum_decay=0.01),
         dict(lr=0.05, weight_decay=0.1),
         dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True),
         dict(lr=0.05, maximize=True, foreach=False)]


@pytest.mark.parametrize("kw", CASES)
def test_steps_match_torch(kw):
    check_steps("NAdam", kw)


@pytest.mark.parametrize("kw", CASES[:2])
def test_float64_steps_match_torch(kw):
    check_steps("NAdam", kw, dtype=np.float64, atol=1e-12, rtol=1e-10)


def test_state_dict_round_trips_with_torch():
    check_round_trip("NAdam", dict(lr=0.05))


def test_step_is_all_or_nothing():
    check_all_or_nothing("NAdam", dict(lr=0.05), "exp_avg")


def test_errors_match_torch():
    check_errors("NAdam", [dict(lr=-1), dict(eps=-1), dict(betas=(1.0, 0.9)),
                           dict(weight_decay=-1), dict(momentum_decay=-1)])


def test_capturable_asserts_on_cpu_like_torch():
    check_capturable_on_cpu("NAdam")
