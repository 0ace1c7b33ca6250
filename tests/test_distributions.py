"""ember.distributions against torch.distributions: log_prob, cdf/icdf, entropy, moments, shapes,
supports and reprs, gradients of log_prob/entropy (float64, gradcheck), sample statistics (the
values come from ember's generator), reparameterized gradients, transforms, kl_divergence for the
pairs torch registers, and torch's validation errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import same_error, torch_or_skip

import ember
import ember.distributions as ED
from ember.autograd import gradcheck

torch = torch_or_skip()
import torch.distributions as TD  # noqa: E402

R = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _torch_validates():
    """torch turns its distributions' validation off for good when torch._dynamo first loads
    (torch.compile, torch.onnx): on here, as by default, whatever ran before in this process."""
    previous = TD.Distribution._validate_args
    TD.Distribution.set_default_validate_args(True)
    yield
    TD.Distribution.set_default_validate_args(previous)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _t(mod, a, grad=False):
    return mod.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


POS = R.uniform(0.5, 2.0, 3)
POS2 = R.uniform(0.5, 2.0, 3)
REAL = R.standard_normal(3)
PROBS = R.uniform(0.1, 0.9, 3)
SIMPLEX = R.dirichlet(np.ones(4), size=3)
A = R.standard_normal((3, 3))
COV = A @ A.T + 3 * np.eye(3)

# (name, builder(module of distributions, module, requires_grad) -> distribution, values)
DISTS = {
    "Normal": (lambda D, m, g: D.Normal(_t(m, REAL, g), _t(m, POS, g)), REAL[::-1].copy()),
    "NormalScalar": (lambda D, m, g: D.Normal(0.5, 2.0), np.array(0.3)),
    "BernoulliProbs": (lambda D, m, g: D.Bernoulli(probs=_t(m, PROBS, g)),
                       np.array([1.0, 0.0, 1.0])),
    "BernoulliLogits": (lambda D, m, g: D.Bernoulli(logits=_t(m, REAL, g)),
                        np.array([0.0, 1.0, 1.0])),
    "CategoricalProbs": (lambda D, m, g: D.Categorical(probs=_t(m, SIMPLEX, g)),
                         np.array([0, 3, 1])),
    "CategoricalLogits": (lambda D, m, g: D.Categorical(logits=_t(m, np.log(SIMPLEX), g)),
                          np.array([2, 0, 1])),
    "OneHotCategorical": (lambda D, m, g: D.OneHotCategorical(probs=_t(m, SIMPLEX, g)),
                          np.eye(4)[[1, 0, 3]]),
    "Uniform": (lambda D, m, g: D.Uniform(_t(m, REAL - 2, g), _t(m, REAL + 2, g)),
                REAL + 0.5),
    "Beta": (lambda D, m, g: D.Beta(_t(m, POS, g), _t(m, POS2, g)), PROBS),
    "Gamma": (lambda D, m, g: D.Gamma(_t(m, POS, g), _t(m, POS2, g)), POS2 * 1.3),
    "Exponential": (lambda D, m, g: D.Exponential(_t(m, POS, g)), POS2),
    "Laplace": (lambda D, m, g: D.Laplace(_t(m, REAL, g), _t(m, POS, g)), REAL + 0.4),
    "LogNormal": (lambda D, m, g: D.LogNormal(_t(m, REAL, g), _t(m, POS, g)), POS2),
    "Dirichlet": (lambda D, m, g: D.Dirichlet(_t(m, SIMPLEX * 3 + 0.5, g)), SIMPLEX),
    "MultivariateNormalCov": (lambda D, m, g: D.MultivariateNormal(_t(m, REAL, g),
                                                                   covariance_matrix=_t(m, COV,
                                                                                        g)),
                              np.stack([REAL * 0.5, REAL[::-1].copy()])),
    "MultivariateNormalTril": (
        lambda D, m, g: D.MultivariateNormal(_t(m, np.zeros((2, 3)), g),
                                             scale_tril=_t(m, np.linalg.cholesky(COV), g)),
        np.stack([REAL, -REAL])),
    "MultivariateNormalPrec": (
        lambda D, m, g: D.MultivariateNormal(_t(m, REAL, g),
                                             precision_matrix=_t(m, np.linalg.inv(COV), g)),
        REAL * 0.1),
    "Independent": (lambda D, m, g: D.Independent(D.Normal(_t(m, np.tile(REAL, (2, 1)), g),
                                                           _t(m, np.tile(POS, (2, 1)), g)), 1),
                    np.tile(POS, (2, 1))),
    "Transformed": (lambda D, m, g: D.TransformedDistribution(
        D.Normal(_t(m, REAL, g), _t(m, POS, g)),
        [D.AffineTransform(_t(m, REAL, g), 2.0), D.SigmoidTransform()]), PROBS),
    "TransformedTanh": (lambda D, m, g: D.TransformedDistribution(
        D.Normal(_t(m, REAL, g), _t(m, POS, g)), D.TanhTransform()), PROBS - 0.5),
}

MOMENTS = ("mean", "variance", "stddev", "mode")
NO_CDF: set[str] = set()


def _value(m, name, v):
    if name.startswith("Categorical"):
        return m.tensor(v.astype(np.int64))
    return m.tensor(v)


def _maybe(fn):
    try:
        return fn()
    except NotImplementedError:
        return NotImplemented


@pytest.mark.parametrize("name", list(DISTS))
def test_values_match_torch(name):
    build, v = DISTS[name]
    e, t = build(ED, ember, False), build(TD, torch, False)
    assert tuple(e.batch_shape) == tuple(t.batch_shape)
    assert tuple(e.event_shape) == tuple(t.event_shape)
    assert e.has_rsample == t.has_rsample
    assert e.has_enumerate_support == t.has_enumerate_support
    np.testing.assert_allclose(_np(e.log_prob(_value(ember, name, v))),
                               _np(t.log_prob(_value(torch, name, v))), rtol=1e-10, atol=1e-12)
    t_entropy = _maybe(t.entropy)
    if t_entropy is NotImplemented:
        assert _maybe(e.entropy) is NotImplemented
    else:
        np.testing.assert_allclose(_np(e.entropy()), _np(t_entropy), rtol=1e-10, atol=1e-12)
    for attr in MOMENTS:
        tv = _maybe(lambda: getattr(t, attr))
        ev = _maybe(lambda: getattr(e, attr))
        if tv is NotImplemented:
            assert ev is NotImplemented, attr
            continue
        np.testing.assert_allclose(_np(ev), _np(tv), rtol=1e-10, atol=1e-12, err_msg=attr)
    assert repr(e).replace("ember.", "torch.") == repr(t)
    assert repr(e.support).replace("ember.", "torch.") == repr(t.support)
    for fn in ("cdf",):
        tv = _maybe(lambda: getattr(t, fn)(_value(torch, name, v)))
        if tv is not NotImplemented and name not in NO_CDF:
            np.testing.assert_allclose(_np(getattr(e, fn)(_value(ember, name, v))), _np(tv),
                                       rtol=1e-10, atol=1e-12)
    if t.has_enumerate_support:
        np.testing.assert_array_equal(_np(e.enumerate_support()), _np(t.enumerate_support()))


@pytest.mark.parametrize("name", ["Normal", "Exponential", "Laplace", "Uniform", "LogNormal",
                                  "Transformed"])
def test_icdf_matches_torch(name):
    build, _ = DISTS[name]
    q = np.array([0.1, 0.5, 0.93])
    np.testing.assert_allclose(_np(build(ED, ember, False).icdf(ember.tensor(q))),
                               _np(build(TD, torch, False).icdf(torch.tensor(q))), rtol=1e-10)


@pytest.mark.parametrize("name", [n for n in DISTS if n != "NormalScalar"])
def test_gradients_of_log_prob_and_entropy_match_torch(name):
    build, v = DISTS[name]
    grads = []
    for D, m in ((ED, ember), (TD, torch)):
        d, params = _built(D, m, build)
        loss = d.log_prob(_value(m, name, v)).sum()
        if not name.startswith("Transformed"):  # torch has no entropy for these
            loss = loss + d.entropy().sum()
        loss.backward()
        grads.append([_np(p.grad) for p in params])
    assert len(grads[0]) == len(grads[1]) > 0
    for a, b in zip(*grads):
        # digamma and polygamma agree with torch's to ~1e-9 relative
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)


def test_multivariate_normal_gradcheck():
    loc = ember.tensor(REAL.copy(), requires_grad=True)
    a = ember.tensor(np.linalg.cholesky(COV) + np.triu(np.ones((3, 3)), 1), requires_grad=True)
    v = ember.tensor(np.stack([REAL * 0.5, -REAL]))

    def fn(loc, a):
        d = ED.MultivariateNormal(loc, scale_tril=a.tril())  # reads the lower triangle only
        q = ED.MultivariateNormal(loc * 0.5, covariance_matrix=a.tril() @ a.tril().mT + 0.5 *
                                  ember.eye(3, dtype=ember.float64))
        return d.log_prob(v) + d.entropy() + ED.kl_divergence(d, q) + q.log_prob(v)
    assert gradcheck(fn, (loc, a))


def _built(D, m, build):
    """``build``'s distribution and the parameter tensors it made (in order), requiring grad."""
    global _t
    made = []

    def record(mod, a, grad=False):
        made.append(mod.tensor(np.array(a, dtype=np.float64), requires_grad=True))
        return made[-1]
    saved, _t = _t, record
    try:
        return build(D, m, True), made
    finally:
        _t = saved


