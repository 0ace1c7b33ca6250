"""``ember graph SCRIPT.py --var NAME -o graph.svg``: run a script, draw a tensor's graph."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any, Iterator

from ._common import CLIError, InputError, RunError, require_dot
from .run import run_script

__all__ = ["add_parser", "command", "FORMATS"]

FORMATS = ("svg", "png", "pdf", "dot")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "graph", help="run a PyTorch script and draw a tensor's autograd graph",
        description="Run SCRIPT as `ember run` does, take the tensor NAME from its globals and "
                    "draw the autograd graph that produced it. Arguments this command does not "
                    "know are passed to the script (put them after `--` if they clash).")
    p.add_argument("script", help="the Python script to run")
    p.add_argument("--var", required=True, metavar="NAME",
                   help="the tensor to draw: a global of the script (dotted: model.fc.weight)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help=f"the picture; its suffix picks the format ({', '.join(FORMATS)})")
    p.add_argument("--show-saved", action="store_true",
                   help="list the tensors each node saved for backward")
    p.add_argument("--show-grads", action="store_true",
                   help="label each edge with the gradient backward sent along it")
    return p


def _lookup(namespace: dict[str, Any], name: str) -> Any:
    head, *rest = name.split(".")
    if head not in namespace:
        import ember

        tensors = sorted(k for k, v in namespace.items() if isinstance(v, ember.Tensor))
        raise CLIError(f"the script has no global named '{head}'; its tensors are: "
                       f"{', '.join(tensors) or '(none)'}")
    value = namespace[head]
    for i, attr in enumerate(rest):
        try:
            value = getattr(value, attr)
        except AttributeError:
            raise CLIError(f"'{'.'.join([head, *rest[:i]])}' has no attribute '{attr}'") from None
    return value


def _named_leaves(namespace: dict[str, Any]) -> dict[str, Any]:
    """Names for the graph's leaves: the script's leaf tensors and its models' parameters."""
    import ember
    from ember import nn

    names: dict[str, Any] = {}
    models = {k: v for k, v in namespace.items() if isinstance(v, nn.Module)}
    for prefix, model in models.items():
        for pname, param in model.named_parameters():
            names[pname if len(models) == 1 else f"{prefix}.{pname}"] = param
    for k, v in namespace.items():
        if isinstance(v, ember.Tensor) and v.requires_grad and v.grad_fn is None \
                and not k.startswith("_") and all(v is not p for p in names.values()):
            names[k] = v
    return names


@contextlib.contextmanager
def _recording_backward() -> Iterator[None]:
    """Every backward in the block first records the gradients it sends along each edge (what
    ``draw_graph(..., show_grads=True)`` shows): the script can't know it should call
    ``ember.viz.record_grads`` before its backward."""
    import ember.autograd
    from ember import viz

    original = ember.autograd.backward

    def backward(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        viz.record_grads(tensors)
        return original(tensors, *args, **kwargs)

    ember.autograd.backward = backward  # Tensor.backward looks it up at each call
    try:
        yield
    finally:
        ember.autograd.backward = original


def command(ns: argparse.Namespace) -> int:
    import ember

    fmt = os.path.splitext(ns.output)[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise CLIError(f"can't tell the format from '{ns.output}': use one of the suffixes "
                       f"{', '.join('.' + f for f in FORMATS)}")
    if not os.path.isfile(ns.script):
        raise InputError(f"can't open file '{ns.script}': no such file")
    if fmt == "dot":
        try:
            import graphviz  # noqa: F401
        except ImportError:
            raise RunError("drawing graphs needs the graphviz Python package: "
                           "pip install 'ember[viz]'") from None
    else:
        require_dot()  # before running the script, which may take a while
    args = ns.extra[1:] if ns.extra[:1] == ["--"] else ns.extra
    with _recording_backward() if ns.show_grads else contextlib.nullcontext():
        status, namespace = run_script(ns.script, args)
    if namespace is None:
        print(f"ember graph: the script exited with status {status}; nothing drawn",
              file=sys.stderr)
        return status or 1
    var = _lookup(namespace, ns.var)
    if not isinstance(var, ember.Tensor):
        raise CLIError(f"'{ns.var}' is a {type(var).__name__}, not a tensor")
    if var.grad_fn is None:
        print(f"note: '{ns.var}' has no grad_fn (nothing recorded it); the graph is that one "
              "tensor", file=sys.stderr)

    from ember import viz
    from ember.io._atomic import atomic_write

    try:
        names = {ns.var: var, **_named_leaves(namespace)}  # the first name of a tensor wins
        graph = viz.draw_graph(var, params=names, show_saved=ns.show_saved,
                               show_grads=ns.show_grads)
    except RuntimeError as e:  # --show-grads on a graph no backward ran through
        raise CLIError(str(e)) from None
    data = graph.source.encode() if fmt == "dot" else graph.pipe(format=fmt)
    with atomic_write(ns.output) as f:
        f.write(data)
    print(f"wrote {ns.output}")
    return 0
