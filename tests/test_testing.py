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
 (lambda m: m.tensor([1, 2]), lambda m: m.tensor([1, 3]), {}),
 (lambda m: 2, lambda m: 3, {}),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_assert_close_matches_torch(case):
    a, b, kw = CASES[case]
    assert _outcome(ember, a, b, **kw) == _outcome(torch, a, b, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "complex64",
                                   "int64", "int8", "uint8", "bool"])
def test_make_tensor(dtype):
    from helpers import same_error

    kw = {"dtype": getattr(ember, dtype), "device": "cpu"}
    tkw = {"dtype": getattr(torch, dtype), "device": "cpu"}
    e, t = ember.testing.make_tensor(500, **kw), torch.testing.make_tensor(500, **tkw)
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1] and e.shape == t.shape
    ev = e.real if e.is_complex() else e
    tv = t.real if t.is_complex() else t
    lo, hi = float(tv.min()), float(tv.max())
    assert lo - 1 <= float(ev.min()) and float(ev.max()) <= hi + 1  # the same default range
    for shape in ((2, 3), [2, 3], ()):
        args = (shape,) if shape else ()
        e2 = ember.testing.make_tensor(*args, noncontiguous=True, **kw)
        t2 = torch.testing.make_tensor(*args, noncontiguous=True, **tkw)
        assert e2.shape == t2.shape and e2.stride() == t2.stride()
    if dtype != "bool":
        z = ember.testing.make_tensor(400, low=-2, high=2, exclude_zero=True, **kw)
        assert not bool((z == 0).any())
        same_error(lambda m: m.testing.make_tensor(3, dtype=getattr(m, dtype), device="cpu",
                                                   low=2, high=1))
    if dtype in ("float32", "float64", "complex64"):
        g = ember.testing.make_tensor(2, requires_grad=True, **kw)
        assert g.requires_grad and g.is_leaf
        same_error(lambda m: m.testing.make_tensor(3, dtype=getattr(m, dtype), device="cpu",
                                                   low=float("nan")))
    same_error(lambda m: m.testing.make_tensor(3, device="cpu"))


@pytest.mark.parametrize("pair", [
    (lambda m: m.ones(2), lambda m: m.ones(2)),
    (lambda m: m.ones(2), lambda m: [1.0, 2.0]),
    (lambda m: m.ones(2), lambda m: m.ones(2) + 5e-5),
    (lambda m: m.ones(2, dtype=m.float64), lambda m: m.ones(2) + 1e-6),
    (lambda m: m.tensor([float("nan")]), lambda m: m.tensor([float("nan")])),
    (lambda m: [1, 2], lambda m: [1, 3]),
])
def test_assert_allclose(pair):
    import warnings

    a, b = pair
    results = []
    for m in (ember, torch):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                m.testing.assert_allclose(a(m), b(m))
                results.append(("OK",))
            except AssertionError as err:
                results.append(("AssertionError", str(err)))
        assert any(issubclass(w.category, FutureWarning) and "assert_allclose()` is deprecated"
                   in str(w.message) for w in seen)
    assert results[0] == results[1]
