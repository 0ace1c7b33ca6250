"""``DistributedDataParallel``: one model replica per rank, gradients averaged in buckets.

At construction the ranks check that their models have the same parameter shapes, then take
rank 0's parameters and buffers. Each backward copies every gradient, as its leaf accumulates it
(a post-accumulate-grad hook), into its slice of a flat bucket; a full bucket is divided by the
world size and all-reduced (SUM) in place, and when the last one is done the averaged values go
back into ``.grad`` (with ``gradient_as_bucket_view=True``, ``.grad`` *is* the bucket's view).

Buckets are laid out as torch's reducer settles on them: parameters in reverse registration
order (the order backward produces their gradients), a new bucket when the dtype changes or the
cap (``bucket_cap_mb``, 25 MiB) is reached, and a first bucket of 1 MiB when the cap is the
default, so that communication can start early. Reduction is blocking: on a CPU, MPICH does not
progress a non-blocking allreduce while Python computes, and the measurements in
``../shared/design/DISTRIBUTED.md`` §8 found no gain from overlapping (``overlap=True`` keeps the
non-blocking path, waited on at the end of backward, for machines where it pays).
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Iterator

from ... import distributed as dist
from ...creation import tensor, zeros
from ...dtypes import int32
from ...ops.arrange import cat
from ...graph import grad_mode
from ...graph.node import AccumulateGrad
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_MB = 1024 * 1024
_DEFAULT_CAP_MB = 25
_DEFAULT_FIRST_BUCKET_BYTES = 1 * _MB  # torch's dist._DEFAULT_FIRST_BUCKET_BYTES

_UNUSED_MESSAGE = (
    "Expected to have finished reduction in the prior iteration before starting a new one. This "
    "error indicates that your module has parameters that were not used in producing loss. You "
    "can enable unused parameter detection by passing the keyword argument "
    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by \n"
    "making sure all `forward` function outputs participate in calculating loss. \n"
    "If you already have done the above, then the distributed data parallel module wasn't able "
    "to locate the output tensors in the return value of your module's `forward` function. "
    "Please include the loss function and the structure of the return value of `forward` of "
    "your module when reporting this issue (e.g. list, dict, iterable).\n"
    "Parameters which did not receive grad for rank {rank}: {names}\n"
    "Parameter indices which did not receive grad for rank {rank}: {indices}")


def _bucket_assignment(sizes: list[tuple[int, Any]], limits: list[int]) -> list[list[int]]:
    """torch's ``_compute_bucket_assignment_by_size``: walking the tensors in the given order,
    one open bucket per dtype, closed once it holds ``limit`` bytes; the limits apply in turn
    (the last one to every later bucket). Buckets come back ordered by their first tensor."""
    result: list[list[int]] = []
    open_: dict[Any, tuple[list[int], int, int]] = {}  # dtype -> (indices, bytes, limit index)
    for i, (nbytes, dtype) in enumerate(sizes):
        indices, size, li = open_.get(dtype, ([], 0, 0))
        indices.append(i)
        size += nbytes
        if size >= limits[min(li, len(limits) - 1)]:
            result.append(indices)
            open_[dtype] = ([], 0, li + 1)
        else:
            open_[dtype] = (indices, size, li)
    result += [indices for indices, _, _ in open_.values() if indices]
    return sorted(result, key=lambda b: b[0])


class _Bucket:
    def __init__(self, params: list[Tensor], indices: list[int]) -> None:
        self.indices = indices  # positions in the reducer's parameter list
        total = sum(params[i].numel() for i in indices)
        self.flat = zeros(total, dtype=params[indices[0]].dtype)
        self.views: dict[int, Tensor] = {}
        at = 0
        for i in indices:
            n = params[i].numel()
            self.views[i] = self.flat[at:at + n].view(params[i].shape)
            at += n
        self.pending = len(indices)
        self.work: Any = None


class _Reducer:
    """The gradient buckets of one DDP module and the state of the current backward pass."""

    def __init__(self, params: list[Tensor], names: list[str], pg: Any, cap_bytes: int,
                 first_cap_bytes: int, find_unused: bool, as_view: bool, overlap: bool) -> None:
        self.params, self.names, self.pg = params, names, pg
        self.world = dist.get_world_size(pg)
        self.find_unused, self.as_view, self.overlap = find_unused, as_view, overlap
        order = list(reversed(range(len(params))))  # backward's order
        limits = [first_cap_bytes, cap_bytes] if first_cap_bytes < cap_bytes else [cap_bytes]
        groups = _bucket_assignment([(params[i].numel() * params[i].element_size(),
                                      params[i].dtype) for i in order], limits)
        self.buckets = [_Bucket(params, [order[j] for j in g]) for g in groups]
        self.bucket_of = {i: b for b in self.buckets for i in b.indices}
        self.expecting = False  # a synced forward ran: its backward reduces
        self.ready: set[int] = set()
        self.unused: list[int] = []
        self.next_bucket = 0
        self.handles = [p.register_post_accumulate_grad_hook(self._hook(i))
                        for i, p in enumerate(params)]

    def bucket_indices(self) -> list[list[int]]:
        return [list(b.indices) for b in self.buckets]

    def check_finished(self) -> None:
        """torch's check at the next forward: a backward that left buckets pending (parameters
        without gradients) is an error unless ``find_unused_parameters``."""
        if self.expecting and self.ready and self.next_bucket < len(self.buckets):
            missing = [i for i in range(len(self.params)) if i not in self.ready]
            rank = dist.get_rank(self.pg)
            raise RuntimeError(_UNUSED_MESSAGE.format(
                rank=rank, names=", ".join(self.names[i] for i in missing),
                indices=" ".join(str(i) for i in missing)))

    def prepare(self, outputs: Any) -> None:
        """Called after a forward whose backward must reduce."""
        self.expecting = True
        self.ready = set()
        self.next_bucket = 0
        for b in self.buckets:
            b.pending = len(b.indices)
            b.work = None
        if self.find_unused:
            reached = _reachable_leaves(outputs)
            self.unused = [i for i, p in enumerate(self.params) if id(p) not in reached]
        else:
            self.unused = []

    def _hook(self, index: int) -> Any:
        def hook(param: Tensor) -> None:
            if self.expecting and index not in self.ready:
                if not self.ready and self.unused:
                    # as torch: unused parameters are marked ready with the first gradient
                    for i in self.unused:
                        self._mark_ready(i)
                self._mark_ready(index)
        return hook

    def _mark_ready(self, index: int) -> None:
        self.ready.add(index)
        bucket = self.bucket_of[index]
        view, grad = bucket.views[index], self.params[index].grad
        with grad_mode.no_grad():
            if grad is None:
                view.zero_()
            elif grad._data is not view._data:
                view.copy_(grad)
        bucket.pending -= 1
        while self.next_bucket < len(self.buckets) and \
                self.buckets[self.next_bucket].pending == 0:
            self._reduce(self.buckets[self.next_bucket])
            self.next_bucket += 1
        if self.next_bucket == len(self.buckets):
            self._finalize()

    def _reduce(self, bucket: _Bucket) -> None:
        with grad_mode.no_grad():
            bucket.flat.div_(self.world)  # pre-divided, as torch's reducer
        bucket.work = dist.all_reduce(bucket.flat, group=self.pg, async_op=self.overlap)

    def _finalize(self) -> None:
        self.expecting = False
        for b in self.buckets:
            if b.work is not None:
                b.work.wait()
                b.work = None
        globally_unused: set[int] = set()
        if self.find_unused:  # a parameter unused on every rank keeps its .grad (None)
            used = tensor([0 if i in self.unused else 1 for i in range(len(self.params))],
                          dtype=int32)
            dist.all_reduce(used, group=self.pg)
            globally_unused = {i for i, u in enumerate(used.tolist()) if u == 0}
        with grad_mode.no_grad():
            for i, p in enumerate(self.params):
                if i in globally_unused:
                    continue
                view = self.bucket_of[i].views[i]
                if self.as_view:
                    if p.grad is None or p.grad._data is not view._data:
                        p.grad = view
                elif p.grad is None:
                    p.grad = view.clone()
                else:
                    p.grad.copy_(view)


def _reachable_leaves(outputs: Any) -> set[int]:
    """ids of the leaf tensors whose ``AccumulateGrad`` the outputs' graphs reach."""
    roots = [t.grad_fn for t in _tensors(outputs) if t.grad_fn is not None]
    leaves = {id(t) for t in _tensors(outputs) if t.grad_fn is None and t.requires_grad}
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            leaves.add(id(node.variable))
            continue
        stack.extend(fn for fn, _ in node.next_functions if fn is not None)
    return leaves


