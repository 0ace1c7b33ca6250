"""Special functions (``torch.special`` and their ``torch.X`` / ``Tensor.X`` aliases): erfinv,
erfcx, lgamma, digamma, polygamma, mvlgamma, the modified Bessel functions i0, i0e, i1, i1e, the
normal distribution's ndtr, ndtri and log_ndtr, logit, sinc, entr, xlogy and xlog1py.

The values come from the backend's whole-array kernels (``backend/numpy_special.py``; NumPy has
none of them). Each backward is a formula in ember ops, as a line of torch's derivatives.yaml, so
gradients of gradients follow (lgamma's derivative is digamma, digamma's is polygamma(1, x), ...).
"""
from __future__ import annotations

import math
from typing import Any, Callable

from ._op import Op
from ..backend import backend_of, get_array_module, quiet as _quiet
from ..tensor import Tensor
from ..dtypes import get_default_dtype
from ..dtypes import result_type as _result_type
from ._util import float_array
from .compare import _check_other, where
from .elementwise import Number, _Broadcasting
from .inplace import _inplace_method, apply_inplace, type_name
from .unary import _Float, cos, exp, log, reciprocal, sin

_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_INV_SQRT_2PI = 1 / _SQRT_2PI
_SQRT1_2 = math.sqrt(0.5)


class _Special(_Float):
    """``_Float`` with its derivative ``grad(g, x, y)`` in Tensor ops (digamma, polygamma, i1,
    where, ...: words the array vocabulary does not have), so it always runs on Tensors."""

    on_arrays = False

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        if x is not None and x.is_complex():  # (sinc): g * conj(f'(z)) = g * f'(conj z)
            x, y = x.conj(), (y.conj() if y is not None else None)
        return ctx.grad(g, x, y)


def _no_complex(kernel: str, *arrays: Any) -> None:
    """torch's error for a real-only kernel given a complex array."""
    for x in arrays:
        if getattr(x, "dtype", None) is not None and x.dtype.kind == "c":
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{type_name(x.dtype)}'")


# torch's kernel names, as its "not implemented for 'ComplexFloat'" errors print them
_KERNEL = {"erfinv": "erfinv_vml_cpu", "lgamma": "lgamma_vml_cpu", "digamma": "digamma",
           "i0": "i0_vml_cpu"}


def _kernel(name: str, half: bool = True) -> Callable:
    """``f(xp, x)`` calling the backend's kernel ``name`` on ``x``; torch has no float16 kernel
    for some (``half=False``) and no complex one for any."""
    def f(xp: Any, x: Any) -> Any:
        if x.dtype.kind == "c" or (not half and x.dtype.char == "e"):
            kernel = _KERNEL.get(name, f"{name}_cpu")
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{type_name(x.dtype)}'")
        return getattr(backend_of(x), name)(x)

    return f


class Erfinv(_Special, name="ErfinvBackward0"):
    saves, f = "y", staticmethod(_kernel("erfinv"))
    grad = staticmethod(lambda g, x, y: g * (_SQRT_PI_OVER_2 * exp(y * y)))


class Erfcx(_Special, name="SpecialErfcxBackward0"):
    saves, f = "xy", staticmethod(_kernel("erfcx", half=False))
    grad = staticmethod(lambda g, x, y: g * (2 * x * y - _TWO_OVER_SQRT_PI))


class Lgamma(_Special, name="LgammaBackward0"):
    f = staticmethod(_kernel("lgamma"))
    grad = staticmethod(lambda g, x, y: g * digamma(x))


class Digamma(_Special, name="DigammaBackward0"):
    f = staticmethod(_kernel("digamma"))
    grad = staticmethod(lambda g, x, y: g * polygamma(1, x))


class Polygamma(_Special, name="PolygammaBackward0"):
    @staticmethod
    def forward(ctx, a, *, n):
        _no_complex({0: "digamma", 1: "trigamma"}.get(n, "polygamma"), a)
        ctx.n = n
        ctx.f = lambda xp, x: backend_of(x).polygamma(n, x)
        return _Special.forward(ctx, a)

    @staticmethod
    def backward(ctx, g):
        x, _ = ctx.saved_tensors
        return g * polygamma(ctx.n + 1, x)


