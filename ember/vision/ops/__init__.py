"""``ember.vision.ops``: the building blocks torchvision's models share (``torchvision.ops``)."""
from __future__ import annotations

from .misc import MLP, Conv2dNormActivation, Permute, SqueezeExcitation
from .stochastic_depth import StochasticDepth, stochastic_depth

__all__ = ["Conv2dNormActivation", "MLP", "Permute", "SqueezeExcitation", "StochasticDepth",
           "stochastic_depth"]
