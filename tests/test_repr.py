"""Tensor repr must match PyTorch's character for character (with ``torch.`` -> ``ember.``).

Most tests build a tensor in torch, render the same values through ember's formatter via a
stand-in object, and compare. They need only numpy + torch, never the rest of ember.
"""

from __future__ import annotations

import importlib.util
import math
import os
import pathlib
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

try:
    from ember import _tensor_str as ts
except Exception:  # the rest of ember may be mid-rewrite; load this module on its own
    _path = pathlib.Path(__file__).resolve().parents[1] / "ember" / "_tensor_str.py"
    _spec = importlib.util.spec_from_file_location("_ember_tensor_str", _path)
    ts = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(ts)

inf, nan = math.inf, math.nan


def _require_torch() -> Any:
    # Locally a missing torch skips; in CI it must fail so the comparison can't silently vanish.
    if os.environ.get("CI") == "true":
        import torch

        return torch
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def torch() -> Any:
    return _require_torch()


@pytest.fixture(autouse=True)
def _reset_printoptions() -> Iterator[None]:
    yield
    ts.set_printoptions(profile="default")
    if "torch" in sys.modules:
        sys.modules["torch"].set_printoptions(profile="default")


class _DType:
    def __init__(self, name: str) -> None:
        self.name = name
        self.is_floating_point = name.startswith(("float", "bfloat"))

    def __repr__(self) -> str:
        return f"ember.{self.name}"


class _StandIn:
    """Just the attributes tensor_repr reads from an ember Tensor."""

    def __init__(self, data, dtype: str, requires_grad=False, grad_fn_name=None) -> None:
        self._data = np.asarray(data)
        self.dtype = _DType(dtype)
        self.requires_grad = requires_grad
        self.grad_fn = None if grad_fn_name is None else type(grad_fn_name, (), {})()
        self.is_leaf = grad_fn_name is None


def _from_torch(t: Any) -> _StandIn:
    import torch

    d = t.detach().resolve_conj()
    data = (d.float() if d.dtype == torch.bfloat16 else d).numpy()  # numpy has no bfloat16
    name = None if t.grad_fn is None else type(t.grad_fn).__name__
    return _StandIn(data, str(t.dtype).removeprefix("torch."), t.requires_grad, name)


def _assert_matches(torch: Any, t: Any, opts: dict | None = None) -> None:
    opts = opts or {}
    torch.set_printoptions(**opts)
    ts.set_printoptions(**opts)
    expected = repr(t).replace("torch.", "ember.")
    s = _from_torch(t)
    # format_tensor with torch's default dtype, so a default leaked by another test can't matter.
    default = str(torch.get_default_dtype()).removeprefix("torch.")
    got = ts.format_tensor(s._data, s.dtype.name, requires_grad=s.requires_grad,
                           grad_fn_name=None if s.grad_fn is None else type(s.grad_fn).__name__,
                           default_dtype=default)
    assert got == expected


# Each builder gets torch (seeded with 0) and returns the tensor to print.
Case = tuple[str, Callable[[Any], Any], dict]


def _rand(T: Any, *shape: int, scale: float = 1.0, dtype: Any = None) -> Any:
    return (T.randn(*shape, dtype=T.float64) * scale).to(dtype or T.float32)


