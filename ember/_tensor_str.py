"""Text rendering of tensors, laid out exactly like PyTorch's ``repr``.

Everything here works on a plain NumPy array plus a dtype name, so it needs nothing from the
rest of ember; :func:`tensor_repr` is the adapter the Tensor class calls.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = [
    "PRINT_OPTS",
    "format_tensor",
    "get_printoptions",
    "printoptions",
    "set_printoptions",
    "tensor_repr",
]


class _PrintOptions:
    # a plain class, not a dataclass: ``dataclasses`` would be imported by ``import ember`` for it
    __slots__ = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")

    def __init__(self) -> None:
        self.precision: int = 4
        self.threshold: float = 1000
        self.edgeitems: int = 3
        self.linewidth: int = 80
        self.sci_mode: bool | None = None

    def asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        return "_PrintOptions(" + ", ".join(f"{k}={v!r}" for k, v in self.asdict().items()) + ")"


PRINT_OPTS = _PrintOptions()

# (precision, threshold, edgeitems, linewidth) for each named profile.
_PROFILES: dict[str, tuple[int, float, int, int]] = {
    "default": (4, 1000, 3, 80),
    "short": (2, 1000, 2, 80),
    "full": (4, math.inf, 3, 80),
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    r"""Set options for printing.

    Args:
        precision: Number of digits after the decimal point (default = 4).
        threshold: Total number of elements above which output is summarized (default = 1000).
        edgeitems: Number of items shown at each end of a summarized dimension (default = 3).
        linewidth: Number of characters per line used for wrapping (default = 80).
        profile: Preset overridden by the other arguments: ``"default"``, ``"short"`` or
            ``"full"``.
        sci_mode: ``True``/``False`` forces scientific notation on/off; ``None`` (default) lets
            the formatter decide.
    """
    if profile in _PROFILES:  # like torch, an unknown profile name is silently ignored
        (
            PRINT_OPTS.precision,
            PRINT_OPTS.threshold,
            PRINT_OPTS.edgeitems,
            PRINT_OPTS.linewidth,
        ) = _PROFILES[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    # Not guarded by "is not None": torch resets sci_mode to automatic on every call.
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    r"""Return the current print options as a dict accepted by :func:`set_printoptions`."""
    return PRINT_OPTS.asdict()


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    r"""Context manager that temporarily changes the print options (same arguments as
    :func:`set_printoptions`)."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


class _Formatter:
    """Chooses one notation and one width shared by every element it will print."""

    def __init__(self, values: np.ndarray, floating: bool) -> None:
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        prec = PRINT_OPTS.precision
        flat = values.reshape(-1)
        if not floating:
            for v in flat.tolist():
                self.width = max(self.width, len(str(v)))
        else:
            # Zeros and non-finite values take no part in choosing the notation or the width.
            vals = flat[np.isfinite(flat) & (flat != 0)]
            if vals.size:
                mags = np.abs(vals)
                lo, hi = float(mags.min()), float(mags.max())
                self.int_mode = bool(np.all(vals == np.ceil(vals)))
                wide = hi / lo > 1000.0 or hi > 1.0e8
                self.sci_mode = wide or (not self.int_mode and lo < 1.0e-4)
                # A forced mode applies only when there is a non-zero finite value to format.
                if PRINT_OPTS.sci_mode is not None:
                    self.sci_mode = PRINT_OPTS.sci_mode
                if self.sci_mode:
                    self.width = max(len(f"{v:.{prec}e}") for v in vals.tolist())
                elif self.int_mode:
                    # +1 for the trailing "." that marks the value as floating point.
                    self.width = max(len(f"{v:.0f}") + 1 for v in vals.tolist())
                else:
                    self.width = max(len(f"{v:.{prec}f}") for v in vals.tolist())

    def format(self, value: Any) -> str:
        prec = PRINT_OPTS.precision
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:.{prec}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):
                text += "."
        else:
            text = f"{value:.{prec}f}"
        return text.rjust(self.width)


class _Formatters:
    """One formatter for real tensors; a real/imaginary pair for complex ones."""

    def __init__(self, sample: np.ndarray, complex_: bool, floating: bool) -> None:
        self.real = _Formatter(sample.real if complex_ else sample, floating or complex_)
        self.imag = _Formatter(sample.imag, True) if complex_ else None

    def element_width(self) -> int:
        # Room for ", " between elements, plus "j" after an imaginary part.
        width = self.real.width + 2
        return width + self.imag.width + 1 if self.imag else width

    def format(self, value: Any) -> str:
        if self.imag is None:
            return self.real.format(value)
        real = self.real.format(value.real)
        imag = (self.imag.format(value.imag) + "j").lstrip()
        # The imaginary part may already carry its sign (including "-0." and "-nan").
        return real + imag if imag[0] in "+-" else real + "+" + imag


def _summarized(a: np.ndarray) -> np.ndarray:
    """The elements that survive summarization: the formatter is fitted to these only."""
    edge = PRINT_OPTS.edgeitems
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        # With edge == 0, a[-0:] is the whole vector, so nothing is dropped (as in torch).
        return np.concatenate((a[:edge], a[-edge:])) if len(a) > 2 * edge else a
    if not edge:
        return np.empty((0,) * a.ndim, a.dtype)
    rows = range(len(a))
    if len(a) > 2 * edge:
        rows = [*range(edge), *range(len(a) - edge, len(a))]
    return np.stack([_summarized(a[i]) for i in rows])


