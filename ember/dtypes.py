"""ember's dtypes and torch's type-promotion rules, in one place."""
from __future__ import annotations

import numpy as np


class dtype:
    """A tensor element type (``ember.float32``, ``ember.int64``, ...)."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_category")

    def __init__(self, name: str, np_dtype: type, category: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = category == 2
        self.is_signed = name not in ("bool", "uint8")
        self.itemsize = self.np.itemsize
        # 0 bool < 1 integer < 2 floating < 3 complex: torch promotes across categories, never
        # within one by value
        self._category = category

    @property
    def is_complex(self) -> bool:
        return self._category == 3

    def to_real(self) -> dtype:
        """The real dtype of a complex one (``complex64`` -> ``float32``); others unchanged."""
        return _FROM_NP[np.dtype(self.np.char.lower())] if self._category == 3 else self

    def to_complex(self) -> dtype:
        """The complex dtype of a floating one (``float64`` -> ``complex128``)."""
        if self._category == 3:
            return self
        return complex128 if self is float64 else complex64

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


bool = dtype("bool", np.bool_, 0)  # noqa: A001 - torch's public name
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
complex64 = dtype("complex64", np.complex64, 3)
complex128 = dtype("complex128", np.complex128, 3)

# bfloat16 (and float8, as storage) through ml_dtypes, NumPy's extension types that JAX uses.
# Their numpy dtypes have kind "V", so "is this floating?" asks is_float_array.
try:
    import ml_dtypes as _ml
except ImportError:  # pragma: no cover - a core dependency; without it these dtypes are absent
    _ml = None
if _ml is not None:
    bfloat16 = dtype("bfloat16", _ml.bfloat16, 2)
    float8_e4m3fn = dtype("float8_e4m3fn", _ml.float8_e4m3fn, 2)
    float8_e5m2 = dtype("float8_e5m2", _ml.float8_e5m2, 2)
    float8_e4m3fnuz = dtype("float8_e4m3fnuz", _ml.float8_e4m3fnuz, 2)
    float8_e5m2fnuz = dtype("float8_e5m2fnuz", _ml.float8_e5m2fnuz, 2)
    _EXTENSION = (bfloat16, float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz)
else:  # pragma: no cover
    _EXTENSION = ()
FLOAT8 = frozenset(d.name for d in _EXTENSION[1:])  # storage only: torch computes little on them
_EXT_NP = frozenset(d.np for d in _EXTENSION)
EXTENSION_NP = _EXT_NP  # (the numpy dtypes of bfloat16 and the float8s)


def is_float_array(a: object) -> bool:
    """Whether an array's dtype is floating point: numpy's kind "f", or bfloat16/float8."""
    d = a.dtype
    return d.kind == "f" or d in _EXT_NP

half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
cfloat, cdouble = complex64, complex128

all_dtypes = (bool, uint8, int8, int16, int32, int64, float16, float32, float64, complex64,
              complex128) + _EXTENSION
_FROM_NP = {d.np: d for d in all_dtypes}
_NAMES = {d.name: d for d in all_dtypes}


# torch's scalar-type names, as its messages print them ("torch.FloatTensor", "got Long")
_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                 "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
                 "complex64": "ComplexFloat", "complex128": "ComplexDouble",
                 "bfloat16": "BFloat16", "float8_e4m3fn": "Float8_e4m3fn",
                 "float8_e5m2": "Float8_e5m2", "float8_e4m3fnuz": "Float8_e4m3fnuz",
                 "float8_e5m2fnuz": "Float8_e5m2fnuz"}


def scalar_name(d) -> str:
    """torch's short scalar-type name of a dtype or numpy dtype (``Float``, ``Long``, ...)."""
    return _SCALAR_NAMES[d.name if isinstance(d, dtype) else from_numpy_dtype(d).name]


def _by_name(name: str) -> dtype:
    return _NAMES[name]


def from_numpy_dtype(np_dtype) -> dtype:
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).name}. The only supported "
            "types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        ) from None


_default_dtype = float32


def get_default_dtype() -> dtype:
    """Returns the default floating point dtype (``ember.float32`` unless changed)."""
    return _default_dtype


