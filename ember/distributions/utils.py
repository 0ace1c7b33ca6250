"""Helpers of the distributions: broadcasting parameters, probabilities <-> logits, lazily
computed attributes, machine constants of the float dtypes."""
from __future__ import annotations

from numbers import Number
from typing import Any, Callable

import ember
from ..graph import grad_mode
from ..ops._util import broadcast_shape
from ..tensor import Tensor

__all__ = ["broadcast_all", "logits_to_probs", "probs_to_logits", "clamp_probs", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060  # Euler Mascheroni Constant

# eps (the gap above 1), tiny (the smallest normal number), max of each float dtype
_FINFO = {"float16": (0.0009765625, 6.103515625e-05, 65504.0),
          "bfloat16": (0.0078125, 1.1754943508222875e-38, 3.3895313892515355e+38),
          "float32": (1.1920928955078125e-07, 1.1754943508222875e-38, 3.4028234663852886e+38),
          "float64": (2.220446049250313e-16, 2.2250738585072014e-308, 1.7976931348623157e+308)}


def finfo(dtype: Any) -> tuple[float, float, float]:
    """(eps, tiny, max) of a float dtype."""
    return _FINFO[dtype.name]


def broadcast_all(*values: Any) -> tuple[Tensor, ...]:
    """The values as tensors of one broadcast shape; numbers become tensors of the tensors'
    dtype (the default dtype when there are none)."""
    if not all(isinstance(v, (Tensor, Number)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor "
                         "or objects implementing __torch_function__.")
    if not all(isinstance(v, Tensor) for v in values):
        dtype = ember.get_default_dtype()
        for value in values:
            if isinstance(value, Tensor):
                dtype = value.dtype
                break
        values = tuple(v if isinstance(v, Tensor) else ember.tensor(v, dtype=dtype)
                       for v in values)
    shape = broadcast_shape(*(tuple(v.shape) for v in values))
    return tuple(v if tuple(v.shape) == shape else v.expand(shape) for v in values)


def _standard_normal(shape: tuple, dtype: Any) -> Tensor:
    return ember.randn(shape, dtype=dtype)


def _sum_rightmost(value: Any, dim: int) -> Any:
    """Sums out the ``dim`` rightmost dimensions of ``value``."""
    if dim == 0:
        return value
    required_shape = tuple(value.shape[:value.dim() - dim]) + (-1,)
    return value.reshape(required_shape).sum(-1)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """Probabilities from logits: the sigmoid (binary) or the softmax over the last dim."""
    if is_binary:
        return ember.sigmoid(logits)
    return ember.softmax(logits, dim=-1)


def clamp_probs(probs: Tensor) -> Tensor:
    """Probabilities clamped to [eps, 1 - eps] of their dtype."""
    eps = finfo(probs.dtype)[0]
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """Logits from probabilities (log-odds when ``is_binary``, else log-probabilities)."""
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return ember.log(ps_clamped) - ember.log1p(-ps_clamped)
    return ember.log(ps_clamped)


class lazy_property:  # noqa: N801  (torch's name)
    """A property computed on first access (with gradients recorded) and then stored on the
    instance."""

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__

    def __get__(self, instance: Any, obj_type: Any = None) -> Any:
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with grad_mode.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):  # noqa: N801
    """What ``lazy_property`` is on the class: a property, so documentation tools see one."""

    def __init__(self, wrapped: Callable[[Any], Any]) -> None:
        property.__init__(self, wrapped)


def tril_matrix_to_vec(mat: Tensor, diag: int = 0) -> Tensor:
    """The lower triangle (below diagonal ``diag``) of ``mat``'s last two dims, as a vector."""
    n = mat.shape[-1]
    if not -n <= diag < n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    rows, cols = ember.tril_indices(n, n, offset=diag)
    return mat[..., rows, cols]


def vec_to_tril_matrix(vec: Tensor, diag: int = 0) -> Tensor:
    """The inverse of :func:`tril_matrix_to_vec`."""
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (
        diag + 1)) ** 0.5) / 2
    eps = 1.1920928955078125e-07
    if round(n) - n > eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be "
                         "expressed as the lower triangular part of a square D x D matrix.")
    n = round(n.item()) if isinstance(n, Tensor) else round(n)
    mat = vec.new_zeros(tuple(vec.shape[:-1]) + (n, n))
    rows, cols = ember.tril_indices(n, n, offset=diag)
    mat[..., rows, cols] = vec
    return mat
