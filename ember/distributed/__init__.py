"""``ember.distributed``: torch.distributed's API, running on MPI (mpi4py and the MPICH wheel).

``import ember.distributed as dist`` works without MPI installed (``dist.is_available()`` is then
False); ``init_process_group`` says which extra to install. Start the ranks with
``python -m ember.distributed.run --nproc-per-node N script.py`` (torchrun's options; also
``ember run --nproc-per-node N``) or ``mpiexec -n N python script.py``. Under either, importing
this package exports torchrun's variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) where the launch did not set them, so a
script may read ``LOCAL_RANK`` before ``init_process_group``.
"""
from __future__ import annotations

from . import _mpi
from .distributed_c10d import *  # noqa: F401,F403
from .distributed_c10d import __all__ as _c10d_all, is_available

__all__ = ["is_available", *_c10d_all]

_info = _mpi.launch_info()
if _info is not None:
    _mpi.fill_environment(*_info)
del _info

from .._missing import module_getattr as _module_getattr  # noqa: E402

__getattr__ = _module_getattr(__name__, "torch.distributed")  # torch's names: MissingAPIError
