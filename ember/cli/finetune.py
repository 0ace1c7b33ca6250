"""``ember finetune [IMAGE_FOLDER]``: the tutorial's finetuning recipe as a program.

Load a model of the zoo (a ResNet by default), freeze every parameter, replace its classifier
(a ResNet's ``fc``: the model's last ``Linear``) with a fresh ``Linear(in_features,
num_classes)``, and train with cross-entropy on an image folder's classes (or on the embedded
Digits dataset). Before the first epoch every image is opened once (unreadable ones are listed),
and the image size and augmentation are chosen from the images' sizes unless given. A frozen
backbone runs its BatchNorm layers in eval mode (``--bn-train`` to opt out): its features are
then the same every epoch, so with deterministic inputs they are computed once and cached, and
each epoch trains only the head. Each completed epoch is saved to ``checkpoint.pt`` in ``--out``
(the best one by validation accuracy also to ``best.pt``), ``metrics.csv`` gets a row an epoch,
and ``training.png`` and ``confusion.png`` are drawn when the run ends or is interrupted;
``--resume`` continues from the checkpoint and ends with the same weights as a run that was
never interrupted, because every epoch starts from its own seed.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from collections import defaultdict
from typing import Any

from ._common import CLIError, InputError, RunError, describe, notice
from ._features import CACHE_CHOICES
from ._models import (
    DEVICE_HELP,
    WEIGHT_CHOICES,
    _is_int,
    _is_number,
    build_model,
    check_checkpoint,
    check_model_name,
    eval_resize,
    eval_transform,
    load_weights,
    read_checkpoint,
    get_head,
    min_size,
    model_names,
    replace_fc,
    resolve_device,
    shown,
    train_transform,
)
from ._report import SCHEDULES

__all__ = ["add_parser", "command", "DEFAULTS", "stratified_split"]

AUGMENT_CHOICES = ("none", "light", "standard")  # as ._data's, which imports ember.vision

# Chosen so that `ember finetune` (Digits, frozen resnet18, 32 px) takes well under a minute on
# two cores (the backbone's features are computed once; about 91% validation accuracy offline).
# None means "chosen from the data": image_size from the images' sizes, augment from them too,
# lr from the optimizer (0.01 for SGD, 0.001 for Adam and AdamW).
DEFAULTS: dict[str, Any] = {
    "folder": None, "model": "resnet18", "weights": "auto", "epochs": 6, "batch_size": 32,
    "lr": None, "momentum": 0.9, "freeze": True, "image_size": None, "out": "runs/finetune",
    "workers": 0, "seed": 0, "val_fraction": 0.2, "augment": None, "optimizer": "sgd",
    "weight_decay": 0.0, "label_smoothing": 0.0, "lr_schedule": "constant", "warmup_epochs": 0,
    "patience": 0, "bn_train": False, "cache": "auto", "skip_bad_images": False,
}
OPTIMIZERS = ("sgd", "adam", "adamw")
# Options of this invocation only: not saved in the checkpoint, passed on by --nproc.
_RUN_ONLY = ("overwrite", "summary", "tensorboard", "device")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    d = DEFAULTS
    p = subparsers.add_parser(
        "finetune", help="finetune a ResNet on an image folder (or the built-in Digits)",
        description="Finetune a ResNet as the autograd tutorial does: freeze every parameter, "
                    "replace fc with a new Linear layer for the folder's classes, and train it "
                    "(SGD by default). IMAGE_FOLDER holds one sub-folder per class (or train/ "
                    "and val/ folders that do; hidden folders are skipped); without it, the "
                    "embedded Digits dataset is used. Every image is checked before the first "
                    "epoch, and the image size and augmentation are chosen from the images "
                    "unless given (the run says what and why). A frozen backbone runs its "
                    "BatchNorm layers in eval mode (documented choice; --bn-train to opt out), "
                    "so with deterministic inputs its features are computed once and each "
                    "epoch trains only the head. --out receives checkpoint.pt (last epoch), "
                    "best.pt (best validation accuracy), metrics.csv, training.png and "
                    "confusion.png. Ctrl-C stops after keeping the last completed epoch's "
                    "checkpoint.")
    # Defaults are None here and filled in by `_settings`: on --resume, what the user did not
    # give comes from the checkpoint rather than from these defaults.
    p.add_argument("folder", nargs="?", metavar="IMAGE_FOLDER",
                   help="image folder with one sub-folder per class (default: Digits)")
    p.add_argument("--model", help="a model of ember.vision.models: the ResNets, MobileNets, "
                                   "EfficientNets, RegNets, ShuffleNets, MNASNets, DenseNet, "
                                   "VGG, AlexNet, GoogLeNet, ConvNeXt, Swin (not SqueezeNet or "
                                   f"ViT) (default: {d['model']})")
    p.add_argument("--weights", metavar="auto|imagenet|none|PATH",
                   help="starting weights: ImageNet's when cached or downloadable (auto), "
                        "ImageNet's or fail (imagenet), random (none), or a state_dict / "
                        f"checkpoint file (default: {d['weights']})")
    p.add_argument("--epochs", type=int, help=f"total epochs to train (default: {d['epochs']})")
    p.add_argument("--batch-size", type=int, help=f"(default: {d['batch_size']})")
    p.add_argument("--lr", type=float, help="learning rate (default: 0.01 for SGD, 0.001 for "
                                             "Adam and AdamW)")
    p.add_argument("--momentum", type=float, help=f"SGD momentum (default: {d['momentum']})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help=f"(default: {d['optimizer']})")
    p.add_argument("--weight-decay", type=float, help="(default: 0)")
    p.add_argument("--label-smoothing", type=float, help="cross-entropy's (default: 0)")
    p.add_argument("--lr-schedule", choices=SCHEDULES,
                   help="per epoch: constant, step (x0.1 after each third of the epochs) or "
                        "cosine (default: constant)")
    p.add_argument("--warmup-epochs", type=int, metavar="N",
                   help="rise linearly to --lr over N epochs first (default: 0)")
    p.add_argument("--patience", type=int, metavar="N",
                   help="stop when validation accuracy has not improved for N epochs "
                        "(default: 0, never)")
    p.add_argument("--freeze", action=argparse.BooleanOptionalAction,
                   help="freeze the backbone and train only the new fc (default: --freeze)")
    p.add_argument("--image-size", type=int,
                   help="input size in pixels (default: the images' median shorter side, at "
                        "least 32 and at most 224; 32 for Digits)")
    p.add_argument("--augment", choices=AUGMENT_CHOICES,
                   help="training augmentation: none, light (horizontal flips) or standard "
                        "(torchvision's RandomResizedCrop and flips); default: none for images "
                        "smaller than the model's 224 px input and for Digits, else standard")
    p.add_argument("--bn-train", action=argparse.BooleanOptionalAction,
                   help="let a frozen backbone's BatchNorm layers update their statistics "
                        "(default: --no-bn-train: they run in eval mode, so the features can "
                        "be cached and a batch of 1 works)")
    p.add_argument("--cache", choices=CACHE_CHOICES,
                   help="where a frozen backbone's features are kept when the inputs are "
                        "deterministic: memory, disk (in --out, removed at the end), auto "
                        "(disk past 1 GiB), none (recompute every epoch) (default: auto)")
    p.add_argument("--skip-bad-images", action=argparse.BooleanOptionalAction,
                   help="train without the images that can't be read (default: stop and "
                        "list them)")
    p.add_argument("--out", metavar="DIR",
                   help="where checkpoint.pt, best.pt, metrics.csv, training.png and "
                        f"confusion.png go (default: {d['out']}, or the next free "
                        f"{d['out']}-N; with --resume, the checkpoint's folder). A folder that "
                        "is not empty is refused unless --resume or --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out (replacing a previous run's files)")
    p.add_argument("--summary", action="store_true",
                   help="print ember.viz.summary of the model before training")
    p.add_argument("--tensorboard", metavar="DIR",
                   help="also log the metrics for TensorBoard in DIR (the tensorboard extra)")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue from a checkpoint.pt (its settings, but for --out, are the "
                        "defaults)")
    p.add_argument("--device", metavar="cpu|cuda|auto", help=DEVICE_HELP)
    p.add_argument("--workers", type=int, help="DataLoader worker processes (default: 0)")
    p.add_argument("--seed", type=int, help=f"random seed (default: {d['seed']})")
    p.add_argument("--val-fraction", type=float,
                   help="share of each class held out for validation when the folder has no "
                        f"val/ (default: {d['val_fraction']})")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="train data-parallel on N processes (MPI ranks; also under mpiexec); "
                        "--batch-size stays the global batch")
    return p


def _relaunch(ns: argparse.Namespace, n: int) -> int:
    """``ember finetune --nproc N``: the same command as N ranks under the launcher."""
    from ember.distributed.run import main as launch

    argv = [ns.folder] if ns.folder else []
    for key in DEFAULTS:
        value = getattr(ns, key, None)
        if key == "folder" or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        argv += [flag if value else "--no-" + flag[2:]] if isinstance(value, bool) \
            else [flag, str(value)]
    argv += ["--resume", ns.resume] if ns.resume else []
    argv += ["--overwrite"] * bool(ns.overwrite) + ["--summary"] * bool(ns.summary)
    argv += ["--tensorboard", ns.tensorboard] if ns.tensorboard else []
    argv += ["--device", ns.device] if ns.device else []
    return launch(["--nproc-per-node", str(n), "-m", "ember", "finetune", *argv])


def _distributed(batch_size: int) -> tuple[int, int]:
    """(rank, world size): a process group when this is one of several MPI ranks."""
    from ember.distributed._mpi import launch_info

    info = launch_info()
    if info is None or info[1] == 1:
        return 0, 1
    import ember.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if batch_size < world:
        raise CLIError(f"--batch-size {batch_size} is the global batch: it must be at least the "
                       f"number of processes ({world})")
    if rank != 0:  # rank 0 alone prints; the others' errors still reach stderr
        sys.stdout = open(os.devnull, "w")
    return rank, world


def _settings(ns: argparse.Namespace, saved: dict[str, Any] | None) -> dict[str, Any]:
    """The run's settings: given on the command line, else the checkpoint's, else DEFAULTS."""
    settings = dict(DEFAULTS)
    # Never the file's 'out': a checkpoint received from elsewhere must not choose where this
    # command writes. A resumed run writes next to its checkpoint unless --out says otherwise.
    settings.update({k: v for k, v in (saved or {}).items() if k in DEFAULTS and k != "out"})
    if ns.resume:
        settings["out"] = os.path.dirname(os.path.abspath(ns.resume))
    given = {k: getattr(ns, k) for k in DEFAULTS if getattr(ns, k) is not None}
    for key in ("model", "optimizer"):
        if saved is not None and key in given and given[key] != saved.get(key, DEFAULTS[key]):
            raise CLIError(f"--{key} {given[key]} does not match the checkpoint's "
                           f"{saved.get(key, DEFAULTS[key])}")
    settings.update(given)
    if settings["folder"] is not None:
        settings["folder"] = os.path.abspath(settings["folder"])
    if settings["lr"] is None:
        settings["lr"] = 0.01 if settings["optimizer"] == "sgd" else 0.001
    for key in ("epochs", "batch_size", "image_size"):
        if settings[key] is not None and settings[key] < 1:
            raise CLIError(f"--{key.replace('_', '-')} must be at least 1, got {settings[key]}")
    for key in ("workers", "warmup_epochs", "patience", "weight_decay"):
        if settings[key] < 0:
            raise CLIError(f"--{key.replace('_', '-')} must be 0 or more, got {settings[key]}")
    if not 0 <= settings["label_smoothing"] <= 1:
        raise CLIError("--label-smoothing must be between 0 and 1, got "
                       f"{settings['label_smoothing']}")
    if saved is None and settings["weights"] not in WEIGHT_CHOICES \
            and not os.path.isfile(settings["weights"]):
        raise CLIError(f"no such file: '{settings['weights']}' (--weights takes "
                       f"{', '.join(WEIGHT_CHOICES)} or a file)")
    if not 0 < settings["val_fraction"] < 1:
        raise CLIError(f"--val-fraction must be between 0 and 1, got {settings['val_fraction']}")
    return settings


# What `args` of a checkpoint may hold: checked so that a damaged file is an input error naming it,
# not a usage error about an option that was never given (or a traceback).
_SAVED_ARGS: dict[str, tuple[Any, str]] = {
    "folder": (lambda v: v is None or isinstance(v, str), "a str or None"),
    "model": (lambda v: v in model_names(), "the name of a model of the zoo"),
    "weights": (lambda v: isinstance(v, str), "a str"),
    "epochs": (lambda v: _is_int(v) and v >= 1, "an int of at least 1"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "an int of at least 1"),
    "lr": (_is_number, "a number"),
    "momentum": (_is_number, "a number"),
    "freeze": (lambda v: isinstance(v, bool), "a bool"),
    "image_size": (lambda v: v is None or (_is_int(v) and v >= 1), "an int of at least 1"),
    "workers": (lambda v: _is_int(v) and v >= 0, "an int of at least 0"),
    "seed": (_is_int, "an int"),
    "val_fraction": (lambda v: _is_number(v) and 0 < v < 1, "a number between 0 and 1"),
    "augment": (lambda v: v is None or v in AUGMENT_CHOICES, "one of none, light, standard"),
    "optimizer": (lambda v: v in OPTIMIZERS, "one of sgd, adam, adamw"),
    "weight_decay": (lambda v: _is_number(v) and v >= 0, "a number of at least 0"),
    "label_smoothing": (lambda v: _is_number(v) and 0 <= v <= 1, "a number between 0 and 1"),
    "lr_schedule": (lambda v: v in SCHEDULES, "one of constant, step, cosine"),
    "warmup_epochs": (lambda v: _is_int(v) and v >= 0, "an int of at least 0"),
    "patience": (lambda v: _is_int(v) and v >= 0, "an int of at least 0"),
    "bn_train": (lambda v: isinstance(v, bool), "a bool"),
    "cache": (lambda v: v in CACHE_CHOICES, "one of auto, memory, disk, none"),
    "skip_bad_images": (lambda v: isinstance(v, bool), "a bool"),
}


def _check_saved(path: str, saved: Any) -> None:
    """Raises an input error naming ``path`` unless it is a checkpoint ``--resume`` can use."""
    check_checkpoint(path, saved, ("model", "optimizer", "epoch", "classes", "history"),
                     ("args", "arch", "image_size", "eval_resize"))
    for key, value in saved.get("args", {}).items():
        ok, kind = _SAVED_ARGS.get(key, (None, ""))
        if ok is not None and not ok(value):
            raise InputError(f"'{path}' is damaged: its args['{key}'] should be {kind}, not "
                             f"{shown(value)}")


def _load_optimizer(path: str, optimizer: Any, state: Any, names: list[str]) -> None:
    """``optimizer.load_state_dict(state)``, then checks what SGD's step will use (buffer shapes,
    hyper-parameter types), so that a damaged file fails here, before any epoch runs."""
    import ember

    try:
        optimizer.load_state_dict(state)
    except Exception as e:  # noqa: BLE001 - any structure the file holds: it is the file's
        raise InputError(f"'{path}': its optimizer state does not fit the model's parameters: "
                         f"{describe(e)}") from None
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for name, param in zip(names, params):
        for key, value in optimizer.state.get(param, {}).items():
            if isinstance(value, ember.Tensor) and value.dim() and value.shape != param.shape:
                raise InputError(f"'{path}' is damaged: the optimizer's {key} of {name} is "
                                 f"{list(value.shape)}, not {list(param.shape)}")
            if not (value is None or isinstance(value, (ember.Tensor, int, float))):
                raise InputError(f"'{path}' is damaged: the optimizer's {key} of {name} is a "
                                 f"{type(value).__name__}")
    for group in optimizer.param_groups:
        for key, default in optimizer.defaults.items():
            value = group.get(key)
            if isinstance(default, bool) or default is None:
                ok = value is None or isinstance(value, bool)
            elif _is_number(default):
                ok = _is_number(value)
            else:
                continue
            if not ok:
                raise InputError(f"'{path}' is damaged: the optimizer's {key} is "
                                 f"{shown(value)}")


def _read_image(path: str) -> Any:
    """ImageFolder's loader: an image Pillow can't read is an input error naming the file."""
    from ember.vision.datasets import default_loader

    try:
        return default_loader(path)
    except Exception as e:  # noqa: BLE001 - Pillow fails a damaged file in many ways
        message = str(e) if str(path) in str(e) else f"can't read image '{path}': {describe(e)}"
        raise InputError(message) from None


def stratified_split(targets: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of a train/val split holding out ``fraction`` of every class (at least one image
    of each class that has two), the same for the same seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = defaultdict(list)
    for i, t in enumerate(targets):
        by_class[t].append(i)
    train, val = [], []
    for c in sorted(by_class):
        idx = [int(i) for i in rng.permutation(by_class[c])]
        n_val = min(max(round(len(idx) * fraction), 1), len(idx) - 1)
        val += idx[:n_val]
        train += idx[n_val:]
    return sorted(train), sorted(val)


def _transforms(size: int, augment: str, photos: bool) -> tuple[Any, Any, int]:
    """(train transform, eval transform, eval resize) for ``--augment``. Without random crops
    both are the same resize and centre crop, so the training inputs are deterministic."""
    from ember.vision import transforms as T

    from ._models import _normalize

    if augment == "standard":
        resize = eval_resize(size, True)  # ImageNet's 256/224 margin around the centre crop
        train = train_transform(size, True)
    else:
        resize = size
        flip = [T.RandomHorizontalFlip()] if augment == "light" else []
        first = [T.Resize((size, size))] if not photos else [T.Resize(size), T.CenterCrop(size)]
        train = T.Compose(first + flip + _normalize())
    return train, eval_transform(size, resize), resize


class _Data:
    """The run's data before transforms are chosen: datasets, class names, image sizes."""

    def __init__(self, train: Any, val: Any, classes: list[str], photos: bool, desc: str,
                 sizes: list[tuple[int, int]], counts: list[int]) -> None:
        self.train, self.val, self.classes, self.photos = train, val, classes, photos
        self.desc, self.sizes, self.counts = desc, sizes, counts

    def set_transforms(self, train_tf: Any, val_tf: Any) -> None:
        for ds, tf in ((self.train, train_tf), (self.val, val_tf)):
            base = getattr(ds, "dataset", ds)  # a Subset's dataset
            base.transform = tf


