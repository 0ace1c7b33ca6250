"""Matrix products and einsum: parity with torch (values, dtypes, grad_fn names, gradients),
gradcheck/gradgradcheck, and torch's errors."""
import numpy as np
import pytest

import ember
from helpers import check_gradcheck, check_op, torch_or_skip

# (shape of a, shape of b) for a @ b: every dimension case and broadcast batches
MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3,)), ((3,), (5, 3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)), ((2, 5, 2, 3), (5, 3, 4)), ((1, 2, 3), (4, 3, 2)),
    ((2, 1, 2, 3), (3, 3, 2)), ((5, 1, 3), (3, 1)), ((1, 3), (5, 3, 1)), ((3, 1), (5, 1, 3)),
    ((2, 3, 2, 3), (3,)), ((3,), (2, 2, 3, 4)), ((0, 3), (3, 4)), ((2, 0), (0, 4)),
    ((5, 0, 3), (3, 2)), ((0,), (0,)), ((2, 2, 3), (2, 3, 0)), ((5, 2, 0), (0, 3)),
    ((5, 0, 3), (3, 0)),
]


def _arr(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_parity(sa, sb, rng):
    a, b = _arr(rng, sa), _arr(rng, sb)
    check_op(lambda m, x, y: m.matmul(x, y), a, b)
    check_op(lambda m, x, y: x @ y, a, b)


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
@pytest.mark.parametrize("grads", [(True, False), (False, True)])
def test_matmul_grad_fn_when_one_side_requires_grad(sa, sb, grads, rng):
    # torch's choice of kernel (and so the output's grad_fn) depends on which side needs grad
    torch = torch_or_skip()
    a, b = _arr(rng, sa), _arr(rng, sb)
    ea, eb = ember.tensor(a).requires_grad_(grads[0]), ember.tensor(b).requires_grad_(grads[1])
    ta, tb = torch.tensor(a).requires_grad_(grads[0]), torch.tensor(b).requires_grad_(grads[1])
    e, t = ea @ eb, ta @ tb
    assert type(e.grad_fn).__name__ == type(t.grad_fn).__name__
    g = _arr(rng, tuple(t.shape))
    leaf_e, leaf_t = (ea, ta) if grads[0] else (eb, tb)
    (ge,) = ember.autograd.grad(e, leaf_e, ember.tensor(g))
    (gt,) = torch.autograd.grad(t, leaf_t, torch.tensor(g))
    np.testing.assert_allclose(ge.numpy(), gt.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sa,sb", [s for s in MATMUL_SHAPES if 0 not in s[0] + s[1]])
def test_matmul_gradcheck(sa, sb, rng):
    check_gradcheck(lambda m, x, y: m.matmul(x, y), _arr(rng, sa), _arr(rng, sb))


def test_matmul_no_grad_and_integer(rng):
    a = rng.integers(-5, 5, (2, 3, 4))
    b = rng.integers(-5, 5, (4, 2))
    check_op(lambda m, x, y: m.matmul(x, y), a, b)
    check_op(lambda m, x, y: m.matmul(x, y), a.astype(np.int32), b.astype(np.int32))
    with ember.no_grad():
        out = ember.tensor(_arr(rng, (2, 3)), requires_grad=True) @ ember.tensor(_arr(rng, (3,)))
    assert out.grad_fn is None and not out.requires_grad


def test_matmul_same_result_as_folded_batches(rng):
    # the forward folds a contiguous batch into one GEMM; non-contiguous batches take numpy's loop
    a, b = _arr(rng, (4, 3, 5), np.float64), _arr(rng, (5, 2), np.float64)
    want = np.einsum("bij,jk->bik", a, b)
    np.testing.assert_allclose((ember.tensor(a) @ ember.tensor(b)).numpy(), want)
    strided = ember.tensor(np.ascontiguousarray(a.transpose(1, 0, 2))).transpose(1, 0)
    assert not strided.is_contiguous()
    np.testing.assert_allclose((strided @ ember.tensor(b)).numpy(), want)


@pytest.mark.parametrize("base,perm,sb,rg", [
    ((2, 5, 3), (1, 0, 2), (4, 4), True), ((2, 5, 3), (1, 0, 2), (4,), True),
    ((5, 3, 4), (0, 2, 1), (3,), False), ((5, 3, 4), (0, 2, 1), (2, 3), False),
])
def test_matmul_strided_operands_follow_torch(base, perm, sb, rg, rng):
    # without requires_grad on the small operand, torch folds only when the batch dims of the
    # large one are contiguous, which changes the error it reports
    torch = torch_or_skip()
    data = _arr(rng, base)
    e_big = ember.Tensor._make(data.copy().transpose(perm)).requires_grad_(rg)
    t_big = torch.tensor(data).permute(perm).requires_grad_(rg)
    msgs = []
    for m, big in ((ember, e_big), (torch, t_big)):
        small = m.zeros(sb)
        with pytest.raises(RuntimeError) as info:
            m.matmul(big, small) if rg else m.matmul(small, big)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((3,), (5, 3, 4)),
                                   ((2, 3), (3,)), ((4, 2, 3), (1, 3, 2))])
