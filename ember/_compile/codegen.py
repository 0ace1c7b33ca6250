"""The code generator: a captured graph becomes two Python functions of straight-line calls.

``forward(A, T)`` (A: the input arrays, T: the input tensors, for writes) calls each traced op's
own ``forward`` on bare arrays with a fresh context (``_new(K3)``: a per-node subclass of the
op's node class whose class attributes say what ``call_node`` needs: each input's shape and
dtype, which inputs need a gradient), reads parameters and buffers from the live tensors (an
optimizer's updates are seen), replays in-place writes into buffers and inputs, and drops each
value after its last use. It returns the outputs and the contexts the backward needs.

``backward(C, *grads)`` runs those contexts' own backward formulas newest first through the
engine's single route (``call_node(ctx, grads, raw=True)``: each gradient summed to its input's
shape and cast to its dtype), summing the gradients that meet at a value, and returns one
gradient per edge of the compiled node (the inputs, parameters and captured leaves that require
grad). No formula is written twice: the generated code only orders the ops' own.

Off the CPU each context's class carries the backend its op ran on while tracing (``backend``,
``xp``: what ``Op.apply`` sets on a node of device operands), so the ops' forwards and backwards
call CuPy there; a 0-d CPU operand is copied to the device as ``apply`` copies it, promotion is
decided on the device's arrays, and constants keep the traced arrays (on the traced device).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from .._trace.ir import Node, Value
from ..autograd.engine import call_node
from ..backend import NUMPY, backend_of, is_array
from ..dtypes import promote_arrays, scalar_keeps
from ..ops._op import Op
from ..tensor import Tensor
from .capture import Capture, Detach, DropoutNoise, GraphBreak

__all__ = ["Program", "generate"]

_new = object.__new__


@dataclass
class Program:
    """Generated code for one guard key: the two functions, their source, and how the
    compiled call maps tensors to the graph (``inputs``: graph input index -> argument tensor
    position; ``leaves``: (kind, index or tensor) per edge of the compiled node)."""

    forward: Any
    backward: Any
    forward_source: str
    backward_source: str
    n_inputs: int
    outputs: list  # per flattened output: ("value", i) | ("input", i) | ("tensor", t)
    out_meta: tuple
    out_grad: tuple  # per compiled output: whether it requires grad
    edges: list  # per edge: ("input", i) | ("tensor", t)
    in_meta: tuple
    record: bool
    graph: Any = None
    value_tensors: dict = field(default_factory=dict)  # id(Value) -> the live tensor it reads
    replay: list = field(default_factory=list)  # the nodes run, for create_graph's eager replay
    out_values: list = field(default_factory=list)
    spec: Any = None
    specialized: bool = False
    saves: bool = True  # whether its ops save anything for backward (known after the first)
    noise_ctx: dict = field(default_factory=dict)  # replay index -> position of its context
    backend: Any = NUMPY  # the backend of the outputs (the compiled node's)

    def specialize(self) -> None:
        """After the first backward: the backward written again with what it recorded."""
        self.backward, self.backward_source = self.spec.specialize()
        self.specialized = True


def _simple(v: Any) -> bool:
    if v is None or type(v) in (bool, int, str):
        return True
    if type(v) is float:
        return math.isfinite(v)
    if type(v) in (tuple, list):
        return all(_simple(x) for x in v)
    return False


def _is_array(v: Any) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, (Value, Tensor))


def _fake(v: Value, xp: Any) -> Tensor:
    # a stand-in of the value's dtype and kind (0-d or not) for torch's promotion rules, in the
    # array module the op runs on (promotion's scalars follow the operands' device)
    return Tensor._make(xp.zeros(() if v.shape == () else (1,) * len(v.shape), v.dtype.np))


def generate(cap: Capture, params: dict, real_inputs: list, grad_enabled: bool) -> Program:
    """Generates the program for ``cap``. ``params``: qualified name -> live tensor;
    ``real_inputs``: the call's tensors in graph-input order."""
    g = cap.graph
    ns: dict[str, Any] = {"_new": _new, "_call": call_node, "_asarray": _asarray,
                          "_acc": _acc, "_bump": _bump, "_cast": _cast,
                          "_asarray_on": _asarray_on, "_from_host": _from_host}
    names: dict[int, str] = {}  # id(Value) -> local name
    live_tensor: dict[int, Tensor] = {}  # id(Value) -> the live tensor it reads (params, leaves)
    requires: dict[int, bool] = {}
    pre: list[str] = []
    edges: list = []
    tensors: dict = {}
    input_pos = {id(v): i for i, v in enumerate(g.inputs)}
    by_array = {id(t._data): (n, t) for n, t in params.items()}
    for i, v in enumerate(g.inputs):
        names[id(v)] = f"a{i}"
        rg = grad_enabled and real_inputs[i]._requires_grad
        requires[id(v)] = rg
        if rg:
            edges.append(("input", i))
    for k, (qual, v) in enumerate(g.params.items()):
        t = params[qual]
        name = f"p{k}"
        names[id(v)] = name
        ns[f"P{k}"] = t
        live_tensor[id(v)] = t
        tensors[v.name] = t
        requires[id(v)] = grad_enabled and t._requires_grad
    for k, v in enumerate(g.constants):
        src = cap.sources.get(v.name)
        if src is not None and src._grad_fn is not None:
            raise GraphBreak("a tensor computed outside ember's ops (an autograd.Function, or "
                             "code on raw arrays) is used by the forward")
        hit = by_array.get(id(src._data)) if src is not None else None
        if hit is not None:  # an alias of a parameter or buffer (an in-place op's old value)
            if grad_enabled and hit[1]._requires_grad:
                raise GraphBreak("an in-place op on a parameter that requires grad")
            pv = g.params[hit[0]]
            names[id(v)] = names[id(pv)]
            live_tensor[id(v)] = hit[1]
            requires[id(v)] = False
            continue
        name = f"q{k}"
        names[id(v)] = name
        if src is not None and id(src) in cap.created:
            src = None  # made by the forward itself (zeros_like, tensor(...)): its traced value
        if src is not None:
            ns[f"Q{k}"] = src
            live_tensor[id(v)] = src
            tensors[v.name] = src
            rg = grad_enabled and src._requires_grad
            requires[id(v)] = rg
            if rg:
                if src._grad_fn is not None or not src.is_leaf:
                    raise GraphBreak("a non-leaf tensor captured from outside the function")
                edges.append(("tensor", src))
        else:
            ns[f"Q{k}"] = Tensor._make(v.data)
            live_tensor[id(v)] = ns[f"Q{k}"]
            requires[id(v)] = False
    for v in list(g.params.values()):
        if requires[id(v)]:
            edges.append(("tensor", live_tensor[id(v)]))
    # the parameters and captured tensors used are read once per call, from the live objects
    used: set = set()
    for node in g.nodes:
        used.update(id(v) for v in _flat(node.args) + _flat(tuple(node.kwargs.values())))
    used.update(id(v) for v in g.outputs)
    for tgt, res, _ in cap.writes:
        used.add(id(res))
    for v in list(g.params.values()) + list(g.constants):
        k = names[id(v)]
        if id(v) in used and f"    {k} = {k.upper()}._data" not in pre:
            pre.append(f"    {k} = {k.upper()}._data")

    for node in g.nodes:
        for o in node.outputs:
            names[id(o)] = f"v{o.name[1:]}"  # (the tracer's names: v0, v1, ...)
    # off the CPU: which values' arrays are the host's (a 0-d CPU tensor next to device ones,
    # which Op.apply copies to their device: the generated code does that too)
    on_host: set = set()
    if cap.placed:
        for v, t in zip(g.inputs, real_inputs):
            if type(t._data) is _NP:
                on_host.add(id(v))
        for v in list(g.params.values()) + list(g.constants):
            t = live_tensor.get(id(v))
            if type(t._data if t is not None else v.data) is _NP:
                on_host.add(id(v))
        on_host.update(k for k, b in cap.backends.items() if b is NUMPY)
    # which nodes run: those the outputs or a write need, and those that may mutate a buffer
    writes_after: dict[int, list] = {}
    for tgt, res, target in cap.writes:
        stmt = _write_stmt(tgt, res, target, names, input_pos, live_tensor, real_inputs,
                           grad_enabled, ns, cap.created)
        if stmt is not None and res.producer is not None:
            writes_after.setdefault(id(res.producer), []).append(stmt)
    needed = {id(o) for o in g.outputs} | {id(res) for _, res, _ in cap.writes}
    live_nodes = []
    for node in reversed(g.nodes):
        keep = any(id(o) in needed for o in node.outputs) or id(node) in writes_after or any(
            isinstance(v, Value) and v.kind in ("param", "buffer") for v in node.kwargs.values())
        if keep:
            live_nodes.append(node)
            needed.update(id(v) for v in _flat(node.args) + _flat(tuple(node.kwargs.values())))
    live_nodes.reverse()

    # last use of each value, for dropping it early
    last: dict[int, int] = {}
    for i, node in enumerate(live_nodes):
        for v in _flat(node.args) + _flat(tuple(node.kwargs.values())):
            last[id(v)] = i
    outs_ids = {id(o) for o in g.outputs}

    body: list[str] = []
    grad_nodes: list[tuple[int, Node]] = []
    replay: list = []
    for i, node in enumerate(live_nodes):
        op = node.op
        if any(isinstance(a, (tuple, list)) and _flat(tuple(a)) for a in node.args):
            raise GraphBreak(f"{node.name} takes a list of tensors")
        # a Value among the options is an array the op was given (embedding's indices, batch
        # norm's running statistics): the op's forward takes arrays, never Tensors, there
        tensor_args = [a for a in node.args if isinstance(a, Value)]
        needs = tuple(isinstance(a, Value) and requires[id(a)] for a in node.args)
        rg = any(needs) and op is not Detach
        for o in node.outputs:
            requires[id(o)] = rg and (o.dtype.is_floating_point or o.dtype.is_complex)
        in_meta = tuple((a.shape, a.dtype.np) if need else None
                        for a, need in zip(node.args, needs))
        attrs = {"needs_input_grad": needs, "next_functions": ((None, 0),) * len(node.args),
                 "_in_meta": in_meta, "_n_out": len(node.outputs),
                 "_out_meta": tuple((o.shape, o.dtype) for o in node.outputs),
                 "__module__": __name__, "_to_save": (),
                 # what forward saved, as it saved it: the arrays are the compiled graph's
                 # own, so no packing and no version checks are needed
                 "saved": _SAVED, "saved_tensors": _SAVED_TENSORS}
        where = cap.placed.get(id(node))  # off the CPU: the backend its op ran on, as apply's
        if where is not None:
            attrs["backend"], attrs["xp"] = where[0], where[0].xp
        ctx_cls = type(op._node_cls.__name__ if hasattr(op, "_node_cls") else op.__name__,
                       (getattr(op, "_node_cls", op),), attrs)
        ns[f"K{i}"] = ctx_cls
        ns[f"F{i}"] = op.forward
        args = _args(node, i, names, ns, where, on_host)
        kwargs = []
        for key, val in node.kwargs.items():
            if isinstance(val, Value):
                kwargs.append(f"{key}={names[id(val)]}")
            elif _simple(val):
                kwargs.append(f"{key}={val!r}")
            else:
                ns[f"O{i}_{key}"] = val
                kwargs.append(f"{key}=O{i}_{key}")
        outs = ", ".join(names[id(o)] for o in node.outputs)
        if len(node.outputs) == 1 and (getattr(op, "returns_tuple", False)
                                       or id(node) in cap.tuple_nodes):
            outs += ","
        body.append(f"    c{i} = _new(K{i})  # {node.name}")
        body.append(f"    {outs} = F{i}(c{i}, {', '.join(args + kwargs)})")
        for o in node.outputs:
            if o.shape == () and where is None:
                body.append(f"    {names[id(o)]} = _asarray({names[id(o)]})")
            elif o.shape == ():  # (CuPy returns arrays: a Python scalar made as apply would)
                body.append(f"    {names[id(o)]} = _asarray_on({names[id(o)]}, K{i}.xp)")
        body.extend(writes_after.get(id(node), []))
        dead = [names[id(v)] for v in tensor_args if last.get(id(v)) == i
                and id(v) not in outs_ids and v.kind in ("node", "input")]
        dead += [names[id(o)] for o in node.outputs if id(o) not in last
                 and id(o) not in outs_ids and not any(res is o for _, res, _ in cap.writes)]
        if dead:
            body.append(f"    del {', '.join(dict.fromkeys(dead))}")
        if rg:
            grad_nodes.append((i, node))
        replay.append(node)

    record = grad_enabled and bool(edges)
    # the outputs
    outputs = []
    out_names = []
    written = {}  # an in-place op's result is the tensor it wrote into: eager returns that one
    for tgt, res, target in cap.writes:
        if id(target) in cap.created:
            continue
        if tgt.kind == "input":
            written[id(res)] = ("input", input_pos[id(tgt)])
        elif tgt.kind != "node" and id(tgt) in live_tensor:
            written[id(res)] = ("tensor", live_tensor[id(tgt)])
    for v in g.outputs:
        if id(v) in written:
            outputs.append(written[id(v)])
        elif v.kind == "input":
            outputs.append(("input", input_pos[id(v)]))
        elif id(v) in live_tensor:
            outputs.append(("tensor", live_tensor[id(v)]))
        else:
            outputs.append(("value", len(out_names)))
            out_names.append(v)
    uniq = list(dict.fromkeys(id(v) for v in out_names))
    by_id = {id(v): v for v in out_names}
    out_vals = [by_id[u] for u in uniq]
    outputs = [(k, uniq.index(id(out_names[x])) if k == "value" else x) for k, x in outputs]
    out_grad = tuple(record and requires[id(v)] for v in out_vals)
    ctx_list = [f"c{i}" for i, _ in grad_nodes] if record else []
    # dropout's noise contexts are kept too: create_graph's eager replay reuses their noise
    noise_ctx = {i: len(ctx_list) + k for k, i in enumerate(
        i for i, n in enumerate(live_nodes) if n.op is DropoutNoise)} if record else {}
    ctx_list += [f"c{i}" for i in noise_ctx]
    ret_vals = ", ".join(names[id(v)] for v in out_vals)
    fwd = ["def forward(A, T):"]
    if g.inputs:
        fwd.append(f"    {', '.join(names[id(v)] for v in g.inputs)}, = A")
    fwd += pre + body
    fwd.append(f"    return ({ret_vals}{',' if len(out_vals) == 1 else ''}), "
               f"({', '.join(ctx_list)}{',' if len(ctx_list) == 1 else ''})")
    fwd_src = "\n".join(fwd) + "\n"

    rets = []
    for kind, x in edges:
        if kind == "input":
            v = g.inputs[x]
        else:
            v = next(val for val in list(g.params.values()) + list(g.constants)
                     if live_tensor.get(id(val)) is x)
        rets.append(v)
    spec = _BackwardSpec(g, names, requires, grad_nodes, out_vals, out_grad, ctx_list, rets,
                         ns)
    bwd_src = spec.source(None) if record else "def backward(C, *grads):\n    return ()\n"
    fwd_fn = _build(fwd_src, "forward", ns)
    bwd_fn = _build(bwd_src, "backward", ns)
    in_meta = []
    for kind, x in edges:
        t = real_inputs[x] if kind == "input" else x
        in_meta.append((tuple(t._data.shape), t._data.dtype))
    # the compiled node's backend (the zeros it makes for missing gradients): its outputs'
    backend = next((backend_of(t._data) if t is not None else cap.backends.get(id(v), NUMPY)
                    for v, t in ((v, live_tensor.get(id(v))) for v in out_vals)), NUMPY)
    return Program(fwd_fn, bwd_fn, fwd_src, bwd_src, len(g.inputs), outputs,
                   tuple((v.shape, v.dtype) for v in out_vals), out_grad, edges,
                   tuple(in_meta), record, g, live_tensor, replay, out_vals, spec,
                   noise_ctx=noise_ctx, backend=backend)


