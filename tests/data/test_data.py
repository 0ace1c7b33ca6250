"""ember.utils.data against torch.utils.data: datasets, samplers, collation and DataLoader
batches (types, dtypes, shapes, values), argument errors, and worker processes."""
from __future__ import annotations

import collections
import contextlib
import gc
import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from helpers import torch_or_skip

import ember
from ember.utils import data as edata

torch = torch_or_skip()
tdata = torch.utils.data

Point = collections.namedtuple("Point", ["x", "y"])


def _canon(obj, mod):
    """A framework-neutral form of a (possibly nested) batch, for equality checks."""
    if isinstance(obj, (ember.Tensor, torch.Tensor)):
        return ("tensor", str(obj.dtype).split(".")[-1], tuple(obj.shape),
                np.asarray(obj.detach().numpy()).tolist())
    if isinstance(obj, dict):
        return ("dict", type(obj).__name__, {k: _canon(v, mod) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return ("namedtuple", type(obj).__name__, [_canon(v, mod) for v in obj])
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [_canon(v, mod) for v in obj])
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.str, obj.tolist())
    return (type(obj).__name__, obj)


class _Samples:
    """A map-style dataset (subclassing each framework's Dataset) returning mixed samples."""

    def __init__(self, mod, kind, n=10):
        self.kind, self.n, self.mod = kind, n, mod

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        r = np.random.default_rng(i)
        arr = r.standard_normal((2, 3)).astype(np.float32)
        if self.kind == "tuple":
            return self.mod.tensor(arr), i
        if self.kind == "dict":
            return {"image": arr, "label": i % 3, "weight": float(i) / 2, "name": f"s{i}",
                    "flag": i % 2 == 0}
        if self.kind == "namedtuple":
            return Point(x=np.float32(i) / 4, y=np.int64(i))
        if self.kind == "nested":
            return [{"a": self.mod.tensor([i, i + 1]), "b": (np.float64(i), [i, -i])}, b"raw"]
        raise AssertionError(self.kind)


def _dataset(mod, kind, n=10):
    base = edata.Dataset if mod is ember else tdata.Dataset
    return type("Samples", (_Samples, base), {})(mod, kind, n)


def _loader(mod, dataset, **kw):
    return (edata if mod is ember else tdata).DataLoader(dataset, **kw)


@pytest.mark.parametrize("kind", ["tuple", "dict", "namedtuple", "nested"])
@pytest.mark.parametrize("kw", [dict(batch_size=4), dict(batch_size=3, drop_last=True),
                                dict(batch_size=None), dict(batch_size=1)])
def test_batches_match_torch(kind, kw):
    e = [_canon(b, ember) for b in _loader(ember, _dataset(ember, kind), **kw)]
    t = [_canon(b, torch) for b in _loader(torch, _dataset(torch, kind), **kw)]
    assert e == t


def test_tensor_dataset_batches_match_torch():
    r = np.random.default_rng(0)
    x, y = r.standard_normal((11, 3)).astype(np.float32), r.integers(0, 5, 11)
    e = list(edata.DataLoader(edata.TensorDataset(ember.tensor(x), ember.tensor(y)),
                              batch_size=4))
    t = list(tdata.DataLoader(tdata.TensorDataset(torch.tensor(x), torch.tensor(y)),
                              batch_size=4))
    assert [_canon(b, ember) for b in e] == [_canon(b, torch) for b in t]
    assert isinstance(e[0], list) and e[0][0].dtype == ember.float32
    assert e[0][1].dtype == ember.int64 and tuple(e[-1][0].shape) == (3, 3)


