"""Function transforms with torch.func's API: ``grad``, ``grad_and_value``, ``vjp``, ``jvp``,
``jacrev``, ``jacfwd``, ``hessian``, ``vmap`` and ``functional_call``.

They are built on ember's reverse mode, always recording the graph of the derivatives they
compute (``create_graph``), so they compose: ``grad(grad(f))``, ``jacrev(jacrev(f))``,
``vmap(grad(f))``. Forward-mode products (``jvp``) use the double-backward trick (the vjp of a
vjp is linear in its cotangent); ``jacfwd`` gives the same Jacobian as ``jacrev``, computed in
reverse mode.

``vmap`` runs ``func`` once per index of the mapped dimension and stacks the results: no op has
a batched rule yet (every op takes this loop). ``randomness="error"`` is enforced by watching the
generator's state; ``"same"`` replays one state for every index; ``"different"`` draws anew.

Results stay connected to an enclosing graph when an input requires grad or when the transform
runs inside another; at top level with inputs that don't require grad they are detached (a tensor
captured by ``func`` that requires grad is not tracked then, unlike torch).
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import ember
from ..autograd import grad as _autograd_grad
from ..graph import grad_mode
from ..tensor import Tensor
from .functional_call import (functional_call, replace_all_batch_norm_modules_,
                              stack_module_state)

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state", "linearize", "functionalize",
           "replace_all_batch_norm_modules_"]

_depth = 0  # how many transforms enclose the current call


@contextmanager
def _level() -> Iterator[None]:
    global _depth
    _depth += 1
    try:
        with grad_mode.enable_grad():
            yield
    finally:
        _depth -= 1


# -- pytrees (tuples, lists, dicts of tensors) -----------------------------------------------------


def _leaves(tree: Any) -> list[Any]:
    if isinstance(tree, (tuple, list)):
        return [x for t in tree for x in _leaves(t)]
    if isinstance(tree, dict):
        return [x for t in tree.values() for x in _leaves(t)]
    return [tree]


def _unflatten(tree: Any, leaves: Iterator[Any]) -> Any:
    if isinstance(tree, (tuple, list)):
        return type(tree)(_unflatten(t, leaves) for t in tree)
    if isinstance(tree, dict):
        return {k: _unflatten(v, leaves) for k, v in tree.items()}
    return next(leaves)


def _map(fn: Callable, tree: Any) -> Any:
    return _unflatten(tree, iter([fn(x) for x in _leaves(tree)]))


def _structure(tree: Any) -> Any:
    return _map(lambda _: "*", tree)


# -- differentiable inputs -------------------------------------------------------------------------


def _alias(t: Any) -> Any:
    """A tensor to differentiate with respect to: a fresh leaf, or (when ``t`` is part of an
    enclosing graph) an alias with its own node, so the enclosing graph still sees through."""
    if not isinstance(t, Tensor):
        return t
    if t.requires_grad:
        return t.view_as(t)
    return t.detach().requires_grad_(True)


def _alias_args(args: tuple, nums: tuple[int, ...]) -> list[Any]:
    """``args`` with the trees at positions ``nums`` aliased (:func:`_alias`)."""
    args = list(args)
    for i in nums:
        args[i] = _map(_alias, args[i])
    return args


def _split_aux(output: Any, has_aux: bool, where: str) -> tuple[Any, Any]:
    """``func``'s ``(output, aux)`` with ``has_aux``, else ``(output, None)``."""
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(f"{where}: output of function f should be a tuple: (output, aux) if "
                           "has_aux is True")
    return output[0], output[1]


def _keep_graph(*trees: Any) -> bool:
    return _depth > 0 or any(isinstance(t, Tensor) and t.requires_grad
                             for tree in trees for t in _leaves(tree))


def _finish(tree: Any, keep: bool) -> Any:
    if keep:
        return tree
    return _map(lambda t: t.detach() if isinstance(t, Tensor) else t, tree)


def _argnums(argnums: Any, n: int, where: str = "") -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else argnums
    if not isinstance(nums, tuple) or not all(isinstance(a, int) for a in nums) or not nums:
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    out = []
    for a in nums:
        if not -n <= a < n:
            raise RuntimeError(f"Got argnum={a}, but only {n} positional inputs")
        out.append(a % n)
    if len(set(out)) != len(out):
        raise RuntimeError(f"argnums must be unique, got {argnums}")
    return tuple(out)


