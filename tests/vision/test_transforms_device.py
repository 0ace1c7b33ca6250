"""Tensor transforms on a CUDA image (pytest --device fakecuda, or a GPU): the result stays on
the image's device and equals the CPU result. The kernels written in NumPy run on a host copy."""
import numpy as np
import pytest

import ember
from ember.vision.transforms import functional as F

pytestmark = pytest.mark.skipif(not ember.cuda.is_available(),
                                reason="needs a CUDA device (pytest --device fakecuda)")

CASES = [
    ("resize", lambda im: F.resize(im, [7, 9], antialias=True)),
    ("pad", lambda im: F.pad(im, [1, 2], padding_mode="reflect")),
    ("normalize", lambda im: F.normalize(im.float() / 255, [0.5, 0.4, 0.3], [0.2, 0.3, 0.4])),
    ("brightness", lambda im: F.adjust_brightness(im, 1.3)),
    ("contrast", lambda im: F.adjust_contrast(im, 0.7)),
    ("hue", lambda im: F.adjust_hue(im, 0.1)),
    ("gray", lambda im: F.rgb_to_grayscale(im, 3)),
    ("blur", lambda im: F.gaussian_blur(im, [3, 5], [0.8, 1.1])),
    ("invert", F.invert),
    ("posterize", lambda im: F.posterize(im, 3)),
    ("solarize", lambda im: F.solarize(im, 100)),
    ("sharpness", lambda im: F.adjust_sharpness(im, 2.0)),
    ("autocontrast", F.autocontrast),
    ("equalize", F.equalize),
    ("gamma", lambda im: F.adjust_gamma(im, 0.8)),
    ("rotate", lambda im: F.rotate(im, 30.0)),
    ("elastic", lambda im: F.elastic_transform(
        im, ember.full((1, 12, 10, 2), 0.05, device=im.device))),
]


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_transform_of_a_cuda_image_stays_there_and_matches_the_cpu(name, fn):
    pixels = np.random.default_rng(0).integers(0, 256, (3, 12, 10), dtype=np.uint8)
    cpu = ember.tensor(pixels, device="cpu")
    got, want = fn(cpu.to("cuda")), fn(cpu)
    assert got.device == ember.device("cuda", 0) and want.device == ember.device("cpu")
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
