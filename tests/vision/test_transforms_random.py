"""The random transforms, AutoAugment family and v2: each equals its functional form applied with
the parameters drawn in torchvision's order (replayed here from the same seed), with
torchvision's reprs and errors; v2 passes non-image inputs through."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F
from ember.vision.transforms import v2

Image = pytest.importorskip("PIL.Image")


def u8(c=3, h=20, w=24, seed=0):
    return ember.from_numpy(np.random.default_rng(seed).integers(0, 256, (c, h, w),
                                                                 dtype=np.uint8))


def pil(t):
    return Image.fromarray(t.numpy().transpose(1, 2, 0))


def same(a, b):
    if isinstance(a, ember.Tensor):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def uniform(lo, hi):
    return float(ember.empty(1).uniform_(float(lo), float(hi)).item())


@pytest.mark.parametrize("as_pil", [False, True])
def test_random_rotation_replays_draws(as_pil):
    img = pil(u8()) if as_pil else u8()
    t = T.RandomRotation((-40, 25), interpolation=T.InterpolationMode.BILINEAR, fill=3)
    ember.manual_seed(5)
    out = t(img)
    ember.manual_seed(5)
    angle = uniform(-40, 25)
    fill = 3 if as_pil else [3.0] * 3
    same(out, F.rotate(img, angle, T.InterpolationMode.BILINEAR, False, None, fill))
    assert repr(T.RandomRotation(10)) == \
        "RandomRotation(degrees=[-10.0, 10.0], interpolation=nearest, expand=False, fill=0)"
    with pytest.raises(ValueError, match="If degrees is a single number, it must be positive."):
        T.RandomRotation(-1)
    with pytest.raises(ValueError, match="degrees should be a sequence of length 2."):
        T.RandomRotation([1, 2, 3])


def test_random_affine_replays_draws():
    img = u8(seed=1)
    t = T.RandomAffine(15, translate=(0.1, 0.2), scale=(0.8, 1.1), shear=(-5, 5, -3, 3))
    ember.manual_seed(2)
    out = t(img)
    ember.manual_seed(2)
    angle = uniform(-15, 15)
    tx = int(round(uniform(-0.1 * 24, 0.1 * 24)))
    ty = int(round(uniform(-0.2 * 20, 0.2 * 20)))
    scale = uniform(0.8, 1.1)
    sx, sy = uniform(-5, 5), uniform(-3, 3)
    same(out, F.affine(img, angle, [tx, ty], scale, [sx, sy], fill=[0.0] * 3))
    assert repr(t) == ("RandomAffine(degrees=[-15.0, 15.0], translate=(0.1, 0.2), "
                       "scale=(0.8, 1.1), shear=[-5.0, 5.0, -3.0, 3.0])")
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(2, 0))
    with pytest.raises(ValueError, match="scale values should be positive"):
        T.RandomAffine(0, scale=(0, 1))


def test_random_perspective_params_and_replay():
    img = pil(u8(seed=2))
    ember.manual_seed(3)
    out = T.RandomPerspective(0.4, p=1.0)(img)
    ember.manual_seed(3)
    assert ember.rand(1) < 1.0
    start, end = T.RandomPerspective.get_params(24, 20, 0.4)
    same(out, F.perspective(img, start, end, T.InterpolationMode.BILINEAR, 0))
    assert start == [[0, 0], [23, 0], [23, 19], [0, 19]]
    for _ in range(20):  # corners move inwards by at most distortion_scale * half the size
        _, (tl, tr, br, bl) = T.RandomPerspective.get_params(24, 20, 0.4)
        assert 0 <= tl[0] <= 4 and 0 <= tl[1] <= 4 and 19 <= tr[0] <= 23 and 15 <= br[1] <= 19
    ember.manual_seed(0)
    assert T.RandomPerspective(p=0.0)(img) is img


def test_random_erasing():
    x = ember.rand(3, 30, 40)
    t = T.RandomErasing(p=1.0, value=(0.1, 0.2, 0.3))
    ember.manual_seed(4)
    out = t(x)
    ember.manual_seed(4)
    assert ember.rand(1) < 1
    i, j, h, w, v = T.RandomErasing.get_params(x, (0.02, 0.33), (0.3, 3.3), [0.1, 0.2, 0.3])
    same(out, F.erase(x, i, j, h, w, v))
    area = h * w / (30 * 40)
    assert 0.01 < area < 0.4 and np.allclose(out.numpy()[:, i, j], [0.1, 0.2, 0.3])
    r = T.RandomErasing(p=1.0, value="random")(x)
    assert r.shape == x.shape and not ember.equal(r, x)
    assert repr(t) == ("RandomErasing(p=1.0, scale=(0.02, 0.33), ratio=(0.3, 3.3), "
                       "value=(0.1, 0.2, 0.3), inplace=False)")
    with pytest.raises(ValueError, match="If value is str, it should be 'random'"):
        T.RandomErasing(value="x")
    with pytest.raises(ValueError, match="Random erasing probability should be between 0 and 1"):
        T.RandomErasing(p=2)
    with pytest.raises(ValueError, match="If value is a sequence, it should have either a single "
                       "value or 3"):
        T.RandomErasing(p=1.0, value=[1, 2])(x)


def test_gaussian_blur_and_grayscale_transforms():
    img = u8(seed=3)
    ember.manual_seed(6)
    out = T.GaussianBlur(5, sigma=(0.5, 1.5))(img)
    ember.manual_seed(6)
    s = uniform(0.5, 1.5)
    same(out, F.gaussian_blur(img, (5, 5), [s, s]))
    assert repr(T.GaussianBlur(3)) == "GaussianBlur(kernel_size=(3, 3), sigma=(0.1, 2.0))"
    with pytest.raises(ValueError, match="Kernel size value should be an odd and positive"):
        T.GaussianBlur(4)
    with pytest.raises(ValueError, match=r"sigma values should be positive and of the form"):
        T.GaussianBlur(3, (2.0, 1.0))
    assert T.Grayscale(3)(pil(img)).mode == "RGB" and T.Grayscale()(img).shape == (1, 20, 24)
    assert T.RandomGrayscale(1.0)(img).shape == (3, 20, 24)
    assert repr(T.Grayscale()) == "Grayscale(num_output_channels=1)"


@pytest.mark.parametrize("cls,args,fn", [
    (T.RandomInvert, (), F.invert),
    (T.RandomAutocontrast, (), F.autocontrast),
    (T.RandomEqualize, (), F.equalize),
    (T.RandomPosterize, (3,), lambda x: F.posterize(x, 3)),
    (T.RandomSolarize, (90,), lambda x: F.solarize(x, 90)),
    (T.RandomAdjustSharpness, (2.5,), lambda x: F.adjust_sharpness(x, 2.5)),
])
def test_random_colour_ops(cls, args, fn):
    img = u8(seed=4)
    for p, want in ((1.0, fn(img)), (0.0, img)):
        same(cls(*args, p=p)(img), want)
        same(cls(*args, p=p)(pil(img)), pil(want))
    assert repr(T.RandomPosterize(3)) == "RandomPosterize(bits=3,p=0.5)"
    assert repr(T.RandomSolarize(9, 0.2)) == "RandomSolarize(threshold=9,p=0.2)"
    assert repr(T.RandomAutocontrast()) == "RandomAutocontrast(p=0.5)"


def test_containers():
    img = u8(seed=5)
    inv = T.RandomInvert(1.0)
    ember.manual_seed(0)
    flags = [float(ember.rand(1)) for _ in range(8)]
    ember.manual_seed(0)
    # (inner transforms that draw nothing, so the flags are the only draws)
    outs = [T.RandomApply([T.Lambda(F.invert), T.Grayscale()], p=0.5)(img) for _ in range(8)]
    for f, o in zip(flags, outs):
        same(o, F.rgb_to_grayscale(F.invert(img)) if f <= 0.5 else img)
    random.seed(1)
    chosen = random.choices([0, 1], weights=[0.2, 0.8])[0]
    random.seed(1)
    out = T.RandomChoice([inv, T.Grayscale()], p=[0.2, 0.8])(img)
    same(out, F.invert(img) if chosen == 0 else F.rgb_to_grayscale(img))
    random.seed(2)
    order = list(range(2))
    random.shuffle(order)
    random.seed(2)
    steps = [T.Pad(1), T.CenterCrop(10)]
    out = T.RandomOrder(steps)(img)
    want = img
    for k in order:
        want = steps[k](want)
    same(out, want)
    assert repr(T.RandomApply([inv])) == "RandomApply(\n    p=0.5\n    RandomInvert(p=1.0)\n)"
    assert repr(T.RandomChoice([inv])) == "RandomChoice(\n    RandomInvert(p=1.0)\n)(p=None)"
    with pytest.raises(TypeError, match="Argument transforms should be a sequence"):
        T.RandomOrder(inv)


def test_five_ten_crop_and_elastic():
    img = u8(seed=6)
    crops = T.FiveCrop(8)(img)
    assert len(crops) == 5 and repr(T.FiveCrop(8)) == "FiveCrop(size=(8, 8))"
    same(crops[0], img[:, :8, :8])
    ten = T.TenCrop((8, 6), vertical_flip=True)(pil(img))
    assert len(ten) == 10 and ten[0].size == (6, 8)
    t = T.ElasticTransform(alpha=20.0, sigma=3.0)
    ember.manual_seed(8)
    out = t(img)
    ember.manual_seed(8)
    d = T.ElasticTransform.get_params([20.0, 20.0], [3.0, 3.0], [20, 24])
    same(out, F.elastic_transform(img, d, T.InterpolationMode.BILINEAR, [0.0]))
    assert d.shape == (1, 20, 24, 2) and float(d.abs().max()) < 20.0 / 20
    # the displacement is blurred uniform noise: build it from the same draws
    ember.manual_seed(8)
    dx = ember.rand([1, 1, 20, 24]) * 2 - 1
    dx = F.gaussian_blur(dx, [25, 25], [3.0, 3.0]) * 20.0 / 20
    np.testing.assert_allclose(d.numpy()[..., 0], dx.numpy()[:, 0], atol=1e-6)
    with pytest.raises(TypeError, match="alpha should be float or a sequence of floats"):
        T.ElasticTransform(alpha=50)
    assert repr(T.ElasticTransform()) == ("ElasticTransform(alpha=[50.0, 50.0], sigma=[5.0, "
                                          "5.0], interpolation=InterpolationMode.BILINEAR, "
                                          "fill=[0.0])")


# -- AutoAugment family -------------------------------------------------------------------------
def test_autoaugment_replays_policy():
    img = u8(seed=7)
    t = T.AutoAugment(T.AutoAugmentPolicy.CIFAR10)
    for seed in range(6):
        ember.manual_seed(seed)
        out = t(img)
        ember.manual_seed(seed)
        pid, probs, signs = T.AutoAugment.get_params(25)
        want = img
        space = t._augmentation_space(10, [24, 20])
        for i, (op, p, mid) in enumerate(t.policies[pid]):
            if probs[i] <= p:
                mags, signed = space[op]
                m = float(mags[mid]) if mid is not None else 0.0
                if signed and signs[i] == 0:
                    m = -m
                want = T.autoaugment._apply_op(want, op, m, T.InterpolationMode.NEAREST, None)
        same(out, want)
    assert len(t.policies) == 25 and t.policies[1] == (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9))
    assert repr(t) == "AutoAugment(policy=AutoAugmentPolicy.CIFAR10, fill=None)"


def test_augmentation_spaces():
    t = T.RandAugment()
    space = t._augmentation_space(31, [224, 224])
    assert list(space)[:3] == ["Identity", "ShearX", "ShearY"] and len(space) == 14
    assert space["Posterize"][0].tolist()[:3] == [8, 8, 8] and space["Posterize"][0][-1] == 4
    np.testing.assert_allclose(float(space["TranslateX"][0][-1]), 150 / 331 * 224, rtol=1e-6)
    tw = T.TrivialAugmentWide()._augmentation_space(31)
    assert float(tw["Rotate"][0][-1]) == 135.0 and int(tw["Posterize"][0][-1]) == 2
    am = T.AugMix()._augmentation_space(10, [32, 32])
    assert len(am) == 13 and int(am["Posterize"][0][0]) == 4 and int(am["Posterize"][0][-1]) == 0
    assert len(T.AugMix(all_ops=False)._augmentation_space(10, [32, 32])) == 9


def test_apply_op_definitions():
    img = u8(seed=8)
    nearest = T.InterpolationMode.NEAREST
    op = T.autoaugment._apply_op
    same(op(img, "ShearX", 0.2, nearest, None),
         F.affine(img, 0.0, [0, 0], 1.0, [math.degrees(math.atan(0.2)), 0.0], center=[0, 0]))
    same(op(img, "TranslateY", -7.9, nearest, None), F.affine(img, 0.0, [0, -7], 1.0, [0.0, 0.0]))
    same(op(img, "Solarize", 0.5, nearest, None), F.solarize(img, 127.5))
    f = img.float() / 255
    same(op(f, "Solarize", 0.5, nearest, None), F.solarize(f, 0.5))
    same(op(img, "Color", -0.3, nearest, None), F.adjust_saturation(img, 0.7))
    same(op(img, "Identity", 0.0, nearest, None), img)
    with pytest.raises(ValueError, match="The provided operator Blur is not recognized."):
        op(img, "Blur", 0.0, nearest, None)


def test_randaugment_trivialaugment_replay():
    img = u8(seed=9)
    ra = T.RandAugment(num_ops=3, magnitude=12)
    ember.manual_seed(11)
    out = ra(img)
    ember.manual_seed(11)
    want = img
    for _ in range(3):
        space = ra._augmentation_space(31, [24, 20])
        name = list(space)[int(ember.randint(len(space), (1,)).item())]
        mags, signed = space[name]
        m = float(mags[12]) if mags.ndim > 0 else 0.0
        if signed and ember.randint(2, (1,)):
            m = -m
        want = T.autoaugment._apply_op(want, name, m, T.InterpolationMode.NEAREST, None)
    same(out, want)
    tw = T.TrivialAugmentWide()
    ember.manual_seed(12)
    out = tw(pil(img))
    ember.manual_seed(12)
    space = tw._augmentation_space(31)
    name = list(space)[int(ember.randint(len(space), (1,)).item())]
    mags, signed = space[name]
    m = float(mags[ember.randint(len(mags), (1,), dtype=ember.long)]) if mags.ndim > 0 else 0.0
    if signed and ember.randint(2, (1,)):
        m = -m
    same(out, T.autoaugment._apply_op(pil(img), name, m, T.InterpolationMode.NEAREST, None))
    assert repr(ra) == ("RandAugment(num_ops=3, magnitude=12, num_magnitude_bins=31, "
                        "interpolation=InterpolationMode.NEAREST, fill=None)")


def test_augmix_is_a_convex_mix():
    img = u8(seed=10)
    ember.manual_seed(3)
    out = T.AugMix(severity=2, mixture_width=2, chain_depth=1)(img)
    assert out.dtype == ember.uint8 and out.shape == img.shape
    out_pil = T.AugMix()(pil(img))
    assert out_pil.size == (24, 20)
    batch = ember.stack([img, img])
    assert T.AugMix()(batch).shape == (2, 3, 20, 24)
    # with every op the identity-like AutoContrast on a full-range image, the mix is the image
    full = img.clone()
    full[:, 0, 0], full[:, 0, 1] = 0, 255
    t = T.AugMix(all_ops=False)
    t._augmentation_space = lambda n, s: {"AutoContrast": (ember.tensor(0.0), False)}
    diff = (t(full).int() - full.int()).abs().max()
    assert int(diff) <= 1  # the weights sum to 1; truncation to uint8 loses at most 1
    with pytest.raises(ValueError, match=r"The severity must be between \[1, 10\]. Got 11"):
        T.AugMix(severity=11)


# -- v2 -----------------------------------------------------------------------------------------
def test_v2_structures_and_names():
    img = pil(u8(seed=11))
    t = v2.Compose([v2.ToImage(), v2.RandomResizedCrop(12, antialias=True),
                    v2.RandomHorizontalFlip(), v2.ToDtype(ember.float32, scale=True)])
    ember.manual_seed(0)
    x, label = t(img, 7)
    assert label == 7 and x.shape == (3, 12, 12) and x.dtype == ember.float32
    ember.manual_seed(0)
    v1 = T.Compose([T.PILToTensor(), T.RandomResizedCrop(12), T.RandomHorizontalFlip(),
                    T.ConvertImageDtype(ember.float32)])
    same(x, v1(img))
    ember.manual_seed(0)
    d = t({"image": img, "boxes": [1, 2], "label": 3})
    same(d["image"], x)
    assert d["boxes"] == [1, 2] and d["label"] == 3
    assert isinstance(v2.RandomRotation(5), T.RandomRotation)
    assert v2.functional.to_image(img).dtype == ember.uint8
    assert v2.functional.to_image(np.zeros((4, 5, 3), np.uint8)).shape == (3, 4, 5)
    assert v2.ToDtype(ember.float32)(v2.ToImage()(img)).max().item() > 1
    assert v2.Lambda(lambda v: v + 1, int)(img, 3)[1] == 4
    assert v2.Identity()(img, 2)[1] == 2
    with pytest.warns(UserWarning, match="The transform `ToTensor\\(\\)` is deprecated"):
        v2.ToTensor()
    ember.manual_seed(1)
    out = v2.RandomChoice([v2.RandomInvert(1.0), v2.Grayscale()])(img, "x")
    assert out[1] == "x"
    assert v2.RandomApply([v2.RandomInvert(1.0)], p=1.0)(img, 5)[1] == 5
    assert v2.RandomOrder([v2.Pad(1), v2.CenterCrop(4)])(img, 6)[0].size == (4, 4)


def test_linear_transformation():
    rng = np.random.default_rng(0)
    m = ember.from_numpy(rng.standard_normal((12, 12)))
    mean = ember.from_numpy(rng.standard_normal(12))
    t = T.LinearTransformation(m, mean)
    x = ember.from_numpy(rng.standard_normal((2, 3, 2, 2)))
    want = ((x.numpy().reshape(-1, 12) - mean.numpy()) @ m.numpy()).reshape(2, 3, 2, 2)
    np.testing.assert_allclose(t(x).numpy(), want, rtol=1e-12)
    xg = x.clone().requires_grad_(True)
    assert ember.autograd.gradcheck(lambda v: t(v), (xg,))
    assert v2.LinearTransformation(m, mean)(x, 1)[1] == 1
    with pytest.raises(ValueError, match=r"transformation_matrix should be square. Got \(2, 3\)"):
        T.LinearTransformation(ember.zeros(2, 3), ember.zeros(2))
    with pytest.raises(ValueError, match="Input tensor and transformation matrix have "
                       "incompatible shape"):
        t(ember.zeros(1, 2, 2, dtype=ember.float64))


def test_v2_mixup_cutmix_definitions():
    x = ember.rand(4, 3, 8, 10)
    y = ember.tensor([0, 2, 1, 2])
    onehot = ember.nn.functional.one_hot(y, num_classes=3).float()
    ember.manual_seed(5)
    out, lab = v2.MixUp(alpha=0.4, num_classes=3)(x, y)
    ember.manual_seed(5)
    from ember.distributions import Beta
    lam = float(Beta(ember.tensor([0.4]), ember.tensor([0.4])).sample(()))
    np.testing.assert_allclose(out.numpy(), (x.roll(1, 0) * (1 - lam) + x * lam).numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(lab.numpy(), (onehot.roll(1, 0) * (1 - lam) + onehot * lam).numpy(),
                               rtol=1e-6)
    ember.manual_seed(6)
    d = v2.CutMix(num_classes=3)({"image": x, "labels": y})
    out, lab = d["image"], d["labels"]
    changed = (out != x).any(dim=(0, 1)).numpy()  # the pasted box, same for the whole batch
    rows, cols = np.nonzero(changed)
    if rows.size:
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        r0, c0 = rows.min(), cols.min()
        np.testing.assert_array_equal(out.numpy()[:, :, r0, c0], x.roll(1, 0).numpy()[:, :, r0, c0])
        lam_adj = 1 - box / 80
        # no two neighbours share a class: each row is (1 - lam_adj, lam_adj) over two classes
        np.testing.assert_allclose(np.sort(lab.numpy(), axis=1)[:, 1:],
                                   np.tile(sorted([1 - lam_adj, lam_adj]), (4, 1)), rtol=1e-5)
    np.testing.assert_allclose(lab.sum(1).numpy(), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"MixUp\(\) does not support PIL images"):
        v2.MixUp()(pil(u8()), y)
    with pytest.raises(ValueError, match="Expected a batched input with 4 dims"):
        v2.MixUp()(x[0], y)
    with pytest.raises(ValueError, match="The batch size of the image or video does not match"):
        v2.CutMix()(x[:2], y)
    assert v2.RGB()(ember.rand(1, 4, 4)).shape == (3, 4, 4)
    assert v2.RGB()(pil(u8()).convert("L")).mode == "RGB"


def test_v2_noise_channel_permutation_random_resize():
    x = ember.rand(2, 3, 6, 8)
    ember.manual_seed(1)
    out = v2.GaussianNoise(mean=0.1, sigma=0.2)(x)
    ember.manual_seed(1)
    want = (x + (0.1 + ember.randn_like(x) * 0.2)).clamp(0, 1)
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="Input tensor is expected to be in float dtype"):
        v2.GaussianNoise()(u8())
    ember.manual_seed(2)
    out = v2.RandomChannelPermutation()(x)
    ember.manual_seed(2)
    perm = ember.randperm(3).tolist()
    np.testing.assert_array_equal(out.numpy(), x.numpy()[:, perm])
    img = pil(u8())
    np.testing.assert_array_equal(np.asarray(v2.functional.permute_channels(img, [2, 0, 1])),
                                  np.asarray(img)[..., [2, 0, 1]])
    ember.manual_seed(3)
    out = v2.RandomResize(4, 9)(img, "label")
    ember.manual_seed(3)
    size = int(ember.randint(4, 9, ()))
    same(out[0], F.resize(img, [size]))
    assert out[1] == "label"


def test_tensor_paths_need_neither_pillow_nor_scipy():
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import sys
        class _Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in {'PIL', 'sklearn', 'scipy'}:
                    raise ImportError('blocked ' + name)
        sys.meta_path.insert(0, _Block())
        import numpy as np, ember
        import ember.vision.transforms as T
        from ember.vision.transforms import v2
        import ember.vision.datasets
        x = ember.from_numpy(np.full((3, 20, 20), 200, dtype=np.uint8))
        ember.manual_seed(0)
        for t in [T.RandomRotation(20), T.RandomAffine(10, shear=5), T.RandomPerspective(p=1),
                  T.AutoAugment(), T.RandAugment(), T.TrivialAugmentWide(), T.AugMix(),
                  T.GaussianBlur(3), T.RandomErasing(1), T.ElasticTransform(),
                  v2.Compose([v2.RandomResizedCrop(8), v2.ToDtype(ember.float32, scale=True)])]:
            assert t(x).shape[0] == 3
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_v2_plain_callable_transforms():
    img = pil(u8(seed=12))
    x, label = v2.PILToTensor()(img, 4)
    assert x.dtype == ember.uint8 and label == 4
    back = v2.Compose([v2.PILToTensor(), v2.ToPILImage(mode="RGB")])(img, "a")
    same(back[0], img)
    assert back[1] == "a"
    with pytest.warns(UserWarning):
        t = v2.ToTensor()
    assert t(img, 1)[0].dtype == ember.float32
    assert isinstance(v2.RandomRotation(3), v2.Transform)


def test_v2_functional_names():
    vF = v2.functional
    x = u8(seed=13)
    same(vF.horizontal_flip(x), F.hflip(x))
    same(vF.vertical_flip(x), F.vflip(x))
    assert vF.elastic is F.elastic_transform
    assert vF.get_size(x) == [20, 24] and vF.get_num_channels(x) == 3
    g = vF.grayscale_to_rgb(F.rgb_to_grayscale(x))
    assert g.shape == (3, 20, 24) and ember.equal(g[0], g[2])
    assert vF.grayscale_to_rgb(pil(x).convert("L")).mode == "RGB"
    assert vF.to_dtype(x, ember.float32, scale=True).max().item() <= 1.0
    assert set(F.__all__) <= set(vF.__all__)