def _tensors(obj: Any) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def _coalesced_broadcast(tensors: list[Tensor], pg: Any) -> None:
    """Broadcasts ``tensors`` from the group's rank 0, with one collective per dtype."""

    by_dtype: dict[Any, list[Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    with grad_mode.no_grad():
        for group in by_dtype.values():
            flat = cat([t.detach().reshape(-1) for t in group])
            dist.broadcast(flat, group=pg, group_src=0)
            if dist.get_rank(pg) != 0:
                at = 0
                for t in group:
                    n = t.numel()
                    t.copy_(flat[at:at + n].view(t.shape))
                    at += n


class DistributedDataParallel(Module):
    """Data parallelism across the ranks of a process group (torch's constructor).

    Args:
        module: the model; every rank must build the same architecture.
        device_ids, output_device: ``None`` for CPU modules (as in torch).
        broadcast_buffers: deprecated (FutureWarning); use ``forward_sync_buffers``.
        process_group: the group to average over (default: the world).
        bucket_cap_mb: bucket size in MiB (default 25; the first bucket is 1 MiB when unset).
        find_unused_parameters: find, at each forward, the parameters the output does not
            depend on, and reduce zeros for them instead of failing.
        gradient_as_bucket_view: make ``.grad`` a view into the bucket (saves a copy).
        static_graph: accepted (the bucket layout is already fixed).
        forward_sync_buffers: broadcast rank 0's buffers before each forward (default True).
        overlap: (ember) start each bucket's allreduce without blocking, waited on at the end.
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0, broadcast_buffers: bool | None = None, init_sync: bool = True,
                 process_group: Any = None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 delay_all_reduce_named_params: Any = None, param_to_hook_all_reduce: Any = None,
                 mixed_precision: Any = None, device_mesh: Any = None,
                 skip_all_reduce_unused_params: bool = False,
                 bucket_cap_mb_list: list[int] | None = None, batched_grad_copy: bool = False,
                 forward_sync_buffers: bool | None = None, *, overlap: bool = False) -> None:
        super().__init__()
        for name, value in (("mixed_precision", mixed_precision), ("device_mesh", device_mesh),
                            ("delay_all_reduce_named_params", delay_all_reduce_named_params),
                            ("param_to_hook_all_reduce", param_to_hook_all_reduce),
                            ("bucket_cap_mb_list", bucket_cap_mb_list)):
            if value is not None:
                raise NotImplementedError(f"DistributedDataParallel({name}=...) is not "
                                          f"implemented in ember")
        named = [(n, p) for n, p in module.named_parameters()
                 if n not in getattr(module, "_ddp_params_and_buffers_to_ignore", ())]
        if not any(p.requires_grad for _, p in named):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        if device_ids or output_device:
            devices = {p.device for _, p in named}
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with "
                "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                f"{device_ids}, output_device {output_device}, and module parameters "
                f"{devices}.")
        self.device_ids = None
        self.output_device = None
        self.dim = dim
        self.module = module
        if broadcast_buffers is not None:
            warnings.warn(
                "Both `broadcast_buffers` and `forward_sync_buffers` were specified. "
                "`broadcast_buffers` is deprecated and its value is ignored when "
                "`forward_sync_buffers` is provided." if forward_sync_buffers is not None else
                "`broadcast_buffers` is deprecated. Use `forward_sync_buffers` instead. "
                "IMPORTANT: unlike `broadcast_buffers=False`, `forward_sync_buffers=False` "
                "still syncs buffers at init. If you rely on buffers NOT being synced at init "
                "(e.g. rank-local buffers), keep using `broadcast_buffers=False` until "
                "`init_sync_buffers` is available.", FutureWarning, stacklevel=2)
        if forward_sync_buffers is not None:
            self.forward_sync_buffers = forward_sync_buffers
            init_sync_buffers = True
        else:
            self.forward_sync_buffers = True if broadcast_buffers is None else broadcast_buffers
            init_sync_buffers = self.forward_sync_buffers
        self.process_group = process_group if process_group is not None else dist.group.WORLD
        if self.process_group is None:
            raise ValueError("Default process group has not been initialized, please make sure "
                             "to call init_process_group.")
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        cap_mb = _DEFAULT_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        self.bucket_bytes_cap = int(cap_mb * _MB)
        first = _DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        self.overlap = overlap

        trained = [(n, p) for n, p in named if p.requires_grad]
        self._module_buffers = [b for _, b in module.named_buffers()]
        if init_sync:
            self._verify_param_shapes([p for _, p in named])
            _coalesced_broadcast([p for _, p in named] +
                                 (self._module_buffers if init_sync_buffers else []),
                                 self.process_group)
        self.reducer = _Reducer([p for _, p in trained], [n for n, _ in trained],
                                self.process_group, self.bucket_bytes_cap, first,
                                find_unused_parameters, gradient_as_bucket_view, overlap)

    @property
    def broadcast_buffers(self) -> bool:
        return self.forward_sync_buffers

    @broadcast_buffers.setter
    def broadcast_buffers(self, value: bool) -> None:
        self.forward_sync_buffers = value

    def _verify_param_shapes(self, params: list[Tensor]) -> None:
        """torch's ``_verify_param_shape_across_processes``: every rank has the same model."""
        mine = [(tuple(p.shape), str(p.dtype)) for p in params]
        everyone: list[Any] = [None] * dist.get_world_size(self.process_group)
        dist.all_gather_object(everyone, mine, group=self.process_group)
        rank = dist.get_rank(self.process_group)
        for other, theirs in enumerate(everyone):
            if len(theirs) != len(mine):
                raise RuntimeError(f"DDP expects same model across all ranks, but Rank {rank} "
                                   f"has {len(mine)} params, while rank {other} has "
                                   f"inconsistent {len(theirs)} params.")
            for i, (a, b) in enumerate(zip(mine, theirs)):
                if a != b:
                    raise RuntimeError(f"[{rank}]: params[{i}] in this process with sizes "
                                       f"{list(a[0])} ({a[1]}) appears not to match sizes of "
                                       f"the same param in process {other} ({list(b[0])}, "
                                       f"{b[1]}).")

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        sync = grad_mode.state.enabled and self.require_backward_grad_sync
        if sync:
            self.reducer.check_finished()
        self.require_forward_param_sync = sync
        if sync and self.forward_sync_buffers and self._module_buffers \
                and dist.get_world_size(self.process_group) > 1:
            _coalesced_broadcast(self._module_buffers, self.process_group)
        output = self.module(*inputs, **kwargs)
        if sync:
            self.reducer.prepare(output)
        else:
            self.reducer.expecting = False
        return output

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally, without communication; the
        first synced backward after it reduces the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    @contextlib.contextmanager
    def join(self, divide_by_initial_world_size: bool = True, enable: bool = True,
             throw_on_early_termination: bool = False) -> Iterator[None]:
        """Uneven inputs across ranks: not implemented (DistributedSampler gives every rank the
        same number of batches)."""
        if enable and dist.get_world_size(self.process_group) > 1:
            raise NotImplementedError(
                "DistributedDataParallel.join() is not implemented in ember: give every rank "
                "the same number of batches (DistributedSampler pads to equal shards)")
        yield

    def register_comm_hook(self, state: Any, hook: Any) -> None:
        raise NotImplementedError("DistributedDataParallel.register_comm_hook is not "
                                  "implemented in ember")

    def _set_static_graph(self) -> None:
        self.static_graph = True