def _grads(outputs: list[Tensor], inputs: list[Tensor],
           cotangents: list[Tensor] | None = None) -> list[Tensor]:
    """d outputs / d inputs (weighted by ``cotangents``), zeros where an input is unused."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents or [None] * len(outputs))
             if o.requires_grad]
    if not pairs or not inputs:
        return [ember.zeros_like(x) for x in inputs]
    got = _autograd_grad([o for o, _ in pairs], inputs,
                         None if cotangents is None else [c for _, c in pairs],
                         retain_graph=True, create_graph=True, allow_unused=True)
    return [ember.zeros_like(x) if g is None else g for g, x in zip(got, inputs)]


# -- grad, grad_and_value --------------------------------------------------------------------------


def grad_and_value(func: Callable, argnums: int | tuple[int, ...] = 0,
                   has_aux: bool = False) -> Callable:
    """``func`` -> a function returning ``(gradient of func w.r.t. args[argnums], func's
    value)`` (the value is ``(output, aux)`` with ``has_aux``)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args))
        keep = _keep_graph(args)
        with _level():
            args = _alias_args(args, nums)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, "grad_and_value(f)(*args)")
            if not isinstance(output, Tensor):
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"Tensor, got {type(output)}")
            if output.ndim != 0:
                raise RuntimeError("grad_and_value(f)(*args): Expected f(*args) to return a "
                                   f"scalar Tensor, got tensor with {output.ndim} dims. Maybe "
                                   "you wanted to use the vjp or jacrev APIs instead?")
            diff = [args[i] for i in nums]
            leaves = [x for x in _leaves(diff) if isinstance(x, Tensor)]
            flat = iter(_grads([output], leaves))
            grads = _map(lambda x: next(flat) if isinstance(x, Tensor) else None, diff)
            grads = grads[0] if isinstance(argnums, int) else tuple(grads)
        value = output if not has_aux else (output, aux)
        return _finish(grads, keep), _finish(value, keep)

    return wrapper


def grad(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """``func`` (returning a scalar tensor) -> its gradient function with respect to
    ``args[argnums]`` (and ``func``'s aux output, with ``has_aux``)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


# -- vjp, jvp --------------------------------------------------------------------------------------


def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``func(*primals)`` and a function mapping cotangents (shaped as the output) to the
    vector-Jacobian products with respect to each primal (and ``aux``, with ``has_aux``)."""
    keep = _keep_graph(primals)
    with _level():
        aliases = _map(_alias, list(primals))
        output, aux = _split_aux(func(*aliases), has_aux, "vjp(f, *primals)")
        out_leaves = _leaves(output)
        for o in out_leaves:
            if not isinstance(o, Tensor):
                raise RuntimeError("vjp(f, *primals): Expected f to be a function that has "
                                   "non-empty output that is a Tensor or a (nested) tuple, list "
                                   f"or dict of Tensors, got {type(o)}")
    in_leaves = [x for x in _leaves(aliases) if isinstance(x, Tensor)]

    def vjp_fn(cotangents: Any) -> tuple[Any, ...]:
        co = _leaves(cotangents)
        if _structure(cotangents) != _structure(output):
            raise RuntimeError("Expected pytree structure of cotangents to be the same as pytree "
                               f"structure of outputs to the function. cotangents: "
                               f"{_structure(cotangents)}, primal output: {_structure(output)}")
        for c, o in zip(co, out_leaves):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError("Mismatch in shape: grad_output[0] has a shape of "
                                   f"{c.shape} and output[0] has a shape of {o.shape}.")
        with _level():
            flat = iter(_grads(out_leaves, in_leaves, co))
            res = tuple(_map(lambda x: next(flat) if isinstance(x, Tensor) else None, aliases))
        return _finish(res, keep or _keep_graph(cotangents))

    out = (_finish(output, keep), vjp_fn)
    return out + (_finish(aux, keep),) if has_aux else out


def jvp(func: Callable, primals: Any, tangents: Any, *, strict: bool = False,
        has_aux: bool = False) -> tuple[Any, ...]:
    """``func(*primals)`` and its Jacobian-vector product with ``tangents`` (forward mode, by the
    double-backward trick)."""
    if not isinstance(primals, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals to be a tuple. E.g. it "
                           "should be valid to call f(*primals).")
    if not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected tangents to be a tuple. E.g. it "
                           "should be valid to call f(*primals).")
    if _structure(primals) != _structure(tangents):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have "
                           "the same python structure. For example, if primals is a tuple of "
                           "3 tensors, tangents also must be. Got primals with structure "
                           f"{_structure(primals)} and tangents with structure "
                           f"{_structure(tangents)}")
    keep = _keep_graph(primals, tangents)
    with _level():
        aliases = _map(_alias, primals)
        output, aux = _split_aux(func(*aliases), has_aux, "jvp(f, primals, tangents)")
        out_leaves = _leaves(output)
        in_leaves = [x for x in _leaves(aliases) if isinstance(x, Tensor)]
        tan_leaves = [t for t, x in zip(_leaves(tangents), _leaves(aliases))
                      if isinstance(x, Tensor)]
        # g(u) = J^T u is linear in u; its vjp with the tangents is J @ tangents
        dummies = [ember.zeros_like(o).requires_grad_(True) for o in out_leaves]
        g = _grads(out_leaves, in_leaves, dummies)
        pairs = [(gi, t) for gi, t in zip(g, tan_leaves) if gi.requires_grad]
        if pairs:
            got = _autograd_grad([p for p, _ in pairs], dummies, [t for _, t in pairs],
                                 retain_graph=True, create_graph=True, allow_unused=True)
        else:
            got = [None] * len(dummies)
        jv = [ember.zeros_like(o) if r is None else r for r, o in zip(got, out_leaves)]
        jvp_out = _unflatten(output, iter(jv))
    out = (_finish(output, keep), _finish(jvp_out, keep))
    return out + (_finish(aux, keep),) if has_aux else out


