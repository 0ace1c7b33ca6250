"""The ``ember`` program: ``ember finetune|predict|export|run|tutorial|graph`` (also ``python -m
ember``).

Each command lives in its own module with ``add_parser(subparsers)`` and ``command(namespace)``;
heavy imports (ember.vision, matplotlib, tqdm, graphviz) happen inside the commands, so
``ember --help`` is quick and works without the optional extras.
"""
from __future__ import annotations

import argparse
import sys
import traceback

from . import export, finetune, graph, predict, run, tutorial
from ._common import EXIT_STATUS, CLIError, InputError, RunError, describe
from .run import _exit_code

__all__ = ["main", "build_parser", "CLIError", "InputError", "RunError"]

_DEBUG_HELP = "on a failure, also print the Python traceback"

_COMMANDS = (finetune, predict, export, run, tutorial, graph)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ember`` program, one sub-parser per command."""
    import ember

    parser = argparse.ArgumentParser(
        prog="ember",
        description="ember: PyTorch's API on NumPy. Finetune and run ResNets, run PyTorch "
                    "scripts, replay the autograd tutorial, draw autograd graphs.",
        epilog=EXIT_STATUS)
    parser.add_argument("--version", action="version", version=f"ember {ember.__version__}")
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _COMMANDS:
        sub = module.add_parser(subparsers)
        # SUPPRESS: a sub-command's default must not undo `ember --debug CMD`
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help=_DEBUG_HELP)
        sub.set_defaults(_command=module.command, _parser=sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the ``ember`` program on ``argv`` (default: ``sys.argv[1:]``); returns its exit
    status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        ns, extra = parser.parse_known_args(argv)
        # Only `graph` passes unknown arguments on (to its script); elsewhere they are an error.
        if extra and ns.command != "graph":
            ns._parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as e:  # --help, --version and usage errors, as argparse decided
        return _exit_code(e.code)
    ns.extra = extra
    try:
        return ns._command(ns)
    except KeyboardInterrupt:
        _traceback(ns)
        print(f"\n{ns._parser.prog}: interrupted", file=sys.stderr)
        return 130
    except CLIError as e:
        _traceback(ns)
        if e.show_usage:
            ns._parser.print_usage(sys.stderr)
        print(f"{ns._parser.prog}: error: {describe(e)}", file=sys.stderr)
        return e.status
    except Exception as e:  # noqa: BLE001 - a runtime failure: one line, exit status 1
        _traceback(ns)
        hint = "" if ns.debug else " (--debug shows the traceback)"
        print(f"{ns._parser.prog}: error: {describe(e)}{hint}", file=sys.stderr)
        return 1


def _traceback(ns: argparse.Namespace) -> None:
    if ns.debug:
        traceback.print_exc(file=sys.stderr)
