"""ember: PyTorch's API on NumPy, with a readable autograd engine."""
from __future__ import annotations

from .version import __version__  # noqa: F401  (torch's API version; ember's own in .version)

from .dtypes import (  # noqa: F401
    bfloat16,
    bool,
    cdouble,
    cfloat,
    complex64,
    complex128,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    float8_e4m3fn,
    float8_e4m3fnuz,
    float8_e5m2,
    float8_e5m2fnuz,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    set_default_dtype,
    short,
    uint8,
)
from .devices import device  # noqa: F401
from .tensor import Size, Tensor  # noqa: F401
from . import ops as _ops  # noqa: F401  (binds the op methods onto Tensor)
from .ops.elementwise import *  # noqa: F401,F403
from .ops.compare import *  # noqa: F401,F403
from .ops.unary import *  # noqa: F401,F403
from .ops.reduce import *  # noqa: F401,F403
from .ops.stats import *  # noqa: F401,F403
from .ops.cumulative import *  # noqa: F401,F403
from .ops.shape import *  # noqa: F401,F403
from .ops.arrange import *  # noqa: F401,F403
from .ops.indexing import *  # noqa: F401,F403
from .ops.scatter import *  # noqa: F401,F403
from .ops.linalg import *  # noqa: F401,F403
from .ops.einsum import *  # noqa: F401,F403
from .ops.convert import *  # noqa: F401,F403
from .ops.conv import *  # noqa: F401,F403
from .ops.pool import *  # noqa: F401,F403
from .ops.norm import *  # noqa: F401,F403
from .ops.activation import *  # noqa: F401,F403
from .ops.pointwise import *  # noqa: F401,F403
from .ops.special import *  # noqa: F401,F403
from .ops.matrix import *  # noqa: F401,F403
from .ops.complex import *  # noqa: F401,F403
from .ops.conv_nd import *  # noqa: F401,F403
from .ops.pool_nd import *  # noqa: F401,F403
from .ops.pool_1d import *  # noqa: F401,F403
from .ops.activation_ext import *  # noqa: F401,F403
from .ops.distance import *  # noqa: F401,F403
from .ops.sorting import *  # noqa: F401,F403
from .ops.counting import *  # noqa: F401,F403
from .ops.layout import *  # noqa: F401,F403
from .ops.scatter_reduce import *  # noqa: F401,F403
from .ops.geometry import *  # noqa: F401,F403
from .ops.weight_norm import *  # noqa: F401,F403
from .ops.meta import *  # noqa: F401,F403
from .ops.storage import *  # noqa: F401,F403
from .ops.memory import *  # noqa: F401,F403
from .ops.aliasing import *  # noqa: F401,F403
from .ops.strided import *  # noqa: F401,F403
from .ops.torch_inplace import *  # noqa: F401,F403
from .ops.windows import *  # noqa: F401,F403
from .ops.native import *  # noqa: F401,F403
from ._dtype_info import can_cast, finfo, iinfo  # noqa: F401
from ._runtime import *  # noqa: F401,F403
from ._errors import AcceleratorError, OutOfMemoryError  # noqa: F401
from ._symbolic import *  # noqa: F401,F403
from math import e, inf, nan, pi  # noqa: F401  (torch's constants are Python's floats)
newaxis = None  # as numpy's: ``x[:, ember.newaxis]``
from .ops.arith import *  # noqa: F401,F403
from .ops.numeric import *  # noqa: F401,F403
from .ops.sample_stats import *  # noqa: F401,F403
from .ops.scatter_views import *  # noqa: F401,F403
from .ops.products import *  # noqa: F401,F403
from .ops.lapack import *  # noqa: F401,F403
from .ops.matrix_legacy import *  # noqa: F401,F403
from .ops.spectral import *  # noqa: F401,F403
from .ops.histogramdd import *  # noqa: F401,F403
from .ops.lowrank import *  # noqa: F401,F403
from .ops.view_copy import *  # noqa: F401,F403
from .creation import *  # noqa: F401,F403
from .random import *  # noqa: F401,F403
from . import autograd  # noqa: F401
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .autograd.grad_mode import is_inference_mode_enabled  # noqa: F401
from .dtypes import result_type as _result_type
from ._tensor_str import set_printoptions  # noqa: F401
from .backend.threads import get_num_threads, set_num_threads  # noqa: F401
from .backend.allocator import tune_malloc as _tune_malloc

