"""The Tensor carrier of backward formulas: under ``create_graph`` an op's one backward runs on
Tensors, and ``ctx.F`` is ``TENSORS``, whose functions are recorded ember ops, so gradients of
gradients follow. The same names on arrays are the backend's (``backend/vocabulary.py``); each
name here is the formula, each there its kernel."""
from __future__ import annotations

from typing import Any

from ..dtypes import _FROM_NP
from ..tensor import Tensor
from ._op import Context
from .compare import where
from .elementwise import _zeros_like
from .linalg import _mm
from .reduce import sum_to_size


class TensorVocabulary:
    arrays = False

    @staticmethod
    def const(x: Any) -> Tensor:
        return Tensor._make(x)  # outside the graph

    @staticmethod
    def data(x: Tensor) -> Any:
        return x._data

    @staticmethod
    def t(x: Tensor) -> Tensor:
        return x.t()

    @staticmethod
    def unsqueeze(x: Tensor, dim: int) -> Tensor:
        return x.unsqueeze(dim)

    @staticmethod
    def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
        return x.transpose(dim0, dim1)

    @staticmethod
    def permute(x: Tensor, dims: Any) -> Tensor:
        return x.permute(dims)

    @staticmethod
    def expand(x: Tensor, shape: tuple) -> Tensor:
        return x.expand(shape)

    @staticmethod
    def exp(x: Tensor) -> Tensor:
        return x.exp()

    @staticmethod
    def sin(x: Tensor) -> Tensor:
        return x.sin()

    @staticmethod
    def cos(x: Tensor) -> Tensor:
        return x.cos()

    @staticmethod
    def sinh(x: Tensor) -> Tensor:
        return x.sinh()

    @staticmethod
    def cosh(x: Tensor) -> Tensor:
        return x.cosh()

    @staticmethod
    def rsqrt(x: Tensor) -> Tensor:
        return x.rsqrt()

    @staticmethod
    def conj(x: Any) -> Any:
        return x.conj() if isinstance(x, Tensor) else x.conjugate()

    zeros_like = staticmethod(_zeros_like)

    @staticmethod
    def sum(x: Tensor, dim: int | tuple | None = None, keepdim: bool = False) -> Tensor:
        return x.sum() if dim is None else x.sum(dim, keepdim=keepdim)

    mm = staticmethod(_mm)

    @staticmethod
    def threshold_backward(g: Tensor, y: Tensor) -> Tensor:
        return where(y <= 0, 0.0, g)  # 0 at 0, and g passes at nan

    @staticmethod
    def mean_backward(g: Tensor, shape: tuple, count: int) -> Tensor:
        # expand before dividing: an empty input gets an empty gradient, not a 0/0 warning
        return g.expand(shape) / count

    sum_to = staticmethod(sum_to_size)

    def softmax_backward(self, g: Tensor, y: Tensor, dim: int, log: bool) -> Tensor:
        if log:
            return g - y.exp() * self.sum(g, dim, keepdim=True)
        return y * (g - self.sum(g * y, dim, keepdim=True))

    @staticmethod
    def cast(g: Tensor, dtype: Any) -> Tensor:
        if g.is_complex() and dtype.kind != "c":  # a real input's gradient: the real part
            from .complex import real

            g = real(g)
        return g.to(_FROM_NP[dtype])

    @staticmethod
    def op(cls: Any, *args: Any, **kwargs: Any) -> Any:
        """An ember op used in a formula (its forward is the kernel on arrays)."""
        return cls.apply(*args, **kwargs)


TENSORS = TensorVocabulary()
Context.tensor_vocabulary = TENSORS
