"""In-place ops, views, and the version counters that keep them safe for autograd.

An in-place op runs as its out-of-place twin on an alias of the tensor, then writes the result into
the tensor's own memory (so views and bases see it), bumps the shared version counter (so a node
that saved the old value refuses to run) and moves the result's history onto the tensor. On a view,
the base's history becomes a ``CopySlices`` node, as in torch.
"""
from __future__ import annotations

import sys
from weakref import ref as _weakref

from typing import Any, Callable

from ..graph import grad_mode
from ._op import Op, _SavedOutput
from ._util import broadcast_shape
from ..backend import NUMPY, backend_of
from ..dtypes import scalar_name
from ..tensor import Tensor

_state = grad_mode.state
_NP = NUMPY.array_type


def type_name(t: Any) -> str:
    """torch's short scalar-type name (Float, Long, ...) used in its error messages."""
    return scalar_name(t.dtype if isinstance(t, Tensor) else t)


def make_view(out: Tensor, inp: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """Marks ``out`` as a view of ``inp``'s base; ``fn`` re-creates ``out`` from ``inp``."""
    d = out._data
    if (d.base is None if type(d) is _NP else False) \
            or not backend_of(d).may_share_memory(d, inp._data):
        # numpy had to copy (e.g. reshape of a non-contiguous array); CuPy's strided views
        # (as_strided) keep no base, so only the memory bounds tell there
        return out
    base = inp._base if inp._base is not None else inp
    out._base = base
    if not _state.enabled and base._requires_grad:
        out._view_no_grad = True  # torch refuses to modify such a view later with grad enabled
    out._version_counter = inp._version_counter
    prev = inp._view_fn
    out._view_fn = fn if prev is None else (lambda b: fn(prev(b)))
    if out._requires_grad and base._grad_fn is not None:
        # an in-place write to the base or to another of its views changes this view's history:
        # the base keeps its views (weakly) so that the write can hand each its new node
        views = base.__dict__.get("_views")
        if views is None:
            views = base._views = []
        elif len(views) >= 32 and not len(views) % 32:  # drop the dead ones now and then
            views[:] = [r for r in views if r() is not None]
        views.append(_weakref(out))
    return out


def check_inplace(t: Tensor) -> None:
    """torch's refusals of in-place ops on leaves that require grad (and views of them)."""
    if not _state.enabled:
        return
    if t.__dict__.get("_view_no_grad"):
        raise RuntimeError(
            "A view was created in no_grad mode and is being modified inplace with grad mode "
            "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You "
            "can clarify your code by moving both the view and the inplace either both inside the "
            "no_grad block (if you don't want the inplace to be tracked) or both outside (if you "
            "want the inplace to be tracked)."
        )
    if t._requires_grad and t._grad_fn is None and t._base is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    base = t._base
    if base is not None and base._requires_grad and base._grad_fn is None:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    multi = t.__dict__.get("_multi_view")  # (op name, output nr), set by split/chunk/unbind
    if multi is not None and t._requires_grad:
        raise RuntimeError(
            f"Output {multi[1]} of {multi[0]} is a view and is being modified inplace. This view "
            "is the output of a function that returns multiple views. Such functions do not "
            "allow the output views to be modified inplace. You should replace the inplace "
            "operation by an out-of-place one."
        )


def _can_cast(src, dst) -> bool:
    return src._category <= dst._category


def apply_inplace(self: Tensor, compute: Callable[[Tensor], Tensor],
                  into_input: bool = False) -> Tensor:
    """Runs ``compute`` out of place on an alias of ``self``, then makes ``self`` the result.
    ``into_input``: ``compute``'s op writes its result into the alias's memory and saved that
    output, which the op's node sees as its input (see ``WRITES_INTO_INPUT``)."""
    check_inplace(self)
    d = self._data
    if not (d.flags.writeable if type(d) is _NP else backend_of(d).writable(d)):
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
        )
    if not _state.enabled:  # nothing is recorded (optimizer steps): no alias, no history
        result = compute(self)
        _write(self, result)
        self._version_counter[0] += 1
        return self
    # the alias stands for the value *before* the op: its own version counter, so the write
    # below doesn't invalidate what the op saved of it
    alias = Tensor._make(self._data, self._requires_grad, self._grad_fn, self._output_nr)
    alias._version_counter = [self._version_counter[0]]
    if self._grad_fn is None and self._requires_grad:
        alias._grad_accumulator = self._grad_accumulator  # same leaf, same accumulator
    result = compute(alias)
    if result._requires_grad and not into_input and sys.getrefcount(alias) > 2:
        # a node kept the old value for backward (sin_, mul_ by a tensor that needs grad...):
        # give it a copy, as torch saves a clone of the original self, before overwriting
        alias._data = alias._data.copy()
    _write(self, result)
    box = self._version_counter
    box[0] += 1
    if result._requires_grad:
        _save_self_as_output(self, result, alias if into_input else None)
        base = self._base
        if base is None:
            old_fn, old_nr = self._grad_fn, self._output_nr
            self._set_history(result._grad_fn, result._output_nr)
            _move_retain(self, old_fn, old_nr)
        else:
            _rebase_view(self, base, result)  # (which moves a view's retain_grad itself)
        _refresh_views(base if base is not None else self, self)
    if len(box) == 1:
        box.append(None)
    box[1] = self._grad_fn  # named by "modified by an inplace operation" errors
    return self


