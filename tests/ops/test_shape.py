"""Shape and view ops against torch: values, dtypes, grad_fn names, grads, gradcheck, errors."""
import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, torch_or_skip


def _a(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _nc(m, x):
    """A non-contiguous tensor with x's values transposed (a view with a grad_fn)."""
    return x.transpose(0, 1)


# (id, fn(m, *tensors), input arrays); each runs through check_op and check_gradcheck
CASES = [
    ("view", lambda m, x: x.view(6, 2), [_a(3, 4)]),
    ("view_infer", lambda m, x: x.view(-1, 3), [_a(3, 4)]),
    ("view_tuple", lambda m, x: x.view((2, 2, 3)), [_a(3, 4)]),
    ("view_0d", lambda m, x: x.view(1, 1), [_a()]),
    ("view_to_0d", lambda m, x: x.view(()), [_a(1)]),
    ("view_as", lambda m, x, y: x.view_as(y), [_a(3, 4), _a(12)]),
    ("view_empty", lambda m, x: x.view(-1), [_a(0, 3)]),
    ("reshape", lambda m, x: x.reshape(4, 3), [_a(3, 4)]),
    ("reshape_fn", lambda m, x: m.reshape(x, (-1,)), [_a(3, 4)]),
    ("reshape_kw", lambda m, x: m.reshape(x, shape=(2, 6)), [_a(3, 4)]),
    ("view_kw", lambda m, x: x.view(size=(2, 6)), [_a(3, 4)]),
    ("reshape_nc_copy", lambda m, x: _nc(m, x).reshape(-1), [_a(3, 4)]),
    ("reshape_nc_alias", lambda m, x: _nc(m, x).reshape(4, 3, 1), [_a(3, 4)]),
    ("reshape_as", lambda m, x, y: x.reshape_as(y), [_a(3, 4), _a(2, 6)]),
    ("flatten", lambda m, x: x.flatten(), [_a(2, 3, 4)]),
    ("flatten_mid", lambda m, x: m.flatten(x, 1, 2), [_a(2, 3, 4)]),
    ("flatten_nc", lambda m, x: _nc(m, x).flatten(), [_a(2, 3, 4)]),
    ("flatten_0d", lambda m, x: x.flatten(), [_a()]),
    ("flatten_same", lambda m, x: (x * 1).flatten(1, 1), [_a(2, 3)]),
    ("ravel", lambda m, x: x.ravel(), [_a(2, 3)]),
    ("ravel_nc", lambda m, x: m.ravel(_nc(m, x)), [_a(2, 3)]),
    ("unflatten", lambda m, x: x.unflatten(1, (2, -1)), [_a(3, 4)]),
    ("unflatten_fn", lambda m, x: m.unflatten(x, -1, (2, 2)), [_a(3, 4)]),
    ("squeeze_all", lambda m, x: x.squeeze(), [_a(1, 3, 1)]),
    ("squeeze_dim", lambda m, x: x.squeeze(-1), [_a(1, 3, 1)]),
    ("squeeze_noop", lambda m, x: x.squeeze(1), [_a(1, 3, 1)]),
    ("squeeze_dims", lambda m, x: x.squeeze((0, 2)), [_a(1, 3, 1)]),
    ("squeeze_fn", lambda m, x: m.squeeze(x, 0), [_a(1, 3)]),
    ("squeeze_0d", lambda m, x: x.squeeze(0), [_a()]),
    ("unsqueeze", lambda m, x: x.unsqueeze(1), [_a(2, 3)]),
    ("unsqueeze_neg", lambda m, x: m.unsqueeze(x, -1), [_a(2, 3)]),
    ("unsqueeze_0d", lambda m, x: x.unsqueeze(0), [_a()]),
    ("expand", lambda m, x: x.expand(2, 3, 4), [_a(3, 1)]),
    ("expand_neg1", lambda m, x: x.expand(2, -1, 4), [_a(3, 1)]),
    ("expand_tuple", lambda m, x: x.expand((3, 4)), [_a(3, 1)]),
    ("expand_same", lambda m, x: x.expand(3, 4), [_a(3, 4)]),
    ("expand_0d", lambda m, x: x.expand(2, 2), [_a()]),
    ("expand_as", lambda m, x, y: x.expand_as(y), [_a(1, 4), _a(3, 4)]),
    ("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3)), [_a(3)]),
    ("transpose", lambda m, x: x.transpose(0, 2), [_a(2, 3, 4)]),
    ("transpose_same", lambda m, x: m.transpose(x, 1, 1), [_a(2, 3)]),
    ("transpose_0d", lambda m, x: x.transpose(0, -1), [_a()]),
    ("swapaxes", lambda m, x: m.swapaxes(x, 0, 1), [_a(2, 3)]),
    ("swapdims", lambda m, x: x.swapdims(-1, 0), [_a(2, 3)]),
    ("t", lambda m, x: x.t(), [_a(2, 3)]),
    ("t_1d", lambda m, x: m.t(x), [_a(3)]),
    ("T", lambda m, x: x.T, [_a(2, 3)]),
    ("T_1d", lambda m, x: x.T, [_a(3)]),
    ("mT", lambda m, x: x.mT, [_a(2, 3, 4)]),
    ("permute", lambda m, x: x.permute(2, 0, 1), [_a(2, 3, 4)]),
    ("permute_tuple", lambda m, x: m.permute(x, (1, -1, 0)), [_a(2, 3, 4)]),
    ("permute_0d", lambda m, x: x.permute(()), [_a()]),
    ("permute_kw", lambda m, x: m.permute(x, dims=(1, 0)), [_a(2, 3)]),
    ("movedim", lambda m, x: x.movedim(0, -1), [_a(2, 3, 4)]),
    ("movedim_multi", lambda m, x: m.movedim(x, (0, 1), (2, 0)), [_a(2, 3, 4)]),
    ("moveaxis", lambda m, x: m.moveaxis(x, 1, 0), [_a(2, 3)]),
    ("movedim_0d", lambda m, x: x.movedim(0, 0), [_a()]),
    ("select", lambda m, x: x.select(1, -1), [_a(2, 3, 4)]),
    ("select_1d", lambda m, x: m.select(x, 0, 2), [_a(3)]),
    ("narrow", lambda m, x: x.narrow(1, 1, 2), [_a(2, 4)]),
    ("narrow_neg", lambda m, x: m.narrow(x, -1, -3, 2), [_a(2, 4)]),
    ("narrow_empty", lambda m, x: x.narrow(0, 2, 0), [_a(2, 4)]),
    ("split", lambda m, x: x.split(2), [_a(5, 2)]),
    ("split_dim", lambda m, x: m.split(x, 1, dim=1), [_a(2, 3)]),
    ("split_kw", lambda m, x: x.split(split_size=2, dim=1), [_a(2, 3)]),
    ("split_sizes", lambda m, x: x.split([1, 3, 0], 1), [_a(2, 4)]),
    ("split_with_sizes", lambda m, x: x.split_with_sizes([2, 1]), [_a(3, 2)]),
    ("split_big", lambda m, x: x.split(10), [_a(3, 2)]),
    ("split_empty", lambda m, x: x.split(2), [_a(0, 2)]),
    ("chunk", lambda m, x: x.chunk(3), [_a(5, 2)]),
    ("chunk_more", lambda m, x: m.chunk(x, 4, -1), [_a(2, 6)]),
    ("chunk_empty", lambda m, x: x.chunk(2), [_a(0)]),
    ("unbind", lambda m, x: x.unbind(), [_a(3, 2)]),
    ("unbind_dim", lambda m, x: m.unbind(x, -1), [_a(3, 2)]),
    ("diagonal", lambda m, x: x.diagonal(), [_a(3, 4)]),
    ("diagonal_offset", lambda m, x: m.diagonal(x, 1), [_a(3, 4)]),
    ("diagonal_neg", lambda m, x: x.diagonal(-1), [_a(3, 4)]),
    ("diagonal_far", lambda m, x: x.diagonal(7), [_a(3, 4)]),
    ("diagonal_dims", lambda m, x: x.diagonal(0, 2, 0), [_a(2, 3, 4)]),
    ("diag_1d", lambda m, x: m.diag(x), [_a(3)]),
    ("diag_1d_offset", lambda m, x: x.diag(-2), [_a(3)]),
    ("diag_2d", lambda m, x: m.diag(x, 1), [_a(3, 4)]),
    ("diag_embed", lambda m, x: m.diag_embed(x), [_a(2, 3)]),
    ("diag_embed_args", lambda m, x: m.diag_embed(x, 1, 0, 2), [_a(2, 3)]),
    ("cat", lambda m, x, y: m.cat([x, y]), [_a(2, 3), _a(1, 3)]),
    ("cat_dim", lambda m, x, y: m.cat((x, y), dim=-1), [_a(2, 3), _a(2, 1)]),
    ("cat_three", lambda m, x, y: m.cat([x, y, x], 1), [_a(2, 3), _a(2, 2)]),
    ("cat_legacy_empty", lambda m, x, y: m.cat([x, y]), [_a(2, 3), _a(0)]),
    ("cat_empty_part", lambda m, x, y: m.cat([x, y]), [_a(2, 3), _a(0, 3)]),
    ("concat", lambda m, x, y: m.concat([x, y]), [_a(2), _a(3)]),
    ("concatenate", lambda m, x, y: m.concatenate([x, y], 0), [_a(2), _a(3)]),
    ("stack", lambda m, x, y: m.stack([x, y]), [_a(2, 3), _a(2, 3)]),
    ("stack_last", lambda m, x, y: m.stack((x, y), -1), [_a(2, 3), _a(2, 3)]),
    ("stack_0d", lambda m, x, y: m.stack([x, y, x]), [_a(), _a()]),
    ("hstack", lambda m, x, y: m.hstack([x, y]), [_a(2, 3), _a(2, 1)]),
    ("hstack_1d", lambda m, x, y: m.hstack([x, y]), [_a(2), _a(3)]),
    ("vstack", lambda m, x, y: m.vstack([x, y]), [_a(3), _a(2, 3)]),
    ("dstack", lambda m, x, y: m.dstack([x, y]), [_a(2, 3), _a(2, 3)]),
    ("column_stack", lambda m, x, y: m.column_stack([x, y]), [_a(3), _a(3, 2)]),
    ("atleast_1d", lambda m, x: m.atleast_1d(x), [_a()]),
    ("atleast_2d", lambda m, x: m.atleast_2d(x), [_a(3)]),
    ("atleast_3d", lambda m, x: m.atleast_3d(x), [_a(2, 3)]),
    ("flip", lambda m, x: x.flip(0), [_a(3, 2)]),
    ("flip_dims", lambda m, x: m.flip(x, (0, -1)), [_a(3, 2, 2)]),
    ("flip_0d", lambda m, x: x.flip(0), [_a()]),
    ("flip_kw", lambda m, x: m.flip(x, dims=[1]), [_a(2, 3)]),
    ("fliplr", lambda m, x: m.fliplr(x), [_a(3, 2)]),
    ("flipud", lambda m, x: x.flipud(), [_a(3, 2)]),
    ("roll", lambda m, x: x.roll(1), [_a(3, 2)]),
    ("roll_dim", lambda m, x: m.roll(x, -1, 1), [_a(3, 2)]),
    ("roll_dims", lambda m, x: x.roll((1, 5), (0, 1)), [_a(3, 2)]),
    ("roll_0d", lambda m, x: x.roll(2), [_a()]),
    ("repeat", lambda m, x: x.repeat(2, 3), [_a(2, 3)]),
    ("repeat_lead", lambda m, x: x.repeat((2, 1, 2)), [_a(2, 3)]),
    ("repeat_zero", lambda m, x: x.repeat(0, 2), [_a(2, 3)]),
    ("repeat_0d", lambda m, x: x.repeat(3), [_a()]),
    ("tile", lambda m, x: x.tile((2,)), [_a(2, 3)]),
    ("tile_fn", lambda m, x: m.tile(x, (2, 1, 1)), [_a(2, 3)]),
    ("tril", lambda m, x: x.tril(), [_a(3, 4)]),
    ("tril_k", lambda m, x: m.tril(x, -1), [_a(2, 3, 4)]),
    ("triu", lambda m, x: x.triu(1), [_a(3, 4)]),
    ("triu_fn", lambda m, x: m.triu(x, diagonal=-1), [_a(4, 3)]),
]


@pytest.mark.filterwarnings("ignore:The use of `x.T`")
@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_parity(name, fn, arrays):
    check_op(fn, *arrays)


# the numerical Jacobian of empty tensors is empty: gradcheck adds nothing there
GRAD_CASES = [c for c in CASES if all(a.size for a in c[2])]


@pytest.mark.filterwarnings("ignore:The use of `x.T`")
@pytest.mark.parametrize("name,fn,arrays", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradcheck(name, fn, arrays):
    check_gradcheck(fn, *arrays)


@pytest.mark.host_only  # (np.shares_memory on host arrays)
def test_views_share_memory():
    x = ember.tensor(np.arange(12.0, dtype=np.float32).reshape(3, 4))
    for v in (x.view(12), x.t(), x.unsqueeze(0), x.transpose(0, 1), x.select(0, 1),
              x.narrow(1, 1, 2), x.diagonal(), x.split(1)[1], x.unbind()[2], x.permute(1, 0),
              x.expand(2, 3, 4), x.squeeze(), x.movedim(0, 1), x.T, x.flatten(), x[1:][0],
              x.t().unsqueeze(0), x[...], x[None, :, 1:3]):
        assert np.shares_memory(v.numpy(), x.numpy())
        assert v._version_counter is x._version_counter
        assert v._base is x  # as torch's ``_base``: the root tensor, even for views of views
    for c in (x.flip(0), x.roll(1), x.repeat(1, 1), ember.cat([x]), x.tril(), x.t().reshape(-1)):
        assert not np.shares_memory(c.numpy(), x.numpy())


@pytest.mark.parametrize("dtypes", [("int64", "bool"), ("int32", "float64"), ("float32", "int64"),
                                    ("bool", "bool"), ("int8", "uint8")])
@pytest.mark.parametrize("op", ["cat", "stack"])
def test_cat_stack_promote(op, dtypes):
    torch = torch_or_skip()
    arrays = [np.ones((2, 2), dtype=d) for d in dtypes]
    e = getattr(ember, op)([ember.tensor(a) for a in arrays])
    t = getattr(torch, op)([torch.tensor(a) for a in arrays])
    assert str(e.dtype).replace("ember.", "") == str(t.dtype).replace("torch.", "")
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_cat_grad_mixed_dtypes():
    check_op(lambda m, x, y: m.cat([x, y]), _a(2, 2), _a(1, 2, dtype=np.float64))


def test_int_views_keep_dtype():
    check_op(lambda m, x: x.t().reshape(-1).unsqueeze(0).expand(2, 6), np.arange(6).reshape(2, 3),
             grad=False)


def test_view_dtype():
    torch = torch_or_skip()
    a = _a(2, 3)
    e, t = ember.tensor(a).view(ember.int32), torch.tensor(a).view(torch.int32)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert e.dtype is ember.int32


def test_T_warnings():
    x = ember.zeros(2, 3, 4)
    with pytest.warns(UserWarning, match="deprecated"):
        assert x.T.shape == (4, 3, 2)
    with pytest.warns(UserWarning, match="0-D"):
        assert ember.zeros(()).T.shape == ()
    with pytest.warns(UserWarning, match="deprecated"):
        assert ember.zeros(3).T.shape == (3,)


def _err(m, code, arrays):
    env = {"m": m, **{f"x{i}": m.tensor(a) for i, a in enumerate(arrays)}}
    try:
        exec(code, env)
    except Exception as e:  # noqa: BLE001
        return type(e), str(e).split("\n")[0].replace("torch.", "ember.")
    return None, None


ERRORS = [
    ("x0.transpose(0, 1).view(-1)", [_a(3, 4)]),
    ("x0.view(-1, -1)", [_a(3, 4)]),
    ("x0.view(5, -1)", [_a(3, 4)]),
    ("x0.view(0, -1)", [_a(3, 4)]),
    ("x0.view(0, -1)", [_a(0, 3)]),
    ("x0.view(13)", [_a(3, 4)]),
    ("x0.view(-2, 6)", [_a(3, 4)]),
    ("x0.reshape(5, -1)", [_a(3, 4)]),
    ("x0.expand(2, 4)", [_a(3, 4)]),
    ("x0.expand(4)", [_a(3, 4)]),
    ("x0.expand(-1, 3, 4)", [_a(3, 4)]),
    ("x0.expand(3, -1, 7)", [_a(3, 1, 4)]),
    ("x0.expand(3, -2)", [_a(3, 4)]),
    ("m.cat([x0, x1])", [_a(3, 4), _a(3, 3)]),
    ("m.cat([x0, x1], 1)", [_a(3, 4), _a(2, 4)]),
    ("m.cat([x0, x1])", [_a(3, 4), _a(4)]),
    ("m.cat([x0, x1], 2)", [_a(3, 4), _a(3, 4)]),
    ("m.cat([x0, x1])", [_a(3), _a()]),
    ("m.cat(x0)", [_a(3)]),
    ("m.cat([])", []),
    ("m.stack([x0, x1])", [_a(3, 4), _a(3, 3)]),
    ("m.stack([])", []),
    ("m.stack([x0, x0], 3)", [_a(3, 4)]),
    ("x0.split(0)", [_a(3, 4)]),
    ("x0.split(-1)", [_a(3, 4)]),
    ("x0.split([1, 1])", [_a(3, 4)]),
    ("x0.split([4, -1])", [_a(3, 4)]),
    ("x0.split(1)", [_a()]),
    ("x0.chunk(0)", [_a(3, 4)]),
    ("x0.unbind()", [_a()]),
    ("x0.unbind(2)", [_a(3, 4)]),
    ("x0.narrow(1, 3, 2)", [_a(3, 4)]),
    ("x0.narrow(1, 5, 0)", [_a(3, 4)]),
    ("x0.narrow(1, -5, 1)", [_a(3, 4)]),
    ("x0.narrow(1, 1, -1)", [_a(3, 4)]),
    ("x0.narrow(0, 0, 1)", [_a()]),
    ("x0.select(1, 4)", [_a(3, 4)]),
    ("x0.select(2, 0)", [_a(3, 4)]),
    ("x0.select(0, 0)", [_a()]),
    ("x0.t()", [_a(2, 3, 4)]),
    ("x0.permute(0, 1)", [_a(2, 3, 4)]),
    ("x0.permute(0, 1, 1)", [_a(2, 3, 4)]),
    ("x0.permute(0, 1, 3)", [_a(2, 3, 4)]),
    ("x0.movedim(0, 5)", [_a(2, 3, 4)]),
    ("x0.movedim((0, 1), (2,))", [_a(2, 3, 4)]),
    ("x0.movedim((0, 0), (1, 2))", [_a(2, 3, 4)]),
    ("x0.movedim((0, 1), (1, 1))", [_a(2, 3, 4)]),
    ("x0.repeat(2)", [_a(2, 3)]),
    ("x0.repeat(-1, 1)", [_a(2, 3)]),
    ("x0.flip(0, 0)", [_a(2, 3)]),
    ("x0.flip()", [_a(2, 3)]),
    ("x0.roll(1, (0, 1))", [_a(2, 3)]),
    ("x0.roll((1, 2), 0)", [_a(2, 3)]),
    ("x0.roll(())", [_a(2, 3)]),
    ("x0.roll(1, 2)", [_a(2, 3)]),
    ("x0.roll(1, 0)", [_a()]),
    ("x0.tril()", [_a(3)]),
    ("x0.triu()", [_a(3)]),
    ("x0.squeeze(2)", [_a(2, 3)]),
    ("x0.squeeze((0, 0))", [_a(1, 3)]),
    ("x0.unsqueeze(3)", [_a(2, 3)]),
    ("x0.unsqueeze(-4)", [_a(2, 3)]),
    ("x0.flatten(1, 0)", [_a(2, 3)]),
    ("x0.flatten(2)", [_a(2, 3)]),
    ("x0.unflatten(1, (2, -1))", [_a(2, 3)]),
    ("x0.unflatten(1, (2, 2))", [_a(2, 3)]),
    ("x0.unflatten(1, ())", [_a(2, 3)]),
    ("x0.unflatten(1, (-1, -1))", [_a(2, 4)]),
    ("x0.transpose(0, 2)", [_a(2, 3)]),
    ("x0.mT", [_a(3)]),
    ("x0.H", [_a(2, 3, 4)]),
    ("x0.diagonal(0, 1, 1)", [_a(2, 3)]),
    ("x0.diag()", [_a(2, 3, 4)]),
]


@pytest.mark.parametrize("code,arrays", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(code, arrays):
    torch = torch_or_skip()
    t_type, t_msg = _err(torch, code, arrays)
    assert t_type is not None, "torch raised nothing"
    e_type, e_msg = _err(ember, code, arrays)
    assert e_type is t_type, (e_type, e_msg, t_type, t_msg)
    assert e_msg == t_msg


def test_failed_view_changes_nothing():
    x = ember.ones(3, 4, requires_grad=True)
    y = x * 1
    with pytest.raises(RuntimeError):
        y.t().view(-1)
    assert y._version == 0 and y.grad_fn.name() == "MulBackward0"


def test_iter_uses_unbind():
    check_op(lambda m, x: tuple(x), _a(3, 2))


# -- sizes that overflow, views of huge sizes, and materialising them ------------------------------
# Run in a child with an 8 GiB address-space limit (size_errors.py): the allocation cases ask for
# terabytes, which torch and ember must refuse with torch's errors, not NumPy's.

SIZE_CASES = [
    # the cases: repeat whose sizes wrap in int64, an expand past int64 elements
    "T.ones(3).repeat(2**62)", "T.ones(1).expand(2**40, 2**40)",
    # repeat and tile: torch's int64 products, then its checks of the new tensor
    "T.ones(3).repeat(2**61)", "T.ones(3).repeat(2**60)", "T.ones(2).repeat(2**62)",
    "T.ones(2, 1).repeat(2**62, 2**62)", "T.ones(4).repeat(2**62)", "T.ones(3).repeat(2**62, 2)",
    "T.ones(3).repeat(0, 2**62)", "T.ones(3).repeat(2**31, 2**31)", "T.ones(3).repeat(-1)",
    "T.ones(3).tile(2**62)", "T.ones(3).tile((2, 2**62))", "T.ones(0).repeat(2**40, 2**20)",
    "T.ones(3).repeat(2**40)", "T.ones(3).repeat(2**40, 1)",
    # views: torch's element count (a negative size of a broadcast dim fails it too)
    "T.ones(1).expand(2**62, 2**62)", "T.ones(1, 1).expand(2**31, 2**32)",
    "T.ones(3).expand(2**62, -1)", "T.broadcast_to(T.ones(1), (2**40, 2**40))",
    "T.ones(1).expand(2, -3)", "T.ones(2, 3).expand(-3, 3)", "T.ones(2, 3).expand(4, -3, 5)",
    "T.ones(3).expand(-1, 3)", "T.ones(1).expand(2**20, 2**20)",
    "T.ones(0).view(2**62, 2**62)", "T.ones(0).reshape(2**62, 2**62)",
    "T.ones(0).reshape(2**62, 2**62, -1)", "T.ones(0).view(2**62, 4, -1)",
    "T.ones(6).view(2**62 + 2, -1)", "T.ones(0).view(2**40, 0, 2**20)",
    # materialising an expanded view that cannot be allocated
    "T.ones(1, 1).expand(2**20, 2**20).contiguous()", "T.ones(1, 1).expand(2**20, 2**20).clone()",
    "T.ones(1).expand(2**20, 2**20).to(T.float64)", "T.ones(2, 1).expand(2, 2**40).reshape(-1)",
]


@pytest.fixture(scope="module")
def size_results():
    torch_or_skip()
    from size_errors import errors_in_child

    return errors_in_child(SIZE_CASES)


@pytest.mark.parametrize("case", SIZE_CASES)
def test_size_errors_match_torch(size_results, case):
    from size_errors import assert_same_error

    assert_same_error(size_results[case])
