"""Mixed precision on CUDA, as torch 2.13 does it with a GPU: autocast("cuda")'s lists, its state
and cache, and GradScaler("cuda") with the scale on the device. Run on the fake CUDA device
(tests/device/fakecupy.py, strict about host data), so they need no GPU.

torch's CPU build cannot run CUDA autocast, so the oracle for dtypes is torch's documented CUDA
lists (aten/src/ATen/autocast_mode.h of torch 2.13: lower precision, float32, float32 unless
``dtype=`` is passed, widest input type, banned) plus torch's CPU autocast where the CPU and CUDA
lists coincide; values are checked against the same float32 math. The scaler's arithmetic is the
same on every device in torch, so torch's CPU scaler is the oracle for its trace."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import grad_scaler_trace, torch_or_skip

import ember

torch = torch_or_skip()
F = ember.nn.functional


@pytest.fixture
def cuda(fake_cuda):
    """The fake CUDA device for one test (tests/conftest.py's ``fake_cuda``)."""
    return fake_cuda


def _dtypes():
    out = [("float16", ember.float16, torch.float16)]
    if hasattr(ember, "bfloat16"):
        out.append(("bfloat16", ember.bfloat16, torch.bfloat16))
    return out


def _host(t):
    return t.detach().float().cpu().numpy()


def _data():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4)).astype(np.float32) + 4 * np.eye(4, dtype=np.float32)
    return a, np.abs(a) / 10 + 0.1


def _make(mod, dev):
    a, b = _data()
    kw = {"device": dev} if mod is ember else {}
    return mod.tensor(a, **kw), mod.tensor(b, **kw), mod.tensor([0, 1, 2, 3], **kw)


def _w(m, x):  # a second float32 operand, whatever the inputs' dtype (promote's float32 side)
    return x.float() * 0.5 + 0.25


