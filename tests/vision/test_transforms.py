"""ember.vision.transforms against Pillow (PIL images), torch (tensor math) and torchvision's
documented rules."""
from __future__ import annotations

import colorsys
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F
from ember.vision.transforms._presets import ImageClassification
from helpers import torch_or_skip

Image = pytest.importorskip("PIL.Image")
from PIL import ImageEnhance  # noqa: E402


def rgb_image(w: int, h: int, seed: int = 0) -> "Image.Image":
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return Image.fromarray(arr)


def arr(img) -> np.ndarray:
    return np.asarray(img)


# ---------------------------------------------------------------------------- optional Pillow

BLOCK_PIL = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {'PIL', 'sklearn'}:
            raise ImportError('blocked ' + name)
sys.meta_path.insert(0, _Block())
"""


def test_import_and_tensor_paths_work_without_pillow():
    code = BLOCK_PIL + textwrap.dedent("""
        import numpy as np, ember
        import ember.vision.transforms as T
        from ember.vision.transforms._presets import ImageClassification
        import ember.vision.datasets as D
        x = ember.from_numpy(np.full((3, 40, 50), 200, dtype=np.uint8))
        out = ImageClassification(crop_size=16, resize_size=20)(x)
        assert tuple(out.shape) == (3, 16, 16), out.shape
        assert tuple(T.ToTensor()(np.zeros((4, 5, 3), np.uint8)).shape) == (3, 4, 5)
        try:
            T.functional.to_pil_image(x)
        except ModuleNotFoundError as e:
            assert "pip install 'ember[vision]'" in str(e), e
        else:
            raise AssertionError("no error")
        assert len(D.Digits()) > 0  # the data ships inside ember: no Pillow needed to read it
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


# ---------------------------------------------------------------------------- Resize


def test_resize_int_matches_shorter_side_and_pillow():
    img = rgb_image(500, 375)
    out = T.Resize(256)(img)
    assert out.size == (341, 256)  # the long side is truncated: int(256 * 500 / 375)
    assert np.array_equal(arr(out), arr(img.resize((341, 256), Image.Resampling.BILINEAR)))
    portrait = T.Resize(100)(rgb_image(75, 130))
    assert portrait.size == (100, int(100 * 130 / 75))


def test_resize_sequence_max_size_and_identity():
    img = rgb_image(60, 40)
    assert T.Resize((30, 20))(img).size == (20, 30)
    assert T.Resize([20])(img).size == (30, 20)
    # long side would be 150 > max_size: long side becomes 100, short int(100 * 100 / 150)
    assert T.Resize(100, max_size=100 + 1)(img).size == (101, int(101 * 100 / 150))
    assert T.Resize(40)(img) is img  # already the requested size: returned untouched
    nearest = T.Resize((7, 9), interpolation=T.InterpolationMode.NEAREST)(img)
    assert np.array_equal(arr(nearest), arr(img.resize((9, 7), Image.Resampling.NEAREST)))


def test_resize_errors_and_repr():
    with pytest.raises(ValueError, match="must be strictly greater than the requested size"):
        T.Resize(50, max_size=50)(rgb_image(60, 40))
    with pytest.raises(ValueError, match="max_size should only be passed"):
        F.resize(rgb_image(60, 40), [10, 10], max_size=20)
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize(2.5)
    with pytest.raises(ValueError, match="1 or 2 values"):
        T.Resize((1, 2, 3))
    with pytest.raises(TypeError, match="InterpolationMode"):
        F.resize(rgb_image(8, 8), 4, interpolation="bilinear")
    assert repr(T.Resize(256)) == (
        "Resize(size=256, interpolation=bilinear, max_size=None, antialias=True)")
    assert T.Resize(10, interpolation=3).interpolation is T.InterpolationMode.BICUBIC
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        F.resize(rgb_image(20, 20), 10, antialias=False)
    assert "Anti-alias option is always applied for PIL Image input" in str(w[0].message)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("size", [(13, 17), (61, 70), (29, 40)])
