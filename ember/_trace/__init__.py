"""The tracer: runs a forward once on example inputs and records what it computes as a graph,
the one capture that ``ember.onnx.export`` (and later ``ember.compile``) rest on.

Every built-in op goes through ``Op.apply`` (``ops/_op.py``); while ``trace`` runs, ``apply``
hands each call to the tracer (one global check when no trace is active), which runs the op
untraced and records a :class:`Node`. The views (``view``/``reshape``/``permute``/indexing's
``select`` and ``slice``) and in-place ops are ops too, so they are recorded the same way.

The IR (``ir.py``), in execution order, is plain data:

- :class:`Value`: one tensor: ``name``, ``kind`` (``input``, ``param``, ``buffer``, ``const``
  or ``node``), ``shape`` and ``dtype`` as traced, ``data`` (the array of a param, buffer or
  constant, and of a node output that depends on no input: constant folding is free, the trace
  computed it), ``producer`` and ``index`` for node outputs.
- :class:`Node`: one ``Op.apply``: ``op`` (the Op class; ``name`` is torch's node name),
  ``args`` (a Value for each tensor argument, other arguments as passed), ``kwargs`` (the op's
  options as passed: axes, shapes, strides, ...) and ``outputs`` (Values).
- :class:`Graph`: ``inputs`` (the tensors of the example arguments, in order), ``params``
  (qualified name -> Value), ``constants``, ``nodes`` and ``outputs``; ``live_nodes()`` drops
  what no output needs.

A compiler replays the nodes as ``op.forward`` calls on arrays (their kwargs are exactly what
``apply`` passed); an exporter maps each op class to its format's operators. The trace runs the
forward with grad mode on and floating inputs that require grad, so that no operator fast path
(kernels without a node, taken only when nothing is recorded) escapes it; tensors made without
an op (``torch.tensor(...)`` inside a forward) become constants, and Python control flow is
frozen at the path the example took, as in ``torch.jit.trace``.
"""
from __future__ import annotations

from .ir import Graph, Node, Value
from .tracer import TraceError, is_tracing, trace

__all__ = ["trace", "TraceError", "is_tracing", "Graph", "Node", "Value"]
