"""A small CNN trained for a few SGD-momentum steps in ember and in torch from the same weights
and data: losses, weights, BatchNorm running statistics and eval-mode logits agree."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from helpers import torch_or_skip


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )


def _train(lib, model, x, y, steps):
    opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    loss_fn = lib.nn.CrossEntropyLoss()
    losses = []
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("steps", [5])
def test_cnn_sgd_momentum_training_matches_torch(steps):
    torch = torch_or_skip()
    torch.manual_seed(0)
    t_model = _cnn(torch)
    e_model = _cnn(ember)
    e_model.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                             for k, v in t_model.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3, 16, 16)).astype(np.float32)
    y = rng.integers(0, 10, 16)

    t_losses = _train(torch, t_model, torch.tensor(x), torch.tensor(y), steps)
    e_losses = _train(ember, e_model, ember.tensor(x), ember.tensor(y), steps)
    np.testing.assert_allclose(e_losses, t_losses, rtol=1e-4, atol=1e-5)
    assert e_losses[-1] < e_losses[0]  # it learns

    t_state, e_state = t_model.state_dict(), e_model.state_dict()
    assert list(e_state) == list(t_state)
    for key, value in t_state.items():
        got = e_state[key]
        assert str(got.dtype).split(".")[1] == str(value.dtype).split(".")[1], key
        np.testing.assert_allclose(got.numpy(), value.numpy(), rtol=1e-4, atol=2e-5, err_msg=key)
    assert int(e_model[1].num_batches_tracked) == steps

    t_model.eval()
    e_model.eval()
    x_eval = rng.standard_normal((4, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        t_logits = t_model(torch.tensor(x_eval)).numpy()
    with ember.no_grad():
        e_logits = e_model(ember.tensor(x_eval)).numpy()
    assert e_logits.dtype == np.float32
    np.testing.assert_allclose(e_logits, t_logits, rtol=1e-4, atol=1e-4)
