"""Discrete Fourier transforms (``torch.fft``): three ops, as torch's three primitives, and the
public functions composed of them.

- ``FftC2C``: complex to complex, forward or inverse, over some dims.
- ``FftR2C``: real to complex (one-sided, as rfft, or the full spectrum).
- ``FftC2R``: one-sided complex to real (irfft), over some dims.

Each takes the input resized to the transform's lengths (zero-padded or cut, as ``n``/``s`` ask),
and a ``scale``: ``"none"``, ``"sqrt"`` or ``"n"``, what the transform divides by (``norm`` picks
it by direction: "backward" scales the inverse by 1/n, "forward" the forward one, "ortho" both by
1/sqrt(n)). The adjoint of a transform is the opposite direction with the same scale, which is
each backward: C2C's is C2C; R2C's is the real part of an inverse C2C of the zero-filled spectrum;
C2R's is R2C with the mirrored half counted twice (torch's fft_c2r_backward).
"""
from __future__ import annotations

from typing import Any, Sequence

from ._op import Op
from ..backend import get_array_module
from ..tensor import Tensor, _wrap_dim
from .complex import conj

_NP_NORM = {  # (inverse?, scale) -> numpy's norm keyword
    (False, "none"): "backward", (False, "sqrt"): "ortho", (False, "n"): "forward",
    (True, "none"): "forward", (True, "sqrt"): "ortho", (True, "n"): "backward",
}


def _scale(norm: str | None, inverse: bool) -> str:
    if norm is None or norm == "backward":
        return "n" if inverse else "none"
    if norm == "forward":
        return "none" if inverse else "n"
    if norm == "ortho":
        return "sqrt"
    raise RuntimeError(f'Invalid normalization mode: "{norm}"')


def _resize(xp: Any, a: Any, axes: tuple, sizes: tuple) -> Any:
    """``a`` cut or zero-padded to ``sizes`` along ``axes`` (the transform's lengths)."""
    for ax, n in zip(axes, sizes):
        have = a.shape[ax]
        if have > n:
            a = a[(slice(None),) * ax + (slice(0, n),)]
        elif have < n:
            pad = [(0, 0)] * a.ndim
            pad[ax] = (0, n - have)
            a = xp.pad(a, pad)
    return a


def _complex_dtype(dt: Any) -> str:
    return "complex128" if dt.name in ("float64", "complex128") else "complex64"


