"""``torch.onnx``: importable; exporting comes with its own issue. Until then every torch.onnx name
raises ``MissingAPIError`` naming it (``hasattr`` stays False)."""
from __future__ import annotations

from ._missing import MissingAPIError, missing_message

__all__: list[str] = []

# torch.onnx's public names in torch 2.13 (this namespace is not in ember/_torch_names.py)
_TORCH_ONNX = frozenset({
    "ExportOptions", "ONNXProgram", "OnnxExporterError", "OperatorExportTypes",
    "TensorProtoDataType", "TrainingMode", "dynamo_export", "enable_fake_mode", "errors",
    "export", "is_in_onnx_export", "is_onnxrt_backend_supported", "ops", "producer_name",
    "producer_version", "register_custom_op_symbolic", "select_model_mode_for_export",
    "symbolic_helper", "unregister_custom_op_symbolic", "utils", "verification",
})


def is_in_onnx_export() -> bool:
    """False: ember never exports to ONNX (yet)."""
    return False


def __getattr__(name: str) -> object:
    if name.startswith("__"):
        raise AttributeError(f"module 'ember.onnx' has no attribute '{name}'")
    if name in _TORCH_ONNX or not name.startswith("_"):
        err = MissingAPIError(missing_message(f"torch.onnx.{name}", f"ember.onnx.{name}"))
        err.name = name
        raise err
    raise AttributeError(f"module 'ember.onnx' has no attribute '{name}'")
