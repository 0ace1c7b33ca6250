"""nn.RNN / LSTM / GRU, their cells and nn.utils.rnn against torch: outputs, final states,
gradients of inputs, states and every parameter, state_dict keys, reprs, errors; gradcheck
(first and second order) of the fused layer node in float64."""
import warnings

import numpy as np
import pytest

import ember
from tests.helpers import same_error, torch_or_skip

torch = torch_or_skip()


def _copy(e_mod, t_mod):
    """Loads torch's weights into the ember module (state_dicts must have the same keys)."""
    sd = {k: ember.tensor(v.detach().numpy()) for k, v in t_mod.state_dict().items()}
    e_mod.load_state_dict(sd)


def _pair(name, *args, dtype="float32", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_mod = getattr(torch.nn, name)(*args, **kwargs).to(getattr(torch, dtype))
        e_mod = getattr(ember.nn, name)(*args, **kwargs).to(getattr(ember, dtype))
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    for (k, e), (_, t) in zip(e_mod.state_dict().items(), t_mod.state_dict().items()):
        assert tuple(e.shape) == tuple(t.shape), k
    _copy(e_mod, t_mod)
    return e_mod, t_mod


def _flatten(out):
    """Tensors of a module's result, in order (PackedSequence: its data)."""
    if hasattr(out, "batch_sizes"):
        return [out.data]
    if isinstance(out, (tuple, list)):
        return [x for o in out for x in _flatten(o)]
    return [out]


def _compare(e_mod, t_mod, e_args, t_args, atol=2e-5, names=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e_out, t_out = _flatten(e_mod(*e_args)), _flatten(t_mod(*t_args))
    assert len(e_out) == len(t_out)
    for e, t in zip(e_out, t_out):
        assert tuple(e.shape) == tuple(t.shape)
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-4)
        if names:
            assert type(e.grad_fn).__name__ == type(t.grad_fn).__name__
    rng = np.random.default_rng(3)
    gos = [rng.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype) for t in t_out]
    e_leaves = [a for a in _flatten(list(e_args)) if a.requires_grad] + list(e_mod.parameters())
    t_leaves = [a for a in _flatten(list(t_args)) if a.requires_grad] + list(t_mod.parameters())
    e_g = ember.autograd.grad(e_out, e_leaves, [ember.tensor(g) for g in gos], allow_unused=True)
    t_g = torch.autograd.grad(t_out, t_leaves, [torch.tensor(g) for g in gos], allow_unused=True)
    for eg, tg in zip(e_g, t_g):
        np.testing.assert_allclose(eg.numpy(), tg.numpy(), atol=atol * 5, rtol=1e-4)


