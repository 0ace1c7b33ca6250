"""In-place ops through views: CopySlices on the base, shared data and version counters, and
torch's refusals (views of leaves, multi-output views, expanded views), all compared with torch."""
import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, same_error, torch_or_skip


def _a(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


VIEWS = [
    ("getitem_int", lambda y: y[0]),
    ("getitem_slice", lambda y: y[1:, ::2]),
    ("getitem_none", lambda y: y[None, :, 1]),
    ("getitem_ellipsis", lambda y: y[...]),
    ("view", lambda y: y.view(-1)),
    ("reshape", lambda y: y.reshape(4, 3)),
    ("flatten", lambda y: y.flatten()),
    ("unflatten", lambda y: y.unflatten(1, (2, 2))),
    ("t", lambda y: y.t()),
    ("T", lambda y: y.T),
    ("mT", lambda y: y.mT),
    ("transpose", lambda y: y.transpose(0, 1)),
    ("permute", lambda y: y.permute(1, 0)),
    ("movedim", lambda y: y.movedim(0, 1)),
    ("unsqueeze", lambda y: y.unsqueeze(0)),
    ("squeeze", lambda y: y.unsqueeze(1).squeeze()),
    ("select", lambda y: y.select(1, 2)),
    ("narrow", lambda y: y.narrow(1, 1, 2)),
    ("diagonal", lambda y: y.diagonal(1)),
    ("chain", lambda y: y.t()[1:].unsqueeze(-1).view(3, 3)),
    ("transpose_reshape_alias", lambda y: y.t().reshape(4, 3, 1)),
]


@pytest.mark.parametrize("name,view", VIEWS, ids=[v[0] for v in VIEWS])
def test_inplace_on_view_updates_base(name, view):
    def fn(m, x):
        y = x * 1
        v = view(y)
        v.mul_(3)
        return y, v * 1  # the base (CopySlices) and the view, both differentiated

    check_op(fn, _a(3, 4))
    check_gradcheck(fn, _a(3, 4))


@pytest.mark.parametrize("name,view", VIEWS, ids=[v[0] for v in VIEWS])
def test_view_sees_inplace_on_base(name, view):
    def fn(m, x):
        y = x * 1
        v = view(y)
        y.add_(1)
        return v * 2

    check_op(fn, _a(3, 4), grad_fn=False)


def test_setitem_copy_slices_grads():
    def fn(m, x, w):
        y = x * 2
        y[0] = 5
        y[1, 1:] = w[:3]
        y[:, 0] *= 2.0
        y[2, :2] += w[:2]
        return y

    check_op(fn, _a(3, 4), _a(4))
    check_gradcheck(fn, _a(3, 4), _a(4))


def test_unsqueeze_view_grad_is_three():
    for mod in (ember, torch_or_skip()):
        x = mod.ones(3, 4, requires_grad=True)
        y = x * 1
        y.unsqueeze(0).mul_(3)
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 3.0))


def test_t_mul_updates_data_and_grad():
    check_op(lambda m, x: _chain(x * 1, lambda y: y.t().mul_(2)), _a(2, 3))


def _chain(y, f):
    f(y)
    return y


def test_version_counter_shared():
    torch = torch_or_skip()
    for mod in (ember, torch):
        y = mod.ones(3, 4)
        views = [y[0], y.t(), y.view(-1), y.unsqueeze(0), y.diagonal(), y.expand(2, 3, 4),
                 y.split(2)[0], y.unbind()[1], y[...]]
        y.mul_(2)
        assert [v._version for v in views] == [1] * len(views)
        views[0].add_(1)
        assert y._version == 2 and views[3]._version == 2
        assert views[1][0, 0].item() == 3.0


def test_saved_view_modified_raises():
    torch = torch_or_skip()
    for mod in (ember, torch):
        x = mod.ones(3, requires_grad=True)
        y = x * 1
        v = y[1:]
        z = v * v  # saves v
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


LEAF_ERRORS = [
    "x[0] = 1.0",
    "x.t().mul_(2)",
    "x[1:].zero_()",
    "x.view(-1).add_(1)",
    "x[[0]] = 1.0",
    "x.mul_(2)",
]


@pytest.mark.parametrize("code", LEAF_ERRORS)
def test_inplace_on_leaf_view_raises(code):
    torch = torch_or_skip()
    msgs = []
    for mod in (ember, torch):
        env = {"x": mod.ones(3, 4, requires_grad=True)}
        with pytest.raises(RuntimeError) as info:
            exec(code, env)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


