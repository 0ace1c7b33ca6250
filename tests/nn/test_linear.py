"""Linear, Identity and F.linear against torch: values, gradients, grad_fn names, errors, init."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import functional as F
from helpers import check_op, torch_or_skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3,), (4, 3), (5, 4, 3), (2, 5, 4, 3), (0, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_functional_linear_matches_torch(shape, bias, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((2, 3)).astype(dtype)
    atol = 1e-5 if dtype == np.float32 else 1e-10
    if bias:
        b = rng.standard_normal(2).astype(dtype)
        check_op(lambda m, x, w, b: m.nn.functional.linear(x, w, b), x, w, b, atol=atol)
    else:
        check_op(lambda m, x, w: m.nn.functional.linear(x, w), x, w, atol=atol)


def test_linear_module_forward_backward_matches_torch():
    torch = torch_or_skip()
    for dtype in (np.float32, np.float64):
        rng = np.random.default_rng(1)
        t = torch.nn.Linear(6, 5, dtype=getattr(torch, np.dtype(dtype).name))
        e = nn.Linear(6, 5, dtype=getattr(ember, np.dtype(dtype).name))
        e.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                           for k, v in t.state_dict().items()})
        x = rng.standard_normal((7, 6)).astype(dtype)
        go = rng.standard_normal((7, 5)).astype(dtype)
        xe, xt = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ye, yt = e(xe), t(xt)
        assert type(ye.grad_fn).__name__ == type(yt.grad_fn).__name__ == "AddmmBackward0"
        assert ye.dtype == getattr(ember, np.dtype(dtype).name)
        ye.backward(ember.tensor(go))
        yt.backward(torch.tensor(go))
        tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), **tol)
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), **tol)
        np.testing.assert_allclose(e.weight.grad.numpy(), t.weight.grad.numpy(), **tol)
        np.testing.assert_allclose(e.bias.grad.numpy(), t.bias.grad.numpy(), **tol)


def test_linear_gradcheck():
    x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    w = ember.randn(2, 4, dtype=ember.float64, requires_grad=True)
    b = ember.randn(2, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(F.linear, (x, w, b))
    x3 = ember.randn(2, 3, 4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(F.linear, (x3, w, b))
    assert ember.autograd.gradcheck(F.linear, (x3, w))


def test_wrong_feature_count_names_both_shapes():
    torch = torch_or_skip()
    cases = [((4, 3), (2, 5), True), ((4, 3), (2, 5), False), ((6, 4, 3), (2, 5), False),
             ((6, 4, 3), (2, 5), True), ((3,), (2, 5), True)]
    for x_shape, w_shape, bias in cases:
        msgs = []
        for lib in (ember, torch):
            b = lib.zeros(w_shape[0]) if bias else None
            with pytest.raises(RuntimeError) as info:
                lib.nn.functional.linear(lib.zeros(*x_shape), lib.zeros(*w_shape), b)
            msgs.append(str(info.value))
        assert msgs[0] == msgs[1]
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied "
                                           r"\(4x3 and 5x2\)"):
        nn.Linear(5, 2)(ember.zeros(4, 3))


def test_linear_repr_and_attributes():
    torch = torch_or_skip()
    for args in ((512, 10), (3, 4, False), (1, 1)):
        assert repr(nn.Linear(*args)) == repr(torch.nn.Linear(*args))
    m = nn.Linear(3, 4, bias=False)
    assert m.bias is None and list(m.state_dict()) == ["weight"]
    assert m.weight.shape == (4, 3) and m.in_features == 3 and m.out_features == 4
    assert nn.Linear(2, 2, dtype=ember.float64).weight.dtype == ember.float64


def test_linear_default_init_uses_torch_bounds():
    ember.manual_seed(0)
    for fan_in, fan_out in ((512, 10), (3, 200), (1000, 20)):
        m = nn.Linear(fan_in, fan_out)
        bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) gives the same bound
        w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
        assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
        assert np.abs(w).max() > 0.95 * bound  # the whole range is used
        # U(-k, k) has std k / sqrt(3)
        assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
        assert abs(w.mean()) < 0.05 * bound


def test_reset_parameters_redraws():
    m = nn.Linear(4, 4)
    w = m.weight
    before = w.detach().numpy().copy()
    m.reset_parameters()
    assert m.weight is w and not np.array_equal(before, w.detach().numpy())


def test_identity_passes_input_through():
    torch = torch_or_skip()
    m = nn.Identity(54, unused="x")
    x = ember.randn(2, 3)
    assert m(x) is x
    assert repr(m) == repr(torch.nn.Identity(54, unused="x")) == "Identity()"
    assert list(m.parameters()) == []
