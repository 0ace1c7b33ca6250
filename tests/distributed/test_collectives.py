"""Every collective against its definition, per op and dtype, at 2 and 3 ranks; and what works
without MPI: the import, ReduceOp, the errors before init_process_group."""
import subprocess
import sys

import pytest

from mpi_helpers import REPO, env, launch, mpi, mpirun


@mpi
@pytest.mark.parametrize("n", [2, 3])
def test_every_collective(n):
    job = launch(n, "mpi_worker_collectives.py", timeout=90)
    assert job.rc == 0, job.text
    assert f"collectives ok" in job.out and f"of {n}" in job.out


@mpi
def test_plain_mpiexec_sets_torchruns_variables():
    """Ranks started by mpiexec itself: rank and size from MPI, the env-var contract filled."""
    job = mpirun(2, "mpi_worker_collectives.py", timeout=90)
    assert job.rc == 0, job.text


def test_import_without_mpi4py():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import importlib.util as u; real = u.find_spec\n"
            "u.find_spec = lambda n, *a: None if n.startswith('mpi4py') else real(n, *a)\n"
            "import ember.distributed as dist\n"
            "assert dist.is_available() is False\n"
            "try:\n    dist.init_process_group('gloo')\n"
            "except RuntimeError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env(), cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'ember[distributed]'" in out.stdout


def test_api_before_init_matches_torch():
    import torch.distributed as tdist

    import ember
    import ember.distributed as dist

    assert repr(dist.ReduceOp.SUM) == repr(tdist.ReduceOp.SUM) == "<RedOpType.SUM: 0>"
    assert [n for n in dir(dist.ReduceOp) if not n.startswith("_")] == \
        [n for n in dir(tdist.ReduceOp) if not n.startswith("_") and n not in ("factor", "op")]
    assert dist.is_initialized() is False and dist.group.WORLD is None
    for fn in (dist.get_rank, dist.get_world_size, lambda: dist.all_reduce(ember.ones(1))):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()
    for fn in (tdist.get_rank, tdist.get_world_size):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            fn()
    with pytest.raises(RuntimeError, match="doesn't have NCCL built in"):
        dist.init_process_group("nccl")
    with pytest.raises(AssertionError, match="Unknown backend type foo"):
        dist.init_process_group("foo")
    assert issubclass(dist.DistBackendError, RuntimeError)