COLLATE_INPUTS = [
    [1.5, 2.0, -3.25],
    [1, 2, 3],
    [True, False],
    [np.float32(1.5), np.float32(2)],
    [np.int32(1), np.int32(7)],
    [np.arange(3, dtype=np.int16), np.arange(3, 6, dtype=np.int16)],
    [np.ones((2, 2)), np.zeros((2, 2))],
    ["a", "bc"],
    [(1, 2.0), (3, 4.0)],
    [[1, 2], [3, 4]],
    [{"a": 1, "b": [1.0, 2.0]}, {"a": 2, "b": [3.0, 4.0]}],
    [Point(1, 2.5), Point(3, 4.5)],
    [collections.OrderedDict(z=1, a=2), collections.OrderedDict(z=3, a=4)],
]


@pytest.mark.parametrize("case", range(len(COLLATE_INPUTS)))
def test_default_collate_matches_torch(case):
    batch = COLLATE_INPUTS[case]
    assert (_canon(edata.default_collate(batch), ember)
            == _canon(tdata.default_collate(batch), torch))
    assert (_canon(edata.default_convert(batch), ember)
            == _canon(tdata.default_convert(batch), torch))


def test_default_collate_of_tensors_stacks():
    out = edata.default_collate([ember.ones(2, 3), ember.zeros(2, 3)])
    assert tuple(out.shape) == (2, 2, 3) and out.dtype == ember.float32


def test_default_collate_errors_match_torch():
    for batch in ([object(), object()], [np.array(["a"]), np.array(["b"])], [[1, 2], [3]]):
        with pytest.raises(Exception) as te:
            tdata.default_collate(batch)
        with pytest.raises(type(te.value)) as ee:
            edata.default_collate(batch)
        assert str(ee.value).replace("ember.", "torch.") == str(te.value)


def _err(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, str(e)
    return None


class _Stream:
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = (edata if isinstance(self, edata.IterableDataset) else tdata).get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def _stream(mod, n=10):
    base = edata.IterableDataset if mod is ember else tdata.IterableDataset
    return type("Stream", (_Stream, base), {})(n)


LOADER_ERRORS = [
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1),
    dict(persistent_workers=True),
    dict(sampler=[0, 1], shuffle=True),
    dict(batch_sampler=[[0, 1]], batch_size=2),
    dict(batch_sampler=[[0, 1]], drop_last=True),
    dict(batch_sampler=[[0, 1]], sampler=[0]),
    dict(batch_size=None, drop_last=True),
    dict(multiprocessing_context="fork"),
    dict(num_workers=1, multiprocessing_context="nope"),
]


@pytest.mark.parametrize("kw", LOADER_ERRORS)
def test_loader_argument_errors_match_torch(kw):
    e = _err(lambda: _loader(ember, _dataset(ember, "tuple"), **kw))
    t = _err(lambda: _loader(torch, _dataset(torch, "tuple"), **kw))
    assert t is not None and e == t


@pytest.mark.parametrize("kw", [dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])])
def test_iterable_dataset_argument_errors_match_torch(kw):
    e = _err(lambda: _loader(ember, _stream(ember), **kw))
    t = _err(lambda: _loader(torch, _stream(torch), **kw))
    assert t is not None and e[0] == t[0] and e[1].split(",")[0] == t[1].split(",")[0]


def test_attributes_frozen_after_init():
    loader = edata.DataLoader(_dataset(ember, "tuple"))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                         "DataLoader is initialized"):
        loader.batch_size = 3


@pytest.mark.parametrize("kw", [dict(), dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                dict(batch_size=None), dict(batch_sampler=[[0, 1], [2]])])
def test_len_matches_torch(kw):
    assert (len(_loader(ember, _dataset(ember, "tuple", 10), **kw))
            == len(_loader(torch, _dataset(torch, "tuple", 10), **kw)))
    assert (len(_loader(ember, _stream(ember, 10), **{k: v for k, v in kw.items()
                                                        if k != "batch_sampler"}))
            == len(_loader(torch, _stream(torch, 10), **{k: v for k, v in kw.items()
                                                         if k != "batch_sampler"})))


