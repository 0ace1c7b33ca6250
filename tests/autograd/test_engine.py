"""The engine: graph structure, accumulation, retain_graph, errors, higher order, grad()."""
import warnings

import numpy as np
import pytest

import ember
from helpers import torch_or_skip


def _q(m):
    a = m.tensor([2.0, 3.0], requires_grad=True)
    b = m.tensor([6.0, 4.0], requires_grad=True)
    return a, b, 3 * a**3 - b**2


def _structure(fn, depth=4):
    """The grad_fn DAG as nested (name, children) tuples, for comparing with torch."""
    if fn is None:
        return None
    if depth == 0:
        return type(fn).__name__
    return (type(fn).__name__, tuple((_structure(n, depth - 1), i) for n, i in fn.next_functions))


def test_tutorial_graph_matches_torch():
    torch = torch_or_skip()
    _, _, q_e = _q(ember)
    _, _, q_t = _q(torch)
    assert _structure(q_e.grad_fn) == _structure(q_t.grad_fn)
    assert q_e.grad_fn.name() == "SubBackward0"
    acc = q_e.grad_fn.next_functions[0][0].next_functions[0][0].next_functions[0][0]
    assert type(acc).__name__ == "AccumulateGrad"
    assert repr(q_e.grad_fn).startswith("<SubBackward0 object at 0x")


def test_tutorial_gradients():
    a, b, q = _q(ember)
    q.backward(gradient=ember.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(a.grad.numpy(), [36.0, 81.0])
    np.testing.assert_array_equal(b.grad.numpy(), [-12.0, -8.0])
    assert a.grad.dtype is ember.float32 and a.grad.grad_fn is None


def test_gradients_accumulate_across_backward_calls():
    a, b, q = _q(ember)
    q.sum().backward(retain_graph=True)
    q.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [72.0, 162.0])


def test_accumulated_grad_is_not_aliased():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = ember.tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()
    x.grad += 1  # must not leak into y.grad although AddBackward0 hands both the same gradient
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


def test_second_backward_without_retain_graph_fails_like_torch():
    torch = torch_or_skip()
    msgs = []
    for m in (ember, torch):
        _, _, q = _q(m)
        s = q.sum()
        s.backward()
        with pytest.raises(RuntimeError) as e:
            s.backward()
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_node_without_saved_tensors_can_run_twice():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


@pytest.mark.parametrize("case", ["nonscalar", "shape", "no_grad_fn", "int_scalar"])
def test_backward_errors_match_torch(case):
    torch = torch_or_skip()
    got = []
    for m in (ember, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError) as e:
            if case == "nonscalar":
                (x * 2).backward()
            elif case == "shape":
                (x * 2).backward(m.tensor([1.0, 2.0, 3.0]))
            elif case == "no_grad_fn":
                m.tensor([1.0]).sum().backward()
            else:
                m.tensor(3).sum().backward()
        got.append(str(e.value).replace("torch.", "ember."))
    assert got[0] == got[1]


def test_non_leaf_grad_warns_unless_retained():
    torch = torch_or_skip()
    texts = []
    for m in (ember, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert y.grad is None
        # torch appends where in its C++ sources the warning came from; compare the text before it
        texts.append(str(w[0].message).split(" (Triggered internally")[0])
        z = x * 3
        z.retain_grad()
        (z * z).sum().backward()
        assert z.retains_grad
        np.testing.assert_allclose(np.asarray(z.grad.detach()), [6.0, 12.0])
    assert texts[0] == texts[1]


def test_deep_chain_of_10000_ops():
    x = ember.tensor([1.0], dtype=ember.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10_000], rtol=1e-9)


def test_diamond_and_reused_inputs():
    torch = torch_or_skip()
    res = []
    for m in (ember, torch):
        x = m.tensor([0.5, -1.5], requires_grad=True)
        a = x * x
        b = a * x + a / (x + 3)
        c = (b * a - x).sum()
        c.backward()
        res.append(np.asarray(x.grad.detach()))
    np.testing.assert_allclose(res[0], res[1], rtol=1e-6)


def test_higher_order_gradients_closed_form():
    x = ember.tensor([1.5, -2.0], dtype=ember.float64, requires_grad=True)
    y = (x**3).sum()
    (g1,) = ember.autograd.grad(y, x, create_graph=True)
    (g2,) = ember.autograd.grad(g1.sum(), x, create_graph=True)
    (g3,) = ember.autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g1.detach().numpy(), 3 * x.detach().numpy() ** 2)
    np.testing.assert_allclose(g2.detach().numpy(), 6 * x.detach().numpy())
    np.testing.assert_allclose(g3.numpy(), [6.0, 6.0])
    assert g1.requires_grad and type(g1.grad_fn).__name__ == "MulBackward0"


