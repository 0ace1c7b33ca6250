"""``torch.utils.tensorboard``: ``SummaryWriter`` writing real TensorBoard event files.

The files are written by tensorboardX (the ``ember[tensorboard]`` extra), a maintained writer of
TensorBoard's protobuf format; ``tensorboard --logdir runs`` shows them as it shows torch's.
"""
from __future__ import annotations

try:
    import tensorboardX  # noqa: F401
except ModuleNotFoundError as e:  # pragma: no cover - depends on the environment
    if e.name != "tensorboardX":
        raise
    raise ModuleNotFoundError(
        "ember.utils.tensorboard needs tensorboardX, which is not installed: "
        "pip install 'ember[tensorboard]'", name="tensorboardX") from None

from .writer import FileWriter, SummaryWriter  # noqa: E402

__all__ = ["FileWriter", "SummaryWriter"]
