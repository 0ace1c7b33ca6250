"""``ember predict IMAGE...``: the top classes of each image, with their probabilities, as a
table (or a CSV file). IMAGE may be a file, a folder (its images, recursively, hidden entries
skipped) or a glob pattern ("photos/*.jpg", quoted so that ember expands it)."""
from __future__ import annotations

import argparse
import csv
import glob
import os
from typing import Any

from ._common import CLIError, InputError, describe, notice
from ._models import (
    DEVICE_HELP,
    build_model,
    check_checkpoint,
    eval_transform,
    load_weights,
    read_checkpoint,
    get_head,
    model_names,
    replace_fc,
    resolve_device,
    shown,
)

__all__ = ["add_parser", "command", "predict"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict", help="classify images with ImageNet weights or a finetuned checkpoint",
        description="Print the top classes of each image with their probabilities: ImageNet's "
                    "categories with the ImageNet weights, the folder's class names with a "
                    "checkpoint written by `ember finetune`.")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files, folders of images, or glob patterns")
    p.add_argument("--checkpoint", metavar="C", help="a checkpoint.pt from `ember finetune`")
    p.add_argument("--model", default="resnet18", help="architecture without --checkpoint "
                                                       "(default: resnet18)")
    p.add_argument("--weights", default="imagenet", metavar="auto|imagenet|none|PATH",
                   help="weights without --checkpoint (default: imagenet)")
    p.add_argument("--topk", type=int, default=5, help="classes shown per image (default: 5)")
    p.add_argument("--csv", metavar="FILE",
                   help="write the predictions to FILE (image, rank, class, probability) "
                        "instead of printing the table")
    p.add_argument("--device", metavar="cpu|cuda|auto", help=DEVICE_HELP)
    return p


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def expand_images(args: list[str]) -> list[str]:
    """The image files that the command line names: files as given, the images in a folder
    (recursively, sorted, hidden files and folders skipped) and the matches of a glob."""
    paths: list[str] = []
    for arg in args:
        if os.path.isdir(arg):
            found = []
            for root, dirs, files in os.walk(arg, followlinks=True):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found += [os.path.join(root, f) for f in files
                          if not f.startswith(".") and f.lower().endswith(_IMAGE_SUFFIXES)]
            if not found:
                raise InputError(f"no images in the folder '{arg}'")
            paths += sorted(found)
        elif not os.path.exists(arg) and glob.has_magic(arg):
            matches = sorted(p for p in glob.glob(arg, recursive=True) if os.path.isfile(p))
            if not matches:
                raise InputError(f"no file matches '{arg}'")
            paths += matches
        else:
            paths.append(arg)
    return paths


def _from_checkpoint(path: str, device: Any = None) -> tuple[Any, list[str], Any]:
    """(model, class names, eval transform) of an ``ember finetune`` checkpoint, the model on
    ``device`` (None: the default device)."""
    ckpt = read_checkpoint(path)
    check_checkpoint(path, ckpt, ("model", "arch", "classes", "image_size"), ("eval_resize",))
    if ckpt["arch"] not in model_names():
        raise InputError(f"'{path}' is damaged: its 'arch' should name a model of the zoo "
                         f"({', '.join(model_names())}), not {shown(ckpt['arch'])}")
    model, _, _ = build_model(ckpt["arch"], "none", device=device)
    replace_fc(model, len(ckpt["classes"]))
    load_weights(path, model, ckpt["model"], f"{ckpt['arch']} with {len(ckpt['classes'])} classes")
    size = ckpt["image_size"]
    return model, list(ckpt["classes"]), eval_transform(size, ckpt.get("eval_resize", size))


def _from_weights(name: str, weights: str, notes: list[str] | None = None,
                  device: Any = None) -> tuple[Any, list[str], Any]:
    """(model, class names, eval transform) for --model/--weights; what the user should know
    about the predictions is appended to ``notes``."""
    from ember.vision import models

    model, loaded, desc = build_model(name, weights, device=device)
    enum = loaded or models.get_model_weights(name).DEFAULT  # what the architecture expects
    categories = list(enum.meta["categories"])
    head = get_head(model)
    if head.out_features != len(categories):  # a state_dict finetuned elsewhere
        categories = [f"class {i}" for i in range(head.out_features)]
    elif loaded is None and desc.startswith("random init") and notes is not None:
        notes.append(f"showing ImageNet's class names, but {name} has random weights ({desc}): "
                     "the predictions mean nothing")
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
    """Top-``k`` (class index, probability) pairs for each image, in eval mode, on the model's
    device."""
    import numpy as np

    import ember

    from .finetune import model_device

    model.eval()
    device = model_device(model)
    chunks = []
    for i in range(0, len(paths), 32):  # a folder of photos need not fit in memory at once
        batch = ember.stack([transform(_open_image(p)) for p in paths[i:i + 32]])
        with ember.no_grad():
            chunks.append(ember.softmax(model(batch.to(device)), dim=1).cpu().numpy())
    rows = np.concatenate(chunks)
    # A stable sort of the negated probabilities: ties keep the lower class index first.
    order = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    return [[(int(i), float(row[i])) for i in idx] for row, idx in zip(rows, order)]


def _table(paths: list[str], names: list[str], tops: list[list[tuple[int, float]]]) -> str:
    """One row an image: its path, then each of its top classes with its probability."""
    k = max(len(t) for t in tops)
    header = ["image"] + [f"top-{i + 1}" for i in range(k)]
    rows = [[p] + [f"{names[c]} {prob:.2%}" for c, prob in top] for p, top in zip(paths, tops)]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(k + 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip()
                     for r in [header, *rows])


def command(ns: argparse.Namespace) -> int:
    if ns.topk < 1:
        raise CLIError(f"--topk must be at least 1, got {ns.topk}")
    device = resolve_device(ns.device)
    paths = expand_images(ns.images)
    for path in paths:  # before building a model, which may download weights
        _open_image(path)
    notes: list[str] = []
    if ns.checkpoint:
        model, names, transform = _from_checkpoint(ns.checkpoint, device)
    else:
        model, names, transform = _from_weights(ns.model, ns.weights, notes, device)
    tops = predict(model, transform, paths, ns.topk)
    for note in notes:  # once the predictions exist: a failure stays one error line
        notice(note)
    if ns.csv:
        with open(ns.csv, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["image", "rank", "class", "probability"])
            for path, top in zip(paths, tops):
                for rank, (index, prob) in enumerate(top, 1):
                    out.writerow([path, rank, names[index], f"{prob:.6f}"])
        print(f"{len(paths)} image{'s' * (len(paths) > 1)}: predictions written to {ns.csv}")
        return 0
    print(_table(paths, names, tops))
    return 0
