"""nn.Transformer, TransformerEncoder(Layer), TransformerDecoder(Layer) against torch: state_dict
keys, outputs and gradients with torch's weights (dropout 0, or eval), masks, norm_first,
activations, batch_first, errors, warnings, reprs; gradcheck of an encoder layer in float64."""
import warnings

import numpy as np
import pytest

import ember
from tests.helpers import same_error, torch_or_skip

torch = torch_or_skip()
rng = np.random.default_rng(0)


def _r(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _build(m, name, *args, **kwargs):
    nn = m.nn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "encoder":
            return nn.TransformerEncoder(nn.TransformerEncoderLayer(*args, **kwargs), 2,
                                         norm=nn.LayerNorm(args[0]))
        if name == "decoder":
            return nn.TransformerDecoder(nn.TransformerDecoderLayer(*args, **kwargs), 2)
        return getattr(nn, name)(*args, **kwargs)


def _pair(name, *args, **kwargs):
    t_mod = _build(torch, name, *args, **kwargs)
    e_mod = _build(ember, name, *args, **kwargs)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    e_mod.load_state_dict({k: ember.tensor(v.detach().numpy())
                           for k, v in t_mod.state_dict().items()})
    return e_mod, t_mod


def _check(e_mod, t_mod, arrays, kwargs=None, atol=3e-5):
    kwargs = kwargs or {}
    e_in = [ember.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    e_kw = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    t_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    e_out, t_out = e_mod(*e_in, **e_kw), t_mod(*t_in, **t_kw)
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), atol=atol,
                               rtol=1e-4)
    assert type(e_out.grad_fn).__name__ == type(t_out.grad_fn).__name__
    g = _r(*t_out.shape)
    e_leaves = e_in + list(e_mod.parameters())
    t_leaves = t_in + list(t_mod.parameters())
    e_g = ember.autograd.grad(e_out, e_leaves, ember.tensor(g), allow_unused=True)
    t_g = torch.autograd.grad(t_out, t_leaves, torch.tensor(g), allow_unused=True)
    for eg, tg in zip(e_g, t_g):
        if tg is None:
            assert eg is None or not eg.numpy().any()
        else:
            np.testing.assert_allclose(eg.numpy(), tg.numpy(), atol=atol * 10, rtol=1e-3)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer(norm_first, activation, batch_first):
    e_mod, t_mod = _pair("TransformerEncoderLayer", 8, 2, 16, 0.0, activation,
                         batch_first=batch_first, norm_first=norm_first)
    _check(e_mod, t_mod, [_r(3, 5, 8)])


def test_encoder_layer_callable_activation_and_masks():
    e_mod, t_mod = _pair("TransformerEncoderLayer", 8, 2, 16, 0.0, batch_first=True)
    e_mod.activation = ember.nn.functional.silu
    t_mod.activation = torch.nn.functional.silu
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[0, -2:] = True
    mask = np.triu(np.full((5, 5), -np.inf, dtype=np.float32), 1)
    _check(e_mod, t_mod, [_r(3, 5, 8)], {"src_mask": mask, "src_key_padding_mask": kpm})
    _check(e_mod, t_mod, [_r(3, 5, 8)], {"src_mask": mask, "is_causal": True})


def test_encoder_stack_detects_causal_mask():
    e_mod, t_mod = _pair("encoder", 8, 2, 16, 0.0, batch_first=True)
    mask = np.asarray(ember.nn.Transformer.generate_square_subsequent_mask(5).numpy())
    _check(e_mod, t_mod, [_r(2, 5, 8)], {"mask": mask})
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, 3:] = True
    _check(e_mod, t_mod, [_r(2, 5, 8)], {"mask": mask, "src_key_padding_mask": kpm})


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_stack(norm_first):
    e_mod, t_mod = _pair("decoder", 8, 2, 16, 0.0, norm_first=norm_first)
    mask = np.triu(np.full((4, 4), -np.inf, dtype=np.float32), 1)
    kpm = np.zeros((3, 6), dtype=bool)
    kpm[2, -1] = True
    _check(e_mod, t_mod, [_r(4, 3, 8), _r(6, 3, 8)],
           {"tgt_mask": mask, "memory_key_padding_mask": kpm})


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer(batch_first):
    e_mod, t_mod = _pair("Transformer", 8, 2, 2, 1, 16, 0.0, batch_first=batch_first)
    src = _r(2, 6, 8) if batch_first else _r(6, 2, 8)
    tgt = _r(2, 4, 8) if batch_first else _r(4, 2, 8)
    mask = ember.nn.Transformer.generate_square_subsequent_mask(4).numpy()
    _check(e_mod, t_mod, [src, tgt], {"tgt_mask": mask})


def test_transformer_eval_ignores_dropout_and_unbatched():
    e_mod, t_mod = _pair("Transformer", 8, 2, 1, 1, 16, 0.3)
    e_mod.eval()
    t_mod.eval()
    with torch.no_grad(), ember.no_grad():
        src, tgt = _r(5, 8), _r(3, 8)
        np.testing.assert_allclose(e_mod(ember.tensor(src), ember.tensor(tgt)).numpy(),
                                   t_mod(torch.tensor(src), torch.tensor(tgt)).numpy(),
                                   atol=3e-5)