class _BackwardSpec:
    """What the backward's source is made from. The first backward runs every context through
    ``call_node``, which records the shapes each formula returned (``SH3``); ``specialize`` then
    writes the backward again calling the formulas directly (``B3(c3, g)``), with the sum back
    to an input's shape only where the recorded shape differs and a cast only where the dtype
    does: the same formulas and checks, without the generic route's per-node overhead."""

    def __init__(self, g: Any, names: dict, requires: dict, grad_nodes: list, out_vals: list,
                 out_grad: tuple, ctx_list: list, rets: list, ns: dict) -> None:
        self.g, self.names, self.requires, self.grad_nodes = g, names, requires, grad_nodes
        self.out_vals, self.out_grad, self.ctx_list, self.rets, self.ns = (
            out_vals, out_grad, ctx_list, rets, ns)
        for i, node in grad_nodes:
            ns[f"SH{i}"] = []
            ns[f"B{i}"] = node.op.backward

    def specialize(self) -> tuple[Any, str]:
        shapes = {i: self.ns[f"SH{i}"] for i, _ in self.grad_nodes}
        src = self.source(shapes)
        return _build(src, "backward", self.ns), src

    def source(self, shapes: dict | None) -> str:
        names, requires = self.names, self.requires
        bwd = ["def backward(C, *grads):"]
        if self.ctx_list:
            bwd.append(f"    {', '.join(self.ctx_list)}{',' if len(self.ctx_list) == 1 else ''}"
                       " = C")
        gname = {}
        for k, v in enumerate(self.out_vals):
            if self.out_grad[k]:
                gname[id(v)] = f"g_{names[id(v)]}"
        zero = [f"g_{names[id(v)]}" for v in _grad_values(self.g, requires, self.grad_nodes)
                if id(v) not in gname]
        for k, v in enumerate(self.out_vals):
            if self.out_grad[k]:
                bwd.append(f"    g_{names[id(v)]} = grads[{k}]")
        if zero:
            bwd.append(f"    {' = '.join(zero)} = None")
        assigned: set = set(gname)
        for i, node in reversed(self.grad_nodes):
            gouts = [f"g_{names[id(o)]}" if requires[id(o)] else "None" for o in node.outputs]
            cond = " or ".join(f"{x} is not None" for x in gouts if x != "None") or "False"
            bwd.append(f"    if {cond}:  # {node.name}")
            direct = self._direct(i, node, shapes)
            if direct is None:
                bwd.append(f"        r = _call(c{i}, [{', '.join(gouts)}], True, None, SH{i})")
            else:
                bwd.append(f"        r = B{i}(c{i}, {gouts[0]})")
                if len(node.args) == 1:
                    bwd.append("        if type(r) is not tuple: r = (r,)")
            for j, a in enumerate(node.args):
                if isinstance(a, Value) and requires[id(a)]:
                    gn = f"g_{names[id(a)]}"
                    x = f"r[{j}]"
                    if direct is not None:  # call_node's checks, where the first run needed them
                        bwd.append(f"        x = r[{j}]")
                        if j in direct:
                            bwd.append(f"        x = c{i}.backend.sum_to(x, {tuple(a.shape)!r})")
                        bwd.append(f"        if x.dtype is not DT{i}_{j}: x = _cast(x, DT{i}_{j}, "
                                   f"c{i})")
                        x = "x"
                    if id(a) in assigned:
                        bwd.append(f"        {gn} = _acc({gn}, {x})")
                    else:
                        bwd.append(f"        {gn} = {x}")
                        assigned.add(id(a))
            for o in node.outputs:  # consumed: its gradient is not needed any more
                if requires[id(o)]:
                    bwd.append(f"        g_{names[id(o)]} = None")
        rets = [f"g_{names[id(v)]}" if id(v) in assigned else "None" for v in self.rets]
        bwd.append(f"    return ({', '.join(rets)}{',' if len(rets) == 1 else ''})")
        return "\n".join(bwd) + "\n"

    def _direct(self, i: int, node: Node, shapes: dict | None) -> set | None:
        """Whether the formula can be called directly: the inputs whose gradient must be summed
        back to their shape (from the shapes the first backward recorded), or None where that
        is not known (the node keeps ``call_node``)."""
        if shapes is None or len(node.outputs) != 1 or not node.op.on_arrays:
            return None
        rec = shapes[i][:len(node.args)]
        if len(rec) != len(node.args):
            return None
        sums = set()
        for j, a in enumerate(node.args):
            if not (isinstance(a, Value) and self.requires[id(a)]):
                continue
            if rec[j] is None:
                return None
            if tuple(rec[j]) != tuple(a.shape):
                sums.add(j)
            self.ns[f"DT{i}_{j}"] = a.dtype.np
        return sums


