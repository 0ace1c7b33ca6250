"""``make demo``: the seed tutorial's autograd cells on ember, then a small training run with
``nn``, ``optim`` and ``utils.data`` exactly as one would write it for PyTorch."""
from __future__ import annotations

import math

import ember as torch
from ember import nn, optim
from ember.utils.data import DataLoader, TensorDataset

from .tutorial import main as replay_tutorial


def spirals(n: int = 600, seed: int = 0) -> tuple:
    """Two interleaved spirals: a small problem a linear model can't solve."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3 * math.pi
    label = torch.randint(0, 2, (n,), generator=g)
    sign = label.float() * 2 - 1
    x = torch.stack([t.cos() * t * sign, t.sin() * t * sign], dim=1) / 10
    return x + 0.05 * torch.randn(n, 2, generator=g), label


def train() -> float:
    torch.manual_seed(0)
    x, y = spirals()
    train_set, val_set = TensorDataset(x[:500], y[:500]), TensorDataset(x[500:], y[500:])
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    print(model)
    print(optimizer)
    loader = DataLoader(train_set, batch_size=50, shuffle=True)
    for epoch in range(60):
        model.train()
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        if epoch % 10 == 9:
            model.eval()
            with torch.no_grad():
                xv, yv = val_set.tensors
                acc = (model(xv).argmax(dim=1) == yv).float().mean().item()
            print(f"epoch {epoch + 1:2d}  train loss {total / len(train_set):.4f}  "
                  f"val accuracy {acc:.1%}")
    return acc


def main() -> int:
    status = replay_tutorial()
    print("\n--- beyond the tutorial: a small classifier with nn, optim and utils.data ---\n")
    train()
    return status


if __name__ == "__main__":
    raise SystemExit(main())
