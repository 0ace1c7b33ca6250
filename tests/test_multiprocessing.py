"""ember.multiprocessing against torch.multiprocessing: Python's multiprocessing re-exported,
the sharing-strategy switches, and spawn/start_processes (ranks, joining, the failure raised
in the parent)."""
import multiprocessing
import pickle

import pytest

import ember.multiprocessing as emp
import mp_workers
from helpers import torch_or_skip

torch = torch_or_skip()
tmp = torch.multiprocessing


def test_names_and_strategies():
    assert sorted(emp.__all__) == sorted(tmp.__all__ + ["spawn", "start_processes",
                                                        "ProcessContext", "ProcessException",
                                                        "ProcessExitedException",
                                                        "ProcessRaisedException"])
    assert emp.Process is multiprocessing.Process and emp.Queue is multiprocessing.Queue
    assert emp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    assert emp.get_sharing_strategy() == tmp.get_sharing_strategy()
    emp.set_sharing_strategy("file_system")
    assert emp.get_sharing_strategy() == "file_system"
    emp.set_sharing_strategy("file_descriptor")
    with pytest.raises(AssertionError):
        emp.set_sharing_strategy("nope")


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_start_processes_runs_every_rank(method, tmp_path):
    emp.start_processes(mp_workers.write_rank, args=(str(tmp_path),), nprocs=3,
                        start_method=method)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.txt", "1.txt", "2.txt"]


def test_spawn_without_join_returns_the_context(tmp_path):
    ctx = emp.start_processes(mp_workers.write_rank, args=(str(tmp_path),), nprocs=2,
                              join=False, start_method="fork")
    assert isinstance(ctx, emp.ProcessContext) and len(ctx.pids()) == 2
    while not ctx.join():
        pass
    assert len(list(tmp_path.iterdir())) == 2


def test_a_raising_rank_is_raised_in_the_parent(tmp_path):
    for mod in (emp, tmp):
        with pytest.raises(mod.ProcessRaisedException) as err:
            mod.start_processes(mp_workers.fail_on_one, args=(str(tmp_path),), nprocs=2,
                                start_method="fork")
        assert err.value.error_index == 1
        assert str(err.value).startswith("\n\n-- Process 1 terminated with the following "
                                         "error:\nTraceback")
        assert "ValueError: rank one fails" in str(err.value)


def test_exit_codes_and_signals():
    for mod in (emp, tmp):
        with pytest.raises(mod.ProcessExitedException) as err:
            mod.start_processes(mp_workers.exit_code, args=(3,), nprocs=1, start_method="fork")
        assert str(err.value) == "process 0 terminated with exit code 3"
        assert err.value.exit_code == 3 and err.value.signal_name is None
        with pytest.raises(mod.ProcessExitedException) as err:
            mod.start_processes(mp_workers.kill_self, nprocs=1, start_method="fork")
        assert str(err.value) == "process 0 terminated with signal SIGKILL"
        assert err.value.signal_name == "SIGKILL"
    e = pickle.loads(pickle.dumps(emp.ProcessExitedException("m", 1, 2, 3, "SIGTERM")))
    assert (e.error_index, e.pid, e.exit_code, e.signal_name) == (1, 2, 3, "SIGTERM")


def test_spawn_warns_about_other_start_methods(tmp_path):
    with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
        emp.spawn(mp_workers.write_rank, args=(str(tmp_path),), nprocs=1, start_method="fork")
    assert (tmp_path / "0.txt").exists()


def _add_one(rank, t):
    t.add_(1)


def _sgd_step(rank, model):
    import ember

    with ember.no_grad():
        for p in model.parameters():
            p.sub_(0.5)


@pytest.mark.host_only  # shared memory is host memory (share_memory_, fork: CUDA has neither)
def test_shared_tensors_see_forked_updates():
    import ember

    for m in (ember, torch):
        x = m.ones(3)
        assert not x.is_shared()
        assert x.share_memory_() is x and x.is_shared() and x[1:].is_shared()
        emp.start_processes(_add_one, args=(x,), nprocs=2, start_method="fork")
        assert x.tolist() == [3.0, 3.0, 3.0]


@pytest.mark.host_only  # shared memory is host memory (share_memory_, fork: CUDA has neither)
def test_module_share_memory_hogwild():
    import ember

    model = ember.nn.Linear(3, 2).share_memory()
    assert all(p.is_shared() for p in model.parameters())
    before = [p.detach().clone() for p in model.parameters()]
    emp.start_processes(_sgd_step, args=(model,), nprocs=2, start_method="fork")
    for p, b in zip(model.parameters(), before):
        assert (p.detach() - (b - 1.0)).abs().max().item() < 1e-6  # both children's steps
