"""Helpers the model builders share: the deprecated ``pretrained=`` interface and keyword checks."""
from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, Callable, Optional, Sequence, TypeVar

from ... import nn
from ._api import WeightsEnum

__all__: list[str] = []

F = TypeVar("F", bound=Callable[..., Any])


def _init_weights(model: nn.Module, linear_init: Callable[[nn.Linear], Any],
                  norms: tuple[type, ...] = (nn.BatchNorm2d, nn.GroupNorm),
                  nonlinearity: str = "leaky_relu") -> None:
    """torchvision's common initialisation: Kaiming-normal (``fan_out``) convolutions with zero
    bias, ``norms`` at weight 1 and bias 0, and ``linear_init(m)`` for each Linear."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity=nonlinearity)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, norms):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            linear_init(m)


def _normal_linear(m: nn.Linear) -> None:
    """N(0, 0.01^2) weight, zero bias: the classifier init of MobileNet and VGG."""
    nn.init.normal_(m.weight, 0, 0.01)
    nn.init.zeros_(m.bias)


def _with_weights(make: Callable[..., Any], weights: Optional[WeightsEnum], progress: bool, /,
                  *args: Any, **kwargs: Any) -> Any:
    """``make(*args, **kwargs)`` with ``weights`` (if any) loaded: the weights' category count
    is the model's ``num_classes`` (a different one given is an error)."""
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    model = make(*args, **kwargs)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


def _quoted_list(items: Sequence[str]) -> str:
    """``'a'``, ``'a' and 'b'``, ``'a', 'b', and 'c'``: the wording of torchvision's warnings."""
    quoted = [f"'{item}'" for item in items]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _keyword_only_positionals(fn: F) -> F:
    """Lets a builder whose options are keyword-only still take them positionally, as the
    pre-0.13 builders did (``resnet18(True)``), with a deprecation warning."""
    params = list(inspect.signature(fn).parameters.values())
    first_kwonly = next((i for i, p in enumerate(params) if p.kind is p.KEYWORD_ONLY), None)
    if first_kwonly is None:
        raise TypeError(f"Found no keyword-only parameter on function '{fn.__name__}'")
    # torchvision zips against every name from there on, `**kwargs` included; so does ember.
    kwonly_names = [p.name for p in params[first_kwonly:]]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        extra = args[first_kwonly:]
        if extra:
            moved = dict(zip(kwonly_names, extra))
            warnings.warn(f"Using {_quoted_list(list(moved))} as positional parameter(s) is "
                          "deprecated since 0.13 and may be removed in the future. Please use "
                          "keyword parameter(s) instead.")
            kwargs.update(moved)
        return fn(*args[:first_kwonly], **kwargs)

    return wrapper  # type: ignore[return-value]


def handle_legacy_interface(**legacy: tuple[str, Any]) -> Callable[[F], F]:
    """Maps a builder's old boolean parameter onto its ``weights`` parameter.

    ``handle_legacy_interface(weights=("pretrained", ResNet18_Weights.IMAGENET1K_V1))`` turns
    ``pretrained=True`` into ``weights=ResNet18_Weights.IMAGENET1K_V1`` (the weights the old API
    loaded, not necessarily today's DEFAULT) and ``pretrained=False`` into ``weights=None``,
    warning as torchvision does. A bare ``True``/``False`` given as ``weights`` (or positionally)
    is treated the same way. The legacy value may be a callable of the keyword arguments.
    """

    def decorate(builder: F) -> F:
        @_keyword_only_positionals
        @functools.wraps(builder)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for new_name, (old_name, legacy_weights) in legacy.items():
                missing = object()
                given = kwargs.get(new_name, missing)
                modern = (isinstance(given, WeightsEnum) or given is None
                          or (isinstance(given, str) and given != "legacy"))
                if modern or (given is missing and old_name not in kwargs):
                    continue
                # A positional `True` arrives under the new name; move it to the old one.
                as_positional = given is not missing
                if as_positional:
                    kwargs[old_name] = kwargs.pop(new_name)
                wanted = kwargs[old_name]
                if wanted:
                    chosen = legacy_weights(kwargs) if callable(legacy_weights) else legacy_weights
                    if not isinstance(chosen, WeightsEnum):
                        raise ValueError(f"No weights available for model {builder.__name__}")
                else:
                    chosen = None
                if not as_positional:
                    warnings.warn(f"The parameter '{old_name}' is deprecated since 0.13 and may be "
                                  f"removed in the future, please use '{new_name}' instead.")
                message = (f"Arguments other than a weight enum or `None` for '{new_name}' are "
                           "deprecated since 0.13 and may be removed in the future. The current "
                           f"behavior is equivalent to passing `{new_name}={chosen}`.")
                if wanted:
                    message += (f" You can also use `{new_name}={type(chosen).__name__}.DEFAULT` "
                                "to get the most up-to-date weights.")
                warnings.warn(message)
                del kwargs[old_name]
                kwargs[new_name] = chosen
            return builder(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _ovewrite_named_param(kwargs: dict[str, Any], param: str, new_value: Any) -> None:
    """Sets ``kwargs[param]`` to what the weights require, refusing a conflicting user value.
    (The misspelt name is torchvision's; code that imports it keeps working.)"""
    if param not in kwargs:
        kwargs[param] = new_value
    elif kwargs[param] != new_value:
        raise ValueError(f"The parameter '{param}' expected value {new_value} "
                         f"but got {kwargs[param]} instead.")


def _make_divisible(v: float, divisor: int, min_value: Optional[int] = None) -> int:
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``, default
    ``divisor``), never more than 10% below ``v``: the channel rounding of the MobileNet and
    EfficientNet families (from TensorFlow's slim MobileNet), which checkpoints depend on."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
