"""``ember predict IMAGE...``: the top classes of each image, with their probabilities."""
from __future__ import annotations

import argparse
import os
from typing import Any

from ._common import CLIError, InputError, describe
from ._models import (build_model, check_checkpoint, eval_transform, load_weights, read_checkpoint,
                      replace_fc, resnet_names, shown)

__all__ = ["add_parser", "command", "predict"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict", help="classify images with ImageNet weights or a finetuned checkpoint",
        description="Print the top classes of each image with their probabilities: ImageNet's "
                    "categories with the ImageNet weights, the folder's class names with a "
                    "checkpoint written by `ember finetune`.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--checkpoint", metavar="C", help="a checkpoint.pt from `ember finetune`")
    p.add_argument("--model", default="resnet18", help="architecture without --checkpoint "
                                                       "(default: resnet18)")
    p.add_argument("--weights", default="imagenet", metavar="auto|imagenet|none|PATH",
                   help="weights without --checkpoint (default: imagenet)")
    p.add_argument("--topk", type=int, default=5, help="classes shown per image (default: 5)")
    return p


def _from_checkpoint(path: str) -> tuple[Any, list[str], Any]:
    """(model, class names, eval transform) of an ``ember finetune`` checkpoint."""
    ckpt = read_checkpoint(path)
    check_checkpoint(path, ckpt, ("model", "arch", "classes", "image_size"), ("eval_resize",))
    if ckpt["arch"] not in resnet_names():
        raise InputError(f"'{path}' is damaged: its 'arch' should name a ResNet "
                         f"({', '.join(resnet_names())}), not {shown(ckpt['arch'])}")
    model, _, _ = build_model(ckpt["arch"], "none")
    replace_fc(model, len(ckpt["classes"]))
    load_weights(path, model, ckpt["model"], f"{ckpt['arch']} with {len(ckpt['classes'])} classes")
    size = ckpt["image_size"]
    return model, list(ckpt["classes"]), eval_transform(size, ckpt.get("eval_resize", size))


def _from_weights(name: str, weights: str) -> tuple[Any, list[str], Any]:
    """(model, class names, eval transform) for --model/--weights."""
    from ember.vision import models

    model, enum, _ = build_model(name, weights)
    enum = enum or models.get_model_weights(name).DEFAULT  # what the architecture expects
    categories = list(enum.meta["categories"])
    if model.fc.out_features != len(categories):  # a state_dict finetuned elsewhere
        categories = [f"class {i}" for i in range(model.fc.out_features)]
    return model, categories, enum.transforms()


def _open_image(path: str) -> Any:
    from PIL import Image

    if not os.path.isfile(path):
        raise InputError(f"no such image: '{path}'")
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except Exception as e:  # noqa: BLE001 - a damaged file fails Pillow in many ways (ValueError,
        # SyntaxError, struct.error, DecompressionBombError, OSError): all of them are the file's
        raise InputError(f"can't read image '{path}': {describe(e)}") from None


def predict(model: Any, transform: Any, paths: list[str], k: int) -> list[list[tuple[int, float]]]:
    """Top-``k`` (class index, probability) pairs for each image, in eval mode."""
    import numpy as np

    import ember

    batch = ember.stack([transform(_open_image(p)) for p in paths])
    model.eval()
    with ember.no_grad():
        probs = ember.softmax(model(batch), dim=1)
    rows = probs.numpy()
    # A stable sort of the negated probabilities: ties keep the lower class index first.
    order = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    return [[(int(i), float(row[i])) for i in idx] for row, idx in zip(rows, order)]


def command(ns: argparse.Namespace) -> int:
    if ns.topk < 1:
        raise CLIError(f"--topk must be at least 1, got {ns.topk}")
    for path in ns.images:  # before building a model, which may download weights
        _open_image(path)
    if ns.checkpoint:
        model, names, transform = _from_checkpoint(ns.checkpoint)
    else:
        model, names, transform = _from_weights(ns.model, ns.weights)
    for path, top in zip(ns.images, predict(model, transform, ns.images, ns.topk)):
        print(path)
        for index, prob in top:
            print(f"  {prob:7.2%}  {names[index]}")
    return 0
