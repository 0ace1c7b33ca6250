"""Indexing: getitem/setitem, gather, scatter, index_select, masked_fill."""
from __future__ import annotations

__all__: list[str] = []
TENSOR_METHODS: dict = {}
