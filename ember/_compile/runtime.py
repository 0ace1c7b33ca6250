"""The compiled call: guards, the cache of generated programs, and the one node a compiled
forward records in ember's graph."""
from __future__ import annotations

import logging
import warnings
import weakref
from collections.abc import Callable
from sys import modules as _modules
from typing import Any

from ..backend import NUMPY, backend_of
from ..devices import default as _default_device
from ..dtypes import get_default_dtype
from ..graph import grad_mode
from ..graph.node import FREED, Node, anomaly, sequence
from ..ops import _op
from ..ops._op import _raise_freed, _raise_modified
from ..tensor import Tensor
from .capture import Capture, Detach, DropoutNoise, GraphBreak, capture
from .codegen import Program, generate

__all__ = ["Compiled", "CompiledFunctionBackward", "Unsupported", "config"]

_log = logging.getLogger("ember._dynamo")
_make = Tensor._make
_new = object.__new__
_state = grad_mode.state
_NP = NUMPY.array_type


class _Config:
    """``torch._dynamo.config``'s switches that ember reads."""

    recompile_limit = 8  # torch 2.13's: compiled entries per function before it runs eagerly


config = _Config()
_COMPILED: weakref.WeakSet = weakref.WeakSet()  # every compiled callable, for reset()
_capturing = [0]


def reset() -> None:
    """Forgets every compiled program (``torch._dynamo.reset``): the next calls trace again."""
    for c in list(_COMPILED):
        c.cache.clear()
        c.count = 0
        c.warned = False
        c.last = None


def is_compiling() -> bool:
    """True while ``compile`` is tracing a function (``torch._dynamo.is_compiling``)."""
    return _capturing[0] > 0


class Unsupported(RuntimeError):
    """``torch._dynamo.exc.Unsupported``: what ``fullgraph=True`` raises at a graph break."""


class CompiledFunctionBackward(Node):
    """The one node a compiled forward records: its backward runs the traced ops' own backward
    formulas newest first (the generated ``backward``); under ``create_graph`` it replays the
    traced ops eagerly on Tensors instead, so that the gradients have a graph."""

    on_arrays = True
    _program: Program
    _inputs: tuple = ()
    # the inputs and parameters whose memory the ops' saved arrays share, and their versions at
    # forward time: an in-place write into one before backward fails as eager's version check
    _watch: tuple = ()
    _versions: tuple = ()
    _ctxs: tuple = ()  # the contexts, once _saved is emptied (nothing saved: re-runnable)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        saved = ctx._saved
        if saved is FREED:
            _raise_freed()
        for (kind, x), version in zip(ctx._watch, ctx._versions):
            t = ctx._inputs[x] if kind == "input" else x
            box = t._version_counter
            if box[0] != version:
                writer = box[1] if len(box) > 1 else t._grad_fn
                _raise_modified(t._data, t._output_nr, box[0], version, writer)
        if _state.enabled:
            return _eager_backward(ctx, grads)
        ctxs = saved if saved else ctx._ctxs
        prog = ctx._program
        out = prog.backward(ctxs, *grads)
        if not prog.specialized:
            prog.specialize()
            prog.saves = any(c._to_save for c in ctxs)  # the same on every call
        if saved and not prog.saves:
            ctx._saved, ctx._ctxs = (), ctxs  # nothing saved: a second backward may run, as eager
        return out


def _eager_backward(node: Any, grads: tuple) -> tuple:
    """``create_graph=True``: the traced ops re-run on Tensors (buffers given copies, so running
    statistics are not updated twice), then differentiated with the graph recorded."""
    from ..autograd import grad as _grad

    prog = node._program
    g = prog.graph
    env: dict[int, Any] = {id(v): t for v, t in zip(g.inputs, node._inputs)}
    env.update(prog.value_tensors)
    ctxs = node._saved if node._saved else node._ctxs
    for i, n in enumerate(prog.replay):
        if n.op is DropoutNoise:  # the noise this call drew, not a new draw
            env[id(n.outputs[0])] = _make(ctxs[prog.noise_ctx[i]].noise)
            continue
        args = [env[id(a)] if hasattr(a, "producer") else a for a in n.args]
        kw = {k: (env[id(v)]._data.copy() if hasattr(v, "producer") else v)
              for k, v in n.kwargs.items()}
        if n.op is Detach:
            out = args[0].detach()
        else:
            out = n.op.apply(*args, **kw)
        for o, t in zip(n.outputs, out if type(out) is tuple else (out,)):
            env[id(o)] = t
    pairs = [(env[id(v)], gr) for v, gr, rg in zip(prog.out_values, grads, prog.out_grad)
             if gr is not None and rg]
    leaves = [node._inputs[x] if kind == "input" else x for kind, x in prog.edges]
    if not pairs:
        return (None,) * len(leaves)
    return tuple(_grad([o for o, _ in pairs], leaves, [gr for _, gr in pairs],
                       create_graph=True, allow_unused=True))