class FftC2C(Op, name="FftC2CBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, sizes, scale, inverse):
        xp = ctx.xp
        ctx.axes, ctx.scale, ctx.inverse = axes, scale, inverse
        ctx.in_sizes = tuple(a.shape[ax] for ax in axes)
        x = _resize(xp, a, axes, sizes)
        fn = xp.fft.ifftn if inverse else xp.fft.fftn
        return fn(x, axes=axes, norm=_NP_NORM[(inverse, scale)]).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        # the adjoint of (resize, transform): the opposite transform, then resize back
        out = FftC2C.apply(g, axes=ctx.axes, sizes=tuple(g.shape[ax] for ax in ctx.axes),
                           scale=ctx.scale, inverse=not ctx.inverse)
        return _fit(out, ctx.axes, ctx.in_sizes)


class FftR2C(Op, name="FftR2CBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, sizes, scale, onesided, inverse=False):
        xp = ctx.xp
        ctx.axes, ctx.scale, ctx.onesided, ctx.inverse = axes, scale, onesided, inverse
        ctx.sizes, ctx.in_sizes = sizes, tuple(a.shape[ax] for ax in axes)
        x = _resize(xp, a, axes, sizes)
        norm = _NP_NORM[(inverse, scale)]
        if onesided:
            # rfftn transforms the last axis one-sided; an inverse is conj(forward) for real x
            out = xp.fft.rfftn(x, axes=axes, norm=_NP_NORM[(False, scale)])
            out = xp.conj(out) if inverse else out
        else:
            out = (xp.fft.ifftn if inverse else xp.fft.fftn)(x, axes=axes, norm=norm)
        return out.astype(_complex_dtype(a.dtype), copy=False)

    @staticmethod
    def backward(ctx, g):
        axes, sizes = ctx.axes, ctx.sizes
        if ctx.onesided:  # the half spectrum is a selection of the full one: zero-fill the rest
            g = _pad_last(g, axes[-1], sizes[-1])
        full = FftC2C.apply(g, axes=axes, sizes=sizes, scale=ctx.scale, inverse=not ctx.inverse)
        from .complex import real

        return _fit(real(full), axes, ctx.in_sizes)


def _pad_last(g: Tensor, axis: int, n: int) -> Tensor:
    from .arrange import cat

    have = g.shape[axis]
    if have >= n:
        return g
    shape = list(g.shape)
    shape[axis] = n - have
    xp = get_array_module(g._data)
    return cat([g, Tensor._make(xp.zeros(shape, dtype=g._data.dtype))], dim=axis)


class FftC2R(Op, name="FftC2RBackward0"):
    @staticmethod
    def forward(ctx, a, *, axes, sizes, scale, inverse=True):
        xp = ctx.xp
        ctx.axes, ctx.sizes, ctx.scale, ctx.inverse = axes, sizes, scale, inverse
        ctx.in_sizes = tuple(a.shape[ax] for ax in axes)
        half = sizes[:-1] + (sizes[-1] // 2 + 1,)
        x = _resize(xp, a, axes, half)
        x = x if inverse else xp.conj(x)  # (hfft: the forward transform of a Hermitian input)
        out = xp.fft.irfftn(x, s=sizes, axes=axes, norm=_NP_NORM[(True, scale)])
        return out.astype("float64" if a.dtype == "complex128" else "float32", copy=False)

    @staticmethod
    def backward(ctx, g):
        axes, sizes = ctx.axes, ctx.sizes
        gi = FftR2C.apply(g, axes=axes, sizes=sizes, scale=ctx.scale, onesided=True,
                          inverse=False)
        # every bin of the half spectrum but the first (and the Nyquist one, for even n) stands
        # for two bins of the full one
        n = sizes[-1]
        double = n - (n // 2 + 1)
        if double > 0:
            xp = get_array_module(gi._data)
            w = xp.ones(gi.shape[axes[-1]], dtype=gi._data.real.dtype)
            w[1:1 + double] = 2
            w = w.reshape((-1,) + (1,) * (gi.ndim - 1 - axes[-1]))
            gi = gi * Tensor._make(w)
        gi = gi if ctx.inverse else conj(gi)
        return _fit(gi, axes, ctx.in_sizes)


def _fit(g: Tensor, axes: tuple, sizes: tuple) -> Tensor:
    """``g`` cut or zero-padded back to the input's lengths (the adjoint of ``_resize``)."""
    from .arrange import cat

    for ax, n in zip(axes, sizes):
        have = g.shape[ax]
        if have > n:
            g = g.narrow(ax, 0, n)
        elif have < n:
            shape = list(g.shape)
            shape[ax] = n - have
            xp = get_array_module(g._data)
            g = cat([g, Tensor._make(xp.zeros(shape, dtype=g._data.dtype))], dim=ax)
    return g


# -- argument handling ----------------------------------------------------------------------------


class _ToComplex(Op, name="ToCopyBackward0"):
    """A real tensor as complex (torch's ``to``): the gradient is the real part."""

    @staticmethod
    def forward(ctx, a):
        return a.astype(_complex_dtype(a.dtype))

    @staticmethod
    def backward(ctx, g):
        from .complex import real

        return real(g)


def _floating(x: Tensor) -> Tensor:
    """Integer and bool inputs are transformed in the default dtype, as torch's."""
    if x.dtype.is_floating_point or x.dtype.is_complex:
        if x.dtype.name == "float16":
            raise RuntimeError("Unsupported dtype Half")
        return x
    return x.float()


def _one_dim(name: str, x: Tensor, n: int | None, dim: int) -> tuple:
    ax = _wrap_dim(dim, x.ndim)
    size = x.shape[ax] if n is None else n
    if size < 1:
        raise RuntimeError(f"Invalid number of data points ({size}) specified")
    return (ax,), (size,)


def _many_dims(x: Tensor, s: Sequence | None, dim: Any, default_all: bool = True) -> tuple:
    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
    elif isinstance(dim, int):
        dim = (dim,)
    if s is not None:
        s = tuple(s)
        if dim is not None and len(dim) != len(s):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
        if dim is None:
            dim = tuple(range(x.ndim - len(s), x.ndim))
    if dim is None:
        dim = tuple(range(x.ndim))
    axes = tuple(_wrap_dim(d, x.ndim) for d in dim)
    if len(set(axes)) != len(axes):
        raise RuntimeError("FFT dims must be unique")
    sizes = tuple(x.shape[ax] for ax in axes) if s is None else tuple(
        x.shape[ax] if n == -1 else n for ax, n in zip(axes, s))
    for n in sizes:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return axes, sizes


def _c2c(x: Tensor, axes: tuple, sizes: tuple, norm: str | None, inverse: bool) -> Tensor:
    x = _floating(x)
    scale = _scale(norm, inverse)
    if not x.is_complex():
        x = _ToComplex.apply(x)
    return FftC2C.apply(x, axes=axes, sizes=sizes, scale=scale, inverse=inverse)


def _r2c(name: str, x: Tensor, axes: tuple, sizes: tuple, norm: str | None,
         inverse: bool) -> Tensor:
    x = _floating(x)
    if x.is_complex():
        raise RuntimeError(f"{name} expects a real input tensor, but got {_cname(x)}")
    return FftR2C.apply(x, axes=axes, sizes=sizes, scale=_scale(norm, inverse), onesided=True,
                        inverse=inverse)


def _c2r(x: Tensor, axes: tuple, sizes: tuple, norm: str | None, inverse: bool) -> Tensor:
    x = _floating(x)
    if not x.is_complex():
        x = _ToComplex.apply(x)
    return FftC2R.apply(x, axes=axes, sizes=sizes, scale=_scale(norm, inverse), inverse=inverse)


def _cname(x: Tensor) -> str:
    return {"complex64": "ComplexFloat", "complex128": "ComplexDouble"}[x.dtype.name]


def _c2r_sizes(x: Tensor, axes: tuple, s: Sequence | None) -> tuple:
    """irfft's output lengths: ``s`` as given, else the inputs' lengths with the last one
    ``2 * (m - 1)``."""
    if s is not None:
        return tuple(x.shape[ax] if n == -1 else n for ax, n in zip(axes, s))
    sizes = tuple(x.shape[ax] for ax in axes)
    last = 2 * (sizes[-1] - 1)
    if last < 1:
        raise RuntimeError(f"Invalid number of data points ({last}) specified")
    return sizes[:-1] + (last,)


# -- public functions -----------------------------------------------------------------------------


def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The one-dimensional discrete Fourier transform."""
    axes, sizes = _one_dim("fft", input, n, dim)
    x = _floating(input)
    if not x.is_complex():  # torch: the full spectrum of a real input, in one R2C node
        return FftR2C.apply(x, axes=axes, sizes=sizes, scale=_scale(norm, False),
                            onesided=False)
    return FftC2C.apply(x, axes=axes, sizes=sizes, scale=_scale(norm, False), inverse=False)


def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The one-dimensional inverse discrete Fourier transform."""
    axes, sizes = _one_dim("ifft", input, n, dim)
    x = _floating(input)
    if not x.is_complex():  # torch: conj of the forward transform (a ConjBackward0 on top)
        y = FftR2C.apply(x, axes=axes, sizes=sizes, scale=_scale(norm, True), onesided=False)
        return conj(y)
    return FftC2C.apply(x, axes=axes, sizes=sizes, scale=_scale(norm, True), inverse=True)


def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The one-sided transform of a real input: the ``n // 2 + 1`` non-negative frequencies."""
    axes, sizes = _one_dim("rfft", input, n, dim)
    return _r2c("rfft", input, axes, sizes, norm, False)


def irfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of ``rfft``: a real signal of length ``n`` (default ``2 * (m - 1)``)."""
    ax = _wrap_dim(dim, input.ndim)
    sizes = _c2r_sizes(input, (ax,), None if n is None else (n,))
    if sizes[0] < 1:
        raise RuntimeError(f"Invalid number of data points ({sizes[0]}) specified")
    return _c2r(input, (ax,), sizes, norm, True)


def hfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The transform of a Hermitian-symmetric signal given by its one-sided half: real output."""
    ax = _wrap_dim(dim, input.ndim)
    sizes = _c2r_sizes(input, (ax,), None if n is None else (n,))
    if sizes[0] < 1:
        raise RuntimeError(f"Invalid number of data points ({sizes[0]}) specified")
    return _c2r(input, (ax,), sizes, norm, False)


def ihfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None) -> Tensor:
    """The inverse of ``hfft``: the one-sided inverse transform of a real signal."""
    axes, sizes = _one_dim("ihfft", input, n, dim)
    return _ihfft(input, axes, sizes, norm)


def _ihfft(input: Tensor, axes: tuple, sizes: tuple, norm: str | None) -> Tensor:
    x = _floating(input)
    if x.is_complex():
        raise RuntimeError(f"ihfft expects a real input tensor, but got {_cname(x)}")
    # torch: conj of the one-sided forward transform, scaled as an inverse (ConjBackward0)
    y = FftR2C.apply(x, axes=axes, sizes=sizes, scale=_scale(norm, True), onesided=True)
    return conj(y)


def fftn(input: Tensor, s: Sequence[int] | None = None, dim: Any = None,
         norm: str | None = None) -> Tensor:
    """The n-dimensional discrete Fourier transform over ``dim`` (all dims by default)."""
    axes, sizes = _many_dims(input, s, dim)
    return _c2c(input, axes, sizes, norm, False)


def ifftn(input: Tensor, s: Sequence[int] | None = None, dim: Any = None,
          norm: str | None = None) -> Tensor:
    """The n-dimensional inverse discrete Fourier transform."""
    axes, sizes = _many_dims(input, s, dim)
    return _c2c(input, axes, sizes, norm, True)


def fft2(input: Tensor, s: Sequence[int] | None = None, dim: Any = (-2, -1),
         norm: str | None = None) -> Tensor:
    """The two-dimensional discrete Fourier transform."""
    return fftn(input, s, dim, norm)


def ifft2(input: Tensor, s: Sequence[int] | None = None, dim: Any = (-2, -1),
          norm: str | None = None) -> Tensor:
    """The two-dimensional inverse discrete Fourier transform."""
    return ifftn(input, s, dim, norm)


def rfftn(input: Tensor, s: Sequence[int] | None = None, dim: Any = None,
          norm: str | None = None) -> Tensor:
    """The n-dimensional transform of a real input, one-sided in the last of ``dim``."""
    axes, sizes = _many_dims(input, s, dim)
    return _r2c("rfftn", input, axes, sizes, norm, False)


def rfft2(input: Tensor, s: Sequence[int] | None = None, dim: Any = (-2, -1),
          norm: str | None = None) -> Tensor:
    """The two-dimensional transform of a real input, one-sided in the last dim."""
    axes, sizes = _many_dims(input, s, dim)
    return _r2c("rfftn", input, axes, sizes, norm, False)


def irfftn(input: Tensor, s: Sequence[int] | None = None, dim: Any = None,
           norm: str | None = None) -> Tensor:
    """The inverse of ``rfftn``: a real output (the last length ``2 * (m - 1)`` unless given)."""
    axes, _ = _many_dims(input, s, dim)
    return _c2r(input, axes, _c2r_sizes(input, axes, s), norm, True)


def irfft2(input: Tensor, s: Sequence[int] | None = None, dim: Any = (-2, -1),
           norm: str | None = None) -> Tensor:
    """The inverse of ``rfft2``."""
    return irfftn(input, s, dim, norm)


def hfftn(input: Tensor, s: Sequence[int] | None = None, dim: Any = None,
          norm: str | None = None) -> Tensor:
    """The n-dimensional transform of a Hermitian-symmetric input given by its half."""
    axes, _ = _many_dims(input, s, dim)
    return _c2r(input, axes, _c2r_sizes(input, axes, s), norm, False)


def hfft2(input: Tensor, s: Sequence[int] | None = None, dim: Any = (-2, -1),
          norm: str | None = None) -> Tensor:
    """The two-dimensional ``hfftn``."""
    return hfftn(input, s, dim, norm)


def ihfftn(input: Tensor, s: Sequence[int] | None = None, dim: Any = None,
           norm: str | None = None) -> Tensor:
    """The inverse of ``hfftn``: one-sided in the last of ``dim``."""
    axes, sizes = _many_dims(input, s, dim)
    x = _floating(input)
    if x.is_complex():
        raise RuntimeError(f"ihfftn expects a real-valued input tensor, but got {_cname(x)}")
    # the last dim one-sided (conj of the forward transform), then the others inverse C2C
    y = conj(FftR2C.apply(x, axes=axes[-1:], sizes=sizes[-1:], scale=_scale(norm, True),
                          onesided=True))
    if len(axes) == 1:
        return y
    return FftC2C.apply(y, axes=axes[:-1], sizes=sizes[:-1], scale=_scale(norm, True),
                        inverse=True)


def ihfft2(input: Tensor, s: Sequence[int] | None = None, dim: Any = (-2, -1),
           norm: str | None = None) -> Tensor:
    """The two-dimensional ``ihfftn``."""
    return ihfftn(input, s, dim, norm)


def _shift(input: Tensor, dim: Any, sign: int) -> Tensor:
    from .arrange import roll

    if dim is None:
        dim = tuple(range(input.ndim))
    elif isinstance(dim, int):
        dim = (dim,)
    dims = tuple(_wrap_dim(d, input.ndim) for d in dim)
    shifts = tuple((input.shape[d] // 2) if sign > 0 else -(input.shape[d] // 2) for d in dims)
    return roll(input, shifts, dims)


def fftshift(input: Tensor, dim: Any = None) -> Tensor:
    """Moves the zero frequency to the centre (a roll by half of each dim)."""
    return _shift(input, dim, 1)


def ifftshift(input: Tensor, dim: Any = None) -> Tensor:
    """The inverse of ``fftshift``."""
    return _shift(input, dim, -1)


def _freq_tensor(values: Any, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    from .. import dtypes as _dt
    from ..tensor import _factory_result

    d = _dt.get_default_dtype() if dtype is None else _dt.to_dtype(dtype)
    return _factory_result(values.astype(d.np), requires_grad, device)


def fftfreq(n: int, d: float = 1.0, *, dtype: Any = None, layout: Any = None,
            device: Any = None, requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an ``n``-point transform with spacing ``d``."""
    xp = get_array_module()
    return _freq_tensor(xp.fft.fftfreq(n, d), dtype, requires_grad, device)


def rfftfreq(n: int, d: float = 1.0, *, dtype: Any = None, layout: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """The non-negative sample frequencies of an ``n``-point ``rfft``."""
    xp = get_array_module()
    return _freq_tensor(xp.fft.rfftfreq(n, d), dtype, requires_grad, device)


__all__: list = []  # (the names live in ember.fft)
TENSOR_METHODS: dict = {}
