"""Random numbers: seeding and generator state, the sampling functions (metadata and errors vs
torch, distributions checked statistically: ember's stream is its own, not torch's), and the
in-place samplers' autograd behaviour."""
from __future__ import annotations


import numpy as np
import pytest
from helpers import same_error, torch_or_skip

import ember

torch = torch_or_skip()


def _name(t):
    return type(t.grad_fn).__name__ if t.grad_fn is not None else None


def same_meta(fn):
    """``fn(module)`` returns tensors with the same dtype, shape, requires_grad and grad_fn."""
    e, t = fn(ember), fn(torch)
    assert str(e.dtype).replace("ember.", "") == str(t.dtype).replace("torch.", "")
    assert tuple(e.shape) == tuple(t.shape)
    assert e.requires_grad == t.requires_grad
    assert _name(e) == _name(t)
    return e




# -- seeding and state --------------------------------------------------------------------------

DRAWS = [
    lambda m: m.rand(3, 4),
    lambda m: m.randn(5, dtype=m.float64),
    lambda m: m.randint(0, 100, (6,)),
    lambda m: m.randperm(10),
    lambda m: m.normal(m.zeros(4), 2.0),
    lambda m: m.bernoulli(m.full((8,), 0.5)),
    lambda m: m.multinomial(m.ones(5), 3),
    lambda m: m.empty(6).uniform_(-2, 2),
]


@pytest.mark.parametrize("draw", DRAWS, ids=range(len(DRAWS)))
def test_same_seed_same_numbers(draw):
    ember.manual_seed(123)
    a = draw(ember)
    b = draw(ember)
    ember.manual_seed(123)
    np.testing.assert_array_equal(draw(ember).numpy(), a.numpy())
    np.testing.assert_array_equal(draw(ember).numpy(), b.numpy())
    ember.manual_seed(124)
    assert not np.array_equal(draw(ember).numpy(), a.numpy())