def test_backward_create_graph_then_grad_of_grad_matches_torch():
    torch = torch_or_skip()
    res = []
    for m in (ember, torch):
        x = m.tensor([0.3, 0.7], dtype=m.float64, requires_grad=True)
        y = m.tensor([1.1, -0.4], dtype=m.float64, requires_grad=True)
        z = (x**2 * y + y**3 / x).sum()
        z.backward(create_graph=True)
        gx = x.grad
        x.grad = None
        (gx * gx).sum().backward()
        res.append((np.asarray(x.grad.detach()), np.asarray(y.grad.detach())))
    for e, t in zip(res[0], res[1]):
        np.testing.assert_allclose(e, t, rtol=1e-10)


def test_grad_unused_and_allow_unused():
    torch = torch_or_skip()
    msgs = []
    for m in (ember, torch):
        x = m.tensor([1.0], requires_grad=True)
        u = m.tensor([1.0], requires_grad=True)
        y = (x * 2).sum()
        gx, gu = m.autograd.grad(y, [x, u], allow_unused=True, retain_graph=True)
        assert gu is None and float(gx) == 2.0
        with pytest.raises(RuntimeError) as e:
            m.autograd.grad(y, [x, u])
        msgs.append(str(e.value))
        gx, gu = m.autograd.grad((x * 2).sum(), [x, u], materialize_grads=True)
        assert float(gu) == 0.0
    assert msgs[0] == msgs[1]


def test_grad_does_not_touch_dot_grad_and_prunes():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    w = ember.tensor([3.0, 4.0], requires_grad=True)
    (gx,) = ember.autograd.grad((x * w).sum(), x)
    assert x.grad is None and w.grad is None
    np.testing.assert_array_equal(gx.numpy(), [3.0, 4.0])


def test_grad_wrt_non_leaf():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    y = (h * h).sum()
    (gh,) = ember.autograd.grad(y, h)
    np.testing.assert_array_equal(gh.numpy(), [6.0, 12.0])


def test_backward_inputs_accumulates_only_there():
    x = ember.tensor([1.0], requires_grad=True)
    w = ember.tensor([5.0], requires_grad=True)
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.numpy(), [1.0])


def test_requires_grad_propagation_tutorial_cell5():
    x = ember.rand(5, 5)
    y = ember.rand(5, 5)
    z = ember.rand((5, 5), requires_grad=True)
    assert (x + y).requires_grad is False
    assert (x + z).requires_grad is True


def test_requires_grad_rules_match_torch():
    torch = torch_or_skip()
    for m in (ember, torch):
        x = m.tensor([1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
            (x * 2).requires_grad = False
        with pytest.raises(RuntimeError, match="floating point"):
            m.tensor([1]).requires_grad_()
        assert x.is_leaf and not (x * 2).is_leaf and m.tensor([1.0]).is_leaf


def test_numpy_of_requires_grad_errors_like_torch():
    torch = torch_or_skip()
    msgs = []
    for m in (ember, torch):
        with pytest.raises(RuntimeError) as e:
            m.tensor([1.0], requires_grad=True).numpy()
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_several_roots_from_one_node_and_roots_reaching_each_other():
    x = ember.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a, b = x.split(2)
    (g,) = ember.autograd.grad([a, b], [x], [ember.ones(2), 2 * ember.ones(2)])
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0, 2.0, 2.0])
    y = x * 2
    z = y * 3
    ember.autograd.backward([z.sum(), y.sum()])
    np.testing.assert_array_equal(x.grad.numpy(), [8.0] * 4)


# -- a leaf keeps a gradient nobody else holds without copying it (torch's AccumulateGrad steal) --


@pytest.mark.host_only  # (the NumPy path or the CPU device itself)
def test_fresh_gradient_is_kept_without_a_copy():
    made = []

    class Twice(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            r = g * 2
            made.append(id(r._data))  # an id only: a reference would forbid the steal
            return r

    x = ember.ones(3, requires_grad=True)
    Twice.apply(x).backward(ember.ones(3))
    assert id(x.grad._data) == made[0]
    assert x.grad._data.flags.writeable and x.grad._data.flags.c_contiguous


@pytest.mark.current_gpu  # (numpy reads the gradient's array itself)
def test_gradient_held_elsewhere_is_copied():
    # the caller's gradient passed straight through, and one array sent to two leaves by AddBackward
    a = ember.ones(2, requires_grad=True)
    b = ember.ones(2, requires_grad=True)
    external = ember.tensor([1.0, 2.0])
    (a + b).backward(external)
    assert not np.shares_memory(a.grad._data, b.grad._data)
    assert not np.shares_memory(a.grad._data, external._data)
    (a + b).backward(external)  # accumulates in place into the leaves' own arrays
    np.testing.assert_array_equal(external.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(a.grad.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 4.0])


def test_gradient_kept_by_a_hook_is_not_modified_by_later_accumulation():
    x = ember.ones(2, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g))
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0].numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0])


def test_broadcast_gradient_is_copied_writable():
    x = ember.ones(2, 3, requires_grad=True)
    x.sum().backward()  # SumBackward0 hands out a read-only broadcast view
    x.grad.add_(1)
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


