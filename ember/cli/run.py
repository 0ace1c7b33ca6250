"""``ember run SCRIPT.py [ARGS...]``: run an unmodified PyTorch script on ember."""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import traceback
from typing import Any

from . import _alias
from ._alias import torch_aliases
from ._common import InputError

__all__ = ["add_parser", "run_script", "command"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "run", help="run a PyTorch script on ember",
        description="Run an unmodified PyTorch script with `torch` and `torchvision` resolving to "
                    "ember and ember.vision (for that script only). What ember lacks fails with a "
                    "NotImplementedError naming the missing API. With --nproc-per-node N (or "
                    "as `ember run torchrun [OPTIONS] SCRIPT`), N ranks run it under MPI, as "
                    "torchrun would (python -m ember.distributed.run).")
    p.add_argument("--nproc-per-node", "--nproc_per_node", metavar="N",
                   help="run N ranks of the script under MPI (torchrun's option)")
    p.add_argument("script", help="the Python script to run (or torchrun)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    return p


def _script_traceback(exc: BaseException, path: str) -> None:
    """Prints the traceback from the script's first frame on, as ``python SCRIPT`` would."""
    tb = exc.__traceback__
    target = os.path.realpath(path)
    while tb is not None and os.path.realpath(tb.tb_frame.f_code.co_filename) != target:
        tb = tb.tb_next
    report = traceback.TracebackException(type(exc), exc, tb or exc.__traceback__)
    # The stand-in modules' own frames say nothing about the script: leave them out.
    report.stack = traceback.StackSummary.from_list(
        [f for f in report.stack if f.filename != _alias.__file__])
    print("".join(report.format()), end="", file=sys.stderr)


def _exit_code(code: Any) -> int:
    """The process exit status python gives ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def run_script(path: str, args: list[str]) -> tuple[int, dict[str, Any] | None]:
    """Runs ``path`` as ``__main__`` with ``sys.argv = [path, *args]`` and torch aliased to ember.

    Returns:
        (exit status, the script's globals; None when it did not finish normally).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"can't open file '{path}': no such file")
    script_dir = os.path.dirname(os.path.abspath(path))
    old_argv, old_path = sys.argv, sys.path[:]
    sys.argv = [path, *args]
    sys.path.insert(0, script_dir)  # as python does for a script: its folder comes first
    try:
        with torch_aliases(script_dir):
            try:
                return 0, runpy.run_path(path, run_name="__main__")
            except SystemExit as e:
                return _exit_code(e.code), None
            except KeyboardInterrupt as e:
                _script_traceback(e, path)
                return 130, None
            except Exception as e:  # noqa: BLE001 - the script's error, reported as python would
                _script_traceback(e, path)
                return 1, None
    finally:
        sys.argv = old_argv
        sys.path[:] = old_path


def command(ns: argparse.Namespace) -> int:
    if ns.script == "torchrun" or ns.nproc_per_node is not None:
        from ..distributed.run import main as launch  # torchrun's stand-in: it exec's mpiexec

        if ns.script == "torchrun":
            return launch(ns.args)
        return launch(["--nproc-per-node", ns.nproc_per_node, ns.script, *ns.args])
    if not os.path.isfile(ns.script):
        raise InputError(f"can't open file '{ns.script}': no such file")
    status, _ = run_script(ns.script, ns.args)
    return status
