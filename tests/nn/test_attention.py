"""F.scaled_dot_product_attention and nn.MultiheadAttention against torch: values, gradients,
grad_fn names, masks, state_dict keys, errors; gradcheck (both orders) of the fused node."""
import warnings

import numpy as np
import pytest

import ember
from tests.helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()
rng = np.random.default_rng(0)


def _r(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def sdpa(m, *args, **kwargs):
    return m.nn.functional.scaled_dot_product_attention(*args, **kwargs)


@pytest.mark.parametrize("q, k, v", [
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 5)),  # the fused node
    ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)),  # value width differs: torch's math path
    ((3, 4, 5), (3, 6, 5), (3, 6, 5)),
    ((4, 5), (6, 5), (6, 5)),
    ((2, 1, 3, 4, 5), (2, 1, 3, 6, 5), (2, 1, 3, 6, 5)),
])
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_matches_torch(q, k, v, causal):
    check_op(lambda m, a, b, c: sdpa(m, a, b, c, is_causal=causal), _r(*q), _r(*k), _r(*v))


@pytest.mark.parametrize("mask", [
    (rng.random((4, 6)) > 0.3),
    (rng.random((2, 1, 4, 6)) > 0.5),
    _r(4, 6),
    _r(2, 3, 4, 6),
])
def test_sdpa_masks(mask):
    if mask.dtype == bool:
        mask[0, ...] = False  # a fully masked row gives zeros
    check_op(lambda m, a, b, c, mk: sdpa(m, a, b, c, attn_mask=mk), _r(2, 3, 4, 5), _r(2, 3, 6, 5),
             _r(2, 3, 6, 5), mask, grad=True)


def test_sdpa_mask_requiring_grad_takes_the_math_path():
    check_op(lambda m, a, b, c, mk: sdpa(m, a, b, c, attn_mask=mk), _r(2, 3, 4, 5),
             _r(2, 3, 6, 5), _r(2, 3, 6, 5), _r(4, 6))


def test_sdpa_scale_and_gqa():
    check_op(lambda m, a, b, c: sdpa(m, a, b, c, scale=0.3), _r(2, 3, 4, 5), _r(2, 3, 6, 5),
             _r(2, 3, 6, 5))
    check_op(lambda m, a, b, c: sdpa(m, a, b, c, enable_gqa=True, is_causal=True),
             _r(2, 4, 5, 3), _r(2, 2, 5, 3), _r(2, 2, 5, 3))


def test_sdpa_float_mask_with_causal():
    # torch's fused kernel applies both a float mask and the causal mask
    for mask in (_r(4, 4), rng.random((4, 4)) > 0.5):
        check_op(lambda m, a, b, c: sdpa(m, a, b, c, attn_mask=m.tensor(mask), is_causal=True),
                 _r(2, 3, 4, 5), _r(2, 3, 4, 5), _r(2, 3, 4, 5))


def test_sdpa_float64_and_dtype():
    check_op(lambda m, a, b, c: sdpa(m, a, b, c), _r(2, 2, 3, 4, dtype=np.float64),
             _r(2, 2, 3, 4, dtype=np.float64), _r(2, 2, 3, 4, dtype=np.float64), atol=1e-10)


def test_sdpa_dropout():
    q = ember.randn(2, 2, 5, 4)
    out = sdpa(ember, q, q, q, dropout_p=1.0)
    assert out.abs().sum().item() == 0
    assert type(sdpa(ember, q.requires_grad_(), q, q, dropout_p=0.5).grad_fn).__name__ == \
        "UnsafeViewBackward0"


@pytest.mark.parametrize("call", [
    lambda m: sdpa(m, m.zeros(2, 3, 4, 5), m.zeros(2, 3, 6, 5, dtype=m.float64),
                   m.zeros(2, 3, 6, 5)),
    lambda m: sdpa(m, m.zeros(2, 3, 4, 5), m.zeros(2, 3, 6, 5), m.zeros(2, 3, 6, 5),
                   attn_mask=m.zeros(4, 6, dtype=m.int64)),
    lambda m: sdpa(m, m.zeros(2, 3, 4, 5), m.zeros(2, 3, 6, 5), m.zeros(2, 3, 6, 7),
                   attn_mask=m.zeros(4, 6, dtype=m.bool), is_causal=True),
    lambda m: sdpa(m, m.zeros(3, 4, 5), m.zeros(3, 6, 5), m.zeros(3, 6, 5),
                   attn_mask=m.zeros(4, 6), is_causal=True),
    lambda m: sdpa(m, m.zeros(2, 4, 3, 5), m.zeros(2, 2, 6, 5), m.zeros(2, 2, 6, 5)),
    lambda m: sdpa(m, m.zeros(2, 3, 4, 5), m.zeros(2, 3, 6, 4), m.zeros(2, 3, 6, 5)),
])
def test_sdpa_errors(call):
    same_error(call)