def _save_self_as_output(self: Tensor, result: Tensor, alias: Tensor | None = None) -> None:
    """An op that saved its output for backward (relu, exp, sigmoid, ...) keeps ``self`` instead,
    at its new version, as torch's in-place ops save ``self``: the result's own copy is freed,
    and a later in-place write to ``self`` makes that backward fail, as it does in torch. An op
    that wrote into its input's memory (``alias``) saved its output as that input: it becomes
    the saved output it is."""
    node = result._grad_fn
    saved = node._saved
    if not saved or result._data.dtype != self._data.dtype:
        return
    if alias is not None:
        saved = node._saved = tuple(
            _SavedOutput(result, 0) if type(s) is tuple and s[0] is alias else s for s in saved)
    for s in saved:
        if type(s) is _SavedOutput and s.data is result._data:
            s.data, s.box, s.version = self._data, self._version_counter, self._version_counter[0]


def _write(self: Tensor, result: Tensor) -> None:
    """Checks that ``result`` fits ``self`` (shape, dtype) and copies it into self's memory."""
    if result._data.shape != self._data.shape:
        raise RuntimeError(
            f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
            f"{list(result._data.shape)}"
        )
    if not _can_cast(result.dtype, self.dtype):
        raise RuntimeError(
            f"result type {type_name(result)} can't be cast to the desired output type "
            f"{type_name(self)}"
        )
    if result._data is not self._data:
        self._data[...] = result._data


class CopySlices(Op, name="CopySlices"):
    """The base of a view after an in-place op on the view: base outside it, the result inside."""

    @staticmethod
    def forward(ctx, base, value, *, view_fn):
        ctx.view_fn = view_fn
        ctx.layout = base  # only its memory layout is used, to build the mask in backward
        return base  # the data was already written through the view

    @staticmethod
    def backward(ctx, g):
        need_base, need_value = ctx.needs_input_grad
        gb = gv = None
        if need_base:
            # the mask must have the base's strides: replaying the views (a reshape, say) on
            # another layout could copy, and the zeros would land in the copy
            mask = Tensor._make(ctx.xp.ones_like(ctx.layout, dtype=g._data.dtype))
            ctx.view_fn(mask)._data[...] = 0  # numpy view into mask: zero the overwritten region
            gb = g * mask
        if need_value:
            gv = ctx.view_fn(g)
        return gb, gv


def _rebase_view(view: Tensor, base: Tensor, result: Tensor) -> None:
    old = Tensor._make(base._data, base._requires_grad, base._grad_fn, base._output_nr)
    if base._grad_fn is None and base._requires_grad:
        old._grad_accumulator = base._grad_accumulator
    new = CopySlices.apply(old, result, view_fn=view._view_fn)
    base._set_history(new._grad_fn, 0)
    _regenerate(view, base)


def _regenerate(view: Tensor, base: Tensor) -> None:
    """Gives ``view`` a node reading it out of ``base``'s current history: torch's
    AsStridedBackward0, the grad_fn of every view whose base was written in place."""
    old_fn, old_nr = view._grad_fn, view._output_nr
    view._set_history(AsStrided.apply(base, view_fn=view._view_fn)._grad_fn, 0)
    _move_retain(view, old_fn, old_nr)


def _move_retain(t: Tensor, old_fn: Any, old_nr: int) -> None:
    """``retain_grad`` follows the tensor to its new node, as in torch: ``.grad`` is then the
    gradient of its current value, not of the value before the write."""
    if not t._retains_grad or old_fn is t._grad_fn:
        return
    if old_fn is not None and old_fn._retain:
        old_fn._retain.pop(old_nr, None)
    t._retains_grad = False
    t.retain_grad()


def _refresh_views(base: Tensor, written: Tensor) -> None:
    """After an in-place write through ``written``, every other live view of ``base`` that
    needs a gradient reads the base's new history (its old node would skip the write)."""
    views = base.__dict__.get("_views")
    if not views:
        return
    alive = []
    for r in views:
        v = r()
        if v is None:
            continue
        alive.append(r)
        if v is not written and v._requires_grad:
            _regenerate(v, base)
    base._views = alive


