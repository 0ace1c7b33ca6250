"""Work on a tensor of a GPU other than the current one runs on that GPU (torch's device guard):
CuPy runs kernels, and allocates, on the current GPU, and refuses arrays of another one (the
fake device refuses them too, in strict mode)."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn, optim


def _on(t, index: int = 1) -> None:
    assert t.device == ember.device("cuda", index), t.device


def test_ops_forward_and_backward(fake_cuda):
    assert ember.cuda.current_device() == 0
    x = ember.ones(3, device="cuda:1", requires_grad=True)
    y = (x * 2).exp().sum()
    _on(y)
    y.backward()
    _on(x.grad)
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * np.exp(2.0) * np.ones(3), rtol=1e-6)
    assert ember.cuda.current_device() == 0  # the guard restores the current GPU


def test_double_backward(fake_cuda):
    x = ember.tensor([1.0, 2.0], device="cuda:1", requires_grad=True)
    (g,) = ember.autograd.grad((x ** 3).sum(), x, create_graph=True)
    _on(g)
    g.sum().backward()
    _on(x.grad)
    np.testing.assert_allclose(x.grad.cpu().numpy(), [6.0, 12.0])


def test_factories_like_and_random(fake_cuda):
    x = ember.zeros(2, 3, device="cuda:1")
    for t in (ember.ones_like(x), ember.zeros_like(x), ember.full_like(x, 3.0),
              ember.rand_like(x), ember.randn_like(x), ember.empty_like(x), x.new_ones(2),
              x.new_zeros(2), x.new_full((2,), 1.0), x.new_tensor([1.0]), x.clone()):
        _on(t)


@pytest.mark.parametrize("opt", ["sgd", "adam", "adamw", "rmsprop"])
def test_training_step(fake_cuda, opt):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to("cuda:1")
    kw = {"sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}}.get(opt, {"lr": 1e-2})
    o = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW,
         "rmsprop": optim.RMSprop}[opt](model.parameters(), **kw)
    x = ember.randn(5, 4, device="cuda:1")
    t = ember.tensor([0, 1, 2, 0, 1], device="cuda:1")
    losses = []
    for _ in range(3):
        o.zero_grad()
        loss = nn.functional.cross_entropy(model(x), t)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        o.step()
        losses.append(loss.item())
    for p in model.parameters():
        _on(p)
        _on(p.grad)
    assert losses[-1] < losses[0]
    assert ember.cuda.current_device() == 0


def test_inplace_and_setitem(fake_cuda):
    x = ember.zeros(4, device="cuda:1")
    x.add_(1.0).mul_(3.0)
    x[1] = 5.0
    x.sub_(ember.ones(4, device="cuda:1"))
    x.zero_()
    x.fill_(2.0)
    x.copy_(ember.arange(4.0))
    _on(x)
    np.testing.assert_allclose(x.cpu().numpy(), [0.0, 1.0, 2.0, 3.0])
    w = ember.ones(3, device="cuda:1", requires_grad=True)
    with ember.no_grad():
        w.mul_(2.0)
        w -= 0.5 * ember.ones(3, device="cuda:1")
    _on(w)
    np.testing.assert_allclose(w.detach().cpu().numpy(), [1.5, 1.5, 1.5])


def test_model_parallel_across_gpus(fake_cuda):
    """Two halves of a model on two GPUs, the activation moved between them (torch's model
    parallel): each half computes, and takes its gradients, on its own GPU."""
    ember.manual_seed(0)
    a, b = nn.Linear(4, 4).to("cuda:0"), nn.Linear(4, 2).to("cuda:1")
    x = ember.randn(3, 4, device="cuda:0")
    out = b(a(x).relu().to("cuda:1"))
    _on(out)
    out.sum().backward()
    _on(a.weight.grad, 0)
    _on(b.weight.grad, 1)
    ref_a, ref_b = nn.Linear(4, 4, device="cpu"), nn.Linear(4, 2, device="cpu")
    ref_a.load_state_dict({k: v.cpu() for k, v in a.state_dict().items()})
    ref_b.load_state_dict({k: v.cpu() for k, v in b.state_dict().items()})
    ref_b(ref_a(x.cpu()).relu()).sum().backward()
    np.testing.assert_allclose(a.weight.grad.cpu().numpy(), ref_a.weight.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.weight.grad.cpu().numpy(), ref_b.weight.grad.numpy(), rtol=1e-6)


def test_conv_net_amp_and_io(fake_cuda, tmp_path):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 2)).to("cuda:1")
    o = optim.SGD(model.parameters(), lr=0.1)
    scaler = ember.amp.GradScaler("cuda")
    x = ember.randn(2, 3, 4, 4, device="cuda:1")
    with ember.autocast("cuda"):
        loss = model(x).float().pow(2).mean()
    scaler.scale(loss).backward()
    scaler.step(o)
    scaler.update()
    for p in model.parameters():
        _on(p)
    _on(model[1].running_mean)
    if ember.get_default_device() != ember.device("cuda:1"):  # (torch names a non-default one)
        assert "device='cuda:1'" in repr(loss)
    assert ember.cuda.current_device() == 0
    ember.save(model.state_dict(), tmp_path / "m.pt")
    state = ember.load(tmp_path / "m.pt")
    _on(state["0.weight"])
    np.testing.assert_array_equal(state["0.weight"].cpu().numpy(),
                                  model[0].weight.detach().cpu().numpy())


def test_sequence_models(fake_cuda):
    ember.manual_seed(0)
    emb, lstm = nn.Embedding(10, 4).to("cuda:1"), nn.LSTM(4, 5, batch_first=True).to("cuda:1")
    out, _ = lstm(emb(ember.tensor([[1, 2, 3]], device="cuda:1")))
    _on(out)
    out.sum().backward()
    _on(emb.weight.grad)
    _on(lstm.weight_hh_l0.grad)


def test_each_gpu_draws_from_its_own_generator(fake_cuda):
    """torch's generators: one per GPU, apart from the CPU's; ``manual_seed`` seeds them all,
    ``cuda.manual_seed`` the current GPU's only."""
    def draw():
        return (ember.randn(4, device="cuda:1").cpu().numpy(), ember.randn(4, device="cpu").numpy(),
                ember.rand(2, device="cuda:0").cpu().numpy())

    ember.manual_seed(3)
    first = draw()
    ember.manual_seed(3)
    cpu_only = ember.randn(4, device="cpu").numpy()
    np.testing.assert_array_equal(cpu_only, first[1])  # the GPUs' draws left the CPU's alone
    ember.manual_seed(3)
    again = draw()
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    ember.manual_seed(3)
    ember.cuda.manual_seed(7)  # the current GPU (0) only
    other = draw()
    np.testing.assert_array_equal(other[0], first[0])
    np.testing.assert_array_equal(other[1], first[1])
    assert not np.array_equal(other[2], first[2])
    ember.cuda.manual_seed_all(3)
    g1 = ember.cuda.default_generators[1]
    state = g1.get_state()
    x = ember.randn(3, device="cuda:1")
    g1.set_state(state)
    np.testing.assert_array_equal(ember.randn(3, device="cuda:1").cpu().numpy(), x.cpu().numpy())
    y = ember.empty(5, device="cuda:1")
    ember.cuda.manual_seed_all(1)
    a = y.normal_().cpu().numpy()
    ember.cuda.manual_seed_all(1)
    np.testing.assert_array_equal(y.normal_().cpu().numpy(), a)
    ember.manual_seed(5)
    keep = nn.functional.dropout(ember.ones(1000, device="cuda:1"), 0.5).cpu().numpy()
    ember.manual_seed(5)
    np.testing.assert_array_equal(
        nn.functional.dropout(ember.ones(1000, device="cuda:1"), 0.5).cpu().numpy(), keep)
    assert 300 < np.count_nonzero(keep) < 700


