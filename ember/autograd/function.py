"""The public custom-``Function`` API (``torch.autograd.Function``): a user's forward on
Tensors, its backward on Tensors; the node it records is a ``FunctionCtx``."""
from __future__ import annotations

import functools
import traceback
from typing import Any

from ..graph import grad_mode
from ..graph.node import anomaly, edge, sequence
from ..ops._op import Context, pack
from ..tensor import Tensor

_grad_state = grad_mode.state


class FunctionCtx(Context):
    """``ctx`` of a custom ``Function``; also its backward node (``<Name>Backward``)."""

    _forward_cls: type

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self._non_diff = tensors

    def mark_dirty(self, *tensors: Any) -> None:
        self._dirty = tensors

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize_grads = value

    def apply(self, *grads: Any) -> Any:
        return self._forward_cls.backward(self, *grads)

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:  # the engine calls backward(node, *grads)
        return ctx._forward_cls.backward(ctx, *grads)


class FunctionMeta(type):
    def __init__(cls, name: str, bases: tuple, attrs: dict) -> None:
        super().__init__(name, bases, attrs)
        backward_name = name + "Backward"
        cls._backward_cls = type(backward_name, (FunctionCtx,), {"_forward_cls": cls,
                                                               "__module__": cls.__module__})


class Function(metaclass=FunctionMeta):
    """Base class for custom differentiable operations (``torch.autograd.Function``).

    Subclasses define ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` as staticmethods
    and are called through ``apply``; ``forward`` may instead take only the inputs if the class
    defines ``setup_context(ctx, inputs, output)``.
    """

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = cls._backward_cls()
        with grad_mode.no_grad():
            if cls.setup_context is not Function.setup_context:
                raw = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, raw)
            else:
                raw = cls.forward(ctx, *args, **kwargs)
        is_tuple = isinstance(raw, tuple)
        outputs = raw if is_tuple else (raw,)
        record = _grad_state.enabled and any(
            isinstance(a, Tensor) and a._requires_grad for a in args
        )
        non_diff = ctx.__dict__.get("_non_diff", ())
        dirty = ctx.__dict__.get("_dirty", ())
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        if record:
            # the inputs' edges before any output takes this node as its history: an input
            # marked dirty is also an output, and its edge must reach the node it came from
            edges = tuple(edge(a) if isinstance(a, Tensor) else (None, 0) for a in args)
        new_outputs = []
        for i, o in enumerate(outputs):
            if not isinstance(o, Tensor):
                new_outputs.append(o)
                continue
            if any(o is d for d in dirty):
                t = o  # modified in place: the input tensor itself becomes the output
                t._version_counter[0] += 1
            elif any(o is a for a in args):
                t = Tensor._make(o._data)  # an input returned as-is becomes a new (aliasing) tensor
                t._version_counter = o._version_counter
            else:
                t = o
            if record and not any(o is n for n in non_diff):
                if t.grad_fn is None and t.requires_grad and any(o is d for d in dirty):
                    raise RuntimeError(
                        "a leaf Variable that requires grad is being used in an in-place operation."
                    )
                t._set_history(ctx, i)
            new_outputs.append(t)
        if record:
            ctx.next_functions = edges
            ctx._in_meta = tuple((a._data.shape, a._data.dtype) if need else None
                                 for a, need in zip(args, ctx.needs_input_grad))
            ctx._n_out = len(outputs)
            ctx._out_meta = tuple(
                (o._data.shape, o.dtype) if isinstance(o, Tensor) else None for o in outputs
            )
            ctx._seq = next(sequence)
            ctx._user = True
            to_save = ctx.__dict__.pop("_to_save", None)
            if to_save:
                ctx._saved = pack(to_save, args, [], tuple(new_outputs))
            if anomaly.enabled:
                ctx._trace = traceback.format_stack()[:-1]
        else:
            to_save = ctx.__dict__.pop("_to_save", None)
            if to_save:
                ctx._saved = tuple((t, None) for t in to_save)
        return tuple(new_outputs) if is_tuple else new_outputs[0]


class once_differentiable:  # noqa: N801 - torch's name
    """Decorator for ``backward`` that runs it without recording a graph."""

    def __new__(cls, fn):
        @functools.wraps(fn)
        def wrapper(ctx, *args):
            with grad_mode.no_grad():
                return fn(ctx, *args)

        return wrapper