# -- guards -------------------------------------------------------------------------------------
_SCALARS = (int, float, bool, str, type(None), complex)


def _spec(obj: Any, out: list, seen: dict) -> None:
    """The guard's view of an argument: each tensor's shape, dtype and requires_grad (and
    device, off the CPU; and whether it repeats an earlier one), the values of Python scalars,
    containers' shapes."""
    t = type(obj)
    if t is Tensor or isinstance(obj, Tensor):
        k = id(obj)
        if k in seen:
            out.append(seen[k])
        else:
            seen[k] = len(seen)
            d = obj._data
            out.append((d.shape, d.dtype, obj._requires_grad, t) if type(d) is _NP else
                       (d.shape, d.dtype, obj._requires_grad, t, _device_key(d)))
    elif t in _SCALARS:
        out.append((t, obj))
    elif t is tuple or t is list:
        out.append((t, len(obj)))
        for x in obj:
            _spec(x, out, seen)
    elif t is dict:
        out.append((t, tuple(obj)))
        for x in obj.values():
            _spec(x, out, seen)
    else:
        out.append(("id", id(obj)))


def _device_key(d: Any) -> tuple:
    """A device array's place in a guard key: its backend and device index (cheaper than a
    ``device`` object; only asked off the CPU)."""
    b = backend_of(d)
    return b, b.device_index(d)


def _module_spec(mod: Any, out: list) -> None:
    """Each submodule's training flag and hooks; each parameter's and buffer's identity, shape,
    dtype and requires_grad (and device, off the CPU: ``module.to`` keeps the objects)."""
    stack = [mod]
    while stack:
        m = stack.pop()
        d = m.__dict__
        out.append(m.training)
        if (d["_forward_hooks"] or d["_forward_pre_hooks"] or d["_backward_hooks"]
                or d["_backward_pre_hooks"]):
            out.append("hooks")
        for p in d["_parameters"].values():
            if p is None:
                out.append(None)
                continue
            a = p._data
            out.append((id(p), a.shape, a.dtype, p._requires_grad) if type(a) is _NP else
                       (id(p), a.shape, a.dtype, p._requires_grad, _device_key(a)))
        for b in d["_buffers"].values():
            if b is None:
                out.append(None)
                continue
            a = b._data
            out.append((id(b), a.shape, a.dtype) if type(a) is _NP else
                       (id(b), a.shape, a.dtype, _device_key(a)))
        stack.extend(c for c in d["_modules"].values() if c is not None)


def _tensors(obj: Any, out: list, seen: set) -> None:
    """The argument tensors in the tracer's order (each once)."""
    if isinstance(obj, Tensor):
        if id(obj) not in seen:
            seen.add(id(obj))
            out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for x in obj:
            _tensors(x, out, seen)
    elif isinstance(obj, dict):
        for x in obj.values():
            _tensors(x, out, seen)


def _unflatten(template: Any, it: Any) -> Any:
    if isinstance(template, Tensor):
        return next(it)
    if type(template) in (tuple, list):
        return type(template)(_unflatten(x, it) for x in template)
    if type(template) is dict:
        return {k: _unflatten(v, it) for k, v in template.items()}
    return template


def _plain(obj: Any) -> bool:
    if isinstance(obj, Tensor) or type(obj) in _SCALARS:
        return True
    if type(obj) in (tuple, list):
        return all(_plain(x) for x in obj)
    if type(obj) is dict:
        return all(_plain(x) for x in obj.values())
    return False


