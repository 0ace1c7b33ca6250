"""ONNX converters: element-wise ops, activations, reductions, softmax, comparisons
and masks, casts."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .. import dtypes
from .._trace import Node, Value
from .._trace.tracer import ArgExtremum, Ufunc
from ..ops import (
    activation,
    activation_ext,
    arrange,
    compare,
    convert,
    elementwise,
    indexing,
    reduce,
    scatter,
    shape,
    unary,
)
from ._ops import _operand, converts

# -- element-wise -----------------------------------------------------------------------------


def _binary(op_type: str) -> Callable:
    def convert_(b: Any, node: Node) -> None:
        out = node.outputs[0]
        x, y = (_operand(b, a, out) for a in node.args[:2])
        alpha = node.kwargs.get("alpha", 1)
        if alpha != 1:
            y2 = b.tmp()
            b.emit("Mul", [y, b.const(np.asarray(alpha, b.np_dtype(out)))], [y2])
            y = y2
        b.emit(op_type, [x, y], [b.out(node)])
    return convert_


converts(elementwise.Add)(_binary("Add"))
converts(elementwise.Sub)(_binary("Sub"))
converts(elementwise.Mul)(_binary("Mul"))


@converts(elementwise.Div)
def _div(b: Any, node: Node) -> None:
    if node.outputs[0].dtype.is_floating_point:
        return _binary("Div")(b, node)
    raise b.unsupported(node)


@converts(elementwise.PowScalar)
def _pow(b: Any, node: Node) -> None:
    x, out = node.args[0], node.outputs[0]
    e = node.kwargs["exponent"]
    if e == 2:
        b.emit("Mul", [b.inp(x), b.inp(x)], [b.out(node)])
    elif e == 0.5:
        b.emit("Sqrt", [b.inp(x)], [b.out(node)])
    else:
        b.emit("Pow", [b.inp(x, out.dtype), _operand(b, e, out)], [b.out(node)])


def _unary(op_type: str, **attrs: Any) -> Callable:
    def convert_(b: Any, node: Node) -> None:
        b.emit(op_type, [b.inp(node.args[0])], [b.out(node)], **attrs)
    return convert_


for _cls, _name in ((unary.Relu, "Relu"), (unary.Sigmoid, "Sigmoid"), (unary.Tanh, "Tanh"),
                    (unary.Exp, "Exp"), (unary.Abs, "Abs"), (unary.Neg, "Neg"),
                    (unary.Sqrt, "Sqrt"), (unary.Reciprocal, "Reciprocal"),
                    (activation.Hardswish, "HardSwish"), (unary.Log, "Log"),
                    (unary.Sin, "Sin"), (unary.Cos, "Cos"), (unary.Rsqrt, None)):
    if _name is not None:
        converts(_cls)(_unary(_name))
converts(activation.Hardsigmoid)(_unary("HardSigmoid", alpha=1 / 6, beta=0.5))
converts(convert.Clone, shape.Alias)(_unary("Identity"))


@converts(unary.Rsqrt)
def _rsqrt(b: Any, node: Node) -> None:
    s = b.tmp()
    b.emit("Sqrt", [b.inp(node.args[0])], [s])
    b.emit("Reciprocal", [s], [b.out(node)])


@converts(activation.Silu)
def _silu(b: Any, node: Node) -> None:
    x, s = b.inp(node.args[0]), b.tmp()
    b.emit("Sigmoid", [x], [s])
    b.emit("Mul", [x, s], [b.out(node)])


@converts(activation.Hardtanh)
def _hardtanh(b: Any, node: Node) -> None:
    out = node.outputs[0]
    lo, hi = node.kwargs["lo"], node.kwargs["hi"]
    b.emit("Clip", [b.inp(node.args[0]), _operand(b, lo, out), _operand(b, hi, out)],
           [b.out(node)])


@converts(compare.ClampScalar)
def _clamp(b: Any, node: Node) -> None:
    out = node.outputs[0]
    lo, hi = node.kwargs.get("min"), node.kwargs.get("max")
    ins = [b.inp(node.args[0]), "" if lo is None else _operand(b, lo, out),
           "" if hi is None else _operand(b, hi, out)]
    b.emit("Clip", ins, [b.out(node)])


@converts(activation.LeakyRelu)
def _leaky(b: Any, node: Node) -> None:
    b.emit("LeakyRelu", [b.inp(node.args[0])], [b.out(node)], alpha=float(node.kwargs["slope"]))


@converts(activation.Elu)
def _elu(b: Any, node: Node) -> None:
    """scale * elu(input_scale * x, alpha): elu, selu and celu's family."""
    kw, out = node.kwargs, node.outputs[0]
    x = b.inp(node.args[0])
    if kw.get("input_scale", 1.0) != 1.0:
        t = b.tmp()
        b.emit("Mul", [x, _operand(b, kw["input_scale"], out)], [t])
        x = t
    if kw.get("scale", 1.0) == 1.0:
        b.emit("Elu", [x], [b.out(node)], alpha=float(kw["alpha"]))
        return
    e = b.tmp()
    b.emit("Elu", [x], [e], alpha=float(kw["alpha"]))
    b.emit("Mul", [e, _operand(b, kw["scale"], out)], [b.out(node)])


