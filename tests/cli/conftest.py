"""Fixtures for the program's tests: a tiny image folder, isolated caches, no network."""
import socket

import numpy as np
import pytest

CLASSES = ("blue", "green", "red")  # ImageFolder sorts the sub-folder names


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    """3 classes x 8 small PNGs, each class a different dominant colour with noise."""
    Image = pytest.importorskip("PIL.Image")
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir()
        for i in range(8):
            pixels = rng.integers(0, 90, size=(36, 44, 3))
            pixels[..., 2 - c] += 150  # blue, green, red channel up
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(autouse=True)
def isolated_caches(tmp_path, monkeypatch):
    """Empty EMBER_HOME and TORCH_HOME: nothing reads or writes the real home's caches."""
    monkeypatch.setenv("EMBER_HOME", str(tmp_path / "ember_home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def offline(monkeypatch):
    """No name resolves and no connection opens: any download fails at once."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
