"""ember.optim.Rprop against torch.optim.Rprop: steps (float32 and float64), state_dict round trips
both ways, an all-or-nothing step, torch's constructor errors."""
from __future__ import annotations

import numpy as np
import pytest
from optim_parity import (check_all_or_nothing, check_capturable_on_cpu, check_errors,
                          check_round_trip, check_steps)

CASES = [dict(), dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.02)),
         dict(lr=0.05, maximize=True)]


@pytest.mark.parametrize("kw", CASES)
def test_steps_match_torch(kw):
    check_steps("Rprop", kw)


@pytest.mark.parametrize("kw", CASES[:2])
def test_float64_steps_match_torch(kw):
    check_steps("Rprop", kw, dtype=np.float64, atol=1e-12, rtol=1e-10)


def test_state_dict_round_trips_with_torch():
    check_round_trip("Rprop", dict(lr=0.05))


def test_step_is_all_or_nothing():
    check_all_or_nothing("Rprop", dict(lr=0.05), "prev")


def test_errors_match_torch():
    check_errors("Rprop", [dict(lr=-1), dict(etas=(1.0, 1.2)), dict(etas=(0.5, 0.9))])


def test_capturable_asserts_on_cpu_like_torch():
    check_capturable_on_cpu("Rprop")
