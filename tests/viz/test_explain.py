"""explain_backward: its numbers against a real backward (and torch), the order of its steps, and
that it leaves .grad and the graph alone."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.viz import explain_backward
from helpers import torch_or_skip

torch = torch_or_skip()


def _leaf_pairs(make, seed=0, **kw):
    """Builds the same leaves in ember and torch from one seeded numpy source."""
    rng = np.random.default_rng(seed)
    arrays = {k: rng.standard_normal(shape).astype(np.float32) for k, shape in kw.items()}
    e = {k: ember.tensor(v, requires_grad=True) for k, v in arrays.items()}
    t = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    return e, t


def test_tutorial_q_numbers_and_formulas():
    a = ember.tensor([2.0, 3.0], requires_grad=True)
    b = ember.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a**3 - b**2
    external_grad = ember.tensor([1.0, 1.0])
    e = explain_backward(Q, gradient=external_grad)
    ta = torch.tensor([2.0, 3.0], requires_grad=True)
    tb = torch.tensor([6.0, 4.0], requires_grad=True)
    (3 * ta**3 - tb**2).backward(gradient=torch.tensor([1.0, 1.0]))
    assert np.array_equal(e.leaf_grads[a].numpy(), ta.grad.numpy())  # 9a² = [36, 81]
    assert np.array_equal(e.grad_of("b").numpy(), tb.grad.numpy())  # -2b = [-12, -8]
    assert e.formulas[a] == "9a²" and e.formulas[b] == "−2b"
    text = str(e)
    assert "a.grad = 9a² = [36., 81.]" in text
    assert "b.grad = −2b = [-12., -8.]" in text
    assert a.grad is None and b.grad is None
    Q.backward(gradient=external_grad)  # the graph was not freed
    assert np.array_equal(a.grad.numpy(), e.leaf_grads[a].numpy())
    assert np.array_equal(b.grad.numpy(), e.leaf_grads[b].numpy())


def test_steps_follow_the_engine_and_show_rules():
    a = ember.tensor([2.0, 3.0], requires_grad=True)
    b = ember.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a**3 - b**2
    e = explain_backward(Q, gradient=ember.ones(2), params={"a": a, "b": b})
    ran, seen, stack = [], set(), [Q.grad_fn]
    while stack:
        n = stack.pop()
        if n is None or n in seen or n.name() == "AccumulateGrad":
            continue
        seen.add(n)
        n.register_prehook(lambda g, n=n: ran.append(n))
        stack.extend(f for f, _ in n.next_functions)
    Q.backward(ember.ones(2))
    assert [s.node for s in e.steps if s.name != "AccumulateGrad"] == ran
    first = e.steps[0]
    assert first.name == "SubBackward0" and first.rule == "out = x − y"
    assert [s.formula for s in first.sends] == ["g", "−g"]
    assert [s.grad.tolist() for s in first.sends] == [[1.0, 1.0], [-1.0, -1.0]]
    pow_b = e.steps[1]
    assert pow_b.settings["exponent"] == 2 and pow_b.sends[0].target_label == "AccumulateGrad of b"


def test_mlp_matmul_relu_sum_against_backward():
    e_in, t_in = _leaf_pairs(None, x=(5, 4), w1=(4, 6), b1=(6,), w2=(6, 3))

    def f(m, x, w1, b1, w2):
        return (m.relu(x @ w1 + b1) @ w2).sum()

    out = f(ember, **e_in)
    exp = explain_backward(out)
    f(torch, **t_in).backward()
    for k in e_in:
        np.testing.assert_allclose(exp.leaf_grads[e_in[k]].numpy(), t_in[k].grad.numpy(),
                                   rtol=1e-5, atol=1e-6)
        assert e_in[k].grad is None
    names = [s.name for s in exp.steps]
    assert {"SumBackward0", "MmBackward0", "ReluBackward0", "AddBackward0"} <= set(names)
    out.backward()
    for k in e_in:
        np.testing.assert_array_equal(e_in[k].grad.numpy(), exp.leaf_grads[e_in[k]].numpy())


def test_broadcasting_ops_are_summed_back():
    e_in, t_in = _leaf_pairs(None, x=(3, 4), row=(4,), col=(3, 1), s=())

    def f(m, x, row, col, s):
        return ((x * row - col) / (s.exp() + 1) + row.sin() * col.cos()).mean()

    exp = explain_backward(f(ember, **e_in))
    f(torch, **t_in).backward()
    for k in e_in:
        np.testing.assert_allclose(exp.leaf_grads[e_in[k]].numpy(), t_in[k].grad.numpy(),
                                   rtol=1e-5, atol=1e-6)
    summed = [s for step in exp.steps for s in step.sends if s.summed_from is not None]
    assert summed and "to undo broadcasting" in str(exp)


def test_elementwise_rules_against_torch():
    e_in, t_in = _leaf_pairs(None, x=(4,), y=(4,))

    def f(m, x, y):
        return (m.tanh(x) * m.sigmoid(y) + (x * x + 1).log() - (-y).exp() + x.cos() / 2
                + (y.abs() + 1).sqrt() + (x.relu() ** 2)).sum()

    exp = explain_backward(f(ember, **e_in))
    f(torch, **t_in).backward()
    for k in e_in:
        np.testing.assert_allclose(exp.leaf_grads[e_in[k]].numpy(), t_in[k].grad.numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_closed_form_for_a_leaf_used_twice():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x**2 * 3 + x * 4).sum()
    e = explain_backward(y)
    assert e.formulas[x] == "6x + 4"
    y.backward()
    np.testing.assert_array_equal(e.leaf_grads[x].numpy(), x.grad.numpy())  # 6x + 4 = [10, 16]
    assert x.grad.tolist() == [10.0, 16.0]


def test_frozen_inputs_get_no_gradient():
    x = ember.randn(3, 2)  # needs no grad
    w = ember.randn(2, 2, requires_grad=True)
    e = explain_backward((x @ w).sum())
    assert list(e.leaf_grads) == [w]
    mm = next(s for s in e.steps if s.name == "MmBackward0")
    assert [s.index for s in mm.sends] == [1]


def test_errors_match_backward():
    x = ember.randn(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        explain_backward(y)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        explain_backward(y, gradient=ember.ones(2))
    with pytest.raises(RuntimeError, match="does not require grad"):
        explain_backward(ember.ones(2), gradient=ember.ones(2))
    y.backward(ember.ones(3))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        explain_backward(y, gradient=ember.ones(3))


def test_after_retain_graph_and_several_outputs():
    x = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y1, y2 = (x * x).sum(), x.relu().sum()
    y1.backward(retain_graph=True)
    e = explain_backward([y1, y2])
    np.testing.assert_array_equal(e.leaf_grads[x].numpy(), 2 * x.detach().numpy()
                                  + (x.detach().numpy() > 0))
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.detach().numpy())  # only y1's backward