# -- jacobians -------------------------------------------------------------------------------------


def _jacobian(func: Callable, argnums: int | tuple[int, ...], has_aux: bool,
              name: str) -> Callable:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args))
        keep = _keep_graph(args)
        with _level():
            args = _alias_args(args, nums)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, f"{name}(f, ...)(*args)")
            diff = [args[i] for i in nums]
            ins = [x for x in _leaves(diff) if isinstance(x, Tensor)]

            def blocks(o: Tensor) -> Any:
                if not isinstance(o, Tensor):
                    raise RuntimeError(f"{name}(f, ...): Expected f to return a Tensor or a "
                                       f"(nested) tuple of Tensors, got {type(o)}")
                flat = o.reshape(-1)
                # one reverse pass per output element: the rows of the Jacobian
                rows = [_grads([flat[k]], ins) for k in range(flat.shape[0])]
                per_input = []
                for j, x in enumerate(ins):
                    shape = tuple(o.shape) + tuple(x.shape)
                    if rows:
                        per_input.append(ember.stack([r[j] for r in rows]).reshape(shape))
                    else:
                        per_input.append(ember.zeros(shape, dtype=x.dtype, device=x.device))
                it = iter(per_input)
                tree = _map(lambda x: next(it) if isinstance(x, Tensor) else None, diff)
                return tree[0] if isinstance(argnums, int) else tuple(tree)

            jac = _map(blocks, output) if not isinstance(output, Tensor) else blocks(output)
        jac = _finish(jac, keep)
        return (jac, _finish(aux, keep)) if has_aux else jac

    return wrapper


def jacrev(func: Callable, argnums: int | tuple[int, ...] = 0, *, has_aux: bool = False,
           chunk_size: int | None = None, _preallocate_and_copy: bool = False) -> Callable:
    """``func`` -> its Jacobian function w.r.t. ``args[argnums]`` (reverse mode): per output,
    a tensor of shape ``output.shape + input.shape``."""
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    return _jacobian(func, argnums, has_aux, "jacrev")