class I0(_Special, name="I0Backward0"):
    f = staticmethod(_kernel("i0"))
    grad = staticmethod(lambda g, x, y: g * i1(x))


class I0e(_Special, name="SpecialI0EBackward0"):
    saves, f = "xy", staticmethod(_kernel("i0e"))
    # d/dx e^-|x| I0(x) = i1e(x) - sign(x) i0e(x)
    grad = staticmethod(lambda g, x, y: g * (i1e(x) - x.sgn() * y))


class I1(_Special, name="SpecialI1Backward0"):
    saves, f = "xy", staticmethod(_kernel("i1"))
    # I1'(x) = I0(x) - I1(x)/x, 1/2 at 0
    grad = staticmethod(lambda g, x, y: g * where(x == 0, 0.5, i0(x) - y / x))


class I1e(_Special, name="SpecialI1EBackward0"):
    saves, f = "xy", staticmethod(_kernel("i1e"))
    grad = staticmethod(
        lambda g, x, y: g * where(x == 0, 0.5, i0e(x) - y * (x.sgn() + reciprocal(x))))


class Ndtri(_Special, name="SpecialNdtriBackward0"):
    saves, f = "y", staticmethod(_kernel("ndtri", half=False))
    grad = staticmethod(lambda g, x, y: g * (_SQRT_2PI * exp(0.5 * y * y)))


class LogNdtr(_Special, name="SpecialLogNdtrBackward0"):
    saves, f = "xy", staticmethod(_kernel("log_ndtr", half=False))
    # phi(x) / Phi(x) = exp(-x^2/2 - log Phi(x)) / sqrt(2 pi)
    grad = staticmethod(lambda g, x, y: g * (_INV_SQRT_2PI * exp(-0.5 * x * x - y)))


class Sinc(_Special, name="SincBackward0"):
    @staticmethod
    def f(xp, x):
        px = x * x.dtype.type(math.pi)  # in the input's precision, as torch's kernel
        with _quiet(xp):
            return xp.where(x == 0, x.dtype.type(1), xp.sin(px) / px)

    @staticmethod
    def grad(g, x, y):
        px = math.pi * x
        d = (px * cos(px) - sin(px)) / (px * x)
        return g * where(x == 0, 0.0, d)


class Entr(_Special, name="SpecialEntrBackward0"):
    @staticmethod
    def f(xp, x):
        _no_complex("entr_cpu", x)
        with _quiet(xp):
            out = -x * xp.log(x)
        out = xp.where(x == 0, x.dtype.type(0), out)
        return xp.where(x < 0, x.dtype.type(-math.inf), out)  # (NaN stays NaN)

    grad = staticmethod(lambda g, x, y: g * -(1 + log(x)))


class Logit(_Special, name="LogitBackward0"):
    @staticmethod
    def forward(ctx, a, *, eps):
        ctx.eps = eps

        def f(xp, x):
            _no_complex("logit_cpu", x)
            if eps is not None:
                x = xp.clip(x, eps, 1 - eps)
            return xp.log(x / (1 - x))

        ctx.f = f
        return _Special.forward(ctx, a)

    @staticmethod
    def backward(ctx, g):
        x, _ = ctx.saved_tensors
        d = g / (x * (1 - x))
        eps = ctx.eps
        if eps is None:
            return d
        return where((x < eps) | (x > 1 - eps), 0.0, d)


# -- binary: xlogy, xlog1py ----------------------------------------------------------------------


class Xlogy(_Broadcasting, name="XlogyBackward0"):
    """``x * log(y)``, 0 where ``x == 0`` (unless ``y`` is NaN)."""

    _promote = "float"
    _log = staticmethod(lambda xp, y: xp.log(y))

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        _no_complex(ctx._kernel, a, b)
        ctx.save_for_backward(a, b)
        # a number operand takes the other's dtype (a NumPy float64 would widen a float32)
        a = a if hasattr(a, "dtype") else xp.asarray(a, dtype=b.dtype)
        b = b if hasattr(b, "dtype") else xp.asarray(b, dtype=a.dtype)
        with _quiet(xp):
            out = xp.asarray(a * ctx._log(xp, b))
            return xp.where((a == 0) & ~xp.isnan(b), out.dtype.type(0), out)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:  # torch: xlogy(grad, other), 0 where self == 0 and other is at or below the pole
            ga = where((a == 0) & (b <= ctx._pole), 0.0, ctx._fn(g, b))
        if need_b:
            gb = g * a / ctx._dlog(b)
        return ga, gb

    _fn = staticmethod(lambda a, b: xlogy(a, b))
    _dlog = staticmethod(lambda b: b)
    _pole = 0.0
    _kernel = "xlogy_cpu"