class AsStrided(Op, name="AsStridedBackward0"):
    """``base`` seen as one of its views (re-made by the view's own function): its gradient is
    the view's gradient scattered into zeros of the base's shape."""

    on_arrays = True

    @staticmethod
    def forward(ctx, base, *, view_fn):
        ctx.view_fn, ctx.base_shape = view_fn, base.shape
        return _view_of(view_fn, base)

    @staticmethod
    def backward(ctx, g):
        return ctx.F.op(AsStridedScatter, g, view_fn=ctx.view_fn, shape=ctx.base_shape)


class AsStridedScatter(Op, name="AsStridedScatterBackward0"):
    """The adjoint of ``AsStrided``: ``g`` written into a view of zeros of the base's shape."""

    @staticmethod
    def forward(ctx, g, *, view_fn, shape):
        ctx.view_fn = view_fn
        return _scatter_into_zeros(ctx.backend, view_fn, shape, g)

    @staticmethod
    def backward(ctx, gg):
        return ctx.view_fn(gg)


def _view_of(view_fn: Callable, array: Any) -> Any:
    with grad_mode.no_grad():
        return view_fn(Tensor._make(array))._data


def _scatter_into_zeros(backend: Any, view_fn: Callable, shape: tuple, g: Any) -> Any:
    xp = backend.xp
    out = xp.zeros(shape, dtype=g.dtype)
    region = _view_of(view_fn, out)  # a view into ``out``
    if backend.writable(region):
        region[...] = g
        return out
    # a view that reads elements more than once (expand): each element of the view adds its
    # gradient to the base element it reads, found by viewing the base's flat indices
    index = _view_of(view_fn, xp.arange(out.size).reshape(shape))
    backend.scatter_add(out.reshape(-1), (index.reshape(-1),), xp.broadcast_to(g, index.shape)
                        .reshape(-1))
    return out


class Copy(Op, name="CopyBackwards"):
    @staticmethod
    def forward(ctx, dst, src):
        return ctx.xp.broadcast_to(src, dst.shape).astype(dst.dtype)

    @classmethod
    def _forward_failed(cls, args: tuple, kwargs: dict) -> None:
        dst, src = (tuple(getattr(a, "shape", ())) for a in args[:2])
        shape = broadcast_shape(dst, src)  # torch's infer_size message on a mismatch
        if shape != dst:
            raise RuntimeError(f"output with shape {list(dst)} doesn't match the broadcast shape "
                               f"{list(shape)}")

    @staticmethod
    def backward(ctx, g):
        need_dst, need_src = ctx.needs_input_grad
        return (g * 0 if need_dst else None), (g if need_src else None)


class Fill(Op, name="FillBackward2"):
    @staticmethod
    def forward(ctx, a, *, value):
        return ctx.xp.full_like(a, value)

    @staticmethod
    def backward(ctx, g):
        return g * 0


class FillTensor(Op, name="FillBackward3"):
    """``fill_`` with a 0-d tensor value: the value's gradient is the sum over the filled tensor."""

    @staticmethod
    def forward(ctx, a, value):
        return ctx.xp.full_like(a, value)

    @staticmethod
    def backward(ctx, g):
        need_a, need_value = ctx.needs_input_grad
        return (g * 0 if need_a else None), (g.sum() if need_value else None)


class Zero(Fill, name="ZeroBackward0"):
    pass


def copy_(self: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copies ``src`` (broadcast, cast to this dtype) into this tensor."""
    from ._util import as_tensor_arg

    src = as_tensor_arg(src)
    if type(src._data) is not type(self._data) and src._data.ndim:
        src = src.to(self.device)  # across devices (a CPU state_dict into a CUDA model)
    elif type(self._data) is not _NP and type(src._data) is not _NP \
            and src.device != self.device:
        src = src.to(self.device)
    return apply_inplace(self, lambda s: Copy.apply(s, src))


def fill_(self: Tensor, value: Any) -> Tensor:
    """Fills this tensor with ``value``."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.ndim} dimensions."
            )
        return apply_inplace(self, lambda s: FillTensor.apply(s, value))
    return apply_inplace(self, lambda s: Fill.apply(s, value=value))


def zero_(self: Tensor) -> Tensor:
    """Fills this tensor with zeros."""
    return apply_inplace(self, lambda s: Zero.apply(s, value=0))


# With nothing to record (no grad mode, or a tensor that needs no gradient: a frozen backbone's
# ReLU(inplace=True)), these float unary ops run their op's forward straight into the array: one
# pass, where the generic path makes the result in a new array and copies it back. Filled in by
# the op modules: name -> the Op, whose forward takes ``into_input``.
UNARY_INTO_INPUT: dict[str, Any] = {}

