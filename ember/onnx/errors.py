"""``torch.onnx.errors``: the exporter's exceptions."""
from __future__ import annotations

__all__ = ["OnnxExporterWarning", "SymbolicValueError", "UnsupportedOperatorError"]


class OnnxExporterError(RuntimeError):
    """Errors raised by the ONNX exporter."""


class OnnxExporterWarning(UserWarning):
    """Warnings of the ONNX exporter."""


class SymbolicValueError(OnnxExporterError):
    """A value the exporter cannot express."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op with no ONNX translation at the requested opset (torch's message)."""

    def __init__(self, name: str, version: int, supported_version: int | None) -> None:
        msg = f"Exporting the operator '{name}' to ONNX opset version {version} is not supported"
        if supported_version is not None:
            msg += (f". Support for this operator was added in version {supported_version}, try "
                    "exporting with this version")
        super().__init__(msg)
