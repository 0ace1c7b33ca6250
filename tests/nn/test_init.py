"""nn.init: gains and fans as torch computes them; each fill checked statistically (bounds,
mean, std) on large tensors against torch's formulas; deterministic fills equal torch's."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import init
from helpers import torch_or_skip

N = 200_000  # samples for the statistical checks: standard errors are ~0.2% of the std


def _stats(t):
    a = t.detach().numpy().astype(np.float64)
    return a, a.mean(), a.std()


def test_calculate_gain_matches_torch():
    torch = torch_or_skip()
    names = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
             "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
    for name in names:
        assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name)
    for slope in (0, 0.2, 1, 3.5):
        assert init.calculate_gain("leaky_relu", slope) == torch.nn.init.calculate_gain(
            "leaky_relu", slope)
    for bad in (("leaky_relu", True), ("leaky_relu", "x"), ("gelu", None)):
        with pytest.raises(ValueError) as e_err:
            init.calculate_gain(*bad)
        with pytest.raises(ValueError) as t_err:
            torch.nn.init.calculate_gain(*bad)
        assert str(e_err.value) == str(t_err.value)


def test_fans_match_torch():
    torch = torch_or_skip()
    for shape in ((3, 5), (8, 4, 3), (16, 3, 5, 5), (2, 3, 1, 2, 4), (0, 4)):
        assert init._calculate_fan_in_and_fan_out(ember.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    for mode in ("fan_in", "fan_out", "FAN_OUT"):
        assert init._calculate_correct_fan(ember.empty(4, 3, 2), mode) == \
            torch.nn.init._calculate_correct_fan(torch.empty(4, 3, 2), mode)


def test_errors_match_torch():
    torch = torch_or_skip()
    cases = [
        lambda lib: lib.nn.init.xavier_uniform_(lib.empty(5)),
        lambda lib: lib.nn.init.kaiming_normal_(lib.empty(5, 3), mode="fan_avg"),
        lambda lib: lib.nn.init.eye_(lib.empty(2, 2, 2)),
        lambda lib: lib.nn.init.dirac_(lib.empty(2, 2)),
        lambda lib: lib.nn.init.dirac_(lib.empty(3, 2, 3), groups=2),
        lambda lib: lib.nn.init.orthogonal_(lib.empty(3)),
        lambda lib: lib.nn.init.sparse_(lib.empty(3), 0.5),
    ]
    for case in cases:
        errs = []
        for lib in (ember, torch):
            with pytest.raises(ValueError) as info:
                case(lib)
            errs.append(str(info.value))
        assert errs[0] == errs[1]


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_uniform_and_normal(dtype):
    t = ember.empty(N, dtype=dtype)
    a, mean, std = _stats(init.uniform_(t, -2.0, 3.0))
    assert a.min() >= -2.0 and a.max() < 3.0 and t.dtype == dtype
    assert abs(mean - 0.5) < 0.02 and abs(std - 5 / math.sqrt(12)) < 0.01
    a, mean, std = _stats(init.normal_(t, 1.5, 0.5))
    assert abs(mean - 1.5) < 0.01 and abs(std - 0.5) < 0.005


def test_default_arguments_match_torch_signatures():
    t = ember.empty(N)
    a, mean, std = _stats(init.uniform_(t))
    assert a.min() >= 0 and a.max() < 1 and abs(mean - 0.5) < 0.01
    a, mean, std = _stats(init.normal_(t))
    assert abs(mean) < 0.01 and abs(std - 1) < 0.01


def test_constant_zeros_ones_eye_dirac_equal_torch():
    torch = torch_or_skip()

    def fills(lib):
        i = lib.nn.init
        return [
            i.constant_(lib.empty(2, 3), 0.3),
            i.zeros_(lib.empty(4)),
            i.ones_(lib.empty(2, 2, dtype=lib.float64)),
            i.eye_(lib.empty(3, 5)),
            i.eye_(lib.empty(4, 2)),
            i.dirac_(lib.empty(4, 2, 3)),
            i.dirac_(lib.empty(6, 3, 3, 3), groups=2),
            i.dirac_(lib.empty(2, 2, 1, 3, 2)),
            i.constant_(lib.empty(3, dtype=lib.int64), 7),
        ]

    for e, t in zip(fills(ember), fills(torch)):
        assert str(e.dtype).replace("ember.", "") == str(t.dtype).replace("torch.", "")
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_fills_are_in_place_under_no_grad_and_bump_the_version():
    p = nn.Parameter(ember.empty(20, 10))
    fills = [
        lambda t: init.uniform_(t), lambda t: init.normal_(t), lambda t: init.constant_(t, 2),
        lambda t: init.zeros_(t), lambda t: init.ones_(t), lambda t: init.eye_(t),
        lambda t: init.xavier_uniform_(t), lambda t: init.xavier_normal_(t),
        lambda t: init.kaiming_uniform_(t), lambda t: init.kaiming_normal_(t),
        lambda t: init.trunc_normal_(t), lambda t: init.orthogonal_(t),
        lambda t: init.sparse_(t, 0.5),
    ]
    for fill in fills:
        version = p._version
        assert fill(p) is p  # a leaf that requires grad: only legal because fills run no_grad
        assert p._version > version and p.requires_grad and p.grad_fn is None
        assert type(p) is nn.Parameter


@pytest.mark.parametrize("shape", [(400, 500), (64, 32, 3, 3)])
def test_xavier_bounds_and_std(shape):
    t = ember.empty(*shape)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(t)
    for gain in (1.0, init.calculate_gain("relu")):
        std = gain * math.sqrt(2.0 / (fan_in + fan_out))
        a, mean, s = _stats(init.xavier_uniform_(t, gain=gain))
        bound = math.sqrt(3.0) * std
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
        assert abs(s - std) < 0.02 * std and abs(mean) < 0.02 * std
        a, mean, s = _stats(init.xavier_normal_(t, gain=gain))
        assert abs(s - std) < 0.02 * std and abs(mean) < 0.02 * std


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("leaky_relu", 0), ("leaky_relu", math.sqrt(5)),
                                            ("relu", 0), ("tanh", 0), ("selu", 0)])
def test_kaiming_bounds_and_std(mode, nonlinearity, a):
    t = ember.empty(300, 80, 3, 3)
    fan = init._calculate_correct_fan(t, mode)
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    arr, mean, s = _stats(init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity))
    bound = math.sqrt(3.0) * std
    assert np.abs(arr).max() <= bound and np.abs(arr).max() > 0.99 * bound
    assert abs(s - std) < 0.02 * std
    arr, mean, s = _stats(init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity))
    assert abs(s - std) < 0.02 * std and abs(mean) < 0.02 * std


def test_zero_element_tensors_warn_like_torch():
    for fn in (init.kaiming_uniform_, init.kaiming_normal_):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            fn(ember.empty(0, 3))


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 1.0),
                                          (0.0, 0.02, -0.04, 0.04), (0.0, 1.0, 1.0, 3.0)])
def test_trunc_normal_moments(mean, std, a, b):
    arr, m, s = _stats(init.trunc_normal_(ember.empty(N), mean, std, a, b))
    assert arr.min() >= a and arr.max() <= b
    # moments of the truncated normal
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: (1 + math.erf(x / math.sqrt(2))) / 2  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    exp_mean = mean + std * (pdf(alpha) - pdf(beta)) / z
    exp_var = std**2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z
                        - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    assert abs(m - exp_mean) < 0.01 * (b - a)
    assert abs(s - math.sqrt(exp_var)) < 0.01 * math.sqrt(exp_var) + 1e-9


def test_trunc_normal_warns_like_torch_when_mean_is_far():
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(ember.empty(10), mean=10.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (8, 2, 3), (5, 5)])
def test_orthogonal(shape):
    t = init.orthogonal_(ember.empty(*shape, dtype=ember.float64), gain=2.0)
    flat = t.numpy().reshape(shape[0], -1)
    rows, cols = flat.shape
    gram = flat @ flat.T if rows < cols else flat.T @ flat
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-10)


def test_orthogonal_is_uniformly_signed():
    # without the sign correction by diag(R), Q's diagonal would lean positive
    diag = [init.orthogonal_(ember.empty(3, 3, dtype=ember.float64)).numpy().diagonal()
            for _ in range(400)]
    assert abs(np.mean(diag)) < 0.1


def test_sparse_zeroes_a_fraction_of_each_column():
    t = init.sparse_(ember.empty(10, 400), sparsity=0.3, std=0.5)
    a = t.numpy()
    assert ((a == 0).sum(axis=0) == 3).all()
    assert abs(a[a != 0].std() - 0.5) < 0.03


def test_generator_makes_fills_reproducible():
    g = ember.Generator().manual_seed(7)
    a = init.kaiming_uniform_(ember.empty(5, 5), generator=g).numpy().copy()
    g.manual_seed(7)
    b = init.kaiming_uniform_(ember.empty(5, 5), generator=g).numpy().copy()
    np.testing.assert_array_equal(a, b)
    g.manual_seed(7)
    c = init.trunc_normal_(ember.empty(50), generator=g).numpy().copy()
    g.manual_seed(7)
    np.testing.assert_array_equal(c, init.trunc_normal_(ember.empty(50), generator=g).numpy())


def test_deprecated_aliases_warn():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        init.uniform(ember.empty(3))
        init.kaiming_normal(ember.empty(3, 3))
    assert [str(x.message) for x in w] == [
        "`nn.init.uniform` is now deprecated in favor of `nn.init.uniform_`.",
        "`nn.init.kaiming_normal` is now deprecated in favor of `nn.init.kaiming_normal_`.",
    ]