def _datasets(settings: dict[str, Any]) -> _Data:
    """The train and val sets of the settings' data (Digits, or a folder whose hidden folders
    are skipped and whose every image has been opened once)."""
    from ember.utils.data import Subset
    from ember.vision import datasets

    folder = settings["folder"]
    if folder is None:
        split = {"val_fraction": settings["val_fraction"], "seed": settings["seed"]}
        size = settings["image_size"] or 32
        train = datasets.Digits(train=True, image_size=size, **split)
        val = datasets.Digits(train=False, image_size=size, **split)
        counts = [train.targets.count(c) + val.targets.count(c) for c in range(10)]
        return _Data(train, val, list(train.classes), False, "Digits", [(8, 8)], counts)
    if not os.path.isdir(folder):
        raise InputError(f"image folder '{folder}' does not exist")
    from ._data import CLIImageFolder, bad_images_error, hidden_entries, scan_images

    pair = all(os.path.isdir(os.path.join(folder, d)) for d in ("train", "val"))
    roots = [os.path.join(folder, "train"), os.path.join(folder, "val")] if pair else [folder]
    for root in roots:
        hidden = hidden_entries(root)
        if hidden:
            notice(f"skipping hidden folder{'s' * (len(hidden) > 1)} in {root}: "
                   f"{', '.join(hidden)} (not classes)")
    try:
        sets = [CLIImageFolder(root, _read_image) for root in roots]
    except (FileNotFoundError, OSError) as e:
        raise InputError(str(e)) from None
    if pair and sets[1].classes != sets[0].classes:
        raise InputError(f"{folder}: val/ has classes {sets[1].classes}, train/ has "
                         f"{sets[0].classes}")
    sizes, bad = [], []
    for ds in sets:
        got, failed = scan_images([p for p, _ in ds.samples], "checking images")
        sizes += got
        bad += failed
        if failed:
            drop = {p for p, _ in failed}
            ds.samples[:] = [(p, t) for p, t in ds.samples if p not in drop]
            ds.targets[:] = [t for _, t in ds.samples]
    if bad and not settings["skip_bad_images"]:
        raise bad_images_error(bad)
    if bad:
        notice(f"skipping {len(bad)} image{'s' * (len(bad) > 1)} that can't be read: "
               + ", ".join(p for p, _ in bad[:5]) + (", ..." if len(bad) > 5 else ""))
    if not sizes:
        raise InputError(f"{folder}: no readable images")
    classes = list(sets[0].classes)
    counts = [sum(1 for ds in sets for t in ds.targets if t == c) for c in range(len(classes))]
    if pair:
        return _Data(sets[0], sets[1], classes, True, f"{folder} (train/ and val/)", sizes,
                     counts)
    full = sets[0]
    train_idx, val_idx = stratified_split(list(full.targets), settings["val_fraction"],
                                          settings["seed"])
    if not val_idx:
        raise InputError(f"{folder}: too few images to hold some out for validation")
    val_full = CLIImageFolder(folder, _read_image)
    val_full.samples[:], val_full.targets[:] = full.samples, full.targets
    return _Data(Subset(full, train_idx), Subset(val_full, val_idx), classes, True,
                 f"{folder} ({settings['val_fraction']:.0%} of each class held out)", sizes,
                 counts)