class XlogyScalarOther(Xlogy, name="XlogyBackward2"):
    pass


class XlogyScalarSelf(Xlogy, name="XlogyBackward1"):
    pass


class Xlog1py(Xlogy, name="SpecialXlog1PyBackward0"):
    _log = staticmethod(lambda xp, y: xp.log1p(y))
    _fn = staticmethod(lambda a, b: xlog1py(a, b))
    _dlog = staticmethod(lambda b: b + 1)
    _pole = -1.0
    _kernel = "xlog1py_cpu"


class Xlog1pyScalarOther(Xlog1py, name="SpecialXlog1PyBackward2"):
    pass


class Xlog1pyScalarSelf(Xlog1py, name="SpecialXlog1PyBackward1"):
    pass


class Igamma(_Broadcasting, name="IgammaBackward0"):
    """The regularized lower incomplete gamma function P(a, x) (``upper``: Q = 1 - P)."""

    _promote = "float"
    _upper = False

    @staticmethod
    def forward(ctx, a, x):
        _no_complex(f"{ctx._name}_cpu", a, x)
        ctx.save_for_backward(a, x)
        be = backend_of(a, x)
        out = be.gammaincc(a, x) if ctx._upper else be.gammainc(a, x)
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        need_a, need_x = ctx.needs_input_grad
        if need_a:
            raise NotImplementedError(f"the derivative for '{ctx._name}: input' is not "
                                      "implemented.")
        # dP/dx = x^(a-1) e^-x / Gamma(a)
        d = exp((a - 1) * log(x) - x - lgamma(a))
        return None, g * (-d if ctx._upper else d)

    _name = "igamma"


class Igammac(Igamma, name="IgammacBackward0"):
    _upper = True
    _name = "igammac"


def igamma(input: Tensor, other: Tensor) -> Tensor:
    """The regularized lower incomplete gamma function ``P(input, other)``."""
    _check_other("igamma", other, scalars=False)
    return Igamma.apply(input, other)


def igammac(input: Tensor, other: Tensor) -> Tensor:
    """The regularized upper incomplete gamma function ``Q(input, other) = 1 - P``."""
    _check_other("igammac", other, scalars=False)
    return Igammac.apply(input, other)