CASES: list[Case] = [
    ("required-grad", lambda T: T.tensor([2.0, 3.0], requires_grad=True), {}),
    ("sub-backward", lambda T: T.tensor([3.0, 70.0]) - T.tensor([15.0, 5.0], requires_grad=True),
     {}),
    ("bool-pair", lambda T: T.tensor([True, True]), {}),
    ("bool-mixed-2d", lambda T: T.rand(3, 4) > 0.5, {}),
    ("scalar-float", lambda T: T.tensor(3.5), {}),
    ("scalar-int", lambda T: T.tensor(7), {}),
    ("scalar-bool", lambda T: T.tensor(False), {}),
    ("scalar-f64", lambda T: T.tensor(1e-7, dtype=T.float64), {}),
    ("scalar-neg-zero", lambda T: T.tensor(-0.0), {}),
    ("scalar-nan", lambda T: T.tensor(nan), {}),
    ("scalar-inf-f16", lambda T: T.tensor(-inf, dtype=T.float16), {}),
    ("scalar-grad", lambda T: T.tensor(2.0, requires_grad=True) * 3, {}),
    ("scalar-complex", lambda T: T.tensor(1 - 2j), {}),
    ("int-valued-floats", lambda T: T.tensor([1.0, -20.0, 300.0]), {}),
    ("zeros", lambda T: T.zeros(4), {}),
    ("neg-zero-mix", lambda T: T.tensor([-0.0, 0.0, 1.0]), {}),
    ("nan-inf-only", lambda T: T.tensor([nan, inf, -inf]), {}),
    ("nan-with-frac", lambda T: T.tensor([nan, 1.5, -inf]), {}),
    ("inf-with-ints", lambda T: T.tensor([inf, 2.0, -3.0]), {}),
    ("inf-with-tiny", lambda T: T.tensor([-inf, 1e-5, 0.0]), {}),
    ("ratio-just-1000", lambda T: T.tensor([1.0, 1000.0]), {}),
    ("ratio-over-1000", lambda T: T.tensor([1.0, 1001.0]), {}),
    ("max-1e8", lambda T: T.tensor([1e8, 2e8]), {}),
    ("min-1e-4", lambda T: T.tensor([1e-4, 2e-4]), {}),
    ("min-below-1e-4", lambda T: T.tensor([0.99e-4, 2e-4]), {}),
    ("big-ints-f64", lambda T: T.tensor([123456789.0, 2.0], dtype=T.float64), {}),
]
# Random normals over many magnitudes, in several float dtypes and shapes.
for _scale in (1e-6, 1e-3, 1e-1, 1.0, 1e2, 1e4, 1e6, 1e8, 1e10):
    CASES.append((f"randn-{_scale:g}", lambda T, s=_scale: _rand(T, 7, scale=s), {}))
    CASES.append((f"randn-2d-{_scale:g}-f64", lambda T, s=_scale: _rand(T, 3, 4, scale=s,
                                                                        dtype=T.float64), {}))
for _dt in ("float16", "bfloat16", "float64"):
    CASES.append((f"{_dt}-vec", lambda T, d=_dt: _rand(T, 12, dtype=getattr(T, d)), {}))
    CASES.append((f"{_dt}-ints", lambda T, d=_dt: T.arange(-3, 9).to(getattr(T, d)), {}))
for _dt, _lo, _hi in (("int64", -10**6, 10**6), ("int32", -99999, 5), ("int16", -300, 300),
                      ("int8", -100, 100), ("uint8", 0, 250)):
    CASES.append((f"{_dt}-2d", lambda T, d=_dt, lo=_lo, hi=_hi: T.randint(lo, hi, (3, 5)).to(
        getattr(T, d)), {}))
    CASES.append((f"{_dt}-empty", lambda T, d=_dt: T.zeros(0, dtype=getattr(T, d)), {}))
