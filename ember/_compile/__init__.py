"""``torch.compile``: torch's signature and checks, and a compiler.

The first call for a guard key (each tensor argument's shape, dtype, device and requires_grad,
Python scalars' values, grad mode, autocast, the default dtype and device, every submodule's
training flag and hooks, the parameters' and buffers' identities, shapes, dtypes, devices and
requires_grad) traces the forward (``ember._trace``, ``capture.py``) and generates a Python
function of straight-line calls of the traced ops' forwards on arrays, plus one backward that
runs their own backward formulas in reverse (``codegen.py``); later calls with that key replay
it (``runtime.py``). With a graph recorded, the compiled forward is **one** node,
``CompiledFunctionBackward``, whose edges go to the inputs' and parameters' own nodes, so
``.grad`` accumulation, hooks and ``retain_graph`` are eager's.

What a straight-line replay cannot reproduce runs eagerly for that key (``fullgraph=True``
raises ``Unsupported`` instead): reading values in Python (``.item()``, ``bool(t)``), random
ops, in-place ops on tensors that require grad, module hooks, ops whose options depend on the
values. torch would split the graph there and compile both sides; ember runs the whole call
eagerly. ``compiled.code()`` shows the generated source.

A module comes back wrapped, as torch's ``OptimizedModule`` (``_orig_mod.`` in its
``state_dict`` keys, attributes read and set through to the module); a function comes back
wrapped with ``functools.wraps``."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..nn.modules.module import Module
from .runtime import Compiled, Unsupported, config

__all__ = [
    "InvalidBackend",
    "OptimizedModule",
    "Unsupported",
    "compile",
    "config",
    "list_backends",
]

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
# torch._dynamo.list_backends(exclude_tags=()) in torch 2.13, less its testing-only entries
_BACKENDS = ("aot_eager", "aot_eager_decomp_partition", "aot_eager_decomp_partition_crossref",
             "aot_eager_decomp_partition_with_mode", "aot_eager_default_partitioner", "aot_ts",
             "cudagraphs", "dynamo_accuracy_minifier_backend", "dynamo_minifier_backend",
             "eager", "eager_debug", "eager_noexcept", "inductor", "invoke_subgraph", "openxla",
             "openxla_eval", "pre_dispatch_eager", "ts", "tvm")


class InvalidBackend(RuntimeError):
    """A ``backend=`` name torch does not register."""


def list_backends(exclude_tags: Any = ("debug", "experimental")) -> list[str]:
    """The backend names ``compile`` accepts (all run ember's compiler)."""
    return list(_BACKENDS) if not exclude_tags else ["cudagraphs", "inductor", "openxla", "tvm"]


class OptimizedModule(Module):
    """What ``compile(module)`` returns: calls ``_orig_mod`` through its compiled program."""

    _OWN = frozenset({"_orig_mod", "dynamo_ctx", "_torchdynamo_orig_callable", "forward",
                      "_forward", "__dict__", "_compiled"})

    def __init__(self, mod: Module, fullgraph: bool = False) -> None:
        super().__init__()
        self._orig_mod = mod
        self.__dict__["_compiled"] = Compiled(mod, mod, fullgraph)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.__dict__["_compiled"](*args, **kwargs)

    def code(self) -> str:
        """The generated forward and backward source of the latest call (ember's own)."""
        return self.__dict__["_compiled"].code()

    def __getattr__(self, name: str) -> Any:
        if name == "_orig_mod":
            return self._modules["_orig_mod"]
        return getattr(self._orig_mod, name)

    def __setattr__(self, name: str, value: Any) -> None:
        # as torch's: its own and class attributes here, anything else on the compiled module
        if hasattr(type(self), name) or name in self._OWN or "_orig_mod" not in self.__dict__.get(
                "_modules", {}):
            super().__setattr__(name, value)
        else:
            setattr(self._orig_mod, name, value)


def compile(model: Callable | None = None, *, fullgraph: bool = False,
            dynamic: bool | None = None, backend: str | Callable | None = None,
            mode: str | None = None, options: dict | None = None, name: str | None = None,
            disable: bool = False, recompile_limit: int | None = None,
            isolate_recompiles: bool = False, shapes_spec: Any = None) -> Callable:
    """Optimizes ``model`` for speed (``torch.compile``): each call replays generated
    straight-line code of the traced ops (see the module docstring); ``backend``, ``mode``,
    ``options`` and ``dynamic`` are checked as torch checks them and otherwise ignored.

    Used as ``compile(model)``, ``@compile`` or ``@compile(mode=...)``. The result's ``code()``
    returns the generated forward and backward source of its latest call.

    Example::

        >>> import ember
        >>> f = ember.compile(lambda x: (x * 2).sum())
        >>> f(ember.ones(3)).item()
        6.0
    """
    if model is None:
        def fn(model: Callable) -> Callable:
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                           mode=mode, options=options, name=name, disable=disable,
                           recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return fn
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise InvalidBackend(f"Invalid backend: {backend!r}, see "
                             "`torch._dynamo.list_backends()` for available backends.")
    if disable:
        return model
    if isinstance(model, Module):
        return OptimizedModule(model, fullgraph)
    if not callable(model):
        raise AssertionError(  # noqa: TRY004 - torch's exception type
            f"A callable function is expected, but {type(model)} is provided.")
    owner = getattr(model, "__self__", None)  # a module's bound forward: its parameters count
    program = Compiled(model, owner if isinstance(owner, Module) else None, fullgraph)

    @functools.wraps(model)
    def compiled(*args: Any, **kwargs: Any) -> Any:
        return program(*args, **kwargs)

    compiled.code = program.code  # type: ignore[attr-defined]
    compiled._compiled = program  # type: ignore[attr-defined]
    return compiled
