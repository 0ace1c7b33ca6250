"""``torch.backends.cpu``: the CPU's vector capability."""
from __future__ import annotations

__all__ = ["get_cpu_capability"]


def get_cpu_capability() -> str:
    """NumPy picks its own kernels at run time; ``"DEFAULT"`` is torch's name for no dispatch."""
    return "DEFAULT"
