"""The chain rule, step by step: what backward would compute, without running it.

``explain_backward`` walks the graph in the order ember's engine would, and calls each node's own
backward on its saved tensors (under ``no_grad``), so the numbers are the engine's. Nothing is
accumulated into ``.grad`` and nothing is freed: a real backward still works afterwards.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable

from ..autograd.api import _check_roots, _make_grads
from ..autograd.engine import call_node
from ..graph import grad_mode
from ..graph.node import AccumulateGrad, Node
from ..tensor import Tensor
from ._walk import (
    as_outputs,
    backward_order,
    fmt_shape,
    fmt_values,
    host,
    node_attributes,
    param_names,
    root_edges,
)

__all__ = ["explain_backward", "Explanation", "Step", "Send"]

# name -> (what forward computed, what backward sends to each input); ``g`` is the incoming
# gradient. These describe ember's (and torch's) backward formulas; the numbers always come from
# the node's own backward.
_RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "AddBackward0": ("out = x + α·y", ("g", "α·g")),
    "SubBackward0": ("out = x − α·y", ("g", "−α·g")),
    "RsubBackward0": ("out = y − α·x", ("−α·g", "g")),
    "RsubBackward1": ("out = c − α·x", ("−α·g",)),
    "MulBackward0": ("out = x·y", ("g·y", "g·x")),
    "DivBackward0": ("out = x / y", ("g / y", "−g·x / y²")),
    "DivBackward1": ("out = x / c", ("g / c",)),
    "PowBackward0": ("out = xⁿ", ("g·n·xⁿ⁻¹",)),
    "PowBackward1": ("out = xʸ", ("g·y·xʸ⁻¹", "g·xʸ·ln x")),
    "PowBackward2": ("out = cˣ", ("g·cˣ·ln c",)),
    "NegBackward0": ("out = −x", ("−g",)),
    "ExpBackward0": ("out = eˣ", ("g·eˣ  (eˣ is the saved output)",)),
    "LogBackward0": ("out = ln x", ("g / x",)),
    "SqrtBackward0": ("out = √x", ("g / (2·√x)",)),
    "SinBackward0": ("out = sin x", ("g·cos x",)),
    "CosBackward0": ("out = cos x", ("−g·sin x",)),
    "TanhBackward0": ("out = tanh x", ("g·(1 − out²)",)),
    "SigmoidBackward0": ("out = σ(x)", ("g·out·(1 − out)",)),
    "ReluBackward0": ("out = max(x, 0)", ("g where out > 0, else 0",)),
    "AbsBackward0": ("out = |x|", ("g·sign(x)",)),
    "MmBackward0": ("out = X @ W", ("g @ Wᵀ", "Xᵀ @ g")),
    "MvBackward0": ("out = M @ v", ("outer(g, v)", "Mᵀ @ g")),
    "DotBackward0": ("out = x · y", ("g·y", "g·x")),
    "BmmBackward0": ("out = X @ W (batched)", ("g @ Wᵀ", "Xᵀ @ g")),
    "AddmmBackward0": ("out = β·b + α·(X @ W)", ("β·g (summed to b's shape)", "α·g @ Wᵀ",
                                                  "α·Xᵀ @ g")),
    "SumBackward0": ("out = Σ x", ("g copied to every element of x",)),
    "SumBackward1": ("out = Σ x over dim", ("g copied along the summed dims",)),
    "MeanBackward0": ("out = mean(x)", ("g / N copied to every element (N = x.numel())",)),
    "MeanBackward1": ("out = mean(x) over dim", ("g / N copied along the averaged dims",)),
    "ViewBackward0": ("out = x.view(shape)", ("g reshaped to x's shape",)),
    "ReshapeAliasBackward0": ("out = x.reshape(shape)", ("g reshaped to x's shape",)),
    "UnsafeViewBackward0": ("out = x.reshape(shape)", ("g reshaped to x's shape",)),
    "ExpandBackward0": ("out = x.expand(shape)", ("g summed over the expanded dims",)),
    "TBackward0": ("out = xᵀ", ("gᵀ",)),
    "TransposeBackward0": ("out = x.transpose(d0, d1)", ("g transposed back",)),
    "PermuteBackward0": ("out = x.permute(dims)", ("g permuted back",)),
    "SqueezeBackward0": ("out = x.squeeze()", ("g unsqueezed to x's shape",)),
    "SqueezeBackward1": ("out = x.squeeze(dim)", ("g unsqueezed to x's shape",)),
    "UnsqueezeBackward0": ("out = x.unsqueeze(dim)", ("g squeezed to x's shape",)),
    "CloneBackward0": ("out = x.clone()", ("g",)),
    "ToCopyBackward0": ("out = x.to(dtype)", ("g cast back to x's dtype",)),
    "SliceBackward0": ("out = x[slice]", ("g placed in the slice, zeros elsewhere",)),
    "SelectBackward0": ("out = x[i]", ("g placed at index i, zeros elsewhere",)),
    "IndexBackward0": ("out = x[index]", ("g scattered (added) to the indexed places",)),
    "CatBackward0": ("out = cat(xs)", ("g's slice for each input",)),
    "StackBackward0": ("out = stack(xs)", ("g's slice for each input",)),
    "WhereBackward0": ("out = where(cond, x, y)", ("g where cond, else 0",
                                                    "g where not cond, else 0")),
    "MaximumBackward0": ("out = max(x, y)", ("g where x wins (half on ties)",
                                             "g where y wins (half on ties)")),
    "ClampBackward1": ("out = clamp(x, min, max)", ("g where min ≤ x ≤ max, else 0",)),
    "SoftmaxBackward0": ("out = softmax(x)", ("out·(g − Σ g·out)",)),
    "LogSoftmaxBackward0": ("out = log_softmax(x)", ("g − softmax(x)·Σ g",)),
    "NllLossBackward0": ("out = −mean(x[i, target_i])", ("−g/N at each target, 0 elsewhere",)),
    "MseLossBackward0": ("out = mean((x − y)²)", ("g·2(x − y)/N", "−g·2(x − y)/N")),
    "ConvolutionBackward0": ("out = conv(x, W) + b", ("transposed convolution of g with W",
                                                       "correlation of x with g",
                                                       "g summed over batch and space")),
    "NativeBatchNormBackward0": ("out = γ·(x − μ)/σ + β",
                                 ("batch-norm input gradient (through μ, σ)", "Σ g·x̂",
                                  "Σ g")),
    "MaxPool2DWithIndicesBackward0": ("out = max over each window",
                                      ("g routed to each window's max",)),
    "AvgPool2DBackward0": ("out = mean over each window", ("g spread evenly over each window",)),
    "AdaptiveAvgPool2DBackward0": ("out = mean over adaptive windows",
                                   ("g spread evenly over each window",)),
}
_GREEK = {"alpha": "α", "beta": "β", "exponent": "n", "base": "c", "scalar": "c"}


@dataclass
class Send:
    """The gradient one step sends along one edge (to input ``index`` of the node)."""

    index: int
    target: Node | None
    target_label: str
    formula: str
    grad: Tensor | None
    summed_from: tuple | None = None  # the broadcast shape it was summed down from


@dataclass
class Step:
    """One node run by backward: what came in, the rule it applies, what it sends on."""

    number: int
    node: Node
    name: str
    incoming: tuple
    rule: str
    settings: dict = field(default_factory=dict)
    sends: list = field(default_factory=list)


class Explanation:
    """The result of :func:`explain_backward`. ``print()`` it for the step-by-step trace.

    Attributes:
        steps (list[Step]): one per node, in the order the engine runs them.
        leaf_grads (dict[Tensor, Tensor]): what this backward would add to each leaf's ``.grad``.
        formulas (dict[Tensor, str]): a closed form like ``9a²`` for leaves reached only through
            elementwise ops with named inputs; missing where there is none.
    """

    def __init__(self, steps: list, leaf_grads: dict, formulas: dict, names: dict) -> None:
        self.steps = steps
        self.leaf_grads = leaf_grads
        self.formulas = formulas
        self._names = names

    def grad_of(self, name_or_tensor: Any) -> Tensor | None:
        """The gradient of a leaf, given as the tensor or by its name."""
        if isinstance(name_or_tensor, Tensor):
            return self.leaf_grads.get(name_or_tensor)
        for t in self.leaf_grads:
            if self._names.get(id(t)) == name_or_tensor:
                return self.leaf_grads[t]
        raise KeyError(f"no leaf named {name_or_tensor!r}; known: {sorted(self._names.values())}")

    def __str__(self) -> str:
        lines = []
        for step in self.steps:
            rule = f"   {step.rule}" if step.rule else ""
            lines.append(f"step {step.number}: {step.name}{rule}")
            if step.settings:
                settings = ", ".join(f"{k} = {v!r}" for k, v in step.settings.items())
                lines.append(f"    where {settings}")
            for i, g in enumerate(step.incoming):
                which = "" if len(step.incoming) == 1 else f" (output {i})"
                lines.append(f"    incoming grad{which} g = {_fmt(g)}")
            for s in step.sends:
                text = f"    -> input {s.index} ({s.target_label}): {s.formula} = {_fmt(s.grad)}"
                if s.summed_from is not None:
                    text += f"  (summed from {fmt_shape(s.summed_from)} to undo broadcasting)"
                lines.append(text)
        lines.append("leaf gradients:")
        for t, g in self.leaf_grads.items():
            name = self._names.get(id(t), f"leaf {fmt_shape(tuple(t.shape))}")
            formula = f" = {self.formulas[t]}" if t in self.formulas else ""
            lines.append(f"    {name}.grad{formula} = {_fmt(g)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _fmt(t: Tensor | None, limit: int = 8) -> str:
    if t is None:
        return "None (no gradient)"
    data = t._data
    if data.size <= limit:
        return fmt_values(data)
    low, high, total = (float(host(x)) for x in (data.min(), data.max(), data.sum()))
    return (f"tensor of shape {fmt_shape(data.shape)} (min {low:.4g}, max {high:.4g}, "
            f"sum {total:.4g})")


def explain_backward(output: Any, gradient: Any = None, params: Any = None) -> Explanation:
    r"""Traces, step by step, the chain rule that ``output.backward(gradient)`` would run.

    For each node, in the order ember's engine runs them: the incoming gradient, the local rule
    in words, and what it sends to each input; then the gradient each leaf would receive. The
    numbers come from each node's own backward, run on its saved tensors under ``no_grad``; no
    ``.grad`` is touched and the graph is not freed. Hooks registered on tensors or nodes are not
    run (they may have side effects).

    Call it before ``backward`` (or after ``backward(retain_graph=True)``): a plain backward frees
    the saved tensors, and then this raises the same error a second backward would.

    Args:
        output (Tensor or sequence of Tensors): the root(s), as for ``backward``.
        gradient (Tensor or sequence, optional): the gradient w.r.t. ``output``; may be omitted
            for a scalar output.
        params (dict or iterable of (name, Tensor), optional): names for the leaves. By default
            the names of the caller's variables that hold them are used (``a``, ``b``).

    Example::

        >>> a = ember.tensor([2., 3.], requires_grad=True)
        >>> b = ember.tensor([6., 4.], requires_grad=True)
        >>> Q = 3 * a**3 - b**2
        >>> e = ember.viz.explain_backward(Q, gradient=ember.tensor([1., 1.]))
        >>> e.leaf_grads[a]
        tensor([36., 81.])
    """
    outs = as_outputs(output)
    grads = (None,) * len(outs) if gradient is None else tuple(as_outputs(gradient)
                                                              if _is_seq(gradient) else (gradient,))
    _check_roots(outs)
    grads = _make_grads(tuple(outs), grads)
    names = param_names(params) if params is not None else _caller_names(inspect.currentframe())
    edges = root_edges(outs)

    buffers: dict = {}
    symbolic: dict = {}  # node -> list of (coefficient, terms) or None when there is no closed form
    for (node, nr), g in zip(edges, grads):
        if node is None:
            continue
        buf = buffers.setdefault(node, [None] * node._n_out)
        buf[nr] = g if buf[nr] is None else buf[nr] + g
        _merge(symbolic, node, _seed_symbol(g) if node._n_out == 1 else None)

    steps = []
    leaf_grads: dict = {}
    formulas: dict = {}
    with grad_mode.no_grad():
        for number, node in enumerate(backward_order(n for n, _ in edges), 1):
            incoming = tuple(buffers.pop(node, None) or [None] * node._n_out)
            if type(node) is AccumulateGrad:
                var = node.variable
                steps.append(Step(number, node, "AccumulateGrad",
                                  incoming, f"{_leaf_label(var, names)}.grad += g"))
                if incoming[0] is not None:
                    leaf_grads[var] = incoming[0]
                    if symbolic.get(node):
                        formulas[var] = _render(symbolic[node])
                continue
            rule, sends_text = _RULES.get(node.name(), ("", ()))
            settings = node_attributes(node)
            step = Step(number, node, node.name(), incoming, _substitute(rule, settings), settings)
            outgoing, raw_shapes = _run(node, list(incoming))
            sym_in = symbolic.get(node)
            for k, ((nxt, nr), g) in enumerate(zip(node.next_functions, outgoing)):
                if nxt is None:
                    continue
                formula = sends_text[k] if k < len(sends_text) else f"input {k}'s share of g"
                formula = _substitute(formula, step.settings)
                summed = raw_shapes[k] if raw_shapes[k] != _shape(g) else None
                step.sends.append(Send(k, nxt, _target_label(nxt, names), formula, g,
                                       summed if g is not None else None))
                if g is not None:
                    buf = buffers.setdefault(nxt, [None] * nxt._n_out)
                    buf[nr] = g if buf[nr] is None else buf[nr] + g
                    factor = None if summed or sym_in is None or nxt._n_out != 1 else \
                        _factor(node, k, names)
                    _merge(symbolic, nxt, None if factor is None else
                           [(c * factor[0], terms + factor[1]) for c, terms in sym_in])
            steps.append(step)
    return Explanation(steps, leaf_grads, formulas, names)


def _is_seq(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(v, Tensor) or v is None for v in x)


def _shape(g: Tensor | None) -> tuple | None:
    return None if g is None else tuple(g._data.shape)


def _run(node: Node, grads: list) -> tuple:
    """The node's backward as the engine calls it: its checked gradients, and the shapes they
    had before being summed back to each input's shape."""
    n_in = len(node.next_functions)
    shapes: list = []
    with grad_mode.no_grad():
        out = call_node(node, [None if g is None else g._data for g in grads], True, shapes=shapes)
    out = tuple(None if g is None else Tensor._make(g) for g in out)
    shapes = shapes + [None] * (n_in - len(shapes))
    return out, tuple(shapes[:n_in])


