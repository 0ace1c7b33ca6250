"""Drawing the autograd graph with Graphviz (what torchviz does for PyTorch).

Boxes are the ``grad_fn`` nodes, blue boxes the leaves, the green box the output. Arrows point the
way the forward pass went (inputs above, output below); backward walks them upwards, and each
arrow's number is the order in which ember's engine sends a gradient along it.
"""
from __future__ import annotations

import functools
import weakref
from typing import Any

from ..graph.node import AccumulateGrad, Node, RemovableHandle
from ._walk import (
    as_outputs,
    backward_order,
    fmt_bytes,
    fmt_dtype,
    fmt_shape,
    fmt_tensor,
    node_attributes,
    param_names,
    root_edges,
    saved_items,
)

__all__ = ["draw_graph", "record_grads", "GradRecorder"]

_INSTALL_VIZ = "pip install 'ember[viz]'"
_INSTALL_DOT = (
    "Graphviz's `dot` program was not found on PATH; it is needed to render graphs. Install "
    "Graphviz (Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`, conda: "
    "`conda install graphviz`) or get the DOT text from `.source` instead."
)

# node -> (grad_inputs, grad_outputs) of the last backward that ran through it; weak, so a
# recorded graph is freed like any other
_recorded: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class GradRecorder:
    """Returned by :func:`record_grads`: ``remove()`` (or leaving the ``with`` block) takes the
    recording hooks off; what was recorded stays for ``draw_graph(..., show_grads=True)``."""

    def __init__(self, handles: list) -> None:
        self._handles = handles

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> GradRecorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def record_grads(outputs: Any) -> GradRecorder:
    r"""Records the gradients that the next backward sends along every edge of the graph of
    ``outputs``, for ``draw_graph(outputs, show_grads=True)``.

    Call it after the forward pass and before ``backward``: a plain backward frees what the graph
    saved, so the gradients cannot be worked out again afterwards. Either form works::

        Q = 3 * a**3 - b**2
        ember.viz.record_grads(Q)
        Q.backward(gradient=external_grad)
        ember.viz.draw_graph(Q, show_grads=True)

        with ember.viz.record_grads(Q):       # hooks removed on exit, the record kept
            Q.backward(gradient=external_grad)

    The hooks only read gradients (they return ``None``), so backward computes exactly what it
    would without them. To see the gradients without running backward at all, use
    :func:`ember.viz.explain_backward`.
    """
    outs = as_outputs(outputs)
    handles: list[RemovableHandle] = []
    for node in backward_order(n for n, _ in root_edges(outs)):
        if type(node) is AccumulateGrad:
            continue  # the engine never calls it; its consumers' hooks see what reaches it
        handles.append(node.register_hook(_recording_hook(weakref.ref(node))))
    return GradRecorder(handles)


def _recording_hook(ref: weakref.ref):
    # holds the node weakly: a strong reference from its own hook would be a cycle
    def hook(grad_inputs: tuple, grad_outputs: tuple) -> None:
        node = ref()
        if node is not None:
            _recorded[node] = (tuple(grad_inputs), tuple(grad_outputs))

    return hook


@functools.lru_cache(maxsize=None)
def _digraph_class():
    try:
        import graphviz
    except ImportError as e:
        raise ModuleNotFoundError(
            f"ember.viz.draw_graph needs the graphviz Python package: {_INSTALL_VIZ}"
        ) from e

    class DotNotFoundError(graphviz.ExecutableNotFound):
        def __init__(self) -> None:
            RuntimeError.__init__(self, _INSTALL_DOT)

    class Digraph(graphviz.Digraph):
        """A ``graphviz.Digraph`` whose rendering says how to install Graphviz when ``dot`` is
        missing."""

        def render(self, *args: Any, **kwargs: Any) -> str:
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise DotNotFoundError() from None

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise DotNotFoundError() from None

    Digraph.DotNotFoundError = DotNotFoundError
    return Digraph


