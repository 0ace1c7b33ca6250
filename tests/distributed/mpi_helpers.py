"""Running ember scripts as MPI jobs from the tests: each job under a timeout, and afterwards a
check that none of its processes is left (every job's command line carries a unique token)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

pytest.importorskip("mpi4py", reason="the distributed extra (mpi4py, mpich) is not installed")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PY = sys.executable
# every MPI test in one xdist group: never two jobs' ranks fighting over two cores
mpi = pytest.mark.xdist_group("mpi")


def mpiexec() -> str:
    from ember.distributed.run import find_mpiexec

    return find_mpiexec()


def env(**extra: str) -> dict:
    e = dict(os.environ)
    e.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONPATH=REPO,
             PYTHONUNBUFFERED="1")
    e.pop("EMBER_RUN_WORKER", None)
    e.update(extra)
    return e


class Job:
    def __init__(self, proc: subprocess.CompletedProcess, seconds: float, token: str) -> None:
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr
        self.seconds, self.token = seconds, token

    @property
    def text(self) -> str:
        return self.out + self.err


def leftovers(token: str) -> list[str]:
    """Command lines of live processes that carry ``token``."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if token in cmd:
            found.append(f"{pid}: {cmd}")
    return found


def run(cmd: list[str], timeout: float = 60, **extra_env: str) -> Job:
    """Runs ``cmd`` (``{token}`` in it is replaced by the job's token); fails the test if it
    outlives ``timeout`` or leaves a process behind."""
    token = "tok" + uuid.uuid4().hex[:10]
    cmd = [c.replace("{token}", token) for c in cmd]
    began = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=env(**extra_env), cwd=HERE, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        for line in leftovers(token):
            os.kill(int(line.split(":")[0]), 9)
        pytest.fail(f"{cmd} ran past {timeout} s:\n{e.stdout}\n{e.stderr}")
    job = Job(proc, time.monotonic() - began, token)
    for _ in range(20):  # mpiexec has returned; give the kernel a moment to reap
        left = leftovers(token)
        if not left:
            break
        time.sleep(0.1)
    assert not left, f"orphan processes: {left}"
    return job


def launch(n: int, script: str, *args: str, timeout: float = 60, **extra_env: str) -> Job:
    """``python -m ember.distributed.run --nproc-per-node n script args``."""
    return run([PY, "-m", "ember.distributed.run", "--nproc-per-node", str(n),
                os.path.join(HERE, script), *args, "--token={token}"], timeout, **extra_env)


def mpirun(n: int, script: str, *args: str, timeout: float = 60, **extra_env: str) -> Job:
    """``mpiexec -n n python script args`` (no launcher)."""
    return run([mpiexec(), "-n", str(n), PY, os.path.join(HERE, script), *args,
                "--token={token}"], timeout, **extra_env)