def _vector(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatters) -> str:
    edge = PRINT_OPTS.edgeitems
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / fmt.element_width()))
    if summarize and not edge:
        items = ["..."]
    elif summarize and len(a) > 2 * edge:
        head = [fmt.format(v) for v in a[:edge].tolist()]
        items = head + [" ..."] + [fmt.format(v) for v in a[-edge:].tolist()]
    else:
        items = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _body(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatters) -> str:
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, fmt)
    edge = PRINT_OPTS.edgeitems
    if summarize and len(a) > 2 * edge:
        head = [_body(a[i], indent + 1, summarize, fmt) for i in range(edge)]
        tail = [_body(a[i], indent + 1, summarize, fmt) for i in range(len(a) - edge, len(a))]
        parts = head + ["..."] + tail
    else:
        parts = [_body(sub, indent + 1, summarize, fmt) for sub in a]
    # Sub-tensors of a k-d tensor are separated by k-1 line breaks (blank lines for k >= 3).
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    parts = [text]
    # torch over-counts the current line by two characters; mirror it so wraps land alike.
    line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            line_len += len(suffix) + 2
    return "".join(parts) + ")"


def format_tensor(
    data: np.ndarray,
    dtype_name: str,
    *,
    requires_grad: bool = False,
    grad_fn_name: str | None = None,
    default_dtype: str = "float32",
    device: str | None = None,
) -> str:
    r"""Render ``data`` the way ``repr`` renders a tensor of dtype ``ember.<dtype_name>``.

    Args:
        data: The tensor's values (any shape, including 0-d and empty).
        dtype_name: Name of the ember dtype, e.g. ``"float32"``, ``"int64"``, ``"bool"``.
        requires_grad: Printed as ``requires_grad=True`` when there is no ``grad_fn_name``.
        grad_fn_name: Class name of the tensor's ``grad_fn``, e.g. ``"SubBackward0"``.
        default_dtype: Name of the current default floating dtype (never printed).
        device: Printed as ``device='cuda:0'`` (a tensor off the default device).
    """
    a = np.asarray(data)
    complex_ = dtype_name.startswith("complex")
    floating = dtype_name.startswith(("float", "bfloat")) or dtype_name in ("half", "double")
    prefix = "tensor("
    indent = len(prefix)
    default_complex = "complex128" if default_dtype == "float64" else "complex64"
    suffixes = [] if device is None else [f"device='{device}'"]
    if a.size == 0:
        # Mirrors NumPy: (0,) is implied by "[]", any other empty shape is spelled out.
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        # With no values to hint at it, every non-default dtype (int64 included) is printed.
        if dtype_name != default_dtype:
            suffixes.append(f"dtype=ember.{dtype_name}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(a.shape)}")
        if dtype_name not in (default_dtype, default_complex, "int64", "bool"):
            suffixes.append(f"dtype=ember.{dtype_name}")
        summarize = a.size > PRINT_OPTS.threshold
        # Only the printed elements are converted (torch's edge items when summarizing): a large
        # tensor, or an expanded view of a few bytes, is never copied whole. The body reads the
        # values through tolist(), which gives the same Python floats for every float width.
        sample = _summarized(a) if summarize else a
        if complex_:
            sample = sample.astype(np.complex128)
        elif floating:
            sample = sample.astype(np.float64)  # exact for every float width ember stores
        fmt = _Formatters(sample, complex_, floating)
        body = _body(a, indent, summarize, fmt)
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)


def _default_dtype_name() -> str:
    # Looked up lazily through sys.modules so this module never imports the rest of ember.
    getter = getattr(sys.modules.get("ember"), "get_default_dtype", None)
    if getter is None:
        return "float32"
    try:
        return getter().name
    except Exception:  # ember only partly initialised: fall back to the documented default
        return "float32"


def tensor_repr(t: Any) -> str:
    r"""``repr(t)`` for an ember tensor; ``str(t)`` is the same string, as in torch.

    Reads ``t._data`` (ndarray), ``t.dtype.name``, ``t.requires_grad`` and ``t.grad_fn``.
    """
    grad_fn = getattr(t, "grad_fn", None)
    data, device = t._data, None
    if type(data) is not np.ndarray:  # a device tensor: printed from a host copy, as torch's
        dev = t.device
        devices = sys.modules["ember.devices"]
        default = devices.default[0]
        backend = sys.modules["ember.backend"]
        # torch names the device unless it is the default one: for "cuda" without an index,
        # the current GPU
        if default is None or default.type != dev.type or dev.index != (
                default.index if default.index is not None
                else backend.backend_of(data).xp.cuda.get_device_id()):
            device = str(dev)
        # only the distinct memory crosses to the host: an expanded (stride-0) axis is read
        # once and broadcast again there, so a huge expand() never materialises
        key = tuple(0 if st == 0 and n > 1 else slice(None)
                    for st, n in zip(data.strides, data.shape))
        with backend.on_device(data):
            host = devices.move(data[key], *devices.CPU_PLACE)
        if any(k == 0 for k in key):
            host = np.broadcast_to(host.reshape([1 if k == 0 else n for k, n in
                                                 zip(key, data.shape)]), data.shape)
        data = host
    return format_tensor(
        data,
        t.dtype.name,
        requires_grad=bool(getattr(t, "requires_grad", False)),
        grad_fn_name=None if grad_fn is None else type(grad_fn).__name__,
        default_dtype=_default_dtype_name(),
        device=device,
    )
