"""What programs touch at import and start-up: torch.backends, accelerator/mps/xpu/cpu, compile,
the process-wide switches, the version, and the namespaces that only need to import (onnx)."""
import subprocess
import sys
import textwrap
import warnings

import pytest

import ember
from helpers import same_error, torch_or_skip

torch = torch_or_skip()


# -- torch.backends ------------------------------------------------------------------------------
BACKEND_QUERIES = [
    ("cudnn", "is_available", ()), ("cudnn", "version", ()), ("mps", "is_available", ()),
    ("mps", "is_built", ()), ("mkldnn", "is_available", ()), ("openmp", "is_available", ()),
    ("mkl", "is_available", ()), ("cuda", "is_built", ()),
]


@pytest.mark.parametrize("sub,fn,args", BACKEND_QUERIES)
def test_backend_queries_answer_as_torch_cpu_build(sub, fn, args):
    assert (getattr(getattr(ember.backends, sub), fn)(*args)
            == getattr(getattr(torch.backends, sub), fn)(*args))


FLAGS = [("cudnn", "benchmark"), ("cudnn", "deterministic"), ("cudnn", "enabled"),
         ("cudnn", "allow_tf32"), ("mkldnn", "enabled")]


@pytest.mark.parametrize("sub,flag", FLAGS)
def test_backend_flags_default_and_settable(sub, flag):
    e_mod, t_mod = getattr(ember.backends, sub), getattr(torch.backends, sub)
    assert getattr(e_mod, flag) == getattr(t_mod, flag)
    old = getattr(e_mod, flag)
    try:
        setattr(e_mod, flag, not old)
        assert getattr(e_mod, flag) is (not old)
    finally:
        setattr(e_mod, flag, old)


def test_cudnn_flags_context_restores():
    before = ember.backends.cudnn.benchmark
    with ember.backends.cudnn.flags(enabled=True, benchmark=True, deterministic=True):
        assert ember.backends.cudnn.benchmark is True
        assert ember.backends.cudnn.deterministic is True
    assert ember.backends.cudnn.benchmark is before
    assert ember.backends.cudnn.is_acceptable(ember.zeros(1)) is torch.backends.cudnn.is_acceptable(
        torch.zeros(1))


def test_cuda_matmul_flags_and_float32_precision():
    m = ember.backends.cuda.matmul
    for flag in ("allow_tf32", "allow_fp16_reduced_precision_reduction",
                 "allow_bf16_reduced_precision_reduction"):
        assert getattr(m, flag) == getattr(torch.backends.cuda.matmul, flag), flag
    same_error(lambda mod: setattr(mod.backends.cuda.matmul, "foo", 1))
    same_error(lambda mod: mod.backends.cuda.matmul.foo)
    try:
        for mod in (torch, ember):
            mod.set_float32_matmul_precision("medium")
        assert ember.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
        assert m.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is True
        # (torch 2.13 then refuses get_float32_matmul_precision for mixing its two APIs)
        ember.backends.cuda.matmul.allow_tf32 = False
        assert ember.get_float32_matmul_precision() == "highest"
    finally:
        for mod in (torch, ember):
            mod.set_float32_matmul_precision("highest")


def test_float32_matmul_precision_rejects_unknown_with_a_warning():
    with pytest.warns(UserWarning, match="bogus is not one of 'highest', 'high', or 'medium'"):
        ember.set_float32_matmul_precision("bogus")
    assert ember.get_float32_matmul_precision() == "highest"


# -- accelerator, mps, xpu, cpu ------------------------------------------------------------------
def test_accelerator_answers():
    assert ember.accelerator.is_available() is torch.accelerator.is_available() is False
    assert ember.accelerator.current_accelerator() is torch.accelerator.current_accelerator()
    assert ember.accelerator.device_count() == torch.accelerator.device_count() == 0
    for fn in ("current_device_index", "synchronize", "empty_cache"):
        same_error(lambda mod, fn=fn: getattr(mod.accelerator, fn)())
    same_error(lambda mod: mod.accelerator.set_device_index(0))


def test_mps_xpu_cpu_answers():
    for name in ("is_available", "device_count"):
        assert getattr(ember.mps, name)() == getattr(torch.mps, name)()
        assert getattr(ember.xpu, name)() == getattr(torch.xpu, name)()
        assert getattr(ember.cpu, name)() == getattr(torch.cpu, name)()
    assert ember.xpu.is_bf16_supported() == torch.xpu.is_bf16_supported()
    assert ember.cpu.current_device() == torch.cpu.current_device()
    ember.mps.manual_seed(0)
    ember.xpu.manual_seed_all(0)
    for fn in ("synchronize", "empty_cache", "seed"):
        same_error(lambda mod, fn=fn: getattr(mod.mps, fn)())
    for fn in ("synchronize", "current_device"):
        same_error(lambda mod, fn=fn: getattr(mod.xpu, fn)())


# -- compile -------------------------------------------------------------------------------------
def test_compile_module_runs_eagerly_with_torch_layout():
    m = ember.nn.Linear(2, 3)
    c = ember.compile(m)
    t = torch.compile(torch.nn.Linear(2, 3))
    assert type(c).__name__ == type(t).__name__ == "OptimizedModule"
    assert list(c.state_dict()) == list(t.state_dict()) == ["_orig_mod.weight", "_orig_mod.bias"]
    assert c._orig_mod is m and c.weight is m.weight and c.in_features == 2
    assert repr(c) == repr(t).replace(repr(t._orig_mod), repr(m))
    x = ember.randn(4, 2)
    assert (c(x) == m(x)).all()
    c.foo = 3  # torch sets unknown attributes on the compiled module
    assert m.foo == 3
    c.eval()
    assert not m.training


def test_compile_function_and_decorators():
    def f(x):
        return x + 1

    g = ember.compile(f)
    assert g.__name__ == "f" and g.__wrapped__ is f and g(1) == 2

    @ember.compile
    def h(x):
        return x * 2

    @ember.compile(mode="max-autotune", fullgraph=True, dynamic=False)
    def k(x):
        return x * 3

    assert h(2) == 4 and k(2) == 6
    assert ember.compile(f, disable=True) is f
    assert ember.compile(f, backend="eager")(1) == 2


@pytest.mark.parametrize("kw", [dict(mode="bogus"), dict(mode="default", options={"a": 1})])
def test_compile_argument_errors(kw):
    same_error(lambda mod: mod.compile(lambda x: x, **kw))


def test_compile_errors_for_backend_and_non_callable():
    with pytest.raises(RuntimeError, match="Invalid backend: 'nope', see"):
        ember.compile(lambda x: x, backend="nope")
    same_error(lambda mod: mod.compile(3))


# -- process-wide switches -----------------------------------------------------------------------
def test_deterministic_algorithms():
    try:
        for mod in (torch, ember):
            mod.use_deterministic_algorithms(True, warn_only=True)
        for fn in ("are_deterministic_algorithms_enabled",
                   "is_deterministic_algorithms_warn_only_enabled", "get_deterministic_debug_mode"):
            assert getattr(ember, fn)() == getattr(torch, fn)(), fn
        for mod in (torch, ember):
            mod.set_deterministic_debug_mode("error")
        assert ember.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode() == 2
    finally:
        for mod in (torch, ember):
            mod.use_deterministic_algorithms(False)
    assert ember.are_deterministic_algorithms_enabled() is False
    same_error(lambda mod: mod.use_deterministic_algorithms("yes"))


def test_default_device():
    for arg in ("cpu", ember.device("cpu"), None):
        ember.set_default_device(arg)
        assert ember.get_default_device() == ember.device("cpu")
    assert repr(ember.get_default_device()) == repr(torch.get_default_device())


@pytest.mark.cpu_build
def test_default_cuda_device_fails_at_the_first_tensor():
    for mod in (torch, ember):
        mod.set_default_device("cuda")  # accepted: torch's CPU build fails only at a tensor
    try:
        same_error(lambda m: m.zeros(2))
        same_error(lambda m: m.tensor([1.0]))
    finally:
        for mod in (torch, ember):
            mod.set_default_device(None)


def test_set_printoptions_exists_with_torch_signature():
    import inspect

    assert (list(inspect.signature(ember.set_printoptions).parameters)
            == list(inspect.signature(torch.set_printoptions).parameters))


def test_version():
    v = ember.__version__
    assert isinstance(v, str) and v.startswith("2.13.0+")
    assert v >= "2.0" and v >= (2, 13) and v < "2.14" and v > "2.12.1"
    assert ember.version.__version__ is v
    assert ember.version.cuda is torch.version.cuda is None
    assert ember.version.hip is torch.version.hip
    assert ember.version.ember == "0.1.0"
    t = torch.__version__  # compared as torch compares its own: a local part sorts after none
    for other in ("2.13", "2.13.0", (2, 13, 0), "2.12"):
        assert (v > other) == (t > other) and (v == other) == (t == other), other


# -- namespaces that must import -----------------------------------------------------------------
def test_onnx_importable_names_missing():
    import ember.onnx

    assert ember.onnx.is_in_onnx_export() is torch.onnx.is_in_onnx_export() is False
    with pytest.raises(ember.MissingAPIError, match=r"torch\.onnx\.register_custom_op_symbolic"
                                                    r" is not implemented"):
        ember.onnx.register_custom_op_symbolic
    assert not hasattr(ember.onnx, "register_custom_op_symbolic")


def test_distributed_and_parallel_importable():
    import ember.distributed as dist
    import ember.nn.parallel  # noqa: F401

    assert dist.is_available() in (True, False)
    assert dist.is_initialized() is False
    assert ember.nn.parallel.DistributedDataParallel is not None


