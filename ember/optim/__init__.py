"""Optimizers and learning-rate schedulers with torch.optim's API."""
from __future__ import annotations

from . import lr_scheduler  # noqa: F401
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]

from .. import _missing  # noqa: E402

__getattr__ = _missing.module_getattr(__name__, "torch.optim")  # torch's: MissingAPIError
