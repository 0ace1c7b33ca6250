"""The MPI engine under ``ember.distributed``: loading mpi4py, polling requests against a
deadline, staging tensors into buffers MPI can use, and ending the whole job when a rank fails.

MPI has no timeouts and, on an uncaught exception, leaves the other ranks waiting forever; both
are fixed here (``../shared/design/DISTRIBUTED.md`` §7 has the measurements). Every collective is
the non-blocking ``I*`` call polled with ``Test`` until a deadline, and a failing rank calls
``MPI_Abort``, on which ``mpiexec`` (Hydra) kills every rank of the job.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from typing import Any, Callable, Sequence

import numpy as np

INSTALL_HINT = "pip install 'ember[distributed]' (or: pip install mpi4py mpich)"


def available() -> bool:
    """Whether mpi4py can be imported (it is not, until the ``distributed`` extra is installed)."""
    return importlib.util.find_spec("mpi4py") is not None


_MPI: Any = None


def load() -> Any:
    """``mpi4py.MPI``, imported (which initialises MPI) on first use."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError(f"ember.distributed runs on MPI, and mpi4py is not installed: "
                               f"{INSTALL_HINT}") from e
        _MPI = MPI
    return _MPI


# -- which rank am I: the variables of the process managers ---------------------------------------

# (rank, size, local rank, local size) as Hydra (MPICH), Open MPI and Slurm export them
_LAUNCH_VARS = (
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"),
    ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"),
)


def launch_info(environ: dict | None = None) -> tuple[int, int, int, int] | None:
    """(rank, world size, local rank, local world size) from the process manager's variables,
    or None when this process was not started by one."""
    env = os.environ if environ is None else environ
    for rank, size, local, local_size in _LAUNCH_VARS:
        if rank in env and size in env:
            r, n = int(env[rank]), int(env[size])
            lr = int(env.get(local, r))
            # Slurm writes e.g. "2(x3)" when nodes differ; the leading count is this node's
            ln = env.get(local_size, str(n)).split("(")[0]
            return r, n, lr, int(ln) if ln.isdigit() else n
    return None


def fill_environment(rank: int, size: int, local_rank: int, local_size: int) -> None:
    """torchrun's variables for a rank, where the launch did not set them already."""
    defaults = {"RANK": rank, "WORLD_SIZE": size, "LOCAL_RANK": local_rank,
                "LOCAL_WORLD_SIZE": local_size, "GROUP_RANK": rank // max(local_size, 1),
                "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": 29500}
    for key, value in defaults.items():
        os.environ.setdefault(key, str(value))


# -- buffers --------------------------------------------------------------------------------------

def host_array(t: Any) -> np.ndarray:
    """The NumPy array behind a tensor (device arrays are copied to the host: the MPICH wheel is
    not CUDA-aware)."""
    a = t._data
    if isinstance(a, np.ndarray):
        return a
    return a.get() if hasattr(a, "get") else np.asarray(a)


def as_bytes(a: np.ndarray) -> np.ndarray:
    """A contiguous array as a flat uint8 view (a copy first if it is not contiguous): every
    data-moving collective sends bytes, so every dtype travels as it is."""
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


class Staged:
    """A tensor as a contiguous, writable buffer of a dtype MPI reduces: the tensor's own memory
    when it allows, else a copy that :meth:`commit` writes back (float16 is reduced in float32,
    bool as uint8)."""

    def __init__(self, t: Any, reduce: bool = True) -> None:
        self.tensor = t
        a = host_array(t)
        self.source = a
        dtype = a.dtype
        if reduce and dtype == np.float16:
            dtype = np.dtype(np.float32)
        elif reduce and dtype == np.bool_:
            dtype = np.dtype(np.uint8)
        own = (a is t._data and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable)
        self.buf = a if own else np.ascontiguousarray(a, dtype=dtype)
        self.copied = not own

    def commit(self) -> None:
        """Writes the result into the tensor (if it was staged) and bumps its version."""
        if self.copied:
            result = self.buf.astype(self.source.dtype, copy=False)
            if not isinstance(self.tensor._data, np.ndarray):  # a device array: back from host
                from ..backend import backend_of

                result = backend_of(self.tensor._data).xp.asarray(result)
            self.tensor._data[...] = result
        self.tensor._version_counter[0] += 1


