"""Checkpoints: PyTorch's ``.pt``/``.pth`` format and safetensors, without PyTorch.

``ember.io.save`` / ``ember.io.load`` (also ``ember.save`` / ``ember.load``) write and read the files
``torch.save`` / ``torch.load`` do; loading never runs code from the file.
"""
from . import serialization
from .serialization import UnsafeCheckpointError, load, save

__all__ = ["save", "load", "UnsafeCheckpointError", "serialization"]