def _choose(s: dict[str, Any], data: _Data) -> list[str]:
    """Fills in image_size and augment from the data when not given; returns the lines that
    say what was chosen and why."""
    from ._data import MODEL_MIN, choose_augment, choose_image_size

    lines = []
    if s["image_size"] is None:
        size, why = choose_image_size(data.sizes)
        s["image_size"] = size
        lines.append(f"image size {size} px: {why} (--image-size to change)")
    smallest = min_size(s["model"])
    if s["image_size"] < smallest:
        lines.append(f"image size {smallest} px: {s['model']} takes no smaller input")
        s["image_size"] = smallest
    elif s["image_size"] < MODEL_MIN and s["model"].startswith("resnet"):
        notice(f"--image-size {s['image_size']} is below {MODEL_MIN} px: the ResNet's last "
               "feature map shrinks to less than one pixel of the input's detail")
    if s["augment"] is None:
        augment, why = choose_augment(data.sizes, data.photos)
        s["augment"] = augment
        lines.append(f"augmentation {augment}: {why} (--augment to change)")
    return lines


def seed_everything(seed: int) -> None:
    """Seeds ember (shuffling, augmentation, worker seeds), Python's and NumPy's generators."""
    import numpy as np

    import ember

    ember.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def _progress(loader: Any, desc: str, unit: str = "batch") -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return loader
    # disable=None: a bar on a terminal, nothing in logs and pipes.
    return tqdm(loader, desc=desc, unit=unit, leave=False, file=sys.stderr, disable=None)


