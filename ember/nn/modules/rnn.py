"""Recurrent layers: ``RNN``, ``LSTM`` (with ``proj_size``), ``GRU`` and their cells.

Each layer and direction is one fused node over every time step (``ops.recurrent.RnnLayer``);
the parameters carry torch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0``)
and shapes, so torch's state_dicts load unchanged. The cells are composed of ember ops, as
torch's are, so their ``grad_fn`` reads the same.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

from ...creation import empty, zeros
from ...dtypes import float32
from ...ops.arrange import cat, stack
from ...ops.recurrent import MkldnnRnnLayer, RnnLayer, TransposeInplace
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence, _packed_to_padded, _padded_to_packed
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_hx_dim(h: Tensor, c: Tensor | None, ndim: int, kind: str) -> None:
    """torch's error when the initial state (``c``: an LSTM's cell state, else None) is not
    ``ndim``-D like the ``kind`` ("batched"/"unbatched") input."""
    for t in (h,) if c is None else (h, c):
        if t.dim() != ndim:
            raise RuntimeError(
                f"For {kind} {ndim}-D input, hx should also be {ndim}-D but got {h.dim()}-D "
                "tensor" if c is None else
                f"For {kind} {ndim}-D input, hx and cx should also be {ndim}-D but got "
                f"({h.dim()}-D, {c.dim()}-D) tensors")


def _select_batch(h: Tensor, c: Tensor | None, indices: Tensor) -> tuple:
    """The hidden (and cell) states' batch entries (dim 1) reordered by ``indices``."""
    return h.index_select(1, indices), None if c is None else c.index_select(1, indices)


