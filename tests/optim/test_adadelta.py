"""ember.optim.Adadelta against torch.optim.Adadelta: steps (float32 and
float64), state_dict round trips both ways, an all-or-nothing step, torch's constructor errors."""
from __future__ import annotations

import numpy as np
import pytest
from optim_parity import (check_all_or_nothing, check_capturable_on_cpu, check_errors,
                          check_round_trip, check_steps)

CASES = [dict(), dict(lr=0.5, rho=0.8, eps=1e-5), dict(lr=0.5, weight_decay=0.1),
         dict(lr=0.5, maximize=True, foreach=False), dict(lr=0.5, capturable=False, foreach=True)]


@pytest.mark.parametrize("kw", CASES)
def test_steps_match_torch(kw):
    check_steps("Adadelta", kw)


@pytest.mark.parametrize("kw", CASES[:2])
def test_float64_steps_match_torch(kw):
    check_steps("Adadelta", kw, dtype=np.float64, atol=1e-12, rtol=1e-10)


def test_state_dict_round_trips_with_torch():
    check_round_trip("Adadelta", dict(lr=0.5))


def test_step_is_all_or_nothing():
    check_all_or_nothing("Adadelta", dict(lr=0.5), "square_avg")


def test_errors_match_torch():
    check_errors("Adadelta", [dict(lr=-1), dict(rho=1.5), dict(eps=-1), dict(weight_decay=-0.1)])


def test_capturable_asserts_on_cpu_like_torch():
    check_capturable_on_cpu("Adadelta")
