"""``ember.special``: ``torch.special``'s functions (the ops live in ``ops/special.py``,
``ops/unary.py`` and ``ops/reduce.py``; this module is the namespace)."""
from __future__ import annotations

from typing import Any

from .ops.reduce import logsumexp  # noqa: F401
from .ops.reduce import log_softmax as _log_softmax
from .ops.reduce import softmax as _softmax
from .ops.special import (  # noqa: F401
    digamma,
    entr,
    erfcx,
    erfinv,
    i0,
    i0e,
    i1,
    i1e,
    igamma as gammainc,
    igammac as gammaincc,
    lgamma as gammaln,
    log_ndtr,
    logit,
    ndtr,
    ndtri,
    polygamma as _polygamma,
    sinc,
    xlog1py,
    xlogy,
    zeta,
)
from .ops.special import POLYNOMIALS as _POLYNOMIALS
from .ops.special import modified_bessel_i0, modified_bessel_i1, spherical_bessel_j0  # noqa: F401
from .ops.special import mvlgamma as _mvlgamma
from .ops.bessel import (  # noqa: F401
    NAMES as _BESSEL, airy_ai, bessel_j0, bessel_j1, bessel_y0, bessel_y1, modified_bessel_k0,
    modified_bessel_k1, scaled_modified_bessel_k0, scaled_modified_bessel_k1,
)
from .ops.unary import erf, erfc, exp2, expm1, log1p  # noqa: F401
from .ops.unary import round as _round
from .ops.unary import sigmoid as expit  # noqa: F401
from .tensor import Tensor

psi = digamma
globals().update(_POLYNOMIALS)  # chebyshev_polynomial_t, ..., legendre_polynomial_p


def polygamma(n: int, input: Tensor) -> Tensor:
    """The ``n``-th derivative of digamma, element-wise."""
    return _polygamma(n, input, _name="special_polygamma")


def round(input: Tensor) -> Tensor:  # noqa: A001
    """Rounds half to even (torch records it with its decimals=0: ``RoundBackward1``)."""
    return _round(input, decimals=0)


def multigammaln(input: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma function of dimension ``p`` (``mvlgamma``)."""
    return _mvlgamma(input, p)


def softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """``exp(input)`` normalised to sum to 1 along ``dim``; ``dtype`` casts the input first."""
    return _softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """``log(softmax(input, dim))``, computed stably."""
    return _log_softmax(input, dim, dtype)


__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1",
           "gammainc", "gammaincc", "gammaln", "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr",
           "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "polygamma", "psi",
           "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta", "modified_bessel_i0",
           "modified_bessel_i1", "spherical_bessel_j0", *_POLYNOMIALS, *_BESSEL]

from ._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.special")  # torch's names ember lacks: MissingAPIError

from ._device_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(__name__)
