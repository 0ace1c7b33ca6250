"""ember.autograd.functional against torch.autograd.functional (values and return structure),
closed forms, and torch's errors."""
import numpy as np
import pytest

import ember
from ember.autograd import functional as EF
from helpers import torch_or_skip

# functions of several inputs with tensor or tuple outputs, written for either module
FUNCS = {
    "square": ([(3,)], lambda m, x: x ** 2),
    "matvec": ([(2, 3), (3,)], lambda m, A, x: m.matmul(A, x)),
    "two_outputs": ([(3,), (2,)], lambda m, a, b: (a * b.sum(), (a ** 3).sum() * b)),
    "matrix": ([(2, 2)], lambda m, X: m.matmul(X, X)),
    "log": ([(4,)], lambda m, x: m.log(x * x + 1)),
    "scalar_out": ([(2, 3)], lambda m, X: (X * X).sum()),
    "0d_input": ([()], lambda m, x: x ** 3),
    "unused_input": ([(3,), (2,)], lambda m, a, b: a * 2),
}
SCALAR_FUNCS = {
    "cube": ([(3,)], lambda m, x: (x ** 3).sum()),
    "quadratic_form": ([(3, 3), (3,)], lambda m, A, x: (x * m.matmul(A, x)).sum()),
    "product": ([(2,), (2, 2)], lambda m, a, b: (a ** 2).sum() * (b ** 3).sum()),
    "0d": ([()], lambda m, x: x ** 4),
    "linear": ([(3,)], lambda m, x: (x * 3).sum()),
}


def _inputs(rng, shapes):
    return [rng.standard_normal(s) for s in shapes]


def _wrap(m, arrays, as_tuple):
    ts = tuple(m.tensor(a) for a in arrays)
    return ts if as_tuple or len(ts) > 1 else ts[0]