def test_generate_square_subsequent_mask():
    e = ember.nn.Transformer.generate_square_subsequent_mask(4)
    t = torch.nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert e.dtype == ember.float32
    e64 = ember.nn.Transformer.generate_square_subsequent_mask(3, dtype=ember.float64)
    assert e64.dtype == ember.float64


def test_reprs_and_init():
    e_mod, t_mod = _pair("Transformer", 8, 2, 1, 1, 16)
    assert repr(e_mod) == repr(t_mod)
    fresh = ember.nn.Transformer(8, 2, 1, 1, 16)
    w = fresh.encoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= np.sqrt(6 / (8 + 16))  # xavier_uniform_ over every matrix
    layer = ember.nn.TransformerEncoderLayer(8, 2, 16)
    assert layer.activation_relu_or_gelu == 1
    assert ember.nn.TransformerEncoderLayer(8, 2, activation="gelu").activation_relu_or_gelu == 2


@pytest.mark.parametrize("layer_kwargs", [
    {"batch_first": False}, {"batch_first": True, "norm_first": True},
    {"batch_first": True, "bias": False}, {"batch_first": True, "activation": lambda x: x},
])
def test_nested_tensor_warnings(layer_kwargs):
    def warned(m):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m.nn.TransformerEncoder(m.nn.TransformerEncoderLayer(8, 2, 16, **layer_kwargs), 1)
        return [str(x.message) for x in w]

    assert warned(ember) == warned(torch)


@pytest.mark.parametrize("call", [
    lambda m: m.nn.TransformerEncoderLayer(8, 2, activation="tanh"),
    lambda m: m.nn.Transformer(8, 2, 1, 1, 16)(m.zeros(5, 2, 8), m.zeros(4, 3, 8)),
    lambda m: m.nn.Transformer(8, 2, 1, 1, 16)(m.zeros(5, 2, 8), m.zeros(4, 2, 6)),
    lambda m: m.nn.Transformer(8, 2, 1, 1, 16, batch_first=True)(m.zeros(2, 5, 8),
                                                                 m.zeros(3, 4, 8)),
])
def test_errors(call):
    same_error(call)


def test_gradcheck_encoder_layer():
    for norm_first in (False, True):
        layer = ember.nn.TransformerEncoderLayer(4, 2, 6, 0.0, "gelu",
                                                 norm_first=norm_first).double()
        x = ember.tensor(_r(3, 2, 4, dtype=np.float64), requires_grad=True)
        params = list(layer.parameters())
        f = lambda x, *p: layer(x, is_causal=True,
                                src_mask=ember.nn.Transformer.generate_square_subsequent_mask(
                                    3, dtype=ember.float64))
        assert ember.autograd.gradcheck(f, [x] + params, atol=1e-5, rtol=1e-3)
        assert ember.autograd.gradgradcheck(f, [x] + params[:2], atol=1e-5, rtol=1e-3)


def test_encoder_inference_path_zeroes_padding():
    # torch's eval/no-grad path runs on nested tensors: padded positions come out as zeros
    e_mod, t_mod = _pair("encoder", 8, 2, 16, 0.0, batch_first=True)
    e_mod.eval()
    t_mod.eval()
    x = _r(2, 5, 8)
    for rows in ([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0]], [[0, 1, 0, 1, 1], [0, 0, 0, 0, 0]]):
        kpm = np.array(rows, dtype=bool)  # the second is not left-aligned: the regular path
        with torch.no_grad(), ember.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = t_mod(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)).numpy()
            e = e_mod(ember.tensor(x), src_key_padding_mask=ember.tensor(kpm)).numpy()
        np.testing.assert_allclose(e, t, atol=3e-5)
    e_mod.train()  # and in training mode, the regular path
    t_mod.train()
    _check(e_mod, t_mod, [x], {"src_key_padding_mask": np.array([[0, 0, 0, 1, 1]] * 2, bool)})


@pytest.mark.parametrize("name", ["TransformerEncoderLayer", "encoder"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_inference_with_a_fully_padded_sequence(name, batch_first):
    # torch's inference kernels: NaN rows from the layer's native attention, zeros from the
    # stack's nested tensors
    e_mod, t_mod = _pair(name, 8, 2, 16, 0.0, batch_first=batch_first)
    e_mod.eval()
    t_mod.eval()
    x = _r(3, 5, 8) if batch_first else _r(5, 3, 8)
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, 3:] = True
    kpm[2, :] = True
    with torch.no_grad(), ember.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = t_mod(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm)).numpy()
        e = e_mod(ember.tensor(x), src_key_padding_mask=ember.tensor(kpm)).numpy()
    np.testing.assert_allclose(e, t, atol=3e-5, equal_nan=True)
