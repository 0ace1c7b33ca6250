"""A torch training checkpoint resumes in ember, and continues as torch would."""
import numpy as np
import pytest

from helpers import torch_or_skip

import ember
from ember.io import load, save

torch = torch_or_skip()


def _batches(n):
    g = np.random.default_rng(1)
    return [(g.standard_normal((8, 4)).astype(np.float32),
             g.standard_normal((8, 3)).astype(np.float32)) for _ in range(n)]


def _step(m, opt, mod, x, y):
    opt.zero_grad()
    loss = ((m(mod.tensor(x)) - mod.tensor(y)) ** 2).mean()
    loss.backward()
    opt.step()


@pytest.mark.parametrize("kind", ["sgd", "adam"])
@pytest.mark.parametrize("direction", ["torch_to_ember", "ember_to_torch"])
def test_resume_continues_identically(tmp_path, kind, direction):
    def make(mod):
        mod.manual_seed(0)
        m = mod.nn.Linear(4, 3)
        opt = (mod.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) if kind == "sgd"
               else mod.optim.Adam(m.parameters(), lr=0.01))
        return m, opt

    src, dst = (torch, ember) if direction == "torch_to_ember" else (ember, torch)
    m, opt = make(src)
    with (torch.no_grad() if src is torch else ember.no_grad()):  # same start for both sides
        m.weight.copy_(src.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)))
    data = _batches(5)
    for x, y in data[:2]:
        _step(m, opt, src, x, y)
    path = tmp_path / "ckpt.pt"
    ckpt = {"model": m.state_dict(), "optimizer": opt.state_dict(), "epoch": 2}
    if src is torch:
        torch.save(ckpt, path)
        loaded = load(path)
    else:
        save(ckpt, path)
        loaded = torch.load(path, map_location="cpu", weights_only=True)  # (CUDA ones: --device)

    m2, opt2 = make(dst)
    m2.load_state_dict(loaded["model"])
    opt2.load_state_dict(loaded["optimizer"])
    assert loaded["epoch"] == 2
    for x, y in data[2:]:  # three more steps on each side
        _step(m, opt, src, x, y)
        _step(m2, opt2, dst, x, y)
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
