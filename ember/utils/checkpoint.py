"""Activation checkpointing (torch.utils.checkpoint): a segment's intermediate values are not
kept for backward but recomputed from its inputs when backward reaches it.

Both of torch's variants are here. ``use_reentrant=True``: the segment is one node
(``CheckpointFunctionBackward``); its backward recomputes the segment and runs a nested
``backward``, which deposits the gradients of parameters used inside straight into their
``.grad`` (so ``autograd.grad`` cannot reach them, as in torch). ``use_reentrant=False``: the
segment's inputs *and* the leaves it uses (found from the graph of the forward, which is then
dropped) are the node's inputs, so ``autograd.grad`` and ``backward(inputs=...)`` see them.
Unlike torch's non-reentrant variant (saved-tensor hooks, which ember lacks), the outputs' node is
the checkpoint node, ``CheckpointNonReentrantBackward``, not the segment's last op; a segment
that reads a non-leaf tensor it was not given keeps its graph (no memory saved, same results).
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterable

import ember
from .. import random as _random
from ..autograd.function import Function
from ..graph import grad_mode
from ..graph.node import AccumulateGrad, sequence
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction",
           "check_backward_validity", "detach_variable", "noop_context_fn"]


class CheckpointError(RuntimeError):
    """A recomputation that does not reproduce the forward (other shapes or dtypes)."""


def noop_context_fn() -> tuple[contextlib.AbstractContextManager, contextlib.AbstractContextManager]:
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


def detach_variable(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """The tensors of ``inputs`` detached, each keeping its ``requires_grad``."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    out = []
    for inp in inputs:
        if not isinstance(inp, Tensor):
            out.append(inp)
            continue
        x = inp.detach()
        x.requires_grad = inp.requires_grad
        out.append(x)
    return tuple(out)


def check_backward_validity(inputs: Iterable[Any]) -> None:
    """Warns when no input tensor requires grad (the checkpoint then gives no gradients)."""
    if not any(inp.requires_grad for inp in inputs if isinstance(inp, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=3)


@contextlib.contextmanager
def _rng_as_in_forward(state: tuple | None) -> Any:
    """The recomputation draws the random numbers the forward drew (dropout masks), and leaves
    the generator as it found it."""
    if state is None:
        yield
        return
    now = _random.rng_states()
    _random.set_rng_states(state)
    try:
        yield
    finally:
        _random.set_rng_states(now)


class CheckpointFunction(Function):
    """The reentrant checkpoint node: forward without a graph, backward recomputes and runs a
    nested ``backward``."""

    @staticmethod
    def forward(ctx: Any, run_function: Callable, preserve_rng_state: bool, *args: Any) -> Any:
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.rng_state = _random.rng_states() if preserve_rng_state else None
        ctx.inputs, ctx.tensor_indices, tensors = [], [], []
        for i, arg in enumerate(args):
            if isinstance(arg, Tensor):
                tensors.append(arg)
                ctx.tensor_indices.append(i)
                ctx.inputs.append(None)
            else:
                ctx.inputs.append(arg)
        ctx.save_for_backward(*tensors)
        with grad_mode.no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        with _rng_as_in_forward(ctx.rng_state):
            detached = detach_variable(tuple(inputs))
            with grad_mode.enable_grad():
                outputs = ctx.run_function(*detached)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        with_grad = [(o, g) for o, g in zip(outputs, grads)
                     if isinstance(o, Tensor) and o.requires_grad]
        if not with_grad:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not "
                               "necessary")
        ember.autograd.backward([o for o, _ in with_grad], [g for _, g in with_grad])
        return (None, None) + tuple(x.grad if isinstance(x, Tensor) else None for x in detached)


def _flat_tensors(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat_tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _flat_tensors(o)]
    return []


def _rebuild(out: Any, it: Iterable[Tensor]) -> Any:
    it = iter(it)

    def go(o: Any) -> Any:
        if isinstance(o, Tensor):
            return next(it)
        if isinstance(o, (tuple, list)):
            return type(o)(go(x) for x in o)
        if isinstance(o, dict):
            return {k: go(v) for k, v in o.items()}
        return o
    return go(out)


