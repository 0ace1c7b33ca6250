"""``ember export CHECKPOINT -o model.onnx``: a checkpoint of ``ember finetune`` as an ONNX model
(its image input, with a dynamic batch size, and its class logits), for onnxruntime and other
runtimes. The class names and the input's preprocessing go into the model's metadata."""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from ._common import CLIError, InputError, RunError, describe

__all__ = ["add_parser", "command"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export", help="write a finetuned checkpoint as an ONNX model",
        description="Write the model of a checkpoint from `ember finetune` as an ONNX model: "
                    "input 'image' (batch x 3 x SIZE x SIZE, float32, normalized as the "
                    "checkpoint's transforms do), output 'logits' (batch x classes). The class "
                    "names, image size and normalization are stored in its metadata.")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint.pt from `ember finetune`")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="the .onnx file to write (default: CHECKPOINT with .onnx)")
    p.add_argument("--opset", type=int, default=None,
                   help="the ONNX opset version (default: 18, as torch)")
    p.add_argument("--static-batch", action="store_true",
                   help="a fixed batch size of 1 instead of a dynamic batch axis")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    return p


def command(ns: argparse.Namespace) -> int:
    from ._models import IMAGENET_MEAN, IMAGENET_STD, read_checkpoint
    from .predict import _from_checkpoint

    try:
        import onnx  # noqa: F401
    except ImportError:
        raise RunError("ember export needs the onnx package: pip install 'ember[onnx]'") from None
    out = ns.output or os.path.splitext(ns.checkpoint)[0] + ".onnx"
    if os.path.exists(out) and not ns.overwrite:
        raise CLIError(f"'{out}' exists (--overwrite replaces it)")
    model, classes, _ = _from_checkpoint(ns.checkpoint, "cpu")  # (an ONNX file has no device)
    ckpt = read_checkpoint(ns.checkpoint)
    size, arch = ckpt["image_size"], ckpt["arch"]
    import ember
    import ember.onnx

    model.eval()
    example = ember.zeros(1, 3, size, size, device="cpu")
    start = time.perf_counter()
    try:
        program = ember.onnx.export(
            model, (example,), None, input_names=["image"], output_names=["logits"],
            opset_version=ns.opset,
            dynamic_axes=None if ns.static_batch else {"image": {0: "batch"},
                                                       "logits": {0: "batch"}})
    except ValueError as e:
        raise CLIError(describe(e)) from None
    proto = program.model_proto
    meta = {"arch": arch, "classes": json.dumps(classes), "image_size": str(size),
            "eval_resize": str(ckpt.get("eval_resize", size)),
            "mean": json.dumps(list(IMAGENET_MEAN)), "std": json.dumps(list(IMAGENET_STD))}
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        program.save(out)
    except OSError as e:
        raise InputError(f"can't write '{out}': {describe(e)}") from None
    took = time.perf_counter() - start
    batch = 1 if ns.static_batch else "batch"
    print(f"wrote {out}: {arch} with {len(classes)} classes, input 'image' "
          f"[{batch}, 3, {size}, {size}] float32, output 'logits' [{batch}, {len(classes)}] "
          f"({os.path.getsize(out) / 2**20:.1f} MiB, {took:.1f} s)")
    return 0
