"""interpolate in every mode and dimension, unfold/fold, affine_grid and grid_sample against
torch: values, gradients, grad_fn names, errors, module reprs; gradcheck in float64."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
from ember import nn
from helpers import check_gradcheck, check_op, same_error, torch_or_skip

torch = torch_or_skip()

_r = np.random.default_rng(0)
X3, X4, X5 = (_r.standard_normal((2, 3, 7)), _r.standard_normal((2, 3, 7, 6)),
              _r.standard_normal((2, 2, 4, 5, 6)))

INTERP = [
    (X3, dict(size=11, mode="nearest")), (X3, dict(scale_factor=0.6, mode="nearest")),
    (X3, dict(size=11, mode="nearest-exact")), (X3, dict(size=11, mode="linear")),
    (X3, dict(size=4, mode="linear", align_corners=True)),
    (X3, dict(scale_factor=1.7, mode="linear")),
    (X3, dict(scale_factor=1.7, mode="linear", recompute_scale_factor=True)),
    (X3, dict(size=4, mode="area")), (X3, dict(scale_factor=0.5, mode="area")),
    (X5, dict(size=(7, 3, 8), mode="nearest")),
    (X5, dict(scale_factor=(1.5, 0.7, 2), mode="nearest-exact")),
    (X5, dict(size=(7, 3, 8), mode="trilinear")),
    (X5, dict(size=(7, 3, 8), mode="trilinear", align_corners=True)),
    (X5, dict(scale_factor=0.6, mode="trilinear")), (X5, dict(size=(2, 3, 4), mode="area")),
    (X4, dict(size=(11, 9), mode="bicubic")),
    (X4, dict(size=(4, 3), mode="bicubic", align_corners=True)),
    (X4, dict(scale_factor=1.6, mode="bicubic")),
    (X4, dict(size=(3, 4), mode="bilinear", antialias=True)),
    (X4, dict(size=(11, 9), mode="bilinear", antialias=True)),
    (X4, dict(size=(3, 2), mode="bicubic", antialias=True)),
    (X4, dict(scale_factor=0.45, mode="bicubic", antialias=True)),
    (X4, dict(size=(3, 4), mode="bilinear", antialias=True, align_corners=True)),
    (X4, dict(size=(3, 4), mode="bicubic", antialias=True, align_corners=True)),
    (X4, dict(size=(11, 9), mode="bilinear")), (X4, dict(size=(11, 9), mode="nearest")),
    (X4, dict(scale_factor=(0.5, 1.5), mode="nearest-exact")),
]


@pytest.mark.parametrize("x, kw", INTERP)
def test_interpolate_matches_torch(x, kw):
    check_op(lambda m, x: m.nn.functional.interpolate(x, **kw), x, atol=1e-9, rtol=1e-7)


def test_interpolate_float32_and_double_backward():
    check_op(lambda m, x: m.nn.functional.interpolate(x, size=(9, 5), mode="bicubic"),
             X4.astype(np.float32))
    check_op(lambda m, x: m.nn.functional.interpolate(x, size=(3, 4, 9), mode="trilinear"),
             X5.astype(np.float32))
    for kw in (dict(size=(4, 3), mode="bicubic", antialias=True), dict(size=9, mode="linear")):
        x = X4 if "antialias" in kw else X3
        names = []
        for lib in (ember, torch):
            xt = lib.tensor(x, requires_grad=True)
            y = lib.nn.functional.interpolate(xt, **kw)
            (g,) = lib.autograd.grad(y.pow(2).sum(), xt, create_graph=True)
            names.append(type(g.grad_fn).__name__)
        assert names[0] == names[1]


def test_interpolate_gradcheck():
    x3, x4, x5 = _r.standard_normal((1, 2, 4)), _r.standard_normal((1, 2, 4, 3)), \
        _r.standard_normal((1, 1, 3, 2, 3))
    check_gradcheck(lambda m, x: m.nn.functional.interpolate(x, size=7, mode="linear"), x3)
    check_gradcheck(lambda m, x: m.nn.functional.interpolate(x, size=7, mode="nearest"), x3)
    check_gradcheck(lambda m, x: m.nn.functional.interpolate(x, size=(5, 4, 2),
                                                             mode="trilinear"), x5)
    check_gradcheck(lambda m, x: m.nn.functional.interpolate(x, size=(6, 5), mode="bicubic",
                                                             align_corners=True), x4)
    check_gradcheck(lambda m, x: m.nn.functional.interpolate(x, size=(2, 2), mode="bilinear",
                                                             antialias=True), x4)
    check_gradcheck(lambda m, x: m.nn.functional.interpolate(x, size=(2, 1, 2), mode="area"), x5)


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4), size=3, mode="bilinear"),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4, 4), size=3, mode="linear"),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4, 4), size=3, mode="trilinear"),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4, 4, 4), size=3, mode="bicubic"),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4), size=3, mode="cubic"),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4), size=3, mode="linear",
                                          antialias=True),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4), size=3, align_corners=True),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4), size=(3, 3)),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4), size=3, scale_factor=2),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4), size=3,
                                          recompute_scale_factor=True),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4)),
    lambda m: m.nn.functional.interpolate(m.zeros(1, 1, 4, 4, 4), scale_factor=(2, 2)),
])
def test_interpolate_errors_match_torch(call):
    same_error(call)


def test_upsample_modules_match_torch():
    for kw, x in ((dict(scale_factor=2, mode="bicubic"), X4),
                  (dict(size=(5, 6, 7), mode="trilinear", align_corners=True), X5),
                  (dict(scale_factor=1.5, mode="linear"), X3), (dict(size=9), X3)):
        em, tm = nn.Upsample(**kw), torch.nn.Upsample(**kw)
        assert repr(em) == repr(tm)
        np.testing.assert_allclose(em(ember.tensor(x)).numpy(), tm(torch.tensor(x)).numpy(),
                                   atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("upsample_nearest", "upsample_bilinear"):
            check_op(lambda m, x: getattr(m.nn.functional, name)(x, scale_factor=2), X4)
        check_op(lambda m, x: m.nn.functional.upsample(x, size=5, mode="linear"), X3)


# -- unfold / fold ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=(2, 3), dilation=(1, 2),
                                                          padding=1, stride=(2, 1))])
def test_unfold_fold_match_torch(kw):
    x = _r.standard_normal((2, 3, 5, 6))
    check_op(lambda m, x: m.nn.functional.unfold(x, **kw), x)
    check_op(lambda m, x: m.nn.functional.unfold(x, **kw), x[0])
    cols = torch.nn.functional.unfold(torch.tensor(x), **kw).numpy()
    check_op(lambda m, c: m.nn.functional.fold(c, (5, 6), **kw), cols)
    check_op(lambda m, c: m.nn.functional.fold(c, (5, 6), **kw), cols[0])
    check_gradcheck(lambda m, x: m.nn.functional.unfold(x, **kw), x[:1, :2])
    check_gradcheck(lambda m, c: m.nn.functional.fold(c, (5, 6), **kw), cols[:1])
    em, tm = nn.Unfold(**kw), torch.nn.Unfold(**kw)
    assert repr(em) == repr(tm)
    em, tm = nn.Fold((5, 6), **kw), torch.nn.Fold((5, 6), **kw)
    assert repr(em) == repr(tm)
    np.testing.assert_allclose(em(ember.tensor(cols)).numpy(), tm(torch.tensor(cols)).numpy())


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.unfold(m.zeros(2, 3, 5, 5, 5), 2),
    lambda m: m.nn.functional.unfold(m.zeros(2, 3, 5, 5), 6),
    lambda m: m.nn.functional.unfold(m.zeros(2, 3, 5, 5), (2, 2, 2)),
    lambda m: m.nn.functional.unfold(m.zeros(2, 3, 5, 5), 2, stride=0),
    lambda m: m.nn.functional.unfold(m.zeros(2, 3, 5, 5), 2, padding=-1),
    lambda m: m.nn.functional.fold(m.zeros(2, 11, 16), (5, 5), 2),
    lambda m: m.nn.functional.fold(m.zeros(2, 12, 15), (5, 5), 2),
])
def test_unfold_fold_errors_match_torch(call):
    same_error(call)


# -- affine_grid / grid_sample ---------------------------------------------------------------------


@pytest.mark.parametrize("align_corners", [True, False])
def test_affine_grid_matches_torch(align_corners):
    th, th3 = _r.standard_normal((2, 2, 3)), _r.standard_normal((2, 3, 4))
    check_op(lambda m, t: m.nn.functional.affine_grid(t, (2, 1, 4, 5), align_corners), th)
    check_op(lambda m, t: m.nn.functional.affine_grid(t, (2, 1, 3, 4, 5), align_corners), th3)
    check_op(lambda m, t: m.nn.functional.affine_grid(t, [2, 1, 1, 5], align_corners), th)
    check_gradcheck(lambda m, t: m.nn.functional.affine_grid(t, (2, 1, 3, 2), align_corners), th)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [True, False])
def test_grid_sample_matches_torch(mode, padding_mode, align_corners):
    rng = np.random.default_rng(1)
    x, grid = rng.standard_normal((2, 3, 5, 6)), rng.uniform(-1.3, 1.3, (2, 4, 3, 2))
    f = lambda m, x, g: m.nn.functional.grid_sample(  # noqa: E731
        x, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    check_op(f, x, grid, atol=1e-9)
    if mode != "bicubic":
        check_op(f, rng.standard_normal((2, 3, 4, 5, 6)), rng.uniform(-1.3, 1.3, (2, 3, 2, 4, 3)),
                 atol=1e-9)
    if mode == "bilinear":  # (away from cell edges, where the gradient jumps)
        check_gradcheck(f, x[:1, :2], rng.uniform(-0.9, 0.9, (1, 2, 2, 2)), second_order=False)
    check_op(f, x.astype(np.float32), grid.astype(np.float32))


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.affine_grid(m.zeros(2, 3, 3), (2, 1, 4, 5), align_corners=False),
    lambda m: m.nn.functional.affine_grid(m.zeros(2, 2, 3), (2, 1, 4), align_corners=False),
    lambda m: m.nn.functional.affine_grid(m.zeros(2, 2, 3), (3, 1, 4, 5), align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.zeros(1, 1, 3, 3), m.zeros(1, 2, 2, 2), mode="x",
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.zeros(1, 1, 3, 3), m.zeros(1, 2, 2, 2),
                                          padding_mode="x", align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.zeros(1, 1, 3, 3), m.zeros(1, 2, 2, 3),
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.zeros(1, 1, 3, 3), m.zeros(2, 2, 2, 2),
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.zeros(1, 1, 3, 3, 3), m.zeros(1, 2, 2, 2, 3),
                                          mode="bicubic", align_corners=False),
])
def test_grid_errors_match_torch(call):
    same_error(call)


@pytest.mark.parametrize("call", [
    lambda m: m.nn.functional.interpolate(m.ones(1, 1, 4, dtype=m.uint8), size=3, mode="linear"),
    lambda m: m.nn.functional.interpolate(m.ones(1, 1, 2, 2, 2, dtype=m.uint8), size=3,
                                          mode="trilinear"),
    lambda m: m.nn.functional.interpolate(m.ones(1, 1, 2, 2, dtype=m.int64), size=3,
                                          mode="bicubic"),
    lambda m: m.nn.functional.interpolate(m.ones(1, 1, 4, 4, 4, dtype=m.uint8), size=3,
                                          mode="area"),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2, dtype=m.int64),
                                          m.zeros(1, 1, 1, 2, dtype=m.int64),
                                          align_corners=False),
    lambda m: m.nn.functional.grid_sample(m.ones(1, 1, 2, 2, 2, dtype=m.int64),
                                          m.zeros(1, 1, 1, 1, 3, dtype=m.int64),
                                          align_corners=False),
    lambda m: m.nn.functional.unfold(m.ones(1, 3, 4, 4, dtype=m.int64), 2),
    lambda m: m.nn.functional.fold(m.ones(1, 4, 4, dtype=m.int64), (3, 3), 2),
    lambda m: m.nn.functional.max_pool1d(m.ones(1, 1, 4, dtype=m.int64), 2),
    lambda m: m.nn.functional.adaptive_max_pool3d(m.ones(1, 1, 2, 2, 2, dtype=m.int64), 1),
    lambda m: m.nn.functional.adaptive_avg_pool3d(m.ones(1, 1, 2, 2, 2, dtype=m.int64), 2),
    lambda m: m.nn.functional.adaptive_avg_pool3d(m.ones(1, 1, 2, 2, 2, dtype=m.int64), 1),
])
def test_integer_inputs_refused_as_torch(call):
    same_error(call)


def test_integer_inputs_torch_accepts():
    x = np.arange(60, dtype=np.uint8).reshape(1, 2, 2, 3, 5) * 4
    check_op(lambda m, x: m.nn.functional.interpolate(x, size=(3, 4, 6)), x)
    check_op(lambda m, x: m.nn.functional.max_pool3d(x, 2), x.astype(np.int64))
    check_op(lambda m, x: m.nn.functional.avg_pool3d(x, 2), x.astype(np.int64) * 7)
    check_op(lambda m, x, w: m.nn.functional.conv3d(x, w), x.astype(np.int64),
             np.ones((1, 2, 1, 1, 1), dtype=np.int64))
    check_op(lambda m, x: m.nn.functional.adaptive_avg_pool3d(x, 1), x.astype(np.float64))