# name -> (category, f(mod, F, x, y, t)): torch's CUDA lists
LOWER, FP32, FP32_OPT, PROMOTE, AS_WRITTEN = "lower", "fp32", "fp32_opt", "promote", "as_written"
OPS = {
    # lower_precision_fp
    "matmul": (LOWER, lambda m, F, x, y, t: m.matmul(x, y)),
    "@": (LOWER, lambda m, F, x, y, t: x @ y),
    "mm": (LOWER, lambda m, F, x, y, t: m.mm(x, y)),
    "Tensor.mm": (LOWER, lambda m, F, x, y, t: x.mm(y)),
    "mv": (LOWER, lambda m, F, x, y, t: m.mv(x, y[0])),
    "bmm": (LOWER, lambda m, F, x, y, t: m.bmm(x[None], y[None])),
    "addmm": (LOWER, lambda m, F, x, y, t: m.addmm(x, x, y)),
    "addmv": (LOWER, lambda m, F, x, y, t: m.addmv(x[0], x, y[0])),
    "addr": (LOWER, lambda m, F, x, y, t: m.addr(x, x[0], y[0])),
    "addbmm": (LOWER, lambda m, F, x, y, t: m.addbmm(x, x[None], y[None])),
    "baddbmm": (LOWER, lambda m, F, x, y, t: m.baddbmm(x[None], x[None], y[None])),
    "einsum": (LOWER, lambda m, F, x, y, t: m.einsum("ij,jk->ik", x, y)),
    "chain_matmul": (LOWER, lambda m, F, x, y, t: m.linalg.multi_dot([x, y, x])),
    "vecdot": (LOWER, lambda m, F, x, y, t: m.linalg.vecdot(x, y)),
    "linear": (LOWER, lambda m, F, x, y, t: F.linear(x, y, x[0])),
    "nn.Linear": (LOWER, lambda m, F, x, y, t: _linear(m, x)(x)),
    "conv1d": (LOWER, lambda m, F, x, y, t: F.conv1d(x[None], y[:, None, :3].repeat(1, 4, 1))),
    "conv2d": (LOWER, lambda m, F, x, y, t: F.conv2d(x[None, None], y[None, None, :3, :3])),
    "conv_transpose2d": (LOWER, lambda m, F, x, y, t: F.conv_transpose2d(
        x[None, None], y[None, None, :2, :2])),
    "prelu": (LOWER, lambda m, F, x, y, t: F.prelu(x, y[0, :1])),
    "sdpa": (LOWER, lambda m, F, x, y, t: F.scaled_dot_product_attention(x[None], y[None],
                                                                        x[None])),
    # fp32
    "exp": (FP32, lambda m, F, x, y, t: x.exp()),
    "log": (FP32, lambda m, F, x, y, t: m.log(y)),
    "log1p": (FP32, lambda m, F, x, y, t: y.log1p()),
    "expm1": (FP32, lambda m, F, x, y, t: m.expm1(x)),
    "asin": (FP32, lambda m, F, x, y, t: m.asin(y)),
    "cosh": (FP32, lambda m, F, x, y, t: x.cosh()),
    "reciprocal": (FP32, lambda m, F, x, y, t: y.reciprocal()),
    "rsqrt": (FP32, lambda m, F, x, y, t: y.rsqrt()),
    "pow": (FP32, lambda m, F, x, y, t: m.pow(x, 2)),
    "**": (FP32, lambda m, F, x, y, t: x ** 2),
    "rpow": (FP32, lambda m, F, x, y, t: 2 ** x),
    "rtruediv": (FP32, lambda m, F, x, y, t: 1 / y),
    "softplus": (FP32, lambda m, F, x, y, t: F.softplus(x)),
    "layer_norm": (FP32, lambda m, F, x, y, t: F.layer_norm(x, (4,))),
    "group_norm": (FP32, lambda m, F, x, y, t: F.group_norm(x[None], 2)),
    "cosine_similarity": (FP32, lambda m, F, x, y, t: F.cosine_similarity(x, y)),
    "normalize": (FP32, lambda m, F, x, y, t: F.normalize(x)),
    "logsumexp": (FP32, lambda m, F, x, y, t: x.logsumexp(1)),
    "cdist": (FP32, lambda m, F, x, y, t: m.cdist(x, y)),
    "dist": (FP32, lambda m, F, x, y, t: m.dist(x, y)),
    "mse_loss": (FP32, lambda m, F, x, y, t: F.mse_loss(x, y)),
    "l1_loss": (FP32, lambda m, F, x, y, t: F.l1_loss(x, y)),
    "smooth_l1_loss": (FP32, lambda m, F, x, y, t: F.smooth_l1_loss(x, y)),
    "huber_loss": (FP32, lambda m, F, x, y, t: F.huber_loss(x, y)),
    "nll_loss": (FP32, lambda m, F, x, y, t: F.nll_loss(x, t)),
    "cross_entropy": (FP32, lambda m, F, x, y, t: F.cross_entropy(x, t)),
    "nn.MSELoss": (FP32, lambda m, F, x, y, t: m.nn.MSELoss()(x, y)),
    "kl_div": (FP32, lambda m, F, x, y, t: F.kl_div(x, y, reduction="batchmean")),
    "bce_with_logits": (FP32, lambda m, F, x, y, t: F.binary_cross_entropy_with_logits(x, y)),
    "interpolate": (FP32, lambda m, F, x, y, t: F.interpolate(x[None, None], scale_factor=2,
                                                              mode="bilinear")),
    "norm": (FP32, lambda m, F, x, y, t: x.norm()),
    "interpolate_nearest": (FP32, lambda m, F, x, y, t: F.interpolate(x[None, None],
                                                                      scale_factor=2)),
    # fp32_set_opt_dtype: float32 unless dtype= is given
    "sum": (FP32_OPT, lambda m, F, x, y, t: x.sum()),
    "sum_dim": (FP32_OPT, lambda m, F, x, y, t: m.sum(x, 0)),
    "prod": (FP32_OPT, lambda m, F, x, y, t: m.prod(y)),
    "softmax": (FP32_OPT, lambda m, F, x, y, t: m.softmax(x, 0)),
    "F.softmax": (FP32_OPT, lambda m, F, x, y, t: F.softmax(x, dim=1)),
    "log_softmax": (FP32_OPT, lambda m, F, x, y, t: F.log_softmax(x, 1)),
    "cumsum": (FP32_OPT, lambda m, F, x, y, t: x.cumsum(0)),
    "vector_norm": (FP32_OPT, lambda m, F, x, y, t: m.linalg.vector_norm(x)),
    # promote: float32 wins over the lower dtype
    "addcmul": (PROMOTE, lambda m, F, x, y, t: m.addcmul(x, _w(m, x), y)),
    "addcdiv": (PROMOTE, lambda m, F, x, y, t: m.addcdiv(x, y, _w(m, y))),
    "atan2": (PROMOTE, lambda m, F, x, y, t: m.atan2(x, _w(m, y))),
    "dot": (PROMOTE, lambda m, F, x, y, t: m.dot(x[0], _w(m, y[0]))),
    "tensordot": (PROMOTE, lambda m, F, x, y, t: m.tensordot(x, _w(m, y), dims=1)),
    "cross": (PROMOTE, lambda m, F, x, y, t: m.cross(x[:3, :3], _w(m, y[:3, :3]), dim=1)),
    "scatter_add": (PROMOTE, lambda m, F, x, y, t: m.scatter_add(x, 0, t[None].repeat(4, 1),
                                                                 _w(m, y))),
    "index_put": (PROMOTE, lambda m, F, x, y, t: x.index_put((t,), _w(m, y))),
    # everything else runs as written
    "add": (AS_WRITTEN, lambda m, F, x, y, t: x + y),
    "relu": (AS_WRITTEN, lambda m, F, x, y, t: F.relu(x)),
    "gelu": (AS_WRITTEN, lambda m, F, x, y, t: F.gelu(x)),
    "sigmoid": (AS_WRITTEN, lambda m, F, x, y, t: x.sigmoid()),
    "tanh": (AS_WRITTEN, lambda m, F, x, y, t: m.tanh(x)),
    "mean": (AS_WRITTEN, lambda m, F, x, y, t: x.mean()),
    "max_pool2d": (AS_WRITTEN, lambda m, F, x, y, t: F.max_pool2d(x[None, None], 2)),
    "sin": (AS_WRITTEN, lambda m, F, x, y, t: x.sin()),
    "interpolate_area": (AS_WRITTEN, lambda m, F, x, y, t: F.interpolate(x[None, None], size=2,
                                                                         mode="area")),
    "cat": (AS_WRITTEN, lambda m, F, x, y, t: m.cat([x, y])),
    "stack": (AS_WRITTEN, lambda m, F, x, y, t: m.stack([x, y])),
    "sum_dtype": (AS_WRITTEN, lambda m, F, x, y, t: x.sum(dtype=x.dtype)),
    "mm_float64": (AS_WRITTEN, lambda m, F, x, y, t: m.mm(x.double(), y.double())),
}
# ops listed alike for the CPU and CUDA (torch's CPU autocast gives the same dtype): checked
# against torch's CPU autocast too
SAME_ON_CPU = {"matmul", "@", "mm", "Tensor.mm", "bmm", "addmm", "addbmm", "baddbmm", "einsum",
               "linear", "nn.Linear", "conv1d", "conv2d", "conv_transpose2d", "prelu", "sdpa",
               "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
               "nn.MSELoss", "kl_div", "bce_with_logits", "cdist", "prod", "add", "relu", "gelu",
               "sigmoid", "tanh", "mean", "max_pool2d", "sin", "mm_float64"}