def _grad_values(g: Any, requires: dict, grad_nodes: list) -> list:
    seen: dict = {}
    for _, node in grad_nodes:
        for a in node.args:
            if isinstance(a, Value) and requires[id(a)]:
                seen[id(a)] = a
        for o in node.outputs:
            if requires[id(o)]:
                seen[id(o)] = o
    return list(seen.values())


def _args(node: Node, i: int, names: dict, ns: dict, where: tuple | None = None,
          on_host: set | None = None) -> list[str]:
    """The node's positional arguments as source, placed and cast as ``Op.apply`` would (a host
    array of an op on a device copied there; torch's type promotion: decided here once, from
    the traced dtypes)."""
    op = node.op
    items: list[Any] = list(node.args)
    casts: dict[int, Any] = {}
    moved: set = set()
    xp = NUMPY.xp
    if where is not None:
        xp = where[0].xp
        for j, a in enumerate(items):
            if isinstance(a, Value):
                if id(a) in on_host:
                    moved.add(j)
            elif type(a) is _NP:  # an array option: copied once, here
                items[j] = where[0].from_host(a, where[1])
    if op._promote:
        fakes = [_fake(a, xp) if isinstance(a, Value) else a for a in items]
        arrays = [f._data if isinstance(f, Tensor) else f for f in fakes]
        if where is not None and _apply_keeps(op._promote, arrays, where[0].array_type):
            promoted = arrays  # as apply passes them (a weak scalar stays a Python number)
        else:
            promoted = promote_arrays(tuple(fakes), arrays, op._promote == "float")
        for j, (a, p) in enumerate(zip(items, promoted)):
            if isinstance(a, Value):
                if p.dtype != a.dtype.np:
                    casts[j] = p.dtype
            elif p is not a or type(p) is not type(a):
                items[j] = p
    out = []
    for j, a in enumerate(items):
        if isinstance(a, Value):
            s = names[id(a)]
            if j in moved:
                ns[f"BK{i}"] = where[0]
                s = f"_from_host({s}, BK{i}, {where[1]!r})"
            if j in casts:
                ns[f"D{i}_{j}"] = casts[j]
                s = f"{s}.astype(D{i}_{j})"
            out.append(s)
        elif _simple(a):
            out.append(repr(a))
        else:
            ns[f"S{i}_{j}"] = a
            out.append(f"S{i}_{j}")
    return out