CASES += [
    ("int64-extremes", lambda T: T.tensor([-(2**63), 2**63 - 1, 0]), {}),
    ("complex64", lambda T: T.randn(5, dtype=T.complex64), {}),
    ("complex128-wrap", lambda T: T.randn(30, dtype=T.complex128) * 100, {}),
    ("complex-signs", lambda T: T.tensor([1 + 2j, 3 - 0j, complex(0, -0.0), complex(nan, inf)]),
     {}),
    ("empty-f32", lambda T: T.zeros(0), {}),
    ("empty-2x0", lambda T: T.zeros(2, 0), {}),
    ("empty-0x3x4-f64", lambda T: T.zeros(0, 3, 4, dtype=T.float64), {}),
    ("empty-bool", lambda T: T.zeros(0, dtype=T.bool), {}),
    ("empty-grad", lambda T: T.zeros(0, 2, requires_grad=True), {}),
    ("empty-complex64", lambda T: T.zeros(0, dtype=T.complex64), {}),
    ("row-80-wrap", lambda T: _rand(T, 30), {}),
    ("row-ints-wrap", lambda T: T.arange(100), {}),
    ("row-sci-wrap", lambda T: _rand(T, 25, scale=1e-7), {}),
    ("matrix-wrap", lambda T: _rand(T, 3, 15), {}),
    ("3d", lambda T: _rand(T, 2, 3, 4), {}),
    ("4d", lambda T: _rand(T, 2, 2, 2, 3), {}),
    ("4d-int", lambda T: T.arange(48).reshape(2, 3, 2, 4), {}),
    ("5d-bool", lambda T: T.rand(2, 1, 2, 1, 3) > 0.5, {}),
    ("summ-1d-1001", lambda T: _rand(T, 1001), {}),
    ("summ-1d-ints", lambda T: T.arange(5000), {}),
    ("summ-2d", lambda T: _rand(T, 40, 30), {}),
    ("summ-2d-wide-cols", lambda T: T.arange(2000).reshape(2, 1000), {}),
    ("summ-3d-f64", lambda T: _rand(T, 10, 10, 11, dtype=T.float64), {}),
    ("summ-4d", lambda T: _rand(T, 5, 6, 7, 8), {}),
    ("summ-width-hidden", lambda T: T.cat([T.ones(3), T.full((1000,), 1e6), T.ones(3)]), {}),
    ("summ-sci-hidden", lambda T: T.cat([T.ones(3) / 3, T.full((1000,), 1e-9), T.ones(3)]), {}),
    ("summ-bool", lambda T: T.rand(1200) > 0.5, {}),
    ("f64-grad-fn", lambda T: _rand(T, 4, dtype=T.float64).requires_grad_() * 2, {}),
    ("f64-grad-fn-wrap", lambda T: _rand(T, 9, dtype=T.float64).requires_grad_() * 2, {}),
    ("f64-grad-fn-multi", lambda T: _rand(T, 3, 5, dtype=T.float64).requires_grad_() + 1, {}),
    ("f16-required", lambda T: _rand(T, 8, dtype=T.float16).requires_grad_(), {}),
    ("sum-backward", lambda T: _rand(T, 3, 3).requires_grad_().sum(), {}),
    ("precision-2", lambda T: _rand(T, 6), {"precision": 2}),
    ("precision-0", lambda T: _rand(T, 6, scale=10), {"precision": 0}),
    ("precision-8-sci", lambda T: _rand(T, 6, scale=1e-6), {"precision": 8}),
    ("threshold-5", lambda T: T.arange(10), {"threshold": 5}),
    ("threshold-0-scalar", lambda T: T.tensor(1.5), {"threshold": 0}),
    ("edgeitems-1", lambda T: _rand(T, 4, 5, 6), {"edgeitems": 1, "threshold": 10}),
    ("edgeitems-0-small", lambda T: T.ones(2, 3), {"edgeitems": 0}),
    ("edgeitems-0-summ", lambda T: T.ones(20, 100), {"edgeitems": 0}),
    ("edgeitems-0-1d", lambda T: T.ones(2000), {"edgeitems": 0}),
    ("linewidth-30", lambda T: _rand(T, 4, 12), {"linewidth": 30}),
    ("linewidth-1", lambda T: T.arange(4), {"linewidth": 1}),
    ("linewidth-30-suffix", lambda T: _rand(T, 3, 1, dtype=T.float64).requires_grad_() * 2,
     {"linewidth": 30}),
    ("linewidth-200", lambda T: _rand(T, 50), {"linewidth": 200}),
    ("profile-short", lambda T: _rand(T, 30, 30), {"profile": "short"}),
    ("profile-full", lambda T: T.arange(1500), {"profile": "full"}),
    ("profile-full-override", lambda T: _rand(T, 5), {"profile": "full", "precision": 6}),
    ("sci-forced-on", lambda T: T.tensor([3.0, 3.0, 0.0, -2.0]), {"sci_mode": True}),
    ("sci-forced-on-nonfinite", lambda T: T.tensor([0.0, inf, nan]), {"sci_mode": True}),
    ("sci-forced-off", lambda T: T.tensor([1.5, 1e9, 1e-6]), {"sci_mode": False}),
    ("sci-forced-off-ints", lambda T: T.tensor([1.0, 1e20]), {"sci_mode": False}),
    ("short-sci-narrow", lambda T: _rand(T, 4, 6, dtype=T.float16),
     {"profile": "short", "sci_mode": True, "linewidth": 60}),
]


