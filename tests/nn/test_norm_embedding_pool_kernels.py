"""The backend kernels behind layer norm's parameter gradients (``sum_rows``, one GEMM), the
embedding gradients (``index_sum``, a sort and a segment sum) and max pooling, against torch:
values, gradients and dtypes at sizes where the accumulation order shows, torch's padding and
NaN rules, and gradcheck through the ops that use them."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.backend import NUMPY
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

_TOL = {np.float64: dict(atol=1e-10, rtol=1e-10), np.float32: dict(atol=1e-5, rtol=1e-4)}


def _data(shape, dtype, seed=0, offset=1.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 2 + offset).astype(dtype)


# -- layer norm: weight and bias gradients as one GEMM each -----------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1000, 37), (5000, 64), (6144, 64), (3, 200000)])
def test_sum_rows_is_the_column_sum_in_the_input_dtype(dtype, shape):
    m = _data(shape, dtype)  # one GEMM, blocks with a remainder, whole blocks, one-row blocks
    s = NUMPY.sum_rows(m)
    assert s.shape == (1, shape[1]) and s.dtype == dtype
    np.testing.assert_allclose(s[0], m.astype(np.float64).sum(axis=0), **_TOL[dtype])
    empty = NUMPY.sum_rows(np.zeros((0, 4), dtype))
    assert empty.shape == (1, 4) and empty.dtype == dtype and not empty.any()


def test_sum_rows_of_other_dtypes_accumulates_wider():
    m = np.full((3000, 3), 0.1, dtype=np.float16)  # a float16 running sum would stall at 256
    s = NUMPY.sum_rows(m)
    assert s.dtype == np.float16
    np.testing.assert_allclose(s[0].astype(np.float64), 3000 * float(np.float16(0.1)), rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, normalized", [((2048, 96), (96,)), ((16, 64, 33), (33,)),
                                               ((8, 40, 6, 7), (6, 7))])
def test_layer_norm_parameter_gradients_over_many_rows_match_torch(shape, normalized, dtype):
    x = _data(shape, dtype, offset=3.0)
    w, b = _data(normalized, dtype, 1), _data(normalized, dtype, 2)
    check_op(lambda m, x, w, b: m.nn.functional.layer_norm(x, normalized, w, b), x, w, b,
             **_TOL[dtype])
    # each parameter gradient alone (the other one not requested)
    check_op(lambda m, x, w: m.nn.functional.layer_norm(x, normalized, w), x, w, **_TOL[dtype])
    check_op(lambda m, x, b: m.nn.functional.layer_norm(x, normalized, None, b), x, b,
             **_TOL[dtype])


def test_layer_norm_parameter_gradients_alone_and_in_bfloat16():
    torch = torch_or_skip()
    x, w, b = _data((300, 20), np.float32), _data(20, np.float32, 1), _data(20, np.float32, 2)
    g = _data((300, 20), np.float32, 3)
    for m in (ember, torch):  # only weight and bias need gradients: x's is never formed
        tw, tb = m.tensor(w, requires_grad=True), m.tensor(b, requires_grad=True)
        m.nn.functional.layer_norm(m.tensor(x), (20,), tw, tb).backward(m.tensor(g))
        if m is ember:
            ew, eb = tw.grad.numpy(), tb.grad.numpy()
        else:
            np.testing.assert_allclose(ew, tw.grad.numpy(), rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(eb, tb.grad.numpy(), rtol=1e-4, atol=1e-4)
    # bfloat16 is normalised in float32: the weight gradient is the float64 one, rounded (torch's
    # own bfloat16 weight gradient is further from it: 4.25 against 3.32 here)
    xb = ember.tensor(x).to(ember.bfloat16)
    wb = ember.tensor(w).to(ember.bfloat16).requires_grad_()
    ember.nn.functional.layer_norm(xb, (20,), wb).backward(ember.tensor(g).to(ember.bfloat16))
    t64 = torch.tensor(w).to(torch.bfloat16).double().requires_grad_()
    torch.nn.functional.layer_norm(torch.tensor(x).to(torch.bfloat16).double(), (20,), t64
                                   ).backward(torch.tensor(g).to(torch.bfloat16).double())
    assert wb.grad.dtype == ember.bfloat16
    np.testing.assert_allclose(wb.grad.float().numpy(), t64.grad.numpy(), rtol=1e-2, atol=1e-2)


def test_layer_norm_gradcheck_through_the_gemm_sums():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    check_gradcheck(lambda m, x, w, b: m.nn.functional.layer_norm(x, (4,), w, b), x, w, b)
    check_gradcheck(lambda m, x, w: m.nn.functional.layer_norm(x, (4,), w), x, w)
    check_gradcheck(lambda m, x, b: m.nn.functional.layer_norm(x, (3, 4), None, b), x,
                    rng.standard_normal((3, 4)))


# -- embedding: the gradient as sorted segment sums ----------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_index_sum_is_the_scatter_add(dtype):
    rng = np.random.default_rng(1)
    index = rng.integers(0, 50, 3000)
    values = rng.standard_normal((3000, 7)).astype(dtype)
    expected = np.zeros((60, 7), dtype)
    np.add.at(expected, index, values)  # (a sequential sum: reduceat's order is numpy's own)
    out = NUMPY.index_sum(values, index, 60)
    assert out.dtype == dtype and out.shape == (60, 7)
    np.testing.assert_allclose(out, expected, **_TOL[dtype])
    empty = NUMPY.index_sum(values[:0], index[:0], 4)
    assert empty.shape == (4, 7) and not empty.any()


@pytest.mark.parametrize("kwargs", [{}, dict(padding_idx=3), dict(scale_grad_by_freq=True),
                                    dict(padding_idx=0, scale_grad_by_freq=True),
                                    dict(padding_idx=-2), dict(max_norm=1.0, padding_idx=1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_gradient_matches_torch(kwargs, dtype):
    rng = np.random.default_rng(2)
    idx = rng.integers(0, 40, (16, 30))  # every row repeated, in no order
    w = _data((40, 12), dtype)
    check_op(lambda m, w: m.nn.functional.embedding(m.tensor(idx), w, **kwargs), w,
             **_TOL[dtype])


def test_embedding_gradient_keeps_the_padding_row_zero_and_the_dtype():
    torch = torch_or_skip()
    idx = np.array([[0, 1, 1], [4, 0, 1]])
    g = np.ones((2, 3, 3), np.float32)
    g[0, 1, 0] = np.nan  # a NaN arriving for the padding row: torch never adds it
    g[1, 0, 1] = np.inf
    out = {}
    for m in (ember, torch):
        w = m.tensor(np.arange(15, dtype=np.float32).reshape(5, 3), requires_grad=True)
        y = m.nn.functional.embedding(m.tensor(idx), w, padding_idx=1, scale_grad_by_freq=True)
        (gw,) = m.autograd.grad(y, w, m.tensor(g).requires_grad_(),
                                create_graph=True)
        assert gw.dtype == m.float32
        out[m.__name__] = (gw.detach().numpy(), type(gw.grad_fn).__name__)
    np.testing.assert_array_equal(out["ember"][0], out["torch"][0])
    assert out["ember"][0][1].tolist() == [0, 0, 0]
    assert out["ember"][1] == out["torch"][1] == "EmbeddingDenseBackwardBackward0"


def test_embedding_gradcheck_and_its_gradient_op_with_padding_and_frequency_scaling():
    idx = ember.tensor([[0, 2, 2], [3, 0, 2]])
    w = np.random.default_rng(3).standard_normal((5, 3))
    check_gradcheck(lambda m, w: m.nn.functional.embedding(idx, w), w)
    # with padding_idx / scale_grad_by_freq the "gradient" is torch's rule, not a derivative of
    # the lookup: gradcheck the gradient op itself (linear in g), through its own backward
    weight = ember.tensor(w, requires_grad=True)
    g = np.random.default_rng(4).standard_normal((2, 3, 3))
    for kwargs in (dict(padding_idx=2), dict(padding_idx=0, scale_grad_by_freq=True)):
        def grad_op(m, g, kwargs=kwargs):
            with m.enable_grad():  # (gradcheck evaluates numerically under no_grad)
                y = m.nn.functional.embedding(idx, weight, **kwargs)
                return m.autograd.grad(y, weight, g, create_graph=True)[0]

        check_gradcheck(grad_op, g)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_gradient_over_unsorted_repeats_matches_torch(mode):
    rng = np.random.default_rng(5)
    idx, offsets = rng.integers(0, 30, 200), np.array([0, 17, 17, 90, 150])
    w = _data((30, 6), np.float32)
    # (scale_grad_by_freq departs from torch's CPU kernel on purpose: test_layers_ext.py)
    for kwargs in ({}, dict(padding_idx=4)):
        check_op(lambda m, w, kwargs=kwargs: m.nn.functional.embedding_bag(
            m.tensor(idx), w, m.tensor(offsets), mode=mode, **kwargs), w)
    psw = _data(200, np.float32, 6)
    check_op(lambda m, w, p: m.nn.functional.embedding_bag(
        m.tensor(idx), w, m.tensor(offsets), mode="sum", per_sample_weights=p), w, psw)
    check_gradcheck(lambda m, w: m.nn.functional.embedding_bag(
        m.tensor(idx[:20]), w, m.tensor([0, 5, 12]), mode=mode), w[:, :3].astype(np.float64))


# -- max pooling: values and winners' indices in one separable pass, gradient by the indices -----


def _relu_like(rng, shape, dtype):
    """Post-ReLU data: about half the elements are 0, so most windows hold ties."""
    return np.maximum(rng.standard_normal(shape), 0).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [
    dict(kernel_size=3, stride=2, padding=1),  # ResNet's stem
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2),
    dict(kernel_size=(3, 2), stride=(1, 3), padding=(1, 1), dilation=(2, 1)),
    dict(kernel_size=(2, 4), stride=(2, 1), dilation=(1, 2), padding=(0, 2)),
])
def test_max_pool2d_winners_and_gradient_match_torch(case, dtype):
    rng = np.random.default_rng(7)
    x = _relu_like(rng, (2, 5, 15, 14), dtype)
    f = lambda m, x: m.nn.functional.max_pool2d(x, **case, return_indices=True)
    check_op(f, x, **_TOL[dtype])
    check_op(lambda m, x: m.nn.functional.max_pool2d(x, **case), x, **_TOL[dtype])
    check_op(f, x[0], **_TOL[dtype])  # (C, H, W)
    nan = x.copy()
    nan[0, 1, ::3, ::4] = np.nan  # windows with one NaN (and some with several): the last wins
    nan[1, 2] = np.nan
    nan[1, 3, 4:, :] = -np.inf
    check_op(f, nan, **_TOL[dtype])


def test_max_pool2d_indices_are_int64_and_do_not_need_grad():
    torch = torch_or_skip()
    x = _relu_like(np.random.default_rng(8), (1, 2, 9, 9), np.float32)
    with ember.no_grad():
        y, i = ember.nn.functional.max_pool2d(ember.tensor(x), 3, 2, 1, return_indices=True)
    ty, ti = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    assert i.dtype == ember.int64 and not i.requires_grad
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    y2 = ember.nn.functional.max_pool2d(ember.tensor(x), 3, 2, 1)  # no indices asked, none kept
    np.testing.assert_array_equal(y2.numpy(), ty.numpy())


def test_max_pool2d_gradcheck_and_double_backward():
    rng = np.random.default_rng(9)
    x = rng.permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 10.0  # distinct: no ties to nudge
    check_gradcheck(lambda m, x: m.nn.functional.max_pool2d(x, 3, 2, 1), x)
    check_gradcheck(lambda m, x: m.nn.functional.max_pool2d(x, (2, 3), (2, 1), dilation=(1, 2)),
                    x)
    torch = torch_or_skip()
    grads = []
    for m in (ember, torch):
        t = m.tensor(x, requires_grad=True)
        y = m.nn.functional.max_pool2d(t, 3, 2, 1)
        g = m.tensor(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)),
                     requires_grad=True)
        (gx,) = m.autograd.grad(y, t, g, create_graph=True)
        (gg,) = m.autograd.grad((gx * gx).sum(), g)  # back through the scatter: a gather
        assert type(gx.grad_fn).__name__ == "MaxPool2DWithIndicesBackwardBackward0"
        grads.append((gx.detach().numpy(), gg.numpy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])


def test_max_pool2d_of_bfloat16_matches_torch():
    torch = torch_or_skip()
    x = np.random.default_rng(10).standard_normal((2, 3, 9, 9)).astype(np.float32)
    x[0, 0, ::2, ::3] = np.nan
    x[1, 1] = -np.inf
    out = {}
    for m in (ember, torch):
        t = m.tensor(x).to(m.bfloat16).requires_grad_()
        y, i = m.nn.functional.max_pool2d(t, 3, 2, 1, return_indices=True)
        y.float().sum().backward()
        assert y.dtype == t.grad.dtype == m.bfloat16
        out[m.__name__] = (y.detach().float().numpy(), i.numpy(), t.grad.float().numpy())
    for e, t in zip(out["ember"], out["torch"]):
        np.testing.assert_array_equal(e, t)


@pytest.mark.parametrize("shape", [(2, 0, 8, 8), (0, 8, 8), (3, 0, 8), (2, 3, 0, 8)])
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pool2d_of_an_empty_plane_raises_torchs_error(shape, op):
    same_error(lambda m: getattr(m.nn.functional, op)(m.zeros(*shape), 1))
