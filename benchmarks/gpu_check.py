"""The one-shot GPU check of DEVICES.md §9: everything a short spell on a real GPU must measure, in
one run that writes its results as JSON as it goes (a run cut short still leaves what it had).

Parts, in order (``--parts`` picks some):

- ``env``: nvidia-smi, CuPy's configuration, torch's and ember's view of the device.
- ``kernels``: every kernel of ``ember.backend.cupy_backend`` against ``ember.backend.NUMPY`` on
  the same random inputs (strides, dilation, padding, NaN and ties; argmax and indices exactly).
- ``train``: ResNet-18 (torchvision's tree, built with each framework's ``nn``), SGD with
  momentum, ember on CuPy against torch on CUDA from the same state_dict and batches, TF32 off:
  per-step losses, step times and their ratio, peak memory.
- ``syncs``: the device-to-host synchronisations of one training step, by site, seen through
  ``ember.cuda.set_sync_debug_mode("warn")`` (and the fake's own count with ``--fake``).
- ``semantics``: torch's device semantics (mixed devices, ``.numpy()``, 0-d CPU scalars, round
  trips with gradients, state_dicts and checkpoints across devices), ember against torch CUDA.
- ``pytest``: ``pytest --device cuda -x -q tests/ops tests/nn`` in what is left of the budget.

``--fake`` runs the same code on the fake device (``tests/device/fakecupy.py``) with torch on the
CPU as the oracle, at a tiny size, so that all of it but the GPU itself is tested on machines
without one (``tests/test_cuda.py`` runs it). Each part has its own time limit, cut to what is
left of ``--budget`` seconds.

    python benchmarks/gpu_check.py [--out DIR] [--fake] [--parts env,kernels,...]
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import pathlib
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from typing import Any, Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
# the suite runs last: if time runs short, the numbers DEVICES.md §9 puts first are in
PARTS = ("env", "kernels", "train", "syncs", "semantics", "pytest")
# seconds each part may take on the GPU, within --budget (about 8 minutes in all)
LIMITS = {"env": 20, "kernels": 90, "train": 120, "syncs": 40, "semantics": 30, "pytest": 240}


class PartTimeout(Exception):
    """A part ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raises PartTimeout in the main thread after ``seconds`` (SIGALRM; no limit elsewhere)."""
    if not hasattr(signal, "SIGALRM") or seconds <= 0:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise PartTimeout(f"ran past its {seconds:.0f} s limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# -- the device ----------------------------------------------------------------------------------
class Device:
    """The CuPy backend under test: real CuPy, or the fake device over NumPy."""

    def __init__(self, fake: bool) -> None:
        self.fake = fake
        sys.path.insert(0, str(ROOT))
        from ember.backend import cupy_backend

        self.module = cupy_backend
        self.fakecupy: Any = None
        self.models: Any = None  # (torch model, its SGD, ember model, its SGD)
        if fake:
            sys.path.insert(0, str(ROOT / "tests"))
            from device import fakecupy

            self.fakecupy = fakecupy
            cupy_backend.use_module(fakecupy.cupy, fakecupy.cupyx)
        self.backend = cupy_backend.load()
        if not self.backend.xp.cuda.is_available():
            raise RuntimeError("CuPy imports but sees no CUDA device (no driver or no GPU)")

    def close(self) -> None:
        if self.fake:
            self.module.use_module(None, None)

    def to(self, arr: Any) -> Any:
        import numpy as np

        return self.backend.from_host(arr, 0) if isinstance(arr, np.ndarray) else arr

    def host(self, arr: Any) -> Any:
        return self.backend.to_host(arr) if isinstance(arr, self.backend.array_type) else arr


# -- env -----------------------------------------------------------------------------------------
def _command(args: list, timeout: float = 15) -> str:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        return (proc.stdout + proc.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{type(e).__name__}: {e}"


def part_env(dev: Device, args: argparse.Namespace) -> dict:
    import numpy as np

    import ember

    out: dict = {"python": sys.version.split()[0], "platform": platform.platform(),
                 "numpy": np.__version__, "fake": dev.fake,
                 "CUPY_CACHE_DIR": os.environ.get("CUPY_CACHE_DIR")}
    if not dev.fake:
        out["nvidia_smi"] = _command(["nvidia-smi"])
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            dev.backend.xp.show_config()
        out["cupy_config"] = buf.getvalue()
    out["cupy"] = getattr(dev.backend.xp, "__version__", None)
    try:
        import torch

        out["torch"] = torch.__version__
        out["torch_cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            out["torch_device"] = torch.cuda.get_device_name(0)
    except ImportError as e:
        out["torch"] = f"missing: {e}"
    out["ember_cuda_available"] = ember.cuda.is_available()
    out["ember_device_count"] = ember.cuda.device_count()
    if ember.cuda.is_available():
        out["ember_device_properties"] = repr(ember.cuda.get_device_properties(0))
    return out


# -- kernels -------------------------------------------------------------------------------------
def _geometry(kernel: tuple, stride: tuple, pad: tuple, dilation: tuple, groups: int,
              in_size: tuple) -> Any:
    from ember.backend.geometry import WindowGeometry

    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                for n, k, s, p, d in zip(in_size, kernel, stride, pad, dilation))
    return WindowGeometry(tuple(kernel), tuple(stride), tuple(pad), tuple(dilation), groups,
                          tuple(in_size), out)


def kernel_cases(rng: Any) -> list:
    """(kernel name, case label, call(backend, to) -> result(s)) for every kernel; ``to`` moves a
    host array onto the backend under test (the identity for NumPy)."""
    import numpy as np

    f32, f64 = np.float32, np.float64

    def randn(*shape: int, dtype: Any = f32) -> Any:
        return rng.standard_normal(shape).astype(dtype)

    cases: list = []

    def case(name: str, label: str) -> Callable:
        def add(fn: Callable) -> Callable:
            cases.append((name, label, fn))
            return fn
        return add

    for dtype in (f32, f64, np.int64, np.bool_):
        case("zero", np.dtype(dtype).name)(lambda b, to, dt=dtype: b.zero(np.dtype(dt)))

    target, values = randn(6, 5), randn(9, 5)
    rows = np.array([0, 2, 2, 5, 0, 0, 1, 2, 5])
    case("scatter_add", "repeated rows")(
        lambda b, to: b.scatter_add(to(target.copy()), (to(rows),), to(values)))
    cols = np.array([4, 4, 0, 1, 1, 3, 4, 0, 2])
    case("scatter_add", "repeated (row, col) pairs")(
        lambda b, to: b.scatter_add(to(target.copy()), (to(rows), to(cols)), to(values[:, 0])))

    base = randn(4, 6)
    case("as_strided", "overlapping windows")(
        lambda b, to: b.as_strided(to(base), (3, 4, 2), (24, 4, 4)).copy())
    case("expand", "broadcast a row")(lambda b, to: b.expand(to(base[:1]), (5, 4, 6)).copy())

    img = randn(2, 3, 7, 9)
    for pads in ((1, 2, 0, 3), (-1, 2, 1, -2), (0, 0, 0, 0)):
        case("pad2d", f"pad {pads}")(lambda b, to, p=pads: b.pad2d(to(img), *p, value=-1.5))
    for geo_args in (((3, 3), (1, 1), (1, 1), (1, 1)), ((3, 2), (2, 3), (0, 1), (2, 1)),
                     ((2, 2), (2, 2), (1, 0), (1, 1))):
        geo = _geometry(*geo_args, 1, img.shape[2:])
        label = "kernel %s stride %s pad %s dilation %s" % geo_args
        case("pad_to_windows", label)(lambda b, to, g=geo: b.pad_to_windows(to(img), g, 0.5))
        padded = NUMPY_BACKEND().pad_to_windows(img, geo, 0.0)
        case("windows", label)(lambda b, to, g=geo, x=padded: b.windows(
            to(x), g.kernel, g.stride, g.dilation, g.out_hw).copy())
        cols_in = randn(2, 3, *geo.kernel, *geo.out_hw)
        case("col2im", label)(lambda b, to, g=geo, c=cols_in, x=padded: b.col2im(
            to(c), x.shape[2:], g.stride, g.dilation))
        for op in ("sum", "max", "argmax"):
            case("window_reduce", f"{op}, {label}")(lambda b, to, g=geo, x=padded, o=op:
                                                     b.window_reduce(to(x), g.kernel, g.stride,
                                                                     g.dilation, g.out_hw, o))
    # ties and NaN: torch's argmax takes the first maximum and the last NaN
    ties = rng.integers(0, 3, (2, 2, 6, 6)).astype(f32)
    ties[0, 0, 1, 1] = ties[1, 1, 4, 2] = ties[1, 1, 4, 4] = np.nan
    for op in ("max", "argmax"):
        case("window_reduce", f"{op} with ties and NaN")(
            lambda b, to, o=op: b.window_reduce(to(ties), (3, 3), (1, 1), (1, 1), (4, 4), o))
    for geo_args in (((3, 3), (2, 2), (1, 1), (1, 1)), ((2, 3), (1, 2), (0, 1), (2, 1))):
        geo = _geometry(*geo_args, 1, ties.shape[2:])
        for indices in (False, True):
            case("max_pool2d", f"{geo_args} indices={indices}")(
                lambda b, to, g=geo, i=indices: b.max_pool2d(to(ties), g, -np.inf, i))
    neg = -np.full((1, 1, 3, 3), np.inf, f32)
    case("max_pool2d", "-inf windows beside the padding")(
        lambda b, to, g=_geometry((2, 2), (2, 2), (1, 1), (1, 1), 1, (3, 3)):
        b.max_pool2d(to(neg), g, -np.inf, True))

    for (k, s, p, d, groups, c, o) in (((3, 3), (1, 1), (1, 1), (1, 1), 1, 4, 6),
                                       ((3, 2), (2, 1), (0, 1), (1, 2), 2, 4, 6),
                                       ((1, 1), (2, 2), (0, 0), (1, 1), 1, 3, 5),
                                       ((3, 3), (1, 1), (2, 2), (2, 2), 4, 4, 8)):
        x = randn(2, c, 8, 7)
        geo = _geometry(k, s, p, d, groups, x.shape[2:])
        w, bias = randn(o, c // groups, *k), randn(o)
        g = randn(2, o, *geo.out_hw)
        label = f"kernel {k} stride {s} pad {p} dilation {d} groups {groups}"
        case("conv2d", label)(lambda b, to, x=x, w=w, g_=geo, bb=bias: b.conv2d(
            to(x), to(w), g_, to(bb)))
        case("conv2d_input_grad", label)(lambda b, to, g=g, w=w, g_=geo: b.conv2d_input_grad(
            to(g), to(w), g_))
        case("conv2d_weight_grad", label)(lambda b, to, x=x, g=g, g_=geo: b.conv2d_weight_grad(
            to(x), to(g), g_))
    x1 = randn(2, 4, 11)
    geo1 = _geometry((3,), (2,), (1,), (2,), 2, (11,))
    w1, g1 = randn(6, 2, 3), randn(2, 6, *geo1.out_hw)
    case("conv1d", "stride 2 dilation 2 groups 2")(lambda b, to: b.conv1d(to(x1), to(w1), geo1))
    case("conv1d_input_grad", "stride 2 dilation 2 groups 2")(
        lambda b, to: b.conv1d_input_grad(to(g1), to(w1), geo1))
    case("conv1d_weight_grad", "stride 2 dilation 2 groups 2")(
        lambda b, to: b.conv1d_weight_grad(to(x1), to(g1), geo1))
    x3 = randn(1, 2, 5, 6, 4)
    geo3 = _geometry((2, 3, 2), (1, 2, 1), (1, 1, 0), (2, 1, 1), 1, (5, 6, 4))
    w3, g3 = randn(3, 2, 2, 3, 2), randn(1, 3, *geo3.out_hw)
    case("conv3d", "mixed strides")(lambda b, to: b.conv3d(to(x3), to(w3), geo3))
    case("conv3d_input_grad", "mixed strides")(
        lambda b, to: b.conv3d_input_grad(to(g3), to(w3), geo3))
    case("conv3d_weight_grad", "mixed strides")(
        lambda b, to: b.conv3d_weight_grad(to(x3), to(g3), geo3))
    depth_out = (5 + 2 * 1 - 2 * 1 - 1) // 2 + 1
    case("depth_windows", "kernel 2 stride 2 pad 1")(
        lambda b, to: b.depth_windows(to(x3), 2, 2, 1, 1, depth_out, 0.0).copy())
    dcols = randn(1, 2, 2, depth_out, 6, 4)
    case("depth_col2im", "kernel 2 stride 2 pad 1")(
        lambda b, to: b.depth_col2im(to(dcols), 5, 2, 1, 1))

    seg_values, seg_index = randn(7, 3, 4), np.array([0, 0, 1, 3, 3, 3, 5])
    case("segment_sum", "axis 0 with gaps")(
        lambda b, to: b.segment_sum(to(seg_values), to(seg_index), 6, 0))
    case("segment_sum", "axis 2")(
        lambda b, to, v=randn(2, 3, 4): b.segment_sum(to(v), to(np.array([0, 1, 1, 2])), 3, 2))
    idx = np.array([4, 0, 2, 4, 4, 1, 0])
    case("index_sum", "unsorted repeats")(lambda b, to: b.index_sum(to(seg_values), to(idx), 6))
    for shape in ((300, 7), (5000, 40), (3, 2)):
        m = randn(*shape)
        case("sum_rows", f"{shape}")(lambda b, to, m=m: b.sum_rows(to(m)))
    case("sum_rows", "int64")(lambda b, to, m=rng.integers(-5, 5, (40, 3)): b.sum_rows(to(m)))
    for shape in ((300, 7), (2, 40, 64), (3, 700)):  # (a GEMV on NumPy's small ones)
        case("sum_last", f"{shape}")(lambda b, to, m=randn(*shape): b.sum_last(to(m)))
    case("sum_last", "products")(
        lambda b, to, m=randn(30, 64), n=randn(30, 64): b.sum_last(to(m), to(n)))

    # GELU's factors and kernels (NumPy's: oneDNN's for float32 where installed), on finite
    # inputs (at +inf oneDNN's GELU is NaN, as torch's; Phi's is inf)
    finite = np.linspace(-9, 9, 3001)
    for dtype in (f32, f64):
        a, g = finite.astype(dtype), randn(3001).astype(dtype)
        label = np.dtype(dtype).name
        case("normal_cdf_pdf", label)(lambda b, to, a=a: b.normal_cdf_pdf(to(a)))
        case("gelu", label)(lambda b, to, a=a: b.gelu(to(a))[0])
        case("gelu_backward", label)(lambda b, to, a=a, g=g: b.gelu_backward(to(g), to(a), None))
    for shape, dim in (((300, 300), 1), ((300, 300), 0), ((4, 9), 1)):  # (oneDNN's from 65,536)
        for log in (False, True):
            x, g = randn(*shape).astype(f32), randn(*shape).astype(f32)
            y = NUMPY_BACKEND().softmax(x, dim, log)
            label = f"{shape} dim {dim}{' log' if log else ''}"
            case("softmax", label)(lambda b, to, x=x, d=dim, lg=log: b.softmax(to(x), d, lg))
            case("softmax_backward", label)(lambda b, to, y=y, g=g, d=dim, lg=log:
                                            b.softmax_backward(to(g), to(y), d, lg))

    grid = np.concatenate([np.linspace(-6, 6, 97), [0.0, -0.0, np.inf, -np.inf, np.nan]])
    positive = np.linspace(0.05, 30, 80)
    unit = np.linspace(-0.999, 0.999, 61)
    for name, arg in (("erf", grid), ("erfc", grid), ("erfcx", grid), ("erfinv", unit),
                      ("ndtri", (unit + 1) / 2), ("log_ndtr", grid), ("lgamma", grid),
                      ("digamma", grid), ("i0", grid), ("i0e", grid), ("i1", grid),
                      ("i1e", grid), ("spherical_bessel_j0", grid)):
        for dtype in (f32, f64):
            case(name, np.dtype(dtype).name)(
                lambda b, to, n=name, a=arg.astype(dtype): getattr(b, n)(to(a)))
    case("polygamma", "n=0..3")(lambda b, to: [b.polygamma(n, to(positive)) for n in range(4)])
    case("zeta", "s > 1")(lambda b, to: b.zeta(to(positive + 1.0), to(positive[::-1])))
    case("gammainc", "a, x > 0")(lambda b, to: b.gammainc(to(positive), to(positive[::-1])))
    case("gammaincc", "a, x > 0")(lambda b, to: b.gammaincc(to(positive), to(positive[::-1])))
    for kind in ("t", "u", "h", "he", "l", "p", "shifted_t"):
        case("orthogonal_polynomial", kind)(lambda b, to, k=kind: b.orthogonal_polynomial(
            k, to(unit), to(np.arange(61.0) % 7)))
    for name in ("bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_k0",
                 "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
                 "airy_ai"):
        case("bessel", name)(lambda b, to, n=name: b.bessel(n, to(positive)))

    relu_out, relu_grad = np.maximum(randn(5, 6), 0), randn(5, 6)
    relu_out[0, :3] = 0
    case("threshold_backward", "zeros and positives")(
        lambda b, to: b.threshold_backward(to(relu_grad), to(relu_out)))
    a, c = randn(5, 7), randn(7, 3)
    case("mm", "plain and transposed")(lambda b, to: [b.mm(to(a), to(c)),
                                                      b.mm(to(a.T.copy()), to(c), ta=True)])
    case("sum_to", "broadcast dims")(lambda b, to, g=randn(4, 3, 5): b.sum_to(to(g), (3, 1)))
    case("may_share_memory", "a view and a copy")(
        lambda b, to: [b.may_share_memory(x := to(base), x[1:]), b.may_share_memory(x, x.copy())])
    if hasattr(NUMPY_BACKEND(), "data_ptr"):  # addresses differ; a view's offset does not
        case("data_ptr", "a view's offset")(
            lambda b, to: b.data_ptr((x := to(base))[1:, 2:]) - b.data_ptr(x))
    if hasattr(NUMPY_BACKEND(), "writable"):  # (expanded views: read-only on NumPy alone)
        case("writable", "a plain array and a slice")(
            lambda b, to: [b.writable(x := to(base)), b.writable(x[1:])])
    if hasattr(NUMPY_BACKEND(), "has_internal_overlap"):
        case("has_internal_overlap", "expanded and plain")(
            lambda b, to: [b.has_internal_overlap(b.expand(to(base[:1]), (3, 6))),
                           b.has_internal_overlap(to(base))])

    param, grad = randn(4, 5), randn(4, 5)

    def sgd(b: Any, to: Any, nesterov: bool) -> list:
        p, g = to(param.copy()), to(grad)
        buf = b.optim.sgd(p, g, None, lr=0.1, weight_decay=0.01, momentum=0.9, dampening=0.0,
                          nesterov=nesterov, maximize=False)
        buf = b.optim.sgd(p, g, buf, lr=0.1, weight_decay=0.01, momentum=0.9, dampening=0.0,
                          nesterov=nesterov, maximize=False)
        return [p, buf]

    case("optim.sgd", "momentum")(lambda b, to: sgd(b, to, False))
    case("optim.sgd", "nesterov")(lambda b, to: sgd(b, to, True))

    def adam(b: Any, to: Any, amsgrad: bool) -> list:
        p, g = to(param.copy()), to(grad)
        m, v, vmax = to(np.zeros((4, 5), f32)), to(np.zeros((4, 5), f32)), \
            to(np.zeros((4, 5), f32))
        step = np.zeros((), f32)  # torch keeps the step on the host
        for _ in range(2):
            b.optim.adam(p, g, m, v, vmax if amsgrad else None, step, lr=1e-3, beta1=0.9,
                         beta2=0.999, eps=1e-8, weight_decay=0.01, amsgrad=amsgrad,
                         maximize=False, decoupled_weight_decay=True)
        return [p, m, v]

    case("optim.adam", "adamw")(lambda b, to: adam(b, to, False))
    case("optim.adam", "amsgrad")(lambda b, to: adam(b, to, True))
    return cases


def NUMPY_BACKEND() -> Any:  # noqa: N802 - reads as the constant it returns
    from ember.backend import NUMPY

    return NUMPY


def _compare(ref: Any, got: Any, host: Callable) -> tuple[bool, float, str]:
    """(equal within tolerance, max |difference|, what differed)."""
    import numpy as np

    if isinstance(ref, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(ref):
            return False, float("inf"), f"structure {type(got).__name__} of {len(got)}"
        worst, ok, why = 0.0, True, ""
        for r, g in zip(ref, got):
            o, d, w = _compare(r, g, host)
            ok, worst, why = ok and o, max(worst, d), why or w
        return ok, worst, why
    if ref is None or got is None:
        return ref is None and got is None, 0.0, "" if ref is got else "None against a value"
    if isinstance(ref, (bool, int, float)) and not isinstance(got, (bool, int, float)):
        got = host(got)
        got = got.item() if hasattr(got, "item") else got
    if isinstance(ref, (bool, int, float)):
        return ref == got, 0.0 if ref == got else float("inf"), "" if ref == got else \
            f"{got!r} != {ref!r}"
    got = np.asarray(host(got))
    ref = np.asarray(ref)
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return False, float("inf"), f"{got.dtype}{got.shape} != {ref.dtype}{ref.shape}"
    if ref.dtype.kind in "biu":  # indices, argmax, counts: exactly
        same = bool(np.array_equal(ref, got))
        return same, 0.0 if same else float(np.abs(ref.astype(np.int64) - got).max()), \
            "" if same else "integers differ"
    if ref.dtype.kind != "f" and ref.dtype.kind != "c":  # bfloat16 and friends
        ref, got = ref.astype(np.float64), got.astype(np.float64)
    nan_same = bool(np.array_equal(np.isnan(ref), np.isnan(got)))
    finite = ~np.isnan(ref)
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf
        gap = np.abs(ref[finite].astype(np.float64) - got[finite])
    diff = float(np.nan_to_num(gap).max()) if finite.any() else 0.0
    tol = 1e-5 if ref.dtype == np.float32 else 1e-10
    close = bool(np.allclose(got[finite], ref[finite], rtol=tol * 10, atol=tol, equal_nan=True))
    return nan_same and close, diff, "" if nan_same and close else \
        ("NaN positions differ" if not nan_same else "values differ")


def part_kernels(dev: Device, args: argparse.Namespace) -> dict:
    import numpy as np

    numpy_backend = NUMPY_BACKEND()
    rows, failed = [], 0
    for name, label, call in kernel_cases(np.random.default_rng(0)):
        row: dict = {"kernel": name, "case": label}
        try:
            ref = call(numpy_backend, lambda a: a)
        except Exception as e:  # noqa: BLE001 - a case NumPy refuses is reported, not fatal
            row.update(ok=False, error=f"numpy: {type(e).__name__}: {e}")
            rows.append(row)
            failed += 1
            continue
        start = time.perf_counter()
        try:
            got = call(dev.backend, dev.to)
            ok, diff, why = _compare(ref, got, dev.host)
            row.update(ok=ok, max_abs_diff=diff, seconds=round(time.perf_counter() - start, 4))
            if why:
                row["why"] = why
        except PartTimeout:
            raise
        except Exception as e:  # noqa: BLE001
            row.update(ok=False, error=f"{type(e).__name__}: {e}")
        failed += not row["ok"]
        rows.append(row)
    tested = {r["kernel"].split(".")[0] for r in rows}
    kernels = sorted(n for n, v in vars(type(numpy_backend)).items()
                     if not n.startswith("_") and n not in ("name", "xp", "array_type")
                     and (callable(v) or isinstance(v, staticmethod)))
    return {"cases": len(rows), "failed": failed, "rows": rows,
            "untested_kernels": [k for k in kernels if k not in tested
                                 and not k.startswith("errors_")],
            "ok": failed == 0}


# -- pytest --------------------------------------------------------------------------------------
def part_pytest(dev: Device, args: argparse.Namespace) -> dict:
    if dev.fake:
        return {"skipped": "the fake device's suite is pytest --device fakecuda, run by make test"}
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
           "--device", "cuda", "-x", "tests/ops", "tests/nn"]  # (-q: pyproject's addopts)
    if importlib.util.find_spec("pytest_timeout") is not None:
        cmd += ["--timeout", "60"]  # one hung test must not take the whole budget
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              timeout=max(5.0, args.part_seconds - 10))
        output, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        code = "timeout"
    lines = output.splitlines()
    summary = next((ln for ln in reversed(lines) if " passed" in ln or " failed" in ln
                    or " error" in ln), "")
    first_failure = next((ln for ln in lines if ln.startswith(("FAILED", "ERROR"))), "")
    # -q's progress lines: one character a test (a timeout leaves no summary line)
    marks = [ln.split(" [")[0].rstrip() for ln in lines]
    progress = "".join(m for m in marks if m and set(m) <= set(".FEsxX"))
    (pathlib.Path(args.out) / "pytest_tail.txt").write_text("\n".join(lines[-400:]))
    return {"returncode": code, "summary": summary, "first_failure": first_failure,
            "passed_before_the_end": progress.count("."),
            "seconds": round(time.perf_counter() - start, 1), "ok": code == 0}


# -- train ---------------------------------------------------------------------------------------
def _models(dev: Device, args: argparse.Namespace) -> tuple:
    """torch's and ember's ResNet-18 from one state_dict, with their SGD, on their devices
    (made once: the syncs part goes on training the train part's)."""
    if dev.models is None:
        dev.models = _new_models(args)
    return dev.models


def _new_models(args: argparse.Namespace) -> tuple:
    import numpy as np
    import torch

    if args.torch_device == "cpu":
        # the fake run checks values, not speed: one thread keeps torch's CPU steps from
        # waiting on each other on a busy machine (7 s against 0.3 s for two steps here)
        torch.set_num_threads(1)

    import ember
    from benchmarks.models import resnet18

    torch.manual_seed(0)
    t_model = resnet18(torch).to(args.torch_device)
    state = {k: v.detach().cpu().numpy() for k, v in t_model.state_dict().items()}
    e_model = resnet18(ember)
    e_model.load_state_dict({k: ember.tensor(np.ascontiguousarray(v)) for k, v in state.items()})
    e_model = e_model.to("cuda")
    t_opt = torch.optim.SGD(t_model.parameters(), lr=args.lr, momentum=0.9)
    e_opt = ember.optim.SGD(e_model.parameters(), lr=args.lr, momentum=0.9)
    return t_model, t_opt, e_model, e_opt


def _batches(args: argparse.Namespace, n: int) -> list:
    import numpy as np

    rng = np.random.default_rng(1)
    return [(rng.standard_normal((args.batch, 3, args.size, args.size)).astype(np.float32),
             rng.integers(0, 1000, args.batch)) for _ in range(n)]


def _step(m: Any, model: Any, opt: Any, x: Any, y: Any) -> Any:
    opt.zero_grad()
    loss = m.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def _sync(m: Any, device: str) -> None:
    if device.startswith("cuda"):
        m.cuda.synchronize()


def _train(m: Any, model: Any, opt: Any, device: str, batches: list, warmup: int) -> tuple:
    """Per-step losses and the timed steps' seconds (each step from zero_grad to opt.step,
    between two device synchronisations; the loss is read after the timed region)."""
    losses, times = [], []
    for i, (x, y) in enumerate(batches):
        xs, ys = m.tensor(x).to(device), m.tensor(y).to(device)
        _sync(m, device)
        start = time.perf_counter()
        loss = _step(m, model, opt, xs, ys)
        _sync(m, device)
        elapsed = time.perf_counter() - start
        losses.append(loss.item())  # the user's one sync per step
        if i >= warmup:
            times.append(elapsed)
    return losses, times


def part_train(dev: Device, args: argparse.Namespace) -> dict:
    """torch first, then ember, each over all the batches: an ember failure keeps torch's
    numbers, and each framework's peak is its own run's."""
    import torch

    import ember

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    t_model, t_opt, e_model, e_opt = _models(dev, args)
    batches = _batches(args, args.warmup + args.steps)
    out: dict = {"batch": args.batch, "size": args.size, "warmup": args.warmup,
                 "steps": args.steps, "torch_device": args.torch_device, "tf32": False,
                 "losses": {}, "step_seconds": {}, "median_step_seconds": {}}
    for name, m, model, opt, device in (("torch", torch, t_model, t_opt, args.torch_device),
                                        ("ember", ember, e_model, e_opt, "cuda")):
        if device == "cuda":
            m.cuda.reset_peak_memory_stats()
        try:
            losses, times = _train(m, model, opt, device, batches, args.warmup)
        except PartTimeout:
            raise
        except Exception as e:  # noqa: BLE001 - the other framework's numbers still count
            out[f"{name}_error"] = f"{type(e).__name__}: {e}"
            out[f"{name}_traceback"] = traceback.format_exc(limit=-6)
            continue
        out["losses"][name], out["step_seconds"][name] = losses, times
        out["median_step_seconds"][name] = sorted(times)[len(times) // 2] if times else None
        if device == "cuda":
            out[f"{name}_peak_allocated_bytes"] = m.cuda.max_memory_allocated()
            out[f"{name}_peak_reserved_bytes"] = m.cuda.max_memory_reserved()
    out["ember_pool_total_bytes"] = int(dev.backend.xp.get_default_memory_pool().total_bytes())
    losses = out["losses"]
    if "torch" in losses and "ember" in losses:
        rel = [abs(e - t) / max(abs(t), 1e-12) for t, e in zip(losses["torch"], losses["ember"])]
        out["relative_loss_diff"], out["max_relative_loss_diff"] = rel, max(rel)
    median = out["median_step_seconds"]
    if median.get("torch") and median.get("ember"):
        out["ratio_ember_over_torch"] = median["ember"] / median["torch"]
        out["ember_speed_fraction_of_torch"] = median["torch"] / median["ember"]
    out["ok"] = out.get("max_relative_loss_diff", float("inf")) < args.loss_tolerance
    return out


# -- syncs ---------------------------------------------------------------------------------------
def part_syncs(dev: Device, args: argparse.Namespace) -> dict:
    """One training step under the "warn" sync debug mode: every synchronisation the core reports,
    by site; the step's ``loss.item()`` is the one torch also makes."""
    import ember

    fresh = dev.models is None
    _, _, e_model, e_opt = _models(dev, args)
    (x, y), = _batches(args, 1)
    xs, ys = ember.tensor(x).to("cuda"), ember.tensor(y).to("cuda")
    if fresh:  # a first step (the train part's otherwise): lazily made state is not a step's
        _step(ember, e_model, e_opt, xs, ys)
    if dev.fakecupy is not None:
        dev.fakecupy.reset_findings()
        fake_before = dev.fakecupy.sync_count()
    previous = ember.cuda.get_sync_debug_mode()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ember.cuda.set_sync_debug_mode("warn")
        try:
            loss = _step(ember, e_model, e_opt, xs, ys)
            loss.item()
        finally:
            ember.cuda.set_sync_debug_mode(previous)
    sites: dict = {}
    for w in caught:
        if "synchronizing CUDA operation" in str(w.message):
            site = f"{pathlib.Path(w.filename).name}:{w.lineno}"
            sites[site] = sites.get(site, 0) + 1
    out: dict = {"reported": sum(sites.values()), "sites": sites,
                 # (the reads the core reports: Tensor.item/tolist/bool/cpu; a raw array read
                 # inside a kernel or op is counted by the fake device: --fake, fake_findings)
                 # loss.item() must be reported: none at all means the core's hook is not wired
                 "hook_wired": bool(sites), "expected": 1}
    if dev.fakecupy is not None:
        out["fake_sync_count"] = dev.fakecupy.sync_count() - fake_before
        out["fake_findings"] = {kind: dict(counter)
                                for kind, counter in dev.fakecupy.findings().items()}
    out["ok"] = out["hook_wired"] and out["reported"] <= out["expected"]
    return out


# -- semantics -----------------------------------------------------------------------------------
def semantic_cases() -> list:
    """(name, fn(m, device, tmp) -> a JSON-able value): torch's device semantics."""

    def mixed_add(m: Any, d: str, tmp: str) -> Any:
        return (m.ones(2, device=d) + m.ones(2)).tolist()

    def mixed_matmul(m: Any, d: str, tmp: str) -> Any:
        return (m.ones(2, 2, device=d) @ m.ones(2, 2)).tolist()

    def numpy_of_device_tensor(m: Any, d: str, tmp: str) -> Any:
        return m.ones(2, device=d).numpy().tolist()

    def zero_dim_cpu_scalar(m: Any, d: str, tmp: str) -> Any:
        y = m.ones(2, device=d) * m.tensor(3.0)
        return [str(y.device), y.cpu().tolist()]

    def attributes(m: Any, d: str, tmp: str) -> Any:
        t, c = m.zeros(1, device=d), m.zeros(1)
        return [str(t.device), t.is_cuda, t.get_device(), c.get_device(),
                str(m.ones(1).cuda().device)]

    def round_trip_grad(m: Any, d: str, tmp: str) -> Any:
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        on = x.to(d)
        y = (on * on).cpu().sum()
        y.backward()
        return [type(on.grad_fn).__name__, on.is_leaf, x.grad.tolist(), y.item()]

    def to_returns_self(m: Any, d: str, tmp: str) -> Any:
        t = m.ones(2, device=d)
        return [t.to(d) is t, t.cuda() is t, t.to(d, copy=True) is t]

    def state_dict_across(m: Any, d: str, tmp: str) -> Any:
        m.manual_seed(0)
        src, dst = m.nn.Linear(3, 2), m.nn.Linear(3, 2).to(d)
        weight = dst.weight
        dst.load_state_dict(src.state_dict())
        return [str(dst.weight.device), dst.weight is weight,
                (dst.weight.cpu() == src.weight).all().item()]

    def module_to_keeps_parameters(m: Any, d: str, tmp: str) -> Any:
        lin = m.nn.Linear(2, 2)
        weight = lin.weight
        lin.to(d)
        return [lin.weight is weight, str(lin.weight.device)]

    def save_load(m: Any, d: str, tmp: str) -> Any:
        path = os.path.join(tmp, f"{m.__name__}_t.pt")
        m.save({"t": m.arange(3.0, device=d)}, path)
        back, cpu = m.load(path)["t"], m.load(path, map_location="cpu")["t"]
        return [str(back.device), str(cpu.device), cpu.tolist()]

    def item_and_bool(m: Any, d: str, tmp: str) -> Any:
        t = m.tensor([2.5], device=d)
        return [t.item(), bool(t > 0), float(t), int(t)]

    def out_of_memory(m: Any, d: str, tmp: str) -> Any:
        try:
            m.empty(2**46, dtype=m.uint8, device=d)  # 64 TiB
        except m.cuda.OutOfMemoryError as e:  # what batch-size finders catch
            return ["OutOfMemoryError", isinstance(e, RuntimeError), str(e).split(". GPU")[0]]
        return "allocated"

    return [(f.__name__, f) for f in (mixed_add, mixed_matmul, numpy_of_device_tensor,
                                      zero_dim_cpu_scalar, attributes, round_trip_grad,
                                      to_returns_self, state_dict_across,
                                      module_to_keeps_parameters, save_load, item_and_bool,
                                      out_of_memory)]
    # (an out-of-range index is left out: on torch CUDA it is a device-side assert, which
    # leaves the process's CUDA context unusable for whatever runs after it)


def _outcome(fn: Callable) -> list:
    try:
        return ["ok", fn()]
    except PartTimeout:
        raise
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        return [type(e).__name__, str(e).replace("torch.", "ember.").split("\n")[0]]


def part_semantics(dev: Device, args: argparse.Namespace) -> dict:
    import ember

    rows, differ = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        import torch

        for name, fn in semantic_cases():
            row: dict = {"case": name,
                         "ember": _outcome(lambda f=fn: f(ember, "cuda", tmp))}
            if dev.fake:
                # torch CUDA is the reference; without it, torch's CPU outcome shows the values
                # (device names aside) and the messages are left for the GPU run
                row["torch_cpu"] = _outcome(lambda f=fn: f(torch, "cpu", tmp))
            else:
                row["torch"] = _outcome(lambda f=fn: f(torch, "cuda", tmp))
                row["same"] = row["ember"] == row["torch"]
                differ += not row["same"]
            rows.append(row)
    return {"rows": rows, "differ": differ, "ok": differ == 0 if not dev.fake else None}


# -- driver --------------------------------------------------------------------------------------
RUNNERS = {"env": part_env, "kernels": part_kernels, "pytest": part_pytest,
           "train": part_train, "syncs": part_syncs, "semantics": part_semantics}


def _write(path: pathlib.Path, results: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, default=repr))
    tmp.replace(path)  # a reader never sees half a file


def parse_args(argv: list | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "benchmarks" / "results"
                                                                 / "gpu_check"))
    p.add_argument("--fake", action="store_true", help="the fake device, torch on the CPU")
    p.add_argument("--parts", default=",".join(PARTS))
    p.add_argument("--batch", type=int)
    p.add_argument("--size", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--loss-tolerance", type=float, default=1e-3)
    p.add_argument("--budget", type=float, default=460.0, help="seconds for all the parts")
    args = p.parse_args(argv)
    # the GPU run is DEVICES.md §9's; the fake one only has to exercise the same code
    # (at 32 px and batch 2 the last BatchNorm averages 2 numbers, and float32 round-off grows
    # to 1e-2 in a step, torch CPU against itself in another order; 48 px and 4 stay at 1e-7)
    for name, gpu, fake in (("batch", 32, 4), ("size", 224, 48), ("steps", 10, 1),
                            ("warmup", 3, 1)):
        if getattr(args, name) is None:
            setattr(args, name, fake if args.fake else gpu)
    args.torch_device = "cpu" if args.fake else "cuda"  # torch CPU: the fake device's oracle
    if args.fake:
        # the fake device only approximates GPU arithmetic through NumPy: the losses agree with
        # torch's CPU ones to float32 round-off over a step or two
        args.loss_tolerance = max(args.loss_tolerance, 1e-3)
    unknown = set(args.parts.split(",")) - set(PARTS)
    if unknown:
        p.error(f"unknown parts: {sorted(unknown)} (choose from {', '.join(PARTS)})")
    return args


def main(argv: list | None = None) -> int:
    args = parse_args(argv)
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / ("gpu_check_fake.json" if args.fake else "gpu_check.json")
    results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                     "fake": args.fake, "parts": {}}
    try:
        dev = Device(args.fake)
    except Exception as e:  # noqa: BLE001 - no CuPy, no device: say so in the results
        results["error"] = f"{type(e).__name__}: {e}"
        _write(path, results)
        print(f"gpu_check: no device: {results['error']}", file=sys.stderr)
        return 2
    begun = time.perf_counter()
    try:
        for part in args.parts.split(","):
            start = time.perf_counter()
            args.part_seconds = min(LIMITS[part], args.budget - (start - begun))
            if args.part_seconds < 5:
                results["parts"][part] = {"ok": False, "error": "no time left in the budget"}
                continue
            try:
                with time_limit(args.part_seconds):
                    result = RUNNERS[part](dev, args)
            except Exception as e:  # noqa: BLE001 - one part failing leaves the others to run
                result = {"ok": False, "error": f"{type(e).__name__}: {e}",
                          "traceback": traceback.format_exc(limit=-6)}
            result["seconds"] = round(time.perf_counter() - start, 2)
            results["parts"][part] = result
            _write(path, results)
            print(f"gpu_check: {part}: ok={result.get('ok')} ({result['seconds']} s)",
                  file=sys.stderr)
    finally:
        dev.close()
    failed = [p for p, r in results["parts"].items() if r.get("ok") is False]
    results["failed_parts"] = failed
    _write(path, results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
