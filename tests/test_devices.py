"""Device semantics as torch's on CUDA: factories' ``device=``, ``to``/``cuda``/``cpu`` recorded for
autograd, the mixed-device error, ``Module.to``, state dicts and checkpoints across devices. Run on
the fake CUDA device (tests/device/fakecupy.py: CuPy's API over NumPy, strict about host data), so
they need no GPU; torch's CPU build is the oracle for values and messages."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import torch_or_skip

import ember
from ember import nn

torch = torch_or_skip()


@pytest.fixture
def cuda(fake_cuda):
    """The fake CUDA device for one test (tests/conftest.py's ``fake_cuda``)."""
    return fake_cuda


def _a(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.host_only  # (the CPU as the default device; the tests' own numpy())
def test_factories_place_tensors(cuda):
    x = ember.zeros(2, 3, device="cuda")
    assert x.device == ember.device("cuda", 0) and x.is_cuda and x.get_device() == 0
    assert ember.ones(2, device="cuda:1").device == ember.device("cuda:1")
    assert ember.tensor([1.0, 2.0], device=ember.device("cuda", 1)).get_device() == 1
    assert ember.arange(4, device="cuda").is_cuda and ember.eye(2, device="cuda").is_cuda
    assert ember.randn(3, device="cuda").is_cuda and ember.full((2,), 7, device="cuda").is_cuda
    # *_like and new_* keep the input's device unless told otherwise
    assert ember.zeros_like(x).is_cuda and x.new_ones(2).is_cuda and x.new_tensor([1]).is_cuda
    assert not ember.zeros_like(x, device="cpu").is_cuda
    assert ember.rand_like(x).is_cuda and not ember.zeros(1).is_cuda
    assert repr(ember.tensor([1.5], device="cuda")) == "tensor([1.5000], device='cuda:0')"


@pytest.mark.host_only  # (the CPU as the default device; the tests' own numpy())
def test_default_device_and_context(cuda):
    ember.set_default_device("cuda")
    try:
        assert ember.get_default_device() == ember.device("cuda", 0)
        assert ember.zeros(1).is_cuda and ember.tensor(2.0).is_cuda
        assert repr(ember.tensor([1.0])) == "tensor([1.])"  # the default device is not printed
    finally:
        ember.set_default_device(None)
    with ember.device("cuda:1"):
        assert ember.ones(1).get_device() == 1
    assert not ember.ones(1).is_cuda


@pytest.mark.host_only  # (the CPU as the default device; the tests' own numpy())
def test_numpy_of_a_device_tensor_is_refused(cuda):
    x = ember.ones(2, device="cuda")
    message = ("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the "
               "tensor to host memory first.")
    with pytest.raises(TypeError) as e:
        x.numpy()
    assert str(e.value) == message
    with pytest.raises(TypeError):
        np.asarray(x)
    assert x.cpu().numpy().tolist() == [1.0, 1.0] and x.tolist() == [1.0, 1.0]
    assert x.sum().item() == 2.0 and bool(x[0] == 1) and float(x[1]) == 1.0


def test_mixed_devices(cuda):
    x = ember.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device, but "
                                           "found at least two devices, cuda:0 and cpu!"):
        x + ember.ones(2, device="cpu")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x + ember.ones(2, device="cuda:1")
    # a 0-d CPU tensor is taken as a scalar next to CUDA tensors, as in torch
    y = x * ember.tensor(3.0, device="cpu")
    assert y.is_cuda and y.tolist() == [3.0, 3.0] and y.dtype is ember.float32
    assert (x * ember.tensor(3, dtype=ember.float64, device="cpu")).dtype is ember.float32


def test_to_cuda_cpu_are_recorded(cuda):
    a = _a(3, 4)
    for m in (ember, torch):
        x = m.tensor(a, requires_grad=True, device="cpu")
        if m is ember:
            y = x.cuda()
            assert y.is_cuda and type(y.grad_fn).__name__ == "ToCopyBackward0"
            assert y.cuda() is y and x.cpu() is x and x.to("cpu") is x
            z = (y * y).sum(1).cpu()
            assert not z.is_cuda and type(z.grad_fn).__name__ == "ToCopyBackward0"
        else:
            z = (x * x).sum(1)
        z.sum().backward()
        if m is ember:
            got = x.grad
        else:
            want = x.grad
    assert not got.is_cuda
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    # a dtype and a device at once, and a copy of a copy across devices
    w = ember.tensor(a).to("cuda:1", ember.float64)
    assert w.get_device() == 1 and w.dtype is ember.float64
    assert w.to("cuda:0").get_device() == 0 and w.to(ember.ones(1, device="cuda")).get_device() == 0


def test_double_backward_through_device_copies(cuda):
    x = ember.tensor([0.5, -1.5], dtype=ember.float64, requires_grad=True, device="cpu")
    y = (x.cuda() ** 3).sum()
    (g,) = ember.autograd.grad(y, x, create_graph=True)
    assert not g.is_cuda
    (gg,) = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * np.array([0.5, -1.5]))


