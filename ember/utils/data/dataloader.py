"""``DataLoader``: batches of a dataset, loaded in the main process or in worker processes.

With ``num_workers > 0`` the main process deals the batch indices out to the workers round-robin,
keeps at most ``prefetch_factor * num_workers`` batches in flight, and hands batches out in
sampler order whatever order they arrive in. Workers are started with ``fork`` where the platform
has it (they then share the dataset's memory copy-on-write), and are shut down when the epoch
ends, when the iterator is garbage-collected, and on errors. Nothing waits forever on a worker: a
result it can't pickle is raised in the main process with the sample's index, and a worker that
dies is reported with torch's error within ``_utils.MP_WORKER_CHECK_INTERVAL`` (0.1 s).
"""
from __future__ import annotations

import copy
import itertools
import multiprocessing
import os
import queue
import signal
import time
import warnings
import weakref
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any, Callable, Generic, Iterable, TypeVar

import ember
from . import _utils
from ._utils.collate import default_collate, default_convert
from ._utils.fetch import _DatasetKind
from ._utils.worker import (ExceptionWrapper, Pickled, _IterableDatasetStopIteration,
                            _ResumeIteration, _worker_loop, get_worker_info)
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

T_co = TypeVar("T_co", covariant=True)


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: the stream itself decides when the epoch ends."""

    def __iter__(self) -> Any:
        while True:
            yield None


def _default_context() -> Any:
    if "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


class DataLoader(Generic[T_co]):
    """Iterates over ``dataset`` in batches.

    Args:
        dataset: a map-style ``Dataset`` or an ``IterableDataset``.
        batch_size: samples per batch; None turns automatic batching off (default: 1).
        shuffle: reshuffle the indices every epoch (default: False).
        sampler: the index order (excludes ``shuffle``).
        batch_sampler: yields whole lists of indices (excludes batch_size, shuffle, sampler and
            drop_last).
        num_workers: worker processes loading batches; 0 loads in the main process.
        collate_fn: merges a list of samples into a batch (default: ``default_collate``).
        pin_memory: put each batch's tensors in pinned (page-locked) host memory, from which
            copies to a GPU are faster, when CUDA is available; else a warning, as torch's.
        drop_last: drop the last incomplete batch.
        timeout: seconds to wait for a batch from the workers (0: forever).
        worker_init_fn: called with the worker id in each worker after seeding.
        multiprocessing_context: a start method name or a multiprocessing context.
        generator: an ember ``Generator`` for shuffling and the workers' base seed. ember's
            random stream is not torch's, so a seed gives a different order than in torch.
        prefetch_factor: batches loaded in advance per worker (default 2 with workers).
        persistent_workers: keep the workers alive between epochs.
        in_order: hand batches out in sampler order (default); False yields them as they come.
    """

    __initialized = False

    def __init__(self, dataset: Dataset[T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler[list] | Iterable[list] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in {False, None}:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)  # type: ignore[arg-type]
            else:
                sampler = SequentialSampler(dataset)  # type: ignore[arg-type]
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.__initialized = True
        self._IterableDataset_len_called: int | None = None
        self._iterator: _BaseDataLoaderIter | None = None
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self) -> Any:
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context: Any) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 "loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError("multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self.__multiprocessing_context = context

    def __setattr__(self, attr: str, val: Any) -> None:
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                           "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self) -> _BaseDataLoaderIter:
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            length = self._IterableDataset_len_called = len(self.dataset)  # type: ignore
            if self.batch_size is not None:
                if self.drop_last:
                    length = length // self.batch_size
                else:
                    length = -(-length // self.batch_size)
            return length
        return len(self._index_sampler)

    def check_worker_number_rationality(self) -> None:
        """Warns when more workers are requested than this process may use CPUs."""
        if not self.num_workers:
            return
        try:
            max_workers: int | None = len(os.sched_getaffinity(0))
            cpuset_checked = True
        except AttributeError:
            max_workers, cpuset_checked = os.cpu_count(), False
        if max_workers is not None and self.num_workers <= max_workers:
            return
        if max_workers is None:
            suggestion = ("DataLoader is not able to compute a suggested max number of worker "
                          "in current system.")
        else:
            note = "" if cpuset_checked else " (`cpuset` is not taken into account)"
            suggestion = (f"Our suggested max number of worker in current system is "
                          f"{max_workers}{note}, which is smaller than what this DataLoader is "
                          "going to create.")
        warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in total. "
                      f"{suggestion} Please be aware that excessive worker creation might get "
                      "DataLoader running slow or even freeze, lower the worker number to avoid "
                      "potential slowness/freeze if necessary.", stacklevel=2)


def _pin(data: Any) -> Any:
    """torch's ``_utils.pin_memory.pin_memory``: the tensors of a batch (in mappings, tuples,
    sequences, or any object with a ``pin_memory`` method) in pinned host memory."""
    if isinstance(data, ember.Tensor) or hasattr(data, "pin_memory"):
        return data.pin_memory()
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, Mapping):
        try:
            if isinstance(data, MutableMapping):  # a clone keeps the type's extra properties
                clone = copy.copy(data)
                clone.update({k: _pin(v) for k, v in data.items()})
                return clone
            return type(data)({k: _pin(v) for k, v in data.items()})
        except TypeError:
            return {k: _pin(v) for k, v in data.items()}
    if isinstance(data, tuple):
        if hasattr(data, "_fields"):  # a namedtuple
            return type(data)(*(_pin(v) for v in data))
        return type(data)(_pin(v) for v in data)
    if isinstance(data, Sequence):
        try:
            if isinstance(data, MutableSequence):
                clone = copy.copy(data)
                for i, item in enumerate(data):
                    clone[i] = _pin(item)
                return clone
            return type(data)([_pin(v) for v in data])
        except TypeError:  # e.g. range
            return [_pin(v) for v in data]
    return data


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._pin_memory = loader.pin_memory and ember.cuda.is_available()
        if loader.pin_memory and not self._pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=3)
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        # drawn from the loader's generator before any shuffling, with or without workers, so
        # one seed gives one order either way
        self._base_seed = int(ember.empty((), dtype=ember.int64)
                              .random_(generator=loader.generator).item())
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0

    def __iter__(self) -> _BaseDataLoaderIter:
        return self

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self) -> Any:
        return next(self._sampler_iter)

    def _next_data(self) -> Any:
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        if self._pin_memory:
            data = _pin(data)
        self._num_yielded += 1
        if (self._dataset_kind == _DatasetKind.Iterable
                and self._IterableDataset_len_called is not None
                and self._num_yielded > self._IterableDataset_len_called):
            msg = (f"Length of IterableDataset {self._dataset} was reported to be "
                   f"{self._IterableDataset_len_called}(when accessing len(dataloader)), but "
                   f"{self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly "
                        "configuring the IterableDataset replica at each worker. Please see "
                        "https://pytorch.org/docs/stable/data.html#torch.utils.data."
                        "IterableDataset for examples.")
            warnings.warn(msg, stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self) -> Any:
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._dataset_fetcher = _DatasetKind.create_fetcher(
            self._dataset_kind, self._dataset, self._auto_collation, self._collate_fn,
            self._drop_last)

    def _next_data(self) -> Any:
        return self._dataset_fetcher.fetch(self._next_index())


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Feeds indices to worker processes and reorders their batches.

    Task ``i`` is the i-th index from the sampler. ``_task_info[i]`` is ``(worker_id,)`` while
    the task is out, and ``(worker_id, batch)`` once its batch arrived ahead of its turn.
    """

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._prefetch_factor: int = loader.prefetch_factor  # type: ignore[assignment]
        self._in_order = loader.in_order
        ctx = loader.multiprocessing_context or _default_context()
        self._worker_result_queue = ctx.Queue()
        self._workers_done_event = ctx.Event()
        self._index_pipes: list[Any] = []  # the sending ends of the workers' index pipes
        self._workers: list[Any] = []
        # Shutdown runs as a weakref finalizer holding the worker handles, not as __del__: when an
        # abandoned iterator is collected as part of a reference cycle (an exception traceback
        # makes one), __del__ may run after the pipes and queues in that cycle were finalized.
        self._finalizer = weakref.finalize(self, _shutdown_workers, self._workers,
                                           self._index_pipes, self._workers_done_event,
                                           self._worker_result_queue)
        try:
            for i in range(self._num_workers):
                index_reader, index_writer = ctx.Pipe(duplex=False)
                w = ctx.Process(
                    target=_worker_loop,
                    args=(self._dataset_kind, self._dataset, index_reader,
                          self._worker_result_queue, self._workers_done_event,
                          self._auto_collation, self._collate_fn, self._drop_last,
                          self._base_seed, loader.worker_init_fn, i, self._num_workers),
                    daemon=True,  # dies with the main process whatever happens
                )
                w.start()
                index_reader.close()  # the worker has its own copy
                self._index_pipes.append(index_writer)
                self._workers.append(w)
        except BaseException:
            self._finalizer()
            raise
        self._data_queue = self._worker_result_queue
        self._reset(loader, first_iter=True)

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info: dict[int, tuple] = {}
        self._tasks_outstanding = 0
        self._workers_status = [True] * self._num_workers
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # persistent workers: one may have been killed since the last epoch
            self._raise_if_a_worker_died()
            # wait until every worker has acknowledged the new epoch
            for worker_id in range(self._num_workers):
                self._send(worker_id, _ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _ = self._get_data()
                if isinstance(idx, _ResumeIteration):
                    pending -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_get_data(self, timeout: float | None = None) -> tuple[bool, Any]:
        if timeout is None:
            timeout = _utils.MP_STATUS_CHECK_INTERVAL
        deadline = time.monotonic() + timeout
        while True:
            # short waits, so that a dead worker is noticed at once, not when the timeout ends
            wait = min(_utils.MP_WORKER_CHECK_INTERVAL, max(deadline - time.monotonic(), 0.0))
            try:
                return True, self._data_queue.get(timeout=wait)
            except queue.Empty as e:
                self._raise_if_a_worker_died(e)
                if time.monotonic() >= deadline:
                    return False, None
            except Exception as e:
                self._raise_if_a_worker_died(e)
                raise

    def _raise_if_a_worker_died(self, cause: BaseException | None = None) -> None:
        """Raises torch's error for a worker that should be running but has exited."""
        failed = [i for i, w in enumerate(self._workers)
                  if self._workers_status[i] and not w.is_alive()]
        if not failed:
            return
        for i in failed:
            self._mark_worker_as_unavailable(i)
        raise RuntimeError(_worker_death_message(self._workers[failed[0]])) from cause

    def _send(self, worker_id: int, message: Any) -> None:
        """Sends ``message`` on a worker's index pipe; a dead worker raises torch's error."""
        try:
            self._index_pipes[worker_id].send(message)
        except OSError as e:  # BrokenPipeError: the worker is gone (or going)
            # its pipe closes as it exits, a moment before it can be waited for
            self._workers[worker_id].join(timeout=1.0)
            self._raise_if_a_worker_died(e)
            raise

    def _get_data(self) -> Any:
        if self._timeout > 0:
            ok, data = self._try_get_data(self._timeout)
            if not ok:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
            return data
        while True:  # wake up every few seconds to check that the workers are still alive
            ok, data = self._try_get_data()
            if ok:
                return data

    def _next_data(self) -> Any:
        while True:
            # skip tasks whose worker has finished its stream (IterableDataset)
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    if len(info) == 2 or self._workers_status[info[0]]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            if len(self._task_info[self._rcvd_idx]) == 2:  # it arrived earlier
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if (self._dataset_kind == _DatasetKind.Iterable
                    and isinstance(data, _IterableDatasetStopIteration)):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if not self._in_order:
                    worker_id = self._task_info.pop(idx)[0]
                    return self._process_data(data, worker_id)
                self._task_info[idx] += (data,)  # keep it until its turn
            else:
                worker_id = self._task_info.pop(idx)[0]
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

    def _try_put_index(self) -> None:
        max_tasks = self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):  # the next worker still running, round-robin
            worker_id = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_id]:
                if self._in_order:
                    break
                if self._workers_num_tasks[worker_id] < max_tasks // sum(self._workers_status):
                    break
        else:
            return  # every worker is done
        self._send(worker_id, (self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._workers_num_tasks[worker_id] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _process_data(self, data: Any, worker_id: int) -> Any:
        self._workers_num_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, Pickled):
            data = data.load()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id: int) -> None:
        # a None on its index pipe makes the worker leave its loop
        try:
            self._index_pipes[worker_id].send(None)
        except OSError:  # the worker is already gone
            pass
        self._workers_status[worker_id] = False

    def _shutdown_workers(self) -> None:
        self._finalizer()