# ember's own bfloat16 ops that return float32 where torch returns bfloat16 (issue 13's bfloat16
# part, as in tests/test_amp.py): strict, so each entry fails loudly once fixed
BF16_UPCAST = {"einsum"}
# ember ops without a bfloat16 kernel (not autocast's doing): for bfloat16 inputs
BF16_MISSING = {"interpolate_area": "ember's adaptive_avg_pool2d has no bfloat16 kernel"}


def _linear(m, x):
    layer = m.nn.Linear(4, 3)
    with m.no_grad():
        layer.weight.copy_(m.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)))
        layer.bias.copy_(m.tensor([0.1, -0.2, 0.3]))
    return layer.to(x.device)


def _expected(category, low, input_dtype):
    if category == LOWER:
        return low
    if category in (FP32, FP32_OPT):
        return ember.float32
    # promote (one operand float32) gives float32; as written keeps the input dtype
    return ember.float32 if category == PROMOTE else input_dtype


def _cases():
    for input_kind in ("float32", "low"):
        for label, e_dt, t_dt in _dtypes():
            for name, (category, _) in OPS.items():
                marks = ()
                if label == "bfloat16" and name in BF16_UPCAST and category == LOWER:
                    marks = pytest.mark.xfail(strict=True, reason=(
                        f"ember's {name} returns float32 for bfloat16 inputs (torch: bfloat16)"))
                elif label == "bfloat16" and input_kind == "low" and name in BF16_MISSING:
                    marks = pytest.mark.xfail(strict=True, raises=NotImplementedError,
                                              reason=BF16_MISSING[name])
                yield pytest.param(name, e_dt, t_dt, input_kind, marks=marks,
                                   id=f"{input_kind}-{label}-{name}")