def test_inplace_on_leaf_view_under_no_grad_is_allowed():
    check_op(lambda m, x: _no_grad_fill(m, x), _a(3, 4))


def _no_grad_fill(m, x):
    with m.no_grad():
        x[0] = 2.0
        x.t()[1].mul_(3)
    return x * 1


def test_setitem_into_constant_base_makes_it_require_grad():
    def fn(m, v):
        x = m.zeros(3, 4, dtype=v.dtype)
        x[:, 1] = v
        x[0] += v[0]
        return x

    check_op(fn, _a(3))
    check_gradcheck(fn, _a(3))


def test_expanded_view_refuses_writes():
    torch = torch_or_skip()
    for mod in (ember, torch):
        y = mod.ones(3, 1) * 1
        with pytest.raises((RuntimeError, ValueError)):
            y.expand(3, 4).mul_(2)


@pytest.mark.parametrize("code", [
    "a, b = y.split(2); a.mul_(2)",
    "a, b = y.chunk(2); b.add_(1)",
    "a, b, c = y.unbind(); a.mul_(2)",
    "a = list(y)[0]; a.zero_()",
])
def test_multi_output_views_refuse_inplace(code):
    torch = torch_or_skip()
    msgs = []
    for mod in (ember, torch):
        env = {"y": mod.ones(3, 4, requires_grad=True) * 1}
        with pytest.raises(RuntimeError) as info:
            exec(code, env)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


def test_multi_output_views_without_grad_are_writable():
    x = ember.zeros(3, 4)
    a, b, c = x.unbind()
    a.add_(1)
    x.split(2)[1].fill_(2)
    np.testing.assert_array_equal(x.numpy(), np.array([[1] * 4, [0] * 4, [2] * 4], np.float32))


def test_copy_slices_on_non_contiguous_base():
    # the base keeps a transposed layout; the mask that zeroes the overwritten region must too
    def fn(m, x):
        y = x.t() * 1
        y.t().reshape(12).mul_(0.5)
        y.t()[0].zero_()
        return y

    check_op(fn, _a(3, 4))
    check_gradcheck(fn, _a(3, 4))


# -- relu_ with nothing to record writes into the array directly ---------------------------------

_RELU_VALUES = [[-1.5, 0.0, -0.0, 2.0], [float("nan"), float("inf"), -float("inf"), 3.0]]


@pytest.mark.parametrize("grad_mode", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_inplace_without_graph_matches_torch(grad_mode, dtype):
    torch = torch_or_skip()
    out = {}
    for lib in (ember, torch):
        base = lib.tensor(_RELU_VALUES, dtype=getattr(lib, dtype))
        view = base[1:]  # the base sees the write through its view, and shares its version
        before = view._version
        with lib.set_grad_enabled(grad_mode):
            r = view.relu_()
            r2 = lib.nn.functional.relu(base, inplace=True)
        assert r is view and r2 is base
        out[lib.__name__] = (base.numpy().copy(), view._version - before, base._version,
                             r.grad_fn, r.requires_grad)
    e, t = out["ember"], out["torch"]
    np.testing.assert_array_equal(e[0], t[0])  # (relu(-0.) is +0. in ember, -0. in torch)
    assert e[1:] == t[1:]


@pytest.mark.parametrize("no_grad", [False, True])
def test_relu_inplace_of_a_saved_input_fails_backward_as_in_torch(no_grad):
    torch = torch_or_skip()
    messages = {}
    for lib in (ember, torch):
        w = lib.tensor([1.0, -2.0], requires_grad=True)
        x = lib.tensor([-1.0, 3.0])  # needs no gradient: relu_ takes the direct path
        y = (x * w).sum()  # saves x for w's gradient
        with lib.set_grad_enabled(not no_grad):
            x.relu_()
        with pytest.raises(RuntimeError) as err:
            y.backward()
        messages[lib.__name__] = str(err.value)
    # (the tensor type is torch's name in both; only the hint names the module)
    assert messages["ember"] == messages["torch"].replace("torch.autograd", "ember.autograd")


def test_relu_inplace_keeps_the_recorded_path_when_grad_is_needed():
    torch = torch_or_skip()
    for lib in (ember, torch):
        x = lib.tensor([-1.0, 2.0], requires_grad=True).clone()
        x.relu_()
        assert type(x.grad_fn).__name__ == "ReluBackward0"
    for lib in (ember, torch):  # an integer tensor, and a bool one, go the generic way
        i = lib.tensor([-1, 2])
        assert i.relu_().tolist() == [0, 2]
    same_error(lambda lib: lib.tensor([True, False]).relu_())


# -- an in-place op whose node saves its output saves the tensor itself, as torch ---------------

def _saved_output_case(lib, op, then, on_view):
    a = lib.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], requires_grad=True)
    base = a * 1.0
    x = base[1] if on_view else base
    getattr(x, op + "_")()
    if then == "add_":
        x.add_(1)
    elif then == "base.mul_":
        base.mul_(2)
    (base * base).sum().backward()
    return a.grad


