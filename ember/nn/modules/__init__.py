"""The layer classes of ``ember.nn``, one module per category."""
from __future__ import annotations

from .module import Module
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .linear import Identity, Linear

__all__ = [
    "Module",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "Identity",
    "Linear",
]

# layers, functional-API wrappers and losses (conv, pooling, normalisation, activations, ...)
from . import activation, batchnorm, conv, dropout, flatten, loss, normalization, padding, \
    pooling, sparse  # noqa: E402
from . import conv_nd, layers_ext, loss_ext, pooling_nd  # noqa: E402
from . import rnn, transformer  # noqa: E402
from .activation import *  # noqa: E402,F401,F403
from .batchnorm import *  # noqa: E402,F401,F403
from .conv import *  # noqa: E402,F401,F403
from .dropout import *  # noqa: E402,F401,F403
from .flatten import *  # noqa: E402,F401,F403
from .loss import *  # noqa: E402,F401,F403
from .normalization import *  # noqa: E402,F401,F403
from .padding import *  # noqa: E402,F401,F403
from .pooling import *  # noqa: E402,F401,F403
from .sparse import *  # noqa: E402,F401,F403
from .conv_nd import *  # noqa: E402,F401,F403
from .pooling_nd import *  # noqa: E402,F401,F403
from .layers_ext import *  # noqa: E402,F401,F403
from .loss_ext import *  # noqa: E402,F401,F403
from .rnn import *  # noqa: E402,F401,F403
from .transformer import *  # noqa: E402,F401,F403
from . import lazy, legacy  # noqa: E402
from .lazy import *  # noqa: E402,F401,F403
from .legacy import *  # noqa: E402,F401,F403

for _m in (activation, batchnorm, conv, dropout, flatten, loss, normalization, padding, pooling,
           sparse, conv_nd, pooling_nd, layers_ext, loss_ext, rnn, transformer, lazy, legacy):
    __all__ += _m.__all__
del _m