@pytest.mark.parametrize("name,e_dt,t_dt,input_kind", list(_cases()))
def test_cuda_autocast_casts_what_torchs_cuda_lists_say(cuda, name, e_dt, t_dt, input_kind):
    category, fn = OPS[name]
    x, y, t = _make(ember, "cuda")
    if input_kind == "low":
        x, y = x.to(e_dt), y.to(e_dt)
    with ember.autocast("cuda", dtype=e_dt):
        out = fn(ember, F, x, y, t)
    assert out.device.type == "cuda", name
    expected = (x.double().dtype if name == "mm_float64"
                else ember.int64 if name == "sum_dtype" and x.dtype is ember.int64
                else _expected(category, e_dt, x.dtype))
    assert out.dtype == expected, (name, out.dtype, expected)
    # the values: the same op in float32 without autocast (on the device)
    ref = fn(ember, F, x.float(), y.float(), t)
    tol = 1e-5 if out.dtype in (ember.float32, ember.float64) and input_kind == "float32" \
        else 5e-2
    np.testing.assert_allclose(_host(out), _host(ref),
                               rtol=tol, atol=tol)
    if name in SAME_ON_CPU and name != "mm_float64":
        tx, ty, tt = _make(torch, None)
        if input_kind == "low":
            tx, ty = tx.to(t_dt), ty.to(t_dt)
        with torch.autocast("cpu", dtype=t_dt):
            t_out = fn(torch, torch.nn.functional, tx, ty, tt)
        assert str(out.dtype).replace("ember.", "") == str(t_out.dtype).replace("torch.", "")
        np.testing.assert_allclose(_host(out), t_out.float().detach().numpy(),
                                   rtol=5e-2, atol=5e-2)


def test_explicit_dtype_and_ineligible_first_arg_run_as_written(cuda):
    x = ember.ones(3, 3, device="cuda", dtype=ember.float16)
    with ember.autocast("cuda"):
        assert x.sum(dtype=ember.float16).dtype == ember.float16  # dtype= is respected
        assert F.softmax(x, 0, dtype=ember.float16).dtype == ember.float16
        assert x.sum().dtype == ember.float32
        i = ember.arange(4, device="cuda")
        assert i.sum().dtype == ember.int64 and i.cumsum(0).dtype == ember.int64
        d = x.double()
        assert (d @ d).dtype == ember.float64 and d.exp().dtype == ember.float64