def _substitute(formula: str, settings: dict) -> str:
    if settings.get("alpha") == 1:  # the common case reads better without α
        formula = formula.replace("α·", "")
    return formula


def _caller_names(frame: Any) -> dict:
    """``id(tensor) -> variable name`` in the frame that called the public function."""
    caller = frame.f_back if frame is not None else None
    if caller is None:
        return {}
    names = {}
    for scope in (caller.f_globals, caller.f_locals):
        for key, value in scope.items():
            if isinstance(value, Tensor) and not key.startswith("_"):
                names[id(value)] = key
    return names


def _leaf_label(t: Tensor, names: dict) -> str:
    return names.get(id(t), f"leaf {fmt_shape(tuple(t.shape))}")


def _target_label(node: Node, names: dict) -> str:
    if type(node) is AccumulateGrad:
        return f"AccumulateGrad of {_leaf_label(node.variable, names)}"
    return node.name()


# -- closed forms -------------------------------------------------------------------------------
# A monomial is (coefficient, terms): 9·a² is (9, ("a²",)). Each elementwise step multiplies the
# monomials that reach it by its local derivative; where a local derivative is not a constant or
# a function of a named leaf, the closed form is dropped (None) for everything below it.


def _seed_symbol(g: Tensor) -> list | None:
    data = host(g._data)  # (a seed gradient: read back once)
    if data.size and (data == data.flat[0]).all():
        return [(Fraction(str(data.flat[0].item())), ())]
    return [(Fraction(1), ("gradient",))]