_tune_malloc()  # array temporaries stop page-faulting afresh each step (EMBER_MALLOC_TUNING=0: off)
from . import _missing
from ._missing import MissingAPIError  # noqa: F401
from . import _device_guard  # noqa: F401  (torch's device guard, from the first use of a 2nd GPU)

_missing.install_tensor_stubs(Tensor)  # after every module above bound its Tensor methods
from . import version  # noqa: F401
from ._settings import (  # noqa: F401
    are_deterministic_algorithms_enabled,
    get_default_device,
    get_deterministic_debug_mode,
    get_float32_matmul_precision,
    is_deterministic_algorithms_warn_only_enabled,
    set_default_device,
    set_deterministic_debug_mode,
    set_float32_matmul_precision,
    use_deterministic_algorithms,
)

# The training stack, checkpoints and the rest load on first use (PEP 562), so ``import ember``
# costs the core only; ``ember.nn``, ``from ember import nn`` and ``import ember.nn`` all work, as
# ``torch.nn`` etc. are reachable after ``import torch``.
_LAZY_MODULES = frozenset({"nn", "optim", "utils", "io", "cuda", "linalg", "hub", "serialization",
                           "distributed", "special", "fft", "func", "distributions", "backends",
                           "accelerator", "mps", "xpu", "cpu", "amp", "onnx", "_dynamo"})
_LAZY_ATTRS = {"save": "io", "load": "io", "compile": "_compile", "autocast": "amp",
               "is_autocast_enabled": "amp.autocast_mode",
               "is_autocast_cpu_enabled": "amp.autocast_mode",
               "get_autocast_dtype": "amp.autocast_mode",
               "get_autocast_cpu_dtype": "amp.autocast_mode",
               "set_autocast_enabled": "amp.autocast_mode",
               "set_autocast_dtype": "amp.autocast_mode",
               "is_autocast_cache_enabled": "amp.autocast_mode",
               "set_autocast_cache_enabled": "amp.autocast_mode",
               "clear_autocast_cache": "amp.autocast_mode", "vmap": "func"}
# torch's torch-level twins of nn.functional (ATen's signatures), loaded with ember.nn
_LAZY_ATTRS.update(dict.fromkeys((
    "cosine_similarity", "pairwise_distance", "kl_div", "margin_ranking_loss",
    "hinge_embedding_loss", "cosine_embedding_loss", "poisson_nll_loss",
    "binary_cross_entropy_with_logits", "triplet_margin_loss", "ctc_loss", "instance_norm",
    "bilinear", "rms_norm", "feature_dropout", "feature_dropout_", "dropout_", "alpha_dropout",
    "alpha_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_", "selu_", "celu_",
    "threshold_", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "embedding_renorm_",
    "embedding_bag", "lstm", "gru", "rnn_tanh", "rnn_relu"), "nn._torch_level"))


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY_MODULES:
        sub = name
        try:
            module = importlib.import_module(f".{sub}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{sub}":
                raise  # the module exists but needs something missing
            raise _missing.attribute_error("torch", "ember", name) from None
        if name in ("special", "fft", "linalg"):  # torch's names it lacks raise MissingAPIError
            _missing.install(module, f"torch.{name}")
        globals()[name] = module
        return module
    if name in _LAZY_ATTRS:
        value = getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
        globals()[name] = value
        return value
    return _missing.submodule_or_error("ember", "torch", name)  # a torch name names itself


def __dir__() -> list:
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_ATTRS))


def result_type(tensor1: object, tensor2: object) -> dtype:
    """The dtype torch's promotion gives an op on ``tensor1`` and ``tensor2``."""
    return _result_type(tensor1, tensor2)


def is_tensor(obj: object) -> "builtins.bool":  # noqa: F821 - `bool` here is ember.bool
    """True if ``obj`` is an ember Tensor."""
    return isinstance(obj, Tensor)
