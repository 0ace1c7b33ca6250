"""``ember tutorial [--graph DIR] [--compiled]``: replay the seed autograd tutorial on ember, cell by cell."""
from __future__ import annotations

import argparse
from typing import Any

from ._common import require_dot

__all__ = ["add_parser", "command"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "tutorial", help="replay the autograd tutorial on ember",
        description="Replay the seed tutorial ('A Gentle Introduction to torch.autograd') on ember "
                    "cell by cell, printing each cell's code and output, and whether the output "
                    "is exactly the tutorial's (exit status 0) or not (1).")
    p.add_argument("--graph", metavar="DIR",
                   help="also write the DAG of Q (cell 2) before and after backward to DIR, "
                        "as SVG and PNG")
    p.add_argument("--compiled", action="store_true",
                   help="then print Q's graph compiled with ember.compile: the generated "
                        "forward and backward code")
    return p


def command(ns: argparse.Namespace) -> int:
    from ember import tutorial

    if ns.graph:
        require_dot()
    return tutorial.main(graph_dir=ns.graph, compiled=ns.compiled)