def _frozen_bn_eval(model: Any) -> None:
    """Puts the BatchNorm layers that have no trainable parameters in eval mode: a frozen
    backbone then normalises with its pretrained statistics (the same every epoch, so its
    features can be cached, and a batch of one works), as torchvision's finetuning recipes do."""
    from ember.nn.modules.batchnorm import _BatchNorm

    for m in model.modules():
        if isinstance(m, _BatchNorm) and not any(p.requires_grad for p in m.parameters()):
            m.eval()


def model_device(model: Any) -> Any:
    """The device of ``model``'s parameters (the CPU for a model without any)."""
    import ember

    for p in model.parameters():
        return p.device
    return ember.device("cpu")


def train_one_epoch(model: Any, loader: Any, optimizer: Any, criterion: Any, desc: str,
                    bn_eval: bool = False) -> float:
    """One pass over ``loader`` (each batch copied to the model's device); returns the mean
    training loss (over every rank's batches)."""
    model.train()
    if bn_eval:
        _frozen_bn_eval(model)
    device = model_device(model)
    total, count = 0.0, 0
    bar = _progress(loader, desc)
    for images, labels in bar:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(labels)
        count += len(labels)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{total / count:.4f}")
    if hasattr(model, "process_group"):  # DDP: every rank's share of the epoch's loss
        import ember
        import ember.distributed as dist

        sums = ember.tensor([total, float(count)], dtype=ember.float64, device="cpu")  # (gloo)
        dist.all_reduce(sums)
        total, count = sums.tolist()
    return total / max(count, 1)


