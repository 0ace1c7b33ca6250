"""ONNX converters: LSTM, GRU and RNN layers as ONNX's own operators."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._trace import Node, Value
from ..ops import (
    recurrent,
)
from ._ops import converts

# -- recurrent layers ---------------------------------------------------------------------------

# torch's gate blocks in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_GATES = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _gates(a: Any, order: list[int]) -> Any:
    blocks = np.split(np.asarray(a), len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


@converts(recurrent.RnnLayer, recurrent.MkldnnRnnLayer)
def _rnn(b: Any, node: Node) -> None:
    x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0 = node.args
    kw = node.kwargs
    mode = kw["mode"]
    if kw.get("sizes") is not None or w_hr is not None or mode not in _GATES:
        raise b.unsupported(node, "packed sequences or projections" if mode in _GATES else "")
    weights = [w for w in (w_ih, w_hh, b_ih, b_hh) if isinstance(w, Value)]
    if not all(w.is_static for w in weights):
        raise b.unsupported(node, "weights computed from the inputs")
    order = _GATES[mode]
    dt = b.np_dtype(x)
    hidden = w_hh.shape[1]
    W = b.const(_gates(w_ih.data, order)[None].astype(dt))
    R = b.const(_gates(w_hh.data, order)[None].astype(dt))
    zeros = np.zeros(len(order) * hidden, dt)
    bias = np.concatenate([_gates(v.data, order) if isinstance(v, Value) else zeros
                           for v in (b_ih, b_hh)])
    ins = [b.inp(x), W, R, b.const(bias[None].astype(dt)), ""]
    for state in (h0, c0) if mode == "LSTM" else (h0,):
        if isinstance(state, Value) and state.is_static and not np.asarray(state.data).any():
            ins.append("")  # zeros, ONNX's default: and it follows a dynamic batch
        elif isinstance(state, Value):
            s = b.tmp()
            b.emit("Unsqueeze", [b.inp(state), b.ints([0])], [s])
            ins.append(s)
        else:
            ins.append("")
    while ins and ins[-1] == "":
        ins.pop()
    attrs: dict = {"hidden_size": hidden,
                   "direction": "reverse" if kw.get("reverse") else "forward"}
    op_type = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    if mode == "GRU":
        attrs["linear_before_reset"] = 1  # torch: r * (W_hn h + b_hn)
    if mode == "RNN_RELU":
        attrs["activations"] = ["Relu"]
    y, yh, yc = b.tmp(), b.tmp(), b.tmp()
    outs = [y, yh] + ([yc] if mode == "LSTM" else [])
    b.emit(op_type, ins, outs, **attrs)
    b.emit("Squeeze", [y, b.ints([1])], [b.out(node, 0)])
    b.emit("Squeeze", [yh, b.ints([0])], [b.out(node, 1)])
    if mode == "LSTM":
        b.emit("Squeeze", [yc, b.ints([0])], [b.out(node, 2)])
    else:  # the op's empty third output
        b.emit("Identity", [b.const(np.zeros((0,), dt))], [b.out(node, 2)])


@converts(recurrent.TransposeInplace)
def _transpose01(b: Any, node: Node) -> None:
    n = len(node.args[0].shape)
    b.emit("Transpose", [b.inp(node.args[0])], [b.out(node)], perm=[1, 0] + list(range(2, n)))