def test_matmul_double_backward_parity(sa, sb, rng):
    torch = torch_or_skip()
    a, b = _arr(rng, sa, np.float64), _arr(rng, sb, np.float64)
    res = []
    for m in (ember, torch):
        x, y = m.tensor(a, requires_grad=True), m.tensor(b, requires_grad=True)
        out = m.matmul(x, y)
        gx, gy = m.autograd.grad((out * out).sum(), (x, y), create_graph=True)
        hx, hy = m.autograd.grad((gx * gx).sum() + gy.sum(), (x, y))
        res.append([t.detach().numpy() for t in (gx, gy, hx, hy)])
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


MATMUL_ERRORS = [
    ((2, 3), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ((3,), (4,), r"inconsistent tensor size, expected tensor \[3\] and src \[4\] to have the same "
                 r"number of elements, but got 3 and 4 elements respectively"),
    ((2, 3), (4,), r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    ((3,), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(1x3 and 4x5\)"),
    ((5, 2, 3), (4, 3, 4), r"The size of tensor a \(5\) must match the size of tensor b \(4\) at "
                           r"non-singleton dimension 0"),
    ((3, 5, 2, 3), (4, 3, 4), "The size of tensor a \\(5\\) must match the size of tensor b "
                              "\\(4\\) at non-singleton dimension 1"),
    ((5, 2, 3), (5, 4, 4), r"Expected size for first two dimensions of batch2 tensor to be: "
                           r"\[5, 3\] but got: \[5, 4\]\."),
    ((5, 2, 3), (4,), r"size mismatch, got input \(10\), mat \(10x3\), vec \(4\)"),
    ((5, 2, 3), (4, 4), r"mat1 and mat2 shapes cannot be multiplied \(10x3 and 4x4\)"),
    ((), (3,), "both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    ((3,), (), "both arguments to matmul need to be at least 1D, but they are 1D and 0D"),
]


@pytest.mark.parametrize("sa,sb,msg", MATMUL_ERRORS)
def test_matmul_errors(sa, sb, msg):
    torch = torch_or_skip()
    for m in (ember, torch):
        with pytest.raises(RuntimeError, match=msg):
            m.matmul(m.zeros(sa), m.zeros(sb))


@pytest.mark.parametrize("sa,sb,rg,msg", [
    # which side requires grad changes torch's kernel, and so its message
    ((3,), (5, 4, 4), 1, r"Expected size for first two dimensions of batch2 tensor to be: "
                         r"\[5, 3\] but got: \[5, 4\]\."),
    ((3,), (5, 4, 4), 0, r"size mismatch, got input \(20\), mat \(20x4\), vec \(3\)"),
    ((2, 3), (5, 4, 4), 0, r"mat1 and mat2 shapes cannot be multiplied \(20x4 and 3x2\)"),
    ((5, 2, 3), (4, 4), 1, r"mat1 and mat2 shapes cannot be multiplied \(10x3 and 4x4\)"),
])
def test_matmul_error_depends_on_requires_grad(sa, sb, rg, msg):
    torch = torch_or_skip()
    for m in (ember, torch):
        x, y = m.zeros(sa), m.zeros(sb)
        (x, y)[rg].requires_grad_()
        with pytest.raises(RuntimeError, match=msg):
            m.matmul(x, y)


@pytest.mark.parametrize("sa,sb,msg", [
    ((2, 3), (3, 4), "expected m1 and m2 to have the same dtype, but got: float != double"),
    ((3,), (3,), "dot : expected both vectors to have same dtype, but found Float and Double"),
    ((2, 3), (3,), "addmv input tensors must have the same dtype, but got Double, Float, and "
                   "Double"),
    ((5, 2, 3), (5, 3, 4), "expected scalar type Float but found Double"),
    ((5, 2, 3), (3, 4), "expected m1 and m2 to have the same dtype, but got: float != double"),
])
def test_matmul_dtype_mismatch(sa, sb, msg):
    torch = torch_or_skip()
    for m in (ember, torch):
        with pytest.raises(RuntimeError, match=msg):
            m.matmul(m.zeros(sa), m.zeros(sb, dtype=m.float64))


def test_bool_products_not_implemented():
    torch = torch_or_skip()
    cases = [("mm", (2, 3), (3, 4), "addmm_impl_cpu_"), ("bmm", (2, 2, 3), (2, 3, 4), "bmm"),
             ("dot", (3,), (3,), "dot"), ("mv", (2, 3), (3,), "addmv_impl_cpu"),
             ("matmul", (5, 2, 3), (5, 3, 4), "bmm")]
    for op, sa, sb, kernel in cases:
        for m in (ember, torch):
            with pytest.raises(NotImplementedError, match=f'"{kernel}" not implemented for'):
                getattr(m, op)(m.ones(sa, dtype=m.bool), m.ones(sb, dtype=m.bool))


def test_matmul_operator_type_errors():
    torch = torch_or_skip()
    for m in (ember, torch):
        x = m.ones(3)
        with pytest.raises(TypeError, match="unsupported operand"):
            x @ 2
        with pytest.raises(TypeError, match="unsupported operand"):
            2 @ x
        with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for @: "
                                            r"'numpy.ndarray' and 'Tensor'"):
            np.ones(3, np.float32) @ x
        with pytest.raises(TypeError, match="matmul\\(\\): argument 'other' \\(position 2\\) "
                                            "must be Tensor, not int"):
            m.matmul(x, 2)
    a = ember.ones(2, 3)
    assert (a.__rmatmul__(ember.ones(4, 2))).shape == (4, 3)


# -- mm, bmm, mv, dot, outer ----------------------------------------------------------------------

@pytest.mark.parametrize("op,sa,sb", [
    ("mm", (2, 3), (3, 4)), ("mm", (1, 1), (1, 5)), ("mm", (0, 3), (3, 2)),
    ("bmm", (4, 2, 3), (4, 3, 5)), ("bmm", (1, 1, 3), (1, 3, 1)),
    ("mv", (2, 3), (3,)), ("mv", (4, 1), (1,)), ("dot", (5,), (5,)), ("dot", (1,), (1,)),
    ("outer", (2,), (3,)), ("ger", (1,), (4,)),
])
def test_named_products(op, sa, sb, rng):
    a, b = _arr(rng, sa), _arr(rng, sb)
    check_op(lambda m, x, y: getattr(m, op)(x, y), a, b)
    check_op(lambda m, x, y: getattr(x, op)(y), a, b)
    if 0 not in sa + sb:
        check_gradcheck(lambda m, x, y: getattr(m, op)(x, y), a, b)


def test_outer_promotes(rng):
    check_op(lambda m, x, y: m.outer(x, y), _arr(rng, (2,)), _arr(rng, (3,), np.float64))
    check_op(lambda m, x, y: m.outer(x, y), rng.integers(0, 3, (2,)), _arr(rng, (3,)))


@pytest.mark.parametrize("op,sa,sb,dt,msg", [
    ("mm", (2, 3), (4, 5), False, r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ("mm", (3,), (3, 4), False, "self must be a matrix"),
    ("mm", (2, 3), (3,), False, "mat2 must be a matrix"),
    ("mm", (2, 3), (3, 4), True, "expected m1 and m2 to have the same dtype, but got: float != "
                                 "double"),
    ("bmm", (2, 3), (3, 4), False, "batch1 must be a 3D tensor"),
    ("bmm", (2, 2, 3), (2, 3), False, "batch2 must be a 3D tensor"),
    ("bmm", (2, 2, 3), (3, 3, 4), False, r"Expected size for first two dimensions of batch2 "
                                         r"tensor to be: \[2, 3\] but got: \[3, 3\]\."),
    ("bmm", (2, 2, 3), (2, 3, 4), True, "expected scalar type Float but found Double"),
    ("dot", (2, 3), (2, 3), False, "1D tensors expected, but got 2D and 2D tensors"),
    ("dot", (3,), (3, 1), False, "1D tensors expected, but got 1D and 2D tensors"),
    ("dot", (3,), (4,), True, "dot : expected both vectors to have same dtype, but found Float "
                              "and Double"),
    ("mv", (2, 3), (3, 1), False, "vector \\+ matrix @ vector expected, got 1, 2, 2"),
    ("mv", (3,), (3,), False, "vector \\+ matrix @ vector expected, got 1, 1, 1"),
    ("mv", (2, 3), (3,), True, "addmv input tensors must have the same dtype, but got Double, "
                               "Float, and Double"),
    ("outer", (2, 3), (3,), False, "outer: Expected 1-D argument self, but got 2-D"),
    ("outer", (3,), (2, 3), False, "outer: Expected 1-D argument vec2, but got 2-D"),
])
def test_named_product_errors(op, sa, sb, dt, msg):
    torch = torch_or_skip()
    for m in (ember, torch):
        with pytest.raises(RuntimeError, match=msg):
            getattr(m, op)(m.zeros(sa), m.zeros(sb, dtype=m.float64 if dt else m.float32))


def test_argument_type_errors():
    torch = torch_or_skip()
    for m in (ember, torch):
        with pytest.raises(TypeError, match=r"mm\(\): argument 'mat2' \(position 2\) must be "
                                            r"Tensor, not list"):
            m.mm(m.ones(2, 2), [[1.0, 2.0], [3.0, 4.0]])
        with pytest.raises(TypeError, match=r"dot\(\): argument 'tensor' \(position 2\) must be "
                                            r"Tensor, not NoneType"):
            m.dot(m.ones(2), None)


# -- addmm, baddbmm, addmv ------------------------------------------------------------------------

@pytest.mark.parametrize("si,sa,sb", [((4,), (2, 3), (3, 4)), ((2, 4), (2, 3), (3, 4)),
                                      ((2, 1), (2, 3), (3, 4)), ((), (2, 3), (3, 4))])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, -1.5)])
def test_addmm(si, sa, sb, beta, alpha, rng):
    args = _arr(rng, si), _arr(rng, sa), _arr(rng, sb)
    fn = lambda m, c, x, y: m.addmm(c, x, y, beta=beta, alpha=alpha)  # noqa: E731
    check_op(fn, *args)
    check_op(lambda m, c, x, y: c.addmm(x, y, beta=beta, alpha=alpha), *args)
    check_gradcheck(fn, *args)


def test_addmm_beta_zero_ignores_nan(rng):
    c = np.full((2, 4), np.nan, np.float32)
    check_op(lambda m, c, x, y: m.addmm(c, x, y, beta=0), c, _arr(rng, (2, 3)), _arr(rng, (3, 4)))


def test_addmm_integer(rng):
    ints = [rng.integers(-3, 3, s) for s in ((2, 4), (2, 3), (3, 4))]
    check_op(lambda m, c, x, y: m.addmm(c, x, y, beta=2, alpha=3), *ints)


@pytest.mark.parametrize("si,sa,sb", [((4,), (2, 2, 3), (2, 3, 4)), ((2, 2, 4), (2, 2, 3),
                                                                      (2, 3, 4))])
def test_baddbmm(si, sa, sb, rng):
    args = _arr(rng, si), _arr(rng, sa), _arr(rng, sb)
    fn = lambda m, c, x, y: m.baddbmm(c, x, y, beta=0.5, alpha=3)  # noqa: E731
    check_op(fn, *args)
    check_op(lambda m, c, x, y: m.baddbmm(c, x, y), *args)
    check_gradcheck(fn, *args)


@pytest.mark.parametrize("si", [(2,), (1,), ()])
def test_addmv(si, rng):
    args = _arr(rng, si), _arr(rng, (2, 3)), _arr(rng, (3,))
    fn = lambda m, c, x, y: m.addmv(c, x, y, beta=-1, alpha=0.5)  # noqa: E731
    check_op(fn, *args)
    if si == (2,):
        check_op(lambda m, c, x, y: c.addmv(x, y), *args)
    check_gradcheck(fn, *args)


@pytest.mark.parametrize("op,shapes,dtypes,msg", [
    ("addmm", [(3, 4), (2, 3), (3, 4)], "fff", r"The expanded size of the tensor \(2\) must match "
     r"the existing size \(3\) at non-singleton dimension 0.  Target sizes: \[2, 4\].  Tensor "
     r"sizes: \[3, 4\]"),
    ("addmm", [(2, 1, 4), (2, 3), (3, 4)], "fff", r"the number of sizes provided \(2\) must be "
     r"greater or equal to the number of dimensions in the tensor \(3\)"),
    ("addmm", [(2, 4), (3,), (3, 4)], "fff", "mat1 must be a matrix, got 1-D tensor"),
    ("addmm", [(2, 4), (2, 3), (3,)], "fff", "mat2 must be a matrix, got 1-D tensor"),
    ("addmm", [(2, 4), (2, 3), (4, 4)], "fff", r"mat1 and mat2 shapes cannot be multiplied "
     r"\(2x3 and 4x4\)"),
    ("addmm", [(2, 4), (2, 3), (3, 4)], "dff", "self and mat2 must have the same dtype, but got "
     "Double and Float"),
    ("addmm", [(2, 4), (2, 3), (3, 4)], "fdf", "mat1 and mat2 must have the same dtype, but got "
     "Double and Float"),
    ("addmm", [(2, 4), (2, 3), (3, 4)], "ffd", "self and mat2 must have the same dtype, but got "
     "Float and Double"),
    ("baddbmm", [(2, 2, 4), (2, 2, 3), (2, 3, 4)], "dff", "Input dtypes must be the same, got: "
     "input double, batch1: float, batch2: float"),
    ("baddbmm", [(3, 2, 4), (2, 2, 3), (2, 3, 4)], "fff", r"The expanded size of the tensor "
     r"\(2\) must match the existing size \(3\) at non-singleton dimension 0"),
    ("baddbmm", [(2, 2, 4), (2, 2, 3), (2, 4, 4)], "fff", r"Expected size for first two "
     r"dimensions of batch2 tensor to be: \[2, 3\] but got: \[2, 4\]\."),
    ("addmv", [(3,), (2, 3), (3,)], "fff", r"size mismatch, got input \(3\), mat \(2x3\), "
     r"vec \(3\)"),
    ("addmv", [(2, 1), (2, 3), (3,)], "fff", "vector \\+ matrix @ vector expected, got 2, 2, 1"),
    ("addmv", [(2,), (2, 3), (3,)], "dff", "addmv input tensors must have the same dtype, but "
     "got Double, Float, and Float"),
])
def test_add_product_errors(op, shapes, dtypes, msg):
    torch = torch_or_skip()
    for m in (ember, torch):
        args = [m.zeros(s, dtype=m.float64 if d == "d" else m.float32)
                for s, d in zip(shapes, dtypes)]
        with pytest.raises(RuntimeError, match=msg):
            getattr(m, op)(*args)


# -- einsum ---------------------------------------------------------------------------------------

EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 4)]), ("...ij,...jk", [(3, 2, 3), (1, 3, 4)]),
    ("ij->j", [(2, 3)]), ("ij,ij->ij", [(2, 3), (2, 3)]), ("i,i,i->", [(3,), (3,), (3,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("bn,anm,bm->ba", [(2, 3), (4, 3, 2), (2, 2)]),
    ("i,j->", [(2,), (3,)]), ("ij,kl->ijkl", [(2, 3), (1, 2)]), ("iij->j", [(2, 2, 3)]),
    ("ij,j->i", [(2, 3), (3,)]), ("ba,cb", [(2, 3), (4, 2)]), ("Ab,bc->Ac", [(2, 3), (3, 4)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]), ("...,...->...", [(2, 3), (3,)]), ("ij...->...", [(2, 3, 4)]),
    ("i...->...i", [(2, 3, 4)]), ("...", [()]), (",->", [(), ()]), (",i->i", [(), (3,)]),
    ("iji->j", [(2, 3, 2)]), ("ii,i->i", [(3, 3), (3,)]), ("i j , j k -> i k", [(2, 3), (3, 4)]),
    ("ij->i", [(2, 1)]), ("ij,jk->ik", [(2, 1), (1, 4)]), ("ij,kj->ik", [(3, 1), (1, 1)]),
    ("...ij->ij", [(2, 3, 4)]), ("...ii->...i", [(2, 3, 3)]), ("ij->...", [(2, 3)]),
    ("ij,jk->ik", [(0, 3), (3, 4)]), ("ij,jk->ik", [(2, 0), (0, 4)]), ("ij->i", [(2, 0)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES)
def test_einsum_parity(eq, shapes, rng):
    arrays = [_arr(rng, s) for s in shapes]
    check_op(lambda m, *ops: m.einsum(eq, *ops), *arrays)
    if not any(0 in s for s in shapes):
        check_gradcheck(lambda m, *ops: m.einsum(eq, *ops), *arrays)


def test_einsum_call_forms(rng):
    a, b = _arr(rng, (2, 3)), _arr(rng, (3, 4))
    check_op(lambda m, x, y: m.einsum("ij,jk->ik", [x, y]), a, b)
    check_op(lambda m, x, y: m.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b)
    check_op(lambda m, x, y: m.einsum(x, [0, 1], y, [1, 2]), a, b)
    check_op(lambda m, x, y: m.einsum(x, [Ellipsis, 1], y, [1, 2], [Ellipsis, 2]), a, b)


def test_einsum_dtypes(rng):
    ints = rng.integers(-3, 3, (2, 3)).astype(np.int32)
    check_op(lambda m, x: m.einsum("ij->j", x), ints)
    check_op(lambda m, x, y: m.einsum("ij,jk->ik", x, y), ints, ints.T.copy())
    check_op(lambda m, x, y: m.einsum("ij,ij->ij", x, y), ints, ints)
    check_op(lambda m, x, y: m.einsum("i,j->", x, y), ints[0], ints[1])
    check_op(lambda m, x: m.einsum("ij->ji", x), ints)
    f32, f64 = _arr(rng, (2,)), _arr(rng, (3,), np.float64)
    check_op(lambda m, x, y: m.einsum("i,j->ij", x, y), f32, f64)
    check_op(lambda m, x, y: m.einsum("i,j->", x, y), f32, f64)
    b = np.ones((2, 3), bool)
    check_op(lambda m, x: m.einsum("ij->j", x), b)
    check_op(lambda m, x, y: m.einsum("ij,ij->ij", x, y), b, b)


def test_einsum_double_backward(rng):
    torch = torch_or_skip()
    a, b = _arr(rng, (2, 3), np.float64), _arr(rng, (3, 3), np.float64)
    res = []
    for m in (ember, torch):
        x, y = m.tensor(a, requires_grad=True), m.tensor(b, requires_grad=True)
        out = m.einsum("ij,jj,jk->ik", x, y, y)
        (gx,) = m.autograd.grad((out ** 2).sum(), x, create_graph=True)
        (hy,) = m.autograd.grad((gx ** 2).sum(), y)
        res.append((gx.detach().numpy(), hy.numpy()))
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-10)


EINSUM_ERRORS = [
    ("ij,jk", [(2, 3), (4, 4)], "subscript j has size 4 for operand 1 which does not broadcast "
                                "with previously seen size 3"),
    ("ij,jk->", [(2, 3)], "fewer operands were provided than specified in the equation"),
    ("ij", [(2, 3), (3, 4)], "more operands were provided than specified in the equation"),
    ("ij,jk->l", [(2, 3), (3, 4)], "output subscript l does not appear in the equation for any "
                                   "input operand"),
    ("ij,jk->ii", [(2, 3), (3, 4)], "output subscript i appears more than once in the output"),
    ("ijk,jk", [(2, 3), (3, 4)], r"the number of subscripts in the equation \(3\) does not match "
                                 r"the number of dimensions \(2\) for operand 0 and no ellipsis "
                                 r"was given"),
    ("...ij->...i", [(2,)], r"the number of subscripts in the equation \(2\) is more than the "
                            r"number of dimensions \(1\) for operand 0"),
    ("ii", [(2, 3)], "subscript i is repeated for operand 0 but the sizes don't match, 3 != 2"),
    ("i.j", [(2, 3)], "found '.' for operand 0 that is not part of any ellipsis"),
    ("i...j...", [(2, 3)], "found '.' for operand 0 for which an ellipsis was already found"),
    ("i1", [(2, 3)], r"invalid subscript given at index 1 in the equation string, subscripts "
                     r"must be in \[a-zA-Z\]"),
    ("ij->ij->", [(2, 3)], "invalid subscript given at index 6 in the equation string"),
    ("ij->.i", [(2, 3)], r"found '.' for output that is not part of any ellipsis \(...\)"),
    ("ij->...i...", [(2, 3)], r"found '.' for output but an ellipsis \(...\) was already found"),
    ("...ij,...jk", [(3, 5, 2, 3), (4, 3, 4)], "dimension 0 covered by ellipsis in operand 1has "
     "size 4 which does not broadcast with previously seen ellipsis with size 5 for the "
     "respective dimension"),
    ("...ij,...jk", [(5, 2, 3), (6, 4, 3, 4)], "dimension 1 covered by ellipsis in operand 1has"),
    ("ij,kj,jl->ik", [(2, 1), (3, 4), (5, 6)], "subscript j has size 5 for operand 2 which does "
                                               "not broadcast with previously seen size 4"),
]


@pytest.mark.parametrize("eq,shapes,msg", EINSUM_ERRORS)
def test_einsum_errors(eq, shapes, msg):
    torch = torch_or_skip()
    for m in (ember, torch):
        with pytest.raises(RuntimeError, match="einsum\\(\\): " + msg):
            m.einsum(eq, *[m.zeros(s) for s in shapes])


def test_einsum_argument_errors():
    torch = torch_or_skip()
    for m in (ember, torch):
        with pytest.raises(ValueError, match="must specify the equation string and at least one"):
            m.einsum("ij")
        with pytest.raises(TypeError, match="expected Tensor as element 1 in argument 1, but got "
                                            "int"):
            m.einsum("ij,jk->ik", m.zeros(2, 3), 3)
        with pytest.raises(TypeError, match="argument 'equation' \\(position 1\\) must be str, "
                                            "not int"):
            m.einsum(3, m.zeros(2))
        with pytest.raises(RuntimeError, match="expected scalar type Float but found Double"):
            m.einsum("ij,jk", m.zeros(2, 3), m.zeros(3, 4, dtype=m.float64))
        with pytest.raises(NotImplementedError, match="\"bmm\" not implemented for 'Bool'"):
            m.einsum("i,i->", m.ones(2, dtype=m.bool), m.ones(2, dtype=m.bool))


# -- tensordot ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb,dims", [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1),
                                        ((2, 3), (3, 4), 0), ((2, 3), (3, 2), ([0, 1], [1, 0])),
                                        ((2, 3, 4), (4, 2), ([0, -1], [1, 0])), ((3,), (3,), 1)])
def test_tensordot(sa, sb, dims, rng):
    a, b = _arr(rng, sa), _arr(rng, sb)
    check_op(lambda m, x, y: m.tensordot(x, y, dims=dims), a, b)
    check_gradcheck(lambda m, x, y: m.tensordot(x, y, dims=dims), a, b)


@pytest.mark.parametrize("sb,dims,exc,msg", [
    ((4, 4), 1, RuntimeError, r"contracted dimensions need to match, but first has size 3 in dim "
                              r"-1 and second has size 4 in dim 0"),
    ((3, 4), -1, RuntimeError, "tensordot expects dims >= 0, but got dims=-1"),
    ((3, 4), 3, RuntimeError, "tensordot expects dims < ndim_a or ndim_b, but got dims=3"),
    ((3, 4), ([1], [0, 1]), RuntimeError, "both dimension lists should have same length"),
    ((3, 4), 2, RuntimeError, r"first has size 2 in dim -2 and second has size 3 in dim 0"),
    ((3, 4), (1, 0), TypeError, r"argument 'dims_self' \(position 3\) must be tuple of ints"),
])
def test_tensordot_errors(sb, dims, exc, msg):
    torch = torch_or_skip()
    for m in (ember, torch):
        with pytest.raises(exc, match=msg):
            m.tensordot(m.zeros(2, 3), m.zeros(sb), dims=dims)
    for m in (ember, torch):
        with pytest.raises(RuntimeError, match="both inputs should have same dtype"):
            m.tensordot(m.zeros(2, 3), m.zeros(3, 4, dtype=m.float64), dims=1)
