"""Whether an export is running (``is_in_onnx_export``)."""
exporting = False
