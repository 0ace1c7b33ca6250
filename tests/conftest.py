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


# -- the device the suite runs on: `pytest --device fakecuda` (CPU-only CI) or `--device cuda` ----
# Every factory then makes its tensors on that device (the default device), so the parity checks
# run ember on it against torch on the CPU. The tests' own reads (`t.numpy()`, `np.asarray(t)`)
# become explicit copies to the host; ember's code gets no such leniency.

def pytest_addoption(parser):
    parser.addoption("--device", default="cpu", choices=("cpu", "fakecuda", "fakecuda:1", "cuda"),
                     help="run the suite's tensors on this device (fakecuda: CuPy's API over "
                          "NumPy, tests/device/fakecupy.py; fakecuda:1: on the second of two "
                          "fake GPUs while the first stays current, which CuPy refuses to mix: "
                          "every op must make its tensors' GPU current, as torch's do)")
    parser.addoption("--fake-report", default=None,
                     help="with --device fakecuda: write the fake's findings (syncs, host "
                          "reads, violations by ember site) to this JSON file")


def pytest_configure(config):
    config.addinivalue_line("markers", "cpu_build: checks ember's answers without CUDA "
                                       "(skipped under --device)")
    config.addinivalue_line("markers", "current_gpu: calls ember's internals (below the public "
                                       "API's device guard) on the current GPU's tensors: "
                                       "skipped under --device fakecuda:1")
    config.addinivalue_line("markers", "host_only: a test of host memory itself (from_numpy, "
                                       "shared memory, file mapping): skipped under --device")
    device = config.getoption("--device")
    if device != "cpu":
        _use_device(device)


def _use_device(device: str) -> None:
    import ember
    from ember.backend import cupy_backend
    from ember.tensor import Tensor

    if device.startswith("fakecuda"):
        from device import fakecupy

        if device == "fakecuda:1":
            fakecupy.DEVICE_COUNT = 2
        cupy_backend.use_module(fakecupy.cupy, fakecupy.cupyx)
    ember.set_default_device("cuda:1" if device == "fakecuda:1" else "cuda")
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    numpy, array = Tensor.numpy, Tensor.__array__

    def from_tests(depth: int) -> bool:
        f = sys._getframe(depth)
        while f is not None and f.f_code.co_filename.startswith(tests_dir + os.sep + "device"):
            f = f.f_back
        return f is not None and f.f_code.co_filename.startswith(tests_dir)

    def test_numpy(self, *, force: bool = False):
        if type(self._data) is not np.ndarray and from_tests(2) \
                and (force or not self.requires_grad):  # (torch's refusal stays)
            return numpy(self.detach().cpu(), force=force)
        return numpy(self, force=force)

    def test_array(self, dtype=None, copy=None):
        if type(self._data) is not np.ndarray and from_tests(2):
            return array(self.detach().cpu(), dtype, copy)
        return array(self, dtype, copy)

    Tensor.numpy, Tensor.__array__ = test_numpy, test_array


@pytest.fixture
def fake_cuda(monkeypatch, request):
    """The fake CUDA device (two devices) as ember's CUDA backend for one test, undone after:
    the backend, the default device, the current device and the sync debug mode."""
    import ember
    from ember.backend import cupy_backend

    session = request.config.getoption("--device")
    if session == "cuda":  # (swapping the backend would strand the session's real tensors)
        pytest.skip("runs on the fake device: not under --device cuda")
    from device import fakecupy

    monkeypatch.setattr(fakecupy, "DEVICE_COUNT", 2)
    own = session == "cpu"  # under --device fakecuda the session's fake is this one
    if own:
        cupy_backend.use_module(fakecupy.cupy, fakecupy.cupyx)
    try:
        yield fakecupy
    finally:
        if ember.cuda.is_available():
            ember.cuda.set_device(0)
            if ember.cuda.get_sync_debug_mode():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ember.cuda.set_sync_debug_mode(0)
        if own:
            ember.set_default_device(None)
            cupy_backend.use_module(None, None)
            ember._device_guard.uninstall()  # (the CPU tests after this one run unwrapped)


def pytest_runtest_setup(item):
    if item.config.getoption("--device") != "cpu":
        if item.config.getoption("--device") == "fakecuda:1" and \
                item.get_closest_marker("current_gpu"):
            pytest.skip("current_gpu: not run under --device fakecuda:1")
        for mark in ("cpu_build", "host_only"):
            if item.get_closest_marker(mark):
                pytest.skip(f"{mark}: not run under --device")


def pytest_sessionfinish(session, exitstatus):
    """--fake-report: each process's findings (xdist workers write theirs beside the file; the
    controller, which finishes last, merges them)."""
    path = session.config.getoption("--fake-report", None)
    if not path or session.config.getoption("--device") != "fakecuda":
        return
    import collections
    import glob
    import json

    from device import fakecupy

    worker = getattr(session.config, "workerinput", {}).get("workerid")
    mine = {k: dict(v) for k, v in fakecupy.findings().items()}
    if worker is not None:
        with open(f"{path}.{worker}", "w") as f:
            json.dump(mine, f)
        return
    merged: dict = collections.defaultdict(collections.Counter)
    for part in [mine] + [json.load(open(p)) for p in sorted(glob.glob(path + ".gw*"))]:
        for kind, sites in part.items():
            merged[kind].update(sites)
    for p in glob.glob(path + ".gw*"):
        os.remove(p)
    with open(path, "w") as f:
        json.dump({k: dict(v) for k, v in merged.items()}, f, indent=1, sort_keys=True)
