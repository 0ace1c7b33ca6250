"""A pytest plugin that runs op parity tests with their ember side compiled:

    PYTHONPATH=tests .venv/bin/python -m pytest -p no:cacheprovider -p compile.compiled_mode \
        tests/ops/test_reduce.py

Every ``helpers.check_op(fn, ...)`` then calls ``ember.compile``'d ``fn`` twice (the second
call is a replay) and compares it with torch as before: values, dtypes, shapes, requires_grad and
gradients. grad_fn names are not compared (a compiled output's is ``CompiledFunctionBackward``,
as torch.compile's). Tests that do not go through ``check_op`` run unchanged."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import helpers

import ember

_original = helpers.check_op
_calls = [0, 0]  # checks run compiled, and of those the replays that broke to eager


def _copy(x: Any) -> Any:
    if isinstance(x, ember.Tensor):
        return x.detach().clone().requires_grad_(x.requires_grad)
    return x


def _compiled(fn: Callable) -> Callable:
    def run(m: Any, *xs: Any) -> Any:
        if m is not ember:
            return fn(m, *xs)
        compiled = ember.compile(lambda *a: fn(ember, *a))
        compiled(*[_copy(x) for x in xs])  # compiles (on copies: fn may write into its inputs)
        out = compiled(*xs)
        _calls[0] += 1
        _calls[1] += compiled._compiled.last.reason is not None
        return out

    return run


def check_op(fn: Callable, *inputs: Any, grad_fn: bool = True, **kwargs: Any) -> None:
    _original(_compiled(fn), *inputs, grad_fn=False, **kwargs)


def pytest_configure(config: Any) -> None:
    helpers.check_op = check_op  # before the test modules import it


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"compiled mode: {_calls[0]} check_op calls ran compiled, "
                                f"{_calls[1]} of them eagerly after a graph break")
