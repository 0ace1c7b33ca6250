"""The Digits data ships inside ember (no scikit-learn): the same images and labels as
scikit-learn's load_digits, small, with its license and citation, and packaged."""
import os
import subprocess
import sys

import numpy as np
import pytest

from ember.vision.datasets import digits

DATA = os.path.dirname(digits._DATA)


def test_embedded_digits_are_scikit_learns():
    sk = pytest.importorskip("sklearn.datasets").load_digits()
    images, labels = digits._load_digits()
    np.testing.assert_array_equal(images, np.round(sk.images * (255.0 / 16.0)).astype(np.uint8))
    np.testing.assert_array_equal(labels, sk.target)
    assert images.shape == (1797, 8, 8) and labels.dtype == np.int64


def test_embedded_file_is_small_with_license_and_citation():
    assert os.path.getsize(digits._DATA) < 64 * 1024
    readme = open(os.path.join(DATA, "DIGITS-README.md")).read()
    assert "CC BY 4.0" in readme and "https://doi.org/10.24432/C50P49" in readme
    assert "Alpaydin" in readme and "Kaynak" in readme


def test_digits_without_scikit_learn():
    pytest.importorskip("PIL")
    code = ("import sys; sys.modules['sklearn'] = None; sys.modules['scipy'] = None\n"
            "from ember.vision.datasets import Digits\n"
            "d = Digits(train=False); img, y = d[0]\n"
            "print(len(d), img.size, y)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split()[0] == "359"


def test_package_data_and_vision_extra():
    import tomllib

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)
    data = project["tool"]["setuptools"]["package-data"]["ember.vision.datasets"]
    assert {os.path.basename(p) for p in data} == set(os.listdir(DATA))
    vision = " ".join(project["project"]["optional-dependencies"]["vision"])
    assert "scikit-learn" not in vision and "scipy" not in vision
