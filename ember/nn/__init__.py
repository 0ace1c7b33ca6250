"""``ember.nn``: modules, parameters, initialisation and the functional API (``torch.nn``)."""
from __future__ import annotations

from .parameter import Buffer, Parameter
from .modules import *  # noqa: F401,F403
from . import functional, init, utils  # noqa: F401
from .modules.syncbatchnorm import SyncBatchNorm  # noqa: F401,E402
from . import parallel  # noqa: F401,E402