def test_sdpa_gradcheck():
    # the fused node, float and bool masks, causal: first and second order
    q, k, v = _r(1, 2, 3, 2), _r(1, 2, 4, 2), _r(1, 2, 4, 2)
    check_gradcheck(lambda m, a, b, c: sdpa(m, a, b, c), q, k, v)
    check_gradcheck(lambda m, a, b, c: sdpa(m, a, b, c, is_causal=True), q, k, v)
    fmask = ember.tensor(_r(3, 4), dtype=ember.float64)
    check_gradcheck(lambda m, a, b, c: sdpa(m, a, b, c, attn_mask=fmask), q, k, v)
    # only the value requiring grad: the second-order pass still recomputes the weights
    q64, k64 = (ember.tensor(a.astype(np.float64)) for a in (q, k))
    check_gradcheck(lambda m, c: sdpa(m, q64, k64, c * c, is_causal=True), v)
    bmask = ember.tensor(np.array([[True, False, True, True]] * 3))
    check_gradcheck(lambda m, a, b, c: sdpa(m, a, b, c, attn_mask=bmask, scale=0.7), q, k, v)


# -- MultiheadAttention ------------------------------------------------------------------------


def _pair(*args, **kwargs):
    t_mod = torch.nn.MultiheadAttention(*args, **kwargs)
    e_mod = ember.nn.MultiheadAttention(*args, **kwargs)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    e_mod.load_state_dict({k: ember.tensor(v.detach().numpy())
                           for k, v in t_mod.state_dict().items()})
    return e_mod, t_mod


def _run_mha(e_mod, t_mod, arrays, masks=None, atol=2e-5, **kwargs):
    masks = masks or {}
    e_in = [ember.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    if len(arrays) == 1:
        e_in, t_in = e_in * 3, t_in * 3  # self-attention: query is key is value
    e_kw = {k: ember.tensor(v) for k, v in masks.items()}
    t_kw = {k: torch.tensor(v) for k, v in masks.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e_out, e_w = e_mod(*e_in, **e_kw, **kwargs)
        t_out, t_w = t_mod(*t_in, **t_kw, **kwargs)
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), atol=atol)
    assert type(e_out.grad_fn).__name__ == type(t_out.grad_fn).__name__
    if t_w is None:
        assert e_w is None
    else:
        np.testing.assert_allclose(e_w.detach().numpy(), t_w.detach().numpy(), atol=atol)
    g = _r(*t_out.shape)
    loss_e = (e_out * ember.tensor(g)).sum() + (0 if e_w is None else e_w.sum() * 0.5)
    loss_t = (t_out * torch.tensor(g)).sum() + (0 if t_w is None else t_w.sum() * 0.5)
    leaves_e = list(dict.fromkeys(e_in)) + list(e_mod.parameters())
    leaves_t = list(dict.fromkeys(t_in)) + list(t_mod.parameters())
    for ge, gt in zip(ember.autograd.grad(loss_e, leaves_e, allow_unused=True),
                      torch.autograd.grad(loss_t, leaves_t, allow_unused=True)):
        if gt is None:
            assert ge is None or not ge.numpy().any()
        else:
            np.testing.assert_allclose(ge.numpy(), gt.numpy(), atol=atol * 5, rtol=1e-4)