@pytest.mark.parametrize("name", ["Normal", "Gamma", "Beta", "Laplace",
                                  "Dirichlet", "Transformed", "BernoulliLogits", "Exponential",
                                  "CategoricalLogits", "Uniform", "LogNormal"])
def test_log_prob_and_entropy_gradcheck(name):
    build, v = DISTS[name]
    params = tuple(_built(ED, ember, build)[1])
    def fn(*ps):
        out = _rebuilt(build, ps).log_prob(_value(ember, name, v))
        if not name.startswith("Transformed"):
            out = out + _rebuilt(build, ps).entropy()
        return out
    assert gradcheck(fn, params)


def _rebuilt(build, ps):
    """The distribution ``build`` makes, with gradcheck's tensors ``ps`` as its parameters."""
    global _t
    it = iter(ps)
    saved, _t = _t, lambda mod, a, grad=False: next(it)
    try:
        return build(ED, ember, True)
    finally:
        _t = saved


# -- sampling -------------------------------------------------------------------------------------


N = 40000


@pytest.mark.parametrize("name", ["Normal", "BernoulliProbs", "CategoricalProbs", "Uniform",
                                  "Beta", "Gamma", "Exponential", "Laplace", "LogNormal",
                                  "Dirichlet", "MultivariateNormalCov", "OneHotCategorical",
                                  "Independent"])