@converts(activation.Gelu)
def _gelu(b: Any, node: Node) -> None:
    x, out = b.inp(node.args[0]), node.outputs[0]
    c = lambda v: b.const(np.asarray(v, b.np_dtype(out)))
    if b.opset >= 20:
        b.emit("Gelu", [x], [b.out(node)], approximate=node.kwargs["approximate"])
        return
    inner = b.tmp()
    if node.kwargs["approximate"] == "tanh":  # 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
        x3, t1, t2, t3 = b.tmp(), b.tmp(), b.tmp(), b.tmp()
        b.emit("Pow", [x, c(3.0)], [x3])
        b.emit("Mul", [x3, c(0.044715)], [t1])
        b.emit("Add", [x, t1], [t2])
        b.emit("Mul", [t2, c(math.sqrt(2 / math.pi))], [t3])
        b.emit("Tanh", [t3], [inner])
    else:  # 0.5x(1 + erf(x / sqrt 2))
        t = b.tmp()
        b.emit("Mul", [x, c(1 / math.sqrt(2))], [t])
        b.emit("Erf", [t], [inner])
    # x * (1 + inner) * 0.5, in the order torch writes it (onnxruntime fuses that pattern)
    one, prod = b.tmp(), b.tmp()
    b.emit("Add", [inner, c(1.0)], [one])
    b.emit("Mul", [x, one], [prod])
    b.emit("Mul", [prod, c(0.5)], [b.out(node)])


@converts(indexing.MaskedFill)
def _masked_fill(b: Any, node: Node) -> None:
    out = node.outputs[0]
    x, value = node.args[0], node.args[1]
    m = b.option(node, "mask", bool)
    b.emit("Where", [m, _operand(b, value, out), b.inp(x)], [b.out(node)])


# -- reductions and softmax ---------------------------------------------------------------------


def _reduce(op_type: str) -> Callable:
    def convert_(b: Any, node: Node) -> None:
        x = node.args[0]
        axes = node.kwargs.get("axes")
        if axes is None:
            axes = tuple(range(len(x.shape)))
        keep = int(bool(node.kwargs.get("keepdim", False)))
        b.reduce(op_type, b.inp(x, node.outputs[0].dtype), axes, keep, b.out(node))
    return convert_


converts(reduce.MeanDim, reduce.Mean)(_reduce("ReduceMean"))
converts(reduce.SumDim, reduce.Sum)(_reduce("ReduceSum"))
converts(reduce.Amax)(_reduce("ReduceMax"))


@converts(reduce.MaxDim)
def _max_dim(b: Any, node: Node) -> None:
    x, d = b.inp(node.args[0]), node.kwargs["dim"]
    keep = int(bool(node.kwargs.get("keepdim", False)))
    b.reduce("ReduceMax", x, (d,), keep, b.out(node, 0))
    b.emit("ArgMax", [x], [b.out(node, 1)], axis=d, keepdims=keep)


@converts(reduce.Softmax)
def _softmax(b: Any, node: Node) -> None:
    b.emit("Softmax", [b.inp(node.args[0], node.outputs[0].dtype)], [b.out(node)],
           axis=node.kwargs["dim"])


@converts(reduce.LogSoftmax)
def _log_softmax(b: Any, node: Node) -> None:
    b.emit("LogSoftmax", [b.inp(node.args[0], node.outputs[0].dtype)], [b.out(node)],
           axis=node.kwargs["dim"])