def _boundary(outputs: list[Tensor], args: list[Tensor], start: int) -> list[Tensor] | None:
    """The tensors the graph of ``outputs`` starts from: leaves that require grad and the
    segment's non-leaf inputs; None when it also reads a non-leaf tensor from outside."""
    given = {(id(a._grad_fn), a._output_nr): a for a in args if a._grad_fn is not None}
    found: dict[int, Tensor] = {}
    seen: set[int] = set()
    stack = [o._grad_fn for o in outputs if o._grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for nxt, nr in node.next_functions:
            if nxt is None:
                continue
            if isinstance(nxt, AccumulateGrad):
                found.setdefault(id(nxt.variable), nxt.variable)
            elif (id(nxt), nr) in given:
                t = given[(id(nxt), nr)]
                found.setdefault(id(t), t)
            elif nxt._seq < start:
                return None  # a non-leaf made before the segment and not passed to it
            else:
                stack.append(nxt)
    return list(found.values())


class CheckpointNonReentrant(Function):
    """The non-reentrant checkpoint node: its inputs are the segment's tensors and leaves; its
    backward recomputes the segment and differentiates it with ``autograd.grad``."""

    @staticmethod
    def forward(ctx: Any, run: Callable, values: list[Tensor], n_args: int,
                *tensors: Tensor) -> Any:
        ctx.run, ctx.n_args = run, n_args
        ctx.meta = [(v.shape, v.dtype) for v in values]
        ctx.save_for_backward(*tensors)
        return tuple(v.detach() for v in values)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        tensors = ctx.saved_tensors
        args = detach_variable(tuple(tensors[:ctx.n_args]))
        leaves = tensors[ctx.n_args:]
        outputs = ctx.run(args)
        meta = [(o.shape, o.dtype) for o in outputs]
        if meta != ctx.meta:
            raise CheckpointError(
                "ember.utils.checkpoint: Recomputed values for the following tensors have "
                "different metadata than during the forward pass.\n"
                + "\n".join(f"tensor at position {i}:\nsaved metadata: {a}\nrecomputed "
                            f"metadata: {b}" for i, (a, b) in enumerate(zip(ctx.meta, meta))
                            if a != b))
        pairs = [(o, g) for o, g in zip(outputs, grads) if o.requires_grad and g is not None]
        wrt = [t for t in args + tuple(leaves)]
        needs = [t.requires_grad for t in wrt]
        result: list[Any] = [None] * len(wrt)
        if pairs and any(needs):
            got = ember.autograd.grad([o for o, _ in pairs], [t for t, n in zip(wrt, needs) if n],
                                      [g for _, g in pairs], allow_unused=True)
            it = iter(got)
            result = [next(it) if n else None for n in needs]
        return (None, None, None) + tuple(result)


def _checkpoint_without_reentrant(function: Callable, preserve_rng_state: bool,
                                  context_fn: Callable, determinism_check: str, args: tuple,
                                  kwargs: dict) -> Any:
    if determinism_check not in ("default", "none"):
        raise ValueError("determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    forward_context, recompute_context = context_fn()
    rng_state = _random.rng_states() if preserve_rng_state else None
    start = next(sequence)
    with forward_context:
        out = function(*args, **kwargs)
    flat = _flat_tensors(out)
    tensor_args = [a for a in args if isinstance(a, Tensor)]
    grad_outputs = [o for o in flat if o.requires_grad]
    if not grad_outputs or not grad_mode.state.enabled:
        return out
    boundary = _boundary(grad_outputs, tensor_args, start)
    if boundary is None:
        return out  # reads a non-leaf from outside: keep the graph
    arg_ids = {id(a) for a in tensor_args}
    leaves = [t for t in boundary if id(t) not in arg_ids]
    positions = [i for i, o in enumerate(flat) if o.requires_grad]

    def run(new_args: tuple) -> list[Tensor]:
        it = iter(new_args)
        call_args = [next(it) if isinstance(a, Tensor) else a for a in args]
        with _rng_as_in_forward(rng_state), recompute_context, grad_mode.enable_grad():
            again = _flat_tensors(function(*call_args, **kwargs))
        return [again[i] for i in positions]

    values = [flat[i] for i in positions]
    outs = CheckpointNonReentrant.apply(run, values, len(tensor_args), *tensor_args, *leaves)
    replaced = dict(zip(positions, outs))
    return _rebuild(out, (replaced.get(i, o) for i, o in enumerate(flat)))


def checkpoint(function: Callable, *args: Any, use_reentrant: bool | None = None,
               context_fn: Callable = noop_context_fn, determinism_check: str = "default",
               debug: bool = False, early_stop: bool = True, **kwargs: Any) -> Any:
    """Runs ``function(*args, **kwargs)`` without keeping its intermediate values for backward;
    backward recomputes them (with the random state of the forward, ``preserve_rng_state``).

    Args:
        function: the segment to run.
        args: its inputs.
        use_reentrant: the reentrant (True) or non-reentrant (False) variant; pass it (None
            warns, then uses True, as torch).
        context_fn: returns two context managers, for the forward and the recomputation
            (non-reentrant only).
        determinism_check: ``"default"`` compares the recomputed outputs' shapes and dtypes with
            the forward's; ``"none"`` does not.
        debug, early_stop: accepted as torch's (no effect).
        preserve_rng_state: (keyword) replay the forward's random numbers (default: True).
    """
    if use_reentrant is None:
        warnings.warn(
            "ember.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
            "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
            "exception. use_reentrant=False is recommended, but if you need to preserve the "
            "current default behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, *args)
    return _checkpoint_without_reentrant(function, preserve, context_fn, determinism_check, args,
                                         kwargs)


def checkpoint_sequential(functions: Any, segments: int, input: Any,
                          use_reentrant: bool | None = None, **kwargs: Any) -> Any:
    """Runs a sequence of modules (or a ``Sequential``) in ``segments`` checkpointed chunks; the
    last chunk runs normally."""
    if use_reentrant is None:
        warnings.warn(
            "ember.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
            "passed explicitly. In version 2.9 we will raise an exception if use_reentrant is "
            "not passed. use_reentrant=False is recommended, but if you need to preserve the "
            "current default behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start: int, end: int, functions: list) -> Callable:
        def forward(x: Any) -> Any:
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    if hasattr(functions, "children") and callable(functions.children):
        functions = list(functions.children())
    functions = list(functions)
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input,
                           use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