# -- waiting with a deadline ----------------------------------------------------------------------

def wait_all(requests: Sequence[Any], timeout_s: float, what: str, rank: int,
             statuses: list[Any] | None = None) -> None:
    """Polls ``requests`` until all complete; raises ``DistBackendError`` after ``timeout_s``.

    A few hundred tests first (small collectives finish within microseconds), then sleeps
    growing to 1 ms, so a waiting rank leaves the core to the ranks still computing (on a
    2-core machine a spinning rank halves its neighbour's speed)."""
    MPI = load()
    reqs = list(requests)
    if not reqs:
        return
    deadline = time.monotonic() + timeout_s
    spins = 0
    while not MPI.Request.Testall(reqs, statuses):
        spins += 1
        if spins > 200:
            time.sleep(min(1e-3, 1e-6 * (spins - 200)))
        if time.monotonic() > deadline:
            from .distributed_c10d import DistBackendError

            raise DistBackendError(
                f"[rank {rank}] ember.distributed: {what} timed out after {timeout_s:g} s "
                f"waiting for the other ranks of its group. Every rank must call the same "
                f"collectives in the same order: a rank that stopped (a crash, uneven inputs, a "
                f"data-dependent branch, a parameter unused on one rank) or is stuck (I/O) "
                f"causes this. The job is ended.")


# -- ending the whole job when one rank fails -----------------------------------------------------

_hooks_installed = False
_world_info: tuple[int, int] = (0, 1)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not stop the abort
            pass


def abort(status: int, why: str = "") -> None:
    """Ends every rank of the job now (``MPI_Abort``), after printing ``why``."""
    rank, size = _world_info
    if why:
        print(f"ember.distributed: rank {rank} of {size} {why}; ending the job (all ranks)",
              file=sys.stderr)
    _flush()
    # Hydra forwards a rank's output through its proxy, which the abort kills: what the rank
    # wrote last (its traceback) can be lost in the pipes on a loaded machine. A moment to drain.
    time.sleep(0.3)
    load().COMM_WORLD.Abort(status if 0 < status < 256 else 1)


def _excepthook(kind: type, value: BaseException, tb: Any) -> None:
    # Reached only by an exception nobody caught: every `finally` has run already, so the job can
    # end at once (waiting for interpreter exit could hang joining threads).
    traceback.print_exception(kind, value, tb)
    status = 130 if issubclass(kind, KeyboardInterrupt) else 1
    abort(status, f"failed with {kind.__name__}" if not issubclass(kind, KeyboardInterrupt)
          else "was interrupted")


def _exit_status(code: Any) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _make_exit(original: Callable[..., Any]) -> Callable[..., Any]:
    def exit(status: Any = None) -> None:  # noqa: A001 - stands for sys.exit
        """``sys.exit``; with a non-zero status on one rank, MPI aborts the whole job at exit
        (as ``python -m mpi4py`` does: otherwise MPI_Finalize waits for the others forever)."""
        code = _exit_status(status)
        if code:
            print(f"ember.distributed: rank {_world_info[0]} of {_world_info[1]} exited with "
                  f"status {code}; ending the job (all ranks)", file=sys.stderr)
            from mpi4py.run import set_abort_status

            set_abort_status(code)
        original(status)

    exit.__wrapped__ = original  # type: ignore[attr-defined]
    return exit


def install_abort_hooks(rank: int, size: int) -> None:
    """With several ranks: an uncaught exception or ``sys.exit(non-zero)`` ends every rank."""
    global _hooks_installed, _world_info
    _world_info = (rank, size)
    if _hooks_installed or size <= 1:
        return
    _hooks_installed = True
    sys.excepthook = _excepthook
    sys.exit = _make_exit(sys.exit)
