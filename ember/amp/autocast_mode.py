"""``torch.autocast`` on the CPU and on CUDA: the ops torch's autocast lists of a device run in
lower precision (bfloat16 or float16), a second list runs in float32, a third at the widest input
type; every other op runs as written. Each device has its own lists (torch's
``aten/src/ATen/autocast_mode.h``), its own switch and dtype: a CUDA region casts the ops on CUDA
tensors only, a CPU region those on CPU tensors only. Without CUDA (no CuPy, no device),
``autocast("cuda")`` warns and disables itself as torch's CPU build does.

torch casts in its dispatcher. ember has none, so the first enabled autocast wraps the listed
functions where programs reach them (``ember.X``, ``ember.nn.functional.X``, ``ember.linalg.X``,
``Tensor.X``, ``@``); nn modules call ``F.X`` through the module and are covered. A wrapper only
reads a flag while no autocast is active, and nothing is wrapped before the first one. As in torch,
an op's own inner ops are not cast again (``cross_entropy`` runs its ``log_softmax`` in float32),
casts are recorded (``ToCopyBackward0``), so gradients flow back in the input's dtype, and a leaf
that requires grad is cast once per outermost region (``cache_enabled``). The state is per thread,
as torch's: a region in one thread does not cast another thread's ops.
"""
from __future__ import annotations

import functools
import importlib
import threading
import warnings
from typing import Any, Callable

import numpy as _np

from .. import dtypes as _dt
from ..backend import backend_of as _backend_of
from ..tensor import Tensor

