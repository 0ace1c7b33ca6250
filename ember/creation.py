"""Tensor creation: ``tensor``, ``zeros``, ``arange``, ``eye``, ... (random ones live in
``ember.random``). Every function here makes a new leaf tensor with no autograd history."""
from __future__ import annotations

import contextlib as _contextlib
import math
import warnings
from typing import Any

from . import dtypes as _dt
from .backend import quiet as _quiet
from .backend import NUMPY, Array, backend_of, get_array_module, is_array, limits as _limits
from .graph import grad_mode
from .tensor import Tensor, _factory_result, _shape_arg
from . import devices as _devices

_SEQ = (list, tuple, range)
_XP = NUMPY.xp  # makes the arrays of the factories: the cpu's, the one device today


# -- shared argument handling ---------------------------------------------------------------------


def _check_device(device: Any) -> tuple:
    """Where a factory's result goes: ``(backend, index)`` of ``device=`` or the default
    device (raises torch's error for a device ember cannot reach)."""
    return _devices.place(device)


def _size_args(fname: str, args: tuple, size: Any) -> tuple:
    """The ``f(2, 3)`` / ``f((2, 3))`` / ``f(size=(2, 3))`` forms of a size argument."""
    if size is not None:
        if args:
            raise TypeError(f"{fname}() got multiple values for argument 'size'")
        args = (size,)
    if not args:
        raise TypeError(f'{fname}() missing 1 required positional arguments: "size"')
    if len(args) == 1 and isinstance(args[0], (bool, float, type(None))):
        raise TypeError(f"{fname}(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(args[0]).__name__}")
    return _check_int64(fname, _shape_arg(args))


def _check_int64(fname: str, shape: tuple) -> tuple:
    """torch parses sizes as C++ ``int64_t``: a larger Python int is a TypeError."""
    for i, s in enumerate(shape):
        if s > _limits.INT64_MAX:
            raise TypeError(f"{fname}(): argument 'size' failed to unpack the object at pos "
                            f'{i + 1} with error "Overflow when unpacking long long"')
    return shape


