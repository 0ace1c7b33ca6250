"""ember.set_num_threads / get_num_threads: NumPy's BLAS threads, with torch's argument errors."""
from __future__ import annotations

import pytest

import ember
from ember.backend import threads
from helpers import torch_or_skip


@pytest.fixture
def restore_threads():
    before = ember.get_num_threads()
    yield
    ember.set_num_threads(before)


def test_default_is_a_positive_count():
    n = ember.get_num_threads()
    assert type(n) is int and n >= 1


@pytest.mark.parametrize("n", [1, 2, 3])
def test_set_then_get(restore_threads, n):
    ember.set_num_threads(n)
    assert ember.get_num_threads() == n


def test_sets_the_blas_numpy_runs(restore_threads):
    blas = threads._openblas()
    if not blas:
        pytest.skip("numpy does not run a bundled OpenBLAS here")
    ember.set_num_threads(1)
    assert blas[1]() == 1
    ember.set_num_threads(2)
    assert blas[1]() == 2


def test_without_openblas_the_count_is_recorded(monkeypatch):
    monkeypatch.setattr(threads, "_lib", False)
    monkeypatch.setattr(threads, "_recorded", None)
    assert ember.get_num_threads() == threads._default()
    ember.set_num_threads(3)
    assert ember.get_num_threads() == 3


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True, None])
def test_bad_counts_raise_as_in_torch(restore_threads, bad):
    torch = torch_or_skip()
    with pytest.raises(RuntimeError) as want:
        torch.set_num_threads(bad)
    with pytest.raises(RuntimeError) as got:
        ember.set_num_threads(bad)
    assert str(got.value) == str(want.value)
