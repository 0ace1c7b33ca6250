"""nn.utils: gradient clipping and parameter/vector conversion against torch."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember import nn
from helpers import torch_or_skip


def _params_with_grads(lib, grads, dtype="float32"):
    params = []
    for g in grads:
        p = lib.nn.Parameter(lib.zeros(*g.shape, dtype=getattr(lib, dtype)))
        if g is not None:
            p.grad = lib.tensor(g.astype(dtype))
        params.append(p)
    return params


def _grads(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * scale for s in ((3, 4), (4,), (2, 2, 2), (1,))]


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    torch = torch_or_skip()
    grads = _grads()
    e = _params_with_grads(ember, grads, dtype)
    t = _params_with_grads(torch, grads, dtype)
    e_total = nn.utils.clip_grad_norm_(e, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(t, max_norm, norm_type=norm_type)
    assert isinstance(e_total, ember.Tensor) and e_total.shape == () and not e_total.requires_grad
    assert str(e_total.dtype) == str(t_total.dtype).replace("torch", "ember")
    rtol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(e_total.item(), t_total.item(), rtol=rtol)
    for pe, pt in zip(e, t):
        np.testing.assert_allclose(pe.grad.numpy(), pt.grad.numpy(), rtol=rtol, atol=rtol)


def test_clip_grad_norm_scale_uses_torchs_epsilon():
    p = nn.Parameter(ember.zeros(2))
    p.grad = ember.tensor([3.0, 4.0])
    total = nn.utils.clip_grad_norm_(p, 1.0)  # a single tensor works too
    assert total.item() == 5.0
    np.testing.assert_allclose(p.grad.numpy(), np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=1e-6)


def test_clip_grad_norm_skips_params_without_grad_and_handles_none():
    torch = torch_or_skip()
    m, tm = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    assert nn.utils.clip_grad_norm_(m.parameters(), 1.0).item() == 0.0
    assert torch.nn.utils.clip_grad_norm_(tm.parameters(), 1.0).item() == 0.0
    m.weight.grad = ember.ones(2, 3) * 10
    total = nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    np.testing.assert_allclose(total.item(), math.sqrt(600), rtol=1e-6)
    assert m.bias.grad is None
    with pytest.warns(UserWarning, match="empty generator"):
        nn.utils.clip_grad_norm_((p for p in []), 1.0)


def test_clip_grad_norm_nonfinite():
    torch = torch_or_skip()
    msgs = []
    for lib in (ember, torch):
        p = lib.nn.Parameter(lib.zeros(2))
        p.grad = lib.tensor([float("inf"), 1.0])
        with pytest.raises(RuntimeError) as info:
            lib.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
        msgs.append(str(info.value))
        assert math.isinf(lib.nn.utils.clip_grad_norm_([p], 1.0).item())
    assert msgs[0] == msgs[1]


def test_clip_grad_value_matches_torch():
    torch = torch_or_skip()
    grads = _grads(1, scale=3)
    e = _params_with_grads(ember, grads)
    t = _params_with_grads(torch, grads)
    assert nn.utils.clip_grad_value_(e, 1.5) is None
    torch.nn.utils.clip_grad_value_(t, 1.5)
    for pe, pt in zip(e, t):
        np.testing.assert_array_equal(pe.grad.numpy(), pt.grad.numpy())


def test_parameters_to_vector_and_back_match_torch():
    torch = torch_or_skip()
    e_m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    t_m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    e_m.load_state_dict({k: ember.tensor(v.numpy().copy()) for k, v in t_m.state_dict().items()})
    ev = nn.utils.parameters_to_vector(e_m.parameters())
    tv = torch.nn.utils.parameters_to_vector(t_m.parameters())
    np.testing.assert_array_equal(ev.detach().numpy(), tv.detach().numpy())
    assert type(ev.grad_fn).__name__ == type(tv.grad_fn).__name__ == "CatBackward0"
    new = np.arange(ev.numel(), dtype=np.float32)
    w = e_m[0].weight
    nn.utils.vector_to_parameters(ember.tensor(new), e_m.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), t_m.parameters())
    assert e_m[0].weight is w
    for (k, ve), vt in zip(e_m.state_dict().items(), t_m.state_dict().values()):
        np.testing.assert_array_equal(ve.numpy(), vt.numpy())
    with pytest.raises(TypeError, match="expected ember.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1.0], e_m.parameters())