class Evaluation:
    """What one validation pass measured."""

    def __init__(self, num_classes: int) -> None:
        self.correct = self.top5 = self.total = 0
        self.loss = 0.0
        self.confusion = [[0] * num_classes for _ in range(num_classes)]

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.total, 1)


def evaluate(model: Any, loader: Any, num_classes: int | None = None) -> Any:
    """Top-1 predictions in eval mode: ``(correct, total)`` without ``num_classes``, else an
    :class:`Evaluation` (loss, top-1 and top-5 counts, confusion matrix)."""
    import numpy as np

    import ember
    from ember.nn import functional as F

    model.eval()
    device = model_device(model)
    result = Evaluation(num_classes or 1)
    counts = np.zeros((num_classes or 1,) * 2, np.int64)
    with ember.no_grad():
        for images, labels in loader:
            logits = model(images.to(device))
            labels = labels.cpu()  # the scores are counted on the host
            pred = logits.argmax(dim=1).cpu()
            result.correct += int((pred == labels).sum().item())
            result.total += len(labels)
            if num_classes is not None:
                result.loss += F.cross_entropy(logits, labels.to(device), reduction="sum").item()
                scores, truth = logits.cpu().numpy(), labels.numpy()
                # top-5: fewer than 5 classes score higher than the true one
                above = (scores > scores[np.arange(len(truth)), truth][:, None]).sum(axis=1)
                result.top5 += int((above < 5).sum())
                np.add.at(counts, (truth, pred.numpy()), 1)
    if num_classes is None:
        return result.correct, result.total
    result.loss /= max(result.total, 1)
    result.confusion = counts.tolist()
    return result


