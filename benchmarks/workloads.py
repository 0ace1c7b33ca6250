"""The benchmark workloads, each written once against a torch-like module ``m``.

A *step* workload is ``def name(m) -> step``: it builds its tensors with ``m`` (``ember`` or
``torch``), untimed, and returns a closure that performs one iteration; the worker times that
closure. A *command* workload is ``def name(framework) -> argv``: the worker times whole
subprocesses running ``argv`` (e.g. an import).

Adding a workload is one decorated function here::

    @workload("my_op")
    def my_op(m):
        x = m.ones(64, 64, requires_grad=True)

        def step():
            (x * 2).sum().backward()
            x.grad = None

        return step

This module is imported by the parent (``run.py``) too, so it must not import numpy, torch or
ember at module level: workloads import what they need inside their body.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Literal

Step = Callable[[], object]
Kind = Literal["step", "command"]


@dataclass(frozen=True)
class Workload:
    """A registered workload; ``make`` is the decorated function."""

    name: str
    description: str
    kind: Kind
    make: Callable[[Any], Any]
    unit: str | None = None  # "us" or "ms" for the table; None picks from the measured medians


WORKLOADS: dict[str, Workload] = {}


def workload(name: str, *, kind: Kind = "step", unit: str | None = None) -> Callable:
    """Registers the decorated function as workload ``name`` (its docstring is the description)."""
    if unit not in (None, "us", "ms"):
        raise ValueError(f"unit must be 'us', 'ms' or None, not {unit!r}")

    def register(fn: Callable) -> Callable:
        if name in WORKLOADS:
            raise ValueError(f"workload {name!r} is registered twice")
        doc = " ".join((fn.__doc__ or "").split())
        WORKLOADS[name] = Workload(name, doc, kind, fn, unit)
        return fn

    return register


# -- workloads --------------------------------------------------------------------------------


@workload("seed_ops", unit="us")
def seed_ops(m: Any) -> Step:
    """The autograd tutorial: Q = 3*a**3 - b**2 on 2-element leaves, Q.backward(gradient=...),
    then a.grad = b.grad = None. Pure per-op and per-node overhead."""
    a = m.tensor([2.0, 3.0], requires_grad=True)
    b = m.tensor([6.0, 4.0], requires_grad=True)
    external_grad = m.tensor([1.0, 1.0])

    def step() -> None:
        Q = 3 * a**3 - b**2
        Q.backward(gradient=external_grad)
        a.grad = None
        b.grad = None

    return step


@workload("tiny_mlp", unit="us")
def tiny_mlp(m: Any) -> Step:
    """2-16-16-1 ReLU MLP on a batch of 8, MSE loss, backward and a manual SGD step under
    no_grad (p.sub_(lr * p.grad); p.grad = None), written with raw tensor ops."""
    import numpy as np

    # the same float32 data for both frameworks, passed as Python lists (the most portable input)
    rng = np.random.default_rng(0)

    def leaf(fan_in: int, *shape: int) -> Any:
        w = rng.standard_normal(shape) / np.sqrt(fan_in)
        return m.tensor(w.astype(np.float32).tolist(), requires_grad=True)

    W1, b1 = leaf(2, 2, 16), leaf(2, 16)
    W2, b2 = leaf(16, 16, 16), leaf(16, 16)
    W3, b3 = leaf(16, 16, 1), leaf(16, 1)
    params = [W1, b1, W2, b2, W3, b3]
    x = m.tensor(rng.standard_normal((8, 2)).astype(np.float32).tolist())
    t = m.tensor(rng.standard_normal((8, 1)).astype(np.float32).tolist())
    lr = 0.01

    def step() -> None:
        h = (x @ W1 + b1).relu()
        h = (h @ W2 + b2).relu()
        y = h @ W3 + b3
        loss = ((y - t) ** 2).mean()
        loss.backward()
        with m.no_grad():
            for p in params:
                p.sub_(lr * p.grad)
                p.grad = None

    return step


@workload("import", kind="command", unit="ms")
def import_framework(framework: str) -> list[str]:
    """Wall time and peak RSS of a fresh `python -c "import <framework>"` (interpreter start-up
    included; ember's figure includes importing numpy)."""
    return [sys.executable, "-c", f"import {framework}"]