def _worker_death_message(worker: Any) -> str:
    """torch's words for a worker that exited (its C++ SIGCHLD handler's, trailing space kept)."""
    code = worker.exitcode
    if code is not None and code < 0:
        try:
            name = signal.strsignal(-code) or str(-code)
        except ValueError:
            name = str(-code)
        message = f"DataLoader worker (pid {worker.pid}) is killed by signal: {name}. "
        if -code == getattr(signal, "SIGBUS", None):
            message += ("It is possible that dataloader's workers are out of shared memory. "
                        "Please try to raise your shared memory limit.")
        return message
    if code:
        return (f"DataLoader worker (pid {worker.pid}) exited unexpectedly with exit code {code}. "
                "Details are lost due to multiprocessing. Rerunning with num_workers=0 may give "
                "better error trace.")
    return f"DataLoader worker (pid(s) {worker.pid}) exited unexpectedly"


def _shutdown_workers(workers: list[Any], index_writers: list[Any], done_event: Any,
                      result_queue: Any) -> None:
    """Stops the workers: asks each to leave its loop, waits a while, then terminates any worker
    stuck in user code. Runs once per iterator (at the end of an epoch, when the iterator is
    collected, or at interpreter exit)."""
    try:
        done_event.set()  # workers drop the tasks still queued to them
        for conn in index_writers:
            try:
                conn.send(None)
            except OSError:  # that worker has already exited
                pass
        for w in workers:
            w.join(timeout=_utils.MP_STATUS_CHECK_INTERVAL)
        for conn in index_writers:
            conn.close()
        result_queue.cancel_join_thread()
        result_queue.close()
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
                w.join(timeout=_utils.MP_STATUS_CHECK_INTERVAL)