def jacfwd(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False, *,
           randomness: str = "error") -> Callable:
    """``func`` -> its Jacobian function w.r.t. ``args[argnums]`` (torch computes it in forward
    mode; ember computes the same values in reverse mode)."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    return _jacobian(func, argnums, has_aux, "jacfwd")


def hessian(func: Callable, argnums: int | tuple[int, ...] = 0) -> Callable:
    """``func`` -> its Hessian function w.r.t. ``args[argnums]`` (``jacfwd(jacrev(func))``)."""
    return jacfwd(jacrev(func, argnums), argnums)


# -- vmap ------------------------------------------------------------------------------------------


def _fn_name(func: Callable) -> str:
    return getattr(func, "__name__", repr(func))


def _in_dims_tree(in_dims: Any, args: tuple, func: Callable) -> list[Any]:
    """One in_dim per leaf of ``args`` (an int or None broadcast over a subtree)."""
    name = _fn_name(func)
    if not isinstance(in_dims, (int, tuple)) or isinstance(in_dims, bool):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to "
                         "be int or a (potentially nested) tuple matching the structure of "
                         f"inputs, got: {type(in_dims)}.")
    if isinstance(in_dims, int):
        in_dims = (in_dims,) * len(args)
    if len(in_dims) != len(args):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                         "compatible with the structure of `inputs`. in_dims has structure "
                         f"{_structure(in_dims)} but inputs has structure {_structure(args)}.")

    def spread(dims: Any, tree: Any) -> list[Any]:
        if dims is None or isinstance(dims, int):
            return [dims] * len(_leaves(tree))
        if isinstance(tree, dict) and isinstance(dims, dict):
            return [d for k in tree for d in spread(dims[k], tree[k])]
        if isinstance(tree, (tuple, list)) and isinstance(dims, (tuple, list)) and len(
                tree) == len(dims):
            return [d for s, t in zip(dims, tree) for d in spread(s, t)]
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                         "compatible with the structure of `inputs`.")

    return [d for dims, a in zip(in_dims, args) for d in spread(dims, a)]


def vmap(func: Callable, in_dims: int | tuple[Any, ...] = 0, out_dims: int | tuple[Any, ...] = 0,
         randomness: str = "error", *, chunk_size: int | None = None) -> Callable:
    """``func`` -> a function mapping it over dimension ``in_dims`` of its inputs, its results
    stacked along ``out_dims`` (``None``: not mapped). Runs ``func`` once per index (no op has a
    batched rule yet).

    Args:
        func: the function to map.
        in_dims: the mapped dimension of each input (int, None, or a tuple matching the inputs).
        out_dims: where the mapped dimension goes in each output.
        randomness: ``"error"`` (random ops raise), ``"different"`` or ``"same"`` (one draw for
            every index).
        chunk_size: accepted as torch's (the loop runs one index at a time anyway).
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        name = _fn_name(func)
        dims = _in_dims_tree(in_dims, args, func)
        leaves = _leaves(list(args))
        sizes = []
        for leaf, d in zip(leaves, dims):
            if d is None:
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} "
                                 f"for an input but the input is of type {type(leaf)}. We cannot "
                                 "vmap over non-Tensor arguments, please use None as the "
                                 "respective in_dim")
            if not -max(leaf.ndim, 1) <= d < max(leaf.ndim, 1) or leaf.ndim == 0:
                raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} "
                                 "for some input, but that input is a Tensor of dimensionality "
                                 f"{leaf.ndim} so expected in_dim to satisfy -{leaf.ndim} <= "
                                 f"in_dim < {leaf.ndim}.")
            sizes.append(leaf.shape[d])
        if not sizes:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): at least one input "
                             f"must be mapped over (got in_dims={in_dims}).")
        if len(set(sizes)) != 1:
            raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sizes} for the mapped dimension")
        state = ember.random.rng_states()  # (the CPU's generator and each GPU's)
        results = []
        for i in range(sizes[0]):
            picked = iter([x.select(d, i) if d is not None else x for x, d in zip(leaves, dims)])
            args_i = _unflatten(list(args), picked)
            if randomness == "same":
                ember.random.set_rng_states(state)
            out = func(*args_i, **kwargs)
            if randomness == "error" and ember.random.rng_states_differ(
                    ember.random.rng_states(), state):
                raise RuntimeError("vmap: called random operation while in randomness error "
                                   "mode. Please either use the 'same' or 'different' "
                                   "randomness flags on vmap or perform the randomness "
                                   "operation out of vmap")
            results.append(out)
        first = results[0]
        odims = _out_dims_tree(out_dims, first, name)
        stacked = []
        for j, (leaf, d) in enumerate(zip(_leaves(first), odims)):
            if d is None:
                stacked.append(leaf)
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got "
                                 f"type {type(leaf)}. Did you mean to set out_dims= to None for "
                                 "output?")
            stacked.append(ember.stack([_leaves(r)[j] for r in results], d))
        return _unflatten(first, iter(stacked))

    return wrapper


def _out_dims_tree(out_dims: Any, output: Any, name: str) -> list[Any]:
    n = len(_leaves(output))
    if out_dims is None or isinstance(out_dims, int):
        return [out_dims] * n
    if isinstance(output, (tuple, list)) and len(out_dims) == len(output):
        return [d for od, o in zip(out_dims, output) for d in _out_dims_tree(od, o, name)]
    raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                     "compatible with the structure of `outputs`.")


def linearize(func: Callable, *primals: Any) -> tuple[Any, Callable]:
    """``func(*primals)`` and a function giving its Jacobian-vector product at ``primals`` for
    given tangents (each call runs ``jvp``; torch traces the linearized graph once)."""
    output = _finish(func(*primals), _keep_graph(primals))

    def jvp_fn(*tangents: Any) -> Any:
        return jvp(func, primals, tangents)[1]

    return output, jvp_fn


def functionalize(func: Callable, *, remove: str = "mutations") -> Callable:
    """``func`` as a function without observable mutation of its inputs' aliases. ember runs
    ``func`` as it is (torch's functionalize rewrites in-place ops for its compilers; the values
    are the same)."""
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(f"functionalize(f, remove='mutations'): received invalid argument for "
                           f"remove={remove}. Valid options are:\n     remove='mutations': all "
                           "inplace and out= operators will be removed from the program, and "
                           "replaced with their out-of-place equivalents.\n     "
                           "remove='mutations_and_views': In addition to the above, all aliasing "
                           "operators {view} will be replaced with their non-aliasing "
                           "counterparts, {view}_copy.\n")

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper
