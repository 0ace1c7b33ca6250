"""The functional forms added for AutoAugment and the random transforms: tensor images against
torchvision's definitions rebuilt here on real torch (affine grids + ``grid_sample``, ``conv2d``
blurs, the equalise LUT), PIL images against Pillow itself."""
from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember.vision.transforms import functional as F
from ember.vision.transforms._functional_more import (
    _compute_affine_output_size, _get_inverse_affine_matrix, _get_perspective_coeffs,
)
from helpers import torch_or_skip

Image = pytest.importorskip("PIL.Image")
from PIL import ImageEnhance, ImageOps  # noqa: E402

torch = torch_or_skip()
tnn = torch.nn.functional


def uint8_chw(c=3, h=9, w=11, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (c, h, w), dtype=np.uint8)


def pil(a):
    return Image.fromarray(a.transpose(1, 2, 0) if a.shape[0] == 3 else a[0])


def chw(img):
    a = np.asarray(img)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


# -- torchvision's tensor definitions, on torch --------------------------------------------------
def ref_affine_grid(matrix, w, h, ow, oh):
    theta = torch.tensor(matrix, dtype=torch.float32).reshape(1, 2, 3)
    base = torch.empty(1, oh, ow, 3)
    base[..., 0] = torch.linspace(-ow * 0.5 + 0.5, ow * 0.5 + 0.5 - 1, steps=ow)
    base[..., 1] = torch.linspace(-oh * 0.5 + 0.5, oh * 0.5 + 0.5 - 1, steps=oh).unsqueeze(-1)
    base[..., 2] = 1
    rescaled = theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h])
    return base.view(1, oh * ow, 3).bmm(rescaled).view(1, oh, ow, 2)


def ref_apply_grid(a, grid, mode, fill):
    img = torch.from_numpy(a.astype(np.float32))[None]
    if fill is not None:
        img = torch.cat([img, torch.ones_like(img[:, :1])], 1)
    out = tnn.grid_sample(img, grid, mode=mode, padding_mode="zeros", align_corners=False)
    if fill is not None:
        out, mask = out[:, :-1], out[:, -1:].expand_as(out[:, :-1])
        f = torch.tensor(fill, dtype=out.dtype).view(1, -1, 1, 1).expand_as(out)
        if mode == "nearest":
            out = torch.where(mask < 0.5, f, out)
        else:
            out = out * mask + (1.0 - mask) * f
    if a.dtype == np.uint8:
        out = torch.round(out).to(torch.uint8)
    return out[0].numpy()


def close_uint8(got, want, frac=0.0):
    d = np.abs(got.astype(int) - want.astype(int))
    assert d.max() <= 1 and (d > 0).mean() <= frac + 0.02, (d.max(), (d > 0).mean())


# -- geometry ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("fill", [None, [7.0, 80.0, 200.0]])
@pytest.mark.parametrize("expand", [False, True])
def test_rotate_tensor_matches_torchvision_definition(mode, fill, expand):
    a = uint8_chw(h=10, w=13)
    interp = F.InterpolationMode(mode)
    got = F.rotate(ember.from_numpy(a), 37.0, interp, expand=expand, fill=fill).numpy()
    matrix = _get_inverse_affine_matrix([0.0, 0.0], -37.0, [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = _compute_affine_output_size(matrix, 13, 10) if expand else (13, 10)
    want = ref_apply_grid(a, ref_affine_grid(matrix, 13, 10, ow, oh), mode, fill)
    assert got.shape == want.shape
    close_uint8(got, want)


def test_rotate_float_and_center_and_batch():
    a = np.random.default_rng(1).random((2, 3, 8, 8), dtype=np.float32)
    got = F.rotate(ember.from_numpy(a), -20, F.InterpolationMode.BILINEAR, center=[2, 3]).numpy()
    matrix = _get_inverse_affine_matrix([2 - 4.0, 3 - 4.0], 20, [0.0, 0.0], 1.0, [0.0, 0.0])
    grid = ref_affine_grid(matrix, 8, 8, 8, 8).expand(2, 8, 8, 2)
    want = tnn.grid_sample(torch.from_numpy(a), grid, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5)
    assert got.dtype == np.float32


def test_rotate_90_is_rot90_and_pil_is_pillow():
    a = uint8_chw(h=8, w=8)
    got = F.rotate(ember.from_numpy(a), 90).numpy()
    np.testing.assert_array_equal(got, np.rot90(a, 1, axes=(1, 2)))
    img = pil(a)
    for kw in ({}, {"expand": True}, {"center": (2, 3), "fill": 9}):
        out = F.rotate(img, 33, **kw)
        ref = img.rotate(33, Image.NEAREST, kw.get("expand", False), kw.get("center"),
                         fillcolor=(kw.get("fill", 0),) * 3)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_affine_tensor_matches_definition(mode):
    a = uint8_chw(h=12, w=10, seed=2)
    got = F.affine(ember.from_numpy(a), angle=15, translate=[2, -1], scale=0.9, shear=[5, -3],
                   interpolation=F.InterpolationMode(mode), fill=[1.0, 2.0, 3.0]).numpy()
    matrix = _get_inverse_affine_matrix([0.0, 0.0], 15, [2.0, -1.0], 0.9, [5, -3])
    want = ref_apply_grid(a, ref_affine_grid(matrix, 10, 12, 10, 12), mode, [1.0, 2.0, 3.0])
    close_uint8(got, want)


def test_affine_matrix_definition_and_pil():
    # the inverse matrix undoes the forward one
    fwd = _get_inverse_affine_matrix([3.0, 4.0], 25, [1.0, 2.0], 1.3, [7.0, 2.0], inverted=False)
    inv = _get_inverse_affine_matrix([3.0, 4.0], 25, [1.0, 2.0], 1.3, [7.0, 2.0])
    M = np.vstack([np.reshape(fwd, (2, 3)), [0, 0, 1]])
    Mi = np.vstack([np.reshape(inv, (2, 3)), [0, 0, 1]])
    np.testing.assert_allclose(M @ Mi, np.eye(3), atol=1e-12)
    # rotation alone is the rotation matrix about the centre
    r = _get_inverse_affine_matrix([0, 0], 30, [0, 0], 1.0, [0, 0], inverted=False)
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    np.testing.assert_allclose(r, [c, -s, 0, s, c, 0], atol=1e-12)
    img = pil(uint8_chw(h=12, w=10, seed=3))
    out = F.affine(img, angle=10, translate=[1, 2], scale=1.1, shear=4)
    matrix = _get_inverse_affine_matrix([5.0, 6.0], 10, [1, 2], 1.1, [4, 0.0])
    ref = img.transform(img.size, Image.AFFINE, matrix, Image.NEAREST, fillcolor=(0, 0, 0))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
    with pytest.raises(ValueError, match="Argument scale should be positive"):
        F.affine(img, 0, [0, 0], 0.0, 0)
    with pytest.raises(ValueError, match="Argument translate should be a sequence of length 2"):
        F.affine(img, 0, [0], 1.0, 0)


def test_perspective_tensor_and_coeffs():
    start = [[0, 0], [10, 0], [10, 8], [0, 8]]
    end = [[1, 1], [9, 0], [10, 7], [0, 8]]
    coeffs = _get_perspective_coeffs(start, end)
    # each end point maps to its start point under the projective map
    c = np.asarray(coeffs, dtype=np.float64)
    for (xe, ye), (xs, ys) in zip(end, start):
        den = c[6] * xe + c[7] * ye + 1
        np.testing.assert_allclose([(c[0] * xe + c[1] * ye + c[2]) / den,
                                    (c[3] * xe + c[4] * ye + c[5]) / den], [xs, ys], atol=1e-4)
    a = uint8_chw(h=9, w=11, seed=4)
    got = F.perspective(ember.from_numpy(a), start, end, fill=[0.0, 0.0, 0.0]).numpy()
    # torchvision's _perspective_grid on torch
    h, w = 9, 11
    t1 = torch.tensor([[coeffs[:3], coeffs[3:6]]])
    t2 = torch.tensor([[[coeffs[6], coeffs[7], 1.0], [coeffs[6], coeffs[7], 1.0]]])
    base = torch.empty(1, h, w, 3)
    base[..., 0] = torch.linspace(0.5, w + 0.5 - 1.0, steps=w)
    base[..., 1] = torch.linspace(0.5, h + 0.5 - 1.0, steps=h).unsqueeze(-1)
    base[..., 2] = 1
    g1 = base.view(1, h * w, 3).bmm(t1.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h]))
    g2 = base.view(1, h * w, 3).bmm(t2.transpose(1, 2))
    grid = (g1 / g2 - 1.0).view(1, h, w, 2)
    close_uint8(got, ref_apply_grid(a, grid, "bilinear", [0.0, 0.0, 0.0]))
    img = pil(a)
    ref = img.transform(img.size, Image.PERSPECTIVE, coeffs, Image.BILINEAR, fillcolor=(0, 0, 0))
    np.testing.assert_array_equal(np.asarray(F.perspective(img, start, end)), np.asarray(ref))


def test_elastic_transform_zero_is_identity_and_matches_grid():
    a = uint8_chw(h=7, w=6, seed=5)
    zero = ember.zeros(1, 7, 6, 2)
    np.testing.assert_array_equal(F.elastic_transform(ember.from_numpy(a), zero).numpy(), a)
    d = np.random.default_rng(0).uniform(-0.2, 0.2, (1, 7, 6, 2)).astype(np.float32)
    got = F.elastic_transform(ember.from_numpy(a), ember.from_numpy(d)).numpy()
    ys, xs = [torch.linspace((-s + 1) / s, (s - 1) / s, s) for s in (7, 6)]
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([gx, gy], -1)[None] + torch.from_numpy(d)
    close_uint8(got, ref_apply_grid(a, grid, "bilinear", None))
    out = F.elastic_transform(pil(a), zero)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(pil(a)))


def test_erase_five_ten_crop():
    x = ember.arange(2 * 5 * 6, dtype=ember.float32).reshape(2, 5, 6)
    y = F.erase(x, 1, 2, 2, 3, 0.5)
    want = x.numpy().copy()
    want[..., 1:3, 2:5] = 0.5
    np.testing.assert_array_equal(y.numpy(), want)
    assert x[0, 1, 2].item() == 8.0  # not in place
    F.erase(x, 0, 0, 1, 1, -1.0, inplace=True)
    assert x[0, 0, 0].item() == -1.0
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        F.erase(pil(uint8_chw()), 0, 0, 1, 1, 0)
    a = uint8_chw(h=9, w=11)
    tl, tr, bl, br, c = F.five_crop(ember.from_numpy(a), (4, 5))
    np.testing.assert_array_equal(tr.numpy(), a[:, :4, 6:])
    np.testing.assert_array_equal(bl.numpy(), a[:, 5:, :5])
    np.testing.assert_array_equal(c.numpy(), a[:, 2:6, 3:8])  # round(2.5)=2, round(3)=3
    ten = F.ten_crop(pil(a), 4, vertical_flip=True)
    assert len(ten) == 10
    np.testing.assert_array_equal(np.asarray(ten[5]), np.asarray(pil(a[:, ::-1]))[:4, :4])
    with pytest.raises(ValueError, match=r"Requested crop size \(10, 10\) is bigger than input "
                       r"size \(9, 11\)"):
        F.five_crop(pil(a), 10)


# -- blur and colour -----------------------------------------------------------------------------
def ref_gaussian_blur(a, ksize, sigma):
    def k1(n, s):
        x = torch.linspace(-(n - 1) * 0.5, (n - 1) * 0.5, steps=n)
        pdf = torch.exp(-0.5 * (x / s).pow(2))
        return pdf / pdf.sum()
    kernel = torch.mm(k1(ksize[1], sigma[1])[:, None], k1(ksize[0], sigma[0])[None, :])
    img = torch.from_numpy(a.astype(np.float32))[None]
    kernel = kernel.expand(img.shape[-3], 1, *kernel.shape)
    p = [ksize[0] // 2, ksize[0] // 2, ksize[1] // 2, ksize[1] // 2]
    out = tnn.conv2d(tnn.pad(img, p, mode="reflect"), kernel, groups=img.shape[-3])[0]
    return torch.round(out).to(torch.uint8).numpy() if a.dtype == np.uint8 else out.numpy()


@pytest.mark.parametrize("ksize,sigma", [(3, None), ([5, 3], [1.5, 0.7]), (7, 2.0)])
def test_gaussian_blur_tensor_and_pil(ksize, sigma):
    a = uint8_chw(h=10, w=12, seed=6)
    ks = [ksize, ksize] if isinstance(ksize, int) else ksize
    sg = [k * 0.15 + 0.35 for k in ks] if sigma is None else (
        [sigma, sigma] if isinstance(sigma, float) else sigma)
    want = ref_gaussian_blur(a, ks, sg)
    close_uint8(F.gaussian_blur(ember.from_numpy(a), ksize, sigma).numpy(), want)
    close_uint8(chw(F.gaussian_blur(pil(a), ksize, sigma)), want)
    f = a.astype(np.float32) / 255
    np.testing.assert_allclose(F.gaussian_blur(ember.from_numpy(f), ksize, sigma).numpy(),
                               ref_gaussian_blur(f, ks, sg), atol=1e-6)
    with pytest.raises(ValueError, match="kernel_size should have odd and positive integers"):
        F.gaussian_blur(ember.from_numpy(a), 4)
    with pytest.raises(ValueError, match="sigma should have positive values"):
        F.gaussian_blur(ember.from_numpy(a), 3, 0.0)


@pytest.mark.parametrize("c", [1, 3])
def test_colour_ops_tensor_equal_pillow(c):
    a = uint8_chw(c=c, h=10, w=12, seed=7)
    a[0, :2] = 40  # not the full range, so autocontrast has work to do
    t, img = ember.from_numpy(a), pil(a)
    cases = [
        (lambda x: F.invert(x), ImageOps.invert(img)),
        (lambda x: F.posterize(x, 3), ImageOps.posterize(img, 3)),
        (lambda x: F.solarize(x, 128), ImageOps.solarize(img, 128)),
        (lambda x: F.equalize(x), ImageOps.equalize(img)),
        (lambda x: F.adjust_sharpness(x, 1.7), ImageEnhance.Sharpness(img).enhance(1.7)),
        (lambda x: F.adjust_sharpness(x, 0.3), ImageEnhance.Sharpness(img).enhance(0.3)),
    ]
    for fn, ref in cases:
        np.testing.assert_array_equal(fn(t).numpy(), chw(ref))
        np.testing.assert_array_equal(chw(fn(img)), chw(ref))
    # autocontrast: Pillow rounds through a LUT, torchvision truncates a float product: within 1
    close_uint8(F.autocontrast(t).numpy(), chw(ImageOps.autocontrast(img)), frac=1.0)
    np.testing.assert_array_equal(chw(F.autocontrast(img)), chw(ImageOps.autocontrast(img)))


def test_autocontrast_equalize_definitions():
    a = np.random.default_rng(8).integers(30, 200, (2, 3, 6, 7), dtype=np.uint8)
    a[1, 2] = 90  # a constant channel is left alone
    got = F.autocontrast(ember.from_numpy(a)).numpy()
    t = torch.from_numpy(a)
    lo = t.amin(dim=(-2, -1), keepdim=True).float()
    hi = t.amax(dim=(-2, -1), keepdim=True).float()
    scale = 255.0 / (hi - lo)
    bad = ~torch.isfinite(scale)
    lo[bad], scale[bad] = 0, 1
    np.testing.assert_array_equal(got, ((t - lo) * scale).clamp(0, 255).to(torch.uint8).numpy())
    f = a.astype(np.float32) / 255
    np.testing.assert_allclose(F.autocontrast(ember.from_numpy(f)).numpy()[0].min(axis=(-2, -1)),
                               0, atol=1e-6)
    # equalize on a batch equals per-channel Pillow, and a flat channel stays
    eq = F.equalize(ember.from_numpy(a)).numpy()
    for n in range(2):
        for ch in range(3):
            ref = np.asarray(ImageOps.equalize(Image.fromarray(a[n, ch])))
            np.testing.assert_array_equal(eq[n, ch], ref)
    with pytest.raises(TypeError, match="Only torch.uint8 image tensors are supported"):
        F.equalize(ember.from_numpy(f))


def test_gamma_grayscale_and_errors():
    a = uint8_chw(seed=9)
    t = ember.from_numpy(a)
    want = (torch.from_numpy(a).float() / 255) ** 0.6 * 1.1
    want = (want.clamp(0, 1) * 255).to(torch.uint8).numpy()  # convert_image_dtype float->uint8
    got = F.adjust_gamma(t, 0.6, 1.1).numpy()
    assert np.abs(got.astype(int) - want).max() <= 1
    img = pil(a)
    table = [int((255 + 1 - 1e-3) * 1.1 * pow(e / 255.0, 0.6)) for e in range(256)] * 3
    np.testing.assert_array_equal(np.asarray(F.adjust_gamma(img, 0.6, 1.1)),
                                  np.asarray(img.point(table)))
    g = F.rgb_to_grayscale(t, 3).numpy()
    r, gg, b = torch.from_numpy(a).float().unbind(0)
    lum = (0.2989 * r + 0.587 * gg + 0.114 * b).to(torch.uint8).numpy()
    assert g.shape == (3, 9, 11) and (g == lum).all()
    gp = F.to_grayscale(img, 3)
    assert gp.mode == "RGB" and (np.asarray(gp)[..., 1] == np.asarray(img.convert("L"))).all()
    with pytest.raises(ValueError, match="num_output_channels should be either 1 or 3"):
        F.rgb_to_grayscale(t, 2)
    with pytest.raises(TypeError, match="Input should be PIL Image"):
        F.to_grayscale(t)
    with pytest.raises(ValueError, match="The number if bits should be between 0 and 8. Got 9"):
        F.posterize(t, 9)
    with pytest.raises(TypeError, match="Threshold should be less than bound of img."):
        F.solarize(t, 300)
    with pytest.raises(ValueError, match=r"sharpness_factor \(-1\) is not non-negative."):
        F.adjust_sharpness(t, -1)
