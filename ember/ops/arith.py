"""Element-wise arithmetic real programs call beside the basic operators: addcmul/addcdiv (the
optimizers' fused ``input + value * t1 * t2``), deg2rad/rad2deg, and the gradient-free integer
and sign ops heaviside, gcd, lcm and signbit, with torch's dtype rules and nodes."""
from __future__ import annotations

import math
from numbers import Number
from typing import Any

from ._deprecated import warn_overload
from ._op import Op
from .. import dtypes as _dt
from ..backend import NUMPY, backend_of, get_array_module
from ..backend.vocabulary import acc_dtype
from ..graph import grad_mode
from ..tensor import Tensor
from . import _reduce_util as ru
from ._util import broadcast_shape, float_array
from .elementwise import _Broadcasting, _NoDerivative
from .inplace import _can_cast, _inplace_method, type_name

_NP = NUMPY.array_type

_ADDCDIV_INTEGER = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv "
    "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
    "implemented as (input + value * ember.trunc(tensor1 / tensor2)).to(input.dtype) for "
    "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
    "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
    "for all dtypes.")


def _check_tensor(fn: str, name: str, pos: int, x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{type(x).__name__}")


def _value_for(dtype: Any, value: Number) -> Number:
    """``value`` as torch converts the Scalar for a kernel of ``dtype``: truncated for integers,
    refused when complex for a real dtype."""
    if isinstance(value, complex) and dtype.kind != "c":
        if value.imag != 0:
            raise RuntimeError(f"value cannot be converted to type {_dt.scalar_name(dtype).lower()}"
                               " without overflow")
        value = value.real
    if dtype.kind in "iu":
        return int(value)
    return value


# -- addcmul, addcdiv ----------------------------------------------------------------------------


class Addcmul(_Broadcasting, name="AddcmulBackward0"):
    on_arrays = True
    _promote = True

    @staticmethod
    def forward(ctx, a, t1, t2, *, value=1):
        if a.dtype.kind == "b":
            raise NotImplementedError("\"addcmul_cpu_out\" not implemented for 'Bool'")
        value = _value_for(a.dtype, value)
        ctx.value = value
        _, need_t1, need_t2 = ctx.needs_input_grad
        ctx.save_for_backward(t1 if need_t2 else None, t2 if need_t1 else None)
        wide = acc_dtype(a.dtype)  # half precision computes in float32 and rounds once
        if wide != a.dtype:
            out = a.astype(wide) + value * (t1.astype(wide) * t2.astype(wide))
            return out.astype(a.dtype)
        prod = t1 * t2
        return a + (prod if value == 1 else value * prod)

    @staticmethod
    def backward(ctx, g):
        # derivatives.yaml: tensor1: grad * tensor2 * value, tensor2: grad * tensor1 * value
        t1, t2 = ctx.saved
        _, need_t1, need_t2 = ctx.needs_input_grad
        v = ctx.value
        return (g,
                (g * (t2 if v == 1 else t2 * v)) if need_t1 else None,
                (g * (t1 if v == 1 else t1 * v)) if need_t2 else None)


class Addcdiv(_Broadcasting, name="AddcdivBackward0"):
    on_arrays = True
    _promote = True

    @staticmethod
    def forward(ctx, a, t1, t2, *, value=1):
        value = _value_for(a.dtype, value)
        ctx.value = value
        _, need_t1, need_t2 = ctx.needs_input_grad
        ctx.save_for_backward(t1 if need_t2 else None, t2 if need_t1 or need_t2 else None)
        wide = acc_dtype(a.dtype)  # half precision computes in float32 and rounds once
        with ctx.backend.errors_quiet():
            if wide != a.dtype:
                out = a.astype(wide) + value * (t1.astype(wide) / t2.astype(wide))
                return out.astype(a.dtype)
            quot = t1 / t2
            return a + (quot if value == 1 else value * quot)

    @staticmethod
    def backward(ctx, g):
        # tensor1: grad * value / tensor2; tensor2: -grad * value * tensor1 / tensor2**2
        t1, t2 = ctx.saved
        _, need_t1, need_t2 = ctx.needs_input_grad
        v = ctx.value
        return (g,
                (g * (v / t2)) if need_t1 else None,
                (-g * (v * t1 / (t2 * t2))) if need_t2 else None)


def _legacy(name: str, form: str, tensor1: Any, tensor2: Any, args: tuple,
            value: Any) -> tuple:
    """torch still parses the deprecated ``(value, tensor1, tensor2)`` overload, warning once
    per process; returns ``(tensor1, tensor2, value)``."""
    if not args:
        return tensor1, tensor2, value
    if len(args) > 1:
        raise TypeError(f"{name}() takes from 3 to 4 positional arguments but {3 + len(args)} "
                        "were given")
    old, new = {
        "function": (f"{name}(Tensor input, Number value, Tensor tensor1, Tensor tensor2, *, "
                     "Tensor out = None)",
                     f"{name}(Tensor input, Tensor tensor1, Tensor tensor2, *, Number value = 1, "
                     "Tensor out = None)"),
        "method": (f"{name}(Number value, Tensor tensor1, Tensor tensor2)",
                   f"{name}(Tensor tensor1, Tensor tensor2, *, Number value = 1)"),
    }[form]
    warn_overload(name, old, new)
    return tensor2, args[0], tensor1


def _addc(name: str, op: type, input: Tensor, tensor1: Tensor, tensor2: Tensor,
          value: Number) -> Tensor:
    _check_tensor(name, "input", 1, input)
    _check_tensor(name, "tensor1", 2, tensor1)
    _check_tensor(name, "tensor2", 3, tensor2)
    if not isinstance(value, (Number, Tensor)) or isinstance(value, Tensor) and value.ndim:
        raise TypeError(f"{name}(): argument 'value' must be Number, not {type(value).__name__}")
    if isinstance(value, Tensor):
        value = value.item()
    return op.apply(input, tensor1, tensor2, value=value)


def _addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, value: Number) -> Tensor:
    if isinstance(tensor1, Tensor) and isinstance(tensor2, Tensor) \
            and not tensor1.is_floating_point() and not tensor1.is_complex() \
            and not tensor2.is_floating_point() and not tensor2.is_complex():
        raise RuntimeError(_ADDCDIV_INTEGER)
    return _addc("addcdiv", Addcdiv, input, tensor1, tensor2, value)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *args: Tensor,
            value: Number = 1) -> Tensor:
    """``input + value * tensor1 * tensor2``, element-wise, broadcast."""
    tensor1, tensor2, value = _legacy("addcmul", "function", tensor1, tensor2, args, value)
    return _addc("addcmul", Addcmul, input, tensor1, tensor2, value)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *args: Tensor,
            value: Number = 1) -> Tensor:
    """``input + value * tensor1 / tensor2``, element-wise, broadcast (a true division; two
    integer operands are refused)."""
    tensor1, tensor2, value = _legacy("addcdiv", "function", tensor1, tensor2, args, value)
    return _addcdiv(input, tensor1, tensor2, value)


