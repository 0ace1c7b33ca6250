"""torch.distributed's process groups and collectives, on MPI (``torch.distributed.distributed_c10d``).

Every backend name torch scripts hard-code (``"gloo"``, ``"mpi"``, ``None``) runs on MPI: rank and
world size come from the launch (``python -m ember.distributed.run`` or ``mpiexec``), not from
``init_method``/``store``, because MPI does the rendezvous. A collective works in place on a
contiguous tensor's memory and through a staged copy otherwise; it waits with a deadline (the
group's ``timeout``) and raises ``DistBackendError`` on every rank that waited in vain.

The object collectives (``broadcast_object_list``, ``all_gather_object``, ...) pickle, as torch's
do: a rank runs whatever its peers send, so use them only among ranks you trust.
"""
from __future__ import annotations

import enum
import io
import os
import pickle
from datetime import timedelta
from typing import Any, Callable, Sequence

import numpy as np

from . import _mpi
from ._mpi import Staged, as_bytes, host_array

__all__ = [
    "Backend", "DistBackendError", "DistError", "DistNetworkError", "DistStoreError",
    "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
    "all_gather_object", "all_reduce", "all_to_all", "all_to_all_single", "barrier", "broadcast",
    "broadcast_object_list", "destroy_process_group", "gather", "gather_object", "get_backend",
    "get_global_rank", "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size",
    "group", "init_process_group", "irecv", "is_gloo_available", "is_initialized",
    "is_mpi_available", "is_nccl_available", "is_torchelastic_launched", "is_ucc_available",
    "isend", "monitored_barrier", "new_group", "recv", "reduce", "reduce_scatter",
    "reduce_scatter_tensor", "scatter", "scatter_object_list", "send", "default_pg_timeout",
]

default_pg_timeout = timedelta(minutes=30)  # torch's default for every backend but NCCL


class DistError(RuntimeError):
    """An error in the distributed library."""


class DistBackendError(DistError):
    """An error in the backend: a collective that timed out, a peer that is gone."""


class DistNetworkError(DistError):
    """A network error."""


class DistStoreError(DistError):
    """An error in the key-value store."""


