"""``python -m ember.distributed.run``: torchrun's stand-in, starting the ranks under MPI.

    python -m ember.distributed.run --nproc-per-node 2 train.py --epochs 3
    python -m ember.distributed.run --nnodes 2 --nproc-per-node 4 --hostfile hosts train.py

(also ``ember run --nproc-per-node 2 train.py`` and ``ember run torchrun ...``). It re-executes
itself under MPICH's ``mpiexec`` (the wheel's, next to this Python, else PATH's); each rank then
exports torchrun's variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``, ...) and runs the script with ``torch``/``torchvision`` resolving
to ember, as ``ember run`` does. A rank whose script raises or exits non-zero ends the whole job
(``MPI_Abort``: ``mpiexec`` kills every rank), so no rank is left waiting and no process outlives
the launch. Several machines are one ``mpiexec`` over ssh (Hydra), started on the first machine
only: ``--hosts a,b`` or ``--hostfile FILE``.
"""
from __future__ import annotations

import argparse
import os
import runpy
import shutil
import sys
import uuid
from typing import Any

from . import _mpi

__all__ = ["main", "get_args_parser", "parse_args", "find_mpiexec"]

_WORKER = "EMBER_RUN_WORKER"


def get_args_parser() -> argparse.ArgumentParser:
    """torchrun's options (both spellings, ``--nproc-per-node`` and ``--nproc_per_node``), the
    ones with no meaning on MPI accepted and ignored; plus ``--hosts``/``--hostfile``."""
    p = argparse.ArgumentParser(
        prog="python -m ember.distributed.run", allow_abbrev=False,
        description="Start N ranks of a training script under MPI, as torchrun does.")

    def opt(*names: str, **kw: Any) -> None:
        spelled = []
        for n in names:
            spelled.append(n)
            if n.startswith("--") and "-" in n[2:]:
                spelled.append("--" + n[2:].replace("-", "_"))
        p.add_argument(*spelled, **kw)

    opt("--nproc-per-node", default="1", help="ranks per machine (an int, or auto/cpu)")
    opt("--nnodes", default="1", help="machines (an int, or MIN:MAX with MIN == MAX)")
    opt("--node-rank", type=int, default=0,
        help="this machine's rank: 0 (mpiexec starts the other machines' ranks over ssh)")
    opt("--master-addr", default=None, help="exported as MASTER_ADDR (default 127.0.0.1, or the "
                                            "first host)")
    opt("--master-port", type=int, default=29500, help="exported as MASTER_PORT")
    opt("--hosts", default=None, help="comma-separated machines (mpiexec -hosts)")
    opt("--hostfile", default=None, help="a file of machines, one a line (mpiexec -f)")
    opt("--standalone", action="store_true", help="one machine (the default here)")
    opt("--max-restarts", type=int, default=0, help="must be 0 (MPI jobs are not elastic)")
    for name in ("--rdzv-backend", "--rdzv-endpoint", "--rdzv-id", "--rdzv-conf",
                 "--monitor-interval", "--start-method", "--role", "--log-dir", "--redirects",
                 "--tee", "--local-ranks-filter", "--local-addr", "--logs-specs"):
        opt(name, default=None, help=argparse.SUPPRESS)
    opt("--run-path", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("-m", "--module", action="store_true",
                   help="run training_script as a module (python -m)")
    opt("--no-python", action="store_true",
        help="run training_script as a program, not with python")
    p.add_argument("training_script", help="the script (or module, or program) to run")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return get_args_parser().parse_args(argv)


def find_mpiexec() -> str | None:
    """The MPICH wheel's ``mpiexec`` beside this Python, else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return here if os.access(here, os.X_OK) else shutil.which("mpiexec")


def _count(text: str, what: str) -> int:
    if text in ("auto", "cpu"):
        return os.cpu_count() or 1
    if text == "gpu":
        raise SystemExit(f"error: --{what} gpu: ember has no GPU backend yet")
    if ":" in text:
        lo, hi = text.split(":", 1)
        if lo != hi:
            raise SystemExit(f"error: --{what} {text}: MPI jobs have a fixed size (MIN == MAX)")
        text = lo
    try:
        n = int(text)
    except ValueError:
        raise SystemExit(f"error: --{what} must be an integer, got {text!r}") from None
    if n < 1:
        raise SystemExit(f"error: --{what} must be at least 1, got {n}")
    return n


def _mpiexec_command(ns: argparse.Namespace, argv: list[str]) -> tuple[list[str], dict]:
    per_node, nodes = _count(ns.nproc_per_node, "nproc-per-node"), _count(ns.nnodes, "nnodes")
    if ns.max_restarts:
        raise SystemExit("error: --max-restarts: MPI jobs are not elastic (use 0)")
    if nodes > 1 and ns.node_rank != 0:
        raise SystemExit("error: under MPI one launch on the first machine starts every "
                         "machine's ranks (over ssh): run it there only, with --node-rank 0")
    hosts = [h.strip() for h in ns.hosts.split(",") if h.strip()] if ns.hosts else None
    if nodes > 1 and not hosts and not ns.hostfile:
        raise SystemExit(f"error: --nnodes {nodes} needs the machines: --hosts a,b or "
                         f"--hostfile FILE (passwordless ssh to each, ember installed at the "
                         f"same path)")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise SystemExit(f"error: mpiexec not found: {_mpi.INSTALL_HINT}")
    cmd = [mpiexec, "-n", str(per_node * nodes)]
    if hosts:
        cmd += ["-hosts", ",".join(hosts), "-ppn", str(per_node)]
    elif ns.hostfile:
        cmd += ["-f", ns.hostfile, "-ppn", str(per_node)]
        try:  # the first machine listed hosts rank 0: MASTER_ADDR, for scripts that read it
            with open(ns.hostfile) as f:
                hosts = [line.split(":")[0].split()[0] for line in f
                         if line.strip() and not line.lstrip().startswith("#")][:1] or None
        except OSError:
            raise SystemExit(f"error: cannot read the hostfile {ns.hostfile}") from None
    cmd += [sys.executable, "-m", "ember.distributed.run", *argv]
    env = dict(os.environ)
    env[_WORKER] = "1"
    env.setdefault("MASTER_ADDR", ns.master_addr or (hosts[0] if hosts else "127.0.0.1"))
    env.setdefault("MASTER_PORT", str(ns.master_port))
    env.setdefault("TORCHELASTIC_RUN_ID", uuid.uuid4().hex[:12])
    if per_node > 1:  # as torchrun: several ranks on a machine must not each start all threads
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
    return cmd, env


def _worker_environment(nodes: int) -> None:
    info = _mpi.launch_info()
    rank, size, local, local_size = info if info is not None else (0, 1, 0, 1)
    env = os.environ
    env.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(local),
               LOCAL_WORLD_SIZE=str(local_size), GROUP_RANK=str(rank // max(local_size, 1)),
               GROUP_WORLD_SIZE=str(nodes), ROLE_RANK=str(rank), ROLE_WORLD_SIZE=str(size),
               ROLE_NAME="default", TORCHELASTIC_RESTART_COUNT="0",
               TORCHELASTIC_MAX_RESTARTS="0")
    env.setdefault("MASTER_ADDR", "127.0.0.1")
    env.setdefault("MASTER_PORT", "29500")
    env.setdefault("TORCHELASTIC_RUN_ID", "none")
    env.pop(_WORKER, None)  # the script's own subprocesses are not ranks


def _run_module(name: str, args: list[str]) -> int:
    from ..cli._alias import torch_aliases
    from ..cli.run import _exit_code

    old = sys.argv
    sys.argv = [name, *args]
    try:
        with torch_aliases(os.getcwd()):
            try:
                runpy.run_module(name, run_name="__main__", alter_sys=True)
            except SystemExit as e:
                return _exit_code(e.code)
            except KeyboardInterrupt:
                import traceback

                traceback.print_exc()
                return 130
            except Exception:  # noqa: BLE001 - the module's error, reported as python would
                import traceback

                traceback.print_exc()
                return 1
        return 0
    finally:
        sys.argv = old


def _mpi_running() -> bool:
    MPI = sys.modules.get("mpi4py.MPI")
    return MPI is not None and MPI.Is_initialized() and not MPI.Is_finalized()


def _worker(ns: argparse.Namespace) -> int:
    """One rank: torchrun's variables, then the script; a failure ends every rank."""
    _worker_environment(_count(ns.nnodes, "nnodes"))
    if ns.no_python:
        cmd = [ns.training_script, *ns.training_script_args]
        os.execvp(cmd[0], cmd)
    if ns.module:
        status = _run_module(ns.training_script, ns.training_script_args)
    else:
        from ..cli.run import run_script

        if not os.path.isfile(ns.training_script):
            print(f"python: can't open file '{ns.training_script}': no such file",
                  file=sys.stderr)
            return 2
        status, _ = run_script(ns.training_script, ns.training_script_args)
    if status and _mpi_running() and _mpi.load().COMM_WORLD.Get_size() > 1:
        # The traceback is printed; without an abort the other ranks would wait forever.
        rank = int(os.environ["RANK"])
        _mpi._world_info = (rank, int(os.environ["WORLD_SIZE"]))
        _mpi.abort(status, "failed" if status == 1 else f"exited with status {status}")
    return status


def main(args: list[str] | None = None) -> int:
    """Launches (or, inside ``mpiexec``, runs one rank of) ``training_script``."""
    argv = sys.argv[1:] if args is None else list(args)
    ns = parse_args(argv)
    # a rank: started by the launch above, or by the user's own mpiexec (not merely inside a
    # Slurm allocation, whose batch shell has SLURM_PROCID too)
    if os.environ.get(_WORKER) == "1" or "PMI_RANK" in os.environ \
            or "OMPI_COMM_WORLD_RANK" in os.environ:
        return _worker(ns)
    cmd, env = _mpiexec_command(ns, argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # exec: mpiexec takes this process's place, so signals (Ctrl-C) reach it directly, its exit
    # status is the launch's, and nothing is left behind if the launcher is killed.
    os.execve(cmd[0], cmd, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