def _into_self(name: str, self: Tensor, t1: Any, t2: Any, value: Any) -> bool:
    """An optimizer's ``exp_avg_sq.addcmul_(g, g, value=1 - b2)``: with nothing to record and
    operands of ``self``'s float dtype and shape, the op's own arithmetic
    (``t1 * t2``, times ``value``, added) runs straight into ``self``'s memory. Returns whether
    it did (otherwise the general in-place path runs, with its checks)."""
    if not (isinstance(t1, Tensor) and isinstance(t2, Tensor)) or type(value) not in (int, float):
        return False
    if grad_mode.state.enabled and (self._requires_grad or t1._requires_grad
                                    or t2._requires_grad):
        return False
    d, a, b = self._data, t1._data, t2._data
    if a.shape != d.shape or b.shape != d.shape or a.dtype is not d.dtype \
            or b.dtype is not d.dtype or d.dtype.kind != "f" or d.dtype.itemsize == 2 \
            or not (d.flags.writeable if type(d) is _NP else backend_of(d).writable(d)):
        return False  # (the usual optimizer case is all one shape and dtype)
    xp = get_array_module(d)
    if name == "addcmul":
        tmp = xp.multiply(a, b)
    else:
        with ru.quiet(d):
            tmp = xp.divide(a, b)
    if value != 1:
        tmp *= value
    xp.add(d, tmp, out=d)
    self._version_counter[0] += 1
    return True


def _addc_methods(name: str, fn: Any) -> tuple:
    """``Tensor.<name>`` and ``Tensor.<name>_``, each parsing torch's deprecated overload with
    its own message."""
    inplace = _inplace_method(name)

    def method(self: Tensor, tensor1: Tensor, tensor2: Tensor, *args: Tensor,
               value: Number = 1) -> Tensor:
        tensor1, tensor2, value = _legacy(name, "method", tensor1, tensor2, args, value)
        return fn(self, tensor1, tensor2, value=value)

    def method_(self: Tensor, tensor1: Tensor, tensor2: Tensor, *args: Tensor,
                value: Number = 1) -> Tensor:
        tensor1, tensor2, value = _legacy(name + "_", "method", tensor1, tensor2, args, value)
        if _into_self(name, self, tensor1, tensor2, value):
            return self
        return inplace(self, tensor1, tensor2, value=value)

    method.__name__, method_.__name__ = name, name + "_"
    method.__doc__ = fn.__doc__
    method_.__doc__ = f"In-place version of :meth:`Tensor.{name}`."
    return method, method_


# -- deg2rad, rad2deg ----------------------------------------------------------------------------


