"""Complex numbers: ``real``, ``imag``, ``conj``, ``angle``, ``abs`` of complex tensors,
``view_as_real``, ``view_as_complex``, ``complex`` and ``polar``.

Gradients follow torch's convention for complex inputs (the conjugate Wirtinger derivative): for
a real loss L of z = x + iy the gradient is dL/dx + i dL/dy. ``real`` and ``imag`` return
copies here (torch's are views); their nodes carry torch's name for them (``SelectBackward0``:
torch takes them from ``view_as_real``).
"""
from __future__ import annotations

from typing import Any

from ._op import Op
from ..tensor import Tensor
from .unary import abs as _real_abs


class Conj(Op, name="ConjBackward0"):
    @staticmethod
    def forward(ctx, a):
        return ctx.xp.conj(a) if a.dtype.kind == "c" else a.copy()

    @staticmethod
    def backward(ctx, g):
        return conj(g)


class _Part(Op, name="SelectBackward0"):
    """The real (``imag=False``) or imaginary part of a complex tensor."""

    @staticmethod
    def forward(ctx, a, *, imag):
        ctx.imag = imag
        return ctx.xp.ascontiguousarray(a.imag if imag else a.real)

    @staticmethod
    def backward(ctx, g):
        # real: dL/dx, imag: dL/dy, as the complex gradient dL/dx + i dL/dy
        return complex(g * 0, g) if ctx.imag else complex(g, g * 0)


class Angle(Op, name="AngleBackward0"):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        out = ctx.xp.angle(a)
        return out.astype(a.real.dtype if a.dtype.kind == "c" else
                          (a.dtype if a.dtype.kind == "f" else "float32"), copy=False)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        if not z.is_complex():  # piecewise constant (0 or pi)
            return g * 0
        # d angle = (x dy - y dx) / |z|^2  ->  gradient g (-y + i x) / |z|^2
        x, y = real(z), imag(z)
        den = x * x + y * y
        return complex(-g * y / den, g * x / den)


class AbsComplex(Op, name="AbsBackward0"):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.abs(a)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        z, r = ctx.saved_tensors
        # d|z| = (x dx + y dy) / |z|: gradient g z / |z| (0 at 0, as torch's sgn)
        safe = r + (r == 0).to(r.dtype)
        return complex(g * real(z) / safe, g * imag(z) / safe)


class ViewAsReal(Op, name="ViewAsRealBackward0"):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        return xp.ascontiguousarray(xp.stack([a.real, a.imag], axis=-1))

    @staticmethod
    def backward(ctx, g):
        return view_as_complex(g)


class ViewAsComplex(Op, name="ViewAsComplexBackward0"):
    @staticmethod
    def forward(ctx, a):
        return (a[..., 0] + 1j * a[..., 1]).astype("complex64" if a.dtype == "float32"
                                                   else "complex128")

    @staticmethod
    def backward(ctx, g):
        return view_as_real(g)


class Complex(Op, name="ComplexBackward0"):
    @staticmethod
    def forward(ctx, a, b):
        if a.dtype != b.dtype:
            raise RuntimeError(f"Expected object of scalar type {_NAMES[a.dtype.name]} but got "
                               f"scalar type {_NAMES[b.dtype.name]} for second argument")
        if a.dtype.kind != "f" or a.dtype.name == "float16":
            raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                               f"{_NAMES.get(a.dtype.name, a.dtype.name)} and "
                               f"{_NAMES.get(b.dtype.name, b.dtype.name)}")
        out = ctx.xp.empty(ctx.xp.broadcast_shapes(a.shape, b.shape),
                           dtype="complex64" if a.dtype == "float32" else "complex128")
        out.real, out.imag = a, b
        return out

    @staticmethod
    def backward(ctx, g):
        need_a, need_b = ctx.needs_input_grad
        return (real(g) if need_a else None), (imag(g) if need_b else None)


class Polar(Op, name="PolarBackward0"):
    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        ctx.save_for_backward(a, b)
        out = xp.empty(xp.broadcast_shapes(a.shape, b.shape),
                       dtype="complex64" if a.dtype == "float32" else "complex128")
        out.real, out.imag = a * xp.cos(b), a * xp.sin(b)
        return out

    @staticmethod
    def backward(ctx, g):
        r, theta = ctx.saved_tensors
        need_r, need_t = ctx.needs_input_grad
        # z = r e^{i theta}: dz/dr = e^{i theta}, dz/dtheta = i z
        gx, gy = real(g), imag(g)
        c, s = theta.cos(), theta.sin()
        gr = gx * c + gy * s if need_r else None
        gt = r * (gy * c - gx * s) if need_t else None
        return gr, gt


_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
          "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _need_complex(t: Tensor, name: str) -> None:
    if not t.is_complex():
        raise RuntimeError(f"{name} is not implemented for tensors with non-complex dtypes.")


def real(input: Tensor) -> Tensor:
    """The real part (``input`` itself for a real tensor)."""
    return _Part.apply(input, imag=False) if input.is_complex() else input


def imag(input: Tensor) -> Tensor:
    """The imaginary part of a complex tensor."""
    if not input.is_complex():
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return _Part.apply(input, imag=True)


def conj(input: Tensor) -> Tensor:
    """The complex conjugate (``input`` itself for a real tensor, as torch)."""
    return Conj.apply(input) if input.is_complex() else input


def angle(input: Tensor) -> Tensor:
    """The argument of each element, in radians (0 or pi for real tensors)."""
    return Angle.apply(input)


def view_as_real(input: Tensor) -> Tensor:
    """A complex tensor as real pairs: shape ``(..., 2)``."""
    _need_complex(input, "view_as_real")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    """Real pairs ``(..., 2)`` as a complex tensor."""
    if input.is_complex() or not input.is_floating_point():
        raise RuntimeError("view_as_complex is only supported for floating point tensors, but "
                           f"got a tensor of scalar type: {_NAMES.get(input.dtype.name)}")
    if input.ndim == 0 or input.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    return ViewAsComplex.apply(input)


def complex(real: Tensor, imag: Tensor) -> Tensor:  # noqa: A001 - torch's name
    """The complex tensor ``real + i imag``."""
    return Complex.apply(real, imag)


def polar(abs: Tensor, angle: Tensor) -> Tensor:  # noqa: A002
    """The complex tensor ``abs * (cos(angle) + i sin(angle))``."""
    return Polar.apply(abs, angle)


def is_complex(input: Tensor) -> bool:
    """True if ``input`` has a complex dtype."""
    return input.is_complex()


def abs(input: Tensor) -> Tensor:  # noqa: A001
    """Absolute value, element-wise (the modulus, real-valued, for complex tensors)."""
    return AbsComplex.apply(input) if input.is_complex() else _real_abs(input)


absolute = abs


def _real_property(self: Tensor) -> Tensor:
    return real(self)


def _imag_property(self: Tensor) -> Tensor:
    return imag(self)


__all__ = ["real", "imag", "conj", "angle", "view_as_real", "view_as_complex", "complex",
           "polar", "is_complex", "abs", "absolute"]
TENSOR_METHODS: dict[str, Any] = {
    "conj": conj, "angle": angle, "real": property(_real_property),
    "imag": property(_imag_property), "resolve_conj": lambda self: self,
    "resolve_neg": lambda self: self, "is_conj": lambda self: False,
    "abs": abs, "absolute": abs, "__abs__": abs,
}