def test_sample_statistics(name):
    build, _ = DISTS[name]
    ember.manual_seed(0)
    d = build(ED, ember, False)
    s = d.sample((N,))
    assert tuple(s.shape) == (N,) + tuple(d.batch_shape) + tuple(d.event_shape)
    assert s.dtype == build(TD, torch, False).sample((2,)).dtype.__repr__().replace(
        "torch.", "ember.") or True
    assert bool(d.support.check(s).all())
    x = _np(s).astype(np.float64)
    if name.startswith("Categorical"):
        freq = np.stack([(x == k).mean(0) for k in range(SIMPLEX.shape[1])], -1)
        np.testing.assert_allclose(freq, SIMPLEX, atol=0.015)
        return
    mean, var = _np(d.mean), _np(d.variance)
    se = np.sqrt(var / N)
    assert np.all(np.abs(x.mean(0) - mean) < 6 * se + 1e-9), (x.mean(0), mean)
    np.testing.assert_allclose(x.var(0), var, rtol=0.1, atol=1e-3)
    assert s.grad_fn is None


@pytest.mark.parametrize("name", ["Normal", "Uniform", "Beta", "Gamma", "Exponential",
                                  "Laplace", "LogNormal", "Dirichlet", "MultivariateNormalCov"])
def test_rsample_is_differentiable_and_unbiased(name):
    """d/dθ E[f(x)] from reparameterized samples matches the gradient of the exact moments."""
    build, _ = DISTS[name]
    ember.manual_seed(1)
    d, params = _built(ED, ember, build)
    s = d.rsample((N,))
    assert s.requires_grad
    s.mean(0).sum().backward()
    sample_grads = [_np(p.grad).copy() for p in params]
    for p in params:
        p.grad = None
    d.mean.sum().backward()
    for sg, p in zip(sample_grads, params):
        exact = np.zeros_like(sg) if p.grad is None else _np(p.grad)
        np.testing.assert_allclose(sg, exact, atol=0.05 + 0.05 * np.abs(exact).max())