def test_module_to_keeps_parameters_and_trains(cuda):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    cpu_model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).cpu()
    cpu_model.load_state_dict(model.state_dict())
    w = model[0].weight
    assert model.to("cuda") is model and model[0].weight is w and w.is_cuda
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    cpu_opt = ember.optim.SGD(cpu_model.parameters(), lr=0.1, momentum=0.9)
    x, t = _a(5, 4), np.array([0, 1, 1, 0, 1])
    for _ in range(3):
        losses = []
        for m, o, dev in ((model, opt, "cuda"), (cpu_model, cpu_opt, "cpu")):
            o.zero_grad()
            loss = nn.functional.cross_entropy(m(ember.tensor(x, device=dev)),
                                               ember.tensor(t, device=dev))
            loss.backward()
            o.step()
            losses.append(loss.item())
        assert losses[0] == losses[1]
    assert model[0].weight.grad.is_cuda
    assert model.cpu() is model and not model[0].weight.is_cuda
    np.testing.assert_array_equal(model[0].weight.detach().numpy(),
                                  cpu_model[0].weight.detach().numpy())
    assert model.cuda(1)[0].weight.get_device() == 1


def test_state_dicts_across_devices(cuda):
    src = nn.Linear(3, 2, device="cpu")
    dst = nn.Linear(3, 2).cuda()
    dst.load_state_dict(src.state_dict())  # a CPU state_dict into a CUDA model
    assert dst.weight.is_cuda
    np.testing.assert_array_equal(dst.weight.detach().cpu().numpy(), src.weight.detach().numpy())
    back = nn.Linear(3, 2, device="cpu")
    back.load_state_dict(dst.state_dict())
    assert not back.weight.is_cuda
    p = dst.weight
    p.data.copy_(ember.zeros(2, 3))  # copy_ from the host into device memory, in place
    assert p.is_cuda and p.abs().sum().item() == 0


def test_checkpoints_across_devices(cuda, tmp_path):
    a = _a(2, 3)
    path = tmp_path / "dev.pt"
    ember.save({"w": ember.tensor(a, device="cuda"), "b": ember.tensor(a[0], device="cpu")}, path)
    # torch reads the file: the storage is tagged with its device, mapped back by torch's
    # map_location on a machine without CUDA
    t = torch.load(path, map_location="cpu")
    np.testing.assert_array_equal(t["w"].numpy(), a)
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(path)  # (torch's CPU build: the storage says cuda:0)
    e = ember.load(path)  # CUDA is available here: back to the GPU
    assert e["w"].is_cuda and not e["b"].is_cuda
    np.testing.assert_array_equal(e["w"].cpu().numpy(), a)
    assert not ember.load(path, map_location="cpu")["w"].is_cuda
    assert ember.load(path, map_location="cuda:1")["b"].get_device() == 1
    assert ember.load(path, map_location={"cuda:0": "cpu"})["w"].device.type == "cpu"
    torch.save({"w": torch.tensor(a)}, tmp_path / "cpu.pt")
    assert ember.load(tmp_path / "cpu.pt", map_location="cuda")["w"].is_cuda


def test_generators_and_sampling_on_the_device(cuda):
    ember.manual_seed(3)
    host = ember.randn(4)
    ember.manual_seed(3)
    dev = ember.randn(4, device="cuda")
    # samples come from the host generator on every device: one seed, the same values
    np.testing.assert_array_equal(dev.cpu().numpy(), host.numpy())
    p = ember.full((1000,), 0.25, device="cuda")
    draws = ember.bernoulli(p)
    assert draws.is_cuda and 150 < draws.sum().item() < 350
    x = ember.ones(64, 64, device="cuda")
    d = nn.functional.dropout(x, 0.5)
    assert d.is_cuda and set(np.unique(d.cpu().numpy())) <= {0.0, 2.0}
    assert ember.multinomial(ember.tensor([0.0, 1.0], device="cuda"), 2, True).tolist() == [1, 1]
    assert ember.Generator("cuda").device == ember.device("cuda")


def test_sync_debug_mode_sees_the_cores_reads(cuda):
    x = ember.ones(3, device="cuda")
    ember.cuda.set_sync_debug_mode("error")
    try:
        y = (x * 2).sum()  # a step's arithmetic reads nothing back
        for read in (lambda: y.item(), lambda: x.tolist(), lambda: bool(y > 0), lambda: float(y),
                     lambda: x.cpu()):
            with pytest.raises(RuntimeError, match="^called a synchronizing CUDA operation$"):
                read()
        ember.cuda.set_sync_debug_mode("warn")
        with pytest.warns(UserWarning, match="synchronizing"):
            assert y.item() == 6.0
    finally:
        ember.cuda.set_sync_debug_mode("default")
    assert y.item() == 6.0