def draw_graph(outputs: Any, params: Any = None, show_saved: bool = False,
               show_grads: bool = False) -> Any:
    r"""Draws the backward graph that produced ``outputs``.

    Args:
        outputs (Tensor or sequence of Tensors): the roots of the graph.
        params (dict or iterable of (name, Tensor), optional): names for leaves (and outputs),
            e.g. ``model.named_parameters()`` or ``{"a": a, "b": b}``. Dotted names group the
            nodes of each module in a box (``layer1.0.conv1``). Unnamed leaves show their shape.
        show_saved (bool): list in each node what it saved for backward (shape, dtype, bytes),
            and its settings (``exponent``, ``alpha`` ...).
        show_grads (bool): label each edge with the gradient that flowed along it in the last
            backward (shape; values for at most 4 elements). Needs :func:`record_grads` called
            before that backward.

    Returns:
        graphviz.Digraph: ``.source`` is the DOT text; ``.render("graph", format="svg",
        cleanup=True)`` writes ``graph.svg`` (PNG alike); Jupyter shows it inline.

    Edge labels number the edges in the order ember's engine follows them during backward.
    """
    outs = as_outputs(outputs)
    names = param_names(params)
    edges = root_edges(outs)
    order = backward_order(n for n, _ in edges)
    if show_grads and not any(n in _recorded for n in order if type(n) is not AccumulateGrad):
        raise RuntimeError(
            "show_grads=True shows the gradients recorded during backward, and none were recorded "
            "for this graph: call ember.viz.record_grads(output) before output.backward(), or use "
            "ember.viz.explain_backward(output, gradient) to compute them without a backward"
        )

    dot = _digraph_class()(
        graph_attr={"ordering": "in", "rankdir": "TB"},
        node_attr={"style": "filled", "shape": "box", "fontsize": "10", "fontname": "monospace",
                   "height": "0.2"},
        edge_attr={"fontsize": "9", "fontname": "monospace"},
    )
    modules = _modules(order, names)
    body: dict = {}  # module path ("" for none) -> list of (name, label, attrs)

    def add(module: str, node_id: str, label: str, **attrs: str) -> None:
        body.setdefault(module, []).append((node_id, label, attrs))

    for node in order:
        if type(node) is AccumulateGrad:
            var = node.variable
            module = modules.get(node, "")
            label = names.get(id(var))
            desc = f"{fmt_shape(tuple(var.shape))} {fmt_dtype(var)}"
            leaf_label = f"{label}\n{desc}" if label else desc
            if show_grads:
                got = _leaf_grad(node, order)
                if got is not None:
                    leaf_label += f"\ngrad {fmt_tensor(got)}"
            add(module, _var_id(var), leaf_label, fillcolor="lightblue")
            add(module, _node_id(node), "AccumulateGrad", fillcolor="lightgrey")
            continue
        label = node.name()
        if show_saved:
            label += _saved_text(node)
        add(modules.get(node, ""), _node_id(node), label, fillcolor="lightgrey")

    for i, t in enumerate(outs):
        name = names.get(id(t)) or ("output" if len(outs) == 1 else f"output {i}")
        add("", _out_id(t, i), f"{name}\n{fmt_shape(tuple(t.shape))} {fmt_dtype(t)}",
            fillcolor="darkolivegreen1", penwidth="2")

    _emit(dot, body)

    # leaf -> AccumulateGrad, then every edge in the order backward follows it
    for node in order:
        if type(node) is AccumulateGrad:
            dot.edge(_var_id(node.variable), _node_id(node), style="dashed", arrowhead="none")
    for i, (t, (node, nr)) in enumerate(zip(outs, edges)):
        if node is None:
            continue
        label = "grad_output"
        if show_grads and node in _recorded:
            label += "\n" + fmt_tensor(_recorded[node][1][nr])
        dot.edge(_node_id(node), _out_id(t, i), label=label)
    step = 0
    for node in order:
        if type(node) is AccumulateGrad:
            continue
        for k, (nxt, nr) in enumerate(node.next_functions):
            if nxt is None:
                continue
            step += 1
            label = f"#{step}"
            if nxt._n_out > 1:
                label += f" (output {nr})"
            if show_grads:
                got = _recorded.get(node)
                label += "\n" + (fmt_tensor(got[0][k]) if got else "not run")
            dot.edge(_node_id(nxt), _node_id(node), label=label)
    return dot