def test_binary_cross_entropy_is_banned_in_a_cuda_region(cuda):
    p = ember.full((3,), 0.5, device="cuda")
    with ember.autocast("cuda"):
        with pytest.raises(RuntimeError, match="binary_cross_entropy and torch.nn.BCELoss are "
                                               "unsafe to autocast"):
            F.binary_cross_entropy(p, p)
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            ember.nn.BCELoss()(p, p)
        # outside the lists' device: a CPU call runs as written
        q = ember.full((3,), 0.5, device="cpu")
        assert F.binary_cross_entropy(q, q).dtype == ember.float32
    assert F.binary_cross_entropy(p, p).dtype == ember.float32


def test_regions_cast_their_own_device_only(cuda):
    c = ember.ones(2, 2, device="cuda")
    h = ember.ones(2, 2, device="cpu")
    dt = _dtypes()[0][1]
    with ember.autocast("cuda"):
        assert (c @ c).dtype == ember.float16
        assert (h @ h).dtype == ember.float32  # a CPU op in a CUDA region: as written
        assert h.exp().dtype == ember.float32 and h.half().exp().dtype == ember.float16
    with ember.autocast("cpu", dtype=dt):
        assert (h @ h).dtype == dt
        assert (c @ c).dtype == ember.float32  # a CUDA op in a CPU region: as written
    with ember.autocast("cpu", dtype=dt), ember.autocast("cuda", dtype=ember.float16):
        assert (h @ h).dtype == dt and (c @ c).dtype == ember.float16
        assert ember.is_autocast_enabled("cpu") and ember.is_autocast_enabled("cuda")
    assert not ember.is_autocast_enabled("cpu") and not ember.is_autocast_enabled("cuda")
    # CUDA's lists, not the CPU's: softmax is float32 on CUDA, as written on the CPU
    with ember.autocast("cuda", dtype=dt), ember.autocast("cpu", dtype=dt):
        assert c.to(dt).softmax(0).dtype == ember.float32
        assert h.to(dt).softmax(0).dtype == dt


