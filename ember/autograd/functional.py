"""Higher-level autograd: jacobian, hessian, vjp, jvp, hvp and vhp (``torch.autograd.functional``).

All of them are built on reverse mode. Forward-mode products (jvp, hvp) use the double-backward
trick: for ``u`` a dummy that requires grad, ``g(u) = vjp(f, x, u)`` is linear in ``u`` and its
own vjp with ``v`` is ``J @ v``. That needs every op's backward to be differentiable, which
ember's are.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, Callable

from ..backend import get_array_module
from .grad_mode import enable_grad


def _as_tuple(x: Any, what: str, fn_name: str) -> tuple[bool, tuple]:
    from ..tensor import Tensor

    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            which = f"value at index {i}" if is_tuple else f"given {what}"
            raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple of "
                            f"Tensors but the {which} has type {type(el)}.")
    return is_tuple, items


def _unpack(res: tuple, is_tuple: bool) -> Any:
    return res if is_tuple else res[0]


def _unpack2(res: tuple, outer: bool, inner: bool) -> Any:
    if not inner:
        res = tuple(r[0] for r in res)
    return res if outer else res[0]


def _prepare(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Fresh inputs to differentiate with respect to: detached, unless ``create_graph`` must keep
    their link to an enclosing graph (then an alias with its own node)."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.reshape(t.shape))
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _finish(res: Any, create_graph: bool) -> Any:
    """Detaches results (nested tuples too) unless the caller wants to differentiate them."""
    if create_graph:
        return res
    if isinstance(res, tuple):
        return tuple(_finish(r, create_graph) for r in res)
    return None if res is None else res.detach()


def _zeros_like(t: Any, requires_grad: bool = False) -> Any:
    from ..tensor import Tensor

    z = Tensor._make(get_array_module(t._data).zeros_like(t._data))
    return z.requires_grad_() if requires_grad else z


def _one_hot(t: Any, j: int) -> Any:
    """A gradient seed selecting element ``j`` of ``t`` (flattened order)."""
    from ..tensor import Tensor

    seed = get_array_module(t._data).zeros(t._data.size, t._data.dtype)
    seed[j] = 1
    return Tensor._make(seed.reshape(t._data.shape))


def _check_requires_grad(items: tuple, kind: str, strict: bool) -> None:
    if not strict:
        return
    for i, t in enumerate(items):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input "
                               f"{i}. This is not allowed in strict mode.")
        if t.requires_grad:
            continue
        if kind == "hessian":
            raise RuntimeError(
                f"The hessian of the user-provided function with respect to input {i} is "
                "independent of the input. This is not allowed in strict mode. You should ensure "
                "that your function is thrice differentiable and that the hessian depends on the "
                "inputs.")
        if kind == "jacobian":
            raise RuntimeError(
                "While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).")
        if kind == "grad_inputs":
            raise RuntimeError(f"The gradient with respect to input {i} is independent of the "
                               "inputs of the user-provided function. This is not allowed in "
                               "strict mode.")
        raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. "
                           "The outputs must be computed in a differentiable manner from the "
                           "input when running in strict mode.")


def _validate_v(v: tuple, other: tuple, other_is_tuple: bool) -> None:
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                               f"{len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el, ref) in enumerate(zip(v, other)):
        if el.shape != ref.shape:
            where = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(f"{where}v has invalid size: should be {ref.shape} but got "
                               f"{el.shape}.")


def _autograd_grad(outputs: tuple, inputs: tuple, grad_outputs: tuple | None = None,
                   create_graph: bool = False, retain_graph: bool | None = None) -> tuple:
    """``autograd.grad`` over the outputs that require grad; None for unreachable inputs."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    from .api import grad

    return grad([o for o, _ in pairs], inputs, [g for _, g in pairs], allow_unused=True,
                 create_graph=create_graph, retain_graph=retain_graph)


_STRICT_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {}. This is not "
            "allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {}. This "
                   "is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {} in "
                         "the grad_jacobian. This is not allowed in strict mode as it prevents "
                         "from using the double backward trick to replace forward mode AD.",
}


def _fill_in_zeros(grads: tuple, refs: tuple, strict: bool, stage: str) -> tuple:
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_STRICT_MESSAGES[stage].format(i))
            g = _zeros_like(ref)
        out.append(g)
    return tuple(out)


def _need_v(v: Any, refs: tuple, refs_is_tuple: bool, create_graph: bool, fn_name: str,
            what: str) -> tuple | None:
    if v is None:
        if len(refs) != 1 or refs[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if the {what} is a single Tensor "
                               "with a single element.")
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _prepare(v, create_graph, need_graph=False)
    _validate_v(v, refs, refs_is_tuple)
    return v


