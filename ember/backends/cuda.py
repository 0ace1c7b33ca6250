"""``torch.backends.cuda``: not built with CUDA; ``matmul`` keeps torch's flags."""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator

__all__ = ["is_built", "matmul", "cufft_plan_cache", "preferred_linalg_library",
           "flash_sdp_enabled", "mem_efficient_sdp_enabled", "math_sdp_enabled",
           "enable_flash_sdp", "enable_mem_efficient_sdp", "enable_math_sdp", "cudnn_sdp_enabled",
           "enable_cudnn_sdp", "sdp_kernel"]


def is_built() -> bool:
    """False: ember has no CUDA backend."""
    return False


class cuBLASModule:  # noqa: N801 - torch's name
    """``torch.backends.cuda.matmul``: its three flags, and torch's error for any other."""

    _FLAGS = ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction",
              "allow_fp16_accumulation")

    def __init__(self) -> None:
        object.__setattr__(self, "_values", {"allow_fp16_reduced_precision_reduction": True,
                                             "allow_bf16_reduced_precision_reduction": True,
                                             "allow_fp16_accumulation": False})

    def __getattr__(self, name: str) -> Any:
        if name == "allow_tf32":  # torch ties it to the float32 matmul precision
            from .. import _settings

            return _settings.state.matmul_precision != "highest"
        if name in self._FLAGS:
            return self._values[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "allow_tf32":
            from .. import _settings

            _settings.state.matmul_precision = "high" if value else "highest"
        elif name in self._FLAGS:
            self._values[name] = value
        else:
            raise AttributeError(f"Unknown attribute {name}")


matmul = cuBLASModule()
preferred_linalg_library_backend = "default"


class _PlanCache:
    """``cufft_plan_cache``: sizes torch reports without CUDA."""

    size = 0
    max_size = 4096

    def clear(self) -> None:
        """Nothing is cached."""


cufft_plan_cache = _PlanCache()


def preferred_linalg_library(backend: Any = None) -> Any:
    """Accepted and ignored: ember's linear algebra runs on NumPy (torch returns the choice)."""
    return backend


# scaled_dot_product_attention's kernel switches: torch's defaults, remembered
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def flash_sdp_enabled() -> bool:
    return _sdp["flash"]


def mem_efficient_sdp_enabled() -> bool:
    return _sdp["mem_efficient"]


def math_sdp_enabled() -> bool:
    return _sdp["math"]


def enable_flash_sdp(enabled: bool) -> None:
    _sdp["flash"] = enabled


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _sdp["mem_efficient"] = enabled


def enable_math_sdp(enabled: bool) -> None:
    _sdp["math"] = enabled


def cudnn_sdp_enabled() -> bool:
    return _sdp["cudnn"]


def enable_cudnn_sdp(enabled: bool) -> None:
    _sdp["cudnn"] = enabled


@contextlib.contextmanager
def sdp_kernel(enable_flash: bool = True, enable_math: bool = True,
               enable_mem_efficient: bool = True, enable_cudnn: bool = True) -> Iterator[dict]:
    """Sets the attention kernel switches for a ``with`` block (deprecated in torch, as here).
    ember's scaled_dot_product_attention has one CPU kernel, whatever they say."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context "
                  "manager will be removed. Please see `torch.nn.attention.sdpa_kernel()` for the "
                  "new context manager, with updated signature.", FutureWarning, stacklevel=3)
    before = dict(_sdp)
    _sdp.update(flash=enable_flash, math=enable_math, mem_efficient=enable_mem_efficient,
                cudnn=enable_cudnn)
    try:
        yield {}
    finally:
        _sdp.update(before)
