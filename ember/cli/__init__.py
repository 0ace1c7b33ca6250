"""The ``ember`` program: ``ember finetune|predict|run|tutorial|graph`` (also ``python -m ember``).

Each command lives in its own module with ``add_parser(subparsers)`` and ``command(namespace)``;
heavy imports (ember.vision, matplotlib, tqdm, graphviz) happen inside the commands, so
``ember --help`` is quick and works without the optional extras.
"""
from __future__ import annotations

import argparse
import sys

from . import finetune, graph, predict, run, tutorial
from ._common import CLIError
from .run import _exit_code

__all__ = ["main", "build_parser", "CLIError"]

_COMMANDS = (finetune, predict, run, tutorial, graph)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ember`` program, one sub-parser per command."""
    import ember

    parser = argparse.ArgumentParser(
        prog="ember",
        description="ember: PyTorch's API on NumPy. Finetune and run ResNets, run PyTorch "
                    "scripts, replay the autograd tutorial, draw autograd graphs.")
    parser.add_argument("--version", action="version", version=f"ember {ember.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _COMMANDS:
        sub = module.add_parser(subparsers)
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
    except CLIError as e:
        ns._parser.print_usage(sys.stderr)
        print(f"{ns._parser.prog}: error: {e}", file=sys.stderr)
        return 2
