"""Shared by the torch-checkpoint tests: compare what ember loaded with what torch loaded."""
import collections

import numpy as np
import pytest

import ember

# torch dtype name -> the ember dtype ember.load gives it (widened where ember lacks it)
LOADS_AS = {"uint16": "int32", "uint32": "int64"}


def assert_same(e, t, path="obj"):
    """``e`` (from ember.load) is ``t`` (from torch.load) in ember form, recursively."""
    import torch

    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), (path, type(e))
        assert isinstance(e, ember.nn.Parameter) == isinstance(t, torch.nn.Parameter), path
        name = str(t.dtype).replace("torch.", "")
        assert e.dtype.name == LOADS_AS.get(name, name), (path, e.dtype, t.dtype)
        assert tuple(e.shape) == tuple(t.shape), (path, e.shape, t.shape)
        assert e.requires_grad == t.requires_grad, path
        want = t.detach().resolve_neg().resolve_conj()
        want = (want.float() if name == "bfloat16" else want.to(torch.int64) if name == "uint32"
                else want.to(torch.int32) if name == "uint16" else want).numpy()
        got = e.detach().float() if name == "bfloat16" else e.detach()  # (bf16 kept as bf16)
        np.testing.assert_array_equal(got.numpy(), want, err_msg=path)
    elif isinstance(t, torch.Size):
        assert type(e) is ember.Size and tuple(e) == tuple(t), path
    elif isinstance(t, torch.device):
        assert isinstance(e, ember.device) and str(e) == str(t), path
    elif isinstance(t, torch.dtype):
        name = str(t).replace("torch.", "")
        assert e is getattr(ember, LOADS_AS.get(name, name)), path
    elif isinstance(t, dict):
        assert type(e) is type(t), (path, type(e), type(t))
        assert list(e) == list(t), path
        for k in t:
            assert_same(e[k], t[k], f"{path}[{k!r}]")
        if hasattr(t, "_metadata"):
            assert e._metadata == t._metadata, path
        else:
            assert not hasattr(e, "_metadata"), path
    elif isinstance(t, (list, tuple)):
        assert type(e) is type(t) and len(e) == len(t), (path, type(e), type(t))
        for i, (a, b) in enumerate(zip(e, t)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(t, float) and t != t:
        assert isinstance(e, float) and e != e, path
    else:
        assert type(e) is type(t) and e == t, (path, e, t)


@pytest.fixture
def same():
    return assert_same


@pytest.fixture
def canary(tmp_path):
    """A path a malicious payload would create; tests assert it never appears."""
    p = tmp_path / "CANARY"
    yield p
    assert not p.exists(), "a checkpoint payload ran"


def shares_memory(a, b):
    """Whether two tensors' arrays overlap, on whichever device they live (``.numpy()`` of a
    CUDA tensor is a host copy in the tests, so it is asked of the arrays' own module)."""
    from ember.backend import backend_of

    x, y = a._data, b._data
    bx = backend_of(x)
    return bx is backend_of(y) and bool(bx.xp.shares_memory(x, y))


@pytest.fixture
def shares():
    return shares_memory


# tensors compared through the torch-side view of the same structure
ODict = collections.OrderedDict
