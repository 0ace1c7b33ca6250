"""Pillow as an optional extra: imported only when an image operation needs it."""
from __future__ import annotations

import sys
from typing import Any

__all__: list[str] = []

_INSTALL_HINT = "pip install 'ember[vision]'"


def require_pil(what: str = "This operation") -> Any:
    """Returns ``PIL.Image``, or raises ModuleNotFoundError naming the extra to install."""
    try:
        from PIL import Image
    except ImportError as e:
        raise ModuleNotFoundError(
            f"{what} needs Pillow, which is not installed: {_INSTALL_HINT}", name="PIL") from e
    return Image


def is_pil_image(obj: Any) -> bool:
    # Without PIL imported nothing can be a PIL image, so there is no need to import it here.
    image_module = sys.modules.get("PIL.Image")
    return image_module is not None and isinstance(obj, image_module.Image)