__all__ = ["autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]

# torch's CPU autocast lists (aten/src/ATen/autocast_mode.cpp), by where ember has each op
_LOWER = ("matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm", "einsum", "linear", "conv1d",
          "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
          "conv_tbc", "prelu", "scaled_dot_product_attention", "vecdot", "__matmul__",
          "__rmatmul__")
_FP32 = ("avg_pool3d", "binary_cross_entropy", "grid_sample", "polar", "prod", "quantile",
         "nanquantile", "stft", "cdist", "trace", "view_as_complex", "cholesky",
         "cholesky_inverse", "cholesky_solve", "inverse", "lu_solve", "orgqr", "ormqr", "pinverse",
         "max_pool3d", "max_unpool2d", "max_unpool3d", "adaptive_avg_pool3d", "mse_loss",
         "cosine_embedding_loss", "nll_loss", "hinge_embedding_loss", "poisson_nll_loss",
         "smooth_l1_loss", "cross_entropy", "l1_loss", "huber_loss", "margin_ranking_loss",
         "soft_margin_loss", "triplet_margin_loss", "multi_margin_loss", "ctc_loss", "kl_div",
         "multilabel_margin_loss", "binary_cross_entropy_with_logits",
         "multilabel_soft_margin_loss",
         "gaussian_nll_loss", "triplet_margin_with_distance_loss")
# in torch.linalg and torch.fft, the decompositions, solvers and transforms run in float32
_FP32_IN = {
    "ember.linalg": ("cholesky", "cholesky_ex", "svd", "svdvals", "eig", "eigh", "eigvals",
                     "eigvalsh", "inv", "inv_ex", "householder_product", "tensorinv",
                     "tensorsolve", "qr", "solve", "lstsq"),
    "ember.fft": ("fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2",
                  "irfft2", "rfftn", "irfftn", "hfft", "ihfft"),
    "ember": ("qr", "svd", "triangular_solve", "geqrf"),
    "ember.Tensor": ("qr", "svd", "triangular_solve", "geqrf"),
}
_PROMOTE = ("cat", "stack", "index_copy")
_MODULES = ("ember", "ember.nn.functional", "ember.linalg", "ember.fft", "ember.special")
# padding's reflect/replicate modes are reflection_pad*/replication_pad* in torch's list
_FP32_PAD_MODES = ("reflect", "replicate")

# torch's CUDA autocast lists (aten/src/ATen/autocast_mode.h, torch 2.13), by where ember has each
# op. ``fp32_opt`` is torch's fp32_set_opt_dtype (and norm's fp32_append_dtype): float32 unless the
# call passes ``dtype=``, and only when the first argument is eligible.
_CUDA_LOWER = ("conv1d", "conv2d", "conv3d", "conv_tbc", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "prelu", "addmm", "addmv", "addr", "matmul", "einsum", "mm",
               "mv", "vecdot", "linear", "addbmm", "baddbmm", "bmm", "chain_matmul", "multi_dot",
               "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
               "scaled_dot_product_attention", "__matmul__", "__rmatmul__")
_CUDA_FP32 = ("acos", "arccos", "asin", "arcsin", "cosh", "erfinv", "exp", "expm1", "log",
              "log10", "log2", "log1p", "reciprocal", "rsqrt", "sinh", "tan", "pow", "__pow__",
              "__rpow__", "__rtruediv__", "__rdiv__", "softplus", "layer_norm", "rms_norm",
              "group_norm", "frobenius_norm", "nuclear_norm", "cosine_similarity",
              "poisson_nll_loss", "cosine_embedding_loss", "nll_loss", "hinge_embedding_loss",
              "kl_div", "l1_loss", "smooth_l1_loss", "huber_loss", "mse_loss",
              "margin_ranking_loss", "multilabel_margin_loss", "soft_margin_loss",
              "triplet_margin_loss", "multi_margin_loss", "binary_cross_entropy_with_logits",
              "dist", "pdist", "cdist", "renorm", "logsumexp",
              # torch composes these of listed ops (log_softmax + nll_loss, norm): float32 there
              "cross_entropy", "normalize")
_CUDA_FP32_OPT = ("prod", "softmax", "log_softmax", "cumprod", "cumsum", "sum", "norm",
                  "vector_norm", "matrix_norm")
_CUDA_PROMOTE = ("addcdiv", "addcmul", "atan2", "arctan2", "bilinear", "cross", "dot", "vdot",
                 "grid_sample", "index_put", "tensordot", "scatter_add")
# ember's modules where a name is a different op than torch's list means
_CUDA_NOT_IN = {"ember.linalg": ("cross",)}
# upsample_* are float32; interpolate's "area" mode is adaptive_avg_pool (not listed)
_CUDA_INTERP = ("interpolate", "upsample", "upsample_nearest", "upsample_bilinear")
_BCE_BANNED = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using "
    "torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")
_DEVICE_TYPES = ("cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, xla, "
                 "lazy, vulkan, mps, meta, hpu, mtia, privateuseone")


def _bfloat16() -> Any:
    return getattr(_dt, "bfloat16", None)


class _State(threading.local):
    """Per thread, as torch's autocast state."""

    def __init__(self) -> None:
        self.enabled = False        # CPU autocast is on
        self.dtype: Any = _bfloat16()  # its lower-precision dtype (set_autocast_dtype)
        self.cuda_enabled = False   # CUDA autocast is on (only ever with CUDA available)
        self.cuda_dtype: Any = _dt.float16
        self.active = False         # either is on: the wrappers' one check
        self.inside = False         # a listed op is running: its inner ops are not cast again
        self.depth = 0              # nesting of enabled regions, for the cast cache
        self.cache: dict = {}       # id(leaf) -> (leaf, version, dtype, cast), per region
        self.cache_enabled = True


_state = _State()
_installed: set = set()  # the devices whose lists are wrapped
_NDARRAY = _np.ndarray


def _cuda_available() -> bool:
    from .. import cuda

    return cuda.is_available()


def _kind(t: Tensor) -> str:
    d = t._data
    return "cpu" if type(d) is _NDARRAY else _backend_of(d).device_type


