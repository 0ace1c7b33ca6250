"""``torch.onnx``: ``export`` writes a standard ONNX model of a module's (or function's) forward,
traced once by ``ember._trace`` on example inputs; it needs the ``onnx`` package
(``pip install 'ember[onnx]'``). Every other torch.onnx name ember lacks raises
``MissingAPIError`` naming it (``hasattr`` stays False)."""
from __future__ import annotations

import enum
import os
from typing import Any, Callable, Mapping, Sequence

from .._missing import module_getattr as _module_getattr
from . import _state, errors
from .errors import OnnxExporterError

__all__ = ["export", "is_in_onnx_export", "TrainingMode", "OperatorExportTypes",
           "OnnxExporterError", "ONNXProgram", "errors", "producer_name", "producer_version"]

producer_name = "ember"
producer_version = "0.1.0"


class TrainingMode(enum.IntEnum):
    """The mode the model is exported in: eval (default), as it is, or training."""

    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    """How ops are exported: ember writes plain ONNX operators only."""

    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


class ONNXProgram:
    """What ``export`` returns with ``dynamo=True``: the model proto, and ``save``."""

    def __init__(self, model_proto: Any) -> None:
        self.model_proto = model_proto

    def save(self, destination: str | os.PathLike) -> None:
        """Writes the model to ``destination`` (atomically)."""
        from ._export import write

        write(self.model_proto, destination)

    def __repr__(self) -> str:
        return f"ONNXProgram(model_proto=<{len(self.model_proto.graph.node)} nodes>)"


def is_in_onnx_export() -> bool:
    """True while ``export`` is tracing a model."""
    return _state.exporting


def export(model: Any, args: tuple[Any, ...] = (), f: str | os.PathLike | None = None, *,
           kwargs: dict[str, Any] | None = None, verbose: bool | None = None,
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           opset_version: int | None = None, dynamo: bool = True, external_data: bool = True,
           dynamic_shapes: Any = None, custom_translation_table: Mapping[Callable, Callable]
           | None = None, report: bool = False, optimize: bool = True, verify: bool = False,
           profile: bool = False, dump_exported_program: bool = False,
           artifacts_dir: str | os.PathLike = ".", export_params: bool = True,
           keep_initializers_as_inputs: bool = False,
           dynamic_axes: Mapping[str, Mapping[int, str]] | Mapping[str, Sequence[int]]
           | None = None, training: TrainingMode = TrainingMode.EVAL,
           operator_export_type: OperatorExportTypes = OperatorExportTypes.ONNX,
           do_constant_folding: bool = True, custom_opsets: Mapping[str, int] | None = None,
           export_modules_as_functions: Any = False,
           autograd_inlining: bool = True) -> ONNXProgram | None:
    """Exports ``model`` (a module or a function of tensors) to ONNX.

    The forward runs once on ``args`` (and ``kwargs``); every op it applies becomes ONNX
    operators, parameters and buffers become initializers under their ``state_dict`` names,
    and values that depend on no input are folded into initializers. The model is checked with
    ``onnx.checker`` and written atomically to ``f``.

    Args:
        model: the module or function to export.
        args: example positional inputs (a tuple, or one tensor).
        f: a path or binary file object to write to; None writes nothing.
        input_names, output_names: names of the graph's inputs and outputs, in order.
        opset_version: the ONNX opset (17 or later; default 18, torch's).
        dynamic_axes: ``{name: {axis: symbol}}`` or ``{name: [axes]}``: axes whose size may
            change, such as the batch (the model is traced a second time with those axes grown,
            and what changes becomes symbolic).
        training: ``TrainingMode.EVAL`` (default) exports in eval mode, ``PRESERVE`` as the
            model is, ``TRAINING`` in training mode (batch norm and dropout in training mode
            are not exportable).
        do_constant_folding: fold values that depend on no input into initializers.
        export_params: store the parameters in the model (else they become graph inputs).
        keep_initializers_as_inputs: also list the initializers as graph inputs.

    Returns:
        an :class:`ONNXProgram` with ``dynamo=True`` (torch's default), else None.

    The tracing options of torch's dynamo exporter (``dynamic_shapes``, ``report``,
    ``optimize``, ``verify``, ``profile``, ``custom_translation_table`` ...) are accepted;
    those that would change the result raise ``ValueError`` when set.
    """
    from ..tensor import Tensor
    from ._export import DEFAULT_OPSET, MIN_OPSET, build, write

    if dynamic_shapes is not None:
        raise ValueError("ember.onnx.export takes dynamic_axes, not dynamic_shapes")
    if custom_translation_table or custom_opsets:
        raise ValueError("ember.onnx.export has no custom translations or opsets")
    if operator_export_type != OperatorExportTypes.ONNX:
        raise ValueError("ember.onnx.export writes plain ONNX operators only "
                         "(operator_export_type=OperatorExportTypes.ONNX)")
    if export_modules_as_functions:
        raise ValueError("ember.onnx.export does not export modules as functions")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    import onnx

    if not MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(f"ember.onnx.export writes opset versions {MIN_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()}, not {opset}")
    if not isinstance(args, (tuple, list, Tensor)):
        raise TypeError(f"args must be a tuple of inputs, not {type(args).__name__}")
    mode = getattr(model, "training", None)
    wanted = {TrainingMode.EVAL: False, TrainingMode.TRAINING: True}.get(TrainingMode(training))
    if mode is not None and wanted is not None and mode != wanted:
        model.train(wanted)
    _state.exporting = True
    try:
        proto = build(model, args, kwargs, input_names=input_names, output_names=output_names,
                      opset=opset, dynamic_axes=dynamic_axes, fold=do_constant_folding,
                      export_params=export_params,
                      keep_initializers_as_inputs=bool(keep_initializers_as_inputs),
                      verbose=bool(verbose))
    finally:
        _state.exporting = False
        if mode is not None and wanted is not None and mode != wanted:
            model.train(mode)
    if f is not None:
        write(proto, f)
    return ONNXProgram(proto) if dynamo else None


__getattr__ = _module_getattr(__name__, "torch.onnx")  # torch's names ember lacks: MissingAPIError
