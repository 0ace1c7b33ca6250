"""Copies and conversions: clone, contiguous, to, type casts."""
from __future__ import annotations

__all__: list[str] = []
TENSOR_METHODS: dict = {}
