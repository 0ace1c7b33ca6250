"""Ops run compiled: each case replays through ember.compile and must equal eager bit for bit
(values and gradients: the same formulas run in the same order), and match torch (values,
dtypes, gradients: helpers.check_op with the ember side compiled)."""
import numpy as np
import pytest
from helpers import check_op, torch_or_skip

import ember

torch_or_skip()

F = "nn.functional"


def _f(m):
    return m.nn.functional


# (name, fn(m, *tensors), input shapes or arrays); float32 inputs require grad
CASES = [
    ("add_broadcast", lambda m, a, b: a + b, [(3, 1, 4), (2, 4)]),
    ("sub_scalar", lambda m, a: 2.5 - a * 3, [(3, 4)]),
    ("mul_div", lambda m, a, b: a * b / (b.abs() + 1), [(4, 5), (5,)]),
    ("pow", lambda m, a: a.abs() ** 1.5 + a ** 2, [(6,)]),
    ("exp_log", lambda m, a: (a.exp() + 1).log(), [(3, 3)]),
    ("trig", lambda m, a: a.sin() * a.cos() + a.tanh(), [(7,)]),
    ("sigmoid_relu", lambda m, a: a.sigmoid() + a.relu(), [(2, 5)]),
    ("gelu_silu", lambda m, a: _f(m).gelu(a) + _f(m).silu(a), [(4, 4)]),
    ("softplus_elu", lambda m, a: _f(m).softplus(a) + _f(m).elu(a), [(9,)]),
    ("leaky_hardtanh", lambda m, a: _f(m).leaky_relu(a, 0.2) + _f(m).hardtanh(a), [(9,)]),
    ("where_clamp", lambda m, a, b: m.where(a > 0, a, b).clamp(-0.5, 0.5), [(4, 3), (4, 3)]),
    ("masks", lambda m, a, b: m.where((a > 0) & (b <= a), a * b, -a) + (a == b).float()
     + m.logical_or(a < -1, b > 1) * a, [(4, 3), (4, 3)]),
    ("maximum_minimum", lambda m, a, b: m.maximum(a, b) - m.minimum(a, b), [(5,), (5,)]),
    ("sum_mean", lambda m, a: a.sum(1) + a.mean(1), [(3, 4)]),
    ("sum_keepdim", lambda m, a: a.sum((0, 2), keepdim=True) * a, [(2, 3, 4)]),
    ("var_std", lambda m, a: a.var(0) + a.std(1).sum(), [(4, 5)]),
    ("amax_logsumexp", lambda m, a: a.amax(1) + a.logsumexp(1), [(3, 6)]),
    ("max_dim", lambda m, a: a.max(1)[0] * 2, [(3, 6)]),
    ("prod_cumsum", lambda m, a: a.cumsum(1).prod(1), [(2, 4)]),
    ("softmax", lambda m, a: _f(m).softmax(a, -1) * _f(m).log_softmax(a, 0), [(3, 5)]),
    ("norm", lambda m, a: a.norm(dim=1) + m.linalg.vector_norm(a), [(3, 4)]),
    ("matmul", lambda m, a, b: a @ b, [(3, 4), (4, 2)]),
    ("bmm", lambda m, a, b: m.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    ("matmul_broadcast", lambda m, a, b: m.matmul(a, b), [(2, 3, 4), (4,)]),
    ("linear", lambda m, x, w, b: _f(m).linear(x, w, b), [(5, 3), (4, 3), (4,)]),
    ("einsum", lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    ("reshape_permute", lambda m, a: a.reshape(3, 8).t().permute(1, 0).flatten() * 2,
     [(2, 3, 4)]),
    ("transpose_contiguous", lambda m, a: a.transpose(0, 2).contiguous().view(-1), [(2, 3, 4)]),
    ("squeeze_unsqueeze", lambda m, a: a.unsqueeze(0).squeeze(2).expand(2, 3, 4), [(3, 1, 4)]),
    ("slice_select", lambda m, a: a[1:, ::2] * a[0, 1] + a[1:, -1:], [(4, 5)]),
    ("cat_stack", lambda m, a, b: m.cat([a, b], 0) + m.stack([a, b]).sum(0).repeat(2, 1),
     [(2, 3), (2, 3)]),
    ("split_chunk", lambda m, a: a.split(2, 1)[1] * a.chunk(2, 1)[0], [(3, 4)]),
    ("index_select_gather", lambda m, a: a.index_select(1, m.tensor([2, 0])) +
     a.gather(1, m.tensor([[1, 1], [0, 2], [2, 2]])), [(3, 3)]),
    ("flip_roll", lambda m, a: a.flip(0).roll(1, 1), [(3, 4)]),
    ("pad", lambda m, a: _f(m).pad(a, (1, 2, 0, 1)), [(2, 3, 4)]),
    ("conv2d", lambda m, x, w, b: _f(m).conv2d(x, w, b, stride=2, padding=1),
     [(2, 3, 7, 7), (4, 3, 3, 3), (4,)]),
    ("conv1d_groups", lambda m, x, w: _f(m).conv1d(x, w, groups=2), [(2, 4, 9), (6, 2, 3)]),
    ("conv_transpose2d", lambda m, x, w: _f(m).conv_transpose2d(x, w, stride=2),
     [(1, 2, 4, 4), (2, 3, 3, 3)]),
    ("max_pool2d", lambda m, x: _f(m).max_pool2d(x, 2), [(2, 3, 6, 6)]),
    ("avg_pool_adaptive", lambda m, x: _f(m).avg_pool2d(x, 3, 1) +
     _f(m).adaptive_avg_pool2d(x, 4), [(1, 2, 6, 6)]),
    ("batch_norm_train", lambda m, x, w, b: _f(m).batch_norm(x, None, None, w, b, True),
     [(4, 3, 5), (3,), (3,)]),
    ("layer_norm", lambda m, x, w, b: _f(m).layer_norm(x, (6,), w, b), [(2, 4, 6), (6,), (6,)]),
    ("group_norm", lambda m, x: _f(m).group_norm(x, 2), [(2, 4, 3)]),
    ("mse_l1", lambda m, a, b: _f(m).mse_loss(a, b) + _f(m).l1_loss(a, b), [(4, 3), (4, 3)]),
    ("cross_entropy", lambda m, a: _f(m).cross_entropy(a, m.tensor([0, 2, 1, 2])), [(4, 3)]),
    ("bce_logits", lambda m, a, b: _f(m).binary_cross_entropy_with_logits(a, b.sigmoid()),
     [(5,), (5,)]),
    ("nll_smooth", lambda m, a: _f(m).cross_entropy(a, m.tensor([1, 0]), label_smoothing=0.1),
     [(2, 4)]),
    ("embedding", lambda m, w: _f(m).embedding(m.tensor([[0, 3], [3, 1]]), w), [(5, 3)]),
    ("sdpa", lambda m, q, k, v: _f(m).scaled_dot_product_attention(q, k, v, is_causal=True),
     [(2, 2, 4, 8), (2, 2, 4, 8), (2, 2, 4, 8)]),
    ("masked_fill", lambda m, a: a.masked_fill(m.tensor([True, False, True]), 0.0) * 2,
     [(2, 3)]),
    ("dtype_casts", lambda m, a: a.double().sum() + a.half().float().sum(), [(3,)]),
    ("int_math", lambda m, a: a * m.arange(4) + (m.arange(4) // 2), [(4,)]),
]


def _inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, size=s).astype(np.float32) for s in shapes]


def _compiled_side(fn):
    """``fn`` with its ember side run compiled (twice: the second call is a replay)."""
    def run(m, *xs):
        if m is not ember:
            return fn(m, *xs)
        c = ember.compile(lambda *a: fn(ember, *a))
        c(*xs)
        assert c._compiled.last.reason is None, c._compiled.last.reason
        return c(*xs)

    return run


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_compiled_matches_eager_bit_for_bit(name, fn, shapes):
    arrays = _inputs(shapes)
    outs, grads = [], []
    for compiled in (False, True):
        xs = [ember.tensor(a.copy(), requires_grad=True) for a in arrays]
        if compiled:
            c = ember.compile(lambda *a: fn(ember, *a))
            c(*xs)
            out = c(*[ember.tensor(a.copy(), requires_grad=True) for a in arrays])
            xs = [ember.tensor(a.copy(), requires_grad=True) for a in arrays]
            out = c(*xs)  # a replay, on fresh leaves
            assert c._compiled.last.reason is None, c._compiled.last.reason
            assert type(out.grad_fn).__name__ == "CompiledFunctionBackward"
        else:
            out = fn(ember, *xs)
        up = ember.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(
            out.numpy(force=True).dtype))
        gs = ember.autograd.grad(out, xs, up, allow_unused=True)
        outs.append(out)
        grads.append(gs)
    assert outs[0].dtype == outs[1].dtype and outs[0].shape == outs[1].shape
    np.testing.assert_array_equal(outs[0].detach().numpy(), outs[1].detach().numpy())
    for g1, g2 in zip(*grads):
        assert (g1 is None) == (g2 is None)
        if g1 is not None:
            assert g1.dtype == g2.dtype
            np.testing.assert_array_equal(g1.numpy(), g2.numpy())


@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_compiled_matches_torch(name, fn, shapes):
    check_op(_compiled_side(fn), *_inputs(shapes, seed=2), grad_fn=False, atol=1e-4,
             rtol=1e-4)


@pytest.mark.parametrize("name,fn,shapes", CASES[:12] + CASES[20:25],
                         ids=[c[0] for c in CASES[:12] + CASES[20:25]])
def test_compiled_no_grad_replay(name, fn, shapes):
    arrays = _inputs(shapes, seed=3)
    c = ember.compile(lambda *a: fn(ember, *a))
    with ember.no_grad():
        c(*[ember.tensor(a) for a in arrays])
        out = c(*[ember.tensor(a) for a in arrays])
    assert out.grad_fn is None and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), fn(ember, *[ember.tensor(a) for a in arrays])
                                  .detach().numpy())