@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "AdamW"])
def test_a_training_step_reads_nothing_back(cuda, optimizer):
    """A CNN step (conv, batch norm, pooling, dropout, layer norm, GELU, cross-entropy, gradient
    clipping, the optimizer) runs without a device-to-host read, except the one torch also
    makes a failure of: cross-entropy's check that the targets are class indices."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, stride=2), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Dropout(0.1), nn.Linear(8, 10), nn.LayerNorm(10),
                          nn.GELU()).cuda()
    kw = {"momentum": 0.9} if optimizer == "SGD" else {}
    opt = getattr(ember.optim, optimizer)(model.parameters(), lr=0.01, **kw)
    x = ember.randn(4, 3, 16, 16, device="cuda")
    y = ember.randint(0, 10, (4,), device="cuda")
    for _ in range(2):
        cuda.reset_findings()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        syncs = cuda.findings().get("sync", {})
        assert sum(syncs.values()) == 1 and all("nn/functional.py" in s for s in syncs), syncs
        loss.item()
        assert sum(cuda.findings()["sync"].values()) == 2


def test_optimizer_state_follows_its_parameters(cuda):
    model = nn.Linear(3, 2, device="cpu")
    opt = ember.optim.Adam(model.parameters(), lr=0.1)
    model(ember.ones(1, 3, device="cpu")).sum().backward()
    opt.step()
    saved = opt.state_dict()
    model.cuda()
    again = ember.optim.Adam(model.parameters(), lr=0.1)
    again.load_state_dict(saved)  # a CPU state into an optimizer of CUDA parameters
    state = again.state[model.weight]
    assert state["exp_avg"].is_cuda and state["exp_avg_sq"].is_cuda
    assert not state["step"].is_cuda  # torch keeps step counters on the host
    model(ember.ones(1, 3, device="cuda")).sum().backward()
    again.step()
    assert model.weight.is_cuda and again.state[model.weight]["step"].item() == 2


def test_pinned_host_memory(cuda):
    x = ember.arange(6.0, device="cpu").reshape(2, 3)
    p = x.pin_memory()
    assert p.is_pinned() and not x.is_pinned() and not p.is_cuda
    np.testing.assert_array_equal(p.numpy(), x.numpy())
    assert p.cuda(non_blocking=True).tolist() == x.tolist()
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        ember.ones(2, device="cuda").pin_memory()


def test_models_built_on_the_cpu_run_on_cuda(cuda):
    """The usual torch program: modules built on the CPU (the default device), moved with
    ``.to("cuda")``, fed CUDA tensors. Whatever a forward or backward makes for itself (initial
    states, masks, padding, noise, index ranges) must be made on its inputs' device."""
    ember.set_default_device(None)
    ember.manual_seed(0)
    x = ember.randn(5, 3, 8, device="cuda")
    tokens = ember.randint(0, 10, (5, 3), device="cuda")
    image = ember.randn(2, 3, 10, 10, device="cuda")
    cases = [
        (nn.LSTM(8, 6, num_layers=2, bidirectional=True), lambda m: m(x)[0]),
        (nn.GRU(8, 6), lambda m: m(x)[0]),
        (nn.RNNCell(8, 6), lambda m: m(x[0])),
        (nn.LSTMCell(8, 6), lambda m: m(x[0])[0]),
        (nn.MultiheadAttention(8, 2, add_zero_attn=True, add_bias_kv=True),
         lambda m: m(x, x, x)[0]),
        (nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1), 2),
         lambda m: m(x, mask=nn.Transformer.generate_square_subsequent_mask(5, device="cuda"),
                     is_causal=True)),
        (nn.Transformer(8, 2, 1, 1, 16), lambda m: m(x, x)),
        (nn.Embedding(10, 8), lambda m: m(tokens)),
        (nn.EmbeddingBag(10, 8, mode="max"), lambda m: m(tokens)),
        (nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.RReLU(), nn.MaxPool2d(2),
                       nn.Upsample(scale_factor=2, mode="bilinear"), nn.InstanceNorm2d(4),
                       nn.Dropout2d(0.2), nn.Flatten(), nn.LazyLinear(5)), lambda m: m(image)),
        (nn.Sequential(nn.Conv1d(3, 4, 3, padding=1), nn.GroupNorm(2, 4), nn.GELU()),
         lambda m: m(x.permute(1, 2, 0).reshape(3, 8, 5)[:, :3])),
    ]
    for module, run in cases:
        module.to("cuda")  # (a lazy module's parameters materialise where they were moved)
        out = run(module)
        assert out.is_cuda, type(module).__name__
        out.float().pow(2).mean().backward()
        for p in module.parameters():
            assert p.is_cuda and (p.grad is None or p.grad.is_cuda), type(module).__name__
    loss = nn.CTCLoss()(ember.randn(6, 2, 5, device="cuda").log_softmax(2),
                        ember.randint(1, 5, (2, 3), device="cuda"), [6, 6], [3, 2])
    assert loss.is_cuda
    d = ember.distributions.Categorical(logits=ember.randn(4, device="cuda"))
    assert d.sample((3,)).is_cuda and d.enumerate_support().is_cuda and d.entropy().is_cuda
    u = ember.distributions.Uniform(ember.zeros(2, device="cuda"), ember.ones(2, device="cuda"))
    assert u.rsample((4,)).is_cuda
