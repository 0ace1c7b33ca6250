"""The helpers ``torch.nn.functional`` carries beside its functions, for code written against
them: the ``__torch_function__`` checks (ember has no such protocol: nothing overrides, so they
answer False and dispatch to the function itself), ``boolean_dispatch``, ``assert_int_or_pair``,
the TorchScript ``BroadcastingList`` annotations and grid_sample's mode tables."""
from __future__ import annotations

from typing import Any, Callable

GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}


class _BroadcastingList:
    """A TorchScript annotation (a list that a scalar broadcasts to); outside a script,
    subscripting it gives None, as torch's does."""

    def __getitem__(self, types: Any) -> None:
        return None


BroadcastingList1 = BroadcastingList2 = BroadcastingList3 = _BroadcastingList()


def has_torch_function(relevant_args: Any) -> bool:
    """Whether any argument overrides ``__torch_function__``: never, in ember."""
    return False


def has_torch_function_unary(arg: Any) -> bool:
    """Whether ``arg`` overrides ``__torch_function__``: never, in ember."""
    return False


def has_torch_function_variadic(*args: Any) -> bool:
    """Whether any of ``args`` overrides ``__torch_function__``: never, in ember."""
    return False


def handle_torch_function(public_api: Callable, relevant_args: Any, *args: Any,
                          **kwargs: Any) -> Any:
    """Dispatches ``public_api`` to the arguments' ``__torch_function__`` overrides; with none to
    dispatch to (ember has none), calls it."""
    return public_api(*args, **kwargs)


def boolean_dispatch(arg_name: str, arg_index: int, default: bool, if_true: Callable,
                     if_false: Callable, module_name: str | None, func_name: str) -> Callable:
    """A function that calls ``if_true`` or ``if_false`` depending on the bool argument
    ``arg_name`` (the ``arg_index``-th positional one, or ``default``): how ``max_pool2d``
    returns indices or not."""
    def fn(*args: Any, **kwargs: Any) -> Any:
        if arg_name in kwargs:
            flag = kwargs[arg_name]
        elif arg_index < len(args):
            flag = args[arg_index]
        else:
            flag = default
        return (if_true if flag else if_false)(*args, **kwargs)

    if module_name is not None:
        fn.__module__ = module_name
    fn.__name__ = func_name
    fn.__doc__ = if_true.__doc__ or if_false.__doc__
    return fn


def assert_int_or_pair(arg: Any, arg_name: str, message: str) -> None:
    """Asserts ``arg`` is an int or a pair; ``message`` is formatted with ``arg_name``."""
    assert isinstance(arg, int) or len(arg) == 2, message.format(arg_name)


__all__ = ["GRID_SAMPLE_INTERPOLATION_MODES", "GRID_SAMPLE_PADDING_MODES", "BroadcastingList1",
           "BroadcastingList2", "BroadcastingList3", "has_torch_function",
           "has_torch_function_unary", "has_torch_function_variadic", "handle_torch_function",
           "boolean_dispatch", "assert_int_or_pair"]
