"""``torch.nn.factory_kwargs``: the ``device``/``dtype``/``memory_format`` keywords a module
passes on to the factories that make its parameters."""
from __future__ import annotations

_SIMPLE = ("device", "dtype", "memory_format")


def factory_kwargs(kwargs: dict | None) -> dict:
    """``kwargs``'s factory keywords, with those of a nested ``factory_kwargs`` dict merged in
    (a keyword given both ways is a TypeError, as is any other keyword)."""
    if kwargs is None:
        return {}
    unexpected = set(kwargs) - set(_SIMPLE) - {"factory_kwargs"}
    if unexpected:
        raise TypeError(f"unexpected kwargs {unexpected}")
    out: dict = dict(kwargs.get("factory_kwargs", {}))  # the nested ones first, as torch
    for k, v in kwargs.items():
        if k == "factory_kwargs":
            continue
        if k in out:
            raise TypeError(f"{k} specified twice, in **kwargs and in factory_kwargs")
        out[k] = v
    return out
