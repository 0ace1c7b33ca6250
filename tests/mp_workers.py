"""Functions for tests/test_multiprocessing.py to run in child processes (importable by a
spawned child: nothing heavy is imported)."""
import os
import sys


def write_rank(rank, directory):
    with open(os.path.join(directory, f"{rank}.txt"), "w") as f:
        f.write(str(rank))


def fail_on_one(rank, directory):
    if rank == 1:
        raise ValueError("rank one fails")
    write_rank(rank, directory)


def exit_code(rank, code):
    sys.exit(code)


def kill_self(rank):
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
