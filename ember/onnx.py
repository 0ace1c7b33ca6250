"""``torch.onnx``: importable; exporting comes with its own issue. Until then every torch.onnx name
ember lacks raises ``MissingAPIError`` naming it (``hasattr`` stays False)."""
from __future__ import annotations

from ._missing import module_getattr as _module_getattr

__all__ = ["is_in_onnx_export"]


def is_in_onnx_export() -> bool:
    """False: ember never exports to ONNX (yet)."""
    return False


__getattr__ = _module_getattr(__name__, "torch.onnx")  # torch's names ember lacks: MissingAPIError
