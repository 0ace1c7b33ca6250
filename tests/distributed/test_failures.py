"""A failing rank ends the whole job within seconds, with its error shown and no process left:
an exception, sys.exit(3), SIGKILL, a rank that never reaches a collective, and Ctrl-C."""
import os
import signal
import subprocess
import time

import pytest

from mpi_helpers import HERE, PY, env, launch, leftovers, mpi, mpirun

pytestmark = mpi
# Start-up (3 interpreters importing ember on 2 shared cores) is most of each job's time; the
# failure itself ends the job in well under a second (DISTRIBUTED.md §7).
QUICK = 40  # (a hang waits for the 30 min default timeout: the 60 s limit ends it)


def test_exception_ends_the_job():
    job = launch(3, "mpi_worker_fail.py", "raise", timeout=60)
    assert job.rc == 1 and job.seconds < QUICK
    assert "ValueError: boom on rank 1" in job.err
    assert "rank 1 of 3 failed; ending the job" in job.err
    assert "rank 0 done" not in job.out


def test_sys_exit_ends_the_job():
    job = launch(3, "mpi_worker_fail.py", "exit", timeout=60)
    assert job.rc == 3 and job.seconds < QUICK
    assert "rank 1 of 3 exited with status 3; ending the job" in job.err
    assert "rank 0 done" not in job.out


def test_sigkill_ends_the_job():
    job = launch(3, "mpi_worker_fail.py", "kill", timeout=60)
    assert job.rc != 0 and job.seconds < QUICK
    assert "Killed (signal 9)" in job.text or "EXIT CODE: 9" in job.text


def test_skipped_collective_times_out_on_the_others():
    job = launch(3, "mpi_worker_fail.py", "skip", timeout=60, TMO="2")
    assert job.rc == 1 and job.seconds < 2 + QUICK
    assert "all_reduce timed out after 2 s" in job.err
    assert "DistBackendError" in job.err


@pytest.mark.parametrize("mode,rc", [("raise", 1), ("exit", 3)])
def test_plain_mpiexec_ends_the_job(mode, rc):
    """Without the launcher: init_process_group's hooks do it."""
    job = mpirun(2, "mpi_worker_fail.py", mode, timeout=60)
    assert job.rc == rc and job.seconds < QUICK
    assert "ending the job (all ranks)" in job.err


def test_ctrl_c_ends_every_rank():
    token = f"ctrlc{os.getpid()}"
    proc = subprocess.Popen([PY, "-m", "ember.distributed.run", "--nproc-per-node", "2",
                             os.path.join(HERE, "mpi_worker_fail.py"), "wait", f"--{token}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env(), cwd=HERE)
    try:
        for line in proc.stdout:
            if "all started" in line:
                break
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)  # the launcher has become mpiexec: Hydra forwards it
        proc.wait(timeout=30)
        assert time.monotonic() - began < QUICK
        assert proc.returncode != 0
    finally:
        if proc.poll() is None:
            proc.kill()
    for _ in range(20):
        if not leftovers(token):
            break
        time.sleep(0.1)
    assert not leftovers(token)