class _AngleScale(Op):
    """``x * factor`` in the input's float dtype (integers in the default one); half precision
    computes in float32 and rounds once, as torch's kernels."""

    on_arrays = True
    factor = 1.0

    @classmethod
    def forward(cls, ctx, a):
        if a.dtype.kind == "c":
            raise RuntimeError(f"{cls.__name__.lower()} is not supported for complex tensors.")
        x = float_array(a)
        wide = acc_dtype(x.dtype)
        if wide != x.dtype:
            return (x.astype(wide) * cls.factor).astype(x.dtype)
        return ctx.xp.asarray(x * cls.factor)

    @classmethod
    def backward(cls, ctx, g):
        return g * cls.factor


class Deg2Rad(_AngleScale, name="Deg2RadBackward0"):
    factor = math.pi / 180


class Rad2Deg(_AngleScale, name="Rad2DegBackward0"):
    factor = 180 / math.pi


def deg2rad(input: Tensor) -> Tensor:
    """Angles in degrees converted to radians."""
    return Deg2Rad.apply(input)


def rad2deg(input: Tensor) -> Tensor:
    """Angles in radians converted to degrees."""
    return Rad2Deg.apply(input)


# -- heaviside, gcd, lcm, signbit ----------------------------------------------------------------


class Heaviside(_NoDerivative, _Broadcasting, name="NotImplemented"):
    aten = "heaviside"

    @staticmethod
    def forward(ctx, a, values):
        xp = ctx.xp
        if a.dtype.kind == "c":
            raise RuntimeError("heaviside is not yet implemented for complex tensors.")
        # 0 below zero, 1 above, ``values`` at exactly zero; torch gives nan 0 (numpy: nan)
        zero = xp.zeros((), a.dtype)
        out = xp.where(a == 0, values, xp.where(a > 0, xp.ones((), a.dtype), zero))
        return xp.asarray(out, dtype=a.dtype)


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """The Heaviside step of ``input``: 0 where negative, 1 where positive, ``values`` at 0."""
    if not isinstance(values, Tensor):
        raise TypeError("heaviside(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}")
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    return Heaviside.apply(input, values)


def _integer_pair(name: str, ufunc: str, input: Tensor, other: Tensor) -> Tensor:
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    rd = _dt.result_type(input, other)
    if rd.np.kind not in "iu":
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{_dt.scalar_name(rd)}'")
    a, b = input._data, other._data
    broadcast_shape(tuple(a.shape), tuple(b.shape))  # torch's message on a mismatch
    xp = get_array_module(a, b)
    a, b = a.astype(rd.np, copy=False), b.astype(rd.np, copy=False)
    return Tensor._make(xp.asarray(getattr(xp, ufunc)(a, b), dtype=rd.np))


def gcd(input: Tensor, other: Tensor) -> Tensor:
    """The greatest common divisor of integer tensors, element-wise (``gcd(0, 0) = 0``)."""
    return _integer_pair("gcd", "gcd", input, other)


def lcm(input: Tensor, other: Tensor) -> Tensor:
    """The least common multiple of integer tensors, element-wise (0 if either is 0)."""
    return _integer_pair("lcm", "lcm", input, other)


def signbit(input: Tensor) -> Tensor:
    """Whether each element's sign bit is set (``-0.0`` and negative NaNs included), as bool."""
    a = input._data
    xp = get_array_module(a)
    if a.dtype.kind == "c":
        raise RuntimeError("signbit is not implemented for complex tensors.")
    if a.dtype.kind == "b":
        return Tensor._make(xp.zeros(a.shape, dtype=bool))
    if a.dtype.kind == "f" and a.dtype.itemsize == 2:
        a = a.astype("float32")  # (bfloat16: numpy's signbit has no loop for it)
    return Tensor._make(xp.asarray(xp.signbit(a)))


def _integer_pair_(name: str) -> Any:
    def method(self: Tensor, other: Tensor) -> Tensor:
        # torch checks that the result fits ``self`` before it checks the kernel's dtypes
        if isinstance(other, Tensor) and not _can_cast(_dt.result_type(self, other), self.dtype):
            raise RuntimeError(f"result type {type_name(_dt.result_type(self, other))} can't be "
                               f"cast to the desired output type {type_name(self)}")
        return _inplace_method(name)(self, other)

    method.__name__ = name + "_"
    method.__doc__ = f"In-place version of :meth:`Tensor.{name}`."
    return method


__all__ = ["addcmul", "addcdiv", "deg2rad", "rad2deg", "heaviside", "gcd", "lcm", "signbit"]
TENSOR_METHODS: dict = {name: globals()[name] for name in __all__}
for _name in ("deg2rad", "rad2deg", "heaviside"):
    TENSOR_METHODS[_name + "_"] = _inplace_method(_name)
for _name, _fn in (("addcmul", addcmul), ("addcdiv", addcdiv)):
    TENSOR_METHODS[_name], TENSOR_METHODS[_name + "_"] = _addc_methods(_name, _fn)
TENSOR_METHODS.update(gcd_=_integer_pair_("gcd"), lcm_=_integer_pair_("lcm"))
