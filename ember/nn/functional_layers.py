"""``torch.nn.functional``'s activations, normalisations, distances, dropouts and embedding
bags beyond ``functional.py`` (re-exported by it)."""
from __future__ import annotations

__all__: list = []