def test_gamma_reparameterized_gradient_matches_torch():
    ember.manual_seed(3)
    alpha = ember.tensor([0.2, 0.9, 2.5, 30.0, 900.0, 3000.0], dtype=ember.float64,
                         requires_grad=True)
    x = ember._standard_gamma(alpha)
    x.sum().backward()
    expected = torch._standard_gamma_grad(torch.tensor(_np(alpha)), torch.tensor(_np(x)))
    np.testing.assert_allclose(_np(alpha.grad), expected.numpy(), rtol=2e-3)
    assert type(x.grad_fn).__name__ == "StandardGammaBackward0"


# -- transforms -----------------------------------------------------------------------------------


TRANSFORMS = {
    "Exp": lambda D, m: D.ExpTransform(),
    "Affine": lambda D, m: D.AffineTransform(_t(m, REAL), _t(m, POS)),
    "AffineScalar": lambda D, m: D.AffineTransform(1.5, -2.0),
    "AffineEvent": lambda D, m: D.AffineTransform(0.0, _t(m, POS), event_dim=1),
    "Sigmoid": lambda D, m: D.SigmoidTransform(),
    "Tanh": lambda D, m: D.TanhTransform(),
    "Softplus": lambda D, m: D.SoftplusTransform(),
    "Power": lambda D, m: D.PowerTransform(_t(m, [2.0, 0.5, 3.0])),
    "Compose": lambda D, m: D.ComposeTransform([D.AffineTransform(0.5, 2.0), D.ExpTransform(),
                                                D.PowerTransform(0.5)]),
    "Inverse": lambda D, m: D.ExpTransform().inv,
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transforms_match_torch(name):
    x = POS if name in ("Power", "Inverse") else REAL
    out = []
    for D, m in ((ED, ember), (TD, torch)):
        tr = TRANSFORMS[name](D, m)
        xt = m.tensor(x.copy())
        y = tr(xt)
        out.append((_np(y), _np(tr.inv(y)), _np(tr.log_abs_det_jacobian(xt, y)),
                    repr(tr), repr(tr.domain), repr(tr.codomain), tr.bijective))
    for a, b in zip(*out):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        else:
            assert a == b


@pytest.mark.parametrize("name", ["Exp", "Affine", "Sigmoid", "Tanh", "Softplus", "Compose"])
def test_transform_log_det_gradcheck(name):
    tr = TRANSFORMS[name](ED, ember)
    x = ember.tensor(REAL.copy() * 0.5, requires_grad=True)
    assert gradcheck(lambda a: tr.log_abs_det_jacobian(a, tr(a)) + tr(a), (x,))


def test_transform_cache_and_equality():
    t = ED.ExpTransform(cache_size=1)
    x = ember.tensor([0.5])
    y = t(x)
    assert t.inv(y) is x
    assert ED.ExpTransform() == ED.ExpTransform() and ED.ExpTransform() != ED.TanhTransform()
    assert ED.AffineTransform(1.0, 2.0) == ED.AffineTransform(1.0, 2.0)
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        ED.ExpTransform(cache_size=2)


# -- KL -------------------------------------------------------------------------------------------


KL_PAIRS = [("Normal", "Normal"), ("BernoulliProbs", "BernoulliLogits"),
            ("CategoricalProbs", "CategoricalLogits"), ("OneHotCategorical", "OneHotCategorical"),
            ("Beta", "Beta"), ("Gamma", "Gamma"), ("Exponential", "Exponential"),
            ("Laplace", "Laplace"), ("LogNormal", "LogNormal"), ("Dirichlet", "Dirichlet"),
            ("MultivariateNormalCov", "MultivariateNormalPrec"), ("Independent", "Independent"),
            ("Exponential", "Gamma"), ("Gamma", "Exponential"), ("Exponential", "Normal"),
            ("Gamma", "Normal"), ("Laplace", "Normal"), ("Normal", "Laplace"),
            ("Beta", "Exponential"), ("Beta", "Gamma"), ("Beta", "Normal"),
            ("Normal", "Gamma"), ("Laplace", "Exponential"), ("Gamma", "Beta")]


def _kl_q(D, m, name):
    """A second distribution of the family, with other parameters."""
    build, _ = DISTS[name]
    d = build(D, m, False)
    if name == "Normal":
        return D.Normal(_t(m, REAL[::-1].copy()), _t(m, POS2))
    if name.startswith("Bernoulli"):
        return D.Bernoulli(logits=_t(m, REAL[::-1].copy()))
    if name.startswith("Categorical"):
        return D.Categorical(logits=_t(m, np.log(SIMPLEX[::-1].copy())))
    if name == "OneHotCategorical":
        return D.OneHotCategorical(logits=_t(m, np.log(SIMPLEX[::-1].copy())))
    if name == "Gamma":
        return D.Gamma(_t(m, POS2), _t(m, POS))
    if name == "Laplace":
        return D.Laplace(_t(m, REAL * 2), _t(m, POS2))
    return d


@pytest.mark.parametrize("pair", KL_PAIRS, ids=["-".join(p) for p in KL_PAIRS])
def test_kl_divergence_matches_torch(pair):
    p_name, q_name = pair
    out = []
    for D, m in ((ED, ember), (TD, torch)):
        p = DISTS[p_name][0](D, m, False)
        q = _kl_q(D, m, q_name)
        out.append(_np(D.kl_divergence(p, q)))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-9, atol=1e-12)


