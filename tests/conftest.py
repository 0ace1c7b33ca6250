import atexit
import os
import shutil
import sys
import tempfile
import warnings

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/helpers.py

# No test may read or fill the real caches: weights, torch's hub cache and matplotlib's font cache
# all go to one throw-away folder per test process (tests that need their own use monkeypatch).
_CACHE = tempfile.mkdtemp(prefix="ember-test-cache-")
atexit.register(shutil.rmtree, _CACHE, True)
for _var, _sub in (("XDG_CACHE_HOME", ""), ("EMBER_HOME", "ember"), ("TORCH_HOME", "torch"),
                   ("MPLCONFIGDIR", "matplotlib")):
    os.environ[_var] = os.path.join(_CACHE, _sub)


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
