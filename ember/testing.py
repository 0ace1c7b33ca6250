"""``ember.testing``: ``assert_close`` (torch's comparison of tensors, scalars and their sequences
and mappings, with its default tolerances per dtype and its failure messages), the deprecated
``assert_allclose``, and ``make_tensor`` (random test tensors of any dtype)."""
from __future__ import annotations

import builtins
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import numpy as np

from . import dtypes as _dt
from .tensor import Tensor

__all__ = ["assert_close", "assert_allclose", "make_tensor"]

# torch's default (rtol, atol) per dtype; exact comparison for the others
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7), "complex64": (1.3e-6, 1e-5),
               "complex128": (1e-7, 1e-7)}


class _Mismatch(Exception):
    """A failed comparison, with the path of the item it happened at."""

    def __init__(self, message: str, error: type = AssertionError) -> None:
        super().__init__(message)
        self.message, self.error, self.path = message, error, []


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True,
                 rtol: float | None = None, atol: float | None = None, equal_nan: bool = False,
                 check_device: bool = True, check_dtype: bool = True, check_layout: bool = True,
                 check_stride: bool = False, msg: str | Callable[[str], str] | None = None
                 ) -> None:
    """Asserts that ``actual`` and ``expected`` are close: tensors (same shape and dtype, then
    ``|actual - expected| <= atol + rtol * |expected|`` elementwise), Python numbers, and
    sequences or mappings of them, compared item by item. ``rtol``/``atol`` default to the
    dtype's (exact for integers and bools).

    Raises:
        AssertionError: naming the mismatch (``msg`` replaces it, or edits it if callable).
    """
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'atol' if atol is None else 'rtol'}.")
    try:
        _compare(actual, expected, rtol, atol, equal_nan, check_dtype, check_stride)
    except _Mismatch as m:
        if m.error is not AssertionError:
            raise m.error(m.message) from None
        message = m.message
        if m.path:
            message += "\n\nThe failure occurred for item " + "".join(f"[{k!r}]" for k in m.path)
        if msg is not None:
            message = msg(message) if callable(msg) else msg
        raise AssertionError(message) from None