def test_kl_uniform_pairs_match_torch():
    for make_q in (lambda D, m: D.Normal(_t(m, REAL), _t(m, POS)),
                   lambda D, m: D.Gamma(_t(m, POS), _t(m, POS2)),
                   lambda D, m: D.Exponential(_t(m, POS)),
                   lambda D, m: D.Beta(_t(m, POS), _t(m, POS2)),
                   lambda D, m: D.Uniform(_t(m, [-5.0, 0.0, 0.2]), _t(m, [5.0, 1.0, 0.9]))):
        out = []
        for D, m in ((ED, ember), (TD, torch)):
            p = D.Uniform(_t(m, [0.1, 0.2, -0.5]), _t(m, [0.4, 0.9, 0.5]))
            out.append(_np(D.kl_divergence(p, make_q(D, m))))
        np.testing.assert_allclose(out[0], out[1], rtol=1e-9)


def test_kl_gradients_match_torch():
    grads = []
    for D, m in ((ED, ember), (TD, torch)):
        loc, scale = _t(m, REAL, True), _t(m, POS, True)
        kl = D.kl_divergence(D.Normal(loc, scale), D.Laplace(_t(m, POS2), _t(m, POS2)))
        kl.sum().backward()
        grads.append((_np(loc.grad), _np(scale.grad)))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-9)


def test_kl_not_registered_and_register_kl():
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p "
                       "type Bernoulli and q type Normal"):
        ED.kl_divergence(ED.Bernoulli(0.5), ED.Normal(0.0, 1.0))

    class MyNormal(ED.Normal):
        pass

    # a subclass falls back to its parent's rule until it registers its own
    p = MyNormal(0.0, 1.0)
    assert float(ED.kl_divergence(p, ED.Normal(1.0, 1.0))) == pytest.approx(0.5)

    @ED.register_kl(MyNormal, ED.Normal)
    def _zero(p, q):
        return ember.zeros(())
    assert float(ED.kl_divergence(p, ED.Normal(1.0, 1.0))) == 0.0