def _node_id(node: Node) -> str:
    return f"n{id(node)}"


def _var_id(t: Any) -> str:
    return f"v{id(t)}"


def _out_id(t: Any, i: int) -> str:
    return f"o{id(t)}_{i}"


def _saved_text(node: Node) -> str:
    lines = []
    for key, value in node_attributes(node).items():
        lines.append(f"{key} = {value!r}")
    items = saved_items(node)
    if items is None:
        lines.append("saved tensors: freed by backward")
    else:
        total = 0
        for label, shape, dtype, nbytes in items:
            if shape is None:
                lines.append(f"{label}: {dtype}")
            else:
                lines.append(f"{label}: {fmt_shape(shape)} {dtype} {fmt_bytes(nbytes)}")
            total += nbytes
        if len(items) > 1:
            lines.append(f"saved total: {fmt_bytes(total)}")
    return "".join("\n" + line for line in lines)


def _leaf_grad(acc: AccumulateGrad, order: list) -> Any:
    """The sum of what the last backward sent into ``acc``: the leaf's share of that backward."""
    total = None
    for node in order:
        got = _recorded.get(node) if type(node) is not AccumulateGrad else None
        if not got:
            continue
        for (nxt, _), g in zip(node.next_functions, got[0]):
            if nxt is acc and g is not None:
                total = g if total is None else total + g
    return total


def _modules(order: list, names: dict) -> dict:
    """node -> dotted module path, from the names of the parameters each node uses.

    A node whose direct leaves all belong to one module is in it (with those leaves); a node
    without parameters, with inputs and consumers all in modules, joins the innermost module
    enclosing them (the ReLU between a block's two convolutions lands in the block).
    """
    def module_of(name: str) -> str:
        return name.rpartition(".")[0]

    found: dict = {}
    for node in order:
        if type(node) is AccumulateGrad:
            continue
        mods = {module_of(names[id(nxt.variable)]) for nxt, _ in node.next_functions
                if type(nxt) is AccumulateGrad and id(nxt.variable) in names}
        if len(mods) == 1 and "" not in mods:
            found[node] = mods.pop()
    for node in order:  # leaves go with their parameter's module
        if type(node) is AccumulateGrad and id(node.variable) in names:
            mod = module_of(names[id(node.variable)])
            if mod:
                found[node] = mod
    consumers: dict = {}
    for node in order:
        for nxt, _ in node.next_functions:
            if nxt is not None:
                consumers.setdefault(nxt, []).append(node)
    extra = {}
    for node in order:
        if node in found or type(node) is AccumulateGrad:
            continue
        producers = [n for n, _ in node.next_functions if n is not None]
        neighbours = producers + consumers.get(node, [])
        # inside a module means between its nodes: a loss after the model's last layer is not
        if not producers or not consumers.get(node) or any(n not in found for n in neighbours):
            continue
        common = _common_prefix([found[n] for n in neighbours])
        if common:
            extra[node] = common
    found.update(extra)
    return found


def _common_prefix(paths: list) -> str:
    parts = [p.split(".") for p in paths]
    common = []
    for level in zip(*parts):
        if any(x != level[0] for x in level):
            break
        common.append(level[0])
    return ".".join(common)


def _emit(dot: Any, body: dict) -> None:
    """Declares the nodes, nesting each module's box inside its parent's."""
    for node_id, label, attrs in body.get("", []):
        dot.node(node_id, label, **attrs)
    tree: dict = {}
    for path in body:
        if path:
            level = tree
            for part in path.split("."):
                level = level.setdefault(part, {})

    def emit(graph: Any, level: dict, prefix: str) -> None:
        for part, children in level.items():
            path = f"{prefix}.{part}" if prefix else part
            with graph.subgraph(name=f"cluster_{path}") as sub:
                sub.attr(label=path, style="rounded", color="grey50", fontsize="10")
                for node_id, label, attrs in body.get(path, []):
                    sub.node(node_id, label, **attrs)
                emit(sub, children, path)

    emit(dot, tree, "")
