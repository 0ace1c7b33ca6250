"""``gradcheck`` / ``gradgradcheck``: analytic Jacobians against central finite differences."""
from __future__ import annotations

from typing import Any, Callable

from ..backend import NUMPY, backend_of
from ..tensor import Tensor

_xp = NUMPY.xp  # the Jacobians are assembled on the host, whatever device the function runs on


def _host(a: Any) -> Any:
    """``a`` as a host array (a device array is copied)."""
    return a if type(a) is _xp.ndarray else backend_of(a).to_host(a)


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when analytic and numerical gradients disagree."""


def _tensors(x: Any) -> tuple:
    if isinstance(x, Tensor):
        return (x,)
    return tuple(t for t in x if isinstance(t, Tensor))


def _outputs(func: Callable, inputs: tuple) -> tuple:
    out = func(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(o for o in out if isinstance(o, Tensor))


def _numerical_jacobian(func: Callable, inputs: tuple, wrt: list, eps: float) -> list:
    """J[i][j]: d out_j / d in_i as a (numel_in, numel_out) array, by central differences."""
    from ..graph.grad_mode import no_grad

    jac = []
    with no_grad():
        outs = _outputs(func, inputs)
        for t in wrt:
            flat = t._data.reshape(-1)  # a view: perturbing it perturbs the input
            blocks = [_xp.zeros((flat.size, o._data.size)) for o in outs]
            for k in range(flat.size):
                orig = flat[k].copy()  # on CuPy, an element is a 0-d view: keep its value
                flat[k] = orig + eps
                plus = [_host(o._data).astype(_xp.float64).reshape(-1)
                        for o in _outputs(func, inputs)]
                flat[k] = orig - eps
                minus = [_host(o._data).astype(_xp.float64).reshape(-1)
                         for o in _outputs(func, inputs)]
                flat[k] = orig
                for b, p, m in zip(blocks, plus, minus):
                    b[k] = (p - m) / (2 * eps)
            jac.append(blocks)
    return jac


def _analytical_jacobian(func: Callable, inputs: tuple, wrt: list) -> list:
    from .api import grad
    outs = _outputs(func, inputs)
    jac = [[_xp.zeros((t._data.size, o._data.size)) for o in outs] for t in wrt]
    for j, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for k in range(o._data.size):
            seed = backend_of(o._data).xp.zeros(o._data.size, dtype=o._data.dtype)
            seed[k] = 1
            gs = grad(o, wrt, Tensor._make(seed.reshape(o._data.shape)), retain_graph=True,
                      allow_unused=True)
            for i, g in enumerate(gs):
                if g is not None:
                    jac[i][j][:, k] = _host(g._data).reshape(-1)
    return jac


def gradcheck(func: Callable, inputs: Any, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, **_: Any) -> bool:
    """Checks the gradients of ``func`` at ``inputs`` against finite differences (use float64)."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    wrt = [t for t in _tensors(inputs) if t.requires_grad]
    num = _numerical_jacobian(func, inputs, wrt, eps)
    ana = _analytical_jacobian(func, inputs, wrt)
    for i, (n_blocks, a_blocks) in enumerate(zip(num, ana)):
        for j, (n, a) in enumerate(zip(n_blocks, a_blocks)):
            if not _xp.allclose(a, n, rtol=rtol, atol=atol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {j} with respect to input {i},\n"
                        f"numerical:{n}\nanalytical:{a}\n"
                    )
                return False
    return True


def gradgradcheck(func: Callable, inputs: Any, grad_outputs: Any = None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  **_: Any) -> bool:
    """Checks second-order gradients of ``func`` (the gradients of its vector-Jacobian product)."""
    from .api import grad
    from .grad_mode import enable_grad
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = _xp.random.default_rng(0)
        grad_outputs = tuple(
            Tensor._make(rng.standard_normal(o._data.shape).astype(o._data.dtype)).to(o.device)
            .requires_grad_() for o in outs
        )
    grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else tuple(grad_outputs)
    n_in = len(inputs)

    def vjp(*args: Any) -> tuple:
        # the numerical pass runs under no_grad; the vjp needs a graph to differentiate at all
        with enable_grad():
            return _vjp(*args)

    def _vjp(*args: Any) -> tuple:
        ins, gos = args[:n_in], args[n_in:]
        w = [t for t in _tensors(ins) if t.requires_grad]
        o = [x for x in _outputs(func, ins) if x.requires_grad]
        gs = grad(o, w, gos[: len(o)], create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(vjp, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)

from .._device_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(__name__)
