"""What ``draw_graph`` and ``explain_backward`` share: the engine's execution order, leaf names and
short renderings of tensors."""
from __future__ import annotations

import heapq
from typing import Any, Iterable

import numpy as np

from ..backend import NUMPY, is_array
from ..devices import move
from ..graph.walk import count_dependencies
from ..graph.node import FREED as _FREED, AccumulateGrad, Node, edge as _edge
from ..tensor import Tensor


def as_outputs(outputs: Any) -> list:
    """A tensor or a sequence of tensors, as a list (torch's ``backward`` accepts both)."""
    if isinstance(outputs, Tensor):
        return [outputs]
    outs = list(outputs)
    for i, t in enumerate(outs):
        if not isinstance(t, Tensor):
            raise TypeError(f"outputs[{i}] must be a Tensor, got {type(t).__name__}")
    return outs


def backward_order(root_nodes: Iterable[Node]) -> list:
    """The nodes reachable from ``root_nodes`` in the order ember's engine runs them.

    Mirrors ``autograd.engine.run_backward``: a node becomes ready once every edge into it has
    been followed, and ready nodes run newest first (ties broken the same way). The order does not
    depend on gradient values, so it can be computed without running anything.
    """
    roots = list(dict.fromkeys(n for n in root_nodes if n is not None))
    deps, _ = count_dependencies(roots)
    ready = [(-n._seq, id(n), n) for n in roots if deps.get(n, 0) == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)[2]
        order.append(node)
        if type(node) is AccumulateGrad:
            continue
        for nxt, _ in node.next_functions:
            if nxt is not None:
                deps[nxt] -= 1
                if deps[nxt] == 0:
                    heapq.heappush(ready, (-nxt._seq, id(nxt), nxt))
    return order


def root_edges(outputs: list) -> list:
    """``(node, output_nr)`` of each output: its grad_fn, or the AccumulateGrad of a leaf."""
    return [_edge(t) for t in outputs]


def param_names(params: Any) -> dict:
    """``id(tensor) -> name`` from a dict name -> tensor or an iterable of ``(name, tensor)``."""
    if params is None:
        return {}
    items = params.items() if isinstance(params, dict) else params
    names = {}
    for item in items:
        try:
            name, t = item
            if not isinstance(name, str):
                raise TypeError
        except (TypeError, ValueError):
            raise TypeError(
                "params must be a dict name -> Tensor or an iterable of (name, Tensor) pairs "
                f"(like model.named_parameters()); got an item of type {type(item).__name__}"
            ) from None
        if not isinstance(t, Tensor):
            raise TypeError(f"params[{name!r}] must be a Tensor, got {type(t).__name__}")
        names.setdefault(id(t), str(name))
    return names


def fmt_shape(shape: tuple) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def fmt_dtype(t: Any) -> str:
    return str(t.dtype).replace("ember.", "")


def host(data: Any) -> np.ndarray:
    """``data`` as a NumPy array: a device array is read back (explicitly: a sync)."""
    if type(data) is np.ndarray:
        return data
    return move(data, NUMPY, None) if is_array(data) else np.asarray(data)


def fmt_values(data: Any) -> str:
    """The values of a small array on one line, as torch prints them: ``[36., 81.]``."""
    data = host(data)
    if data.ndim:
        return "[" + ", ".join(fmt_values(row) for row in data) + "]"
    value = data.item()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{value:.0f}."
        return f"{value:.4g}"
    return str(value)


def fmt_tensor(t: Any, max_values: int = 4) -> str:
    """``[2] [36., 81.]``: the shape, plus the values when there are at most ``max_values``."""
    if t is None:
        return "None"
    data = t._data if isinstance(t, Tensor) else host(t)
    text = fmt_shape(data.shape)
    if data.size <= max_values:
        text += " " + fmt_values(data)  # (only a few values are read back)
    return text


def fmt_bytes(n: float) -> str:
    if n < 1024:
        return f"{int(n)} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


# the settings of an op worth showing a reader; other attributes are implementation detail
_SETTINGS = ("alpha", "beta", "exponent", "base", "scalar", "axes", "dim", "keepdim", "eps",
             "training", "min", "max", "negative_slope", "reduction")


def node_attributes(node: Node) -> dict:
    """The plain settings an op kept for backward (``alpha``, ``exponent``, ``axes`` ...)."""
    out = {}
    for key in _SETTINGS:
        value = node.__dict__.get(key, _MISSING)
        if value is _MISSING:
            continue
        if isinstance(value, (bool, int, float, str)) or value is None:
            out[key] = value
        elif isinstance(value, tuple) and all(isinstance(v, (int, float, bool)) for v in value):
            out[key] = value
    return out


_MISSING = object()


def saved_items(node: Node) -> list | None:
    """``(label, shape, dtype, nbytes)`` for each tensor the node saved for backward, and for the
    arrays it keeps as attributes; ``None`` once a backward without ``retain_graph`` freed them."""
    saved = node._saved
    if saved is _FREED:
        return None
    items = []
    for i, s in enumerate(saved):
        data = s.data if hasattr(s, "box") else s[0]  # a saved output, or (tensor, version)
        if isinstance(data, Tensor):
            data = data._data
        if data is None:
            continue
        if hasattr(data, "shape") and hasattr(data, "dtype"):
            items.append((f"saved[{i}]", tuple(data.shape), str(data.dtype), int(data.nbytes)))
        else:
            items.append((f"saved[{i}]", None, repr(data), 0))
    for key, value in vars(node).items():
        if not key.startswith("_") and is_array(value):
            items.append((key, tuple(value.shape), str(value.dtype), int(value.nbytes)))
    return items