class RNNBase(Module):
    """Base of ``RNN``, ``LSTM`` and ``GRU``: the parameters of every layer and direction."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                     "dropout", "bidirectional", "proj_size"]

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                names = []
                for kind, shape in shapes:
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters, one list per layer and direction."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op, as torch's on CPU (there is no cuDNN weight buffer to compact)."""

    def reset_parameters(self) -> None:
        """Draws every parameter from U(-k, k), k = 1/sqrt(hidden_size)."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)

    # -- forward ----------------------------------------------------------------------------------

    def _check_input(self, input: Tensor, batch_sizes: Any) -> None:
        if not (input.dtype.is_floating_point):
            raise ValueError(f"input must have the type {self._flat_weights[0].dtype}, got type "
                             f"{input.dtype}")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def _hidden_size(self, input: Tensor, batch_sizes: Any, proj: bool) -> tuple:
        batch = int(batch_sizes[0]) if batch_sizes is not None else \
            input.size(0 if self.batch_first else 1)
        size = self.proj_size if proj and self.proj_size > 0 else self.hidden_size
        return (self.num_layers * (2 if self.bidirectional else 1), batch, size)

    @staticmethod
    def _check_hidden(hx: Tensor, expected: tuple, msg: str = "Expected hidden size {}, got {}"
                      ) -> None:
        if tuple(hx.shape) != expected:
            raise RuntimeError(msg.format(expected, list(hx.shape)))

    def _mkldnn(self, x: Tensor) -> bool:
        """Whether torch runs this layer with oneDNN (its node names differ)."""
        return self.mode == "LSTM" and self.proj_size == 0 and x.dtype is float32

    def _run(self, x: Tensor, h0: Tensor, c0: Tensor | None, sizes: tuple | None) -> tuple:
        """All layers over the padded ``(T, B, I)`` input; returns ``(y, h_n, c_n)``."""
        weights = [{n.split("_l")[0]: getattr(self, n) for n in names}
                   for names in self._all_weights]
        return run_layers(x, h0, c0, weights, mode=self.mode, num_layers=self.num_layers,
                          bidirectional=self.bidirectional, dropout=self.dropout,
                          train=self.training, mkldnn=self._mkldnn(x), sizes=sizes)

    def _forward(self, input: Any, hx: Any) -> tuple:
        name = type(self).__name__
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        batch_sizes = sorted_indices = unsorted_indices = None
        unbatched = False
        if packed:
            data, batch_sizes = input.data, input.batch_sizes
            sorted_indices, unsorted_indices = input.sorted_indices, input.unsorted_indices
            self._check_input(data, batch_sizes)
            x, sizes = _packed_to_padded(data, batch_sizes)
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D "
                                 "instead")
            weight_dtype = self._flat_weights[0].dtype
            if input.dtype != weight_dtype:
                t, w = str(input.dtype), str(weight_dtype)
                raise ValueError(f"RNN input dtype ({t}) does not match weight dtype ({w}). "
                                 f"Convert input: input.to({w}), or convert model: "
                                 f"model.to({t})")
            unbatched = input.dim() == 2
            if unbatched:
                input = input.unsqueeze(1 if not self.batch_first else 0)
            self._check_input(input, None)
            x = input.transpose(0, 1) if self.batch_first else input
            sizes = None
        h_shape = self._hidden_size(x, batch_sizes, True) if not packed else \
            self._hidden_size(data, batch_sizes, True)
        if packed:
            h_shape = (h_shape[0], int(batch_sizes[0]), h_shape[2])
        else:
            h_shape = (h_shape[0], x.size(1), h_shape[2])
        c_shape = (h_shape[0], h_shape[1], self.hidden_size)
        if hx is None:
            h0 = zeros(h_shape, dtype=x.dtype, device=x.device)
            c0 = zeros(c_shape, dtype=x.dtype, device=x.device) if lstm else None
        else:
            if lstm:
                h0, c0 = hx[0], hx[1]  # (a tuple or a list; torch indexes it the same way)
            else:
                h0, c0 = hx, None
            if unbatched:
                _check_hx_dim(h0, c0, 2, "unbatched")
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if lstm else None
            elif not packed:
                _check_hx_dim(h0, c0, 3, "batched")
            if sorted_indices is not None:
                h0, c0 = _select_batch(h0, c0, sorted_indices)
            if lstm:
                self._check_hidden(h0, h_shape, "Expected hidden[0] size {}, got {}")
                self._check_hidden(c0, c_shape, "Expected hidden[1] size {}, got {}")
            else:
                self._check_hidden(h0, h_shape)
        y, h_n, c_n = self._run(x, h0, c0, sizes)
        if packed:
            out: Any = PackedSequence(_padded_to_packed(y, batch_sizes), batch_sizes,
                                      sorted_indices, unsorted_indices)
            if unsorted_indices is not None:
                h_n, c_n = _select_batch(h_n, c_n, unsorted_indices)
        else:
            if self.batch_first:  # torch's GRU/RNN layers swap their result in place; its
                # LSTM transposes out of place, whatever its dtype or projection
                out = y.transpose(0, 1) if lstm else TransposeInplace.apply(y)
            else:
                out = y
            if unbatched:
                out = out.squeeze(0 if self.batch_first else 1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if lstm else None
        return out, ((h_n, c_n) if lstm else h_n)


def run_layers(x: Tensor, h0: Tensor, c0: Tensor | None, weights: list, *, mode: str,
               num_layers: int, bidirectional: bool, dropout: float, train: bool, mkldnn: bool,
               sizes: tuple | None = None) -> tuple:
    """Every layer and direction over the padded ``(T, B, I)`` input (``torch.lstm`` and the
    RNN modules run this): ``weights[layer * D + direction]`` maps ``weight_ih``,
    ``weight_hh`` and, where present, ``bias_ih``, ``bias_hh``, ``weight_hr`` to tensors.
    Returns ``(y, h_n, c_n)`` (``c_n`` None unless LSTM)."""
    D = 2 if bidirectional else 1
    layer_op = MkldnnRnnLayer if mkldnn else RnnLayer
    hs, cs = [], []
    for layer in range(num_layers):
        outs = []
        for direction in range(D):
            k = layer * D + direction
            p = weights[k]
            y, h, c = layer_op.apply(
                x, p["weight_ih"], p["weight_hh"], p.get("bias_ih"), p.get("bias_hh"),
                p.get("weight_hr"), h0[k], None if c0 is None else c0[k], mode=mode,
                reverse=direction == 1, sizes=sizes)
            outs.append(y)
            hs.append(h)
            cs.append(c)
        x = outs[0] if D == 1 else cat(outs, 2)
        if dropout and train and layer < num_layers - 1:
            x = F.dropout(x, dropout, True)
    return x, stack(hs), (stack(cs) if c0 is not None else None)


class RNN(RNNBase):
    """An Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ReLU).

    Args:
        input_size, hidden_size, num_layers, nonlinearity (``'tanh'`` or ``'relu'``), bias,
        batch_first, dropout (between layers), bidirectional: as torch's.

    Shape:
        input ``(L, N, H_in)`` (``(N, L, H_in)`` with batch_first, ``(L, H_in)`` unbatched) or a
        ``PackedSequence``; ``h_0`` ``(D * num_layers, N, H_out)``. Returns ``(output, h_n)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple:
        return self._forward(input, hx)


