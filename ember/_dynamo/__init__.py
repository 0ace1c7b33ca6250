"""``torch._dynamo``'s user-facing part, over ``ember.compile``'s compiler: ``config``
(``recompile_limit``), ``reset``, ``list_backends``, ``OptimizedModule``, ``is_compiling``,
``graph_break``, ``explain`` and the shape markers (``mark_dynamic`` and friends, accepted: ember
specialises on every shape, as ``dynamic=False`` does), and ``exc.Unsupported``."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._compile import OptimizedModule, list_backends
from .._compile.capture import GraphBreak
from .._compile.runtime import Compiled, config, is_compiling, reset
from ..nn.modules.module import Module
from . import exc

__all__ = [
    "ExplainOutput",
    "OptimizedModule",
    "config",
    "exc",
    "explain",
    "graph_break",
    "is_compiling",
    "list_backends",
    "mark_dynamic",
    "mark_static",
    "maybe_mark_dynamic",
    "reset",
]


def graph_break() -> None:
    """Ends the graph here: ``compile`` runs the calling function eagerly for this guard key
    (``fullgraph=True`` raises ``Unsupported``). Outside a compile, nothing."""
    if is_compiling():
        raise GraphBreak("torch._dynamo.graph_break() was called")


def mark_dynamic(t: Any, index: Any, **kwargs: Any) -> None:
    """Accepted; ember compiles one program per shape (a new shape is a new guard key)."""


def maybe_mark_dynamic(t: Any, index: Any) -> None:
    """Accepted, as ``mark_dynamic``."""


def mark_static(t: Any, index: Any = None) -> None:
    """Accepted: every shape is static in ember's programs."""


@dataclass
class ExplainOutput:
    """What ``explain(fn)(*args)`` found (``torch._dynamo.explain``'s fields). ember does not
    split a graph at a break: a call with a break runs eagerly, so it has no graph and one break.
    ``code`` (ember's own) is the generated forward and backward source."""

    graphs: list = field(default_factory=list)
    graph_count: int = 0
    graph_break_count: int = 0
    break_reasons: list = field(default_factory=list)
    op_count: int = 0
    ops_per_graph: list = field(default_factory=list)
    out_guards: list = field(default_factory=list)
    compile_times: str = ""
    code: str = ""

    def __str__(self) -> str:
        lines = [f"Graph Count: {self.graph_count}", f"Graph Break Count: {self.graph_break_count}",
                 f"Op Count: {self.op_count}", "Break Reasons:"]
        for i, reason in enumerate(self.break_reasons, 1):
            lines += [f"  Break Reason {i}:", f"    Reason: {reason}"]
        lines.append("Ops per Graph:")
        for i, ops in enumerate(self.ops_per_graph, 1):
            lines.append(f"  Ops {i}:")
            lines += [f"    {op}" for op in ops]
        lines.append("Out Guards:")
        lines += [f"  Guard {i}: {g}" for i, g in enumerate(self.out_guards, 1)]
        lines.append(f"Compile Times: {self.compile_times}")
        return "\n".join(lines) + "\n"


def explain(f: Callable, *extra_args: Any, **extra_kwargs: Any) -> Callable[..., ExplainOutput]:
    """``explain(f)(*args, **kwargs)``: compiles ``f`` for these arguments (a fresh compile, not
    ``f``'s own cache) and reports its graph, its break reason if any, and its code."""
    def inner(*args: Any, **kwargs: Any) -> ExplainOutput:
        module = f if isinstance(f, Module) else None
        compiled = Compiled(f, module)
        start = time.perf_counter()
        compiled(*args, **kwargs)
        seconds = time.perf_counter() - start
        entry = compiled.last
        out = ExplainOutput(compile_times=f"first call (trace, code generation and the call): "
                                          f"{seconds:.4f} s", code=compiled.code())
        out.out_guards = [("shape, dtype and requires_grad of each tensor argument, Python "
                           "scalars' values"), "grad mode, anomaly mode, default dtype, autocast"]
        if module is not None:
            out.out_guards.append("training flags and hooks of every submodule; identity, shape, "
                                  "dtype and requires_grad of every parameter and buffer")
        if entry is None or entry.reason is not None:
            out.graph_break_count = 1
            out.break_reasons = [entry.reason if entry is not None else "not compiled"]
            return out
        nodes = entry.program.replay
        out.graphs, out.graph_count, out.op_count = [entry.program.graph], 1, len(nodes)
        out.ops_per_graph = [[n.name for n in nodes]]
        return out

    return inner
