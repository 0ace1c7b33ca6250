"""``ember finetune [IMAGE_FOLDER]``: the tutorial's finetuning recipe as a program.

Load a ResNet, freeze every parameter, replace ``fc`` with a fresh ``Linear(in_features,
num_classes)``, and train with SGD and cross-entropy on an image folder's classes (or on the
embedded Digits dataset). Each completed epoch is saved to ``checkpoint.pt`` in ``--out``, and
``training.png`` plots the run when it ends or is interrupted; ``--resume`` continues from the
checkpoint and ends with the same weights as a run that was never interrupted, because every
epoch starts from its own seed.
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

from ._common import CLIError, InputError, describe, notice
from ._models import (WEIGHT_CHOICES, _is_int, _is_number, build_model, check_checkpoint,
                      check_model_name, eval_resize, eval_transform, load_weights,
                      read_checkpoint, replace_fc, resnet_names, shown, train_transform)

__all__ = ["add_parser", "command", "DEFAULTS", "stratified_split"]

# Chosen so that `ember finetune` (Digits, frozen resnet18, 32 px) takes about a minute on two
# cores (about 5 s an epoch on an idle 2-core machine; about 91% validation accuracy offline).
# image_size None means 32 px for the 8x8 Digits and ImageNet's 224 px for a folder of photos.
DEFAULTS: dict[str, Any] = {
    "folder": None, "model": "resnet18", "weights": "auto", "epochs": 6, "batch_size": 32,
    "lr": 0.01, "momentum": 0.9, "freeze": True, "image_size": None, "out": "runs/finetune",
    "workers": 0, "seed": 0, "val_fraction": 0.2,
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    d = DEFAULTS
    p = subparsers.add_parser(
        "finetune", help="finetune a ResNet on an image folder (or the built-in Digits)",
        description="Finetune a ResNet as the autograd tutorial does: freeze every parameter, "
                    "replace fc with a new Linear layer for the folder's classes, and train it "
                    "with SGD. IMAGE_FOLDER holds one sub-folder per class (or train/ and val/ "
                    "folders that do); without it, the embedded Digits dataset is used. Ctrl-C "
                    "stops after keeping the last completed epoch's checkpoint.")
    # Defaults are None here and filled in by `_settings`: on --resume, what the user did not
    # give comes from the checkpoint rather than from these defaults.
    p.add_argument("folder", nargs="?", metavar="IMAGE_FOLDER",
                   help="image folder with one sub-folder per class (default: Digits)")
    p.add_argument("--model", help=f"ResNet architecture (default: {d['model']})")
    p.add_argument("--weights", metavar="auto|imagenet|none|PATH",
                   help="starting weights: ImageNet's when cached or downloadable (auto), "
                        "ImageNet's or fail (imagenet), random (none), or a state_dict / "
                        f"checkpoint file (default: {d['weights']})")
    p.add_argument("--epochs", type=int, help=f"total epochs to train (default: {d['epochs']})")
    p.add_argument("--batch-size", type=int, help=f"(default: {d['batch_size']})")
    p.add_argument("--lr", type=float, help=f"SGD learning rate (default: {d['lr']})")
    p.add_argument("--momentum", type=float, help=f"SGD momentum (default: {d['momentum']})")
    p.add_argument("--freeze", action=argparse.BooleanOptionalAction,
                   help="freeze the backbone and train only the new fc (default: --freeze)")
    p.add_argument("--image-size", type=int, help="input size in pixels (default: 224 for an "
                                                   "image folder, 32 for Digits)")
    p.add_argument("--out", metavar="DIR", help=f"where checkpoint.pt and training.png go "
                                                f"(default: {d['out']}; with --resume, the "
                                                "checkpoint's folder)")
    p.add_argument("--resume", metavar="CHECKPOINT",
                   help="continue from a checkpoint.pt (its settings, but for --out, are the "
                        "defaults)")
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
    if saved is not None and "model" in given and given["model"] != saved.get("model"):
        raise CLIError(f"--model {given['model']} does not match the checkpoint's "
                       f"{saved.get('model')}")
    settings.update(given)
    if settings["folder"] is not None:
        settings["folder"] = os.path.abspath(settings["folder"])
    if settings["image_size"] is None:
        settings["image_size"] = 32 if settings["folder"] is None else 224
    for key in ("epochs", "batch_size", "image_size"):
        if settings[key] < 1:
            raise CLIError(f"--{key.replace('_', '-')} must be at least 1, got {settings[key]}")
    if settings["workers"] < 0:
        raise CLIError(f"--workers must be 0 or more, got {settings['workers']}")
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
    "model": (lambda v: v in resnet_names(), "the name of a ResNet"),
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


def _datasets(settings: dict[str, Any]) -> tuple[Any, Any, list[str], bool, str]:
    """(train set, val set, class names, photos?, a description) for the settings."""
    from ember.utils.data import Subset
    from ember.vision import datasets

    size, folder = settings["image_size"], settings["folder"]
    if folder is None:
        # Digits are centred and not mirror-symmetric: no crops, no flips.
        split = {"image_size": size, "val_fraction": settings["val_fraction"],
                 "seed": settings["seed"]}
        train = datasets.Digits(train=True, transform=train_transform(size, False), **split)
        val = datasets.Digits(train=False, **split,
                              transform=eval_transform(size, eval_resize(size, False)))
        return train, val, list(train.classes), False, "Digits"
    if not os.path.isdir(folder):
        raise InputError(f"image folder '{folder}' does not exist")
    train_tf = train_transform(size, True)
    val_tf = eval_transform(size, eval_resize(size, True))
    try:
        if os.path.isdir(os.path.join(folder, "train")) and \
                os.path.isdir(os.path.join(folder, "val")):
            train = datasets.ImageFolder(os.path.join(folder, "train"), transform=train_tf,
                                         loader=_read_image)
            val = datasets.ImageFolder(os.path.join(folder, "val"), transform=val_tf,
                                       loader=_read_image)
            if val.classes != train.classes:
                raise InputError(f"{folder}: val/ has classes {val.classes}, train/ has "
                                 f"{train.classes}")
            return train, val, list(train.classes), True, f"{folder} (train/ and val/)"
        full = datasets.ImageFolder(folder, transform=train_tf, loader=_read_image)
    except (FileNotFoundError, OSError) as e:
        raise InputError(str(e)) from None
    train_idx, val_idx = stratified_split(list(full.targets), settings["val_fraction"],
                                          settings["seed"])
    if not val_idx:
        raise InputError(f"{folder}: too few images to hold some out for validation")
    val_full = datasets.ImageFolder(folder, transform=val_tf, loader=_read_image)
    return (Subset(full, train_idx), Subset(val_full, val_idx), list(full.classes), True,
            f"{folder} ({settings['val_fraction']:.0%} of each class held out)")


def seed_everything(seed: int) -> None:
    """Seeds ember (shuffling, augmentation, worker seeds), Python's and NumPy's generators."""
    import numpy as np

    import ember

    ember.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def _progress(loader: Any, desc: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return loader
    # disable=None: a bar on a terminal, nothing in logs and pipes.
    return tqdm(loader, desc=desc, unit="batch", leave=False, file=sys.stderr, disable=None)


def train_one_epoch(model: Any, loader: Any, optimizer: Any, criterion: Any, desc: str) -> float:
    """One pass over ``loader``; returns the mean training loss (over every rank's batches)."""
    model.train()
    total, count = 0.0, 0
    bar = _progress(loader, desc)
    for images, labels in bar:
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

        sums = ember.tensor([total, float(count)], dtype=ember.float64)
        dist.all_reduce(sums)
        total, count = sums.tolist()
    return total / max(count, 1)


def evaluate(model: Any, loader: Any) -> tuple[int, int]:
    """(correct, total) top-1 predictions in eval mode."""
    import ember

    model.eval()
    correct = total = 0
    with ember.no_grad():
        for images, labels in loader:
            correct += int((model(images).argmax(dim=1) == labels).sum().item())
            total += len(labels)
    return correct, total


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


def command(ns: argparse.Namespace) -> int:
    from ember import nn, optim
    from ember.io import save
    from ember.utils.data import DataLoader, DistributedSampler

    if ns.nproc is not None and ns.nproc > 1 and "PMI_RANK" not in os.environ:
        return _relaunch(ns, ns.nproc)
    saved = read_checkpoint(ns.resume) if ns.resume else None
    if saved is not None:
        _check_saved(ns.resume, saved)
    s = _settings(ns, saved.get("args") if saved else None)
    check_model_name(s["model"])
    train_set, val_set, classes, photos, data_desc = _datasets(s)
    if len(classes) < 2:
        raise InputError(f"{data_desc}: finetuning needs at least 2 classes, found {classes}")
    if saved is not None and saved["classes"] != classes:
        raise InputError(f"'{ns.resume}' has the classes {saved['classes']}, not the data's "
                         f"{classes}")

    rank, world = _distributed(s["batch_size"])
    seed_everything(s["seed"])
    # On resume the checkpoint supplies every weight: don't download anything.
    model, _, weights_desc = build_model(s["model"], "none" if saved else s["weights"])
    if s["freeze"]:
        for param in model.parameters():
            param.requires_grad = False
    replace_fc(model, len(classes))
    optimizer = optim.SGD(model.parameters(), lr=s["lr"], momentum=s["momentum"])
    criterion = nn.CrossEntropyLoss()
    history: dict[str, list[float]] = {"train_loss": [], "val_acc": []}
    start = 0
    if saved is not None:
        load_weights(ns.resume, model, saved["model"],
                     f"{s['model']} with {len(classes)} classes")
        _load_optimizer(ns.resume, optimizer, saved["optimizer"],
                        [name for name, _ in model.named_parameters()])
        for group in optimizer.param_groups:  # a resumed run may change them on purpose
            group["lr"], group["momentum"] = s["lr"], s["momentum"]
        start = saved["epoch"]
        history = {k: list(saved["history"][k]) for k in history}
        weights_desc = f"resumed from {ns.resume} after epoch {start}"

    # BatchNorm can't train on a batch of one (ResNet's last feature map is 1x1 at small sizes).
    batch = s["batch_size"] // world  # the global batch, split between the ranks
    sampler = DistributedSampler(train_set, world, rank, seed=s["seed"]) if world > 1 else None
    drop_last = (len(sampler) if sampler else len(train_set)) % batch == 1
    train_loader = DataLoader(train_set, batch_size=batch, shuffle=sampler is None,
                              sampler=sampler, num_workers=s["workers"], drop_last=drop_last)
    # DDP keeps the ranks' replicas equal; `model` stays the unwrapped module that rank 0 saves
    trained = model if world == 1 else nn.parallel.DistributedDataParallel(model)
    val_loader = DataLoader(val_set, batch_size=max(s["batch_size"], 64), num_workers=s["workers"])
    os.makedirs(s["out"], exist_ok=True)
    ckpt_path = os.path.join(s["out"], "checkpoint.pt")
    plot_path = os.path.join(s["out"], "training.png")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"finetuning {s['model']} ({weights_desc}; {trainable:,} of {total:,} parameters "
          f"trainable) on {data_desc}: {len(classes)} classes, {len(train_set)} train / "
          f"{len(val_set)} val images at {s['image_size']}x{s['image_size']}"
          + (f", on {world} processes" if world > 1 else ""), flush=True)

    epoch = completed = start
    try:
        for epoch in range(start, s["epochs"]):
            began = time.perf_counter()
            seed_everything(s["seed"] + epoch)
            if sampler is not None:
                sampler.set_epoch(epoch)
            loss = train_one_epoch(trained, train_loader, optimizer, criterion,
                                   f"epoch {epoch + 1}/{s['epochs']}")
            if rank != 0:  # rank 0 alone validates and writes; the others go on training
                completed = epoch + 1
                continue
            correct, seen = evaluate(model, val_loader)
            history["train_loss"].append(loss)
            history["val_acc"].append(correct / seen)
            checkpoint = {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "epoch": epoch + 1, "arch": s["model"], "classes": classes,
                "image_size": s["image_size"], "eval_resize": eval_resize(s["image_size"], photos),
                "history": history, "args": s,
            }
            buf = io.BytesIO()
            save(checkpoint, buf)
            _atomic_bytes(ckpt_path, buf.getvalue())
            completed = epoch + 1
            print(f"epoch {epoch + 1}/{s['epochs']}  train loss {loss:.4f}  "
                  f"val accuracy {correct / seen:.1%}  ({time.perf_counter() - began:.1f} s)",
                  flush=True)
    except KeyboardInterrupt:
        if rank != 0:  # rank 0 reports for the job
            return 130
        print(file=sys.stderr)
        if completed == 0:
            print("interrupted during epoch 1: no epoch completed, no checkpoint written",
                  file=sys.stderr)
        else:
            print(f"interrupted during epoch {epoch + 1}: {ckpt_path} holds epoch {completed}. "
                  f"Resume with: ember finetune --resume {ckpt_path}", file=sys.stderr)
        _plot({k: v[:completed] for k, v in history.items()}, plot_path)  # saved epochs only
        return 130

    if rank != 0:
        return 0
    _plot(history, plot_path)
    if start >= s["epochs"]:
        print(f"nothing to train: the checkpoint has {start} epochs already (raise --epochs "
              "to train more)")
    if not history["val_acc"]:
        return 0
    n = len(history["val_acc"])
    print(f"final validation accuracy: {history['val_acc'][-1]:.1%} after {n} "
          f"epoch{'s' if n > 1 else ''} (checkpoint: {ckpt_path}, plot: {plot_path})")
    return 0
