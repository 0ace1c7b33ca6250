"""The feature cache of ``ember finetune``: a frozen backbone (BatchNorm in eval mode) fed
deterministic inputs computes the same features every epoch, so they are computed once, and the
epochs train only the head on them.

Small sets are kept in memory; a set whose features pass ``DISK_BYTES`` (or ``--cache disk``)
goes to a ``.npy`` file in the run's folder, read through a memory map and removed when the run
ends.
"""
from __future__ import annotations

import os
from typing import Any

from ._models import head_name, set_module

__all__ = ["CACHE_CHOICES", "DISK_BYTES", "extract_features", "remove_cache_files"]

CACHE_CHOICES = ("auto", "memory", "disk", "none")
DISK_BYTES = 1 << 30  # 1 GiB of float32 features: about 500,000 images of a ResNet-18


def _headless(model: Any) -> tuple[str, Any]:
    """The model without its classifier: its head replaced by Identity while features are
    computed (the caller puts it back); returns (the head's name, the head)."""
    from ember import nn

    name = head_name(model)
    head = model.get_submodule(name)
    set_module(model, name, nn.Identity())
    return name, head


def extract_features(model: Any, dataset: Any, batch_size: int, workers: int, where: str,
                     path: str | None, desc: str) -> tuple[Any, Any]:
    """(features (N, D) float32 Tensor, labels (N,) int64 Tensor) of ``dataset`` through
    ``model`` without its classifier, in eval mode and without autograd; ``where`` is 'memory' or
    'disk' (then ``path`` is the .npy file)."""
    import numpy as np

    import ember
    from ember.utils.data import DataLoader

    from .finetune import _progress, model_device

    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    device = model_device(model)
    head_at, head = _headless(model)
    was_training = model.training
    model.eval()
    store = labels = None
    filled = 0
    try:
        with ember.no_grad():
            for images, targets in _progress(loader, desc):
                feats = model(images.to(device)).cpu().numpy()  # kept on the host
                if store is None:
                    shape = (len(dataset), feats.shape[1])
                    store = np.empty(shape, np.float32) if where == "memory" else \
                        np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=shape)
                    labels = np.empty(len(dataset), np.int64)
                store[filled:filled + len(feats)] = feats
                labels[filled:filled + len(feats)] = targets.cpu().numpy()
                filled += len(feats)
    finally:
        set_module(model, head_at, head)
        model.train(was_training)
    if where == "disk":
        store.flush()
        store = np.load(path, mmap_mode="r")
    return ember.from_numpy(store), ember.from_numpy(labels)


def cache_place(setting: str, n_images: int, dim: int) -> str:
    """'memory' or 'disk' for ``--cache auto|memory|disk``."""
    if setting != "auto":
        return setting
    return "disk" if n_images * dim * 4 > DISK_BYTES else "memory"


def remove_cache_files(paths: list[str]) -> None:
    for path in paths:
        try:
            os.remove(path)
        except OSError:
            pass


def calibrate_batchnorm(model: Any, dataset: Any, batch_size: int, workers: int,
                        limit: int = 512) -> int:
    """Estimates the BatchNorm statistics of a backbone that has none (random weights: running
    mean 0, variance 1) from up to ``limit`` training images: one pass in train mode, without
    autograd, each layer averaging over the batches (``momentum=None``). Eval mode then
    normalises as training mode would, with statistics that stay fixed. Returns the number of
    images used."""
    import ember
    from ember.nn.modules.batchnorm import _BatchNorm
    from ember.utils.data import DataLoader, Subset

    from .finetune import _progress, model_device

    layers = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    if not layers:
        return 0
    order = ember.randperm(len(dataset)).tolist()[:limit]
    loader = DataLoader(Subset(dataset, order), batch_size=batch_size, num_workers=workers,
                        drop_last=len(order) > batch_size)
    saved = [(m, m.momentum, m.training) for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
        m.train()
    try:
        with ember.no_grad():
            device = model_device(model)
            for images, _ in _progress(loader, "BatchNorm statistics"):
                model(images.to(device))
    finally:
        for m, momentum, training in saved:
            m.momentum = momentum
            m.train(training)
    return len(order)