def _op_kind(args: tuple, kwargs: dict) -> str:
    """The autocast an op's call meets: CUDA's when any of its tensors is on CUDA (torch's
    dispatch key), else the CPU's."""
    for x in (args, kwargs.values()):
        for v in x:
            if isinstance(v, Tensor):
                if type(v._data) is not _NDARRAY:
                    return _kind(v)
            elif isinstance(v, (list, tuple)):
                for w in v:
                    if isinstance(w, Tensor) and type(w._data) is not _NDARRAY:
                        return _kind(w)
    return "cpu"


def _refresh_active(st: _State) -> None:
    st.active = bool(st.enabled or st.cuda_enabled)


def _default_dtype(device_type: str) -> Any:
    # torch's defaults: bfloat16 on the CPU (or what set_autocast_dtype set), float16 on CUDA
    if device_type == "cpu":
        bf16 = _state.dtype
        if bf16 is None:
            raise NotImplementedError(
                "autocast('cpu') casts to bfloat16 by default, which this ember does not have "
                "yet: pass dtype=ember.float16")
        return bf16
    if device_type == "cuda":
        return _state.cuda_dtype
    return _dt.float16


def _eligible(t: Any, kind: str = "cpu") -> bool:
    # torch casts floating tensors other than float64, on the region's device
    return (isinstance(t, Tensor) and t.dtype.is_floating_point and t.dtype is not _dt.float64
            and (type(t._data) is _NDARRAY) is (kind == "cpu"))


def _cast_one(t: Any, dtype: Any, kind: str = "cpu") -> Any:
    if not _eligible(t, kind) or t.dtype is dtype:
        return t
    if t.requires_grad and t.grad_fn is None and _state.cache_enabled and _state.depth:
        hit = _state.cache.get(id(t))
        if hit is not None and hit[0] is t and hit[1] == t._version and hit[2] is dtype:
            return hit[3]
        out = t.to(dtype)
        _state.cache[id(t)] = (t, t._version, dtype, out)
        return out
    return t.to(dtype)


def _cast_tree(x: Any, dtype: Any, kind: str = "cpu") -> Any:
    if isinstance(x, Tensor):
        return _cast_one(x, dtype, kind)
    if isinstance(x, (list, tuple)):
        return type(x)(_cast_tree(v, dtype, kind) for v in x)
    return x


def _promote_cuda(args: tuple, kwargs: dict, lower: Any) -> Any:
    """torch's ``prioritize``: float32 wins over the lower dtype; float64 is ignored."""
    current = lower
    found: list = []

    def walk(x: Any) -> None:
        if isinstance(x, Tensor):
            found.append(x)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(args)
    walk(tuple(kwargs.values()))
    for t in found:
        if not _eligible(t, "cuda"):
            continue
        nxt = t.dtype
        if current is _dt.float32 or nxt is _dt.float32:
            current = _dt.float32
        elif not (current is lower and nxt is lower):
            raise RuntimeError("Unexpected floating ScalarType in at::autocast::prioritize")
    return current


def _widest(args: tuple, kwargs: dict) -> Any:
    found = []

    def walk(x: Any) -> None:
        if isinstance(x, Tensor):
            if x.dtype.is_floating_point:
                found.append(x.dtype)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(args)
    walk(tuple(kwargs.values()))
    widest = None
    for d in found:
        widest = d if widest is None else _dt.promote_types(widest, d)
    return widest