def _on_cpu(obj: Any) -> Any:
    """``obj`` (a state_dict, an optimizer's) with its tensors copied to the CPU; containers
    keep their type (an OrderedDict its ``_metadata``)."""
    import ember

    if isinstance(obj, ember.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        out = type(obj)((k, _on_cpu(v)) for k, v in obj.items())
        if hasattr(obj, "_metadata"):
            out._metadata = obj._metadata
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_on_cpu(v) for v in obj)
    return obj


def _cached(features: Any, labels: Any, batch: int, shuffle: bool) -> Any:
    from ember.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(features, labels), batch_size=batch, shuffle=shuffle)


def _atomic_bytes(path: str, data: bytes) -> None:
    from ember.io._atomic import atomic_write

    with atomic_write(path) as f:
        f.write(data)


def save_plot(history: dict[str, list[float]], path: str) -> bool:
    """Training loss and validation accuracy per epoch as a PNG; False without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    # A bare Figure on the Agg canvas: no pyplot, so no global backend is switched.
    fig = Figure(figsize=(9, 3.4))
    FigureCanvasAgg(fig)
    loss_ax, acc_ax = fig.subplots(1, 2)
    epochs = range(1, len(history["train_loss"]) + 1)
    loss_ax.plot(epochs, history["train_loss"], marker="o")
    loss_ax.set(title="training loss", xlabel="epoch", ylabel="cross-entropy")
    acc_ax.plot(epochs, [100 * a for a in history["val_acc"]], marker="o", color="tab:green")
    acc_ax.set(title="validation accuracy", xlabel="epoch", ylabel="%")
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.9, wspace=0.25)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    _atomic_bytes(path, buf.getvalue())
    return True


def _plot(history: dict[str, list[float]], path: str) -> None:
    if history["val_acc"] and not save_plot(history, path):
        notice("training.png needs matplotlib: pip install 'ember[vision]'")


def _out_folder(ns: argparse.Namespace, s: dict[str, Any]) -> str:
    """Where the run writes: never silently over another run. A default --out that is taken
    becomes the next free ``runs/finetune-N``; a given one that is not empty is refused unless
    --overwrite (--resume writes next to its checkpoint)."""
    out = s["out"]

    def taken(path: str) -> bool:
        return os.path.isdir(path) and bool(os.listdir(path)) or os.path.isfile(path)

    if ns.resume or ns.overwrite or not taken(out):
        return out
    if ns.out is None and out == DEFAULTS["out"]:
        n = 2
        while taken(f"{out}-{n}"):
            n += 1
        notice(f"{out} holds a previous run: writing to {out}-{n} (--out DIR to choose, "
               "--overwrite to replace it)")
        return f"{out}-{n}"
    raise CLIError(f"--out '{out}' is not empty (a previous run?): choose another folder, "
                   "or give --overwrite to replace its files or --resume CHECKPOINT to continue")


def _tensorboard(directory: str | None) -> Any:
    if directory is None:
        return None
    try:
        from ember.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RunError("--tensorboard needs the tensorboard extra: pip install "
                       "'ember[tensorboard]'") from None
    return SummaryWriter(directory)


def _make_optimizer(s: dict[str, Any], params: Any) -> Any:
    from ember import optim

    if s["optimizer"] == "sgd":
        return optim.SGD(params, lr=s["lr"], momentum=s["momentum"],
                         weight_decay=s["weight_decay"])
    kind = optim.Adam if s["optimizer"] == "adam" else optim.AdamW
    return kind(params, lr=s["lr"], weight_decay=s["weight_decay"])


def _print_classes(data: _Data, train_counts: list[int]) -> None:
    listed = ", ".join(f"{c} {n}" for c, n in zip(data.classes, data.counts))
    print(f"classes ({len(data.classes)}; images each): {listed}", flush=True)
    for name, n, t in zip(data.classes, data.counts, train_counts):
        if n == 1:
            notice(f"class '{name}' has only 1 image: it is trained on but never validated; "
                   "add more images of it")
        elif t == 0:
            notice(f"class '{name}' has no training images")


def _targets(ds: Any) -> list[int]:
    if hasattr(ds, "indices") and hasattr(ds, "dataset"):  # a Subset
        targets = ds.dataset.targets
        return [targets[i] for i in ds.indices]
    return list(ds.targets)


def command(ns: argparse.Namespace) -> int:
    from ._features import remove_cache_files

    cache_files: list[str] = []
    try:
        return _command(ns, cache_files)
    finally:  # an interrupted or failed run leaves no feature files behind either
        remove_cache_files(cache_files)


def _command(ns: argparse.Namespace, cache_files: list[str]) -> int:
    from ember import nn
    from ember.io import save
    from ember.utils.data import DataLoader, DistributedSampler

    from ._features import cache_place, calibrate_batchnorm, extract_features
    from ._report import confusion_png, confusion_text, metrics_csv, schedule_lr

    if ns.nproc is not None and ns.nproc > 1 and "PMI_RANK" not in os.environ:
        return _relaunch(ns, ns.nproc)
    saved = read_checkpoint(ns.resume) if ns.resume else None
    if saved is not None:
        _check_saved(ns.resume, saved)
    s = _settings(ns, saved.get("args") if saved else None)
    check_model_name(s["model"])
    device = resolve_device(ns.device)
    writer = _tensorboard(ns.tensorboard)
    data = _datasets(s)
    classes = data.classes
    if len(classes) < 2:
        raise InputError(f"{data.desc}: finetuning needs at least 2 classes, found {classes}")
    if saved is not None and saved["classes"] != classes:
        raise InputError(f"'{ns.resume}' has the classes {saved['classes']}, not the data's "
                         f"{classes}")
    choices = _choose(s, data)
    train_tf, val_tf, resize = _transforms(s["image_size"], s["augment"], data.photos)
    data.set_transforms(train_tf, val_tf)
    train_set, val_set = data.train, data.val

    rank, world = _distributed(s["batch_size"])
    out = _out_folder(ns, s) if rank == 0 else s["out"]
    seed_everything(s["seed"])
    # On resume the checkpoint supplies every weight: don't download anything.
    model, _, weights_desc = build_model(s["model"], "none" if saved else s["weights"],
                                         device=device)
    if s["freeze"]:
        for param in model.parameters():
            param.requires_grad = False
    replace_fc(model, len(classes))
    optimizer = _make_optimizer(s, model.parameters())
    criterion = nn.CrossEntropyLoss(label_smoothing=s["label_smoothing"])
    keys = ["train_loss", "val_loss", "val_acc", "lr"] + (["val_top5"] * (len(classes) > 5))
    history: dict[str, list[float]] = {k: [] for k in keys}
    seconds: list[float] = []
    start = 0
    if saved is not None:
        load_weights(ns.resume, model, saved["model"],
                     f"{s['model']} with {len(classes)} classes")
        _load_optimizer(ns.resume, optimizer, saved["optimizer"],
                        [name for name, _ in model.named_parameters()])
        for group in optimizer.param_groups:  # a resumed run may change them on purpose
            group["weight_decay"] = s["weight_decay"]
            if "momentum" in group:
                group["momentum"] = s["momentum"]
        start = saved["epoch"]
        history = {k: list(saved["history"].get(k, [])) for k in keys}
        seconds = [float(x) for x in saved.get("seconds", [])][:start]
        weights_desc = f"resumed from {ns.resume} after epoch {start}"

    # A frozen backbone's BatchNorm runs in eval mode (--bn-train: in train mode, as before).
    bn_eval = s["freeze"] and not s["bn_train"]
    batch = s["batch_size"] // world  # the global batch, split between the ranks
    val_batch = max(s["batch_size"], 64)
    use_cache = (bn_eval and s["augment"] == "none" and s["cache"] != "none" and world == 1)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"finetuning {s['model']} ({weights_desc}; {trainable:,} of {total:,} parameters "
          f"trainable) on {data.desc}: {len(classes)} classes, {len(train_set)} train / "
          f"{len(val_set)} val images at {s['image_size']}x{s['image_size']} on {device}"
          + (f", on {world} processes" if world > 1 else ""), flush=True)
    _print_classes(data, [_targets(train_set).count(c) for c in range(len(classes))])
    for line in choices:
        print(line, flush=True)
    if ns.summary:
        from ember.viz import summary

        print(summary(model, input_size=(1, 3, s["image_size"], s["image_size"])), flush=True)

    if bn_eval and saved is None and weights_desc.startswith("random init"):
        seed_everything(s["seed"])
        n = calibrate_batchnorm(model, train_set, val_batch, s["workers"])
        print(f"BatchNorm statistics estimated from {n} training images (random weights have "
              "none to keep)", flush=True)

    os.makedirs(out, exist_ok=True)
    ckpt_path = os.path.join(out, "checkpoint.pt")
    best_path = os.path.join(out, "best.pt")
    plot_path = os.path.join(out, "training.png")
    confusion_path = os.path.join(out, "confusion.png")
    metrics_path = os.path.join(out, "metrics.csv")
    # BatchNorm in train mode can't take a batch of one (ResNet's last feature map is 1x1 at
    # small sizes): such a last batch is dropped. In eval mode any batch works.
    sampler = DistributedSampler(train_set, world, rank, seed=s["seed"]) if world > 1 else None
    drop_last = not bn_eval and (len(sampler) if sampler else len(train_set)) % batch == 1
    head = get_head(model)
    began_all = time.perf_counter()
    if use_cache:
        place = cache_place(s["cache"], len(train_set) + len(val_set), head.in_features)
        paths = [os.path.join(out, f".features-{part}.npy") for part in ("train", "val")]
        if place == "disk":
            cache_files[:] = paths
        print(f"feature cache: the frozen backbone's features are computed once, kept in "
              f"{place} (--cache none recomputes them every epoch)", flush=True)
        t0 = time.perf_counter()
        train_feats = extract_features(model, train_set, val_batch, s["workers"], place,
                                       paths[0], "features (train)")
        val_feats = extract_features(model, val_set, val_batch, s["workers"], place, paths[1],
                                     "features (val)")
        print(f"features computed in {time.perf_counter() - t0:.1f} s", flush=True)
        train_loader = None
        val_loader = _cached(*val_feats, val_batch, False)
        trained, evaluated = head, head
    else:
        if s["freeze"] and world == 1 and s["augment"] != "none":
            print(f"no feature cache: --augment {s['augment']} changes the inputs every epoch",
                  flush=True)
        train_loader = DataLoader(train_set, batch_size=batch, shuffle=sampler is None,
                                  sampler=sampler, num_workers=s["workers"], drop_last=drop_last)
        val_loader = DataLoader(val_set, batch_size=val_batch, num_workers=s["workers"])
        # DDP keeps the ranks' replicas equal; `model` stays the unwrapped module rank 0 saves
        trained = model if world == 1 else nn.parallel.DistributedDataParallel(model)
        evaluated = model

    accs = history["val_acc"]
    best_epoch = max(range(len(accs)), key=lambda i: (accs[i], -i)) + 1 if accs else 0

    def finish_files(done: int) -> None:
        _plot({k: v[:done] for k, v in history.items()}, plot_path)  # saved epochs only
        if writer is not None:
            writer.close()

    epoch = completed = start
    stopped_early = False
    try:
        for epoch in range(start, s["epochs"]):
            began = time.perf_counter()
            seed_everything(s["seed"] + epoch)
            lr = schedule_lr(s["lr"], epoch, s["epochs"], s["lr_schedule"], s["warmup_epochs"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            if sampler is not None:
                sampler.set_epoch(epoch)
            loader = train_loader if train_loader is not None else \
                _cached(*train_feats, batch, True)
            loss = train_one_epoch(trained, loader, optimizer, criterion,
                                   f"epoch {epoch + 1}/{s['epochs']}", bn_eval)
            if rank != 0:  # rank 0 alone validates and writes; the others go on training
                completed = epoch + 1
                continue
            ev = evaluate(evaluated, val_loader, len(classes))
            history["train_loss"].append(loss)
            history["val_loss"].append(ev.loss)
            history["val_acc"].append(ev.accuracy)
            history["lr"].append(lr)
            if "val_top5" in history:
                history["val_top5"].append(ev.top5 / max(ev.total, 1))
            seconds.append(time.perf_counter() - began)
            checkpoint = {  # CPU tensors whatever --device: the file loads anywhere
                "model": _on_cpu(model.state_dict()), "optimizer": _on_cpu(optimizer.state_dict()),
                "epoch": epoch + 1, "arch": s["model"], "classes": classes,
                "image_size": s["image_size"], "eval_resize": resize,
                "history": history, "args": s, "seconds": seconds,
                "confusion": ev.confusion,
            }
            buf = io.BytesIO()
            save(checkpoint, buf)
            _atomic_bytes(ckpt_path, buf.getvalue())
            improved = best_epoch == 0 or ev.accuracy > history["val_acc"][best_epoch - 1]
            if improved:
                best_epoch = epoch + 1
                _atomic_bytes(best_path, buf.getvalue())
            _atomic_bytes(metrics_path, metrics_csv(history, seconds))
            if writer is not None:
                for key, values in history.items():
                    writer.add_scalar(key.replace("_", "/", 1) if key != "lr" else "lr",
                                      values[-1], epoch + 1)
            completed = epoch + 1
            top5 = f"  top-5 {history['val_top5'][-1]:.1%}" if "val_top5" in history else ""
            print(f"epoch {epoch + 1}/{s['epochs']}  train loss {loss:.4f}  "
                  f"val loss {ev.loss:.4f}  val accuracy {ev.accuracy:.1%}{top5}  "
                  f"lr {lr:.3g}  ({seconds[-1]:.1f} s)" + ("  *best" if improved else ""),
                  flush=True)
            if s["patience"] and epoch + 1 - best_epoch >= s["patience"]:
                stopped_early = True
                print(f"early stop: no better validation accuracy for {s['patience']} epochs",
                      flush=True)
                break
    except KeyboardInterrupt:
        if rank != 0:  # rank 0 reports for the job
            return 130
        print(file=sys.stderr)
        if completed == start:
            print(f"interrupted during epoch {epoch + 1}: no epoch completed"
                  + (", no checkpoint written" if start == 0 else ""), file=sys.stderr)
        else:
            print(f"interrupted during epoch {epoch + 1}: {ckpt_path} holds epoch {completed}. "
                  f"Resume with: ember finetune --resume {ckpt_path}", file=sys.stderr)
        finish_files(completed)
        return 130

    if rank != 0:
        return 0
    finish_files(len(history["val_acc"]))
    if start >= s["epochs"]:
        print(f"nothing to train: the checkpoint has {start} epochs already (raise --epochs "
              "to train more)")
    if not history["val_acc"]:
        return 0
    n = len(history["val_acc"])
    best = read_checkpoint(best_path) if os.path.isfile(best_path) else None
    confusion = best.get("confusion") if isinstance(best, dict) else None
    if isinstance(confusion, list) and len(confusion) == len(classes):
        print(confusion_text(confusion, classes))
        png = confusion_png(confusion, classes)
        if png is not None:
            _atomic_bytes(confusion_path, png)
    where = "best.pt" if best is not None else "best.pt of the run that reached it"
    print(f"best validation accuracy: {history['val_acc'][best_epoch - 1]:.1%} at epoch "
          f"{best_epoch} ({where}); final: {history['val_acc'][-1]:.1%} after {n} "
          f"epoch{'s' if n > 1 else ''}" + (" (stopped early)" if stopped_early else ""))
    print(f"files: {ckpt_path}, " + (f"{best_path}, " if best is not None else "")
          + f"{metrics_path}, {plot_path}"
          + (f", {confusion_path}" if os.path.isfile(confusion_path) else "")
          + f"  ({time.perf_counter() - began_all:.1f} s in all)")
    return 0
