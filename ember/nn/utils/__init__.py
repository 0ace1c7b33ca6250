"""``ember.nn.utils``: gradient clipping and parameter/vector conversion."""
from __future__ import annotations

from . import clip_grad, convert_parameters  # noqa: F401
from . import rnn  # noqa: F401
from . import fusion, parametrizations, parametrize  # noqa: F401
from .clip_grad import (  # noqa: F401
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401,E402
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401,E402

from ..._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.nn.utils")  # torch's: MissingAPIError

from ..._device_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(__name__)
