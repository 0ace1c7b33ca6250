"""The tutorial's cells 6-10 on the real resnet18: freeze everything, replace ``fc``, optimise only
the classifier; training steps then move ``fc`` alone and backward never reaches the backbone."""
import socket

import numpy as np
import pytest

import ember
from ember import nn
from ember.tutorial import CELLS, run_cells

pytest.importorskip("PIL")


@pytest.fixture
def namespace(tmp_path, monkeypatch):
    """Cells 6-10 run offline with empty caches (cell 6 falls back to random weights)."""
    for var in ("EMBER_HOME", "TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    ns = {}
    with pytest.warns(UserWarning):  # torchvision's 'pretrained' deprecation
        outputs = run_cells(CELLS[5:10], after=lambda n, cell_ns: ns.update(cell_ns))
    assert outputs == [c.expected for c in CELLS[5:10]]
    return ns


def test_cells_6_to_10_train_only_the_new_classifier(namespace):
    model, optimizer = namespace["model"], namespace["optimizer"]
    assert type(model).__name__ == "ResNet"
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["fc.weight", "fc.bias"]
    assert model.fc.weight.shape == (10, 512)
    frozen = {n: p.detach().numpy().copy() for n, p in model.named_parameters()
              if not p.requires_grad}
    fc_before = model.fc.weight.detach().numpy().copy()

    x, labels = ember.randn(4, 3, 32, 32), ember.tensor([1, 0, 9, 3])
    for _ in range(2):
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