# With no graph to record (optimizer steps), x.add_(y) of a same-shape float tensor of one dtype,
# or of a Python scalar, runs the op's forward into x's array: the values the out-of-place op
# would write, without a node, a temporary tensor and the copy back. name -> the Op.
BINARY_INTO_INPUT: dict[str, Any] = {}


# Recorded in-place ops whose op may write its result straight into its input's memory (the
# alias of ``self``): its backward needs only the output, so the old values are dead once read,
# and the copy back and a self-sized temporary are saved. Filled in by the op modules.
WRITES_INTO_INPUT: dict[str, Callable[[Tensor], Tensor]] = {}


_UNSET = object()


def _inplace_method(name: str) -> Callable:
    unary = binary = _UNSET  # looked up at the first call: the op modules fill the tables
    # after this module made the methods

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        nonlocal unary, binary
        if unary is _UNSET:
            unary, binary = UNARY_INTO_INPUT.get(name), BINARY_INTO_INPUT.get(name)
        if unary is not None and not args and not kwargs and (
                not _state.enabled or not self._requires_grad):
            d = self._data
            if d.dtype.kind == "f" and (d.flags.writeable if type(d) is _NP
                                        else backend_of(d).writable(d)):
                (NUMPY if type(d) is _NP else backend_of(d)).op(unary, d, into_input=True)
                box = self._version_counter
                box[0] += 1
                if _state.enabled:  # as apply_inplace records it for version-check messages
                    if len(box) == 1:
                        box.append(None)
                    box[1] = self._grad_fn
                return self
        if binary is not None and not _state.enabled and len(args) == 1:
            other, d = args[0], self._data
            if isinstance(other, Tensor):
                o = other._data
                same = o.dtype is d.dtype and o.shape == d.shape
            else:
                o = other
                same = type(o) is float or type(o) is int  # weak: d's dtype stays
            if same and (not kwargs or (len(kwargs) == 1 and "alpha" in kwargs  # a plain number:
                                        and type(kwargs["alpha"]) in (int, float))) \
                    and d.dtype.kind == "f" and (d.flags.writeable if type(d) is _NP
                                                 else backend_of(d).writable(d)):
                if kwargs:
                    backend_of(d).op(binary, d, o, into_input=True, **kwargs)
                elif type(d) is _NP and binary.kernel is not None:
                    binary._numpy_kernel(d, o, out=d)  # its forward, into ``d``: nothing to save
                else:
                    backend_of(d).op(binary, d, o, into_input=True)
                self._version_counter[0] += 1
                return self
        into = WRITES_INTO_INPUT.get(name)
        if into is not None and not args and not kwargs:
            return apply_inplace(self, into, into_input=True)
        out_of_place = getattr(Tensor, name)
        return apply_inplace(self, lambda s: out_of_place(s, *args, **kwargs))

    method.__name__ = name + "_"
    method.__doc__ = f"In-place version of :meth:`Tensor.{name}`."
    return method


# in-place twins made from out-of-place methods, looked up at call time so every op module's
# methods qualify once bound (the comparisons eq_ ... ge_ and the inverse hyperbolics asinh_ ...
# record their own nodes: compare_inplace.py, unary_inplace.py)
INPLACE_FROM = (
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow", "neg",
    "abs", "sign", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu",
    "clamp", "clip", "clamp_min", "clamp_max", "floor", "ceil", "round", "trunc", "reciprocal",
    "lerp", "erf", "log1p", "expm1", "log2", "remainder", "fmod", "floor_divide",
    "masked_fill", "index_fill", "scatter", "scatter_add", "index_add", "index_copy",
    "tril", "triu", "square", "maximum", "minimum", "logical_not", "log10", "exp2", "frac",
    "nan_to_num", "cumsum", "cumprod", "addmm", "baddbmm", "addmv",
    "asin", "acos", "atan", "sinh", "cosh", "arcsin", "arccos",
    "arctan", "erfc", "sgn", "hypot", "atan2", "arctan2",
    "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "fix", "negative", "absolute",
)

TENSOR_METHODS: dict[str, Callable] = {n + "_": _inplace_method(n) for n in INPLACE_FROM}
TENSOR_METHODS.update({
    "copy_": copy_, "fill_": fill_, "zero_": zero_,
    "__iadd__": TENSOR_METHODS["add_"], "__isub__": TENSOR_METHODS["sub_"],
    "__imul__": TENSOR_METHODS["mul_"], "__itruediv__": TENSOR_METHODS["div_"],
    "__ifloordiv__": TENSOR_METHODS["floor_divide_"], "__imod__": TENSOR_METHODS["remainder_"],
    "__ipow__": TENSOR_METHODS["pow_"], "__iand__": TENSOR_METHODS["bitwise_and_"],
    "__ior__": TENSOR_METHODS["bitwise_or_"], "__ixor__": TENSOR_METHODS["bitwise_xor_"],
})
__all__: list[str] = []