class LSTM(RNNBase):
    """Long short-term memory, torch's gates ``i, f, g, o``; ``proj_size > 0`` projects each
    hidden state to ``proj_size`` features (``weight_hr``).

    Shape:
        as :class:`RNN`, with the state a pair ``(h_0, c_0)``; ``c`` has ``hidden_size``
        features. Returns ``(output, (h_n, c_n))``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input: Any, hx: tuple | None = None) -> tuple:
        return self._forward(input, hx)


class GRU(RNNBase):
    """Gated recurrent unit, torch's gates ``r, z, n``:
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    Shape:
        as :class:`RNN`. Returns ``(output, h_n)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple:
        return self._forward(input, hx)


# -- cells -----------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """Base of the cells: ``weight_ih`` ``(chunks*H, I)``, ``weight_hh`` ``(chunks*H, H)``."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), device=device,
                                         dtype=dtype))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), device=device,
                                         dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        """Draws every parameter from U(-k, k), k = 1/sqrt(hidden_size)."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, input: Tensor, hx: Any, name: str, lstm: bool = False) -> tuple:
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             "instead")
        if hx is not None:
            for h in hx if lstm else (hx,):
                if h.dim() not in (1, 2):
                    raise ValueError(f"{name}: Expected hx[0] to be 1D or 2D, got {h.dim()}D "
                                     "instead" if lstm else
                                     f"{name}: Expected hidden to be 1D or 2D, got {h.dim()}D "
                                     "instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            h = zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)
            hx = (h, h) if lstm else h
        elif not batched:
            hx = tuple(h.unsqueeze(0) for h in hx) if lstm else hx.unsqueeze(0)
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected "
                               f"{self.input_size}")
        for i, h in enumerate(hx if lstm else (hx,)):
            if h.size(0) != input.size(0):
                raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{i} "
                                   f"batch size {h.size(0)}")
            if h.size(1) != self.hidden_size:
                raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got {h.size(1)}, "
                                   f"expected {self.hidden_size}")
        return input, hx, batched

    def _gates(self, input: Tensor, h: Tensor) -> tuple:
        gi = F.linear(input, self.weight_ih, self.bias_ih)
        gh = F.linear(h, self.weight_hh, self.bias_hh)
        return gi, gh


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or ReLU)."""

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        input, hx, batched = self._prepare(input, hx, "RNNCell")
        gi, gh = self._gates(input, hx)
        pre = gi + gh
        out = pre.tanh() if self.nonlinearity == "tanh" else pre.relu()
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        input, (h, c), batched = self._prepare(input, hx, "LSTMCell", lstm=True)
        gi, gh = self._gates(input, h)
        i, f, g, o = (gi + gh).chunk(4, 1)
        c1 = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h1 = o.sigmoid() * c1.tanh()
        return (h1, c1) if batched else (h1.squeeze(0), c1.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: ``h' = (1 - z) * n + z * h``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, h, batched = self._prepare(input, hx, "GRUCell")
        gi, gh = self._gates(input, h)
        ir, iz, in_ = gi.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r = (ir + hr).sigmoid()
        z = (iz + hz).sigmoid()
        n = (in_ + r * hn).tanh()
        out = (h - n) * z + n  # torch's form of (1 - z) * n + z * h, for the same rounding
        return out if batched else out.squeeze(0)