def test_start_up_lines_run_unchanged_under_ember_run(tmp_path):
    script = tmp_path / "start.py"
    script.write_text(textwrap.dedent("""
        import torch
        import torch.backends.cudnn as cudnn
        from torch.cuda.amp import GradScaler
        cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.set_float32_matmul_precision("high")
        torch.use_deterministic_algorithms(False)
        torch.set_default_device("cpu")
        assert not torch.accelerator.is_available() and not torch.backends.mps.is_available()
        device = "cuda" if torch.cuda.is_available() else "cpu"
        model = torch.compile(torch.nn.Linear(2, 2))
        scaler = torch.amp.GradScaler(enabled=device == "cuda")
        with torch.autocast(device_type=device, dtype=torch.float16):
            y = model(torch.ones(1, 2))
        print(torch.__version__ >= "2.0", y.dtype, scaler.is_enabled(), cudnn.benchmark)
        try:
            torch.lobpcg
        except NotImplementedError as e:
            print(type(e).__name__, e)
        print(hasattr(torch, "lobpcg"))
    """))
    out = subprocess.run([sys.executable, "-m", "ember", "run", str(script)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "True torch.float16 False True" or lines[0].startswith("True ember.float16")
    assert "MissingAPIError torch.lobpcg is not implemented in ember" in lines[1]
    assert lines[2] == "False"


def test_import_ember_stays_light():
    # the new start-up modules load on first use: `import ember` pulls in none of them (torch's
    # names, ~1 ms, are read at import: Tensor's missing-name stubs are made from them)
    code = ("import sys, ember; print(sorted(m for m in ('ember.amp', 'ember.backends', "
            "'ember._compile', 'ember.utils.tensorboard', 'ember.onnx') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_warnings_not_raised_at_import():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import ember.backends  # noqa: F401
        import ember.amp  # noqa: F401


def test_sdp_kernel_switches():
    for name in ("flash_sdp_enabled", "mem_efficient_sdp_enabled", "math_sdp_enabled",
                 "cudnn_sdp_enabled"):
        assert getattr(ember.backends.cuda, name)() == getattr(torch.backends.cuda, name)()
    records = {}
    for mod in (torch, ember):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with mod.backends.cuda.sdp_kernel(enable_flash=False) as ctx:
                assert ctx == {} and mod.backends.cuda.flash_sdp_enabled() is False
        assert mod.backends.cuda.flash_sdp_enabled() is True
        records[mod] = [(x.category, str(x.message)) for x in w]
    assert records[ember] == records[torch]
    ember.backends.cuda.enable_math_sdp(False)
    assert ember.backends.cuda.math_sdp_enabled() is False
    ember.backends.cuda.enable_math_sdp(True)


def test_module_compile_in_place():
    m = ember.nn.Linear(2, 2)
    t = torch.nn.Linear(2, 2)
    assert m.compile() is None and t.compile() is None
    assert type(m) is ember.nn.Linear and list(m.state_dict()) == list(t.state_dict())
    x = ember.ones(1, 2)
    assert (m(x) == m.forward(x)).all()
    same_error(lambda mod: mod.nn.Linear(2, 2).compile(mode="bogus"))


def test_sdpa_kernel_and_backends():
    from ember.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention import SDPBackend as TB, sdpa_kernel as t_kernel

    assert [(b.name, int(b)) for b in SDPBackend] == [(k, int(v)) for k, v in
                                                      TB.__members__.items()]
    assert repr(SDPBackend.FLASH_ATTENTION) == repr(TB.FLASH_ATTENTION)
    assert str(SDPBackend.MATH) == str(TB.MATH)
    names = ("flash_sdp_enabled", "math_sdp_enabled", "mem_efficient_sdp_enabled",
             "cudnn_sdp_enabled")
    for e_arg, t_arg in ((SDPBackend.MATH, TB.MATH),
                         ([SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION],
                          [TB.FLASH_ATTENTION, TB.CUDNN_ATTENTION])):
        with sdpa_kernel(e_arg), t_kernel(t_arg):
            for n in names:
                assert getattr(ember.backends.cuda, n)() == getattr(torch.backends.cuda, n)(), n
    assert all(getattr(ember.backends.cuda, n)() for n in names)
    with pytest.raises(AssertionError) as t_err, t_kernel("math"):
        pass
    with pytest.raises(AssertionError) as e_err, sdpa_kernel("math"):
        pass
    assert str(e_err.value) == str(t_err.value)
    q = ember.ones(1, 2, 4)
    with sdpa_kernel(SDPBackend.MATH):  # the one CPU kernel runs whatever is chosen
        assert ember.nn.functional.scaled_dot_product_attention(q, q, q).shape == (1, 2, 4)