def _apply_keeps(promote: Any, arrays: list, at: type) -> bool:
    """``Op.apply``'s shortcut off the CPU: two operands it passes without promoting (two arrays
    of one dtype, an array and a Python scalar that does not widen it)."""
    if promote is not True or len(arrays) != 2 or type(arrays[0]) is not at:
        return False
    first, second = arrays
    if type(second) is at:
        return first.dtype is second.dtype
    return (type(second) is float and first.dtype.kind == "f") or scalar_keeps(first.dtype,
                                                                                second)


def _write_stmt(tgt: Value, res: Value, target: Tensor, names: dict, input_pos: dict,
                live_tensor: dict, real_inputs: list, grad_enabled: bool, ns: dict,
                created: set) -> Any:
    """The replay of an in-place write into a tensor the caller holds (an input, a buffer), or
    None for a write into an intermediate (the IR already renames it)."""
    if (tgt.kind == "node" or id(target) in created) and target._base is None:
        return None  # an intermediate (the IR renames it), or a tensor the forward made
    if tgt.kind == "node" or target._base is not None:
        raise GraphBreak("an in-place write into a view")
    if tgt.kind == "input":
        t = real_inputs[input_pos[id(tgt)]]
        if grad_enabled and t._requires_grad:
            raise GraphBreak("an in-place op on an input that requires grad")
        key = f"T[{input_pos[id(tgt)]}]"
    else:
        t = live_tensor.get(id(tgt))
        if t is None:
            raise GraphBreak("an in-place write into a constant")
        if grad_enabled and t._requires_grad:
            raise GraphBreak("an in-place op on a parameter that requires grad")
        key = names[id(tgt)].upper()
    return (f"    _bump({key}, {names[id(res)]}, {grad_enabled})  "
            f"# in-place write into {tgt.name}")