def _compare(a: Any, b: Any, rtol: Any, atol: Any, equal_nan: bool, check_dtype: bool,
             check_stride: bool) -> None:
    if a is None or b is None:
        if a is not b:
            raise _Mismatch(f"None mismatch: {a} is not {b}")
        return
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return _compare_tensors(a, b, rtol, atol, equal_nan, check_dtype, check_stride)
    if isinstance(a, builtins.bool) and isinstance(b, builtins.bool):
        if a is not b:
            raise _Mismatch(f"Booleans mismatch: {a} is not {b}")
        return
    numbers = (builtins.int, builtins.float, builtins.complex)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, Tensor):
        if check_dtype and type(a) is not type(b):
            raise _Mismatch(f"The (d)types do not match: {type(a)} != {type(b)}.")
        kind = {builtins.int: np.int64, builtins.float: np.float64,
                builtins.complex: np.complex128}[type(b)]
        return _compare_values(np.asarray(a, kind), np.asarray(b, kind), rtol, atol, equal_nan,
                               scalar=True)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if set(a) != set(b):
            raise _Mismatch("The keys of the mappings do not match:\n"
                            f"Missing keys in the actual mapping: {sorted(set(b) - set(a))}\n"
                            f"Additional keys in the actual mapping: {sorted(set(a) - set(b))}")
        for key in b:
            _item(key, a[key], b[key], rtol, atol, equal_nan, check_dtype, check_stride)
        return
    if _sequence(a) and _sequence(b):
        if len(a) != len(b):
            raise _Mismatch(f"The length of the sequences mismatch: {len(a)} != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            _item(i, x, y, rtol, atol, equal_nan, check_dtype, check_stride)
        return
    raise _Mismatch(f"No comparison pair was able to handle inputs of type {type(a)} and "
                    f"{type(b)}.", TypeError)


def _sequence(x: Any) -> bool:
    return isinstance(x, Sequence) and not isinstance(x, (builtins.str, bytes))


def _item(key: Any, a: Any, b: Any, *args: Any) -> None:
    try:
        _compare(a, b, *args)
    except _Mismatch as m:
        m.path.insert(0, key)
        raise


def _compare_tensors(a: Tensor, b: Tensor, rtol: Any, atol: Any, equal_nan: bool,
                     check_dtype: bool, check_stride: bool) -> None:
    if a.shape != b.shape:
        raise _Mismatch(f"The values for attribute 'shape' do not match: {a.shape} != "
                        f"{b.shape}.")
    if check_dtype and a.dtype is not b.dtype:
        raise _Mismatch(f"The values for attribute 'dtype' do not match: {a.dtype} != "
                        f"{b.dtype}.")
    if check_stride and a.stride() != b.stride():
        raise _Mismatch(f"The values for attribute 'stride()' do not match: {a.stride()} != "
                        f"{b.stride()}.")
    d = _dt.promote_types(a.dtype, b.dtype)
    x, y = a.detach()._data.astype(d.np), b.detach()._data.astype(d.np)
    if rtol is None:
        rtol, atol = _TOLERANCES.get(d.name, (0.0, 0.0))
    _compare_values(x, y, rtol, atol, equal_nan, scalar=a.ndim == 0)


def _compare_values(x: Any, y: Any, rtol: float, atol: float, equal_nan: bool,
                    scalar: bool) -> None:
    if rtol is None:
        rtol, atol = _TOLERANCES.get(_dt.from_numpy_dtype(y.dtype).name, (0.0, 0.0))
    exact = x.dtype.kind in "biu"
    if x.dtype.kind == "b":
        x, y = x.astype(np.int64), y.astype(np.int64)
    elif x.dtype.kind == "V" or x.dtype.itemsize < 4 and x.dtype.kind == "f":
        x, y = x.astype(np.float32), y.astype(np.float32)  # (half precisions: diffs in float32)
    with np.errstate(all="ignore"):
        if exact:
            matches = x == y
        else:
            # infinities match only themselves (a tolerance times inf would admit anything)
            matches = (np.abs(x - y) <= atol + rtol * np.abs(y)) & np.isfinite(x) & np.isfinite(y)
            matches |= x == y
            if equal_nan:
                matches |= np.isnan(x) & np.isnan(y)
        if matches.all():
            return
        abs_diff = np.abs(x - y)
        if exact:  # (integers divide into the default floating dtype, as torch's do)
            fdt = _dt.get_default_dtype().np
            rel_diff = abs_diff.astype(fdt) / np.abs(y).astype(fdt)
        else:
            rel_diff = abs_diff / np.abs(y)
    abs_diff = np.where(matches, 0, abs_diff)
    rel_diff = np.where(matches, 0, rel_diff)
    close = "equal" if exact or (rtol == 0 and atol == 0) else "close"
    allowed_abs = "" if close == "equal" else f" (up to {atol} allowed)"
    allowed_rel = "" if close == "equal" else f" (up to {rtol} allowed)"
    if scalar:  # (torch works these out on the Python numbers)
        got, want = x.reshape(()).item(), y.reshape(()).item()
        diff = abs(got - want)
        rel = builtins.float("inf") if want == 0 else diff / abs(want)
        raise _Mismatch(
            f"Scalars are not {close}!\n\nExpected {want} but got {got}.\nAbsolute "
            f"difference: {diff}{allowed_abs}\nRelative difference: {rel}{allowed_rel}")
    total = matches.size
    wrong = total - int(matches.sum())
    abs_at, abs_max = _greatest(abs_diff)
    rel_at, rel_max = _greatest(rel_diff)
    raise _Mismatch(
        f"Tensor-likes are not {close}!\n\nMismatched elements: {wrong} / {total} "
        f"({100 * wrong / total:.1f}%)\nGreatest absolute difference: {abs_max} at index "
        f"{abs_at}{allowed_abs}\nGreatest relative difference: {rel_max} at index "
        f"{rel_at}{allowed_rel}")


def _greatest(diff: Any) -> tuple:
    """The largest entry (a NaN first, as torch's max propagates it) and its index."""
    flat = diff.reshape(-1)
    nan = np.isnan(flat) if flat.dtype.kind in "fc" else np.zeros(flat.shape, bool)
    k = int(np.argmax(nan)) if nan.any() else int(np.argmax(flat))
    index = tuple(int(i) for i in np.unravel_index(k, diff.shape))
    return index, flat[k].item()


# assert_allclose's own defaults (looser than assert_close's)
_ALLCLOSE_TOLERANCES = {"float16": (1e-3, 1e-3), "float32": (1e-4, 1e-5), "float64": (1e-5, 1e-8)}


def assert_allclose(actual: Any, expected: Any, rtol: float | None = None,
                    atol: float | None = None, equal_nan: bool = True, msg: str = "") -> None:
    """Deprecated: :func:`assert_close` of two tensors (numbers and lists become tensors in
    ``actual``'s dtype), with its own default tolerances, NaNs equal and dtypes unchecked."""
    warnings.warn("`ember.testing.assert_allclose()` is deprecated since 1.12 and will be removed "
                  "in a future release. Please use `ember.testing.assert_close()` instead. You "
                  "can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    from .creation import tensor

    if not isinstance(actual, Tensor):
        actual = tensor(actual)
    if not isinstance(expected, Tensor):
        expected = tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        d = _dt.promote_types(actual.dtype, expected.dtype)
        rtol, atol = _ALLCLOSE_TOLERANCES.get(d.name, _TOLERANCES.get(d.name, (0.0, 0.0)))
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_dtype=False, msg=msg or None)


def make_tensor(*shape: Any, dtype: Any, device: Any, low: float | None = None,
                high: float | None = None, requires_grad: bool = False,
                noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format: Any = None) -> Tensor:
    """A tensor of ``shape`` filled with random values of ``dtype``: uniform in ``[low, high)``
    (default ``[-9, 9)`` for floating and complex dtypes, ``[-9, 10)`` for integers, ``[0, 10)``
    for unsigned ones; bools are fair coins). ``noncontiguous`` gives it a stride of 2 in its
    last dim; ``exclude_zero`` replaces zeros (by the smallest normal number, or 1)."""
    from . import random as _random
    from . import devices as _devices
    from .devices import device as _device

    _device(device)
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    d = _dt.to_dtype(dtype)
    floating = d.is_floating_point or d.is_complex
    lo = (-9 if d.is_signed else 0) if low is None else low
    hi = (9 if floating else 10) if high is None else high
    if any(isinstance(v, builtins.float) and math.isnan(v) for v in (lo, hi)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={lo} and high={hi}")
    if d is not _dt.bool and lo >= hi:
        raise ValueError(f"`low` must be less than `high`, but got {lo} >= {hi}")
    shape = tuple(shape)
    size = shape[:-1] + (2 * shape[-1],) if noncontiguous and shape else shape
    if d is _dt.bool:
        data = _random.randint(0, 2, size, device="cpu")._data.astype(bool)
    elif floating:
        real = d.to_real() if d.is_complex else d
        u = _random.rand(size, dtype=_dt.float64, device="cpu")._data * (hi - lo) + lo
        if d.is_complex:
            v = _random.rand(size, dtype=_dt.float64, device="cpu")._data * (hi - lo) + lo
            u = u + 1j * v
        data = u.astype(d.np if d.is_complex else real.np)
    else:
        data = _random.randint(int(math.ceil(lo)), int(math.ceil(hi)), size,
                               device="cpu")._data.astype(d.np)
    if exclude_zero and d is not _dt.bool:
        tiny = np.finfo(np.float32 if d.np.itemsize <= 4 else np.float64).tiny if floating else 1
        data = np.where(data == 0, np.asarray(tiny).astype(data.dtype), data)
    if noncontiguous and shape:
        data = data[..., ::2]
    # drawn on the host generator; on the device asked for (where torch's make_tensor samples)
    out = Tensor._make(_devices.move(data, *_devices.place(device)))
    if requires_grad:
        out.requires_grad_(True)
    return out