def _inputs(*shapes, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return ([ember.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers, bidirectional, batch_first, bias", [
    (1, False, False, True), (2, False, False, True), (2, True, False, True),
    (1, True, True, False), (3, False, True, True),
])
def test_layers_match_torch(name, layers, bidirectional, batch_first, bias):
    e_mod, t_mod = _pair(name, 5, 6, layers, bias=bias, batch_first=batch_first,
                         bidirectional=bidirectional)
    shape = (3, 4, 5) if batch_first else (4, 3, 5)
    e_x, t_x = _inputs(shape)
    _compare(e_mod, t_mod, e_x, t_x)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_initial_state(name):
    e_mod, t_mod = _pair(name, 5, 6, 2, bidirectional=True)
    e_x, t_x = _inputs((4, 3, 5), (4, 3, 6), (4, 3, 6), seed=1)
    if name == "LSTM":
        _compare(e_mod, t_mod, [e_x[0], (e_x[1], e_x[2])], [t_x[0], (t_x[1], t_x[2])])
    else:
        _compare(e_mod, t_mod, e_x[:2], t_x[:2])


def test_rnn_relu_and_float64():
    e_mod, t_mod = _pair("RNN", 5, 6, 2, nonlinearity="relu", dtype="float64")
    e_x, t_x = _inputs((4, 3, 5), dtype=np.float64)
    _compare(e_mod, t_mod, e_x, t_x, atol=1e-10)
    e_mod, t_mod = _pair("LSTM", 5, 6, 2, dtype="float64")  # StackBackward0, not oneDNN's node
    _compare(e_mod, t_mod, e_x, t_x, atol=1e-10)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_proj_size(bidirectional):
    e_mod, t_mod = _pair("LSTM", 5, 6, 2, proj_size=3, bidirectional=bidirectional)
    e_x, t_x = _inputs((4, 3, 5), (4 if bidirectional else 2, 3, 3),
                       (4 if bidirectional else 2, 3, 6), seed=2)
    _compare(e_mod, t_mod, [e_x[0]], [t_x[0]])
    _compare(e_mod, t_mod, [e_x[0], (e_x[1], e_x[2])], [t_x[0], (t_x[1], t_x[2])])


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched(name):
    e_mod, t_mod = _pair(name, 5, 6, 2, batch_first=True)
    e_x, t_x = _inputs((4, 5), (2, 6), (2, 6), seed=4)
    _compare(e_mod, t_mod, e_x[:1], t_x[:1])
    if name == "LSTM":
        _compare(e_mod, t_mod, [e_x[0], (e_x[1], e_x[2])], [t_x[0], (t_x[1], t_x[2])])
    else:
        _compare(e_mod, t_mod, e_x[:2], t_x[:2])


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_sequence(name, bidirectional, enforce_sorted):
    e_mod, t_mod = _pair(name, 5, 6, 2, bidirectional=bidirectional)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    e_x, t_x = _inputs((5, 4, 5), seed=5)
    e_p = ember.nn.utils.rnn.pack_padded_sequence(e_x[0], lengths,
                                                  enforce_sorted=enforce_sorted)
    t_p = torch.nn.utils.rnn.pack_padded_sequence(t_x[0], lengths,
                                                  enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(e_p.batch_sizes.numpy(), t_p.batch_sizes.numpy())
    np.testing.assert_array_equal(e_p.data.detach().numpy(), t_p.data.detach().numpy())
    assert type(e_p.data.grad_fn).__name__ == type(t_p.data.grad_fn).__name__
    _compare(e_mod, t_mod, [e_p], [t_p])
    e_out, t_out = e_mod(e_p)[0], t_mod(t_p)[0]
    e_pad, e_len = ember.nn.utils.rnn.pad_packed_sequence(e_out, batch_first=True,
                                                          total_length=6)
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True,
                                                          total_length=6)
    np.testing.assert_allclose(e_pad.detach().numpy(), t_pad.detach().numpy(), atol=2e-5)
    np.testing.assert_array_equal(e_len.numpy(), t_len.numpy())


def test_dropout_between_layers():
    e_mod, _ = _pair("LSTM", 5, 6, 3, dropout=0.5)
    x = ember.randn(4, 3, 5)
    e_mod.eval()
    a = e_mod(x)[0]
    assert ember.equal(a, e_mod(x)[0])  # no dropout in eval mode
    e_mod.train()
    ember.manual_seed(0)
    b = e_mod(x)[0]
    assert not ember.allclose(a, b)


@pytest.mark.parametrize("name, args, kwargs", [
    ("RNN", (5, 7), {}), ("RNN", (5, 7, 2), {"nonlinearity": "relu", "bias": False}),
    ("LSTM", (5, 7, 2), {"dropout": 0.5}), ("LSTM", (5, 7), {"proj_size": 3}),
    ("GRU", (5, 7, 2), {"bidirectional": True, "batch_first": True, "bias": False}),
    ("RNNCell", (5, 7), {"nonlinearity": "relu"}), ("LSTMCell", (5, 7), {}),
    ("GRUCell", (5, 7), {"bias": False}),
])
def test_repr_and_keys(name, args, kwargs):
    e_mod, t_mod = _pair(name, *args, **kwargs)
    assert repr(e_mod) == repr(t_mod)
    params = dict(e_mod.named_parameters())
    # torch's default init: U(-1/sqrt(hidden), 1/sqrt(hidden))
    fresh = getattr(ember.nn, name)(*args, **kwargs)
    bound = 1 / np.sqrt(7)
    for p in fresh.parameters():
        assert np.abs(p.detach().numpy()).max() <= bound
    assert set(params) == set(dict(t_mod.named_parameters()))


def test_all_weights_and_flatten():
    e_mod, t_mod = _pair("LSTM", 5, 6, 2, bidirectional=True, proj_size=2)
    assert [[tuple(p.shape) for p in ps] for ps in e_mod.all_weights] == \
        [[tuple(p.shape) for p in ps] for ps in t_mod.all_weights]
    assert e_mod._flat_weights_names == t_mod._flat_weights_names
    e_mod.flatten_parameters()


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cells_match_torch(name, batched, with_state):
    e_mod, t_mod = _pair(name, 5, 6)
    shapes = [(3, 5), (3, 6), (3, 6)] if batched else [(5,), (6,), (6,)]
    e_x, t_x = _inputs(*shapes, seed=6)
    if not with_state:
        _compare(e_mod, t_mod, e_x[:1], t_x[:1])
    elif name == "LSTMCell":
        _compare(e_mod, t_mod, [e_x[0], (e_x[1], e_x[2])], [t_x[0], (t_x[1], t_x[2])])
    else:
        _compare(e_mod, t_mod, e_x[:2], t_x[:2])


@pytest.mark.parametrize("call", [
    lambda m: m.nn.LSTM(5, 6, dropout=1.5),
    lambda m: m.nn.LSTM(5, 0),
    lambda m: m.nn.LSTM(5, 6, 0),
    lambda m: m.nn.LSTM(5, 6, proj_size=6),
    lambda m: m.nn.LSTM(5, 6, proj_size=-1),
    lambda m: m.nn.GRU(5, 6, proj_size=2),
    lambda m: m.nn.RNN(5, 6, nonlinearity="sigmoid"),
    lambda m: m.nn.LSTM(5, 6)(m.zeros(4, 3, 4)),
    lambda m: m.nn.LSTM(5, 6)(m.zeros(4, 4)),
    lambda m: m.nn.LSTM(5, 6)(m.zeros(2, 4, 3, 5)),
    lambda m: m.nn.LSTM(5, 6)(m.zeros(4, 3, 5), (m.zeros(1, 2, 6), m.zeros(1, 3, 6))),
    lambda m: m.nn.LSTM(5, 6)(m.zeros(4, 3, 5), (m.zeros(1, 3, 6), m.zeros(1, 3, 5))),
    lambda m: m.nn.GRU(5, 6, 2)(m.zeros(4, 3, 5), m.zeros(1, 3, 6)),
    lambda m: m.nn.GRU(5, 6)(m.zeros(4, 3, 5), m.zeros(3, 6)),
    lambda m: m.nn.LSTMCell(5, 6)(m.zeros(2, 3, 5)),
    lambda m: m.nn.LSTM(3, 4)(m.zeros(5, 2, 3, dtype=m.float64)),
    lambda m: m.nn.GRU(3, 4)(m.zeros(5, 2, 3, dtype=m.int64)),
    lambda m: m.nn.LSTM(3, 4)(m.zeros(5, 2, 3), m.zeros(1, 2, 4)),
    lambda m: m.nn.LSTMCell(3, 4)(m.zeros(2, 3), (m.zeros(2, 4), m.zeros(3, 4))),
    lambda m: m.nn.LSTMCell(3, 4)(m.zeros(2, 3), (m.zeros(2, 4), m.zeros(2, 5))),
    lambda m: m.nn.GRUCell(3, 4)(m.zeros(2, 3), m.zeros(3, 4)),
    lambda m: m.nn.RNNCell(3, 4)(m.zeros(2, 4)),
    lambda m: m.nn.GRUCell(5, 6)(m.zeros(3, 4)),
    lambda m: m.nn.utils.rnn.pack_padded_sequence(m.zeros(4, 3, 5), [2, 4, 1]),
    lambda m: m.nn.utils.rnn.pack_padded_sequence(m.zeros(4, 3, 5), [4, 2, 0]),
    lambda m: m.nn.utils.rnn.pad_packed_sequence(
        m.nn.utils.rnn.pack_padded_sequence(m.zeros(4, 3, 5), [4, 2, 1]), total_length=2),
])
def test_errors(call):
    same_error(call)


def test_dropout_warning():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        ember.nn.GRU(5, 6, dropout=0.2)


def test_pad_and_pack_sequence():
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((n, 2)).astype(np.float32) for n in (2, 4, 1)]
    for batch_first in (False, True):
        for side in ("right", "left"):
            e = ember.nn.utils.rnn.pad_sequence([ember.tensor(a) for a in arrays], batch_first,
                                                -1.0, side)
            t = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in arrays], batch_first,
                                                -1.0, side)
            np.testing.assert_array_equal(e.numpy(), t.numpy())
    e_p = ember.nn.utils.rnn.pack_sequence([ember.tensor(a) for a in arrays],
                                           enforce_sorted=False)
    t_p = torch.nn.utils.rnn.pack_sequence([torch.tensor(a) for a in arrays],
                                           enforce_sorted=False)
    for field in ("data", "batch_sizes", "sorted_indices", "unsorted_indices"):
        np.testing.assert_array_equal(getattr(e_p, field).numpy(), getattr(t_p, field).numpy())
    e_pad, e_len = ember.nn.utils.rnn.pad_packed_sequence(e_p, padding_value=9.0)
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_p, padding_value=9.0)
    np.testing.assert_array_equal(e_pad.numpy(), t_pad.numpy())
    np.testing.assert_array_equal(e_len.numpy(), t_len.numpy())
    for e, a in zip(ember.nn.utils.rnn.unpack_sequence(e_p), arrays):
        np.testing.assert_array_equal(e.numpy(), a)
    small = ember.nn.utils.rnn.pack_sequence([ember.tensor([1.0, 2.0]), ember.tensor([3.0])])
    assert repr(small) == repr(torch.nn.utils.rnn.pack_sequence(
        [torch.tensor([1.0, 2.0]), torch.tensor([3.0])])).replace("torch", "ember")


