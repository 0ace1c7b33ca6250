"""torch.special's Bessel functions of order 0 and 1 beyond I: J (``bessel_j0``/``j1``), Y
(``bessel_y0``/``y1``), K (``modified_bessel_k0``/``k1``) and e^x K
(``scaled_modified_bessel_k0``/``k1``), and the Airy function ``airy_ai``. As in torch they have
no gradient (their results never require grad), take float32/float64 (integers and bool give
the default float dtype) and refuse half precision and complex inputs. The kernels are the
backend's (``backend/numpy_bessel.py``)."""
from __future__ import annotations

from typing import Callable

from .. import dtypes as _dt
from ..backend import backend_of
from ..tensor import Tensor
from ._util import float_array
from .inplace import type_name


def _special(name: str, doc: str, arg: str = "input") -> Callable:
    def compute(input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"special_{name}(): argument '{arg}' (position 1) must be Tensor, "
                            f"not {type(input).__name__}")
        a = input._data
        if input.dtype in (_dt.float16, _dt.bfloat16) or input.is_complex():
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{type_name(input)}'")
        a = float_array(a)
        return Tensor._make(backend_of(a).bessel(name, a))

    # torch names the argument ``x`` for the scaled K and Ai, ``input`` for the others
    if arg == "x":
        def fn(x: Tensor) -> Tensor:
            return compute(x)
    else:
        def fn(input: Tensor) -> Tensor:
            return compute(input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


bessel_j0 = _special("bessel_j0", "The Bessel function of the first kind of order 0, J0.")
bessel_j1 = _special("bessel_j1", "The Bessel function of the first kind of order 1, J1.")
bessel_y0 = _special("bessel_y0", "The Bessel function of the second kind of order 0, Y0 "
                                  "(NaN for negative inputs).")
bessel_y1 = _special("bessel_y1", "The Bessel function of the second kind of order 1, Y1 "
                                  "(NaN for negative inputs).")
modified_bessel_k0 = _special("modified_bessel_k0", "The modified Bessel function of the second "
                                                    "kind of order 0, K0.")
modified_bessel_k1 = _special("modified_bessel_k1", "The modified Bessel function of the second "
                                                    "kind of order 1, K1.")
scaled_modified_bessel_k0 = _special("scaled_modified_bessel_k0",
                                     "``exp(x) * K0(x)``, finite where K0 underflows.", "x")
scaled_modified_bessel_k1 = _special("scaled_modified_bessel_k1",
                                     "``exp(x) * K1(x)``, finite where K1 underflows.", "x")
airy_ai = _special("airy_ai", "The Airy function Ai.", "x")

NAMES = ("bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_k0",
         "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
         "airy_ai")
__all__: list[str] = []  # torch.special's names only (ember.special imports them)
TENSOR_METHODS: dict = {}