def _build(src: str, name: str, ns: dict) -> Any:
    code = compile(src, f"<ember.compile {name}>", "exec")
    exec(code, ns)  # noqa: S102 - our own generated source
    return ns[name]


def _flat(items: tuple) -> list[Value]:
    out = []
    for a in items:
        if isinstance(a, Value):
            out.append(a)
        elif isinstance(a, (tuple, list)):
            out.extend(_flat(tuple(a)))
    return out


# -- helpers the generated code calls ---------------------------------------------------------
def _asarray(x: Any) -> Any:
    # numpy returns 0-d results as scalars; Op.apply makes them arrays again (an op traced on a
    # device gets _asarray_on its own array module instead)
    return x if type(x) is NUMPY.array_type else NUMPY.xp.asarray(x)


def _asarray_on(x: Any, xp: Any) -> Any:
    # Op.apply's: an output that is not an array made one by the op's array module
    return x if is_array(x) else xp.asarray(x)


def _from_host(x: Any, backend: Any, index: int) -> Any:
    # Op.apply's placement: a 0-d CPU array next to device operands is copied to their device
    return backend.from_host(x, index) if type(x) is _NP else x


_NP = NUMPY.array_type
_SAVED = property(attrgetter("_to_save"))
# a backward written on Tensors reads them as Tensors
_SAVED_TENSORS = property(lambda ctx: tuple(Tensor._make(s) if _is_array(s) else s
                                            for s in ctx._to_save))


def _cast(g: Any, dtype: Any, ctx: Op) -> Any:
    """``call_node``'s cast of a gradient to its input's dtype, where it differs."""
    if g is None or g.dtype is dtype or g.dtype == dtype:
        return g
    return ctx.backend.cast(g, dtype)


def _acc(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None else a + b


def _bump(t: Tensor, value: Any, grad_enabled: bool) -> None:
    """An in-place op's write into ``t`` and its version bump, as ``apply_inplace`` does."""
    if value is not t._data:
        t._data[...] = value
    box = t._version_counter
    box[0] += 1
    if grad_enabled:
        if len(box) == 1:
            box.append(None)
        box[1] = t._grad_fn