def _perturbed(obj: Any, memo: dict | None = None, mild: bool = False) -> Any:
    """Other values of the same shape and dtype (the second trace's inputs): floats reversed and
    reflected about 0.25, integers reversed, booleans flipped; ``mild``: every dtype only
    reversed (the same values, for ops that check a range). A tensor passed twice stays one."""
    memo = {} if memo is None else memo
    if isinstance(obj, Tensor):
        if id(obj) in memo:
            return memo[id(obj)]
        d = obj._data
        flat = d.reshape(-1)[::-1].reshape(d.shape)
        if mild:
            pass
        elif d.dtype.kind == "b":
            flat = ~flat
        elif d.dtype.kind in "fc":
            flat = 0.5 - flat
        t = memo[id(obj)] = _make(flat.copy())
        t._requires_grad = obj._requires_grad
        return t
    if type(obj) in (tuple, list):
        return type(obj)(_perturbed(x, memo, mild) for x in obj)
    if type(obj) is dict:
        return {k: _perturbed(v, memo, mild) for k, v in obj.items()}
    return obj


def _same(a: Any, b: Any, depth: int = 0) -> bool:
    """Whether two traced graphs' options agree (the second trace ran on other values)."""
    if depth > 20:
        return False
    if hasattr(a, "producer") and hasattr(b, "producer"):  # Values
        return (a.name, a.kind, a.shape, a.dtype) == (b.name, b.kind, b.shape, b.dtype)
    if type(a) is not type(b):
        return False
    if hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, Tensor):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if not a.size:
            return True
        eq = a == b
        if a.dtype.kind in "fc":  # NaN equals NaN here
            xp = backend_of(a).xp
            eq |= xp.isnan(a) & xp.isnan(b)
        return bool(eq.all())
    if isinstance(a, Tensor):
        return _same(a._data, b._data, depth + 1)
    if type(a) in (tuple, list):
        return len(a) == len(b) and all(_same(x, y, depth + 1) for x, y in zip(a, b))
    if type(a) is dict:
        return a.keys() == b.keys() and all(_same(a[k], b[k], depth + 1) for k in a)
    if callable(a) and hasattr(a, "__code__"):
        if a.__code__ is not b.__code__:
            return False
        ca, cb = a.__closure__ or (), b.__closure__ or ()
        return len(ca) == len(cb) and all(
            _same(x.cell_contents, y.cell_contents, depth + 1) for x, y in zip(ca, cb)) and \
            _same(a.__defaults__, b.__defaults__, depth + 1)
    try:
        eq = a == b
    except Exception:  # noqa: BLE001 - an __eq__ that refuses: compared by attributes below
        eq = False
    if type(eq) is bool and eq:
        return True
    if hasattr(a, "__dict__"):
        return _same(vars(a), vars(b), depth + 1)
    return type(a) in (slice, range) and a == b or a is b


def _same_capture(c1: Capture, c2: Capture) -> bool:
    g1, g2 = c1.graph, c2.graph
    if len(g1.nodes) != len(g2.nodes) or len(g1.constants) != len(g2.constants):
        return False
    for n1, n2 in zip(g1.nodes, g2.nodes):
        if n1.op is not n2.op or not _same(n1.args, n2.args) or \
                not _same(n1.kwargs, n2.kwargs) or not _same(n1.outputs, n2.outputs):
            return False
    for v1, v2 in zip(g1.constants, g2.constants):
        same_source = c1.sources.get(v1.name) is c2.sources.get(v2.name) is not None
        if not same_source and not _same(v1.data, v2.data):
            return False
    return (_same(g1.outputs, g2.outputs)
            and [(a.name, b.name) for a, b, _ in c1.writes]
            == [(a.name, b.name) for a, b, _ in c2.writes])