def test_iterable_dataset_batches_match_torch():
    for kw in (dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None)):
        e = [_canon(b, ember) for b in _loader(ember, _stream(ember, 10), **kw)]
        t = [_canon(b, torch) for b in _loader(torch, _stream(torch, 10), **kw)]
        assert e == t


def test_tensor_dataset_size_mismatch():
    with pytest.raises(AssertionError, match="^Size mismatch between tensors$"):
        edata.TensorDataset(ember.zeros(3, 2), ember.zeros(4))


def test_concat_subset_and_stack_datasets():
    a, b = _dataset(ember, "tuple", 3), _dataset(ember, "tuple", 4)
    cat = a + b
    assert isinstance(cat, edata.ConcatDataset) and len(cat) == 7
    assert cat[4][1] == 1 and cat[-1][1] == 3 and cat.cumulative_sizes == [3, 7]
    with pytest.raises(ValueError, match="absolute value of index should not exceed"):
        cat[-8]
    sub = edata.Subset(cat, [6, 0, 3])
    assert len(sub) == 3 and [sub[i][1] for i in range(3)] == [3, 0, 0]
    stacked = edata.StackDataset(x=a, y=a)
    assert set(stacked[1]) == {"x", "y"} and len(stacked) == 3
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        edata.ConcatDataset([_stream(ember)])
    chain = _stream(ember, 3) + _stream(ember, 2)
    assert list(chain) == [0, 1, 2, 0, 1] and len(chain) == 5


@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.3, 0.3, 0.4]),
                                       (11, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]),
                                       (5, [0.1, 0.1, 0.8])])
def test_random_split_sizes_match_torch(n, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = edata.random_split(range(n), lengths, generator=ember.Generator().manual_seed(0))
        t = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in e] == [len(s) for s in t]
    assert sorted(i for s in e for i in s.indices) == list(range(n))


def test_random_split_is_seeded_and_checks_lengths():
    def split(seed):
        gen = ember.Generator().manual_seed(seed)
        parts = edata.random_split(range(20), [5, 15], generator=gen)
        return [list(p) for p in parts]

    assert split(3) == split(3) and split(3) != split(4)
    assert _err(lambda: edata.random_split(range(5), [2, 2])) == _err(
        lambda: tdata.random_split(range(5), [2, 2]))
    assert _err(lambda: edata.random_split(range(5), [1.5, -0.5])) == _err(
        lambda: tdata.random_split(range(5), [1.5, -0.5]))
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        edata.random_split(range(3), [0.05, 0.05, 0.9])  # sizes 0, 0, 2, then the remainder


def test_samplers():
    assert list(edata.SequentialSampler(range(4))) == [0, 1, 2, 3]
    for drop_last in (False, True):
        e = edata.BatchSampler(edata.SequentialSampler(range(10)), 3, drop_last)
        t = tdata.BatchSampler(tdata.SequentialSampler(range(10)), 3, drop_last)
        assert list(e) == list(t) and len(e) == len(t)
    g = ember.Generator().manual_seed(0)
    perm = list(edata.RandomSampler(range(8), generator=g))
    assert sorted(perm) == list(range(8))
    more = list(edata.RandomSampler(range(8), num_samples=19, generator=g))
    assert len(more) == 19 and sorted(more[:16]) == sorted(list(range(8)) * 2)
    drawn = list(edata.RandomSampler(range(3), replacement=True, num_samples=70, generator=g))
    assert len(drawn) == 70 and set(drawn) <= {0, 1, 2}
    subset = list(edata.SubsetRandomSampler([5, 9, 2], generator=g))
    assert sorted(subset) == [2, 5, 9]
    weighted = edata.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 50, generator=g)
    assert len(list(weighted)) == 50 and set(weighted) <= {1, 3} and len(weighted) == 50
    once = list(edata.WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False, generator=g))
    assert sorted(once) == [0, 1, 2]
    # unseeded shuffles draw from the global generator, so manual_seed makes them repeatable
    ember.manual_seed(1)
    a = list(edata.RandomSampler(range(10)))
    ember.manual_seed(1)
    assert list(edata.RandomSampler(range(10))) == a


