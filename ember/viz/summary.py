"""A torchinfo-style model summary: layers, output shapes, parameters, FLOPs and memory."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .. import dtypes as _dtypes
from ..autograd import grad_mode
from ..creation import zeros
from ..tensor import Tensor

__all__ = ["summary", "Summary", "LayerInfo"]


@dataclass
class LayerInfo:
    """One row of the summary: a module call."""

    name: str  # the module's dotted name in the model ("" for the model itself)
    class_name: str
    depth: int
    index: str  # torchinfo's "depth-position" tag, e.g. "3-1"
    output_shapes: list
    num_params: int  # its parameters, its children's included
    trainable: str  # "True", "False", "Partial" or "--" (no parameters)
    macs: int  # multiply-accumulates of this call (Conv/Linear only; children excluded)
    output_bytes: int = 0
    is_leaf: bool = True  # no module ran inside this call


class Summary:
    """The result of :func:`summary`; ``print()`` it for the table.

    Attributes: ``layers`` (list[LayerInfo], in call order), ``total_params``,
    ``trainable_params``, ``frozen_params``, ``macs``, ``flops`` (= 2 × macs),
    ``input_bytes``, ``activation_bytes``, ``param_bytes``.
    """

    def __init__(self, model_name: str, layers: list, depth: int, total: int, trainable: int,
                 macs: int, input_bytes: int, activation_bytes: int, param_bytes: int) -> None:
        self.model_name = model_name
        self.layers = layers
        self.depth = depth
        self.total_params = total
        self.trainable_params = trainable
        self.frozen_params = total - trainable
        self.non_trainable_params = self.frozen_params  # torchinfo's word for it
        self.macs = macs
        self.flops = 2 * macs
        self.input_bytes = input_bytes
        self.activation_bytes = activation_bytes
        self.param_bytes = param_bytes

    def __str__(self) -> str:
        rows = [("Layer (type:depth-idx)", "Output Shape", "Param #", "Trainable")]
        for layer in self.layers:
            if layer.depth > self.depth:
                continue
            indent = "" if layer.depth == 0 else "│    " * (layer.depth - 1) + "├─"
            tag = layer.class_name if layer.depth == 0 else f"{layer.class_name}: {layer.index}"
            shapes = ", ".join("[" + ", ".join(map(str, s)) + "]" for s in layer.output_shapes)
            params = f"{layer.num_params:,}" if layer.num_params else "--"
            rows.append((indent + tag, shapes or "--", params, layer.trainable))
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
        width = sum(widths)
        rule, thick = "-" * width, "=" * width

        def line(r: tuple) -> str:
            return "".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()

        mb = 1e6
        out = [thick, line(rows[0]), thick, *(line(r) for r in rows[1:]), thick,
               f"Total params: {self.total_params:,}",
               f"Trainable params: {self.trainable_params:,}",
               f"Non-trainable (frozen) params: {self.frozen_params:,}",
               f"Forward FLOPs: {_si(self.flops)} (2 × the multiply-adds of Conv and Linear "
               "layers; other layers not counted)",
               rule,
               f"Input size (MB): {self.input_bytes / mb:.2f}",
               f"Forward activations (MB): {self.activation_bytes / mb:.2f} (outputs of the "
               "leaf modules)",
               f"Params size (MB): {self.param_bytes / mb:.2f}",
               f"Estimated total size (MB): "
               f"{(self.input_bytes + self.activation_bytes + self.param_bytes) / mb:.2f}",
               thick]
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)


def _si(n: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f}"


def summary(model: Any, input_size: Any = (1, 3, 224, 224), dtypes: Sequence | None = None,
            depth: int = 3, device: Any = None, input_data: Any = None,
            mode: str = "eval") -> Summary:
    r"""Runs one forward pass and tabulates the model's layers (torchinfo's ``summary``).

    Args:
        model (nn.Module): the model; it is left as it was (mode, buffers, hooks).
        input_size (tuple or list of tuples): the shape of each input, batch dimension included.
        dtypes (list of dtypes, optional): one per input; float32 by default.
        depth (int): the deepest nesting shown (rows below it still count in the totals).
        device: where the zero inputs are made (``"cpu"``, ``"cuda"``...); by default the
            device of the model's parameters, as torchinfo's. The model itself is not moved.
        input_data (Tensor or sequence, optional): inputs to use instead of zeros of
            ``input_size``.
        mode (str): ``"eval"`` (default), ``"train"`` or ``"same"``: the mode to run forward in.

    Returns:
        Summary: print it; numbers are its attributes (``total_params``, ``trainable_params``,
        ``frozen_params``, ``flops``, ``activation_bytes`` ...).
    """
    if device is None:
        device = next((p.device for p in model.parameters()), "cpu")
    if mode not in ("eval", "train", "same"):
        raise ValueError(f"mode must be 'eval', 'train' or 'same', got {mode!r}")
    inputs = _inputs(input_size, dtypes, input_data, device)

    modes = {m: m.training for m in model.modules()}
    buffers = {name: b._data.copy() for name, b in model.named_buffers() if b is not None}
    names = {id(m): n for n, m in model.named_modules()}
    layers: list = []
    stack: list = []  # LayerInfo of the calls in progress, and how many children each has had
    handles = []

    def pre_hook(module: Any, args: tuple) -> None:
        depth_now = len(stack)
        if stack:
            stack[-1][1] += 1
            index = f"{depth_now}-{stack[-1][1]}"
        else:
            index = "0"
        info = LayerInfo(names.get(id(module), "?"), type(module).__name__, depth_now, index, [],
                         _count(module), _trainable(module), 0)
        layers.append(info)
        stack.append([info, 0])

    def post_hook(module: Any, args: tuple, output: Any) -> None:
        info, children = stack.pop()
        outs = _tensors(output)
        info.output_shapes = [tuple(t.shape) for t in outs]
        info.output_bytes = sum(t._data.nbytes for t in outs)
        info.macs = _macs(module, args, outs)
        info.is_leaf = children == 0

    try:
        for m in model.modules():
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(post_hook))
        if mode != "same":
            model.train(mode == "train")
        with grad_mode.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes.items():
            m.training = training
        for name, b in model.named_buffers():  # a train-mode forward moved the running stats
            if name in buffers:
                b._data[...] = buffers[name]

    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    # leaf modules only: a container's output is its last child's, which would count twice
    activations = sum(layer.output_bytes for layer in layers if layer.is_leaf)
    return Summary(type(model).__name__, layers, depth, total, trainable,
                   sum(layer.macs for layer in layers),
                   sum(t._data.nbytes for t in inputs), activations,
                   sum(p._data.nbytes for p in params))


def _inputs(input_size: Any, dtypes: Sequence | None, input_data: Any, device: Any) -> list:
    if input_data is not None:
        data = [input_data] if isinstance(input_data, Tensor) else list(input_data)
        for i, t in enumerate(data):
            if not isinstance(t, Tensor):
                raise TypeError(f"input_data[{i}] must be a Tensor, got {type(t).__name__}")
        return data
    sizes = input_size
    if not isinstance(sizes, (tuple, list)) or not sizes:
        raise TypeError(f"input_size must be a shape tuple or a list of them, got {input_size!r}")
    if all(isinstance(s, int) for s in sizes):
        sizes = [tuple(sizes)]
    sizes = [tuple(s) for s in sizes]
    for s in sizes:
        if not all(isinstance(d, int) and d >= 0 for d in s):
            raise ValueError(f"input_size entries must be shapes of non-negative ints, got {s}")
    kinds = list(dtypes) if dtypes is not None else [_dtypes.float32] * len(sizes)
    if len(kinds) != len(sizes):
        raise ValueError(f"got {len(kinds)} dtypes for {len(sizes)} inputs")
    return [zeros(s, dtype=d, device=device) for s, d in zip(sizes, kinds)]


def _tensors(output: Any) -> list:
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for o in output for t in _tensors(o)]
    if isinstance(output, dict):
        return [t for o in output.values() for t in _tensors(o)]
    return []


def _count(module: Any) -> int:
    return sum(p.numel() for p in module.parameters())


def _trainable(module: Any) -> str:
    flags = {p.requires_grad for p in module.parameters()}
    if not flags:
        return "--"
    return "Partial" if len(flags) == 2 else str(flags.pop())


def _macs(module: Any, args: tuple, outs: list) -> int:
    """Multiply-accumulates of a Conv or Linear call: one per weight use (bias adds not counted).

    Conv2d: each output element takes (in_channels / groups) · kh · kw of them; ConvTranspose2d:
    each input element is spread by (out_channels / groups) · kh · kw; Linear: in_features per
    output element.
    """
    from ..nn import Conv2d, ConvTranspose2d, Linear

    if not outs:
        return 0
    if isinstance(module, ConvTranspose2d):
        x = args[0]
        per = module.out_channels // module.groups * _prod(module.kernel_size)
        return x.numel() * per
    if isinstance(module, Conv2d):
        per = module.in_channels // module.groups * _prod(module.kernel_size)
        return outs[0].numel() * per
    if isinstance(module, Linear):
        return outs[0].numel() * module.in_features
    return 0


def _prod(xs: Sequence) -> int:
    n = 1
    for x in xs:
        n *= x
    return n