@converts(convert.ToCopy)
def _to_copy(b: Any, node: Node) -> None:
    x, out = node.args[0], node.outputs[0]
    if x.dtype is out.dtype:
        b.emit("Identity", [b.inp(x)], [b.out(node)])
    else:
        b.emit("Cast", [b.inp(x)], [b.out(node)], to=b.onnx_type(out))


# -- masks, comparisons, selection ---------------------------------------------------------------

_UFUNCS = {"equal": "Equal", "less": "Less", "less_equal": "LessOrEqual", "greater": "Greater",
           "greater_equal": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or",
           "logical_xor": "Xor", "bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor"}


@converts(Ufunc)
def _ufunc(b: Any, node: Node) -> None:
    ufunc = node.kwargs["ufunc"]
    out = node.outputs[0]
    a, c = node.args
    like = a if isinstance(a, Value) else c
    if ufunc.startswith("logical"):  # on any dtype: nonzero is True
        names = []
        for v in (a, c):
            t = b.tmp()
            b.emit("Cast", [_operand(b, v, like)], [t], to=b.onnx_type(out))
            names.append(t)
    else:
        if ufunc.startswith("bitwise") and out.dtype is not dtypes.bool:
            raise b.unsupported(node, f"{ufunc} on integers")
        # compared in the dtype torch promotes both to
        common = dtypes.promote_types(a.dtype, c.dtype) if isinstance(c, Value) and \
            isinstance(a, Value) else like.dtype
        names = [b.inp(v, common) if isinstance(v, Value) else b.const(
            np.asarray(v, np.dtype(common.np))) for v in (a, c)]
    if ufunc == "not_equal":
        t = b.tmp()
        b.emit("Equal", names, [t])
        b.emit("Not", [t], [b.out(node)])
    elif ufunc in _UFUNCS:
        b.emit(_UFUNCS[ufunc], names, [b.out(node)])
    else:
        raise b.unsupported(node, ufunc)


@converts(compare.Where)
def _where(b: Any, node: Node) -> None:
    out = node.outputs[0]
    c = b.option(node, "cond", bool)
    b.emit("Where", [c] + [_operand(b, a, out) if not isinstance(a, Value) else b.inp(a, out.dtype)
                           for a in node.args[:2]], [b.out(node)])


def _binary_same(op_type: str) -> Callable:
    def convert_(b: Any, node: Node) -> None:
        out = node.outputs[0]
        b.emit(op_type, [b.inp(a, out.dtype) if isinstance(a, Value) else _operand(b, a, out)
                         for a in node.args[:2]], [b.out(node)])
    return convert_


converts(compare.Maximum)(_binary_same("Max"))
converts(compare.Minimum)(_binary_same("Min"))


@converts(compare.ClampMin, compare.ClampMax)
def _clamp_one(b: Any, node: Node) -> None:
    out = node.outputs[0]
    lo, hi = node.kwargs.get("min"), node.kwargs.get("max")
    ins = [b.inp(node.args[0]), "" if lo is None else _operand(b, lo, out),
           "" if hi is None else _operand(b, hi, out)]
    b.emit("Clip", ins, [b.out(node)])


@converts(arrange.Unbind)
def _unbind(b: Any, node: Node) -> None:
    d = node.kwargs["dim"]
    n = len(node.outputs)
    parts = [b.tmp() for _ in range(n)]
    b.emit("Split", [b.inp(node.args[0]), b.ints([1] * n)], parts, axis=d)
    for i, p in enumerate(parts):
        b.emit("Squeeze", [p, b.ints([d])], [b.out(node, i)])


@converts(arrange.Flip)
def _flip(b: Any, node: Node) -> None:
    dims = list(node.kwargs["dims"])
    big = 2 ** 63 - 1
    b.emit("Slice", [b.inp(node.args[0]), b.ints([-1] * len(dims)), b.ints([-big] * len(dims)),
                     b.ints(dims), b.ints([-1] * len(dims))], [b.out(node)])


@converts(scatter.IndexSelect)
def _index_select(b: Any, node: Node) -> None:
    b.emit("Gather", [b.inp(node.args[0]), b.option(node, "index", np.int64)],
           [b.out(node)], axis=node.kwargs["dim"])


@converts(scatter.Gather)
def _gather(b: Any, node: Node) -> None:
    b.emit("GatherElements", [b.inp(node.args[0]), b.option(node, "index", np.int64)],
           [b.out(node)], axis=node.kwargs["dim"])


# -- more element-wise ---------------------------------------------------------------------------

