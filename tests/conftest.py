import os
import sys
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/helpers.py


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seeded():
    import ember

    ember.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    warnings.filterwarnings("ignore", message="Anomaly Detection has been enabled")