def test_cuda_state_nesting_decorator_and_spellings(cuda):
    x = ember.ones(2, 2, device="cuda")
    assert not ember.is_autocast_enabled() and not ember.is_autocast_enabled("cuda")
    assert ember.get_autocast_dtype("cuda") == ember.float16
    with ember.autocast("cuda"):
        assert ember.is_autocast_enabled() and ember.is_autocast_enabled("cuda")
        assert not ember.is_autocast_enabled("cpu")
        assert ember.get_autocast_dtype("cuda") == ember.float16
        with ember.autocast("cuda", enabled=False):
            assert not ember.is_autocast_enabled("cuda")
            assert (x @ x).dtype == ember.float32
        assert (x @ x).dtype == ember.float16
        if hasattr(ember, "bfloat16"):
            with ember.autocast("cuda", dtype=ember.bfloat16):
                assert ember.get_autocast_dtype("cuda") == ember.bfloat16
                assert (x @ x).dtype == ember.bfloat16
            assert ember.get_autocast_dtype("cuda") == ember.float16
    assert (x @ x).dtype == ember.float32 and not ember.is_autocast_enabled()

    @ember.autocast("cuda")
    def f(a):
        return a @ a

    assert f(x).dtype == ember.float16 and (x @ x).dtype == ember.float32
    with ember.amp.autocast("cuda"):
        assert (x @ x).dtype == ember.float16
    records = {}
    for mod in (ember, torch):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            ctx = mod.cuda.amp.autocast()
        records[mod] = [(r.category, str(r.message)) for r in w if r.category is FutureWarning]
        if mod is ember:
            assert ctx._enabled and not [r for r in w if r.category is UserWarning]
            with ctx:
                assert (x @ x).dtype == ember.float16
    assert records[ember] == records[torch] and len(records[ember]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "CUDA is not available" warning with CUDA
        with ember.autocast("cuda"):
            pass


def test_set_autocast_enabled_and_dtype_for_cuda(cuda):
    x = ember.ones(2, 2, device="cuda")
    try:
        ember.set_autocast_enabled("cuda", True)
        assert ember.is_autocast_enabled("cuda") and (x @ x).dtype == ember.float16
        ember.set_autocast_dtype("cuda", _dtypes()[-1][1])
        assert (x @ x).dtype == _dtypes()[-1][1]
    finally:
        ember.set_autocast_enabled("cuda", False)
        ember.set_autocast_dtype("cuda", ember.float16)
    assert (x @ x).dtype == ember.float32
    ember.set_autocast_enabled(True)  # torch's one-argument form is CUDA's
    try:
        assert ember.is_autocast_enabled() and ember.is_autocast_enabled("cuda")
    finally:
        ember.set_autocast_enabled(False)
    assert not ember.is_autocast_enabled("cuda")


def test_cuda_autocast_caches_leaf_casts_and_grads_flow_in_the_leaf_dtype(cuda):
    w = ember.ones(2, 2, device="cuda", requires_grad=True)
    with ember.autocast("cuda"):
        a, b = w @ w, w @ w
        assert a.grad_fn.next_functions[0][0] is b.grad_fn.next_functions[0][0]
    with ember.autocast("cuda", cache_enabled=False):
        a, b = w @ w, w @ w
        assert a.grad_fn.next_functions[0][0] is not b.grad_fn.next_functions[0][0]
    grads, fns = {}, {}
    for mod, dev in ((ember, "cuda"), (torch, None)):
        x, y, t = _make(mod, dev)
        w = x.clone().requires_grad_(True)
        with mod.autocast("cuda" if mod is ember else "cpu", dtype=mod.float16):
            out = mod.nn.functional.linear(y, w, w[0])
            loss = mod.nn.functional.cross_entropy(out, t)
        assert out.dtype == mod.float16 and loss.dtype == mod.float32
        loss.backward()
        grads[mod], fns[mod] = w.grad, type(out.grad_fn).__name__
    assert grads[ember].dtype == ember.float32 and grads[ember].device.type == "cuda"
    np.testing.assert_allclose(_host(grads[ember]), grads[torch].numpy(), rtol=3e-2, atol=3e-3)
    assert fns[ember] == fns[torch]


def test_custom_fwd_casts_cuda_inputs(cuda):
    class Square(ember.autograd.Function):
        @staticmethod
        @ember.amp.custom_fwd(device_type="cuda", cast_inputs=ember.float32)
        def forward(ctx, x):
            ctx.save_for_backward(x)
            assert not ember.is_autocast_enabled("cuda")
            return x * x

        @staticmethod
        @ember.amp.custom_bwd(device_type="cuda")
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = ember.ones(2, dtype=ember.float16, device="cuda", requires_grad=True)
    with ember.autocast("cuda"):
        y = Square.apply(x)
    assert y.dtype == ember.float32
    y.sum().backward()
    assert x.grad.dtype == ember.float16 and x.grad.tolist() == [2.0, 2.0]


# ---------------------------------------------------------------------------- GradScaler("cuda")

def test_grad_scaler_is_enabled_with_cuda(cuda):
    records = {}
    for make in (lambda: ember.amp.GradScaler(), lambda: ember.amp.GradScaler("cuda")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            s = make()
        assert s.is_enabled() and s.get_scale() == 2.0 ** 16
        assert s.state_dict() == torch.amp.GradScaler("cpu").state_dict()
    scalers = {}
    for mod in (ember, torch):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            scalers[mod] = mod.cuda.amp.GradScaler()
        records[mod] = [(r.category, str(r.message)) for r in w if r.category is FutureWarning]
    assert records[ember] == records[torch] and len(records[ember]) == 1
    assert scalers[ember].is_enabled()


def test_scale_lives_on_the_first_scaled_outputs_device(cuda):
    s = ember.amp.GradScaler("cuda", init_scale=4.0)
    with ember.cuda.device(1):  # (ember's kernels run on the current device, as CuPy's)
        out = s.scale(ember.ones(2, device="cuda:1"))
    assert s._scale.device == ember.device("cuda", 1) == s._growth_tracker.device
    assert s._scale.dtype == ember.float32 and s._growth_tracker.dtype == ember.int32
    assert out.device == ember.device("cuda", 1) and out.tolist() == [4.0, 4.0]
    other = s.scale([ember.ones(1, device="cuda:0")])  # the scale, copied to the output's device
    assert other[0].device == ember.device("cuda", 0) and other[0].tolist() == [4.0]
    assert s._scale.device.index == 1
    half = s.scale(ember.ones(2, device="cuda", dtype=ember.float16))
    assert half.dtype == ember.float16


def test_cuda_grad_scaler_matches_torchs_arithmetic(cuda):
    # inf and nan gradients skip the step and back off; two clean steps grow the scale
    grads = [[1.0, 2.0], [0.5, 0.5], [float("inf"), 1.0], [1.0, float("nan")], [2.0, 1.0],
             [1.0, 1.0], [1.0, 1.0]]
    assert repr(grad_scaler_trace(ember, grads, "cuda")) == repr(grad_scaler_trace(torch, grads))


def test_inf_gradient_skips_the_step_and_backs_off_reading_once(cuda):
    s = ember.amp.GradScaler("cuda", init_scale=1024.0, growth_interval=3)
    p = ember.nn.Parameter(ember.ones(3, device="cuda"))
    q = ember.nn.Parameter(ember.ones(2, device="cuda"))
    opt = ember.optim.SGD([p, q], lr=0.5)
    s.scale((p * ember.tensor([1.0, float("inf"), 1.0], device="cuda")).sum() + q.sum()
            ).backward()
    reads = []
    prev_hook = ember.backend.sync_hook
    ember.backend.sync_hook = reads.append  # every device-to-host read goes through it
    try:
        s.unscale_(opt)
        assert reads == []  # inf/NaN found on the device
        found = opt_state = s._per_optimizer_states[id(opt)]["found_inf_per_device"]
        assert list(found) == [ember.device("cuda", 0)]
        assert opt_state[ember.device("cuda", 0)].device.type == "cuda"
        s.step(opt)
        assert len(reads) == 1  # one read of found_inf on the host, as torch
        s.update()
        assert len(reads) == 1  # the scale adapts on the device
    finally:
        ember.backend.sync_hook = prev_hook
    assert p.tolist() == [1.0, 1.0, 1.0] and q.tolist() == [1.0, 1.0]  # step skipped
    assert s.get_scale() == 512.0 and s._get_growth_tracker() == 0
    assert s._scale.device.type == "cuda"
    for _ in range(3):  # clean steps: the scale grows back after growth_interval
        opt.zero_grad()
        s.scale(p.sum() + q.sum()).backward()
        s.step(opt)
        s.update()
    assert s.get_scale() == 1024.0 and s._get_growth_tracker() == 0
    np.testing.assert_allclose(_host(p), [-0.5] * 3)


def test_fp16_gradients_and_errors_as_torch(cuda):
    s = ember.amp.GradScaler("cuda")
    p = ember.nn.Parameter(ember.ones(2, device="cuda", dtype=ember.float16))
    opt = ember.optim.SGD([p], lr=0.1)
    s.scale(p.float().sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients."):
        s.unscale_(opt)
    with pytest.raises(AssertionError, match="Attempted update but _scale is None"):
        ember.amp.GradScaler("cuda").update()
    s2 = ember.amp.GradScaler("cuda")
    q = ember.nn.Parameter(ember.ones(1, device="cuda"))
    opt2 = ember.optim.SGD([q], lr=0.1)
    s2.scale(q.sum()).backward()
    s2.unscale_(opt2)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        s2.unscale_(opt2)


def test_cuda_grad_scaler_state_dict_round_trip(cuda):
    t = torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=3)
    e = ember.amp.GradScaler("cuda")
    e.load_state_dict(t.state_dict())
    assert e.state_dict() == t.state_dict()
    x = e.scale(ember.ones(2, device="cuda"))
    assert x.tolist() == [4.0, 4.0] and e._scale.device.type == "cuda"
    e.load_state_dict({**t.state_dict(), "scale": 32.0, "_growth_tracker": 2})
    assert e.get_scale() == 32.0 and e._get_growth_tracker() == 2
    e.update(16.0)
    assert e.get_scale() == 16.0
    e.update(ember.full((), 8.0, device="cuda"))
    assert e.get_scale() == 8.0


def _mlp(mod, dev):
    rng = np.random.default_rng(1)
    model = mod.nn.Sequential(mod.nn.Linear(6, 16), mod.nn.ReLU(), mod.nn.Linear(16, 3))
    with mod.no_grad():
        for prm in model.parameters():
            prm.copy_(mod.tensor(rng.standard_normal(tuple(prm.shape)).astype(np.float32) * 0.3))
    return model.to(dev) if dev else model


def test_training_with_autocast_and_grad_scaler_matches_float32(cuda):
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((5, 8, 6)).astype(np.float32)
    ys = rng.integers(0, 3, (5, 8))
    runs = {}
    for amp in (True, False):
        model = _mlp(ember, "cuda")
        opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scaler = ember.amp.GradScaler("cuda", enabled=amp)
        losses = []
        for x, y in zip(xs, ys):
            x, y = ember.tensor(x, device="cuda"), ember.tensor(y, device="cuda")
            opt.zero_grad()
            with ember.autocast("cuda", enabled=amp):
                out = model(x)
                loss = F.cross_entropy(out, y)
            assert out.dtype == (ember.float16 if amp else ember.float32)
            assert loss.dtype == ember.float32
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
        assert all(prm.dtype == ember.float32 and prm.device.type == "cuda"
                   for prm in model.parameters())
        runs[amp] = (losses, [_host(prm) for prm in model.parameters()])
    np.testing.assert_allclose(runs[True][0], runs[False][0], rtol=1e-2, atol=1e-2)
    for a, b in zip(runs[True][1], runs[False][1]):
        np.testing.assert_allclose(a, b, rtol=1e-2, atol=1e-2)
    assert runs[True][0][-1] < runs[True][0][0]  # it trains


# ------------------------------------------------------------------ gaps outside autocast itself

def test_conv_then_batch_norm_in_a_cuda_region(cuda):
    model = ember.nn.Sequential(ember.nn.Conv2d(1, 2, 3), ember.nn.BatchNorm2d(2)).to("cuda")
    with ember.autocast("cuda"):
        out = model(ember.ones(1, 1, 5, 5, device="cuda"))
    assert out.dtype == ember.float16


@pytest.mark.xfail(strict=True, reason=(
    "torch's CUDA lists cast lstm_cell/gru_cell (and cuDNN's LSTM) whole, hidden state included, "
    "so their outputs are float16; ember's cells are made of linear + pointwise ops with no "
    "lstm_cell op to wrap, and the float32 state promotes the result"))
def test_lstm_cell_outputs_the_lower_dtype(cuda):
    cell = ember.nn.LSTMCell(3, 4).to("cuda")
    x = ember.ones(2, 3, device="cuda")
    hx = (ember.zeros(2, 4, device="cuda"), ember.zeros(2, 4, device="cuda"))
    with ember.autocast("cuda"):
        h, c = cell(x, hx)
    assert h.dtype == c.dtype == ember.float16
