"""The DataLoader worker process: receives ``(task_idx, index)`` on its index pipe, sends back
``(task_idx, batch)`` (or a wrapped exception) on the shared result queue.

Indices travel over a plain pipe rather than a ``multiprocessing.Queue``, whose sends go through a
feeder thread: a pipe send needs no helper thread, so the shutdown message always gets through.

Results are pickled by the worker itself (:class:`Pickled`) before they go on the queue. The
queue would pickle them in its feeder thread, which can only print a pickling error: the batch
would never arrive and the main process would wait for it forever (torch does).
"""
from __future__ import annotations

import io
import os
import pickle
import random
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any, Callable

import numpy as np

import ember
from . import MP_STATUS_CHECK_INTERVAL
from .fetch import _DatasetKind

__all__ = ["Pickled", "WorkerInfo", "get_worker_info"]


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker process."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker: its id, the number of workers, its seed and its copy of the
    dataset. In the main process: None."""
    return _worker_info


class _KeyErrorMessage(str):
    """A KeyError shows ``repr`` of its argument; this keeps a multi-line message readable."""

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process as its type and traceback
    text (a traceback object can't be pickled)."""

    caught: str | None = None  # the caught type's name, when exc_type stands in for it

    def __init__(self, exc_info: Any = None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> None:
        """Raises the wrapped exception type with the original traceback in its message."""
        name = self.caught or self.exc_type.__name__
        msg = f"Caught {name} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            # the type needs other constructor arguments: fall back to a RuntimeError
            raise RuntimeError(msg) from None
        raise exception


def _dumps(obj: Any) -> bytes:
    # ForkingPickler, as the queue itself uses: the reductions multiprocessing registers apply
    buf = io.BytesIO()
    ForkingPickler(buf).dump(obj)
    return buf.getvalue()


class Pickled:
    """A worker's result, already pickled; the main process opens it with :meth:`load`."""

    __slots__ = ("index", "payload", "worker_id")

    def __init__(self, payload: bytes, index: Any, worker_id: int) -> None:
        self.payload = payload
        self.index = index  # the sample indices, to name them if the main process can't unpickle
        self.worker_id = worker_id

    def __reduce__(self) -> tuple:
        return Pickled, (self.payload, self.index, self.worker_id)

    def load(self) -> Any:
        try:
            return pickle.loads(self.payload)
        except Exception as e:  # any unpickling failure, named with its samples
            raise RuntimeError(f"DataLoader worker process {self.worker_id} sent "
                               f"{_describe(self.index)}, which the main process can't "
                               f"unpickle: {type(e).__name__}: {e}") from e


def _describe(index: Any, culprit: Any = None) -> str:
    if isinstance(index, (list, tuple)):
        if culprit is not None:
            return f"sample {culprit!r} (of the batch of samples {index})"
        return f"the batch of samples {index}"
    if index is None:  # an IterableDataset: no indices
        return "a batch of its IterableDataset"
    return f"sample {index!r}"


def _pickled(data: Any, index: Any, worker_id: int) -> Pickled:
    """``data`` pickled, or else the pickling error, raised in the main process with the index
    of the sample that could not be pickled."""
    try:
        return Pickled(_dumps(data), index, worker_id)
    except Exception:  # noqa: BLE001 - a __reduce__ may raise anything
        exc_info = sys.exc_info()
    if isinstance(data, ExceptionWrapper):
        return Pickled(_dumps(_as_runtime_error(data)), index, worker_id)
    culprit = None
    if (isinstance(index, (list, tuple)) and isinstance(data, (list, tuple))
            and len(data) == len(index)):
        for i, sample in zip(index, data):  # a batch left as a list (a custom collate_fn)
            try:
                _dumps(sample)
            except Exception:  # noqa: BLE001 - as above
                culprit = i
                break
    where = (f"in DataLoader worker process {worker_id} while pickling "
             f"{_describe(index, culprit)} to send it to the main process")
    wrapper = ExceptionWrapper(exc_info, where=where)
    try:
        return Pickled(_dumps(wrapper), index, worker_id)
    except Exception:  # noqa: BLE001 - the pickling error's own type can't be pickled either
        return Pickled(_dumps(_as_runtime_error(wrapper)), index, worker_id)


def _as_runtime_error(wrapper: ExceptionWrapper) -> ExceptionWrapper:
    """``wrapper`` as a RuntimeError: for an exception class the main process can't receive (one
    defined inside a function). Its traceback text, which names the class, still travels."""
    fallback = ExceptionWrapper.__new__(ExceptionWrapper)
    fallback.exc_type = RuntimeError
    fallback.caught = getattr(wrapper.exc_type, "__name__", repr(wrapper.exc_type))
    fallback.exc_msg = wrapper.exc_msg
    name = getattr(wrapper.exc_type, "__qualname__", fallback.caught)
    fallback.where = (f"{wrapper.where} (raised as RuntimeError: the class {name} can't be "
                      "pickled to the main process)")
    return fallback


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """Sent by a worker whose copy of an IterableDataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at the start of each new epoch."""


class _ParentWatchdog:
    """Lets a worker notice that the main process died (it is then re-parented)."""

    def __init__(self) -> None:
        self.parent_pid = os.getppid()

    def is_alive(self) -> bool:
        return os.getppid() == self.parent_pid


def _seed_worker(base_seed: int, worker_id: int) -> int:
    """Seeds Python's, NumPy's and ember's global generators differently in each worker."""
    seed = base_seed + worker_id
    random.seed(seed)
    ember.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed % 2**64]).generate_state(4))
    return seed


def _worker_loop(dataset_kind: int, dataset: Any, index_conn: Any, data_queue: Any,
                 done_event: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool,
                 base_seed: int, init_fn: Callable | None, worker_id: int,
                 num_workers: int) -> None:
    global _worker_info
    try:
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                                  dataset=dataset)
        init_exception = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = _DatasetKind.create_fetcher(dataset_kind, dataset, auto_collation,
                                                  collate_fn, drop_last)
        except Exception:
            # reported in place of the first batch this worker is asked for
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")

        iteration_end = False
        watchdog = _ParentWatchdog()
        while watchdog.is_alive():
            if not index_conn.poll(MP_STATUS_CHECK_INTERVAL):
                continue
            try:
                r = index_conn.recv()
            except EOFError:  # every sender is gone
                break
            if isinstance(r, _ResumeIteration):
                data_queue.put((r, None))
                iteration_end = False
                fetcher = _DatasetKind.create_fetcher(dataset_kind, dataset, auto_collation,
                                                      collate_fn, drop_last)
                continue
            if r is None:  # shutdown
                break
            if done_event.is_set() or iteration_end:
                continue  # draining: the main process no longer wants batches
            idx, index = r
            if init_exception is not None:
                data: Any = init_exception
                init_exception = None
            else:
                try:
                    data = fetcher.fetch(index)  # type: ignore[union-attr]
                except Exception as e:
                    if isinstance(e, StopIteration) and dataset_kind == _DatasetKind.Iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(
                            where=f"in DataLoader worker process {worker_id}")
            if not isinstance(data, _IterableDatasetStopIteration):
                data = _pickled(data, index, worker_id)
            data_queue.put((idx, data))
            del data, idx, index, r  # don't hold a batch while waiting for the next index
    except KeyboardInterrupt:
        pass  # the main process handles Ctrl-C and shuts the workers down
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()