def _merge(symbolic: dict, node: Node, monomials: list | None) -> None:
    if node in symbolic and symbolic[node] is None:
        return
    if monomials is None:
        symbolic[node] = None
        return
    merged = list(symbolic.get(node, [])) + monomials
    symbolic[node] = merged if len(merged) <= 8 else None


def _named_input(node: Node, k: int, names: dict) -> str | None:
    nxt = node.next_functions[k][0]
    if type(nxt) is AccumulateGrad:
        return names.get(id(nxt.variable))
    return None


def _constant(value: Any) -> Fraction | None:
    if isinstance(value, Tensor):
        if value._data.size != 1:
            return None
        value = value._data.item()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Fraction(str(value)) if isinstance(value, float) else Fraction(value)
    return None


def _power(x: str, n: Any) -> str:
    sup = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
    if n == 1:
        return x
    text = _num(n)
    if isinstance(n, int) or float(n).is_integer():
        return x + str(int(n)).translate(sup)
    return f"{x}^{text}"


def _num(v: Any) -> str:
    if isinstance(v, Fraction):
        return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _unary(term: str) -> Callable:
    def factor(node: Node, k: int, names: dict) -> tuple | None:
        x = _named_input(node, k, names)
        return None if x is None else (Fraction(1), (term.format(x=x),))

    return factor