def _wrap(fn: Callable, policy: str | None, name: str,
          cuda_policy: str | None = None) -> Callable:
    """``fn`` under the CPU list's ``policy`` and the CUDA list's ``cuda_policy`` (None: not
    listed there, run as written)."""
    @functools.wraps(fn)
    def autocast_wrapper(*args: Any, **kwargs: Any) -> Any:
        st = _state
        if not st.active or st.inside:
            return fn(*args, **kwargs)
        if _op_kind(args, kwargs) != "cpu":  # CUDA's lists, or as written outside its region
            if cuda_policy is None or not st.cuda_enabled:
                return fn(*args, **kwargs)
            return _cuda_call(fn, cuda_policy, args, kwargs)
        if policy is None or not st.enabled:
            return fn(*args, **kwargs)
        if policy == "lower":
            dtype = st.dtype
        elif policy == "fp32" or (policy == "pad" and kwargs.get(
                "mode", args[2] if len(args) > 2 else "constant") in _FP32_PAD_MODES):
            dtype = _dt.float32
        elif policy == "promote":
            dtype = _widest(args, kwargs)
        else:
            dtype = None
        if dtype is not None:
            args, kwargs = _cast_tree(args, dtype), {k: _cast_tree(v, dtype)
                                                     for k, v in kwargs.items()}
        st.inside = True
        try:
            return fn(*args, **kwargs)
        finally:
            st.inside = False

    autocast_wrapper._autocast_original = fn  # type: ignore[attr-defined]
    return autocast_wrapper


def _cuda_call(fn: Callable, policy: str, args: tuple, kwargs: dict) -> Any:
    """A listed op on CUDA tensors inside a CUDA region: torch's CUDA policies."""
    st = _state
    dtype = None
    if policy == "lower":
        dtype = st.cuda_dtype
    elif policy == "fp32":
        dtype = _dt.float32
    elif policy == "fp32_opt":
        first = args[0] if args else next(iter(kwargs.values()), None)
        if kwargs.get("dtype") is None and _eligible(first, "cuda"):
            st.inside = True
            try:
                return fn(_cast_one(first, _dt.float32, "cuda"), *args[1:], **kwargs) if args \
                    else fn(**{k: (_cast_one(v, _dt.float32, "cuda") if v is first else v)
                               for k, v in kwargs.items()})
            finally:
                st.inside = False
    elif policy == "promote":
        dtype = _promote_cuda(args, kwargs, st.cuda_dtype)
    elif policy == "interp":
        mode = kwargs.get("mode", args[3] if len(args) > 3 else "nearest")
        dtype = None if mode == "area" else _dt.float32
    elif policy == "banned":
        raise RuntimeError(_BCE_BANNED)
    if dtype is not None:
        args = _cast_tree(args, dtype, "cuda")
        kwargs = {k: _cast_tree(v, dtype, "cuda") for k, v in kwargs.items()}
    st.inside = True
    try:
        return fn(*args, **kwargs)
    finally:
        st.inside = False


def _cuda_policy(module: str, name: str) -> str | None:
    if name in _CUDA_NOT_IN.get(module, ()):
        return None
    if name in _CUDA_LOWER:
        return "lower"
    if name in _CUDA_FP32:
        return "fp32"
    if name in _CUDA_FP32_OPT:
        return "fp32_opt"
    if name in _CUDA_PROMOTE:
        return "promote"
    if module == "ember.nn.functional":
        if name in _CUDA_INTERP:
            return "interp"
        if name == "binary_cross_entropy":
            return "banned"
    return None


def _policy(module: str, name: str) -> str | None:
    if name in _LOWER:
        return "lower"
    if name in _FP32 and module not in ("ember.linalg", "ember.fft") or name in _FP32_IN.get(
            module, ()):
        return "fp32"
    if name in _PROMOTE:
        return "promote"
    if name == "pad" and module == "ember.nn.functional":
        return "pad"
    return None


