"""``ember.nn``: modules, parameters, initialisation and the functional API (``torch.nn``)."""
from __future__ import annotations

from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
from .modules import *  # noqa: F401,F403
from . import functional, init, utils  # noqa: F401
from . import common_types  # noqa: F401
from ._factory import factory_kwargs  # noqa: F401
from .modules.syncbatchnorm import SyncBatchNorm  # noqa: F401,E402
from . import parallel  # noqa: F401,E402

from .. import _missing  # noqa: E402

_missing.install(functional, "torch.nn.functional")  # torch names ember lacks raise MissingAPIError
__getattr__ = _missing.module_getattr(__name__, "torch.nn")
