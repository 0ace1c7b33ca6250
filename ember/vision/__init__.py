"""``ember.vision``: torchvision's models, transforms and datasets on ember
(``import ember.vision as torchvision``).

Pillow and scikit-learn are optional extras (``pip install 'ember[vision]'``), imported only
when an image is actually read or the Digits dataset is loaded.
"""
from __future__ import annotations

from . import datasets, models, transforms  # noqa: F401

# The torchvision release whose API this package follows (torch 2.13 pairs with 0.28), so
# scripts that check ``torchvision.__version__`` see a version with the APIs ember provides.
__version__ = "0.28.0+ember"

__all__ = ["datasets", "models", "transforms"]