class Zeta(_Broadcasting, name="SpecialZetaBackward0"):
    """The Hurwitz zeta function ``sum_k (k + q)^-x``."""

    _promote = "float"

    @staticmethod
    def forward(ctx, x, q):
        xp = ctx.xp
        _no_complex("zeta_cpu", x, q)
        ctx.save_for_backward(x, q)
        ref = x if hasattr(x, "dtype") else q
        x = x if hasattr(x, "dtype") else xp.asarray(x, dtype=ref.dtype)
        q = q if hasattr(q, "dtype") else xp.asarray(q, dtype=ref.dtype)
        return xp.asarray(backend_of(x, q).zeta(x, q)).astype(ref.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, q = ctx.saved_tensors
        need_x, need_q = ctx.needs_input_grad
        if need_x:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        return None, g * -x * zeta(x + 1, q)  # d/dq zeta(x, q) = -x zeta(x + 1, q)


class ZetaScalarSelf(Zeta, name="SpecialZetaBackward1"):
    pass


class ZetaScalarOther(Zeta, name="SpecialZetaBackward2"):
    pass


def zeta(input: Tensor | Number, other: Tensor | Number) -> Tensor:
    """The Hurwitz zeta function ``zeta(input, other) = sum_k (k + other)^-input``."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("special_zeta() received an invalid combination of arguments")
    if not isinstance(input, Tensor):
        return ZetaScalarSelf.apply(input, other)
    return (Zeta if isinstance(other, Tensor) else ZetaScalarOther).apply(input, other)


# -- no gradient in torch: orthogonal polynomials, and a few Bessel functions ---------------------


def _polynomial(kind: str, name: str) -> Callable:
    def fn(input: Tensor | Number, n: Tensor | Number) -> Tensor:
        if not isinstance(input, Tensor) and not isinstance(n, Tensor):
            raise TypeError(f"{name}() received an invalid combination of arguments")
        ref = input if isinstance(input, Tensor) else n
        xp = get_array_module(ref._data)
        dt = _result_type(input, n)
        dt = dt if dt.is_floating_point else get_default_dtype()
        for t in (input, n):
            if isinstance(t, Tensor):
                _no_complex(f"{name}_cpu", t._data)
        x = input._data if isinstance(input, Tensor) else xp.asarray(input)
        k = n._data if isinstance(n, Tensor) else xp.asarray(n)
        out = backend_of(x, k).orthogonal_polynomial(kind, x, k)
        return Tensor._make(xp.asarray(out, dtype=dt.np))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"The {name.replace('_', ' ')} of degree ``n`` at ``input`` (no gradient)."
    return fn


def spherical_bessel_j0(input: Tensor) -> Tensor:
    """The spherical Bessel function of the first kind of order 0, ``sin(x) / x`` (no gradient)."""
    a = float_array(input._data)
    _no_complex("spherical_bessel_j0_cpu", a)
    return Tensor._make(backend_of(a).spherical_bessel_j0(a))


def modified_bessel_i0(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind of order 0 (no gradient, as torch's)."""
    a = float_array(input._data)
    _no_complex("modified_bessel_i0_cpu", a)
    return Tensor._make(backend_of(a).i0(a))


def modified_bessel_i1(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind of order 1 (no gradient, as torch's)."""
    a = float_array(input._data)
    _no_complex("modified_bessel_i1_cpu", a)
    return Tensor._make(backend_of(a).i1(a))


POLYNOMIALS = {
    name: _polynomial(kind, name) for kind, name in (
        ("t", "chebyshev_polynomial_t"), ("u", "chebyshev_polynomial_u"),
        ("v", "chebyshev_polynomial_v"), ("w", "chebyshev_polynomial_w"),
        ("shifted_t", "shifted_chebyshev_polynomial_t"),
        ("shifted_u", "shifted_chebyshev_polynomial_u"),
        ("shifted_v", "shifted_chebyshev_polynomial_v"),
        ("shifted_w", "shifted_chebyshev_polynomial_w"),
        ("h", "hermite_polynomial_h"), ("he", "hermite_polynomial_he"),
        ("l", "laguerre_polynomial_l"), ("p", "legendre_polynomial_p"))}


def _binary(ops: tuple, name: str, doc: str) -> Callable:
    full, scalar_other, scalar_self = ops

    def fn(input: Tensor | Number, other: Tensor | Number) -> Tensor:
        if not isinstance(input, Tensor):
            _check_other(name, other, scalars=False)
            return scalar_self.apply(input, other)
        _check_other(name, other)
        return (full if isinstance(other, Tensor) else scalar_other).apply(input, other)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


xlogy = _binary((Xlogy, XlogyScalarOther, XlogyScalarSelf), "xlogy",
                "``input * log(other)``, with 0 where ``input`` is 0 (unless ``other`` is NaN).")
xlog1py = _binary((Xlog1py, Xlog1pyScalarOther, Xlog1pyScalarSelf), "xlog1py",
                  "``input * log1p(other)``, with 0 where ``input`` is 0.")


# -- public functions ----------------------------------------------------------------------------


def _unary(op: type, name: str, doc: str) -> Callable[[Tensor], Tensor]:
    def fn(input: Tensor) -> Tensor:
        return op.apply(input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


erfinv = _unary(Erfinv, "erfinv", "The inverse error function, element-wise.")
erfcx = _unary(Erfcx, "erfcx", "The scaled complementary error function ``exp(x^2) erfc(x)``.")
lgamma = _unary(Lgamma, "lgamma", "``log|Gamma(input)|``, element-wise.")
digamma = _unary(Digamma, "digamma", "The logarithmic derivative of the gamma function.")
i0 = _unary(I0, "i0", "The modified Bessel function of the first kind, order 0.")
i0e = _unary(I0e, "i0e", "The exponentially scaled ``exp(-|x|) I0(x)``.")
i1 = _unary(I1, "i1", "The modified Bessel function of the first kind, order 1.")
i1e = _unary(I1e, "i1e", "The exponentially scaled ``exp(-|x|) I1(x)``.")
ndtri = _unary(Ndtri, "ndtri", "The standard normal quantile: the inverse of ``ndtr``.")
log_ndtr = _unary(LogNdtr, "log_ndtr", "``log(ndtr(input))``, without underflow in the tail.")
sinc = _unary(Sinc, "sinc", "The normalised sinc ``sin(pi x) / (pi x)``, 1 at 0.")
entr = _unary(Entr, "entr", "``-x log(x)``: 0 at 0, -inf below.")


def _check_n(n: Any, name: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"{name}(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")


def polygamma(n: int, input: Tensor, *, _name: str = "polygamma") -> Tensor:
    """The ``n``-th derivative of digamma, element-wise."""
    _check_n(n, _name)
    return Polygamma.apply(input, n=n)


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    return polygamma(n, self)


class PolygammaInplace(Polygamma, name="PolygammaBackward1"):  # torch's node for polygamma_
    pass


def _polygamma_inplace(self: Tensor, n: int) -> Tensor:
    _check_n(n, "polygamma_")
    return apply_inplace(self, lambda s: PolygammaInplace.apply(s, n=n))


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``, with ``p`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given."""
    return Logit.apply(input, eps=None if eps is None else float(eps))


class _MulScalar(Op, name="MulBackward1"):
    """``x * c`` for a number ``c``, as torch's C++ composites record it (``mul.Scalar``)."""

    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, c):
        ctx.c = c
        return a * a.dtype.type(c)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.c


class _AddScalar(Op, name="AddBackward1"):
    """``x + c`` for a number ``c`` (``add.Scalar``)."""

    on_arrays = True

    @staticmethod
    def forward(ctx, a, *, c):
        return a + a.dtype.type(c)

    @staticmethod
    def backward(ctx, g):
        return g


def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF, ``(1 + erf(x / sqrt(2))) / 2``, composed as torch does."""
    from .unary import erf

    x = input if input.dtype.is_floating_point or input.dtype.is_complex else input.float()
    return _MulScalar.apply(_AddScalar.apply(erf(_MulScalar.apply(x, c=_SQRT1_2)), c=1), c=0.5)


def mvlgamma(input: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma of dimension ``p``:
    ``sum_j lgamma(x - j/2) + p(p-1)/4 log(pi)``."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return Mvlgamma.apply(input, p=p)


class Mvlgamma(Op, name="MvlgammaBackward0"):
    @staticmethod
    def forward(ctx, a, *, p):
        xp, be = ctx.xp, backend_of(a)
        _no_complex("arange_cpu", a)
        a = float_array(a)
        ctx.p = p
        ctx.save_for_backward(a)
        shifts = xp.arange(p, dtype=a.dtype) / 2  # one array over the p terms, no loop
        terms = be.lgamma(a[..., None] - shifts)
        return (terms.sum(-1) + p * (p - 1) / 4 * math.log(math.pi)).astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        total = digamma(x)
        for j in range(1, ctx.p):  # p terms (p, the dimension, is a small constant)
            total = total + digamma(x - j / 2)
        return g * total



__all__ = ["erfinv", "lgamma", "digamma", "polygamma", "i0", "sinc", "logit", "xlogy",
           "mvlgamma", "igamma", "igammac"]
TENSOR_METHODS = {"erfinv": erfinv, "lgamma": lgamma, "digamma": digamma,
                  "polygamma": _polygamma_method, "i0": i0, "sinc": sinc, "logit": logit,
                  "xlogy": xlogy, "mvlgamma": mvlgamma, "igamma": igamma, "igammac": igammac}
# the in-place twins (``x.lgamma_()``): the out-of-place op, then written into ``x``
TENSOR_METHODS.update({name + "_": _inplace_method(name) for name in (
    "erfinv", "lgamma", "digamma", "i0", "sinc", "logit", "xlogy", "mvlgamma", "igamma",
    "igammac")})
TENSOR_METHODS["polygamma_"] = _polygamma_inplace
