"""ember.testing.assert_close against torch.testing.assert_close: the same passes and the same
failures, message for message (tensors of each dtype kind, 0-d tensors, Python scalars, nested
sequences and mappings, NaN and infinities, custom tolerances and messages)."""
import pytest

import ember
from helpers import torch_or_skip

torch = torch_or_skip()


def _outcome(m, a, b, **kw):
    try:
        m.testing.assert_close(a(m), b(m), **kw)
        return ("OK",)
    except Exception as e:  # noqa: BLE001 - the comparison is the point
        return (type(e).__name__, str(e).replace("torch.", "ember."))


CASES = [
 (lambda m: m.tensor([1.,2.,3.]), lambda m: m.tensor([1.,2.5,3.]), {}),
 (lambda m: m.tensor([1.,2.,3.]), lambda m: m.tensor([1.,2.5,3.1]), {}),
 (lambda m: m.tensor([[1.,2.],[3.,4.]]), lambda m: m.tensor([[1.,2.],[3.,5.]]), {}),
 (lambda m: m.tensor([1,2,3]), lambda m: m.tensor([1,2,4]), {}),
 (lambda m: m.tensor([1.,2.]), lambda m: m.tensor([1.,2.], dtype=m.float64), {}),
 (lambda m: m.tensor([1.,2.]), lambda m: m.tensor([1.,2.,3.]), {}),
 (lambda m: 1.0, lambda m: 1.5, {}),
 (lambda m: 1, lambda m: 2, {}),
 (lambda m: True, lambda m: False, {}),
 (lambda m: [m.ones(2), m.zeros(2)], lambda m: [m.ones(2), m.ones(2)], {}),
 (lambda m: {'a': m.ones(2)}, lambda m: {'a': m.zeros(2)}, {}),
 (lambda m: m.tensor([float('nan')]), lambda m: m.tensor([float('nan')]), {}),
 (lambda m: m.tensor([float('nan')]), lambda m: m.tensor([float('nan')]), {"equal_nan": True}),
 (lambda m: m.ones(2), lambda m: m.ones(2)*1.0000001, {}),
 (lambda m: m.ones(2), lambda m: m.zeros(2), {"msg": "custom"}),
 (lambda m: m.ones(2), lambda m: m.zeros(2), {"msg": lambda s: "X" + s[:10]}),
 (lambda m: m.ones(2), lambda m: m.zeros(2), {"rtol": 1e-3}),
 (lambda m: m.tensor(1.), lambda m: m.tensor(2.), {}),
 (lambda m: m.ones(3), lambda m: m.tensor([1., 1., float('inf')]), {}),
 (lambda m: m.ones(2, dtype=m.float64), lambda m: m.ones(2), {"check_dtype": False}),
 (lambda m: [1, 2], lambda m: [1, 2, 3], {}),
 (lambda m: {'a': 1}, lambda m: {'b': 1}, {}),
 (lambda m: {'a': 1}, lambda m: {'a': 1, 'b': 2}, {}),
 (lambda m: m.ones(2, dtype=m.float16), lambda m: m.zeros(2, dtype=m.float16), {}),
 (lambda m: m.ones(2, dtype=m.bfloat16), lambda m: m.ones(2, dtype=m.bfloat16)*1.01, {}),
 (lambda m: m.tensor([1., 2.]), lambda m: m.tensor([1., 2.]).requires_grad_(), {}),
 (lambda m: m.tensor([1+1j]), lambda m: m.tensor([1+2j]), {}),
 (lambda m: m.tensor([True, False]), lambda m: m.tensor([True, True]), {}),
 (lambda m: m.ones(2, 2), lambda m: m.ones(2, 2).t(), {"check_stride": True}),
 (lambda m: 1, lambda m: 1.0, {}),
 (lambda m: m.ones(2), lambda m: m.ones(2), {"rtol": 0, "atol": 0}),
 (lambda m: m.tensor([0.]), lambda m: m.tensor([1e-9]), {}),
 (lambda m: m.tensor([2., 0.]), lambda m: m.tensor([1., 1e-3]), {"rtol": 0.1, "atol": 0.0}),
 (lambda m: (m.ones(1),), lambda m: [m.ones(1)], {}),
 (lambda m: m.ones(2), lambda m: None, {}),
 (lambda m: None, lambda m: None, {}),
 (lambda m: m.ones(2), lambda m: m.zeros(2), {"rtol": 0, "atol": 0}),
 (lambda m: m.tensor([1., 5.]), lambda m: m.tensor([2., 4.]), {}),
 (lambda m: m.tensor([1.5]), lambda m: m.tensor([1.]), {}),
 (lambda m: [[m.ones(1)], {'k': [m.ones(1), m.zeros(1)]}],
  lambda m: [[m.ones(1)], {'k': [m.ones(1), m.ones(1)]}], {}),
 (lambda m: m.tensor(3), lambda m: m.tensor(4), {}),
 (lambda m: 1.0, lambda m: 1.0 + 1e-8, {}),
 (lambda m: m.zeros(0), lambda m: m.zeros(0), {}),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_assert_close_matches_torch(case):
    a, b, kw = CASES[case]
    assert _outcome(ember, a, b, **kw) == _outcome(torch, a, b, **kw)