def set_default_dtype(d: dtype) -> None:
    """Sets the default floating point dtype; only float32 and float64 are allowed, as in torch."""
    global _default_dtype
    if d not in (float32, float64, float16):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both ``a`` and ``b`` cast to safely (``torch.promote_types``)."""
    if a is b:
        return a
    # A float always wins over an integer or bool, whatever their sizes (numpy would widen).
    if a._category != b._category:
        hi, lo = (a, b) if a._category > b._category else (b, a)
        if hi._category >= 2 > lo._category or lo._category == 0:
            return hi
    if a.np in _EXT_NP or b.np in _EXT_NP:
        return _promote_extension(a, b)
    return _FROM_NP[np.promote_types(a.np, b.np)]


def _promote_extension(a: dtype, b: dtype) -> dtype:
    """torch's table for bfloat16/float8 against another floating or complex dtype: the wider
    one, and float32 for bfloat16 with float16 (neither holds the other)."""
    if a.name in FLOAT8 or b.name in FLOAT8:
        raise RuntimeError(f"Promotion for Float8 Types is not supported, attempted to promote "
                           f"{scalar_name(a)} and {scalar_name(b)}")
    other = b if a is bfloat16 else a
    if other._category == 3 or other.itemsize > 2:
        return other
    return float32


def scalar_dtype(value) -> dtype:
    """The dtype torch gives a Python scalar wrapped as a tensor."""
    if isinstance(value, (builtins_bool, np.bool_)):
        return bool
    if isinstance(value, (builtins_int, np.integer)):
        return int64
    if isinstance(value, (complex, np.complexfloating)):
        return _default_dtype.to_complex()
    return _default_dtype


import builtins as _builtins  # noqa: E402

builtins_bool, builtins_int = _builtins.bool, _builtins.int


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # torch's combine_categories: a lower-priority participant only matters if it is of a higher
    # category (e.g. a 0-d float tensor makes an int tensor float, but a 0-d int64 never widens int32)
    if higher is None:
        return lower
    if lower is None or higher._category == 3:
        return higher
    if lower._category == 3 and higher._category == 2:  # keeps higher's precision
        return higher.to_complex()
    if higher._category == 2:
        return higher
    if higher._category == 0 or lower._category > higher._category:
        return promote_types(higher, lower)
    return higher


def result_type(*operands) -> dtype:
    """torch.result_type over tensors and Python scalars: dim>0 tensors > 0-d tensors > scalars."""
    dim_t = zero_t = wrapped = None
    for op in operands:
        d = getattr(op, "dtype", None)
        if isinstance(d, dtype):
            if op._data.ndim:
                dim_t = d if dim_t is None else promote_types(dim_t, d)
            else:
                zero_t = d if zero_t is None else promote_types(zero_t, d)
        elif op is not None:
            d = scalar_dtype(op)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    return _combine(dim_t, _combine(zero_t, wrapped))


def to_dtype(d) -> dtype:
    """Accepts an ember dtype, a numpy dtype or a Python type (float/int/bool) and returns a dtype."""
    if isinstance(d, dtype):
        return d
    if d is _builtins.float:
        return float64
    if d is _builtins.int:
        return int64
    if d is _builtins.bool:
        return bool
    if isinstance(d, str) and d in _NAMES:
        return _NAMES[d]
    return from_numpy_dtype(d)


# For ``isinstance`` checks above the backend: what ops take as a Python number, Python's own
# and NumPy's scalars (``np.int64(2)`` as a dim, ``np.float32(0.5)`` as a fill value)
SCALAR_TYPES = (_builtins.int, _builtins.float, _builtins.bool, np.number, np.bool_)
INTEGER_TYPES = (_builtins.int, np.integer)  # (bool included, as in Python)
BOOL_TYPES = (_builtins.bool, np.bool_)
GENERIC_SCALAR = np.generic  # any NumPy scalar, number or not
NP_DTYPE = np.dtype  # the type of a NumPy dtype object, which dtype arguments may be


def scalar_keeps(dtype: np.dtype, x: object) -> bool:
    """Whether ``x``, a Python scalar, leaves an array of numpy ``dtype`` as it is in a binary
    op's promotion: Python scalars are weak, so only another kind (a float with an integer
    array, a number with a bool one) widens it."""
    t = type(x)
    if t is _builtins.float:
        return dtype.kind == "f"  # (bfloat16: numpy would widen it, so the scalar is cast)
    if t is _builtins.int:
        kind = dtype.kind
        if kind in "iu":  # one outside the dtype's range wraps (cast by promote_arrays), as in torch
            lo, hi = _INT_RANGE[dtype]
            return lo <= x <= hi
        return kind != "b"
    return t is _builtins.bool and dtype.kind == "b"


_INT_RANGE = {np.dtype(t): (_builtins.int(np.iinfo(t).min), _builtins.int(np.iinfo(t).max))
              for t in (np.uint8, np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint32,
                        np.uint64)}


def int_scalar(npd: np.dtype, x: int) -> object:
    """The Python int ``x`` as a scalar of the integer dtype ``npd``, wrapped modulo its range as
    torch's integer arithmetic does (``uint8_tensor + -3`` adds 253); numpy would raise."""
    return np.asarray(x, dtype=np.int64).astype(npd)  # 0-d: numpy warns on scalar overflow only


def promote_arrays(args: tuple, arrays: list, true_divide: bool = False) -> list:
    """Casts the arrays of ``args`` to torch's result dtype; Python scalars stay weak scalars."""
    first = arrays[0]
    if type(first) is np.ndarray:
        nd = first.dtype
        same = True
        for x in arrays[1:]:
            if type(x) is np.ndarray:
                if x.dtype is not nd:
                    same = False
            elif x is not None and not scalar_keeps(nd, x):
                same = False  # (a NumPy scalar is "strong" in numpy's promotion: cast it below)
        if same and (not true_divide or nd.kind == "f"):
            return arrays
    rd = result_type(*args)
    if true_divide and rd._category < 2:  # (complex stays complex)
        rd = get_default_dtype()
    npd = rd.np
    out = []
    for x in arrays:
        if type(x) is np.ndarray:
            out.append(x if x.dtype == npd else x.astype(npd))
        elif isinstance(x, (_builtins.float, np.floating)) and npd not in _EXT_NP:
            out.append(_builtins.float(x))  # weak in numpy, where np.float64(x) would widen
        elif type(x) is _builtins.int and npd.kind in "iu":
            w = int_scalar(npd, x)
            if type(first) is not np.ndarray:  # on a device: the wrapped value copied there
                from .backend import DEVICE_TYPES, backend_of

                for y in arrays:
                    if type(y) in DEVICE_TYPES:
                        w = backend_of(y).xp.asarray(w)
                        break
            out.append(w)
        elif isinstance(x, SCALAR_TYPES):
            out.append(npd.type(x))
        elif x is not None and hasattr(x, "astype"):  # another backend's array (CuPy's)
            out.append(x if x.dtype == npd else x.astype(npd))
        else:
            out.append(x)
    return out