@pytest.mark.parametrize("build,opts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_torch(torch: Any, build: Callable[[Any], Any], opts: dict) -> None:
    torch.manual_seed(0)
    _assert_matches(torch, build(torch), opts)


def _random_case(T: Any, rng: random.Random) -> tuple[Any, dict]:
    shape = [rng.choice([0, 1, 2, 3, 7, 40, 1100]) if rng.random() < 0.3 else rng.randint(1, 6)
             for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4]))]
    while math.prod(shape) > 50_000:
        shape[shape.index(max(shape))] //= 10
    x = T.randn(shape, dtype=T.float64) * 10.0 ** rng.uniform(-9, 11)
    kind = rng.choice(["plain", "round", "zeros", "special"])
    if kind == "round":
        x = x.round()
    elif kind == "zeros":
        x = T.where(T.rand(shape) < 0.4, T.zeros(shape, dtype=T.float64), x)
    elif kind == "special":
        pool = T.tensor([nan, inf, -inf, 0.0, -0.0, 1.5, 3.0, -2.0], dtype=T.float64)
        x = pool[T.randint(0, len(pool), shape)]
    dtype = getattr(T, rng.choice(["float32", "float64", "float16", "bfloat16", "int64",
                                   "int32", "uint8", "bool", "complex64"]))
    if dtype == T.bool:
        t = x > 0
    elif dtype.is_complex:
        t = T.complex(x, T.randn(shape, dtype=T.float64)).to(dtype)
    elif dtype.is_floating_point:
        t = x.to(dtype)
        if rng.random() < 0.2:
            t = t.requires_grad_() * 1 if rng.random() < 0.5 else t.requires_grad_()
    else:
        info = T.iinfo(dtype)
        t = T.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).clamp(info.min, info.max).to(dtype)
    opts = rng.choice([{}, {}, {}, {"precision": rng.randint(0, 7)}, {"linewidth": 45},
                       {"edgeitems": rng.randint(0, 4), "threshold": 20}, {"sci_mode": True},
                       {"sci_mode": False}, {"profile": "short"}])
    return t, opts


@pytest.mark.parametrize("seed", range(8))
def test_random_sweep(torch: Any, seed: int) -> None:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    for _ in range(60):
        t, opts = _random_case(torch, rng)
        _assert_matches(torch, t, opts)
        ts.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def test_printoptions_api_matches_torch(torch: Any) -> None:
    from torch._tensor_str import get_printoptions, printoptions

    assert ts.get_printoptions() == get_printoptions()
    for kwargs in ({"sci_mode": True}, {"precision": 3}, {"profile": "short"},
                   {"profile": "full", "precision": 7}, {"linewidth": 50, "profile": "bogus"},
                   {"profile": "default"}):
        torch.set_printoptions(**kwargs)
        ts.set_printoptions(**kwargs)
        assert ts.get_printoptions() == get_printoptions()
    with printoptions(precision=2), ts.printoptions(precision=2):
        assert ts.get_printoptions() == get_printoptions()
    assert ts.get_printoptions() == get_printoptions()


# Literal expectations: these run without torch.
@pytest.mark.parametrize("stand_in,expected", [
    (_StandIn([2.0, 3.0], "float32", requires_grad=True), "tensor([2., 3.], requires_grad=True)"),
    (_StandIn([-12.0, 65.0], "float32", True, "SubBackward0"),
     "tensor([-12.,  65.], grad_fn=<SubBackward0>)"),
    (_StandIn([True, True], "bool"), "tensor([True, True])"),
    (_StandIn([True, False], "bool"), "tensor([ True, False])"),
    (_StandIn(np.float32(0.5), "float32"), "tensor(0.5000)"),
    (_StandIn(np.zeros((2, 0)), "float64"), "tensor([], size=(2, 0), dtype=ember.float64)"),
    (_StandIn(np.zeros(0, np.int64), "int64"), "tensor([], dtype=ember.int64)"),
    (_StandIn(np.arange(3, dtype=np.int32), "int32"), "tensor([0, 1, 2], dtype=ember.int32)"),
    (_StandIn([1e-5, 1.0], "float32"), "tensor([1.0000e-05, 1.0000e+00])"),
    (_StandIn([np.nan, 1.5], "float32"), "tensor([   nan, 1.5000])"),
    (_StandIn(np.arange(8).reshape(2, 2, 2), "int64"),
     "tensor([[[0, 1],\n         [2, 3]],\n\n        [[4, 5],\n         [6, 7]]])"),
    (_StandIn(np.arange(1001), "int64"), "tensor([   0,    1,    2,  ...,  998,  999, 1000])"),
])
def test_literal(stand_in: _StandIn, expected: str) -> None:
    assert ts.tensor_repr(stand_in) == expected


