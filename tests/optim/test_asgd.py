"""ember.optim.ASGD against torch.optim.ASGD: steps (float32 and float64), state_dict round trips
both ways, an all-or-nothing step, torch's constructor errors."""
from __future__ import annotations

import numpy as np
import pytest
from optim_parity import (check_all_or_nothing, check_capturable_on_cpu, check_errors,
                          check_round_trip, check_steps)

CASES = [dict(), dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=2), dict(lr=0.05, weight_decay=0.1, t0=0),
         dict(lr=0.05, maximize=True, t0=3)]


@pytest.mark.parametrize("kw", CASES)
def test_steps_match_torch(kw):
    check_steps("ASGD", kw)


@pytest.mark.parametrize("kw", CASES[:2])
def test_float64_steps_match_torch(kw):
    check_steps("ASGD", kw, dtype=np.float64, atol=1e-12, rtol=1e-10)


def test_state_dict_round_trips_with_torch():
    check_round_trip("ASGD", dict(lr=0.05, t0=2))


def test_step_is_all_or_nothing():
    check_all_or_nothing("ASGD", dict(lr=0.05, t0=2), "ax")


def test_errors_match_torch():
    check_errors("ASGD", [dict(lr=-1), dict(weight_decay=-1)])


def test_capturable_asserts_on_cpu_like_torch():
    check_capturable_on_cpu("ASGD")