def test_pack_padded_gradient():
    e_x, t_x = _inputs((4, 3, 2), seed=8)
    e = ember.nn.utils.rnn.pack_padded_sequence(e_x[0], [4, 2, 1]).data
    t = torch.nn.utils.rnn.pack_padded_sequence(t_x[0], [4, 2, 1]).data
    g = np.random.default_rng(0).standard_normal(tuple(t.shape)).astype(np.float32)
    e.backward(ember.tensor(g))
    t.backward(torch.tensor(g))
    np.testing.assert_array_equal(e_x[0].grad.numpy(), t_x[0].grad.numpy())


# -- gradcheck of the fused layer node (float64, first and second order) ---------------------------


def _gradcheck_module(mod, *shapes, packed=None, second=True):
    mod = mod.double()
    rng = np.random.default_rng(9)
    xs = [ember.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    params = list(mod.parameters())

    def f(*args):
        inputs = list(args[:len(xs)])
        if packed is not None:
            inputs[0] = ember.nn.utils.rnn.pack_padded_sequence(inputs[0], packed)
        if isinstance(mod, ember.nn.LSTM) and len(inputs) == 3:
            inputs = [inputs[0], (inputs[1], inputs[2])]
        out = _flatten(mod(*inputs))
        return tuple(out)

    assert ember.autograd.gradcheck(f, xs + params, atol=1e-5, rtol=1e-3)
    if second:
        assert ember.autograd.gradgradcheck(f, xs + params, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_gradcheck(name):
    mod = getattr(ember.nn, name)(3, 2, 1, bidirectional=True)
    _gradcheck_module(mod, (3, 2, 3), (2, 2, 2), *([(2, 2, 2)] if name == "LSTM" else []))


def test_gradcheck_lstm_proj_and_relu_rnn():
    _gradcheck_module(ember.nn.LSTM(3, 3, proj_size=2), (3, 2, 3))
    _gradcheck_module(ember.nn.RNN(3, 2, 2, nonlinearity="relu"), (3, 2, 3))


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_gradcheck_packed(name):
    _gradcheck_module(getattr(ember.nn, name)(2, 2, bidirectional=True), (3, 3, 2),
                      packed=[3, 2, 1])


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_gradcheck_cells(name):
    mod = getattr(ember.nn, name)(3, 2)
    _gradcheck_module(mod, (2, 3), (2, 2), second=True) if name != "LSTMCell" else \
        _gradcheck_module(mod, (2, 3))


def test_packed_with_state_projection_and_unsorted():
    e_mod, t_mod = _pair("LSTM", 5, 6, 2, proj_size=3, bidirectional=True)
    e_x, t_x = _inputs((5, 4, 5), (4, 4, 3), (4, 4, 6), seed=5)
    lengths = [3, 5, 1, 3]
    e_p = ember.nn.utils.rnn.pack_padded_sequence(e_x[0], lengths, enforce_sorted=False)
    t_p = torch.nn.utils.rnn.pack_padded_sequence(t_x[0], lengths, enforce_sorted=False)
    _compare(e_mod, t_mod, [e_p, (e_x[1], e_x[2])], [t_p, (t_x[1], t_x[2])], names=False)
    e_mod, t_mod = _pair("GRU", 5, 6, 2, batch_first=True)
    e_x, t_x = _inputs((4, 5, 5), (2, 4, 6), seed=6)
    e_p = ember.nn.utils.rnn.pack_padded_sequence(e_x[0], lengths, batch_first=True,
                                                  enforce_sorted=False)
    t_p = torch.nn.utils.rnn.pack_padded_sequence(t_x[0], lengths, batch_first=True,
                                                  enforce_sorted=False)
    _compare(e_mod, t_mod, [e_p, e_x[1]], [t_p, t_x[1]], names=False)


def test_torch_checkpoint_loads(tmp_path):
    t_mod = torch.nn.LSTM(4, 5, 2, bidirectional=True, proj_size=3)
    path = tmp_path / "lstm.pt"
    torch.save(t_mod.state_dict(), path)
    e_mod = ember.nn.LSTM(4, 5, 2, bidirectional=True, proj_size=3)
    e_mod.load_state_dict(ember.load(path))
    x = np.random.default_rng(1).standard_normal((3, 2, 4)).astype(np.float32)
    with torch.no_grad(), ember.no_grad():
        np.testing.assert_allclose(e_mod(ember.tensor(x))[0].numpy(),
                                   t_mod(torch.tensor(x))[0].numpy(), atol=2e-5)