def test_resize_tensor_matches_torch_interpolate(mode, antialias, size):
    torch = torch_or_skip()
    x = np.random.default_rng(1).random((2, 3, 29, 40)).astype(np.float32)
    want = torch.nn.functional.interpolate(torch.tensor(x), size=size, mode=mode,
                                           antialias=antialias, align_corners=False)
    got = F.resize(ember.tensor(x), list(size), T.InterpolationMode(mode), antialias=antialias)
    assert got.dtype == ember.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_resize_tensor_nearest_matches_torch(mode):
    torch = torch_or_skip()
    x = np.random.default_rng(2).random((3, 11, 15)).astype(np.float32)
    for size in [(5, 7), (23, 31)]:
        want = torch.nn.functional.interpolate(torch.tensor(x)[None], size=size, mode=mode)[0]
        got = F.resize(ember.tensor(x), list(size), T.InterpolationMode(mode))
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_resize_uint8_tensor_close_to_torch_and_pillow():
    torch = torch_or_skip()
    u = np.random.default_rng(3).integers(0, 256, (3, 45, 60), dtype=np.uint8)
    got = T.Resize(20)(ember.tensor(u))
    assert got.dtype == ember.uint8 and tuple(got.shape) == (3, 20, int(20 * 60 / 45))
    want = torch.nn.functional.interpolate(torch.tensor(u)[None].float(), size=(20, 26),
                                           mode="bilinear", antialias=True)[0]
    assert np.abs(got.numpy().astype(int) - want.round().numpy().astype(int)).max() <= 1
    pil = arr(Image.fromarray(u.transpose(1, 2, 0)).resize((26, 20), Image.Resampling.BILINEAR))
    assert np.abs(got.numpy().transpose(1, 2, 0).astype(int) - pil.astype(int)).max() <= 1


# ---------------------------------------------------------------------------- crops


@pytest.mark.parametrize("w,h,cw,ch", [(500, 375, 224, 224), (7, 9, 2, 3), (10, 11, 5, 4)])
def test_center_crop_offsets(w, h, cw, ch):
    img = rgb_image(w, h)
    top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))  # torchvision's rule
    out = T.CenterCrop((ch, cw))(img)
    assert np.array_equal(arr(out), arr(img)[top:top + ch, left:left + cw])
    t = T.CenterCrop((ch, cw))(ember.tensor(arr(img).transpose(2, 0, 1).copy()))
    assert np.array_equal(t.numpy(), arr(img).transpose(2, 0, 1)[:, top:top + ch, left:left + cw])
    assert (500 - 224) / 2 == 138 and int(round((375 - 224) / 2.0)) == 76


def test_center_crop_larger_than_image_pads_with_zeros():
    img = rgb_image(3, 2)
    out = arr(T.CenterCrop((5, 6))(img))
    assert out.shape == (5, 6, 3)
    # padding left (6-3)//2 = 1, top (5-2)//2 = 1
    assert np.array_equal(out[1:3, 1:4], arr(img))
    assert out.sum() == arr(img).astype(int).sum()
    t = T.CenterCrop(4)(ember.ones(1, 2, 2))
    assert t.numpy().sum() == 4 and tuple(t.shape) == (1, 4, 4)
    assert repr(T.CenterCrop(4)) == "CenterCrop(size=(4, 4))"
    with pytest.raises(ValueError, match="Please provide only two dimensions"):
        T.CenterCrop((1, 2, 3))


def test_random_crop_padding_and_errors():
    img = rgb_image(10, 8)
    ember.manual_seed(5)
    a = T.RandomCrop(8, padding=2)(img)
    ember.manual_seed(5)
    b = T.RandomCrop(8, padding=2)(img)
    assert a.size == (8, 8) and np.array_equal(arr(a), arr(b))
    padded = np.pad(arr(img), ((2, 2), (2, 2), (0, 0)))
    windows = [padded[i:i + 8, j:j + 8] for i in range(5) for j in range(7)]
    assert any(np.array_equal(arr(a), wnd) for wnd in windows)
    assert T.RandomCrop((12, 4), pad_if_needed=True)(img).size == (4, 12)
    with pytest.raises(ValueError, match=r"Required crop size \(12, 4\) is larger than input"):
        T.RandomCrop((12, 4))(img)
    assert repr(T.RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4)"
    t = T.RandomCrop(3)(ember.arange(25).reshape(1, 5, 5))
    assert tuple(t.shape) == (1, 3, 3)


def test_random_resized_crop_reproducible_and_bounded():
    img = rgb_image(64, 48)
    ember.manual_seed(0)
    first = [T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3)) for _ in range(50)]
    ember.manual_seed(0)
    again = [T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3)) for _ in range(50)]
    assert first == again
    for i, j, h, w in first:
        assert 0 <= i <= 48 - h and 0 <= j <= 64 - w and h > 0 and w > 0
        # rounding h and w to ints moves area and ratio by at most about one pixel
        assert 0.08 * 64 * 48 - (h + w + 1) <= h * w <= 64 * 48
        assert 3 / 4 - 1 / h - 1 / w <= w / h <= 4 / 3 + 1 / h + 1 / w
    out = T.RandomResizedCrop(24)(img)
    assert out.size == (24, 24)
    assert tuple(T.RandomResizedCrop((5, 7))(ember.rand(3, 20, 30)).shape) == (3, 5, 7)


def test_random_resized_crop_fallback_is_central():
    img = rgb_image(100, 20)  # ratio 5 > 4/3 and no box can reach 200% of the area
    i, j, h, w = T.RandomResizedCrop.get_params(img, (2.0, 3.0), (3 / 4, 4 / 3))
    assert (h, w) == (20, int(round(20 * 4 / 3)))
    assert (i, j) == ((20 - h) // 2, (100 - w) // 2)
    assert repr(T.RandomResizedCrop(224)) == (
        "RandomResizedCrop(size=(224, 224), scale=(0.08, 1.0), ratio=(0.75, 1.3333), "
        "interpolation=bilinear, antialias=True)")
    with pytest.warns(UserWarning, match="Scale and ratio should be of kind"):
        T.RandomResizedCrop(8, scale=(1.0, 0.5))
    with pytest.raises(TypeError, match="Scale should be a sequence"):
        T.RandomResizedCrop(8, scale=0.5)


# ---------------------------------------------------------------------------- flips


def test_random_horizontal_flip():
    img = rgb_image(9, 4)
    assert np.array_equal(arr(T.RandomHorizontalFlip(p=1.0)(img)), arr(img)[:, ::-1])
    assert T.RandomHorizontalFlip(p=0.0)(img) is img
    x = ember.rand(2, 3, 4, 5)
    assert np.array_equal(T.RandomHorizontalFlip(1.0)(x).numpy(), x.numpy()[..., ::-1])
    ember.manual_seed(3)
    flips = [T.RandomHorizontalFlip()(img) is not img for _ in range(200)]
    assert 60 < sum(flips) < 140
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"


# ---------------------------------------------------------------------------- conversions


def test_to_tensor_rgb_and_modes():
    img = rgb_image(5, 4)
    t = T.ToTensor()(img)
    assert t.dtype == ember.float32 and tuple(t.shape) == (3, 4, 5)
    np.testing.assert_array_equal(t.numpy(), arr(img).transpose(2, 0, 1).astype(np.float32) / 255)
    gray = img.convert("L")
    assert tuple(T.ToTensor()(gray).shape) == (1, 4, 5)
    rgba = img.convert("RGBA")
    assert tuple(T.ToTensor()(rgba).shape) == (4, 4, 5)
    bw = img.convert("1")
    np.testing.assert_array_equal(T.ToTensor()(bw).numpy()[0], arr(bw).astype(np.float32))
    ints = Image.fromarray(np.arange(20, dtype=np.int32).reshape(4, 5) * 1000)
    ti = T.ToTensor()(ints)
    assert ti.dtype == ember.int32 and ti.numpy().max() == 19000  # "I" is not scaled
    floats = Image.fromarray(np.linspace(-1, 3, 20, dtype=np.float32).reshape(4, 5))
    np.testing.assert_array_equal(T.ToTensor()(floats).numpy()[0], arr(floats))


def test_to_tensor_ndarray_and_errors():
    a = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(T.ToTensor()(a).numpy(), a.transpose(2, 0, 1) / np.float32(255))
    f = np.random.default_rng(0).random((4, 5)).astype(np.float64)
    out = T.ToTensor()(f)
    assert out.dtype == ember.float64 and np.array_equal(out.numpy()[0], f)  # not rescaled
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()([1, 2])
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 4 dimensions."):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))
    assert repr(T.ToTensor()) == "ToTensor()"


def test_to_tensor_matches_torch_division():
    torch = torch_or_skip()
    a = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    want = torch.from_numpy(a.transpose(2, 0, 1).copy()).float().div(255)
    np.testing.assert_array_equal(T.ToTensor()(a).numpy(), want.numpy())


def test_pil_to_tensor():
    img = rgb_image(5, 4)
    t = T.PILToTensor()(img)
    assert t.dtype == ember.uint8 and tuple(t.shape) == (3, 4, 5)
    np.testing.assert_array_equal(t.numpy(), arr(img).transpose(2, 0, 1))
    with pytest.raises(TypeError, match="pic should be PIL Image"):
        T.PILToTensor()(np.zeros((2, 2)))
    assert repr(T.PILToTensor()) == "PILToTensor()"


def test_convert_image_dtype_rules():
    torch = torch_or_skip()
    u = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    f = T.ConvertImageDtype(ember.float32)(ember.tensor(u))
    np.testing.assert_allclose(f.numpy(), torch.tensor(u).float().numpy() / 255, rtol=1e-7)
    x = np.linspace(0, 1, 101, dtype=np.float32).reshape(1, 1, 101)
    back = F.convert_image_dtype(ember.tensor(x), ember.uint8)
    # torchvision: multiply by max + 1 - eps (eps = 1e-3) and truncate
    want = torch.tensor(x).mul(255 + 1 - 1e-3).to(torch.uint8)
    np.testing.assert_array_equal(back.numpy(), want.numpy())
    assert back.numpy().max() == 255
    i16 = np.array([[[0, 255, 256, 32767]]], dtype=np.int16)
    down = F.convert_image_dtype(ember.tensor(i16), ember.uint8)  # floor-divide by 2**8 / 1
    np.testing.assert_array_equal(down.numpy(), (i16 // 128).astype(np.uint8))
    up = F.convert_image_dtype(ember.tensor(np.array([[[1, 255]]], np.uint8)), ember.int32)
    np.testing.assert_array_equal(up.numpy(), [[[1 << 23, 255 << 23]]])
    same = ember.rand(1, 2, 2)
    assert F.convert_image_dtype(same, ember.float32) is same
    with pytest.raises(RuntimeError, match=r"The cast from ember.float32 to ember.int64 cannot"):
        F.convert_image_dtype(same, ember.int64)
    with pytest.raises(TypeError, match="Input img should be Tensor Image"):
        F.convert_image_dtype(u, ember.float32)


def test_normalize_matches_torch_formula():
    torch = torch_or_skip()
    x = np.random.default_rng(4).random((2, 3, 4, 5)).astype(np.float32)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    want = (torch.tensor(x) - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    src = ember.tensor(x)
    got = T.Normalize(mean, std)(src)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
    assert np.array_equal(src.numpy(), x)  # out of place by default
    inplace = T.Normalize(mean, std, inplace=True)(src)
    assert inplace is src
    assert repr(T.Normalize((0.5,), (0.25,))) == "Normalize(mean=(0.5,), std=(0.25,))"


def test_normalize_errors():
    with pytest.raises(ValueError, match="std evaluated to zero after conversion to ember.float32"):
        F.normalize(ember.rand(3, 2, 2), [0, 0, 0], [1, 0, 1])
    with pytest.raises(TypeError, match="Input tensor should be a float tensor. Got ember.uint8."):
        F.normalize(ember.zeros(3, 2, 2, dtype=ember.uint8), [0], [1])
    with pytest.raises(ValueError, match=r"Got tensor.size\(\) = ember.Size\(\[2, 2\]\)"):
        F.normalize(ember.rand(2, 2), [0], [1])
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        F.normalize(np.zeros((3, 2, 2)), [0], [1])


# ---------------------------------------------------------------------------- colour


def test_color_jitter_applies_image_enhance_factors_in_drawn_order():
    img = rgb_image(12, 10)
    cj = T.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2)
    ember.manual_seed(11)
    out = cj(img)
    ember.manual_seed(11)
    order, b, c, s, h = T.ColorJitter.get_params(cj.brightness, cj.contrast, cj.saturation, cj.hue)
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    assert 0.5 <= b <= 1.5 and 0.5 <= c <= 1.5 and 0.5 <= s <= 1.5 and -0.2 <= h <= 0.2
    want = img
    for k in order.tolist():
        if k == 0:
            want = ImageEnhance.Brightness(want).enhance(b)
        elif k == 1:
            want = ImageEnhance.Contrast(want).enhance(c)
        elif k == 2:
            want = ImageEnhance.Color(want).enhance(s)
        else:
            hh, ss, vv = want.convert("HSV").split()
            shifted = ((arr(hh).astype(int) + int(h * 255)) % 256).astype(np.uint8)
            want = Image.merge("HSV", (Image.fromarray(shifted), ss, vv)).convert("RGB")
    assert np.array_equal(arr(out), arr(want))


def test_color_jitter_arguments_and_repr():
    cj = T.ColorJitter(brightness=0.4, contrast=(0.2, 0.9), hue=0.1)
    assert cj.brightness == (0.6, 1.4) and cj.contrast == (0.2, 0.9)
    assert cj.saturation is None and cj.hue == (-0.1, 0.1)
    assert T.ColorJitter(brightness=2).brightness == (0.0, 3.0)  # clipped at zero
    assert repr(T.ColorJitter()) == (
        "ColorJitter(brightness=None, contrast=None, saturation=None, hue=None)")
    with pytest.raises(ValueError, match="If brightness is a single number, it must be non neg"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match=r"hue values should be between \(-0.5, 0.5\)"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(TypeError, match="saturation should be a single number or a list/tuple"):
        T.ColorJitter(saturation=(1, 2, 3))
    img = rgb_image(4, 4)
    assert np.array_equal(arr(T.ColorJitter()(img)), arr(img))


def test_adjust_hue_pil_and_tensor():
    img = rgb_image(6, 5)
    with pytest.raises(ValueError, match=r"hue_factor \(0.6\) is not in \[-0.5, 0.5\]."):
        F.adjust_hue(img, 0.6)
    assert F.adjust_hue(img.convert("L"), 0.3).mode == "L"
    x = np.random.default_rng(5).random((3, 4, 6)).astype(np.float32)
    got = F.adjust_hue(ember.tensor(x), 0.25).numpy()
    for r in range(4):
        for c in range(6):
            hh, ss, vv = colorsys.rgb_to_hsv(*x[:, r, c])
            np.testing.assert_allclose(got[:, r, c], colorsys.hsv_to_rgb((hh + 0.25) % 1, ss, vv),
                                       atol=1e-5)


def test_tensor_brightness_contrast_saturation_formulas():
    torch = torch_or_skip()
    x = np.random.default_rng(6).random((3, 4, 5)).astype(np.float32)
    t = torch.tensor(x)
    gray = (0.2989 * t[0] + 0.587 * t[1] + 0.114 * t[2]).unsqueeze(0)
    cases = [
        (F.adjust_brightness, 1.7, (1.7 * t).clamp(0, 1)),
        (F.adjust_contrast, 0.4, (0.4 * t + 0.6 * gray.mean()).clamp(0, 1)),
        (F.adjust_saturation, 1.5, (1.5 * t - 0.5 * gray).clamp(0, 1)),
    ]
    for fn, factor, want in cases:
        np.testing.assert_allclose(fn(ember.tensor(x), factor).numpy(), want.numpy(), atol=1e-6)
    with pytest.raises(ValueError, match=r"brightness_factor \(-1\) is not non-negative."):
        F.adjust_brightness(ember.tensor(x), -1)


# ---------------------------------------------------------------------------- pad, misc


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_modes_match_numpy(mode):
    img = rgb_image(5, 4)
    kw = {"constant_values": 7} if mode == "constant" else {}
    want = np.pad(arr(img), ((2, 3), (1, 4), (0, 0)), mode, **kw)
    got = F.pad(img, [1, 2, 4, 3], fill=7, padding_mode=mode)
    assert np.array_equal(arr(got), want)
    t = F.pad(ember.tensor(arr(img).transpose(2, 0, 1).copy()), [1, 2, 4, 3], 7, mode)
    assert np.array_equal(t.numpy(), want.transpose(2, 0, 1))
    assert arr(F.pad(img, -1)).shape == (2, 3, 3)  # negative padding crops


def test_pad_errors_and_repr():
    with pytest.raises(ValueError, match="Padding mode should be either constant, edge, reflect"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="not a 3 element tuple"):
        T.Pad((1, 2, 3))
    assert repr(T.Pad(2)) == "Pad(padding=2, fill=0, padding_mode=constant)"


def test_compose_lambda_repr_and_order():
    c = T.Compose([T.Lambda(lambda x: x + 1), T.Lambda(lambda x: x * 10)])
    assert c(1) == 20
    assert repr(T.Compose([T.CenterCrop(10), T.ToTensor()])) == (
        "Compose(\n    CenterCrop(size=(10, 10))\n    ToTensor()\n)")
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        T.Lambda(3)
    assert repr(T.ConvertImageDtype(ember.float32)) == "ConvertImageDtype()"
    assert isinstance(T.Resize(3), ember.nn.Module)


def test_to_pil_image_round_trip():
    img = rgb_image(5, 4)
    back = F.to_pil_image(T.PILToTensor()(img))
    assert back.mode == "RGB" and np.array_equal(arr(back), arr(img))
    gray = F.to_pil_image(ember.rand(1, 3, 3))
    assert gray.mode == "L"


# ---------------------------------------------------------------------------- preset


def test_image_classification_preset_pil_and_tensor():
    img = rgb_image(300, 200)
    preset = ImageClassification(crop_size=224, resize_size=256)
    out = preset(img)
    assert out.dtype == ember.float32 and tuple(out.shape) == (3, 224, 224)
    resized = img.resize((int(256 * 300 / 200), 256), Image.Resampling.BILINEAR)
    left = int(round((384 - 224) / 2.0))
    crop = arr(resized)[16:240, left:left + 224].transpose(2, 0, 1).astype(np.float32) / 255
    mean = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
    std = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
    np.testing.assert_allclose(out.numpy(), (crop - mean) / std, atol=1e-5)
    from_tensor = preset(T.PILToTensor()(img))
    # ember's uint8 resampling rounds in float; Pillow in fixed point: at most 1/255 apart
    assert np.abs(from_tensor.numpy() - out.numpy()).max() <= 1.01 / 255 / 0.224
    batch = preset(ember.stack([T.PILToTensor()(img)] * 2))
    assert tuple(batch.shape) == (2, 3, 224, 224)


def test_image_classification_repr_and_describe():
    p = ImageClassification(crop_size=224)
    assert repr(p) == ("ImageClassification(\n    crop_size=[224]\n    resize_size=[256]\n"
                       "    mean=[0.485, 0.456, 0.406]\n    std=[0.229, 0.224, 0.225]\n"
                       "    interpolation=InterpolationMode.BILINEAR\n)")
    d = p.describe()
    assert d.startswith("Accepts ``PIL.Image``, batched ``(B, C, H, W)``")
    assert "``resize_size=[256]`` using ``interpolation=InterpolationMode.BILINEAR``" in d
    assert "central crop of ``crop_size=[224]``" in d
    with pytest.raises(TypeError):
        ImageClassification(224)  # keyword-only, as in torchvision