def vjp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """Returns ``func(inputs)`` and the vector-Jacobian product ``v^T J`` at ``inputs``."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "vjp")
        _check_requires_grad(outputs, "outputs", strict)
        if v is None:
            if len(outputs) != 1 or outputs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function "
                                   "returns a single Tensor with a single element.")
        else:
            _, v = _as_tuple(v, "v", "vjp")
            v = _prepare(v, create_graph, need_graph=False)
            _validate_v(v, outputs, out_tuple)
        res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, "back")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(res, create_graph), in_tuple))


def jvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """Returns ``func(inputs)`` and the Jacobian-vector product ``J v`` at ``inputs``."""
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _need_v(v, inputs, in_tuple, create_graph, "jvp",
                    "input to the user-provided function")
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jvp")
        _check_requires_grad(outputs, "outputs", strict)
        dummies = tuple(_zeros_like(o, requires_grad=True) for o in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, dummies, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with enable_grad() if create_graph else nullcontext():
        res = _autograd_grad(grad_inputs, dummies, v, create_graph=create_graph)
        res = _fill_in_zeros(res, outputs, strict, "back_trick")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(res, create_graph), out_tuple))


def _stack_rows(rows: list, shape: tuple, like: Any, create_graph: bool) -> Any:
    """Stacks per-output-element gradients into a ``out.shape + in.shape`` Jacobian block."""
    from ..tensor import Tensor

    if create_graph and rows:
        from ..ops.arrange import stack

        return stack(rows, 0).reshape(shape)
    xp = get_array_module(like._data)
    if not rows:  # an output without elements
        return Tensor._make(xp.zeros(shape, like._data.dtype))
    return Tensor._make(xp.stack([r._data for r in rows]).reshape(shape))


def jacobian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian of ``func`` at ``inputs``: a block ``out.shape + in.shape`` per (output,
    input) pair, nested in tuples as ``func``'s outputs and ``inputs`` are."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "ember.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError(
                "ember.autograd.functional.jacobian: `strict=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`strict=False` or `strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError(
                "Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
                "only implemented for `vectorize=True`.")
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        if strategy == "forward-mode":
            # ember has no forward-mode AD: build the same Jacobian row by row, keeping (as
            # torch's dual numbers do) the graph back to inputs that require grad
            create_graph = any(t.requires_grad for t in inputs)
        inputs = _prepare(inputs, create_graph, need_graph=True)
        out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                       "jacobian")
        _check_requires_grad(outputs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError(
                "ember.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                "supported together. Please either set `strict=False` or `vectorize=False`.")
        blocks = []
        for i, out in enumerate(outputs):
            rows: list[list] = [[] for _ in inputs]
            for j in range(out.numel()):
                grads = _autograd_grad((out,), inputs, (_one_hot(out, j),), retain_graph=True,
                                       create_graph=create_graph)
                for k, (g, inp) in enumerate(zip(grads, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {k}. This is not allowed "
                                               "in strict mode.")
                        g = _zeros_like(inp)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(f"The jacobian of the user-provided function is "
                                           f"independent of input {k}. This is not allowed in "
                                           "strict mode when create_graph=True.")
                    rows[k].append(g)
            blocks.append(tuple(_stack_rows(r, tuple(out.shape) + tuple(inp.shape), inp,
                                            create_graph) for r, inp in zip(rows, inputs)))
        blocks = _finish(tuple(blocks), create_graph)
        if strategy == "forward-mode" and in_tuple:  # torch's forward mode returns lists here
            blocks = [list(b) for b in blocks]
            return blocks if out_tuple else blocks[0]
        return _unpack2(blocks, out_tuple, in_tuple)


def hessian(func: Callable, inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar ``func`` at ``inputs`` (blocks ``in_i.shape + in_j.shape``)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_func(*inp: Any) -> Any:
        return _scalar_output(func, inp, strict, "hessian")[0].reshape(())

    def jac_func(*inp: Any) -> Any:
        jac = jacobian(scalar_func, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    if outer_jacobian_strategy == "forward-mode":  # torch marks the inputs as requiring grad
        inputs = tuple(t if t.requires_grad else t.detach().requires_grad_() for t in inputs)
    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _unpack2(res, in_tuple, in_tuple)


def _scalar_output(func: Callable, inputs: tuple, strict: bool, fn_name: str) -> tuple:
    out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                   fn_name)
    _check_requires_grad(outputs, "outputs", strict)
    if out_tuple:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should "
                           "contain a single element")
    return outputs


def _first_derivative(func: Callable, inputs: Any, v: Any, create_graph: bool, strict: bool,
                      fn_name: str) -> tuple:
    """The common start of vhp and hvp (under ``enable_grad``): the checked inputs and ``v``,
    the scalar output and its gradient, kept differentiable for the second derivative."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _prepare(inputs, create_graph, need_graph=True)
    v = _need_v(v, inputs, in_tuple, create_graph, fn_name, "input to the user-provided function")
    outputs = _scalar_output(func, inputs, strict, fn_name)
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict)
    return in_tuple, inputs, v, outputs, jac


def vhp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """Returns ``func(inputs)`` and the vector-Hessian product ``v^T H`` of a scalar ``func``."""
    with enable_grad():
        in_tuple, inputs, v, outputs, jac = _first_derivative(func, inputs, v, create_graph,
                                                              strict, "vhp")
    with enable_grad() if create_graph else nullcontext():
        res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, "double_back")
    return _finish(outputs[0], create_graph), _unpack(_finish(res, create_graph), in_tuple)


def hvp(func: Callable, inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple:
    """Returns ``func(inputs)`` and the Hessian-vector product ``H v`` of a scalar ``func``."""
    with enable_grad():
        in_tuple, inputs, v, outputs, jac = _first_derivative(func, inputs, v, create_graph,
                                                              strict, "hvp")
        dummies = tuple(_zeros_like(t, requires_grad=True) for t in inputs)
        double_back = _autograd_grad(jac, inputs, dummies, create_graph=True)
        _check_requires_grad(jac, "hessian", strict)
    with enable_grad() if create_graph else nullcontext():
        res = _autograd_grad(double_back, dummies, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, "double_back_trick")
    return _finish(outputs[0], create_graph), _unpack(_finish(res, create_graph), in_tuple)


__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]

from .._device_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(__name__)