@pytest.mark.parametrize("op", ["relu", "exp", "sigmoid", "tanh", "sqrt"])
@pytest.mark.parametrize("then", [None, "add_", "base.mul_"])
@pytest.mark.parametrize("on_view", [False, True])
def test_inplace_op_saving_its_output_matches_torch(op, then, on_view):
    torch = torch_or_skip()
    outcome = {}
    for lib in (ember, torch):
        try:
            outcome[lib.__name__] = _saved_output_case(lib, op, then, on_view).numpy()
        except RuntimeError as err:
            outcome[lib.__name__] = str(err).replace("torch.autograd", "ember.autograd")
    e, t = outcome["ember"], outcome["torch"]
    if isinstance(t, str):
        if on_view and then == "base.mul_" and isinstance(e, str):
            # written through its base, torch names the view's AsStridedBackward0 (its current
            # node) where ember names the op's node, as both do when the view itself is written
            e = e.replace("output 0 of " + op.capitalize() + ",", "output 0 of AsStrided,")
        assert e == t
    else:
        assert not isinstance(e, str), e
        np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-6)


# -- a view whose base (or a sibling view) is written in place reads the new history -------------

_VIEWS = {
    "select": lambda b: b[1],
    "slice": lambda b: b[:, 1:3],
    "t": lambda b: b.t(),
    "view": lambda b: b.view(12),
    "diagonal": lambda b: b.diagonal(),
    "unsqueeze": lambda b: b.unsqueeze(0),
    "view of a view": lambda b: b[1][1:],
    "expand": lambda b: b[0].expand(2, 4),  # reads each element twice (not writable itself)
}


@pytest.mark.parametrize("kind, writer", [(k, w) for k in sorted(_VIEWS) if k != "expand"
                                           for w in ("base", "sibling", "itself")]
                         + [("expand", "base"), ("expand", "sibling")])
def test_view_after_an_inplace_write_matches_torch(kind, writer):
    """The view's grad_fn becomes AsStridedBackward0 and its gradient includes the write (a view
    made before its base was written used to keep its old node and skip the write)."""
    torch = torch_or_skip()
    out = {}
    for lib in (ember, torch):
        a = lib.tensor(_a(3, 4), requires_grad=True)
        base = a * 1.0
        view = _VIEWS[kind](base)
        if writer == "base":
            base.mul_(2)
        elif writer == "sibling":
            base[:, 0].mul_(3)
        else:
            view.mul_(5)
        names = (type(view.grad_fn).__name__, type(base.grad_fn).__name__)
        (view * lib.tensor(_a(*view.shape, seed=1))).sum().backward()
        out[lib.__name__] = names, a.grad.numpy()
    assert out["ember"][0] == out["torch"][0]
    np.testing.assert_allclose(out["ember"][1], out["torch"][1], rtol=1e-6)


def test_view_read_through_asstrided_differentiates_twice():
    def f(m, a):
        base = a * 1.0
        view = base[1:, ::2]
        base.mul_(m.tensor(np.arange(12.0).reshape(3, 4) / 7 + 0.5))
        return (view * view).sum(0)

    check_gradcheck(f, _a(3, 4))

    def g(m, a):  # an expanded view: its gradient sums over the repeated rows
        base = a * 1.0
        view = base[0].expand(2, 4)
        base.mul_(m.tensor(np.arange(12.0).reshape(3, 4) / 7 + 0.5))
        return view * view

    check_gradcheck(g, _a(3, 4))


@pytest.mark.parametrize("case", ["tensor written", "view written", "base written"])
def test_retain_grad_follows_an_inplace_write_as_in_torch(case):
    """``.grad`` of a retained tensor is the gradient of its value after the write."""
    torch = torch_or_skip()
    out = {}
    for lib in (ember, torch):
        a = lib.tensor(_a(2, 3), requires_grad=True)
        b = a * 1.0
        x = b if case == "tensor written" else b[1]
        x.retain_grad()
        (b if case == "base written" else x).mul_(3)
        (x * lib.tensor(_a(*x.shape, seed=4))).sum().backward()
        out[lib.__name__] = x.grad.numpy(), a.grad.numpy()
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-6)
