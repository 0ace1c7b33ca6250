"""torch's in-place functions at module level: ``torch.exp_(x)`` is ``x.exp_()``, ``torch.
clamp_min_(x, 0)`` is ``x.clamp_min_(0)``. Each forwards to the Tensor method of the same name,
looked up at the call, so the function and the method can never differ."""
from __future__ import annotations

from typing import Any, Callable

from ..tensor import Tensor

# torch's torch-level in-place functions whose Tensor methods ember has (the names torch defines
# at module level, nn's ones such as relu_ and selu_ included)
NAMES = (
    "abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_max_", "clamp_min_",
    "cos_", "cosh_", "deg2rad_", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_",
    "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_", "log10_", "log1p_", "log2_", "log_",
    "logit_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "round_", "rsqrt_",
    "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_", "xlogy_",
    "zero_",
)


def _forwarding(name: str) -> Callable[..., Tensor]:
    def fn(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"In-place version of :func:`ember.{name[:-1]}`: ``input.{name}(...)``."
    return fn


globals().update({name: _forwarding(name) for name in NAMES})

__all__ = list(NAMES)
TENSOR_METHODS: dict[str, Any] = {}