# -- the compiled callable ------------------------------------------------------------------------
class _Entry:
    __slots__ = (
        "call",
        "call_source",
        "checks",
        "node_cls",
        "program",
        "reason",
        "soft",
        "template",
        "watch",
    )

    def __init__(self, program: Program | None, reason: str | None, template: Any = None,
                 checks: tuple = (), soft: bool = False) -> None:
        self.program, self.reason, self.template, self.checks = program, reason, template, checks
        self.soft = soft  # eager for a failed trace, not a graph break: fullgraph does not raise
        self.node_cls = self.call = self.watch = None
        self.call_source = ""
        if program is not None and program.record:
            self.node_cls = type("CompiledFunctionBackward", (CompiledFunctionBackward,), {
                "_program": program, "_in_meta": program.in_meta,
                "needs_input_grad": (True,) * len(program.edges),
                "_n_out": len(program.out_meta), "_out_meta": program.out_meta,
                "__module__": __name__, "backend": program.backend,
                "xp": program.backend.xp})
        if program is not None:
            self.call_source, self.call = _glue(self, program)


def _edge(t: Tensor) -> tuple:
    fn = t._grad_fn
    return (fn, t._output_nr) if fn is not None else (t._grad_accumulator(), 0)


def _versions_line(watch: tuple, ns: dict) -> list[str]:
    if not watch:
        return []
    items = []
    for k, (kind, x) in enumerate(watch):
        if kind == "input":
            items.append(f"A[{x}]._version_counter[0]")
        else:
            ns[f"W{k}"] = x
            items.append(f"W{k}._version_counter[0]")
    return [f"    node._versions = ({', '.join(items)},)"]


def _watch(node: Any, prog: Program) -> tuple:
    """The inputs and parameters whose memory a saved array shares (found once, on the first
    call: what the ops save is the same on every call)."""
    saved = [s for c in node._saved for s in c._to_save
             if hasattr(s, "shape") and hasattr(s, "dtype") and not isinstance(s, Tensor)]
    out = []
    candidates = [("input", i, t) for i, t in enumerate(node._inputs)] + [
        ("tensor", t, t) for t in {id(t): t for t in prog.value_tensors.values()}.values()]
    for kind, x, t in candidates:
        d = t._data
        share = backend_of(d).may_share_memory
        if any(type(s) is type(d) and share(d, s) for s in saved):  # (only arrays of one kind)
            out.append((kind, x))
    return tuple(out)


def _glue(entry: _Entry, prog: Program) -> tuple[str, Any]:
    """The call itself, generated too: the arrays in, the node (its edges to the inputs' and
    parameters' own nodes) and the output tensors out, for a call of tensors ``A``."""
    ns: dict[str, Any] = {"FWD": prog.forward, "NODE": entry.node_cls, "_new": _new,
                          "_make": _make, "_edge": _edge, "_next": next, "_sequence": sequence,
                          "TEMPLATE": entry.template, "_unflatten": _unflatten, "_iter": iter}
    arrays = "".join(f"A[{i}]._data, " for i in range(prog.n_inputs))
    lines = ["def call(A):", f"    o, C = FWD(({arrays}), A)"]
    made = []
    if prog.record:
        edges = []
        for k, (kind, x) in enumerate(prog.edges):
            if kind == "input":
                edges.append(f"_edge(A[{x}])")
            else:
                ns[f"E{k}"] = x
                edges.append(f"_edge(E{k})")
        lines += ["    node = _new(NODE)",
                  f"    node.next_functions = ({', '.join(edges)},)",
                  *_versions_line(entry.watch or (), ns),
                  "    node._seq = _next(_sequence)",
                  "    node._saved = C",
                  "    node._inputs = A"]
        made = [f"_make(o[{k}], True, node, {k})" if rg else f"_make(o[{k}])"
                for k, rg in enumerate(prog.out_grad)]
    else:
        made = [f"_make(o[{k}])" for k in range(len(prog.out_meta))]
    flat = []
    for j, (kind, x) in enumerate(prog.outputs):
        if kind == "value":
            flat.append(f"m{x}")
        elif kind == "input":
            flat.append(f"A[{x}]")
        else:
            ns[f"R{j}"] = x
            flat.append(f"R{j}")
    if made:
        lines.append(f"    {', '.join(f'm{k}' for k in range(len(made)))}, = {', '.join(made)},")
    if isinstance(entry.template, Tensor):
        lines.append(f"    return {flat[0]}")
    else:
        lines.append(f"    return _unflatten(TEMPLATE, _iter(({', '.join(flat)}{',' if flat else ''})))")
    src = "\n".join(lines) + "\n"
    exec(compile(src, "<ember.compile call>", "exec"), ns)  # noqa: S102 - generated here
    return src, ns["call"]


