"""A small CNN on the Digits images (scikit-learn's 1,797 real 8x8 handwritten digits), in the
style of PyTorch's MNIST example: two convolutions, max-pooling, dropout, two linear layers,
log_softmax with nll_loss, Adadelta and a StepLR schedule.

Written for PyTorch; runs on ember unchanged with ``ember run examples/digits_cnn.py``. Without
scikit-learn, synthetic digit-like images are used instead (``--synthetic`` forces them).

    python examples/digits_cnn.py --epochs 3
    ember run examples/digits_cnn.py --epochs 3
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, dropout1=0.25, dropout2=0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(dropout1)
        self.dropout2 = nn.Dropout(dropout2)
        self.fc1 = nn.Linear(64 * 3 * 3, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))          # 8x8
        x = F.relu(self.conv2(x))          # 6x6
        x = F.max_pool2d(x, 2)             # 3x3
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def load_data(synthetic):
    """(images float32 (N, 1, 8, 8) in [0, 1], labels int64)."""
    if not synthetic:
        try:
            from sklearn.datasets import load_digits
            digits = load_digits()
            return (digits.images.astype(np.float32)[:, None] / 16.0,
                    digits.target.astype(np.int64))
        except ImportError:
            pass
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 1000)
    protos = rng.random((10, 8, 8)) > 0.6  # one blocky "glyph" per class, plus noise
    images = protos[labels] * 0.8 + rng.random((1000, 8, 8)) * 0.3
    return images.astype(np.float32)[:, None], labels.astype(np.int64)


def main():
    parser = argparse.ArgumentParser(description="CNN on the Digits images")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many batches")
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--no-dropout", action="store_true")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--init", help="load the initial state_dict from this file")
    parser.add_argument("--save-init", help="save the initial state_dict to this file")
    args = parser.parse_args()

    images, labels = load_data(args.synthetic)
    mean, std = float(images.mean()), float(images.std())
    x = (torch.from_numpy(images) - mean) / std
    y = torch.from_numpy(labels)
    n_train = len(y) * 4 // 5
    train_loader = DataLoader(TensorDataset(x[:n_train], y[:n_train]),
                              batch_size=args.batch_size, shuffle=False)
    test_loader = DataLoader(TensorDataset(x[n_train:], y[n_train:]), batch_size=256)

    torch.manual_seed(1)
    model = Net(*((0.0, 0.0) if args.no_dropout else (0.25, 0.5)))
    if args.init:
        model.load_state_dict(torch.load(args.init))
    if args.save_init:
        torch.save(model.state_dict(), args.save_init)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)

    step = 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        for data, target in train_loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
            print(f"step {step} loss {loss.item():.6f}")
            step += 1
            if step == args.steps:
                break
        scheduler.step()
        model.eval()
        test_loss, correct = 0.0, 0
        with torch.no_grad():
            for data, target in test_loader:
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction="sum").item()
                correct += (output.argmax(dim=1) == target).sum().item()
        n = len(test_loader.dataset)
        print(f"epoch {epoch} test loss {test_loss / n:.4f} accuracy {correct}/{n}")
        if step == args.steps:
            break


if __name__ == "__main__":
    main()
