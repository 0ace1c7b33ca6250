"""The tutorial's cells 6-10 with a stand-in for resnet18 (the real one comes with ember.vision):
freeze everything, replace ``fc``, optimise only the classifier, and print what the tutorial
prints."""
import io
import contextlib

import numpy as np

import ember as torch
from ember import nn, optim

SGD_TEXT = """\
SGD (
Parameter Group 0
    dampening: 0
    differentiable: False
    foreach: None
    lr: 0.01
    maximize: False
    momentum: 0.9
    nesterov: False
    weight_decay: 0
)
"""


class StandIn(nn.Module):
    """resnet18's outline: a convolutional trunk, global pooling and a 1000-way ``fc``."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.layer = nn.Sequential(nn.Conv2d(8, 512, 3, padding=1), nn.ReLU())
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = self.layer(self.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_cells_6_to_10_freeze_replace_optimise_and_print():
    model = StandIn()
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(512, 10)
    optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print(optimizer)
        print(model.fc)
    assert out.getvalue() == SGD_TEXT + "Linear(in_features=512, out_features=10, bias=True)\n"

    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    frozen = {n: p.detach().numpy().copy() for n, p in model.named_parameters()
              if not p.requires_grad}
    fc_before = model.fc.weight.detach().numpy().copy()

    x = torch.randn(4, 3, 8, 8)
    labels = torch.tensor([1, 0, 9, 3])
    for _ in range(3):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()

    for n, p in model.named_parameters():
        if n in frozen:
            assert p.grad is None, n
            np.testing.assert_array_equal(p.detach().numpy(), frozen[n])
    assert not np.allclose(model.fc.weight.detach().numpy(), fc_before)
    assert set(optimizer.state) == {model.fc.weight, model.fc.bias}