def _mul_factor(node: Node, k: int, names: dict) -> tuple | None:
    other = node.saved_tensors[1 - k]
    c = _constant(other)
    if c is not None:
        return c, ()
    x = _named_input(node, 1 - k, names)
    return None if x is None else (Fraction(1), (x,))


def _pow_factor(node: Node, k: int, names: dict) -> tuple | None:
    n = node.exponent
    c = _constant(n)
    if c is None:
        return None
    if n == 1:
        return c, ()
    x = _named_input(node, k, names)
    return None if x is None else (c, (_power(x, n - 1),))


def _div_factor(node: Node, k: int, names: dict) -> tuple | None:
    if k != 0:
        return None
    c = _constant(node.saved_tensors[1])
    return None if not c else (1 / c, ())


def _mean_factor(node: Node, k: int, names: dict) -> tuple | None:
    n = 1
    for i, s in enumerate(node.shape):
        if node.axes is None or i in tuple(a % len(node.shape) for a in node.axes):
            n *= s
    return (Fraction(1, n), ()) if n else None


_FACTORS: dict[str, Callable] = {
    "AddBackward0": lambda node, k, names: ((_constant(node.alpha) if k else Fraction(1)), ()),
    "SubBackward0": lambda node, k, names: ((-_constant(node.alpha) if k else Fraction(1)), ()),
    "NegBackward0": lambda node, k, names: (Fraction(-1), ()),
    "MulBackward0": _mul_factor,
    "DivBackward0": _div_factor,
    "PowBackward0": _pow_factor,
    "ExpBackward0": _unary("exp({x})"),
    "LogBackward0": _unary("1/{x}"),
    "SinBackward0": _unary("cos({x})"),
    "CosBackward0": lambda node, k, names: (
        None if _named_input(node, k, names) is None
        else (Fraction(-1), (f"sin({_named_input(node, k, names)})",))),
    "TanhBackward0": _unary("(1 − tanh²({x}))"),
    "SigmoidBackward0": _unary("σ({x})(1 − σ({x}))"),
    "ReluBackward0": _unary("[{x} > 0]"),
    "SumBackward0": lambda node, k, names: (Fraction(1), ()),
    "MeanBackward0": _mean_factor,
    "CloneBackward0": lambda node, k, names: (Fraction(1), ()),
}


def _factor(node: Node, k: int, names: dict) -> tuple | None:
    rule = _FACTORS.get(node.name())
    if rule is None:
        return None
    try:
        got = rule(node, k, names)
    except (AttributeError, IndexError, TypeError, ZeroDivisionError):
        return None
    if got is None or got[0] is None:
        return None
    return got


def _render(monomials: list) -> str:
    """``[(3, ("a²",)), (6, ("a²",))]`` -> ``9a²``: like terms combined, constants in front."""
    combined: dict = {}
    for c, terms in monomials:
        key = tuple(sorted(terms))
        combined[key] = combined.get(key, 0) + c
    parts = []
    for terms, c in sorted(combined.items(), key=lambda kv: not kv[0]):  # constants last
        if c == 0:
            continue
        body = "·".join(terms)
        if not body:
            parts.append(_num(c))
        elif c == 1:
            parts.append(body)
        elif c == -1:
            parts.append("−" + body)
        else:
            parts.append(_num(c).replace("-", "−") + body)
    if not parts:
        return "0"
    text = parts[0]
    for p in parts[1:]:
        text += f" − {p[1:]}" if p.startswith("−") else f" + {p}"
    return text