def _allocation(shape: tuple, d: _dt.dtype, *, resize: bool = False,
                like: Tensor | None = None) -> _limits.allocation:
    """torch's checks of a new tensor's sizes (its RuntimeErrors, not NumPy's ValueError), and a
    context that turns a failed allocation into torch's error.

    Args:
        resize: torch makes the tensor by resizing an empty one (``eye``, ``arange``, ``out=``),
            which checks the element count first.
        like: the input of a ``*_like`` factory; torch gives the new tensor dense strides in the
            input's memory order, and names them in its overflow error.
    """
    strides = None
    if like is not None:
        a = like._data
        strides = _limits.dense_strides(a.shape, [s // a.itemsize for s in a.strides])
    return _limits.allocation(_limits.check_new(shape, d.itemsize, resize=resize, strides=strides))


def _finish(data: Array, requires_grad: bool = False, out: Tensor | None = None,
            fname: str = "", where: tuple = _devices.CPU_PLACE) -> Tensor:
    """Wraps a fresh (host) array as a new leaf on the device ``where``, or writes it into
    ``out``."""
    if out is not None:
        return _write_out(out, data, fname)
    if where is not _devices.CPU_PLACE:
        data = _devices.move(data, *where)
    return _factory_result(data, requires_grad)


def _write_out(out: Tensor, data: Array, fname: str) -> Tensor:
    """``out=``: torch resizes ``out`` to the result and writes into it."""
    if grad_mode.state.enabled and out.requires_grad:
        raise RuntimeError(
            f"aten::{fname}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )
    data = _devices.move(data, backend_of(out._data), _index(out._data))
    data = data.astype(out._data.dtype, copy=False)
    if out._data.shape == data.shape:
        out._data[...] = data
    else:
        out._data = data
    out._version_counter[0] += 1
    return out


def _index(array: Array) -> int | None:
    b = backend_of(array)
    return None if b is NUMPY else b.device_index(array)


def _dtype_or_default(dtype: Any) -> _dt.dtype:
    return _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()


def _number(x: Any, fname: str, arg: str, pos: int) -> Any:
    """A Python number from a number, numpy scalar or one-element 0-d tensor."""
    if isinstance(x, Tensor):
        if x.ndim != 0:
            raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Number, not "
                            "Tensor")
        return x.item()
    if isinstance(x, _dt.GENERIC_SCALAR):
        return x.item()
    if not isinstance(x, (int, float)):
        raise TypeError(f"{fname}(): argument '{arg}' (position {pos}) must be Number, not "
                        f"{type(x).__name__}")
    return x


# -- tensor() and friends -------------------------------------------------------------------------


def _leaf_dtype(x: Any) -> tuple[_dt.dtype, Any]:
    """torch's inferred dtype and the Python value of one scalar item of nested data."""
    if (isinstance(x, _dt.GENERIC_SCALAR) or is_array(x)) and x.ndim == 0 \
            and x.dtype.kind in "biufc":
        return _dt.from_numpy_dtype(x.dtype), x.item()  # before float: np.float64 subclasses it
    if isinstance(x, bool):
        return _dt.bool, bool(x)
    if isinstance(x, int):
        return _dt.int64, int(x)
    if isinstance(x, float):
        return _dt.get_default_dtype(), float(x)
    if isinstance(x, complex):
        return _dt.get_default_dtype().to_complex(), complex(x)
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return x.dtype, x.item()
    if isinstance(x, (str, bytes, _dt.GENERIC_SCALAR)):
        raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")


def _is_seq(x: Any) -> bool:
    return isinstance(x, _SEQ) or (is_array(x) and x.ndim > 0)


def _walk(data: Any, dim: int, shape: list, flat: list, dtypes: set) -> None:
    """Checks ``data`` against ``shape`` (torch's ragged-list errors) and flattens it."""
    if dim == len(shape):
        if _is_seq(data):
            raise TypeError(f"'{type(data).__name__}' object cannot be interpreted as an integer")
        d, v = _leaf_dtype(data)
        dtypes.add(d)
        flat.append(v)
        return
    if not _is_seq(data):
        raise TypeError("not a sequence")
    if len(data) != shape[dim]:
        raise ValueError(
            f"expected sequence of length {shape[dim]} at dim {dim} (got {len(data)})"
        )
    if is_array(data) and list(data.shape) == shape[dim:]:
        _check_numpy(data)
        dtypes.add(_dt.from_numpy_dtype(data.dtype))
        flat.extend(data.ravel().tolist())
        return
    for item in data:  # (an array of the wrong shape is walked row by row for torch's error)
        _walk(item, dim + 1, shape, flat, dtypes)


_PY_SCALARS = {bool, int, float}
_LIST_TYPES = {list, tuple}
_KIND_DTYPE = {"b": _dt.bool, "i": _dt.int64}


def _plain(data: Any) -> bool:
    """True for nested lists/tuples holding only Python bools, ints and floats, which numpy can
    convert in one call with the same inference as torch (checked per row at C speed)."""
    types = set(map(type, data))
    if types <= _PY_SCALARS:
        return True
    return types <= _LIST_TYPES and all(map(_plain, data))


def _from_nested(data: Any, dtype: _dt.dtype | None) -> Array:
    """Builds an array from nested Python sequences of numbers, with torch's dtype inference."""
    arr = None
    if type(data) in _PY_SCALARS or (type(data) in _LIST_TYPES and _plain(data)):
        try:
            arr = _XP.array(data)
        except (ValueError, OverflowError):
            pass  # ragged, or ints beyond int64: the walk below raises torch's error
    if arr is not None and arr.dtype.kind in "bif":
        # Python ints are int64 and Python floats doubles, narrowed to the default dtype below
        inferred = _KIND_DTYPE.get(arr.dtype.kind) or _dt.get_default_dtype()
    else:
        arr, inferred = _walk_nested(data)
    target = dtype or inferred
    if target.np == arr.dtype:
        return arr
    if target._category == 1 and arr.size and arr.dtype.kind != "b":
        xp = get_array_module(arr)
        info = xp.iinfo(target.np)
        if not (xp.all(xp.isfinite(arr)) and arr.min() >= info.min and arr.max() <= info.max):
            raise RuntimeError(
                f"value cannot be converted to type {target.name} without overflow"
            )
    return arr.astype(target.np)


def _walk_nested(data: Any) -> tuple[Array, _dt.dtype]:
    """The general path: validates the nest item by item (tensors, numpy scalars and arrays may
    sit inside) and returns it as a full-precision array plus torch's inferred dtype."""
    shape = []
    probe = data
    while _is_seq(probe):
        shape.append(len(probe))
        if len(probe) == 0:
            break
        probe = probe[0]
    flat: list = []
    dtypes: set = set()
    if math.prod(shape) != 0:  # torch never looks inside an empty nest
        _walk(data, 0, shape, flat, dtypes)
    inferred = None
    for d in dtypes:
        inferred = d if inferred is None else _dt.promote_types(inferred, d)
    inferred = inferred or _dt.get_default_dtype()
    wide = _dt.float64 if inferred.is_floating_point else (_dt.int64 if inferred._category else
                                                           _dt.bool)
    wide = _dt.complex128 if inferred.is_complex else wide
    try:
        return _XP.array(flat, dtype=wide.np).reshape(shape), inferred
    except OverflowError:
        raise ValueError("Overflow when unpacking long long") from None


def _check_numpy(arr: Array) -> None:
    if any(s < 0 for s in arr.strides):
        raise ValueError(
            "At least one stride in the given numpy array is negative, and tensors with negative "
            "strides are not currently supported. (You can probably work around this by making a "
            "copy of your array  with array.copy().) "
        )
    if not arr.dtype.isnative:
        raise ValueError(
            "given numpy array has byte order different from the native byte order. Conversion "
            "between byte orders is currently not supported."
        )
    _dt.from_numpy_dtype(arr.dtype)  # TypeError for dtypes ember lacks


def _to_array(data: Any, dtype: _dt.dtype | None) -> Array:
    """A fresh array holding ``data`` (a Tensor, ndarray, scalar or nested sequence)."""
    if isinstance(data, Tensor) or is_array(data):
        arr = data._data if isinstance(data, Tensor) else data
        if arr is data:
            _check_numpy(arr)
        # float -> int casts wrap like torch's
        with _quiet(get_array_module(arr)):
            return arr.astype(dtype.np if dtype else arr.dtype, copy=True)
    if hasattr(data, "__array__") and not isinstance(data, _dt.GENERIC_SCALAR):
        return _to_array(_XP.asarray(data), dtype)
    return _from_nested(data, dtype)


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """Constructs a tensor with no autograd history by copying ``data``."""
    where = _check_device(device)
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use sourceTensor.detach()."
            "clone() or sourceTensor.detach().clone().requires_grad_(True), rather than "
            "ember.tensor(sourceTensor).",
            UserWarning,
            stacklevel=2,
        )
    d = _dt.to_dtype(dtype) if dtype is not None else None
    if isinstance(data, Tensor) and type(data._data) is not NUMPY.array_type:
        return data.detach().to(_devices.device_of(data._data) if device is None else device,
                                d or data.dtype, copy=True).requires_grad_(requires_grad)
    return _finish(_to_array(data, d), requires_grad, where=where)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Converts ``data`` to a tensor, sharing memory with a tensor or NumPy array when the dtype
    already matches (and keeping a tensor's autograd history)."""
    where = _check_device(device)
    d = _dt.to_dtype(dtype) if dtype is not None else None
    if isinstance(data, Tensor):
        if device is not None:
            return data.to(device, d)
        return data if d is None or data.dtype is d else data.to(d)
    if is_array(data):
        if type(data) is NUMPY.array_type:
            _check_numpy(data)
        if d is None or data.dtype == d.np:
            return Tensor._make(_devices.move(data, *where))
    return _finish(_to_array(data, d), where=where)


def asarray(obj: Any, *, dtype: Any = None, device: Any = None, copy: bool | None = None,
            requires_grad: bool = False) -> Tensor:
    """Converts ``obj`` to a tensor, sharing memory unless ``copy`` or a dtype change needs one."""
    if copy:
        return tensor(obj.detach() if isinstance(obj, Tensor) else obj, dtype=dtype,
                      requires_grad=requires_grad)
    t = as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def from_numpy(ndarray: Array) -> Tensor:
    """Creates a tensor that shares memory with ``ndarray``."""
    if not isinstance(ndarray, NUMPY.array_type):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _check_numpy(ndarray)
    return Tensor._make(ndarray)


# -- filled tensors -------------------------------------------------------------------------------


def _filled(fname: str, args: tuple, size: Any, value: Any, dtype: Any, device: Any,
            requires_grad: bool, out: Tensor | None) -> Tensor:
    where = _check_device(device)
    shape = _size_args(fname, args, size)
    d = _dtype_or_default(dtype) if out is None or dtype is not None else out.dtype
    backend = where[0]
    if backend is not NUMPY:  # made on its GPU, not made on the host and copied
        with _allocation(shape, d, resize=out is not None), \
                backend.guard(where[1]) or _contextlib.nullcontext():
            xp = backend.xp
            data = xp.empty(shape, d.np) if value is None else xp.full(shape, value, d.np)
        return _finish(data, requires_grad, out, fname, where)
    with _allocation(shape, d, resize=out is not None):
        data = _XP.empty(shape, d.np) if value is None else _XP.full(shape, value, d.np)
    return _finish(data, requires_grad, out, fname, where)


def zeros(*args: Any, size: Any = None, out: Tensor | None = None, dtype: Any = None,
          layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given size."""
    try:
        return _filled("zeros", args, size, 0, dtype, device, requires_grad, out)
    except RuntimeError as e:
        # zeros checks the signs itself, with its own message
        if str(e).startswith("Trying to create tensor with negative dimension"):
            raise RuntimeError("zeros: Dimension size must be non-negative.") from None
        raise


def ones(*args: Any, size: Any = None, out: Tensor | None = None, dtype: Any = None,
         layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given size."""
    return _filled("ones", args, size, 1, dtype, device, requires_grad, out)


def empty(*args: Any, size: Any = None, out: Tensor | None = None, dtype: Any = None,
          layout: Any = None, device: Any = None, requires_grad: bool = False,
          pin_memory: bool = False, memory_format: Any = None) -> Tensor:
    """An uninitialised tensor of the given size."""
    return _filled("empty", args, size, None, dtype, device, requires_grad, out)


def _fill_array(shape: tuple, fill_value: Any, d: _dt.dtype, fname: str,
                resize: bool = False) -> Array:
    with _allocation(shape, d, resize=resize):
        if d._category == 1 and isinstance(fill_value, float) and not math.isfinite(fill_value):
            raise RuntimeError(f"value cannot be converted to type {d.name}_t without overflow")
        return _XP.full(shape, fill_value, d.np)


def full(size: Any, fill_value: Any, *, out: Tensor | None = None, dtype: Any = None,
         layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of the given size filled with ``fill_value``; the dtype follows the value
    (bool, int64 or the default float) unless given."""
    where = _check_device(device)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    shape = _check_int64("full", _shape_arg((size,)))
    value = _number(fill_value, "full", "fill_value", 2)
    # the dtype follows the fill value as for a wrapped Python scalar
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.scalar_dtype(value)
    data = _fill_array(shape, value, d, "full", resize=out is not None)
    return _finish(data, requires_grad, out, "full", where)


def _like(fname: str, input: Tensor, value: Any, dtype: Any, device: Any,
          requires_grad: bool) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    where = None if device is None else _devices.backend_for(device)
    d = _dt.to_dtype(dtype) if dtype is not None else input.dtype
    # numpy's *_like keep the input's memory layout, as torch's preserve_format does
    xp = get_array_module(input._data)
    with _allocation(input._data.shape, d, like=input):
        if value is None:
            data = xp.empty_like(input._data, dtype=d.np)
        else:
            if d._category == 1 and isinstance(value, float) and not math.isfinite(value):
                raise RuntimeError(f"value cannot be converted to type {d.name}_t without "
                                   "overflow")
            data = xp.full_like(input._data, value, dtype=d.np)
    return _finish(data, requires_grad, where=where or _devices.CPU_PLACE)


def zeros_like(input: Tensor, *, dtype: Any = None, layout: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """A tensor of zeros with the shape (and by default dtype) of ``input``."""
    return _like("zeros_like", input, 0, dtype, device, requires_grad)


def ones_like(input: Tensor, *, dtype: Any = None, layout: Any = None, device: Any = None,
              requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """A tensor of ones with the shape (and by default dtype) of ``input``."""
    return _like("ones_like", input, 1, dtype, device, requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, layout: Any = None, device: Any = None,
               requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """An uninitialised tensor with the shape (and by default dtype) of ``input``."""
    return _like("empty_like", input, None, dtype, device, requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None, layout: Any = None,
              device: Any = None, requires_grad: bool = False, memory_format: Any = None) -> Tensor:
    """A tensor shaped like ``input`` filled with ``fill_value`` (in input's dtype by default)."""
    value = _number(fill_value, "full_like", "fill_value", 2)
    return _like("full_like", input, value, dtype, device, requires_grad)


# -- ranges ---------------------------------------------------------------------------------------

_MISSING = object()


def arange(start: Any = _MISSING, end: Any = None, step: Any = 1, *, out: Tensor | None = None,
           dtype: Any = None, layout: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) spaced by ``step``: int64 unless any of them
    is a float (then the default dtype)."""
    where = _check_device(device)
    if start is _MISSING:
        if end is None:
            raise TypeError('arange() missing 1 required positional arguments: "end"')
        start = 0
    elif end is None:
        start, end = 0, _number(start, "arange", "end", 1)
    start = _number(start, "arange", "start", 1)
    end = _number(end, "arange", "end", 2)
    step = _number(step, "arange", "step", 3)
    if dtype is not None:
        d = _dt.to_dtype(dtype)
    elif any(isinstance(v, float) for v in (start, end, step)):
        d = _dt.get_default_dtype()
    else:
        d = _dt.int64
    if d is _dt.bool:
        raise NotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {_fmt(start)} -> {_fmt(end)}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if d is _dt.int64:
        # torch's int64 kernel truncates the bounds first and counts in exact integers
        xstart, xend, xstep = int(start), int(end), int(step)
        if xstep == 0:
            raise ValueError("step must be nonzero")
        sgn = (xstep > 0) - (xstep < 0)
        n = max((xend - xstart + xstep - sgn) // xstep, 0)
    else:
        n = math.ceil((end - start) / step)
    if n > 2**63:  # torch compares the size, as a double, with the largest int64
        raise RuntimeError("invalid size, possible overflow?")
    if n == 2**63:  # which passes 2**63 itself, then converts it to -2**63
        raise RuntimeError("IntArrayRef contains an int that cannot be represented as a SymInt: "
                           f"{-2**63}")
    # torch resizes its result to the size; the float64/int64 steps below are temporaries
    with _allocation((n,), d, resize=True):
        if d.is_floating_point:
            data = (start + step * _XP.arange(n, dtype=_dt.float64.np)).astype(d.np)
        else:
            # integer dtypes step by the truncated start and step, wrapping like torch's kernels
            data = (int(start) + int(step) * _XP.arange(n, dtype=_dt.int64.np)).astype(d.np)
    return _finish(data, requires_grad, out, "arange", where)


def _fmt(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _scalar_bound(x: Any, name: str, fname: str) -> Any:
    if isinstance(x, Tensor) and x.ndim != 0:
        raise RuntimeError(f"{fname} only supports 0-dimensional start and end tensors, but got "
                           f"{name} with {x.ndim} dimension(s).")
    return _number(x, fname, name, 1 if name == "start" else 2)


def _fma(a: float, b: Array, c: float) -> Array:
    """``a * b + c`` rounded once, as the fused multiply-add torch's compiled kernels use (numpy
    rounds the product first, which can flip an integer linspace value by one)."""
    p = a * b
    # Dekker's split gives the product's rounding error exactly: a * b == p + err
    ah = 134217729.0 * a
    ah = ah - (ah - a)
    al = a - ah
    bh = 134217729.0 * b
    bh = bh - (bh - b)
    bl = b - bh
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    s = p + c
    bb = s - p
    return s + (((p - (s - bb)) + (c - bb)) + err)


def _linspace_array(fname: str, start: Any, end: Any, steps: Any, d: _dt.dtype) -> Array:
    start = _scalar_bound(start, "start", fname)
    end = _scalar_bound(end, "end", fname)
    if isinstance(steps, Tensor):
        steps = steps.item()
    if not isinstance(steps, _dt.INTEGER_TYPES) or isinstance(steps, bool):
        raise TypeError(f"{fname}(): argument 'steps' (position 3) must be int, not "
                        f"{type(steps).__name__}")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    if d is _dt.bool:
        raise NotImplementedError(f"\"{fname}_cpu\" not implemented for 'Bool'")
    with _allocation((steps,), d):  # torch allocates the result; the float64 steps are ember's
        return _spaced(fname, start, end, steps, d)


def _spaced(fname: str, start: Any, end: Any, steps: int, d: _dt.dtype) -> Array:
    if steps <= 1:
        return _XP.full(steps, start, dtype=_dt.float64.np)
    if fname == "logspace":
        start, end = float(start), float(end)
        step = (end - start) / (steps - 1)
    elif d.is_floating_point:
        # the bounds and the step are held in the result dtype
        start, end = d.np.type(start), d.np.type(end)
        step = float((end - start) / d.np.type(steps - 1))
        start, end = float(start), float(end)
    else:
        # integer results: the bounds are converted to the integer dtype, the step is a double
        start, end = float(int(start)), float(int(end))
        step = (end - start) / (steps - 1)
    # torch's kernel fills the first half from start and the second half back from end
    i = _XP.arange(steps, dtype=_dt.float64.np)
    return _XP.where(i < steps // 2, _fma(step, i, start), _fma(-step, steps - 1 - i, end))


def linspace(start: Any, end: Any, steps: int, *, out: Tensor | None = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    where = _check_device(device)
    d = _dtype_or_default(dtype)
    data = _linspace_array("linspace", start, end, steps, d)
    with _limits.allocation(data.size * d.itemsize):
        data = data.astype(d.np)
    return _finish(data, requires_grad, out, "linspace", where)


def logspace(start: Any, end: Any, steps: int, base: float = 10.0, *, out: Tensor | None = None,
             dtype: Any = None, layout: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` values from ``base**start`` to ``base**end``, evenly spaced on a log scale."""
    where = _check_device(device)
    d = _dtype_or_default(dtype)
    exps = _linspace_array("logspace", start, end, steps, d)
    xp = get_array_module(exps)
    with _quiet(xp), _limits.allocation(exps.size * d.itemsize):
        data = xp.power(float(base), exps).astype(d.np)
    return _finish(data, requires_grad, out, "logspace", where)


def eye(n: int, m: int | None = None, *, out: Tensor | None = None, dtype: Any = None,
        layout: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A 2-D tensor with ones on the diagonal and zeros elsewhere."""
    where = _check_device(device)
    n = _eye_arg(n, "n", 1)
    m = n if m is None else _eye_arg(m, "m", 2)
    d = _dtype_or_default(dtype)
    with _allocation((n, m), d, resize=True):  # torch resizes an empty tensor to (n, m)
        data = _XP.eye(n, m, dtype=d.np)
    return _finish(data, requires_grad, out, "eye", where)


def _eye_arg(v: Any, name: str, pos: int) -> int:
    if isinstance(v, Tensor) and v.ndim == 0 and not v.is_floating_point():
        v = v.item()
    if not isinstance(v, _dt.INTEGER_TYPES) or isinstance(v, bool):
        raise TypeError(f"eye(): argument '{name}' (position {pos}) must be int, not "
                        f"{type(v).__name__}")
    if v < 0:
        raise RuntimeError(f"{name} must be greater or equal to 0, got {v}")
    return int(v)


__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "empty", "full",
           "zeros_like", "ones_like", "empty_like", "full_like", "arange", "linspace", "logspace",
           "eye"]


def _new_tensor(self: Tensor, data: Any, dtype: _dt.dtype | None = None, device: Any = None,
                requires_grad: bool = False) -> Tensor:
    """A new leaf from ``data``, in this tensor's dtype unless ``dtype`` is given."""
    return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad,
                  device=self.device if device is None else device)


def _new_filled(self: Tensor, size: tuple, value: Any, dtype: _dt.dtype | None,
                requires_grad: bool, device: Any = None) -> Tensor:
    """``new_zeros``/``new_ones``/``new_empty``/``new_full``: a new leaf of ``size`` in this
    tensor's dtype (unless ``dtype`` is given), with the factories' size checks."""
    fname = {None: "new_empty", 0: "new_zeros", 1: "new_ones"}.get(value, "new_full")
    size = _check_int64(fname, _shape_arg(size))
    d = dtype or self.dtype
    xp = get_array_module(self._data)
    with _allocation(size, d):
        data = xp.empty(size, d.np) if value is None else xp.full(size, value, d.np)
    if device is not None:
        data = _devices.move(data, *_devices.backend_for(device))
    return _factory_result(data, requires_grad)


# bound here: tensor.py sits below the factories (and below their size checks)
Tensor.new_tensor = _new_tensor
Tensor._new_filled = _new_filled