def _same(e, t, torch):
    """Same nesting of tuples/lists and tensors, same values, dtypes and requires_grad."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), type(e)
        assert tuple(e.shape) == tuple(t.shape)
        assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
        assert e.requires_grad == t.requires_grad
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        return
    assert type(e) is type(t) and type(t) in (tuple, list), (type(e), type(t))
    assert len(e) == len(t)
    for x, y in zip(e, t):
        _same(x, y, torch)


def _both(name, fn, *args, **kw):
    """Runs the same functional call in ember and torch; returns both results."""
    torch = torch_or_skip()
    return (getattr(EF, name)(*args[0], **kw), getattr(torch.autograd.functional, name)(*args[1],
                                                                                        **kw))


@pytest.mark.parametrize("key", FUNCS)
@pytest.mark.parametrize("as_tuple", [False, True])
@pytest.mark.parametrize("kw", [{}, {"create_graph": True}, {"vectorize": True},
                                {"vectorize": True, "strategy": "forward-mode"}])
def test_jacobian(key, as_tuple, kw, rng):
    torch = torch_or_skip()
    shapes, fn = FUNCS[key]
    arrays = _inputs(rng, shapes)
    e = EF.jacobian(lambda *a: fn(ember, *a), _wrap(ember, arrays, as_tuple), **kw)
    t = torch.autograd.functional.jacobian(lambda *a: fn(torch, *a), _wrap(torch, arrays,
                                                                            as_tuple), **kw)
    _same(e, t, torch)


@pytest.mark.parametrize("key", FUNCS)
@pytest.mark.parametrize("create_graph", [False, True])
def test_vjp_and_jvp(key, create_graph, rng):
    torch = torch_or_skip()
    shapes, fn = FUNCS[key]
    arrays = _inputs(rng, shapes)
    with torch.no_grad():
        outs = fn(torch, *[torch.tensor(a) for a in arrays])
    out_shapes = [tuple(o.shape) for o in (outs if isinstance(outs, tuple) else (outs,))]
    v_out = [rng.standard_normal(s) for s in out_shapes]
    v_in = [rng.standard_normal(s) for s in shapes]
    for name, v in (("vjp", v_out), ("jvp", v_in)):
        structure = isinstance(outs, tuple) if name == "vjp" else len(shapes) > 1
        res = []
        for m in (ember, torch):
            f = getattr(m.autograd.functional, name)
            res.append(f(lambda *a: fn(m, *a), _wrap(m, arrays, False), _wrap(m, v, structure),
                         create_graph=create_graph))
        _same(res[0], res[1], torch)


@pytest.mark.parametrize("key", SCALAR_FUNCS)
@pytest.mark.parametrize("as_tuple", [False, True])
@pytest.mark.parametrize("create_graph", [False, True])
def test_hessian_hvp_vhp(key, as_tuple, create_graph, rng):
    torch = torch_or_skip()
    shapes, fn = SCALAR_FUNCS[key]
    arrays = _inputs(rng, shapes)
    v = [rng.standard_normal(s) for s in shapes]
    for name in ("hessian", "hvp", "vhp"):
        res = []
        for m in (ember, torch):
            f = getattr(m.autograd.functional, name)
            args = (lambda *a: fn(m, *a), _wrap(m, arrays, as_tuple))
            if name != "hessian":
                args += (_wrap(m, v, as_tuple),)
            res.append(f(*args, create_graph=create_graph))
        _same(res[0], res[1], torch)


@pytest.mark.parametrize("kw", [{"vectorize": True}, {"outer_jacobian_strategy": "forward-mode",
                                                       "vectorize": True}])
def test_hessian_options(kw, rng):
    torch = torch_or_skip()
    shapes, fn = SCALAR_FUNCS["product"]
    arrays = _inputs(rng, shapes)
    e = EF.hessian(lambda *a: fn(ember, *a), _wrap(ember, arrays, True), **kw)
    t = torch.autograd.functional.hessian(lambda *a: fn(torch, *a), _wrap(torch, arrays, True),
                                          **kw)
    _same(e, t, torch)


def test_closed_forms(rng):
    x = rng.standard_normal(4)
    h = EF.hessian(lambda a: (a ** 3).sum(), ember.tensor(x))
    np.testing.assert_allclose(h.numpy(), np.diag(6 * x), rtol=1e-12)
    A = rng.standard_normal((3, 4))
    j = EF.jacobian(lambda v: ember.matmul(ember.tensor(A), v), ember.tensor(x))
    np.testing.assert_allclose(j.numpy(), A, rtol=1e-12)
    S = rng.standard_normal((4, 4))
    v = rng.standard_normal(4)
    quad = lambda y: (y * ember.matmul(ember.tensor(S), y)).sum()  # noqa: E731
    _, hv = EF.hvp(quad, ember.tensor(x), ember.tensor(v))
    np.testing.assert_allclose(hv.numpy(), (S + S.T) @ v, rtol=1e-12)
    _, vh = EF.vhp(quad, ember.tensor(x), ember.tensor(v))
    np.testing.assert_allclose(vh.numpy(), v @ (S + S.T), rtol=1e-12)
    out, jv = EF.jvp(lambda y: y ** 2, ember.tensor(x), ember.tensor(v))
    np.testing.assert_allclose(jv.numpy(), 2 * x * v, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), x ** 2, rtol=1e-12)
    assert not out.requires_grad and not jv.requires_grad


def test_create_graph_results_are_differentiable(rng):
    torch = torch_or_skip()
    x = rng.standard_normal(3)
    res = []
    for m in (ember, torch):
        t = m.tensor(x, requires_grad=True)
        jac = m.autograd.functional.jacobian(lambda a: a ** 3, t, create_graph=True)
        _, vj = m.autograd.functional.vjp(lambda a: (a ** 2).sum(), t, create_graph=True)
        (g,) = m.autograd.grad((jac * jac).sum() + (vj ** 3).sum(), t)
        res.append(g.numpy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-10)


def test_inputs_are_not_modified(rng):
    x = ember.tensor(rng.standard_normal(3), requires_grad=True)
    EF.jacobian(lambda a: a * 2, x)
    EF.hvp(lambda a: (a ** 3).sum(), x, ember.ones(3, dtype=ember.float64))
    assert x.grad is None and x.is_leaf and x.requires_grad


ERRORS = [
    (TypeError, "vjp", lambda m: (lambda a: a * 2, 3), {},
     "The inputs given to vjp must be either a Tensor or a tuple of Tensors but the given inputs "
     "has type <class 'int'>."),
    (TypeError, "vjp", lambda m: (lambda a: 3, m.ones(3)), {},
     "The outputs of the user-provided function given to vjp must be either a Tensor or a tuple "
     "of Tensors but the given outputs of the user-provided function has type <class 'int'>."),
    (TypeError, "jacobian", lambda m: (lambda a, b: a, [m.ones(3), m.ones(2)]), {},
     "The inputs given to jacobian must be either a Tensor or a tuple of Tensors but the given "
     "inputs has type <class 'list'>."),
    (TypeError, "jacobian", lambda m: (lambda a, b: a, (m.ones(3), 2)), {},
     "The inputs given to jacobian must be either a Tensor or a tuple of Tensors but the value at "
     "index 1 has type <class 'int'>."),
    (RuntimeError, "vjp", lambda m: (lambda a: a * 2, m.ones(3)), {},
     "The vector v can only be None if the user-provided function returns a single Tensor with a "
     "single element."),
    (RuntimeError, "vjp", lambda m: (lambda a: a * 2, m.ones(3), m.ones(4)), {},
     "v has invalid size: should be {mod}.Size([3]) but got {mod}.Size([4])."),
    (RuntimeError, "vjp", lambda m: (lambda a: (a, a), m.ones(3), m.ones(3)), {},
     "v is a tuple of invalid length: should be 2 but got 1."),
    (RuntimeError, "vjp", lambda m: (lambda a: (a, a), m.ones(3), (m.ones(3), m.ones(2))), {},
     "Entry 1 in v has invalid size: should be {mod}.Size([3]) but got {mod}.Size([2])."),
    (RuntimeError, "vjp", lambda m: (lambda a: a, m.ones(3), (m.ones(3), m.ones(2))), {},
     "The given v should contain a single Tensor."),
    (RuntimeError, "vjp", lambda m: (lambda a: m.ones(3), m.ones(3), m.ones(3)), {"strict": True},
     "Output 0 of the user-provided function does not require gradients. The outputs must be "
     "computed in a differentiable manner from the input when running in strict mode."),
    (RuntimeError, "vjp", lambda m: (lambda a, b: a * 2, (m.ones(3), m.ones(2)), m.ones(3)),
     {"strict": True}, "The output of the user-provided function is independent of input 1. "
                       "This is not allowed in strict mode."),
    (RuntimeError, "jvp", lambda m: (lambda a: a * 2, m.ones(3)), {},
     "The vector v can only be None if the input to the user-provided function is a single "
     "Tensor with a single element."),
    (RuntimeError, "jvp", lambda m: (lambda a, b: a * 2, (m.ones(3), m.ones(2)),
                                     (m.ones(3), m.ones(2))), {"strict": True},
     "The output of the user-provided function is independent of input 1. This is not allowed "
     "in strict mode."),
    (AssertionError, "jacobian", lambda m: (lambda a: a, m.ones(3)), {"strategy": "foo"},
     'Expected strategy to be either "forward-mode" or "reverse-mode". Hint:'),
    (NotImplementedError, "jacobian", lambda m: (lambda a: a, m.ones(3)),
     {"strategy": "forward-mode"}, "Computing Jacobian using forward-AD or forward-over-reverse "
                                   "Hessian isonly implemented for `vectorize=True`."),
    (NotImplementedError, "jacobian", lambda m: (lambda a: a, m.ones(3)),
     {"strategy": "forward-mode", "vectorize": True, "create_graph": True},
     '`create_graph=True` and `strategy="forward-mode"` are not supported together (yet).'),
    (RuntimeError, "jacobian", lambda m: (lambda a: a, m.ones(3)),
     {"strategy": "forward-mode", "vectorize": True, "strict": True},
     '`strict=True` and `strategy="forward-mode"` are not supported together (yet).'),
    (RuntimeError, "jacobian", lambda m: (lambda a: a * 2, m.ones(3)),
     {"vectorize": True, "strict": True},
     "`strict=True` and `vectorized=True` are not supported together. Please either set "
     "`strict=False` or `vectorize=False`."),
    (RuntimeError, "jacobian", lambda m: (lambda a, b: a * 2, (m.ones(3), m.ones(2))),
     {"strict": True}, "Output 0 of the user-provided function is independent of input 1. This "
                       "is not allowed in strict mode."),
    (RuntimeError, "jacobian", lambda m: (lambda a: a * 2, m.ones(3)),
     {"strict": True, "create_graph": True},
     "The jacobian of the user-provided function is independent of input 0. This is not allowed "
     "in strict mode when create_graph=True."),
    (RuntimeError, "hessian", lambda m: (lambda a: a * 2, m.ones(3)), {},
     "The Tensor returned by the function given to hessian should contain a single element"),
    (RuntimeError, "hessian", lambda m: (lambda a: (a.sum(), a.sum()), m.ones(3)), {},
     "The function given to hessian should return a single Tensor"),
    (RuntimeError, "hessian", lambda m: (lambda a: (a * 2).sum(), m.ones(3)), {"strict": True},
     "While computing the hessian, found that the jacobian of the user-provided function with "
     "respect to input 0 is independent of the input."),
    (AssertionError, "hessian", lambda m: (lambda a: a.sum(), m.ones(3)),
     {"outer_jacobian_strategy": "foo"},
     'Expected strategy to be either "forward-mode" or "reverse-mode".'),
    (RuntimeError, "hvp", lambda m: (lambda a: a ** 3, m.ones(3), m.ones(3)), {},
     "The Tensor returned by the function given to hvp should contain a single element"),
    (RuntimeError, "vhp", lambda m: (lambda a: ((a ** 3).sum(),), m.ones(3), m.ones(3)), {},
     "The function given to vhp should return a single Tensor"),
    (RuntimeError, "vhp", lambda m: (lambda a: (a ** 3).sum(), m.ones(3), m.ones(2)), {},
     "v has invalid size: should be {mod}.Size([3]) but got {mod}.Size([2])."),
    (RuntimeError, "hvp", lambda m: (lambda a: (a * 3).sum(), m.ones(3), m.ones(3)),
     {"strict": True}, "While computing the hessian, found that the jacobian"),
    (RuntimeError, "vhp", lambda m: (lambda a, b: (a ** 3).sum() * 0, (m.ones(3), m.ones(2)),
                                     (m.ones(3), m.ones(2))), {"strict": True},
     "The output of the user-provided function is independent of input 1."),
]


@pytest.mark.parametrize("exc,name,args,kw,msg", ERRORS)
def test_errors(exc, name, args, kw, msg):
    torch = torch_or_skip()
    for m, mod in ((ember, "ember"), (torch, "torch")):
        with pytest.raises(exc) as info:
            getattr(m.autograd.functional, name)(*args(m), **kw)
        assert msg.format(mod=mod) in str(info.value)


def test_non_strict_zeros_for_independent_inputs():
    torch = torch_or_skip()
    for name, args in (("hvp", (lambda a: (a * 3).sum(),)), ("vhp", (lambda a: (a * 3).sum(),))):
        e = getattr(EF, name)(*args, ember.ones(3), ember.ones(3))
        t = getattr(torch.autograd.functional, name)(*args, torch.ones(3), torch.ones(3))
        _same(e, t, torch)
    e = EF.jvp(lambda a: a * 0 + ember.ones(3), ember.ones(3), ember.ones(3), strict=False)
    t = torch.autograd.functional.jvp(lambda a: a * 0 + torch.ones(3), torch.ones(3),
                                      torch.ones(3))
    _same(e, t, torch)
