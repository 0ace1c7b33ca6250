"""``backward`` and ``grad``: the public entry points of the reverse pass (torch.autograd's)."""
from __future__ import annotations

from typing import Any

from ..backend import backend_of
from ..tensor import Size, Tensor
from .engine import run_backward


def _as_tuple(x: Any) -> tuple:
    if x is None:
        return ()
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _make_grads(outputs: tuple, grads: tuple, is_grads_batched: bool = False) -> list:
    if len(grads) != len(outputs):
        raise RuntimeError(
            f"grad requires one gradient per output: got {len(grads)} gradients and "
            f"{len(outputs)} outputs"
        )
    out = []
    for i, (t, g) in enumerate(zip(outputs, grads)):
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not t.is_floating_point():  # (bfloat16 included: its numpy kind is "V")
                raise RuntimeError(
                    "grad can be implicitly created only for real scalar outputs but got "
                    f"{t.dtype}".replace("ember.", "torch.")
                )
            g = Tensor._make(backend_of(t._data).xp.ones_like(t._data))
        elif not isinstance(g, Tensor):
            from ..creation import tensor

            g = tensor(g, dtype=t.dtype)
        elif g._data.shape != t._data.shape:
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {Size(g._data.shape)} and "
                f"output[{i}] has a shape of {Size(t._data.shape)}."
            )
        out.append(g)
    return out


def _check_roots(outputs: tuple) -> None:
    for i, t in enumerate(outputs):
        if not t._requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    grad_variables: Any = None,
    inputs: Any = None,
) -> None:
    """Accumulates into the leaves' ``.grad`` the gradient of ``tensors`` w.r.t. them."""
    if grad_tensors is None and grad_variables is not None:
        grad_tensors = grad_variables
    if isinstance(tensors, Tensor) and (grad_tensors is None or isinstance(grad_tensors, Tensor)):
        outputs, grads = (tensors,), (grad_tensors,)  # loss.backward(): one root
    else:
        outputs = _as_tuple(tensors)
        grads = (None,) * len(outputs) if grad_tensors is None else _as_tuple(grad_tensors)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    _check_roots(outputs)
    grads = _make_grads(outputs, grads)
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """Returns the gradients of ``outputs`` w.r.t. ``inputs`` without touching any ``.grad``."""
    outs = _as_tuple(outputs)
    ins = _as_tuple(inputs)
    grads = (None,) * len(outs) if grad_outputs is None else _as_tuple(grad_outputs)
    _check_roots(outs)
    grads = _make_grads(outs, grads)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    for t in ins:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    result = run_backward(outs, grads, retain_graph, create_graph, inputs=ins, accumulate=False,
                          allow_unused=allow_unused)
    if materialize_grads:
        result = [Tensor._make(backend_of(t._data).xp.zeros_like(t._data)) if g is None else g
                  for g, t in zip(result, ins)]
    return tuple(result)