for _cls, _name in ((unary.Floor, "Floor"), (unary.Ceil, "Ceil"), (unary.Round, "Round"),
                    (unary.Sign, "Sign"), (unary.Erf, "Erf"), (unary.Sin, "Sin"),
                    (unary.Cos, "Cos")):
    converts(_cls)(_unary(_name))


@converts(activation.Softplus)
def _softplus(b: Any, node: Node) -> None:
    beta, threshold = node.kwargs.get("beta", 1.0), node.kwargs.get("threshold", 20.0)
    x, out = b.inp(node.args[0]), node.outputs[0]
    c = lambda v: b.const(np.asarray(v, b.np_dtype(out)))
    bx, sp, soft, big = b.tmp(), b.tmp(), b.tmp(), b.tmp()
    b.emit("Mul", [x, c(beta)], [bx])
    b.emit("Softplus", [bx], [sp])
    b.emit("Div", [sp, c(beta)], [soft])
    b.emit("Greater", [bx, c(threshold)], [big])  # torch: linear above the threshold
    b.emit("Where", [big, x, soft], [b.out(node)])


@converts(activation.Mish)
def _mish(b: Any, node: Node) -> None:
    x = b.inp(node.args[0])
    sp, th = b.tmp(), b.tmp()
    b.emit("Softplus", [x], [sp])
    b.emit("Tanh", [sp], [th])
    b.emit("Mul", [x, th], [b.out(node)])


@converts(activation.LogSigmoid)
def _log_sigmoid(b: Any, node: Node) -> None:
    x = b.inp(node.args[0])
    neg, sp = b.tmp(), b.tmp()
    b.emit("Neg", [x], [neg])
    b.emit("Softplus", [neg], [sp])  # log sigmoid(x) = -softplus(-x)
    b.emit("Neg", [sp], [b.out(node)])


@converts(activation.Celu)
def _celu(b: Any, node: Node) -> None:
    kw = node.kwargs
    if kw.get("scale", 1.0) != 1.0 or kw.get("input_scale", 1.0) != 1.0:
        raise b.unsupported(node)
    b.emit("Celu", [b.inp(node.args[0])], [b.out(node)], alpha=float(kw["alpha"]))


@converts(activation_ext.PreluKernel)
def _prelu(b: Any, node: Node) -> None:
    x, w = node.args
    weight = b.inp(w)
    if len(x.shape) > 1 and w.shape and w.shape[0] > 1:  # one slope per channel (dim 1)
        t = b.tmp()
        b.emit("Reshape", [weight, b.ints([-1] + [1] * (len(x.shape) - 2))], [t])
        weight = t
    b.emit("PRelu", [b.inp(x), weight], [b.out(node)])


@converts(unary.NanToNum)
def _nan_to_num(b: Any, node: Node) -> None:
    x, out = node.args[0], node.outputs[0]
    kw = node.kwargs
    info = np.finfo(b.np_dtype(out))
    name = b.inp(x)
    for test, value in ((lambda n: ("IsNaN", [n], {}), kw.get("nan") or 0.0),
                        (lambda n: ("IsInf", [n], {"detect_negative": 0}),
                         info.max if kw.get("posinf") is None else kw["posinf"]),
                        (lambda n: ("IsInf", [n], {"detect_positive": 0}),
                         info.min if kw.get("neginf") is None else kw["neginf"])):
        op_type, ins, attrs = test(name)
        mask, nxt = b.tmp(), b.tmp()
        b.emit(op_type, ins, [mask], **attrs)
        b.emit("Where", [mask, _operand(b, value, out), name], [nxt])
        name = nxt
    b.emit("Identity", [name], [b.out(node)])


@converts(ArgExtremum)
def _arg_extremum(b: Any, node: Node) -> None:
    x = node.args[0]
    kw = node.kwargs
    op_type = "ArgMax" if kw["name"] == "argmax" else "ArgMin"
    keep = int(bool(kw["keepdim"]))
    if kw["dim"] is None:  # over the flattened input
        flat, idx = b.tmp(), b.tmp()
        b.emit("Reshape", [b.inp(x), b.ints([-1])], [flat])
        b.emit(op_type, [flat], [idx], axis=0, keepdims=0)
        shape = [1] * len(x.shape) if keep else []
        b.emit("Reshape", [idx, b.ints(shape)], [b.out(node)])
    else:
        b.emit(op_type, [b.inp(x)], [b.out(node)], axis=int(kw["dim"]), keepdims=keep)
