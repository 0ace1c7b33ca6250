"""ember.bfloat16 (ml_dtypes' NumPy type) against torch.bfloat16: promotion, arithmetic and its
rounding, reductions (accumulated in float32), repr, conversions, autograd, checkpoints that keep
bf16 as bf16 (torch.save, ember.save, safetensors), and float8 as storage dtypes."""
import numpy as np
import pytest

import ember
from helpers import same_error, torch_or_skip

torch = torch_or_skip()
R = np.random.default_rng(0)
VALS = [1.5, 2.25, 3.1415926, 1e-3, 65504.0, 3e38, -0.0, -7.125]


def _pair(vals=VALS, dtype="bfloat16"):
    return (ember.tensor(vals, dtype=getattr(ember, dtype)),
            torch.tensor(vals, dtype=getattr(torch, dtype)))


def _same(e, t):
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1], (e.dtype, t.dtype)
    np.testing.assert_array_equal(e.detach().float().numpy(), t.detach().float().numpy())


@pytest.mark.parametrize("other", ["float16", "float32", "float64", "int64", "uint8", "bool",
                                   "complex64", "complex128", "bfloat16"])
def test_promotion(other):
    e = ember.promote_types(ember.bfloat16, getattr(ember, other))
    t = torch.promote_types(torch.bfloat16, getattr(torch, other))
    assert str(e).split(".")[1] == str(t).split(".")[1]


@pytest.mark.parametrize("op", [
    lambda a, m: a * 2.5, lambda a, m: a + 1, lambda a, m: a / 3, lambda a, m: a - a * 0.1,
    lambda a, m: -a, lambda a, m: a.exp(), lambda a, m: a.abs().sqrt(), lambda a, m: a * a,
    lambda a, m: a.sum(), lambda a, m: a.mean(), lambda a, m: a.max(), lambda a, m: a.tanh(),
    lambda a, m: a + m.ones(8, dtype=m.float16), lambda a, m: a * m.ones(8),
    lambda a, m: a + m.arange(8), lambda a, m: m.maximum(a, a.flip(0)),
])
def test_arithmetic_rounds_as_torch(op):
    e, t = _pair()
    with np.errstate(all="ignore"):
        _same(op(e, ember), op(t, torch))


def test_repr_and_conversions():
    for vals in (VALS, [1.0, 2.0], 1.5, [[0.1, 200.0]]):
        e, t = _pair(vals)
        assert repr(e) == repr(t).replace("torch.", "ember.")
    x = R.standard_normal(5).astype(np.float32)
    _same(ember.tensor(x).bfloat16(), torch.tensor(x).bfloat16())
    _same(ember.tensor(x).to(ember.bfloat16).float(), torch.tensor(x).to(torch.bfloat16).float())
    _same(ember.tensor(x).to(ember.bfloat16).double(), torch.tensor(x).bfloat16().double())
    e, t = _pair()
    assert e.is_floating_point() and e.element_size() == 2 and e.dtype.itemsize == 2
    assert repr(ember.bfloat16) == "ember.bfloat16" and ember.bfloat16.is_floating_point
    _same(ember.zeros(3, dtype=ember.bfloat16), torch.zeros(3, dtype=torch.bfloat16))


def test_autograd():
    e = ember.tensor([0.5, 1.5, -2.0], dtype=ember.bfloat16, requires_grad=True)
    t = torch.tensor([0.5, 1.5, -2.0], dtype=torch.bfloat16, requires_grad=True)
    (e * e * 3).sum().backward()
    (t * t * 3).sum().backward()
    _same(e.grad, t.grad)