@pytest.mark.parametrize("build", [
    lambda m: m.RandomSampler(range(3), num_samples=0),
    lambda m: m.RandomSampler(range(3), replacement=1),
    lambda m: m.BatchSampler(range(3), 0, False),
    lambda m: m.BatchSampler(range(3), 2, None),
    lambda m: m.WeightedRandomSampler([1.0, 2.0], 0),
    lambda m: m.WeightedRandomSampler([1.0, 2.0], 2, replacement=None),
    lambda m: m.WeightedRandomSampler([[1.0, 2.0]], 2),
])
def test_sampler_errors_match_torch(build):
    e, t = _err(lambda: build(edata)), _err(lambda: build(tdata))
    assert t is not None and e == t


def test_shuffle_is_seeded():
    def order(seed, **kw):
        loader = edata.DataLoader(_dataset(ember, "tuple", 12), batch_size=5, shuffle=True,
                                  generator=ember.Generator().manual_seed(seed), **kw)
        return [b[1].tolist() for b in loader]

    assert order(0) == order(0) and order(0) != order(1)
    assert sorted(sum(order(0), [])) == list(range(12))


# -- workers --------------------------------------------------------------------------------------
class _WorkerAware(edata.Dataset):
    def __len__(self):
        return 9

    def __getitem__(self, i):
        info = edata.get_worker_info()
        return ember.tensor([float(i)]), -1 if info is None else info.id


class _Failing(edata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"bad sample {i}")
        return i


def test_workers_give_the_same_batches_as_single_process():
    def batches(workers):
        loader = edata.DataLoader(_dataset(ember, "dict", 13), batch_size=3, shuffle=True,
                                  num_workers=workers,
                                  generator=ember.Generator().manual_seed(7))
        return [_canon(b, ember) for b in loader]

    assert batches(2) == batches(0)


def test_workers_deal_batches_round_robin_and_keep_order():
    loader = edata.DataLoader(_WorkerAware(), batch_size=2, num_workers=2)
    out = list(loader)
    assert [b[0].view(-1).tolist() for b in out] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0],
                                                      [6.0, 7.0], [8.0]]
    assert [b[1].tolist() for b in out] == [[0, 0], [1, 1], [0, 0], [1, 1], [0]]
    assert edata.get_worker_info() is None


def test_iterable_dataset_with_workers():
    loader = edata.DataLoader(_stream(ember, 10), batch_size=2, num_workers=2)
    got = sorted(v for b in loader for v in b.tolist())
    assert got == list(range(10))


