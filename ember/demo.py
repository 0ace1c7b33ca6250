"""``make demo``: the seed tutorial replayed on ember, then ``ember finetune`` on the embedded
Digits dataset with the program's defaults (a frozen resnet18), printing the validation accuracy.

``python -m ember.demo [FINETUNE OPTIONS]`` passes its arguments on to ``ember finetune``.
"""
from __future__ import annotations

import sys

from .tutorial import main as replay_tutorial

__all__ = ["main"]


def main(finetune_args: list[str] | None = None) -> int:
    """Replays the tutorial (cells 1-10), then finetunes; the first non-zero status wins."""
    from .cli import main as ember_main

    status = replay_tutorial()
    print("\n--- the tutorial's recipe as a program: ember finetune on the Digits dataset ---\n",
          flush=True)
    args = sys.argv[1:] if finetune_args is None else finetune_args
    finetune_status = ember_main(["finetune", *args])
    return status or finetune_status


if __name__ == "__main__":
    raise SystemExit(main())