@pytest.mark.parametrize("need_weights, average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention(need_weights, average, batch_first):
    e_mod, t_mod = _pair(8, 2, batch_first=batch_first)
    _run_mha(e_mod, t_mod, [_r(3, 5, 8)], need_weights=need_weights,
             average_attn_weights=average)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks(need_weights):
    e_mod, t_mod = _pair(8, 2)
    kpm = np.zeros((3, 6), dtype=bool)
    kpm[:, -2:] = True
    masks = {"key_padding_mask": kpm, "attn_mask": _r(5, 6)}
    _run_mha(e_mod, t_mod, [_r(5, 3, 8), _r(6, 3, 8), _r(6, 3, 8)], masks,
             need_weights=need_weights)
    masks = {"attn_mask": rng.random((6, 5, 6)) > 0.2}
    _run_mha(e_mod, t_mod, [_r(5, 3, 8), _r(6, 3, 8), _r(6, 3, 8)], masks,
             need_weights=need_weights)


def test_mha_causal_hint():
    e_mod, t_mod = _pair(8, 2, batch_first=True)
    mask = np.triu(np.full((5, 5), -np.inf, dtype=np.float32), 1)
    _run_mha(e_mod, t_mod, [_r(3, 5, 8)], {"attn_mask": mask}, need_weights=False,
             is_causal=True)


@pytest.mark.parametrize("kwargs", [
    {"kdim": 3, "vdim": 4}, {"add_bias_kv": True}, {"add_zero_attn": True}, {"bias": False},
    {"add_bias_kv": True, "add_zero_attn": True, "kdim": 3, "vdim": 3},
])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_options(kwargs, need_weights):
    e_mod, t_mod = _pair(8, 4, **kwargs)
    kd, vd = kwargs.get("kdim", 8), kwargs.get("vdim", 8)
    kpm = np.zeros((2, 6), dtype=bool)
    kpm[1, -1] = True
    _run_mha(e_mod, t_mod, [_r(5, 2, 8), _r(6, 2, kd), _r(6, 2, vd)],
             {"key_padding_mask": kpm}, need_weights=need_weights)


def test_mha_unbatched_and_cross_attention():
    e_mod, t_mod = _pair(8, 2)
    _run_mha(e_mod, t_mod, [_r(5, 8), _r(6, 8), _r(6, 8)])
    _run_mha(e_mod, t_mod, [_r(5, 8), _r(6, 8), _r(6, 8)], need_weights=False)
    key = _r(6, 2, 8)
    e_k, t_k = ember.tensor(key), torch.tensor(key)
    e_q, t_q = ember.tensor(_r(5, 2, 8)), None
    t_q = torch.tensor(e_q.numpy())
    np.testing.assert_allclose(e_mod(e_q, e_k, e_k)[0].detach().numpy(),
                               t_mod(t_q, t_k, t_k)[0].detach().numpy(), atol=2e-5)


def test_mha_repr_and_init():
    e_mod, t_mod = _pair(8, 2, dropout=0.1, add_bias_kv=True)
    assert repr(e_mod) == repr(t_mod)
    fresh = ember.nn.MultiheadAttention(8, 2)
    assert not fresh.in_proj_bias.detach().numpy().any()
    assert not fresh.out_proj.bias.detach().numpy().any()
    bound = np.sqrt(6 / (8 + 24))  # xavier_uniform_ of (24, 8)
    assert np.abs(fresh.in_proj_weight.detach().numpy()).max() <= bound


@pytest.mark.parametrize("call", [
    lambda m: m.nn.MultiheadAttention(0, 2),
    lambda m: m.nn.MultiheadAttention(8, 3),
    lambda m: m.nn.MultiheadAttention(8, 2)(m.zeros(5, 2, 8), m.zeros(6, 2, 8),
                                             m.zeros(6, 2, 8), attn_mask=m.zeros(5, 5)),
    lambda m: m.nn.MultiheadAttention(8, 2)(m.zeros(5, 2, 8), m.zeros(6, 2, 8),
                                             m.zeros(6, 2, 8), attn_mask=m.zeros(2, 5, 6)),
    lambda m: m.nn.MultiheadAttention(8, 2)(m.zeros(5, 2, 8), m.zeros(5, 2, 8),
                                             m.zeros(5, 2, 8), is_causal=True),
])
def test_mha_errors(call):
    same_error(call)


def test_mha_gradcheck():
    mod = ember.nn.MultiheadAttention(4, 2, add_bias_kv=True).double()
    x = ember.tensor(_r(3, 2, 4, dtype=np.float64), requires_grad=True)
    params = list(mod.parameters())
    for need in (True, False):
        f = lambda x, *p: mod(x, x, x, need_weights=need)[0]
        assert ember.autograd.gradcheck(f, [x] + params, atol=1e-5, rtol=1e-3)
    f = lambda x, *p: mod(x, x, x, need_weights=False)[0]
    assert ember.autograd.gradgradcheck(f, [x] + params[:1], atol=1e-5, rtol=1e-3)


def test_mha_inference_kernel_nan_rows():
    # torch's native kernel (eval, batch-first self-attention, no grad wanted, need_weights=False)
    # gives NaN where a head has nothing to attend to; the regular path gives zeros
    e_mod, t_mod = _pair(8, 2, batch_first=True)
    e_mod.eval()
    t_mod.eval()
    x = _r(3, 5, 8)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, 3:] = True
    kpm[2, :] = True
    am = np.zeros((5, 5), dtype=bool)
    am[0] = True
    am3 = np.zeros((6, 5, 5), dtype=bool)
    am3[3, 1] = True
    am3[1, 2, :4] = True
    last = np.tile([[0, 0, 0, 0, 1]], (3, 1)).astype(bool)
    for masks in ({"key_padding_mask": kpm}, {"attn_mask": am}, {"attn_mask": am3},
                  {"attn_mask": am3, "key_padding_mask": last}):
        for need_weights in (False, True):
            with torch.no_grad(), ember.no_grad():
                t = t_mod(*[torch.tensor(x)] * 3, need_weights=need_weights,
                          **{k: torch.tensor(v) for k, v in masks.items()})[0].numpy()
                e = e_mod(*[ember.tensor(x)] * 3, need_weights=need_weights,
                          **{k: ember.tensor(v) for k, v in masks.items()})[0].numpy()
            np.testing.assert_allclose(e, t, atol=3e-5, equal_nan=True)
    e_mod.train()  # the regular path: zeros
    with ember.no_grad():
        out = e_mod(*[ember.tensor(x)] * 3, key_padding_mask=ember.tensor(kpm),
                    need_weights=False)[0]
    assert not np.isnan(out.numpy()).any()
