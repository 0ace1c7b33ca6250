"""Probability distributions with torch.distributions' API: parameters, ``sample`` and
``rsample`` (reparameterized, differentiable), ``log_prob``, ``entropy``, moments, argument and
sample validation, transforms and ``kl_divergence``.

Samples are drawn from ember's generator, so their values differ from torch's; the
distributions, densities, entropies, moments and KL divergences are torch's.
"""
from __future__ import annotations

from . import constraints, transforms  # noqa: F401
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical, OneHotCategorical
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .log_normal import LogNormal
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import (AbsTransform, AffineTransform, ComposeTransform, ExpTransform,
                         IndependentTransform, PowerTransform, SigmoidTransform,
                         SoftmaxTransform, SoftplusTransform, TanhTransform, Transform,
                         identity_transform)
from .uniform import Uniform

__all__ = ["AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Categorical",
           "ComposeTransform", "Dirichlet", "Distribution", "ExpTransform", "Exponential",
           "Gamma", "Independent", "IndependentTransform", "Laplace", "LogNormal",
           "MultivariateNormal", "Normal", "OneHotCategorical", "PowerTransform",
           "SigmoidTransform", "SoftmaxTransform", "SoftplusTransform", "TanhTransform",
           "Transform", "TransformedDistribution", "Uniform", "constraints",
           "identity_transform", "kl_divergence", "register_kl", "transforms"]