def test_generator_streams_are_independent():
    g = ember.Generator().manual_seed(7)
    a = ember.rand(5, generator=g)
    ember.manual_seed(0)
    ember.rand(3)
    b = ember.rand(5, generator=ember.Generator().manual_seed(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    for fn in (lambda g: ember.randn(3, generator=g), lambda g: ember.randint(9, (3,), generator=g),
               lambda g: ember.randperm(6, generator=g), lambda g: ember.normal(0.0, 1.0, (3,),
                                                                                 generator=g),
               lambda g: ember.multinomial(ember.ones(4), 2, generator=g),
               lambda g: ember.zeros(3).normal_(generator=g)):
        x = fn(ember.Generator().manual_seed(3))
        y = fn(ember.Generator().manual_seed(3))
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_generator_api_like_torch():
    g, tg = ember.Generator(), torch.Generator()
    assert ember.Generator().initial_seed() == tg.initial_seed()
    assert str(g.device) == str(tg.device) == "cpu"
    assert ember.Generator(device=ember.device("cpu")).device.type == "cpu"
    assert g.manual_seed(3) is g and g.initial_seed() == 3
    for s in (-1, 2**64 - 1, 1.5, "3"):
        assert ember.manual_seed(s).initial_seed() == torch.manual_seed(s).initial_seed()
    s = g.seed()
    assert isinstance(s, int) and s == g.initial_seed()
    assert isinstance(ember.seed(), int)
    assert ember.manual_seed(5) is ember.default_generator
    assert ember.initial_seed() == 5
    same_error(lambda m: m.manual_seed(2**64))
    same_error(lambda m: m.manual_seed(-(2**63) - 1))
    if not ember.cuda.is_available():  # (torch's CPU build refuses a CUDA generator)
        with pytest.raises(RuntimeError, match="cuda"):
            ember.Generator("cuda")


def test_rng_state_round_trip():
    ember.manual_seed(5)
    st = ember.get_rng_state()
    assert st.dtype is ember.uint8 and st.ndim == 1
    a = ember.rand(3, device="cpu")  # (the CPU's generator: a GPU has its own)
    ember.manual_seed(7)
    ember.set_rng_state(st)
    np.testing.assert_array_equal(ember.rand(3, device="cpu").numpy(), a.numpy())
    assert ember.initial_seed() == 5  # as in torch, the state carries the seed
    g = ember.Generator().manual_seed(11)
    gs = g.get_state()
    x = ember.randn(4, generator=g)
    assert g.set_state(gs) is g
    np.testing.assert_array_equal(ember.randn(4, generator=g).numpy(), x.numpy())
    gs.zero_()  # get_state returns a copy
    assert g.get_state().numpy().any()
    assert g.initial_seed() == 11


def test_rng_state_errors():
    same_error(lambda m: m.set_rng_state(m.zeros(3)))
    same_error(lambda m: m.Generator().set_state(m.zeros(3)))
    with pytest.raises(RuntimeError, match="Expected a CPUGeneratorImplState of size 45 but found "
                                           "the input RNG state size to be 3"):
        ember.set_rng_state(ember.zeros(3, dtype=ember.uint8))
    with pytest.raises(RuntimeError, match="Expected a CPUGeneratorImplState of size"):
        torch.set_rng_state(torch.zeros(3, dtype=torch.uint8))


def test_fork_rng():
    ember.manual_seed(1)
    with ember.random.fork_rng():
        ember.rand(10)
    a = ember.rand(3)
    ember.manual_seed(1)
    np.testing.assert_array_equal(ember.rand(3).numpy(), a.numpy())


# -- sampling functions: metadata vs torch ------------------------------------------------------

META = [
    lambda m: m.rand(2, 3), lambda m: m.rand((5, 5), requires_grad=True), lambda m: m.rand(()),
    lambda m: m.rand(size=(2,)), lambda m: m.rand(2, dtype=m.float64),
    lambda m: m.rand(3, dtype=m.float16), lambda m: m.randn(2, 3, dtype=m.float64),
    lambda m: m.randn(size=(0, 2)), lambda m: m.randn([4], requires_grad=True),
    lambda m: m.randint(5, (3,)), lambda m: m.randint(2, 5, (3,)), lambda m: m.randint(5, [2, 2]),
    lambda m: m.randint(low=2, high=5, size=(3,)), lambda m: m.randint(high=5, size=(3,)),
    lambda m: m.randint(5, (3,), dtype=m.float32), lambda m: m.randint(3, ()),
    lambda m: m.randint(0, 256, (3,), dtype=m.uint8), lambda m: m.randint(0, 2, (3,), dtype=m.bool),
    lambda m: m.randint(5, (2,), dtype=m.float32, requires_grad=True),
    lambda m: m.randint(-3, 0, (2,)), lambda m: m.randperm(5), lambda m: m.randperm(0),
    lambda m: m.randperm(5, dtype=m.float32), lambda m: m.randperm(3, dtype=m.float64,
                                                                 requires_grad=True),
    lambda m: m.normal(m.zeros(3), m.ones(3)), lambda m: m.normal(0.0, 1.0, (2, 3)),
    lambda m: m.normal(0, 1, (2,)), lambda m: m.normal(m.zeros(3), 1.0),
    lambda m: m.normal(0.0, m.ones(3)), lambda m: m.normal(m.zeros(3), m.ones(2, 3)),
    lambda m: m.normal(m.zeros(2, 1), m.ones(3)), lambda m: m.normal(m.zeros(()), m.ones(3)),
    lambda m: m.normal(m.zeros(2, dtype=m.float64), 1.0),
    lambda m: m.normal(0.0, m.ones(2, dtype=m.float64)),
    lambda m: m.normal(m.zeros(2), m.ones(2, dtype=m.float64)),
    lambda m: m.normal(m.zeros(2, dtype=m.float64), m.ones(2)),
    lambda m: m.normal(m.zeros(2, dtype=m.float16), 1.0),
    lambda m: m.normal(2.0, 3.0, (2,), dtype=m.float64),
    lambda m: m.normal(2.0, 3.0, (2,), requires_grad=True),
    lambda m: m.normal(m.zeros(2, requires_grad=True), m.ones(2)),
    lambda m: m.normal(m.zeros(2), m.ones(2, requires_grad=True)),
    lambda m: m.normal(m.zeros(2, requires_grad=True), 1.0),
    lambda m: m.normal(0.0, m.ones(2, requires_grad=True)),
    lambda m: m.normal(mean=m.zeros(2), std=m.ones(2)), lambda m: m.normal(m.zeros(0), m.ones(0)),
    lambda m: m.bernoulli(m.full((3,), 0.5)), lambda m: m.bernoulli(m.full((3,), 0.5), 0.3),
    lambda m: m.bernoulli(m.ones(3, dtype=m.float64)),
    lambda m: m.bernoulli(m.full((3,), 0.5, requires_grad=True)),
    lambda m: m.bernoulli(m.full((3,), 0.5, requires_grad=True), 0.3),
    lambda m: m.full((2, 2), 0.5).bernoulli(),
    lambda m: m.multinomial(m.tensor([0.1, 0.2, 0.7]), 2),
    lambda m: m.multinomial(m.tensor([0.1, 0.2, 0.7]), 4, replacement=True),
    lambda m: m.multinomial(m.tensor([[0.1, 0.2, 0.7], [1, 1, 1.0]]), 2),
    lambda m: m.multinomial(m.ones(3, requires_grad=True), 1),
    lambda m: m.multinomial(m.ones(0, 3), 1), lambda m: m.ones(2, 4).multinomial(3, True),
    lambda m: m.rand_like(m.zeros(2, dtype=m.float64)),
    lambda m: m.randn_like(m.zeros(2), requires_grad=True),
    lambda m: m.rand_like(m.zeros(2, 3, requires_grad=True)),
    lambda m: m.randint_like(m.zeros(2), 5), lambda m: m.randint_like(m.zeros(2), 3, 5),
    lambda m: m.randint_like(m.zeros(2), high=5, dtype=m.int64),
    lambda m: m.randint_like(m.zeros(2, 3), low=1, high=5),
    lambda m: m.randint_like(m.zeros(2, requires_grad=True), 5),
    lambda m: m.randint_like(m.zeros(2, dtype=m.int32), 5),
]


@pytest.mark.parametrize("fn", META, ids=range(len(META)))
def test_metadata_like_torch(fn):
    same_meta(fn)


ERRORS = [
    lambda m: m.rand(2, dtype=m.int64), lambda m: m.randn(2, dtype=m.int64),
    lambda m: m.rand_like(m.zeros(2, dtype=m.int64)), lambda m: m.rand(-1),
    lambda m: m.randn(2, -3), lambda m: m.randint(0, (3,)), lambda m: m.randint(5, 2, (3,)),
    lambda m: m.randint(5, (2,), requires_grad=True), lambda m: m.randint(0, 300, (3,),
                                                                          dtype=m.uint8),
    lambda m: m.randint(0, 200, (3,), dtype=m.int8), lambda m: m.randint(-1, 5, (3,),
                                                                         dtype=m.uint8),
    lambda m: m.randint(0, 3, (3,), dtype=m.bool), lambda m: m.randint(-2, 3, (3,), dtype=m.bool),
    lambda m: m.randint(3, (-1,)), lambda m: m.randperm(-1),
    lambda m: m.randperm(5, requires_grad=True), lambda m: m.randint_like(m.zeros(2), 5, 3),
    lambda m: m.normal(0.0, -1.0, (2,)), lambda m: m.normal(m.zeros(2), -m.ones(2)),
    lambda m: m.normal(m.zeros(2), m.tensor([1.0, float("nan")])),
    lambda m: m.normal(m.zeros(2), m.ones(3)), lambda m: m.normal(m.zeros(2, dtype=m.int64),
                                                                  m.ones(2)),
    lambda m: m.normal(m.zeros(2, dtype=m.int64), 1.0), lambda m: m.normal(0.0, 1.0, (2,),
                                                                           dtype=m.int64),
    lambda m: m.bernoulli(m.ones(3, dtype=m.int64)),
    lambda m: m.multinomial(m.tensor([0.1, 0.2, 0.7]), 4),
    lambda m: m.multinomial(m.tensor([0.0, 0, 0]), 1),
    lambda m: m.multinomial(m.tensor([-1.0, 0, 1]), 1),
    lambda m: m.multinomial(m.tensor([float("nan"), 1.0]), 1),
    lambda m: m.multinomial(m.tensor([float("inf"), 1.0]), 1),
    lambda m: m.multinomial(m.tensor([1, 2, 3]), 1), lambda m: m.multinomial(m.tensor(1.0), 1),
    lambda m: m.multinomial(m.ones(2, 2, 2), 1), lambda m: m.multinomial(m.ones(3), 0),
    lambda m: m.multinomial(m.ones(3), -1), lambda m: m.multinomial(m.ones(0), 1),
]


@pytest.mark.parametrize("fn", ERRORS, ids=range(len(ERRORS)))
def test_errors_like_torch(fn):
    same_error(fn)


@pytest.mark.parametrize("fn", [
    lambda m: m.randint(5, 3), lambda m: m.randint(2.5, (3,)), lambda m: m.rand(),
    lambda m: m.normal(0.0, 1.0), lambda m: m.randint(5, (2,), generator=5),
    lambda m: m.normal(m.zeros(2), 1.0, (2,)),
    lambda m: m.bernoulli(m.full((3,), 1.5)),
    lambda m: m.zeros(3).bernoulli_(m.tensor([0.0, 1.0, 1.5])),
    lambda m: m.zeros(3).bernoulli_(m.tensor([0.0, 1.0])),
    lambda m: m.zeros(3).bernoulli_(m.ones(2, 3)),
], ids=range(10))
def test_error_types_like_torch(fn):
    same_error(fn, exact=False)


# -- distributions ------------------------------------------------------------------------------

N = 40000


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_rand_is_uniform_on_unit_interval(dtype):
    x = ember.rand(N, dtype=getattr(ember, dtype)).numpy().astype(np.float64)
    assert x.min() >= 0 and x.max() < 1
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.var() - 1 / 12) < 0.005


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_randn_is_standard_normal(dtype):
    x = ember.randn(N, dtype=getattr(ember, dtype)).numpy()
    assert abs(x.mean()) < 0.03 and abs(x.std() - 1) < 0.03


def test_discrete_samplers():
    x = ember.randint(-3, 4, (N,)).numpy()
    assert set(np.unique(x)) == set(range(-3, 4))
    assert set(np.unique(ember.randint(2, (100,)).numpy())) == {0, 1}
    p = ember.randperm(50).numpy()
    assert sorted(p) == list(range(50))
    f = ember.zeros(1000).random_(2, 5).numpy()
    assert set(np.unique(f)) == {2, 3, 4}
    assert set(np.unique(ember.zeros(1000, dtype=ember.int64).random_(3).numpy())) == {0, 1, 2}
    r = ember.zeros(N).random_().numpy()
    assert r.min() >= 0 and r.max() <= 2**24 and r.max() > 2**23
    b = ember.zeros(100, dtype=ember.bool).random_().numpy()
    assert b.dtype == np.bool_ and 0 < b.sum() < 100
    u8 = ember.zeros(N, dtype=ember.uint8).random_().numpy()
    assert u8.min() == 0 and u8.max() == 255


def test_normal_bernoulli_statistics():
    mean, std = ember.tensor([-5.0, 0.0, 3.0]).reshape(3, 1), ember.tensor([0.5, 1.0, 2.0])
    x = ember.normal(mean.expand(3, N).contiguous(), 2.0).numpy()
    np.testing.assert_allclose(x.mean(1), [-5, 0, 3], atol=0.05)
    np.testing.assert_allclose(x.std(1), [2, 2, 2], atol=0.05)
    y = ember.normal(0.0, std.reshape(3, 1).expand(3, N).contiguous()).numpy()
    np.testing.assert_allclose(y.std(1), [0.5, 1, 2], rtol=0.03)
    z = ember.normal(1.5, 0.5, (N,)).numpy()
    assert abs(z.mean() - 1.5) < 0.02 and abs(z.std() - 0.5) < 0.02
    p = ember.tensor([0.0, 0.2, 0.9, 1.0]).reshape(4, 1).expand(4, N).contiguous()
    np.testing.assert_allclose(ember.bernoulli(p).numpy().mean(1), [0, 0.2, 0.9, 1], atol=0.01)
    assert abs(ember.bernoulli(ember.zeros(N), 0.3).numpy().mean() - 0.3) < 0.01
    assert abs(ember.zeros(N).bernoulli_(0.7).numpy().mean() - 0.7) < 0.01
    q = ember.zeros(4, N).bernoulli_(ember.tensor([0.0, 0.5, 0.25, 1.0]).reshape(4, 1))
    np.testing.assert_allclose(q.numpy().mean(1), [0, 0.5, 0.25, 1], atol=0.01)
    e = ember.zeros(N, dtype=ember.float64).exponential_(4.0).numpy()
    assert e.min() >= 0 and abs(e.mean() - 0.25) < 0.01
    u = ember.zeros(N).uniform_(2, 3).numpy()
    assert u.min() >= 2 and u.max() < 3 and abs(u.mean() - 2.5) < 0.01
    n = ember.zeros(N).normal_(5, 0.1).numpy()
    assert abs(n.mean() - 5) < 0.01 and abs(n.std() - 0.1) < 0.01
    g = ember.zeros(N).geometric_(0.25).numpy()
    assert g.min() >= 1 and abs(g.mean() - 4) < 0.15
    ln = ember.zeros(N, dtype=ember.float64).log_normal_(0.0, 0.5).numpy()
    assert abs(np.log(ln).std() - 0.5) < 0.02
    c = ember.zeros(N).cauchy_(1.0, 2.0).numpy()
    assert abs(np.median(c) - 1.0) < 0.1


def test_multinomial_statistics():
    probs = ember.tensor([[0.0, 1.0, 3.0], [2.0, 2.0, 0.0]])
    s = ember.multinomial(probs, N, replacement=True).numpy()
    np.testing.assert_allclose((s[0] == 2).mean(), 0.75, atol=0.01)
    np.testing.assert_allclose((s[1] == 0).mean(), 0.5, atol=0.01)
    assert not (s[0] == 0).any() and not (s[1] == 2).any()
    # without replacement: distinct categories, zero-probability ones only once the rest run out
    for _ in range(20):
        w = ember.multinomial(ember.tensor([0.5, 0.0, 2.0, 1.0]), 3).numpy()
        assert len(set(w)) == 3 and 1 not in w
        assert len(set(ember.multinomial(ember.tensor([0.0, 1, 0]), 3).numpy())) == 3
    first = [ember.multinomial(ember.tensor([1.0, 3.0]), 1).item() for _ in range(2000)]
    assert abs(np.mean(first) - 0.75) < 0.04


# -- in-place samplers --------------------------------------------------------------------------

INPLACE = ["uniform_()", "normal_()", "bernoulli_(0.5)", "bernoulli_()", "exponential_()",
           "cauchy_()", "log_normal_()", "geometric_(0.5)", "random_(5)", "random_()",
           "random_(2, 5)"]


@pytest.mark.parametrize("call", INPLACE)
def test_inplace_sampler_autograd_like_torch(call):
    def run(m, how):
        x = m.ones(4, requires_grad=True)
        if how == "leaf":
            eval("x." + call)
        elif how == "view":
            eval("x[:2]." + call)
        elif how == "no_grad":
            with m.no_grad():
                v = x._version
                out = eval("x." + call)
            assert out is x and x._version == v + 1 and x.is_leaf and x.requires_grad
            return x
        else:
            y = x * 2
            out = eval("y." + call)
            assert out is y
            return y, m.autograd.grad(y.sum(), x)[0]
    same_error(lambda m: run(m, "leaf"))
    same_error(lambda m: run(m, "view"))
    run(ember, "no_grad")
    (ey, eg), (ty, tg) = run(ember, "graph"), run(torch, "graph")
    assert _name(ey) == _name(ty)
    np.testing.assert_array_equal(eg.numpy(), tg.numpy())


def test_inplace_sampler_on_views_and_tensor_p():
    for m in (ember, torch):
        x = m.ones(4, requires_grad=True)
        y = x * 2
        y[:2].uniform_()
        assert _name(y) == "CopySlices"
        (g,) = m.autograd.grad(y.sum(), x)
        assert g.tolist() == [0, 0, 2, 2]
        base = m.zeros(4)
        base[:2].normal_()
        assert base[2:].tolist() == [0, 0] and base._version == 1
    q_e = ember.full((4,), 0.5, requires_grad=True)
    y = ember.ones(4, requires_grad=True) * 2
    y.bernoulli_(q_e)
    assert _name(y) == "BernoulliBackward1"
    assert ember.autograd.grad(y.sum(), q_e)[0].tolist() == [0, 0, 0, 0]


def test_normal_and_bernoulli_gradients_are_zero_like_torch():
    for m in (ember, torch):
        mu, sd = m.zeros(2, 1, requires_grad=True), m.ones(3, requires_grad=True)
        gm, gs = m.autograd.grad(m.normal(mu, sd).sum(), [mu, sd])
        assert gm.shape == (2, 1) and gs.shape == (3,) and not gm.any() and not gs.any()
        p = m.full((3,), 0.3, requires_grad=True)
        assert not m.autograd.grad(m.bernoulli(p).sum(), p)[0].any()
        with pytest.raises(RuntimeError, match="derivative for aten::bernoulli is not implemented"):
            m.bernoulli(p, 0.3).sum().backward()


INPLACE_ERRORS = [
    lambda m: m.zeros(3).uniform_(3, 2), lambda m: m.zeros(3).uniform_(0, float("inf")),
    lambda m: m.zeros(3).uniform_(-1e308, 1e308), lambda m: m.zeros(3).normal_(0, -1),
    lambda m: m.zeros(3).bernoulli_(1.5), lambda m: m.zeros(3).exponential_(-1),
    lambda m: m.zeros(3).exponential_(0), lambda m: m.zeros(3).cauchy_(0, -1),
    lambda m: m.zeros(3).log_normal_(0, -1), lambda m: m.zeros(3).geometric_(0),
    lambda m: m.zeros(3).geometric_(1.5), lambda m: m.zeros(3, dtype=m.int64).uniform_(),
    lambda m: m.zeros(3, dtype=m.int64).normal_(),
    lambda m: m.zeros(3, dtype=m.int64).exponential_(),
    lambda m: m.zeros(3, dtype=m.int64).cauchy_(),
    lambda m: m.zeros(3, dtype=m.int64).log_normal_(),
    lambda m: m.zeros(3).bernoulli_(m.tensor([1, 0, 1])),
    lambda m: m.zeros(3, dtype=m.int8).random_(0, 200),
    lambda m: m.zeros(3, dtype=m.uint8).random_(-1, 5),
    lambda m: m.zeros(3, dtype=m.int32).random_(0, 2**31 + 1),
    lambda m: m.zeros(3, dtype=m.bool).random_(0, 3), lambda m: m.zeros(3).random_(-5),
    lambda m: m.zeros(3).random_(0), lambda m: m.zeros(3).random_(5, 2),
]


@pytest.mark.parametrize("fn", INPLACE_ERRORS, ids=range(len(INPLACE_ERRORS)))
def test_inplace_sampler_errors(fn):
    same_error(fn)


def test_inplace_sampler_dtypes():
    for fn in (lambda m: m.zeros(3, dtype=m.int64).bernoulli_(0.5),
               lambda m: m.zeros(3, dtype=m.bool).bernoulli_(0.5),
               lambda m: m.zeros(3, dtype=m.int64).geometric_(0.5),
               lambda m: m.zeros(3, dtype=m.uint8).random_(),
               lambda m: m.zeros(3, dtype=m.int64).random_(5, None),
               lambda m: m.zeros(2, 3).bernoulli_(m.tensor([1.0, 0, 1])),
               lambda m: m.zeros(3, dtype=m.int64).bernoulli_(m.tensor([0.0, 1.0, 1.0])),
               lambda m: m.zeros(3).bernoulli_(m.tensor(0.7)),
               lambda m: m.zeros(3, dtype=m.float64).uniform_(-1, 1),
               lambda m: m.zeros(3, dtype=m.float16).normal_(),
               lambda m: m.zeros(3).random_(to=3)):
        same_meta(fn)
    with pytest.warns(UserWarning, match=r"to - 1 is out of bounds \[-\(2\^24\), 2\^24\]"):
        ember.zeros(3).random_(0, 2**25)
    assert ember.zeros(3).uniform_(2, 2).tolist() == [2, 2, 2]
    assert ember.zeros(3).normal_(1, 0).tolist() == [1, 1, 1]
