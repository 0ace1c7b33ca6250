"""Shared test helpers: the torch oracle, and one-call parity and gradcheck checks for ops.

``check_op(fn, *inputs)`` runs ``fn`` on ember and on torch with the same data and compares values,
dtypes, grad_fn names and gradients (tinygrad's helper_test_op). ``fn`` gets the module (ember or
torch) first, so one lambda serves both: ``check_op(lambda m, x: m.exp(x), x_np)``.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import pytest

import ember


def torch_or_skip():
    """Imports torch; skips without it, except in CI, where parity tests must never be skipped."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("torch is not installed", allow_module_level=True)
    return torch


def same_error(fn: Callable, exact: bool = True) -> None:
    """``fn(module)`` raises the same exception type under torch and ember, with the same message
    (torch's ``torch.`` spelled ``ember.``) when ``exact``."""
    import warnings

    torch = torch_or_skip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as t_err:
            fn(torch)
        with pytest.raises(Exception) as e_err:
            fn(ember)
    assert type(e_err.value) is type(t_err.value), (e_err.value, t_err.value)
    if exact:
        assert str(e_err.value) == str(t_err.value).replace("torch.", "ember."), (
            str(e_err.value), str(t_err.value))


def _to(module, arr, requires_grad):
    if not isinstance(arr, np.ndarray):
        return arr
    t = module.tensor(arr.copy())
    if requires_grad and arr.dtype.kind == "f":
        t.requires_grad_(True)
    return t


def _flat(out):
    return out if isinstance(out, (tuple, list)) else (out,)


def check_op(fn: Callable, *inputs: Any, atol: float = 1e-5, rtol: float = 1e-4,
             grad: bool = True, grad_fn: bool = True, seed: int = 0) -> None:
    """Asserts ``fn(ember, *inputs)`` matches ``fn(torch, *inputs)``: values, dtypes, grad_fn
    names, and gradients under a random upstream gradient. NumPy array inputs become tensors
    (float ones requiring grad when ``grad``); anything else is passed through unchanged."""
    torch = torch_or_skip()
    e_in = [_to(ember, x, grad) for x in inputs]
    t_in = [_to(torch, x, grad) for x in inputs]
    e_out, t_out = _flat(fn(ember, *e_in)), _flat(fn(torch, *t_in))
    assert len(e_out) == len(t_out)
    for e, t in zip(e_out, t_out):
        if not isinstance(t, torch.Tensor):
            assert e == t
            continue
        assert isinstance(e, ember.Tensor), type(e)
        assert str(e.dtype).replace("ember.", "") == str(t.dtype).replace("torch.", ""), (
            e.dtype, t.dtype)
        assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), atol=atol, rtol=rtol,
                                   equal_nan=True)
        assert e.requires_grad == t.requires_grad
        if grad_fn:
            e_name = type(e.grad_fn).__name__ if e.grad_fn is not None else None
            t_name = type(t.grad_fn).__name__ if t.grad_fn is not None else None
            assert e_name == t_name, (e_name, t_name)
    if not grad:
        return
    pairs = [(e, t) for e, t in zip(e_out, t_out)
             if isinstance(t, torch.Tensor) and t.requires_grad]
    e_leaves = [x for x in e_in if isinstance(x, ember.Tensor) and x.requires_grad]
    t_leaves = [x for x in t_in if isinstance(x, torch.Tensor) and x.requires_grad]
    if not pairs or not t_leaves:
        return
    r = np.random.default_rng(seed)
    gos = [r.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype) for _, t in pairs]
    e_grads = ember.autograd.grad([e for e, _ in pairs], e_leaves,
                                  [ember.tensor(g) for g in gos], allow_unused=True)
    t_grads = torch.autograd.grad([t for _, t in pairs], t_leaves,
                                  [torch.tensor(g) for g in gos], allow_unused=True)
    for eg, tg in zip(e_grads, t_grads):
        if tg is None:
            assert eg is None or not np.any(eg.numpy()), "torch gives no gradient here"
            continue
        assert eg is not None, "ember gave no gradient where torch did"
        assert str(eg.dtype).replace("ember.", "") == str(tg.dtype).replace("torch.", "")
        np.testing.assert_allclose(eg.numpy(), tg.numpy(), atol=atol, rtol=rtol, equal_nan=True)


def check_gradcheck(fn: Callable, *inputs: Any, second_order: bool = True,
                    atol: float = 1e-5, rtol: float = 1e-3) -> None:
    """gradcheck (and gradgradcheck) of ``fn(ember, *tensors)`` in float64 on the given arrays."""
    ts = [ember.tensor(np.asarray(x, dtype=np.float64)).requires_grad_()
          if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x for x in inputs]
    f = lambda *a: fn(ember, *a)  # noqa: E731
    assert ember.autograd.gradcheck(f, ts, atol=atol, rtol=rtol)
    if second_order:
        assert ember.autograd.gradgradcheck(f, ts, atol=atol, rtol=rtol)


def broadcastable_shapes(data: Any) -> tuple:
    """Two shapes that broadcast together (up to 3-d, sizes 1-3), drawn with hypothesis's
    ``st.data()``: each takes a trailing part of one full shape, with some sizes set to 1."""
    from hypothesis import strategies as st

    ndim = data.draw(st.integers(0, 3))
    full = data.draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))

    def side() -> tuple:
        keep = data.draw(st.integers(0, ndim))
        return tuple(s if data.draw(st.booleans()) else 1 for s in full[ndim - keep:])

    return side(), side()


def grad_scaler_trace(mod: Any, grads: list, device: str | None = None) -> list:
    """A GradScaler (init_scale 8, growth_interval 2) driving SGD on a parameter of ones through
    one step per gradient in ``grads`` (inf/nan included), on ``device`` (None: the CPU, its
    CPU scaler): the scaled losses, unscaled gradients, parameters, scales and state_dicts."""
    s = mod.amp.GradScaler("cuda" if device else "cpu", init_scale=8.0, growth_interval=2)
    kw = {"device": device} if device else {}
    p = mod.nn.Parameter(mod.ones(2, **kw))
    opt = mod.optim.SGD([p], lr=0.1)
    trace = []
    for g in grads:
        opt.zero_grad()
        loss = (p * mod.tensor(g, **kw)).sum()
        scaled = s.scale(loss)
        trace.append(scaled.item())
        scaled.backward()
        s.unscale_(opt)
        trace.append(p.grad.tolist())
        s.step(opt)
        s.update()
        trace += [p.detach().tolist(), s.get_scale(), s.state_dict()]
    return trace