def _amp_key(st: Any) -> tuple:
    """The autocast state a trace depends on: the CPU's switch and dtype, and CUDA's where
    ``ember.amp`` has a CUDA autocast."""
    cuda = getattr(st, "cuda_enabled", False)
    return (st.enabled, st.dtype, cuda and st.cuda_dtype)


def _checks_pass(checks: tuple) -> bool:
    """What an entry assumed beyond its key: captured leaves' shapes and requires_grad, the
    training flags of the modules a function called."""
    return all((t.training == r) if s == "training" else
               (t._data.shape == s and t._requires_grad == r) for t, s, r in checks)


class Compiled:
    """``fn`` (a function, or a module's ``__call__`` with ``module`` given) compiled per guard
    key: the first call for a key traces it and generates its program, later ones replay it."""

    def __init__(self, fn: Callable, module: Any = None, fullgraph: bool = False) -> None:
        self.fn, self.module, self.fullgraph = fn, module, fullgraph
        self.cache: dict = {}  # guard key -> its entries
        self.count = 0  # entries compiled, against config.recompile_limit
        self.warned = False
        self.last: _Entry | None = None
        _COMPILED.add(self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _op._tracer is not None:  # inside another trace (onnx.export): run the ops for it
            return self.fn(*args, **kwargs)
        # the guard key; the usual call (tensors only, each once) also skips the flattening
        plain = not kwargs
        amp = _modules.get("ember.amp.autocast_mode")  # (only once a program has loaded it)
        mode = (_state.enabled, anomaly.enabled, get_default_dtype(),
                _amp_key(amp._state) if amp is not None else None, _default_device[0])
        key: list = [mode]
        for a in args:
            if type(a) is not Tensor:
                plain = False
                break
            d = a._data
            key.append((d.shape, d.dtype, a._requires_grad) if type(d) is _NP else
                       (d.shape, d.dtype, a._requires_grad, _device_key(d)))
        if plain and len(args) > 1 and len(set(map(id, args))) != len(args):
            plain = False
        if not plain:
            key = [mode]
            _spec(args, key, {})
            if kwargs:
                _spec(kwargs, key, {})
        if self.module is not None:
            _module_spec(self.module, key)
        key = tuple(key)
        entries = self.cache.get(key)
        entry = None
        if entries is not None:  # the entries of one key differ in what the key cannot hold
            entry = next((e for e in entries if not e.checks or _checks_pass(e.checks)), None)
        if entry is None:
            if self.count >= config.recompile_limit:
                self._warn_limit()
                return self.fn(*args, **kwargs)
            entry = self.build(args, kwargs)
            self.cache.setdefault(key, []).append(entry)
            self.count += 1
        self.last = entry
        if entry.reason is not None:
            if self.fullgraph and not entry.soft:
                raise Unsupported(entry.reason)
            return self.fn(*args, **kwargs)
        if entry.watch is None and entry.node_cls is not None:
            return self._first_call(entry, args, kwargs)
        if plain:
            return entry.call(args)
        return self.run(entry, args, kwargs)

    def _first_call(self, entry: _Entry, args: tuple, kwargs: dict) -> Any:
        """Runs the entry once, then finds which inputs and parameters its saved arrays share
        memory with, and generates the call again recording their versions."""
        out = self.run(entry, args, kwargs)
        node = next((t._grad_fn for t in _flat_out(out)
                     if isinstance(t._grad_fn, CompiledFunctionBackward)), None)
        entry.watch = _watch(node, entry.program) if node is not None else ()
        if entry.watch:
            entry.node_cls._watch = entry.watch
            entry.call_source, entry.call = _glue(entry, entry.program)
            node._versions = tuple(
                (node._inputs[x] if kind == "input" else x)._version_counter[0]
                for kind, x in entry.watch)
        return out

    def _warn_limit(self) -> None:
        if self.warned:
            return
        self.warned = True
        code = getattr(self.fn, "__code__", None) or getattr(
            getattr(self.module, "forward", None), "__code__", None)
        where = (f"'{code.co_name}' ({code.co_filename}:{code.co_firstlineno})" if code
                 else repr(self.fn))
        _log.warning(
            "torch._dynamo hit config.%s (%s)\n   function: %s\n   last reason: %s\n"
            'To log all recompilation reasons, use TORCH_LOGS="recompiles".\n'
            "To diagnose recompilation issues, see %s", "recompile_limit",
            config.recompile_limit, where, "a guard failed (shapes, dtypes, requires_grad, "
            "grad mode or training flags changed)",
            "https://pytorch.org/docs/main/torch.compiler_troubleshooting.html")

    def build(self, args: tuple, kwargs: dict) -> _Entry:
        if anomaly.enabled:
            return _Entry(None, "anomaly detection is on: its traces are per op")
        spec: list = []
        if self.module is not None:
            _module_spec(self.module, spec)
        if "hooks" in spec:
            return _Entry(None, "a module has forward or backward hooks")
        _capturing[0] += 1
        try:
            try:
                cap = capture(self.fn, self.module, args, kwargs)
            except GraphBreak:
                raise
            except Exception as e:  # noqa: BLE001 - the call runs eagerly: eager's own outcome
                # (the trace runs floating inputs that require grad: an op may refuse that)
                return _Entry(None, f"the trace failed ({type(e).__name__}: {e})", soft=True)
            if not _plain(cap.output):
                raise GraphBreak("the output holds tensors in a container other than a "
                                 "tuple, list or dict")
            cap2 = None
            for mild in (False, True):  # other values; then a permutation only (same range)
                memo: dict = {}
                try:
                    with warnings.catch_warnings():  # the first trace gave the call's warnings
                        warnings.simplefilter("ignore")
                        cap2 = capture(self.fn, self.module, _perturbed(args, memo, mild),
                                       _perturbed(kwargs, memo, mild))
                    break
                except GraphBreak:
                    raise
                except Exception:  # noqa: BLE001, S112 - values out of an op's range: try milder
                    continue
            if cap2 is None or not _same_capture(cap, cap2):
                raise GraphBreak("the ops or their options depend on the input values "
                                 "(data-dependent control flow, indices or shapes)")
            inputs: list = []
            _tensors((args, kwargs), inputs, set())
            for t in _flat_out(cap.output):
                if t._base is not None and t._base._grad_fn is None:
                    raise GraphBreak("an output is a view of an input or parameter")
            params = {} if self.module is None else dict(
                list(self.module.named_parameters()) + list(self.module.named_buffers()))
            program = generate(cap, params, inputs, _state.enabled)
        except GraphBreak as e:
            return _Entry(None, str(e))
        finally:
            _capturing[0] -= 1
        checks = tuple((t, t._data.shape, t._requires_grad) for v, t in
                       ((v, cap.sources.get(v.name)) for v in cap.graph.constants)
                       if t is not None and t._requires_grad)
        # a function's modules are not in the guard key: their training flags are checked here
        checks += tuple((m, "training", m.training) for m in cap.modules) \
            if self.module is None else ()
        return _Entry(program, None, cap.output, checks)

    def run(self, entry: _Entry, args: tuple, kwargs: dict) -> Any:
        inputs: list = []
        _tensors((args, kwargs) if kwargs else args, inputs, set())
        return entry.call(tuple(inputs))

    # -- the teaching feature ------------------------------------------------------------------
    def code(self) -> str:
        """The generated forward and backward of the latest compiled call."""
        e = self.last
        if e is None:
            return "# not compiled yet: call it once"
        if e.reason is not None:
            return f"# runs eagerly: {e.reason}"
        legend = ["# Fi/Bi: op i's own forward/backward, Ki: its context's class"]
        for i, n in enumerate(e.program.replay):
            legend.append(f"#   F{i}, B{i}: {n.op.__module__}.{n.op.__qualname__} ({n.name})")
        return ("\n".join(legend) + "\n\n# forward: each traced op's forward on arrays\n"
                + e.program.forward_source
                + "\n# backward: each op's own backward formula, newest first\n"
                + e.program.backward_source)


def _flat_out(obj: Any) -> list:
    out: list = []
    _tensors(obj, out, set())
    return out