def test_linear_weight_gradient_is_contiguous_like_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    w0, b0, x0 = (rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (3,), (5, 4)))
    grads = []
    for m in (ember, torch):
        w, b = m.tensor(w0, requires_grad=True), m.tensor(b0, requires_grad=True)
        y = m.nn.functional.linear(m.tensor(x0), w, b)
        assert type(y.grad_fn).__name__ == "AddmmBackward0"
        y.relu().sum().backward()
        assert w.grad.is_contiguous() and w.grad.stride() == (4, 1)
        grads.append((w.grad.numpy(), b.grad.numpy()))
    for e, t in zip(*grads):
        np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-6)


def _drop_first(m):
    """A custom Function whose backward returns None for its first input."""

    class DropFirst(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return None, g

    return DropFirst


def test_no_gradient_flows_through_built_in_nodes_like_torch():
    # a built-in node reached only by a None gradient still runs (and lets the nodes below it
    # run): the leaf behind it keeps .grad None, the other leaf gets its gradient
    torch = torch_or_skip()
    out = []
    for m in (ember, torch):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        b = m.tensor([3.0, 4.0], requires_grad=True)
        u = (a * 2).exp()  # two built-in nodes that receive no gradient
        r = _drop_first(m).apply(u, b) + (b * 3).sum()
        r.sum().backward()
        out.append((a.grad, b.grad.detach().numpy()))
    assert out[0][0] is None and out[1][0] is None
    np.testing.assert_allclose(out[0][1], out[1][1])


def test_broadcast_and_dtype_of_built_in_gradients_like_torch():
    # built-in backward formulas whose gradients must be summed to a broadcast input's shape and
    # cast to its dtype, accumulated into leaves from several consumers
    torch = torch_or_skip()
    res = []
    for m in (ember, torch):
        w = m.tensor([[1.0, -2.0, 3.0]], requires_grad=True)  # float32, broadcast on dim 0
        s = m.tensor(2.0, dtype=m.float64, requires_grad=True)  # 0-d, float64
        x = m.tensor(np.arange(6.0).reshape(2, 3), dtype=m.float64)
        y = (x * w + s) * w  # w used twice, promoted to float64
        (y.sum() + (w * w).sum()).backward()
        res.append((w.grad.dtype, w.grad.detach().numpy(), s.grad.detach().numpy()))
    assert str(res[0][0]).split(".")[-1] == str(res[1][0]).split(".")[-1]
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-6)
    np.testing.assert_allclose(res[0][2], res[1][2])


def test_needs_input_grad_false_input_of_built_in_node():
    # a built-in node with one input not requiring grad delivers nothing to it
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    c = ember.tensor([5.0, 6.0])
    (a * c).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [5.0, 6.0])
    assert c.grad is None


# -- the engine runs nodes in creation order: each node must be newer than every node below it --


def _every_node(roots):
    seen, stack = set(), [r.grad_fn for r in roots if r.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return seen


def _twice(m):
    """A custom Function with an input marked dirty and two outputs."""

    class Twice(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.mark_dirty(x)
            return x.mul_(2), y * 2

        @staticmethod
        def backward(ctx, gx, gy):
            return gx * 2, gy * 2

    return Twice


def _many_kinds_of_node(m, x, w):
    base = x * 1
    view = base[1:, ::2]  # a view made before its base is written: regenerated afterwards
    base.mul_(w[0])
    h = (base @ w).relu() * 1
    h[0].add_(1)  # an in-place write through a view
    u, v = _twice(m).apply(h.clone(), x)
    late = x.exp()  # x's accumulator reused by a node made after the others
    return [view.sum(), u.sum(), v.sum(), late.sum(), m.stack([h, base]).sum()]


def test_every_node_is_newer_than_the_nodes_its_edges_reach():
    torch = torch_or_skip()
    rng = np.random.default_rng(3)
    xs, ws = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    grads = []
    for m in (ember, torch):
        x = m.tensor(xs, requires_grad=True)
        w = m.tensor(ws, requires_grad=True)
        parts = _many_kinds_of_node(m, x, w)
        if m is ember:
            nodes = _every_node(parts)
            assert len(nodes) > 15
            for node in nodes:
                for nxt, _ in node.next_functions:
                    if nxt is not None:
                        assert nxt._seq < node._seq, (node.name(), nxt.name())
        m.autograd.backward(parts)  # several roots, some reaching others
        grads.append((x.grad.numpy(), w.grad.numpy()))
    for e, t in zip(*grads):
        np.testing.assert_allclose(e, t, rtol=1e-12)


def test_node_reached_only_by_no_gradient_frees_what_it_saved():
    # as in torch, such a node still runs, so a second backward through it fails
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([3.0, 4.0], requires_grad=True)
    u = (a * b).exp()
    r = _drop_first(ember).apply(u, b).sum()
    r.backward(retain_graph=False)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        u.sum().backward()
