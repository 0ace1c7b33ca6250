"""The *_copy twins of the view ops: parity with torch (values, contiguity, dtypes, node names
ending in _copy, gradients), gradcheck in float64, and torch's errors."""
import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

CASES = [
    ("alias_copy", lambda m, t: m.alias_copy(t)),
    ("as_strided_copy", lambda m, t: m.as_strided_copy(t, (2, 2), (1, 2), 1)),
    ("diagonal_copy", lambda m, t: m.diagonal_copy(t, 1)),
    ("diagonal_copy dims", lambda m, t: m.diagonal_copy(t, -1, 1, 0)),
    ("expand_copy", lambda m, t: m.expand_copy(t[:1], (2, 3, 4))),
    ("permute_copy", lambda m, t: m.permute_copy(t, (1, 0))),
    ("select_copy", lambda m, t: m.select_copy(t, 1, -1)),
    ("slice_copy", lambda m, t: m.slice_copy(t, 1, 1, None, 2)),
    ("split_copy", lambda m, t: m.split_copy(t, 2)),
    ("split_with_sizes_copy", lambda m, t: m.split_with_sizes_copy(t, [1, 3], 1)),
    ("squeeze_copy", lambda m, t: m.squeeze_copy(t[:1])),
    ("squeeze_copy dim", lambda m, t: m.squeeze_copy(t[:1], 0)),
    ("t_copy", lambda m, t: m.t_copy(t)),
    ("transpose_copy", lambda m, t: m.transpose_copy(t, 0, 1)),
    ("unbind_copy", lambda m, t: m.unbind_copy(t, 1)),
    ("unfold_copy", lambda m, t: m.unfold_copy(t, 1, 2, 1)),
    ("unsqueeze_copy", lambda m, t: m.unsqueeze_copy(t, -1)),
    ("view_copy", lambda m, t: m.view_copy(t, (2, 6))),
    ("view_copy -1", lambda m, t: m.view_copy(t, [-1])),
]


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_view_copies(name, fn, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    check_op(fn, x)
    check_op(lambda m, t: fn(m, t.detach()), x, grad=False)
    torch = torch_or_skip()
    for out in (fn(ember, ember.tensor(x)), fn(torch, torch.tensor(x))):
        for piece in out if isinstance(out, (tuple, list)) else (out,):
            assert piece.is_contiguous()
    check_gradcheck(fn, x.astype(np.float64))


def test_copies_own_their_memory(rng):
    x = ember.tensor(rng.standard_normal((3, 4)))
    c = ember.diagonal_copy(x)
    c.zero_()
    assert x.diagonal().abs().sum().item() > 0
    v = ember.view_copy(x, (12,))
    assert v.data_ptr() != x.data_ptr()


def test_other_copies_and_errors(rng):
    torch = torch_or_skip()
    c = (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64)
    check_op(lambda m, t: m.view_as_real_copy(t), c, grad=False)
    check_op(lambda m, t: m.view_as_complex_copy(t), rng.standard_normal((3, 2)).astype(
        np.float32), grad=False)
    check_op(lambda m, t: m.view_as_real_copy(m.complex(t, t * 2)), rng.standard_normal(3))
    check_op(lambda m, t: m.detach_copy(t), rng.standard_normal(3), grad=False)
    for m in (ember, torch):
        d = m.detach_copy(m.ones(2, requires_grad=True))
        assert d.requires_grad and type(d.grad_fn).__name__ == "NotImplemented"
    same_error(lambda m: m.detach_copy(m.ones(2, requires_grad=True)).sum().backward())
    same_error(lambda m: m.view_as_complex_copy(m.ones(3, 2, requires_grad=True)))
    same_error(lambda m: m.diagonal_copy(m.ones(3, 4), 0, 1, 1))
    same_error(lambda m: m.select_copy(m.ones(3, 4), 0, 5))
    same_error(lambda m: m.view_copy(m.ones(3, 4), (5,)))
    same_error(lambda m: m.permute_copy(m.ones(3, 4), (0,)))
