"""The traced graph: values, nodes and the graph that holds them (see ``ember._trace``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Value", "Node", "Graph"]


@dataclass(eq=False)
class Value:
    """One tensor of the graph.

    ``kind``: ``"input"`` (a traced argument), ``"param"``/``"buffer"`` (a module's, named by its
    qualified ``name``), ``"const"`` (a tensor the forward used that came from nowhere the tracer
    saw: its data is kept) or ``"node"`` (an output of ``producer``). ``data``: the array, for
    params, buffers, constants and node outputs that depend on no input (foldable); else None.
    It stays on its tensor's device (a CuPy array for a CUDA model): a consumer that needs the
    host reads it with its backend's ``to_host``, as ``ember.onnx.export`` does.
    """

    name: str
    kind: str
    shape: tuple
    dtype: Any  # ember dtype
    data: Any = None
    producer: Node | None = None
    index: int = 0  # which output of ``producer``

    @property
    def is_static(self) -> bool:
        """True when the value depends on no graph input (its ``data`` is the value)."""
        return self.kind != "input" and self.data is not None

    def __repr__(self) -> str:
        return f"%{self.name}"


@dataclass(eq=False)
class Node:
    """One ``Op.apply`` call: ``op`` (the Op class applied), ``args`` (Values for tensors, Python
    objects as they were passed), ``kwargs`` (the op's options, as passed) and ``outputs``."""

    op: type
    args: tuple
    kwargs: dict
    outputs: tuple = ()

    @property
    def name(self) -> str:
        """torch's node name (``grad_fn``'s type), e.g. ``ConvolutionBackward0``."""
        node_cls = getattr(self.op, "_node_cls", None)
        return node_cls.__name__ if node_cls is not None else self.op.__name__

    @property
    def inputs(self) -> list[Value]:
        return [a for a in self.args if isinstance(a, Value)] + [
            v for v in self.kwargs.values() if isinstance(v, Value)]

    def __repr__(self) -> str:
        outs = ", ".join(repr(o) for o in self.outputs)
        args = ", ".join(repr(a) for a in self.args)
        kw = "".join(f", {k}={_short(v)}" for k, v in self.kwargs.items())
        return f"{outs} = {self.name}({args}{kw})"


def _short(v: Any) -> str:
    if hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, Value):
        return f"<array {tuple(v.shape)} {v.dtype}>"
    if callable(v) and not isinstance(v, type):
        return "<fn>"
    return repr(v)


@dataclass(eq=False)
class Graph:
    """A traced forward: ``inputs`` (in argument order), ``params`` (qualified name -> Value,
    parameters and buffers), ``constants``, ``nodes`` (in execution order) and ``outputs``."""

    inputs: list[Value] = field(default_factory=list)
    params: dict[str, Value] = field(default_factory=dict)
    constants: list[Value] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)

    def live_nodes(self) -> list[Node]:
        """The nodes some output depends on, in order (dead ones, e.g. shape checks, dropped)."""
        needed = {id(o) for o in self.outputs}
        live = []
        for node in reversed(self.nodes):
            if any(id(o) in needed for o in node.outputs):
                live.append(node)
                needed.update(id(v) for v in node.inputs)
        return live[::-1]

    def __str__(self) -> str:
        lines = ["graph(" + ", ".join(f"{v!r}: {_spec(v)}" for v in self.inputs) + "):"]
        lines += [f"    {n!r}" for n in self.nodes]
        lines.append("    return " + ", ".join(repr(o) for o in self.outputs))
        return "\n".join(lines)


def _spec(v: Value) -> str:
    return f"{v.dtype}{list(v.shape)}"