def test_checkpoints_keep_bfloat16(tmp_path):
    sd = {"w": torch.randn(3, 4).bfloat16(), "b": torch.randn(4).bfloat16()}
    torch.save(sd, tmp_path / "t.pt")
    loaded = ember.load(tmp_path / "t.pt")
    for k in sd:
        _same(loaded[k], sd[k])
    ember.save(loaded, tmp_path / "e.pt")
    back = torch.load(tmp_path / "e.pt", weights_only=True)
    for k in sd:
        assert back[k].dtype is torch.bfloat16 and torch.equal(back[k], sd[k])
    ember.save(loaded, tmp_path / "e.safetensors")
    again = ember.load(tmp_path / "e.safetensors")
    for k in sd:
        _same(again[k], sd[k])


def test_complex_checkpoints(tmp_path):
    sd = {"z": torch.randn(3, dtype=torch.complex64), "c": torch.randn(2, dtype=torch.complex128)}
    torch.save(sd, tmp_path / "t.pt")
    loaded = ember.load(tmp_path / "t.pt")
    for k in sd:
        np.testing.assert_array_equal(loaded[k].numpy(), sd[k].numpy())
    ember.save(loaded, tmp_path / "e.pt")
    back = torch.load(tmp_path / "e.pt", weights_only=True)
    for k in sd:
        assert back[k].dtype == sd[k].dtype and torch.equal(back[k], sd[k])


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
                                  "float8_e5m2fnuz"])
def test_float8_storage(name):
    x = R.standard_normal(6).astype(np.float32)
    e = ember.tensor(x).to(getattr(ember, name))
    t = torch.tensor(x).to(getattr(torch, name))
    assert str(e.dtype).split(".")[1] == name
    np.testing.assert_array_equal(e.float().numpy(), t.float().numpy())
    assert repr(getattr(ember, name)) == f"ember.{name}"
    same_error(lambda m: m.promote_types(getattr(m, name), m.float32))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "log", "sqrt", "sin", "erf", "expm1",
                                  "log1p", "reciprocal", "softmax", "relu", "silu", "softplus",
                                  "elu", "mish", "matmul", "linear"])
def test_float_ops_compute_in_float32_and_round_once(name):
    x = np.abs(R.standard_normal((4, 50)) * 3) + 0.01
    e, t = ember.tensor(x, dtype=ember.bfloat16), torch.tensor(x, dtype=torch.bfloat16)

    def run(m, a):
        if name == "softmax":
            return m.softmax(a, -1)
        if name == "matmul":
            return a @ a.mT
        if name == "linear":
            return m.nn.functional.linear(a, a[:3], a[0, :3])
        if hasattr(m, name):
            return getattr(m, name)(a)
        return getattr(m.nn.functional, name)(a)

    _same(run(ember, e), run(torch, t))


def test_module_bfloat16():
    ember.manual_seed(0)
    lin = ember.nn.Linear(4, 3).bfloat16()
    assert lin.weight.dtype is ember.bfloat16 and lin.bias.dtype is ember.bfloat16
    x = ember.ones(2, 4, dtype=ember.bfloat16, requires_grad=True)
    lin(x).float().sum().backward()
    assert x.grad.dtype is ember.bfloat16 and lin.weight.grad.dtype is ember.bfloat16


def test_normalisation_layers():
    x = R.standard_normal((4, 8))
    for m_fn in (lambda m, a: m.nn.functional.layer_norm(a, (8,)),
                 lambda m, a: m.nn.functional.group_norm(a, 2),
                 lambda m, a: m.nn.BatchNorm1d(8).bfloat16()(a)):
        e = m_fn(ember, ember.tensor(x, dtype=ember.bfloat16, requires_grad=True))
        t = m_fn(torch, torch.tensor(x, dtype=torch.bfloat16, requires_grad=True))
        # (torch's bf16 kernels round some intermediates to bf16; ember's round once: within
        # a couple of bf16 steps)
        assert e.dtype is ember.bfloat16
        np.testing.assert_allclose(e.detach().float().numpy(), t.detach().float().numpy(),
                                   rtol=2e-2, atol=2e-2)
        e.float().sum().backward()  # (gradients: float32 inside, bf16 out)