def test_fork_rng_restores_the_gpus_generators(fake_cuda):
    ember.manual_seed(2)
    with ember.random.fork_rng():
        inside = ember.randn(3, device="cuda:1").cpu().numpy()
    np.testing.assert_array_equal(ember.randn(3, device="cuda:1").cpu().numpy(), inside)


def test_cpu_work_after_the_guard_is_installed(fake_cuda):
    """Once a second GPU was used, the CPU's tensors (NumPy scalars among their gradients
    included) go through the guarded functions untouched."""
    ember.ones(1, device="cuda:1")
    assert ember._device_guard._installed[0]
    x = ember.tensor([1.0, 2.0], dtype=ember.float64, device="cpu", requires_grad=True)
    (g,) = ember.autograd.grad(ember.linalg.det(ember.diag(x)), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 1.0])
    y = ember.tensor(3.0, device="cpu", requires_grad=True)
    (y * y).backward()
    assert y.grad.item() == 6.0


def test_copy_and_pickle_keep_the_gpu(fake_cuda):
    import copy
    import pickle

    t = ember.tensor([1.0, 2.0], device="cuda:1")
    p = nn.Parameter(ember.ones(2, device="cuda:1"))
    for c in (copy.copy(t), copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        _on(c)
        assert c.tolist() == [1.0, 2.0]
    for c in (copy.copy(p), copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        _on(c)
        assert type(c) is nn.Parameter and c.tolist() == [1.0, 1.0]