class Backend(str):
    """Backend names, as torch's ``Backend`` (all of them run on MPI in ember)."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"

    def __new__(cls, name: str) -> "Backend":
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: "
                             f"{type(name)}")
        return super().__new__(cls, name.lower())


class _RedOpType(enum.IntEnum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8
    UNUSED = 9

    def __repr__(self) -> str:
        return f"<RedOpType.{self.name}: {self.value}>"

    def __str__(self) -> str:
        return f"RedOpType.{self.name}"


_RedOpType.__name__ = _RedOpType.__qualname__ = "RedOpType"


class ReduceOp:
    """The reductions of ``all_reduce``/``reduce``/``reduce_scatter``: ``ReduceOp.SUM``, ``AVG``
    (the sum divided by the group's size), ``PRODUCT``, ``MIN``, ``MAX``, and for integer and
    bool tensors ``BAND``, ``BOR``, ``BXOR``."""

    RedOpType = _RedOpType
    SUM = _RedOpType.SUM
    AVG = _RedOpType.AVG
    PRODUCT = _RedOpType.PRODUCT
    MIN = _RedOpType.MIN
    MAX = _RedOpType.MAX
    BAND = _RedOpType.BAND
    BOR = _RedOpType.BOR
    BXOR = _RedOpType.BXOR
    PREMUL_SUM = _RedOpType.PREMUL_SUM


def _mpi_op(op: Any, dtype: np.dtype, staged_bool: bool) -> Any:
    MPI = _mpi.load()
    op = _RedOpType(int(op))
    bitwise = op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)
    if bitwise and dtype.kind == "f":
        raise RuntimeError(f"Cannot use ReduceOp.{op.name} with a floating-point tensor "
                           f"({dtype}): the bitwise reductions take integer and bool tensors")
    if op == ReduceOp.PREMUL_SUM:
        raise ValueError("ReduceOp.PREMUL_SUM is only supported by NCCL (ember has no NCCL)")
    if staged_bool:  # bool as uint8 0/1: sum is "or", product is "and", as torch's NCCL does
        op = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.AVG: ReduceOp.MAX,
              ReduceOp.PRODUCT: ReduceOp.MIN}.get(op, op)
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
            ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]


def _average(staged: Staged, n: int) -> None:
    """AVG's division by the group's size, in place (integers: truncated, as NCCL's; bools,
    reduced as "or", stay as they are)."""
    a = staged.buf
    if staged.source.dtype == np.bool_:
        return
    if a.dtype.kind == "f":
        a /= n
    elif a.dtype.kind in "iu":
        a[...] = np.sign(a) * (np.abs(a) // n)


# -- process groups -------------------------------------------------------------------------------

class ProcessGroup:
    """A group of ranks with its own MPI communicator (a duplicate, so its traffic never meets
    another group's) and its collectives' timeout."""

    def __init__(self, comm: Any, ranks: list[int], timeout: timedelta, backend: str) -> None:
        self.comm = comm
        self.ranks = ranks  # global ranks, by group rank
        self.timeout = timeout
        self.backend = backend

    def rank(self) -> int:
        return self.comm.Get_rank()

    def size(self) -> int:
        return self.comm.Get_size()

    def name(self) -> str:
        return self.backend

    def __repr__(self) -> str:
        return f"<ember.distributed.ProcessGroup {self.backend} ranks={self.ranks}>"


class GroupMember:
    """``GroupMember.WORLD`` (the default group) and ``NON_GROUP_MEMBER`` (what ``new_group``
    returns to ranks outside the group)."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = -100


class _GroupMeta(type):
    @property
    def WORLD(cls) -> ProcessGroup | None:  # noqa: N802 - torch's name
        return GroupMember.WORLD


class group(metaclass=_GroupMeta):  # noqa: N801 - torch's name
    """``group.WORLD``: the default process group."""


_groups: list[ProcessGroup] = []


def _default() -> ProcessGroup:
    if GroupMember.WORLD is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return GroupMember.WORLD


def _group(g: Any) -> ProcessGroup | None:
    """The group to run on: ``None`` is the default one; ``None`` back for a non-member."""
    world = _default()
    if g is None or g is GroupMember.WORLD:
        return world
    if isinstance(g, int) and g == GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(g, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup, got {type(g).__name__}")
    return g


def _timeout_s(pg: ProcessGroup) -> float:
    return pg.timeout.total_seconds()


def _group_rank_of(pg: ProcessGroup, global_rank: int | None, group_rank: int | None,
                   name: str, default: int | None = 0) -> int:
    """The group rank named by torch's ``src``/``dst`` (global) or ``group_src``/``group_dst``."""
    if global_rank is not None and group_rank is not None:
        raise ValueError(f"Can not specify both {name} and group_{name}")
    if group_rank is not None:
        return group_rank
    if global_rank is None:
        if default is None:
            raise ValueError(f"Must specify {name} or group_{name}")
        global_rank = pg.ranks[default]
    if global_rank not in pg.ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {pg}")
    return pg.ranks.index(global_rank)


# -- Work: an operation in flight -----------------------------------------------------------------

class _Future:
    """What ``Work.get_future()`` returns: ``wait()``/``value()`` give the output tensors."""

    def __init__(self, work: "Work") -> None:
        self._work = work

    def wait(self) -> Any:
        self._work.wait()
        return self._work.result()

    value = wait

    def done(self) -> bool:
        return self._work.is_completed()

    def then(self, callback: Callable[["_Future"], Any]) -> "_Future":
        self.wait()
        result = callback(self)
        done = Work([], None, "then", lambda: None, [result])
        return _Future(done)


class Work:
    """A collective or point-to-point operation started with ``async_op=True`` (or ``isend``/
    ``irecv``): ``wait()`` completes it (and writes staged results back), ``is_completed()``
    tests it without blocking."""

    def __init__(self, requests: list[Any], pg: ProcessGroup | None, what: str,
                 finish: Callable[[], Any], outputs: list[Any],
                 statuses: list[Any] | None = None) -> None:
        self._requests = requests
        self._statuses = statuses
        self._pg = pg
        self._what = what
        self._finish = finish
        self._outputs = outputs
        self._done = False
        self._value: Any = None

    def _complete(self) -> None:
        if not self._done:
            self._done = True
            self._value = self._finish()

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Blocks until the operation completes (raises ``DistBackendError`` after ``timeout``,
        default the group's)."""
        if not self._done:
            pg = self._pg
            limit = (timeout.total_seconds() if timeout is not None
                     else _timeout_s(pg) if pg is not None else default_pg_timeout.total_seconds())
            rank = pg.ranks[pg.rank()] if pg is not None else 0
            _mpi.wait_all(self._requests, limit, self._what, rank, self._statuses)
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and (not self._requests or _mpi.load().Request.Testall(
                self._requests, self._statuses)):
            self._complete()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def exception(self) -> None:
        return None

    def result(self) -> list[Any]:
        return list(self._outputs)

    def source_rank(self) -> int:
        """For ``irecv`` from any source: the global rank the message came from."""
        self.wait()
        return self._value

    def get_future(self) -> _Future:
        return _Future(self)

    def synchronize(self) -> None:
        self.wait()


def _run(pg: ProcessGroup, requests: list[Any], what: str, finish: Callable[[], Any],
         outputs: list[Any], async_op: bool) -> Work | None:
    work = Work(requests, pg, what, finish, outputs)
    if async_op:
        return work
    work.wait()
    return None


def _done(async_op: bool) -> Work | None:
    """What a rank outside the group gets: nothing to do."""
    return Work([], None, "noop", lambda: None, []) if async_op else None


def _check_tensor(t: Any, name: str = "tensor") -> None:
    from ..tensor import Tensor

    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"torch.Tensor\n             but got {type(t)} instead.")


# -- set-up ---------------------------------------------------------------------------------------

_KNOWN_BACKENDS = ("gloo", "mpi", "nccl", "ucc", "xccl")


def _check_backend(backend: Any) -> str:
    if backend is None:
        return "mpi"
    name = str(backend).lower()
    # "cpu:gloo,cuda:nccl" and the like: the CPU entry decides
    parts = dict(p.split(":", 1) for p in name.split(",") if ":" in p)
    if parts:
        if not set(parts.values()) <= set(_KNOWN_BACKENDS):
            raise ValueError(f"Unknown backend '{name}'")
        return name
    if name not in _KNOWN_BACKENDS:
        raise AssertionError(f"Unknown backend type {backend}")
    if name == "nccl":
        raise RuntimeError("Distributed package doesn't have NCCL built in (ember has no GPU "
                           "backend yet: use backend='gloo' or 'mpi', which run on MPI)")
    if name in ("ucc", "xccl"):
        raise RuntimeError(f"Distributed package doesn't have {name.upper()} built in "
                           f"(ember runs on MPI: use backend='gloo' or 'mpi')")
    return name


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Initialises the default process group: every rank of the MPI job.

    Args:
        backend: ``"gloo"``, ``"mpi"`` or ``None`` (all run on MPI); ``"nccl"`` needs GPUs.
        init_method, store: accepted for torch's scripts and unused (MPI does the rendezvous).
        timeout: how long a collective waits for the other ranks (default 30 minutes).
        world_size, rank: if given, must match the launch's.
    """
    if GroupMember.WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = _check_backend(backend)
    if timeout is not None and not isinstance(timeout, timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{timeout}")
    MPI = _mpi.load()
    world = MPI.COMM_WORLD
    r, n = world.Get_rank(), world.Get_size()
    env_size = os.environ.get("WORLD_SIZE")
    if n == 1 and env_size is not None and int(env_size) > 1:
        raise RuntimeError(
            f"WORLD_SIZE is {env_size} but this process is not one of an MPI job: ember's "
            f"ranks are started by MPI. Launch with `python -m ember.distributed.run "
            f"--nproc-per-node N script.py` (or `ember run --nproc-per-node N`, or "
            f"`mpiexec -n N python script.py`)")
    if world_size not in (-1, None) and world_size != n:
        raise ValueError(f"world_size={world_size} does not match the launch's {n} processes")
    if rank not in (-1, None) and rank != r:
        raise ValueError(f"rank={rank} does not match the launch's rank {r}")
    info = _mpi.launch_info() or (r, n, r, n)
    _mpi.fill_environment(r, n, info[2], info[3])
    _mpi.install_abort_hooks(r, n)
    pg = ProcessGroup(world.Dup(), list(range(n)), timeout or default_pg_timeout, name)
    GroupMember.WORLD = pg
    _groups.append(pg)


def is_available() -> bool:
    """Whether ``ember.distributed`` can run: mpi4py (the ``distributed`` extra) is installed."""
    return _mpi.available()


def is_mpi_available() -> bool:
    return _mpi.available()


def is_gloo_available() -> bool:
    """"gloo" is accepted and runs on MPI."""
    return _mpi.available()


def is_nccl_available() -> bool:
    return False


def is_ucc_available() -> bool:
    return False


def is_initialized() -> bool:
    return GroupMember.WORLD is not None


def is_torchelastic_launched() -> bool:
    """Whether the launcher (``ember.distributed.run``, torchrun's stand-in) started this one."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Frees a group's communicator; with no argument, every group (ends the default one)."""
    if group is None or group is GroupMember.WORLD:
        for pg in _groups:
            pg.comm.Free()
        _groups.clear()
        GroupMember.WORLD = None
    elif isinstance(group, ProcessGroup) and group in _groups:
        group.comm.Free()
        _groups.remove(group)


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (default: the world), -1 if it is not a member."""
    pg = _group(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    pg = _group(group)
    return -1 if pg is None else pg.size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """The backend name the group was created with (it runs on MPI whatever the name)."""
    pg = _group(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return Backend(pg.backend)


def get_process_group_ranks(group: ProcessGroup | None) -> list[int]:
    pg = _group(group)
    return [] if pg is None else list(pg.ranks)


def get_global_rank(group: ProcessGroup, group_rank: int) -> int:
    pg = _group(group)
    return pg.ranks[group_rank]


def get_group_rank(group: ProcessGroup, global_rank: int) -> int:
    pg = _group(group)
    if global_rank not in pg.ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {pg}")
    return pg.ranks.index(global_rank)


def new_group(ranks: Sequence[int] | None = None, timeout: timedelta | None = None,
              backend: str | None = None, pg_options: Any = None,
              use_local_synchronization: bool = False, group_desc: str | None = None,
              device_id: Any = None, sort_ranks: bool = True) -> Any:
    """A group of some ranks (every rank of the default group must call it, as in torch);
    ranks outside it get ``GroupMember.NON_GROUP_MEMBER``."""
    world = _default()
    members = list(range(world.size())) if ranks is None else [int(r) for r in ranks]
    if sort_ranks:
        members = sorted(members)
    for r in members:
        if not 0 <= r < world.size():
            raise ValueError(f"The new group's rank should be within the world_size set by "
                             f"init_process_group")
    mpi_group = world.comm.Get_group().Incl(members)
    comm = world.comm.Create(mpi_group)  # collective over the default group
    mpi_group.Free()
    if comm == _mpi.load().COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, members, timeout or world.timeout,
                      _check_backend(backend) if backend is not None else world.backend)
    _groups.append(pg)
    return pg


# -- collectives ----------------------------------------------------------------------------------

def _reduce_buffer(t: Any, op: Any) -> tuple[Staged, Any]:
    staged = Staged(t, reduce=True)
    return staged, _mpi_op(op, staged.buf.dtype, host_array(t).dtype == np.bool_)


def all_reduce(tensor: Any, op: Any = ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Reduces ``tensor`` over the group, in place on every rank."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    staged, mop = _reduce_buffer(tensor, op)
    MPI = _mpi.load()
    req = pg.comm.Iallreduce(MPI.IN_PLACE, staged.buf, mop)

    def finish() -> None:
        if int(op) == ReduceOp.AVG:
            _average(staged, pg.size())
        staged.commit()

    return _run(pg, [req], "all_reduce", finish, [tensor], async_op)


def reduce(tensor: Any, dst: int | None = None, op: Any = ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """Reduces ``tensor`` over the group into rank ``dst``'s tensor (the others keep theirs)."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    root = _group_rank_of(pg, dst, group_dst, "dst")
    staged, mop = _reduce_buffer(tensor, op)
    MPI = _mpi.load()
    mine = pg.rank() == root
    if mine:
        req = pg.comm.Ireduce(MPI.IN_PLACE, staged.buf, mop, root)
    else:
        req = pg.comm.Ireduce(staged.buf, None, mop, root)

    def finish() -> None:
        if mine:
            if int(op) == ReduceOp.AVG:
                _average(staged, pg.size())
            staged.commit()

    return _run(pg, [req], "reduce", finish, [tensor], async_op)


def broadcast(tensor: Any, src: int | None = None, group: ProcessGroup | None = None,
              async_op: bool = False, group_src: int | None = None) -> Work | None:
    """Copies rank ``src``'s tensor into every rank's ``tensor``."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    root = _group_rank_of(pg, src, group_src, "src")
    staged = Staged(tensor, reduce=False)
    req = pg.comm.Ibcast(staged.buf.reshape(-1).view(np.uint8), root)
    return _run(pg, [req], "broadcast", staged.commit, [tensor], async_op)


def _check_same(tensors: Sequence[Any], like: Any, what: str) -> None:
    for t in tensors:
        _check_tensor(t)
        if t.dtype != like.dtype:
            raise ValueError(f"{what}: tensors with different dtypes ({t.dtype} and "
                             f"{like.dtype})")
        if t.numel() != like.numel():
            raise ValueError(f"{what}: every tensor must have {like.numel()} elements, one has "
                             f"{t.numel()}")


def _fill(t: Any, flat: np.ndarray) -> None:
    """Writes bytes ``flat`` into tensor ``t`` (its version bumped)."""
    a = host_array(t)
    values = flat.view(a.dtype).reshape(a.shape)
    if a is t._data:
        a[...] = values
    else:
        from ..backend import backend_of

        t._data[...] = backend_of(t._data).xp.asarray(values)
    t._version_counter[0] += 1


def _fill_blocks(tensors: Sequence[Any], recv: np.ndarray, size: int) -> None:
    """Writes the i-th ``size``-byte block of ``recv`` into ``tensors[i]``."""
    for i, t in enumerate(tensors):
        _fill(t, recv[i * size:(i + 1) * size])


def _root_with_list(pg: ProcessGroup, tensor: Any, tensors: list[Any] | None, rank: int | None,
                    group_rank: int | None, side: str, what: str) -> tuple[int, bool]:
    """gather's and scatter's root (``side`` "dst" or "src") and whether this rank is it; the
    list ``tensors`` must be given, one per rank, at the root and only there."""
    root = _group_rank_of(pg, rank, group_rank, side)
    mine = pg.rank() == root
    where = "destination" if side == "dst" else "source"
    if mine:
        if tensors is None or len(tensors) != pg.size():
            raise ValueError(f"Argument ``{what}_list`` must be specified on {where} rank.")
        _check_same(tensors, tensor, what)
    elif tensors:
        raise ValueError(f"Argument ``{what}_list`` must NOT be specified on non-{where} ranks.")
    return root, mine


def all_gather(tensor_list: list[Any], tensor: Any, group: ProcessGroup | None = None,
               async_op: bool = False) -> Work | None:
    """Every rank's ``tensor`` into ``tensor_list`` (one per rank, in rank order)."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    if len(tensor_list) != pg.size():
        raise ValueError(f"all_gather: tensor_list must have {pg.size()} tensors, got "
                         f"{len(tensor_list)}")
    _check_same(tensor_list, tensor, "all_gather")
    send = as_bytes(host_array(tensor))
    recv = np.empty(send.size * pg.size(), np.uint8)
    req = pg.comm.Iallgather(send, recv)

    def finish() -> None:
        _fill_blocks(tensor_list, recv, send.size)

    return _run(pg, [req], "all_gather", finish, list(tensor_list), async_op)


def all_gather_into_tensor(output_tensor: Any, input_tensor: Any,
                           group: ProcessGroup | None = None,
                           async_op: bool = False) -> Work | None:
    """Every rank's ``input_tensor`` concatenated (or stacked) into ``output_tensor``."""
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    if output_tensor.numel() != input_tensor.numel() * pg.size() \
            or output_tensor.dtype != input_tensor.dtype:
        raise ValueError(f"all_gather_into_tensor: output tensor size must be equal to "
                         f"world_size times input tensor size, and of its dtype")
    send = as_bytes(host_array(input_tensor))
    staged = Staged(output_tensor, reduce=False)
    req = pg.comm.Iallgather(send, staged.buf.reshape(-1).view(np.uint8))
    return _run(pg, [req], "all_gather_into_tensor", staged.commit, [output_tensor], async_op)


def gather(tensor: Any, gather_list: list[Any] | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """Every rank's ``tensor`` into rank ``dst``'s ``gather_list``."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    root, mine = _root_with_list(pg, tensor, gather_list, dst, group_dst, "dst", "gather")
    send = as_bytes(host_array(tensor))
    recv = np.empty(send.size * pg.size(), np.uint8) if mine else None
    req = pg.comm.Igather(send, recv, root)

    def finish() -> None:
        if mine:
            _fill_blocks(gather_list, recv, send.size)

    return _run(pg, [req], "gather", finish, list(gather_list or []), async_op)


def scatter(tensor: Any, scatter_list: list[Any] | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False,
            group_src: int | None = None) -> Work | None:
    """Rank ``src``'s ``scatter_list[i]`` into rank i's ``tensor``."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    root, mine = _root_with_list(pg, tensor, scatter_list, src, group_src, "src", "scatter")
    send = np.concatenate([as_bytes(host_array(t)) for t in scatter_list]) if mine else None
    staged = Staged(tensor, reduce=False)
    req = pg.comm.Iscatter(send, staged.buf.reshape(-1).view(np.uint8), root)
    return _run(pg, [req], "scatter", staged.commit, [tensor], async_op)


def reduce_scatter(output: Any, input_list: list[Any], op: Any = ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Reduces ``input_list[i]`` over the group into rank i's ``output``."""
    _check_tensor(output, "output")
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    if len(input_list) != pg.size():
        raise ValueError(f"reduce_scatter: input_list must have {pg.size()} tensors")
    _check_same(input_list, output, "reduce_scatter")
    from ..creation import empty

    flat = empty(output.numel() * pg.size(), dtype=output.dtype)
    for i, t in enumerate(input_list):
        host_array(flat)[i * output.numel():(i + 1) * output.numel()] = host_array(t).reshape(-1)
    return reduce_scatter_tensor(output, flat, op, group, async_op)


def reduce_scatter_tensor(output: Any, input: Any, op: Any = ReduceOp.SUM,
                          group: ProcessGroup | None = None,
                          async_op: bool = False) -> Work | None:
    """Reduces ``input`` (world size times ``output``'s size) over the group; rank i gets the
    i-th block in ``output``."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    if input.numel() != output.numel() * pg.size() or input.dtype != output.dtype:
        raise ValueError("reduce_scatter_tensor: input tensor must be world_size times the "
                         "output tensor's size, and of its dtype")
    send = Staged(input, reduce=True)  # a copy when the dtype must change; never written back
    staged, mop = _reduce_buffer(output, op)
    req = pg.comm.Ireduce_scatter_block(np.ascontiguousarray(send.buf), staged.buf, mop)

    def finish() -> None:
        if int(op) == ReduceOp.AVG:
            _average(staged, pg.size())
        staged.commit()

    return _run(pg, [req], "reduce_scatter_tensor", finish, [output], async_op)


def all_to_all_single(output: Any, input: Any, output_split_sizes: list[int] | None = None,
                      input_split_sizes: list[int] | None = None,
                      group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Splits ``input`` along dim 0 and sends split i to rank i; ``output`` receives rank j's
    split in block j (equal splits unless the split sizes say otherwise)."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    n = pg.size()
    MPI = _mpi.load()

    def layout(t: Any, splits: list[int] | None) -> tuple[list[int], list[int]]:
        rows = t.shape[0] if t.dim() else 1
        row_bytes = t.element_size() * (t.numel() // rows if rows else 0)
        if not splits:
            if rows % n:
                raise ValueError(f"all_to_all_single: dim 0 ({rows}) must divide by the world "
                                 f"size {n} without split sizes")
            splits = [rows // n] * n
        counts = [s * row_bytes for s in splits]
        displs = [sum(counts[:i]) for i in range(n)]
        return counts, displs

    scounts, sdispls = layout(input, input_split_sizes)
    rcounts, rdispls = layout(output, output_split_sizes)
    send = as_bytes(host_array(input))
    staged = Staged(output, reduce=False)
    recv = staged.buf.reshape(-1).view(np.uint8)
    req = pg.comm.Ialltoallv([send, (scounts, sdispls), MPI.BYTE],
                             [recv, (rcounts, rdispls), MPI.BYTE])
    return _run(pg, [req], "all_to_all_single", staged.commit, [output], async_op)


def all_to_all(output_tensor_list: list[Any], input_tensor_list: list[Any],
               group: ProcessGroup | None = None, async_op: bool = False) -> Work | None:
    """Rank i's ``input_tensor_list[j]`` into rank j's ``output_tensor_list[i]``."""
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    n = pg.size()
    if len(input_tensor_list) != n or len(output_tensor_list) != n:
        raise ValueError(f"all_to_all: the tensor lists must have {n} tensors")
    MPI = _mpi.load()
    sends = [as_bytes(host_array(t)) for t in input_tensor_list]
    send = np.concatenate(sends) if sends else np.empty(0, np.uint8)
    scounts = [s.size for s in sends]
    rcounts = [t.numel() * t.element_size() for t in output_tensor_list]
    recv = np.empty(sum(rcounts), np.uint8)
    displs = lambda c: [sum(c[:i]) for i in range(n)]  # noqa: E731
    req = pg.comm.Ialltoallv([send, (scounts, displs(scounts)), MPI.BYTE],
                             [recv, (rcounts, displs(rcounts)), MPI.BYTE])

    def finish() -> None:
        at = 0
        for t, c in zip(output_tensor_list, rcounts):
            _fill(t, recv[at:at + c])
            at += c

    return _run(pg, [req], "all_to_all", finish, list(output_tensor_list), async_op)


def barrier(group: ProcessGroup | None = None, async_op: bool = False, device_ids: Any = None,
            timeout: timedelta | None = None) -> Work | None:
    """Waits until every rank of the group has reached it."""
    pg = _group(group)
    if pg is None:
        return _done(async_op)
    work = Work([pg.comm.Ibarrier()], pg, "barrier", lambda: None, [])
    if async_op:
        return work
    work.wait(timeout)
    return None


def monitored_barrier(group: ProcessGroup | None = None, timeout: timedelta | None = None,
                      wait_all_ranks: bool = False) -> None:
    """A barrier that raises after ``timeout`` (every barrier here does)."""
    barrier(group, timeout=timeout)


# -- point to point -------------------------------------------------------------------------------

def _p2p_rank(pg: ProcessGroup, peer: int | None, group_peer: int | None, name: str) -> int:
    if peer is not None and group_peer is not None:
        raise ValueError(f"Can not specify both {name} and group_{name}")
    if group_peer is not None:
        return group_peer
    if peer is None:
        raise ValueError(f"Must specify {name} or group_{name}")
    if peer not in pg.ranks:
        raise ValueError(f"Global rank {peer} is not part of group {pg}")
    return pg.ranks.index(peer)


def isend(tensor: Any, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_dst: int | None = None) -> Work | None:
    """Starts sending ``tensor`` to rank ``dst``; returns a ``Work``."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    peer = _p2p_rank(pg, dst, group_dst, "dst")
    buf = as_bytes(host_array(tensor))
    req = pg.comm.Isend(buf, peer, tag)
    return Work([req], pg, "send", lambda: None, [tensor])


def irecv(tensor: Any, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
          group_src: int | None = None) -> Work | None:
    """Starts receiving into ``tensor`` from ``src`` (any rank when None); returns a ``Work``
    (``source_rank()`` names the sender)."""
    _check_tensor(tensor)
    pg = _group(group)
    if pg is None:
        return None
    MPI = _mpi.load()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else \
        _p2p_rank(pg, src, group_src, "src")
    staged = Staged(tensor, reduce=False)
    status = MPI.Status()
    req = pg.comm.Irecv(staged.buf.reshape(-1).view(np.uint8), peer, tag)

    def finish() -> int:
        staged.commit()
        return pg.ranks[status.Get_source()]

    return Work([req], pg, "recv", finish, [tensor], [status])


def send(tensor: Any, dst: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_dst: int | None = None) -> None:
    """Sends ``tensor`` to rank ``dst`` (waits until it can be reused)."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor: Any, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0,
         group_src: int | None = None) -> int:
    """Receives into ``tensor`` from ``src`` (any rank when None); returns the sender's rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    return work.source_rank()


# -- objects --------------------------------------------------------------------------------------

def _dumps(obj: Any) -> np.ndarray:
    buf = io.BytesIO()
    pickle.Pickler(buf).dump(obj)
    return np.frombuffer(buf.getbuffer(), np.uint8).copy()


def _loads(data: np.ndarray) -> Any:
    # the object collectives (broadcast_object_list, all_gather_object, ...) unpickle what the
    # other ranks of the same job sent, as torch's do: they trust their peers, and so must the
    # program (torch documents them as insecure for untrusted peers; so does this module)
    return pickle.loads(data.tobytes())


def _int_allgather(pg: ProcessGroup, value: int, what: str) -> np.ndarray:
    mine = np.array([value], np.int64)
    out = np.empty(pg.size(), np.int64)
    _mpi.wait_all([pg.comm.Iallgather(mine, out)], _timeout_s(pg), what, pg.ranks[pg.rank()])
    return out


def all_gather_object(object_list: list[Any], obj: Any,
                      group: ProcessGroup | None = None) -> None:
    """Every rank's picklable ``obj`` into ``object_list`` (one per rank)."""
    pg = _group(group)
    if pg is None:
        return
    data = _dumps(obj)
    sizes = _int_allgather(pg, data.size, "all_gather_object")
    recv = np.empty(int(sizes.sum()), np.uint8)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    MPI = _mpi.load()
    req = pg.comm.Iallgatherv(data, [recv, (sizes.tolist(), displs.tolist()), MPI.BYTE])
    _mpi.wait_all([req], _timeout_s(pg), "all_gather_object", pg.ranks[pg.rank()])
    if len(object_list) < pg.size():
        raise IndexError("list assignment index out of range")
    for i in range(pg.size()):
        object_list[i] = _loads(recv[displs[i]:displs[i] + sizes[i]])


def gather_object(obj: Any, object_gather_list: list[Any] | None = None, dst: int | None = None,
                  group: ProcessGroup | None = None, group_dst: int | None = None) -> None:
    """Every rank's ``obj`` into rank ``dst``'s ``object_gather_list``."""
    pg = _group(group)
    if pg is None:
        return
    root = _group_rank_of(pg, dst, group_dst, "dst")
    gathered: list[Any] = [None] * pg.size()
    all_gather_object(gathered, obj, pg)
    if pg.rank() == root and object_gather_list is not None:
        object_gather_list[:pg.size()] = gathered


def broadcast_object_list(object_list: list[Any], src: int | None = None,
                          group: ProcessGroup | None = None, device: Any = None,
                          group_src: int | None = None) -> None:
    """Rank ``src``'s ``object_list`` replaces every rank's, element by element, in place."""
    pg = _group(group)
    if pg is None:
        return
    root = _group_rank_of(pg, src, group_src, "src")
    rank = pg.ranks[pg.rank()]
    data = _dumps(list(object_list)) if pg.rank() == root else None
    size = np.array([0 if data is None else data.size], np.int64)
    _mpi.wait_all([pg.comm.Ibcast(size, root)], _timeout_s(pg), "broadcast_object_list", rank)
    if data is None:
        data = np.empty(int(size[0]), np.uint8)
    _mpi.wait_all([pg.comm.Ibcast(data, root)], _timeout_s(pg), "broadcast_object_list", rank)
    if pg.rank() != root:
        values = _loads(data)
        for i in range(min(len(object_list), len(values))):
            object_list[i] = values[i]


def scatter_object_list(scatter_object_output_list: list[Any],
                        scatter_object_input_list: list[Any] | None = None,
                        src: int | None = None, group: ProcessGroup | None = None,
                        group_src: int | None = None) -> None:
    """Rank ``src``'s ``scatter_object_input_list[i]`` into rank i's output list's first slot."""
    pg = _group(group)
    if pg is None:
        return
    root = _group_rank_of(pg, src, group_src, "src")
    box = [list(scatter_object_input_list) if pg.rank() == root else None]
    broadcast_object_list(box, pg.ranks[root], pg)
    scatter_object_output_list[0] = box[0][pg.rank()]