def test_default_dtype_float64(torch: Any) -> None:
    torch.set_default_dtype(torch.float64)
    try:
        for t in (torch.tensor([1.5]), torch.tensor([1.5], dtype=torch.float32), torch.zeros(0),
                  torch.zeros(0, dtype=torch.float32), torch.tensor([1j]),
                  torch.tensor([1j], dtype=torch.complex64)):
            s = _from_torch(t)
            got = ts.format_tensor(s._data, s.dtype.name, default_dtype="float64")
            assert got == repr(t).replace("torch.", "ember.")
    finally:
        torch.set_default_dtype(torch.float32)


def test_real_ember_tensors(torch: Any) -> None:
    try:
        import ember

        ember.tensor([1.0])
    except Exception:
        pytest.skip("ember.tensor is not available yet")

    def both(fn: Callable[[Any], Any]) -> None:
        assert repr(fn(ember)) == repr(fn(torch)).replace("torch.", "ember.")
        assert str(fn(ember)) == repr(fn(ember))

    both(lambda m: m.tensor([2.0, 3.0], requires_grad=True))
    both(lambda m: m.tensor([3.0, 70.0]) - m.tensor([15.0, 5.0], requires_grad=True))
    both(lambda m: m.tensor([True, True]))
    both(lambda m: m.tensor([[1, 2], [3, 4]], dtype=m.int32))
    both(lambda m: m.tensor([[1.5, -2.25]], dtype=m.float64, requires_grad=True) * 2)
    both(lambda m: m.zeros(0, 3, dtype=m.int64))
    both(lambda m: m.tensor(np.arange(2000.0).reshape(20, 100) / 7))


# -- printing large tensors: summarized before anything is converted -----------------------------


def _peak_bytes(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` and the peak of the memory traced while it ran (NumPy traces its arrays)."""
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_expanded_view_prints_without_materialising(torch: Any) -> None:
    # 65536 x 65536 float32 is 16 GiB: a repr that converted it first ran out of memory
    data = np.broadcast_to(np.ones(1, np.float32), (65536, 65536))
    text, peak = _peak_bytes(lambda: ts.format_tensor(data, "float32"))
    assert text == repr(torch.ones(1).expand(65536, 65536))
    assert peak < 1 << 20


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "int64", "bool"])
def test_large_tensor_prints_in_small_memory(torch: Any, dtype: str) -> None:
    # the repr used to hold a float64 copy of the whole tensor: twice a float32 tensor's memory
    data = (np.random.default_rng(0).standard_normal(4_000_000) * 100).astype(dtype)
    text, peak = _peak_bytes(lambda: ts.format_tensor(data, dtype))
    assert text == repr(torch.from_numpy(data)).replace("torch.", "ember.")
    assert peak < 1 << 20  # the array itself is 4 MB (bool) to 32 MB (float64)


def test_real_expanded_tensor_repr(torch: Any) -> None:
    import ember

    x = ember.ones(1).expand(65536, 65536)  # the issue's case, through Tensor.__repr__
    text, peak = _peak_bytes(lambda: repr(x))
    assert text == repr(torch.ones(1).expand(65536, 65536)) and peak < 1 << 20
    y = ember.arange(24.0).reshape(2, 3, 4)[:, None].expand(2, 5000, 3, 4)
    assert repr(y) == repr(torch.arange(24.0).reshape(2, 3, 4)[:, None].expand(2, 5000, 3, 4))
