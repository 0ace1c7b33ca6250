"""The seed tutorial's cells 1-10, run on ember, print exactly what the tutorial shows."""
import os
import re
import socket

import pytest

from ember import tutorial
from ember.tutorial import CELLS, run_cells

SEED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "seed",
                    "autograd_tutorial.txt")
IMAGENET_FILE = "resnet18-f37072fd.pth"
# What our copy of the cells changed: the imports, and nothing else.
IMPORTS = {"import ember as torch": "import torch",
           "import ember.vision as torchvision": "import torchvision",
           "from ember import nn, optim": "from torch import nn, optim"}


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Empty weight caches and no network: cell 6 can't get ImageNet weights."""
    for var in ("EMBER_HOME", "TORCH_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))

    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return tmp_path


def test_replay_prints_every_cell_and_the_tutorials_output(offline, capsys):
    pytest.importorskip("PIL")
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"):  # torchvision's warning
        assert tutorial.main() == 0
    out, err = capsys.readouterr()
    expected = "".join(f"In [{c.number}]:\n{c.code}\n{c.expected}\n" for c in CELLS)
    assert out == expected + "ember printed exactly what the tutorial prints.\n"
    assert [c.number for c in CELLS] == list(range(1, 11))
    # offline, cell 6 says once that it uses random weights, and where the real ones would go
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "cell 6 runs with random weights" in notes[0]
    assert os.path.join("ember_home", "hub", "checkpoints", IMAGENET_FILE) in notes[0]


def test_a_mismatch_is_reported(monkeypatch, capsys):
    wrong = [CELLS[0]._replace(expected="tensor([0.])\n")]
    monkeypatch.setattr(tutorial, "CELLS", wrong)
    assert tutorial.main() == 1
    assert capsys.readouterr().out.endswith("MISMATCH: ember's output differs from the "
                                            "tutorial's.\n")


@pytest.mark.parametrize("home", ["EMBER_HOME", "TORCH_HOME"])
def test_cell_6_uses_cached_imagenet_weights(offline, home, capsys):
    pytest.importorskip("PIL")
    import numpy as np

    import ember
    import ember.io
    from ember.vision import models

    cache = offline / home.lower() / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    state = models.resnet18().state_dict()
    ember.io.save(state, str(cache / IMAGENET_FILE))
    seen = {}
    outputs = run_cells([CELLS[5]], after=lambda n, ns: seen.update(ns))
    assert outputs == [""]
    np.testing.assert_array_equal(seen["model"].conv1.weight.detach().numpy(),
                                  state["conv1.weight"].numpy())
    assert "note:" not in capsys.readouterr().err


def test_embedded_cells_are_the_seed_tutorial():
    """Our copy of each cell is the seed's code with only the imports changed."""
    if not os.path.exists(SEED):
        pytest.skip("shared/seed is not beside this checkout")
    text = open(SEED, encoding="utf-8").read()
    for cell in CELLS:
        code = cell.code
        for ours, theirs in IMPORTS.items():
            code = code.replace(ours, theirs)
        assert f"In [{cell.number}]:\n{code}" in text, f"cell {cell.number}"
        for line in cell.expected.splitlines():
            assert re.search("^" + re.escape(line) + "$", text, re.M), line


def test_demo_replays_the_tutorial_then_finetunes(monkeypatch, capsys):
    import ember.cli
    from ember import demo

    calls = []
    monkeypatch.setattr(demo, "replay_tutorial", lambda: calls.append("tutorial") or 0)
    monkeypatch.setattr(ember.cli, "main", lambda argv: calls.append(argv) or 0)
    assert demo.main(["--epochs", "1"]) == 0
    assert calls == ["tutorial", ["finetune", "--epochs", "1"]]
    assert "ember finetune on the Digits dataset" in capsys.readouterr().out