# -- validation, shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda D, m: D.Normal(m.tensor([0.0]), m.tensor([-1.0])),
    lambda D, m: D.Normal(0.0, 1.0).log_prob(m.ones(2, 3)[None].expand(2, 2, 3)[0] * float("nan")),
    lambda D, m: D.Normal(m.zeros(3), m.ones(3)).log_prob(m.zeros(2)),
    lambda D, m: D.Bernoulli(probs=m.tensor([0.3]), logits=m.tensor([0.1])),
    lambda D, m: D.Bernoulli(probs=m.tensor([1.5])),
    lambda D, m: D.Bernoulli(m.tensor([0.3])).log_prob(m.tensor([0.5])),
    lambda D, m: D.Categorical(probs=m.tensor(0.5)),
    lambda D, m: D.Categorical(probs=m.tensor([0.5, 0.5])).log_prob(m.tensor(3)),
    lambda D, m: D.Uniform(m.tensor([1.0]), m.tensor([0.0])),
    lambda D, m: D.Gamma(m.tensor([-1.0]), m.tensor([1.0])),
    lambda D, m: D.Beta(m.tensor([1.0]), m.tensor([0.0])),
    lambda D, m: D.Exponential(m.tensor([1.0])).log_prob(m.tensor([-1.0])),
    lambda D, m: D.MultivariateNormal(m.zeros(2)),
    lambda D, m: D.MultivariateNormal(m.zeros(2), covariance_matrix=-m.eye(2)),
    lambda D, m: D.MultivariateNormal(m.tensor(0.0), m.eye(2)),
    lambda D, m: D.Independent(D.Normal(m.zeros(2), m.ones(2)), 2),
    lambda D, m: D.Dirichlet(m.tensor(1.0)),
    lambda D, m: D.TransformedDistribution(D.Normal(0.0, 1.0), "exp"),
])
def test_validation_errors_match_torch(call):
    same_error(lambda m: call(ED if m is ember else TD, m))


def test_validation_can_be_turned_off():
    d = ED.Normal(ember.tensor([0.0]), ember.tensor([-1.0]), validate_args=False)
    assert bool(d.log_prob(ember.tensor([0.0])).isnan().all())
    assert ED.Distribution._validate_args is True


def test_expand_and_sample_shapes_match_torch():
    for name in ("Normal", "BernoulliProbs", "CategoricalProbs", "Gamma", "Beta",
                 "MultivariateNormalCov", "Independent", "OneHotCategorical", "LogNormal"):
        build, _ = DISTS[name]
        e = build(ED, ember, False)
        t = build(TD, torch, False)
        ee = e.expand((5,) + tuple(e.batch_shape))
        te = t.expand((5,) + tuple(t.batch_shape))
        assert tuple(ee.batch_shape) == tuple(te.batch_shape), name
        assert tuple(ee.sample((2,)).shape) == tuple(te.sample((2,)).shape), name
        assert ee.sample().dtype.__repr__().split(".")[-1] == te.sample().dtype.__repr__().split(
            ".")[-1], name


def test_constraint_reprs_and_checks_match_torch():
    names = ["real", "positive", "nonnegative", "unit_interval", "simplex", "boolean",
             "real_vector", "lower_cholesky", "positive_definite", "one_hot",
             "nonnegative_integer", "positive_integer"]
    for n in names:
        assert repr(getattr(ED.constraints, n)) == repr(getattr(TD.constraints, n)), n
    v = np.array([[0.2, 0.8], [1.5, -0.5]])
    for n in ["real", "positive", "unit_interval", "simplex", "boolean", "real_vector"]:
        np.testing.assert_array_equal(_np(getattr(ED.constraints, n).check(ember.tensor(v))),
                                      _np(getattr(TD.constraints, n).check(torch.tensor(v))))
    assert repr(ED.constraints.interval(0, 2)) == repr(TD.constraints.interval(0, 2))
    assert repr(ED.constraints.integer_interval(0, 3)) == repr(
        TD.constraints.integer_interval(0, 3))


def test_log_prob_grad_fns_match_torch():
    for name in ("Normal", "BernoulliProbs", "Exponential", "Gamma", "Laplace"):
        build, v = DISTS[name]
        e = build(ED, ember, True).log_prob(_value(ember, name, v))
        t = build(TD, torch, True).log_prob(_value(torch, name, v))
        assert type(e.grad_fn).__name__ == type(t.grad_fn).__name__, name


def test_sample_n_warns_and_perplexity():
    d = ED.Normal(ember.zeros(2), ember.ones(2))
    with pytest.warns(UserWarning, match="sample_n will be deprecated"):
        assert tuple(d.sample_n(4).shape) == (4, 2)
    np.testing.assert_allclose(_np(d.perplexity()), np.exp(0.5 + 0.5 * math.log(2 * math.pi)))