def _install(kind: str = "cpu") -> None:
    """Wraps the ops ``kind``'s lists name, once, where programs reach them (a CPU-only program
    never wraps the names only CUDA's lists have). Each wrapper knows both lists."""
    if kind in _installed:
        return
    _installed.add(kind)
    targets: list = [(Tensor, "ember.Tensor")]
    for mod in _MODULES:
        try:
            targets.append((importlib.import_module(mod), mod))
        except ImportError:  # a namespace ember does not have yet
            pass
    for owner, mod in targets:
        items = list(vars(owner).items())
        wrapped: dict = {}  # id(function) -> its wrapper
        for name, value in items:
            if not callable(value) or isinstance(value, type) or hasattr(
                    value, "_autocast_original"):
                continue
            policy, cuda_policy = _policy(mod, name), _cuda_policy(mod, name)
            if (policy if "cpu" in _installed else None) is not None or (
                    cuda_policy if "cuda" in _installed else None) is not None:
                if id(value) not in wrapped:
                    wrapped[id(value)] = _wrap(value, policy, name, cuda_policy)
                setattr(owner, name, wrapped[id(value)])
        for name, value in items:  # aliases (arcsin of asin) stay one function, as before
            if id(value) in wrapped and vars(owner)[name] is value:
                setattr(owner, name, wrapped[id(value)])


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast has rules for ``device_type`` (``"cpu"`` and ``"cuda"``, as torch)."""
    return device_type in ("cpu", "cuda", "xpu", "mps", "hpu", "xla", "mtia", "maia")


class autocast:  # noqa: N801 - torch's name
    """Runs the ops of a region in mixed precision (``torch.autocast``).

    Args:
        device_type: ``"cpu"`` (bfloat16 or float16) or ``"cuda"`` (float16 or bfloat16; without
            CUDA it disables itself with torch's warning).
        dtype: the lower precision; default bfloat16 on the CPU, float16 on CUDA.
        enabled: False makes the region run as written (and can switch autocast off inside one).
        cache_enabled: cast each leaf that requires grad once per outermost region.
    """

    def __init__(self, device_type: str, dtype: Any = None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        kind = device_type.split(":")[0]
        if kind not in _DEVICE_TYPES.split(", "):
            raise RuntimeError(f"Expected one of {_DEVICE_TYPES} device type at start of device "
                               f"string: {device_type}")
        self.device = device_type
        self._enabled = enabled
        self.fast_dtype = dtype if dtype is not None else (
            _default_dtype(device_type) if enabled else _dt.float16)
        self._cache_enabled = (_state.cache_enabled if cache_enabled is None else cache_enabled)
        self._cuda = device_type == "cuda" and _cuda_available()
        if self._cuda:
            if enabled and self.fast_dtype is _bfloat16():
                from .. import cuda

                if not cuda.is_bf16_supported():
                    raise RuntimeError("Current CUDA Device does not support bfloat16. Please "
                                       "switch dtype to float16.")
        elif device_type == "cuda" and enabled:
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.",
                          UserWarning, stacklevel=2)
            self._enabled = False
        elif device_type == "cpu" and enabled:
            supported = [d for d in (_bfloat16(), _dt.float16) if d is not None]
            if self.fast_dtype not in supported:
                warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                              "autocast.\nCPU Autocast only supports dtypes of "
                              "torch.bfloat16, torch.float16 currently.",
                              UserWarning, stacklevel=2)
                self._enabled = False
        elif enabled and device_type != "cpu":
            self._enabled = False  # no such device in ember: the region runs as written

    def __enter__(self) -> autocast:
        st = _state
        if self._cuda:
            self._prev = (st.cuda_enabled, st.cuda_dtype, st.cache_enabled)
            if self._enabled:
                _install("cuda")
            st.cuda_enabled = self._enabled
            st.cuda_dtype = self.fast_dtype  # as torch, also when disabled
            st.cache_enabled = self._cache_enabled
            st.depth += 1
            _refresh_active(st)
            return self
        self._prev = (st.enabled, st.dtype, st.cache_enabled)  # restored on exit, as torch
        if self.device != "cpu":
            return self
        if self._enabled:
            _install()
        st.enabled = self._enabled
        if self._enabled:
            st.dtype = self.fast_dtype
        st.cache_enabled = self._cache_enabled
        st.depth += 1
        _refresh_active(st)
        return self

    def __exit__(self, *exc: object) -> None:
        st = _state
        if self._cuda:
            st.cuda_enabled, st.cuda_dtype, st.cache_enabled = self._prev
        elif self.device != "cpu":
            return
        else:
            st.enabled, st.dtype, st.cache_enabled = self._prev
        _refresh_active(st)
        st.depth -= 1
        if st.depth == 0:
            st.cache = {}

    def __call__(self, func: Callable) -> Callable:
        """Used as a decorator: the function runs inside this region."""
        @functools.wraps(func)
        def decorate_autocast(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return decorate_autocast


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` (no argument: CUDA, as torch)."""
    if device_type == "cpu":
        return _state.enabled
    return (device_type is None or device_type == "cuda") and _state.cuda_enabled


def is_autocast_cpu_enabled() -> bool:
    """Whether CPU autocast is on."""
    return _state.enabled


def get_autocast_dtype(device_type: str) -> Any:
    """The lower-precision dtype of ``device_type``'s autocast."""
    if device_type == "cpu":
        return _state.dtype if _state.dtype is not None else _dt.float16
    if device_type == "cuda":
        return _state.cuda_dtype
    return _dt.float16


def _check_device(device_type: str) -> None:
    if device_type.split(":")[0] not in _DEVICE_TYPES.split(", "):
        raise RuntimeError(f"Expected one of {_DEVICE_TYPES} device type at start of device "
                           f"string: {device_type}")


def set_autocast_enabled(device_type: Any, enabled: bool | None = None) -> None:
    """Switches ``device_type``'s autocast on or off outside a ``with`` block (one argument:
    CUDA's; without CUDA, CUDA's stays off)."""
    if enabled is None:  # torch's older form, set_autocast_enabled(enabled), is CUDA's
        device_type, enabled = "cuda", device_type
        if not _cuda_available():
            return
    _check_device(device_type)
    if device_type == "cpu":
        if enabled:
            _install()
        _state.enabled = bool(enabled)
    elif device_type == "cuda" and _cuda_available():
        if enabled:
            _install("cuda")
        _state.cuda_enabled = bool(enabled)
    _refresh_active(_state)


def set_autocast_dtype(device_type: str, dtype: Any) -> None:
    """Sets the lower-precision dtype ``device_type``'s autocast uses by default."""
    _check_device(device_type)
    if device_type == "cpu":
        _state.dtype = dtype
    elif device_type == "cuda" and _cuda_available():
        _state.cuda_dtype = dtype


def is_autocast_cache_enabled() -> bool:
    """Whether autocast caches the casts of leaves that require grad."""
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    """Turns autocast's cast cache on or off."""
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Forgets the cached casts (autocast does it when its outermost region ends)."""
    _state.cache = {}


def get_autocast_cpu_dtype() -> Any:
    """The lower-precision dtype of CPU autocast."""
    return get_autocast_dtype("cpu")


def custom_fwd(fwd: Callable | None = None, *, device_type: str,
               cast_inputs: Any = None) -> Callable:
    """For a custom ``Function.forward``: with ``cast_inputs``, inside an autocast region its
    floating inputs are cast to that dtype and it runs with autocast off."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args: Any, **kwargs: Any) -> Any:
        ctx = args[0]
        ctx._fwd_used_autocast = is_autocast_enabled(device_type)
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None or not ctx._fwd_used_autocast:
            return fwd(*args, **kwargs)
        with autocast(device_type=device_type, enabled=False):
            kind = device_type.split(":")[0]
            return fwd(*_cast_tree(args, cast_inputs, kind),
                       **{k: _cast_tree(v, cast_inputs, kind) for k, v in kwargs.items()})

    return decorate_fwd


def custom_bwd(bwd: Callable | None = None, *, device_type: str) -> Callable:
    """For a custom ``Function.backward``: runs with the autocast state its forward had."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args: Any, **kwargs: Any) -> Any:
        ctx = args[0]
        with autocast(device_type=device_type,
                      enabled=getattr(ctx, "_fwd_used_autocast", False),
                      dtype=getattr(ctx, "_dtype", None)):
            return bwd(*args, **kwargs)

    return decorate_bwd
