"""``torch.nn.functional``'s losses beyond ``functional.py`` (re-exported by it)."""
from __future__ import annotations

__all__: list = []