def test_worker_exception_surfaces_in_main_process():
    loader = edata.DataLoader(_Failing(), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as err:
        list(loader)
    msg = str(err.value)
    assert msg.startswith("Caught ValueError in DataLoader worker process 0.\nOriginal Traceback")
    assert "bad sample 5" in msg and "__getitem__" in msg


def test_worker_init_fn_error_surfaces():
    def init(worker_id):
        raise KeyError(f"init {worker_id}")

    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process"):
        list(edata.DataLoader(_Failing(), batch_size=2, num_workers=2, worker_init_fn=init))


def test_workers_shut_down_at_end_and_on_del():
    loader = edata.DataLoader(_dataset(ember, "tuple", 20), batch_size=2, num_workers=2)
    it = iter(loader)
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    list(it)
    assert not any(w.is_alive() for w in workers)

    it = iter(loader)
    next(it)
    workers = list(it._workers)
    del it
    gc.collect()
    assert not any(w.is_alive() for w in workers)


def test_persistent_workers_survive_epochs():
    loader = edata.DataLoader(_dataset(ember, "tuple", 6), batch_size=4, num_workers=2,
                              persistent_workers=True)
    first = [_canon(b, ember) for b in loader]
    pids = [w.pid for w in loader._iterator._workers]
    second = [_canon(b, ember) for b in loader]
    assert first == second and pids == [w.pid for w in loader._iterator._workers]
    workers = loader._iterator._workers
    loader._iterator._shutdown_workers()
    assert not any(w.is_alive() for w in workers)


def test_worker_seeds_differ_and_init_fn_runs(tmp_path):
    class Seeds(edata.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            info = edata.get_worker_info()
            return [info.id, info.seed, int(ember.randint(0, 10**9, ()).item()),
                    int(os.environ.get("EMBER_TEST_INIT", -1))]

    def init(worker_id):
        os.environ["EMBER_TEST_INIT"] = str(worker_id)

    loader = edata.DataLoader(Seeds(), batch_size=2, num_workers=2, worker_init_fn=init,
                              generator=ember.Generator().manual_seed(0))
    (ids0, seeds0, draws0, inits0), (ids1, seeds1, draws1, inits1) = [
        [t.tolist() for t in b] for b in loader]
    assert ids0 == inits0 == [0, 0] and ids1 == inits1 == [1, 1]
    assert seeds1[0] == seeds0[0] + 1 and draws0[0] != draws1[0]


class _Slow(edata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2:
            import time

            time.sleep(1.0)
        return i


class _Dies(edata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            os._exit(1)
        return i


def test_timeout_raises():
    loader = edata.DataLoader(_Slow(), batch_size=1, num_workers=2, timeout=0.2)
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0.2 seconds$"):
        list(loader)


def test_dead_worker_is_detected():
    loader = edata.DataLoader(_Dies(), batch_size=1, num_workers=2)
    with _deadline(30), pytest.raises(RuntimeError, match=(
            r"^DataLoader worker \(pid \d+\) exited unexpectedly with exit code 1. Details are "
            r"lost due to multiprocessing. Rerunning with num_workers=0 may give better error "
            r"trace.$")):
        list(loader)


def test_at_most_prefetch_factor_times_workers_batches_in_flight():
    loader = edata.DataLoader(_dataset(ember, "tuple", 30), batch_size=2, num_workers=2,
                              prefetch_factor=3)
    it = iter(loader)
    seen = [it._tasks_outstanding]
    for _ in it:
        seen.append(it._tasks_outstanding)
    assert max(seen) == 6 and seen[-1] == 0


# -- no hangs: results that can't be pickled, workers that die (issue 14) -----------------------
@contextlib.contextmanager
def _deadline(seconds):
    """Fails a test that would hang: SIGALRM interrupts the main process's wait for a batch."""
    def expired(signum, frame):
        raise TimeoutError(f"no result within {seconds} s: the DataLoader hangs")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _WithLock(edata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return threading.Lock() if i == 5 else i


def _as_list(batch):
    return batch


@pytest.mark.parametrize("kw, worker, what", [  # tasks are dealt to the workers round-robin
    (dict(batch_size=2, collate_fn=_as_list), 0, "sample 5 (of the batch of samples [4, 5])"),
    (dict(batch_size=None), 1, "sample 5"),
])
def test_unpicklable_result_is_raised_in_main_process_with_its_index(kw, worker, what):
    loader = edata.DataLoader(_WithLock(), num_workers=2, **kw)
    with _deadline(30), pytest.raises(TypeError) as err:
        list(loader)
    msg = str(err.value)
    assert msg.startswith(f"Caught TypeError in DataLoader worker process {worker} while pickling "
                          f"{what} to send it to the main process.\nOriginal Traceback")
    assert msg.rstrip().endswith("TypeError: cannot pickle '_thread.lock' object")


def test_unpicklable_batch_of_an_iterable_dataset_is_raised():
    class Stream(edata.IterableDataset):
        def __iter__(self):
            yield {"lock": threading.Lock()}

    loader = edata.DataLoader(Stream(), batch_size=None, num_workers=1)
    with _deadline(30), pytest.raises(TypeError, match="while pickling a batch of its "
                                                       "IterableDataset"):
        list(loader)


def test_exception_class_defined_in_a_function_is_raised_in_main_process():
    class LocalError(Exception):
        pass

    class Raises(edata.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise LocalError(f"local failure {i}")

    loader = edata.DataLoader(Raises(), batch_size=2, num_workers=2)
    with _deadline(30), pytest.raises(RuntimeError) as err:
        list(loader)
    msg = str(err.value)
    assert msg.startswith("Caught LocalError in DataLoader worker process 0 (raised as "
                          "RuntimeError: the class test_exception_class_defined_in_a_function_is_"
                          "raised_in_main_process.<locals>.LocalError can't be pickled to the "
                          "main process).\nOriginal Traceback")
    assert "LocalError: local failure 0" in msg

    instance = LocalError("as a sample")  # an instance of it as a sample: the pickling error
    loader = edata.DataLoader([0, instance], batch_size=None, num_workers=1)
    with _deadline(30), pytest.raises(Exception, match=r"while pickling sample 1 to send it to "
                                                       r"the main process"):
        list(loader)


def test_persistent_worker_killed_between_epochs_gives_torchs_error():
    loader = edata.DataLoader(_dataset(ember, "tuple", 8), batch_size=2, num_workers=2,
                              persistent_workers=True)
    assert len(list(loader)) == 4
    victim = loader._iterator._workers[1]
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(timeout=10)
    with _deadline(30), pytest.raises(RuntimeError) as err:
        list(loader)
    # torch's text (its SIGCHLD handler's), trailing space included
    assert str(err.value) == f"DataLoader worker (pid {victim.pid}) is killed by signal: Killed. "


class _Stalls(edata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if edata.get_worker_info().id == 0 and i >= 2:
            time.sleep(60)  # worker 0 is stuck when it gets killed
        return i


def test_worker_killed_while_the_main_process_waits_is_noticed_within_a_second():
    loader = edata.DataLoader(_Stalls(), batch_size=2, num_workers=2, persistent_workers=True)
    it = iter(loader)
    assert [next(it).tolist(), next(it).tolist()] == [[0, 1], [2, 3]]
    victim = it._workers[0]
    killed_at = []

    def kill():
        time.sleep(0.5)
        killed_at.append(time.monotonic())
        os.kill(victim.pid, signal.SIGKILL)

    threading.Thread(target=kill, daemon=True).start()
    with _deadline(30), pytest.raises(RuntimeError, match=r"^DataLoader worker \(pid "
                                      rf"{victim.pid}\) is killed by signal: Killed\. $"):
        list(it)
    assert time.monotonic() - killed_at[0] < 1.0


def test_pin_memory_pins_each_batch_where_cuda_is_available():
    # torch's: the batch's tensors (in dicts, named tuples, lists) copied to pinned host memory;
    # without an accelerator, a warning and plain batches. (The CUDA half: pytest --device
    # fakecuda, or a GPU.)
    Pair = collections.namedtuple("Pair", "x y")

    class Samples(edata.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            x = ember.tensor([float(i), 1.0], device="cpu")
            return {"pair": Pair(x, ember.tensor(i, device="cpu")), "name": f"s{i}", "ls": [x]}

    loader = edata.DataLoader(Samples(), batch_size=2, pin_memory=True)
    if ember.cuda.is_available():
        batches = list(loader)
        batch = batches[1]
        assert isinstance(batch["pair"], Pair) and batch["name"] == ["s2", "s3"]
        assert batch["pair"].x.is_pinned() and batch["pair"].y.is_pinned()
        assert batch["ls"][0].is_pinned() and not batch["pair"].x.is_cuda
        np.testing.assert_array_equal(batch["pair"].x.numpy(), [[2.0, 1.0], [3.0, 1.0]])
        assert batch["pair"].x.to("cuda").is_cuda
    else:
        with pytest.warns(UserWarning, match="no accelerator is found"):
            batch = next(iter(loader))
        assert not batch["pair"].x.is_pinned()
