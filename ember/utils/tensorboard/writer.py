"""``SummaryWriter`` with torch's signature and default ``log_dir``, on tensorboardX's writer.

ember Tensors are handed to tensorboardX as NumPy arrays; everything else (protobufs, event
files, flushing) is tensorboardX's.
"""
from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any

import tensorboardX

from ...tensor import Tensor

__all__ = ["SummaryWriter", "FileWriter"]

FileWriter = tensorboardX.FileWriter


def _np(x: Any) -> Any:
    """An ember Tensor as NumPy (a scalar as a Python number); anything else as given."""
    if isinstance(x, Tensor):
        x = x.detach()
        return x.item() if x.dim() == 0 else x.cpu().numpy()
    return x


def _drain(file_writer: Any) -> None:
    """Writes every event added so far and flushes the file. tensorboardX's own flush does not
    wait for its worker thread, so events added just before it could stay unwritten for
    ``flush_secs``: here the worker is stopped (it writes the queue first, in order), the file
    flushed, and a new worker started on the same queue and file."""
    ew = getattr(file_writer, "event_writer", None)
    worker = getattr(ew, "_worker", None)
    if worker is None or getattr(ew, "_closed", True):
        file_writer.flush()
        return
    worker.stop()
    ew._ev_writer.flush()
    ew._worker = type(worker)(ew._event_queue, ew._ev_writer, ew._flush_secs)
    ew._worker.start()


class SummaryWriter:
    """Writes entries to event files in ``log_dir`` for TensorBoard (``torch.utils.tensorboard``).

    Args:
        log_dir: the folder; default ``runs/CURRENT_DATETIME_HOSTNAME`` (plus ``comment``).
        comment: appended to the default ``log_dir`` (ignored when ``log_dir`` is given).
        purge_step: drop events at or after this step left by a crashed run.
        max_queue: events held before a write.
        flush_secs: seconds between flushes to disk.
        filename_suffix: appended to the event file's name.
    """

    def __init__(self, log_dir: str | None = None, comment: str = "",
                 purge_step: int | None = None, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        if not log_dir:
            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = log_dir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self._scalar_writers: dict[str, Any] = {}  # add_scalars' writers, one per tag
        self._writer = tensorboardX.SummaryWriter(
            logdir=log_dir, purge_step=purge_step, max_queue=max_queue, flush_secs=flush_secs,
            filename_suffix=filename_suffix)

    def get_logdir(self) -> str:
        """The folder the event files go to."""
        return self.log_dir

    def _get_file_writer(self) -> Any:
        return self._writer._get_file_writer()

    @property
    def file_writer(self) -> Any:
        return self._writer._get_file_writer()

    def add_scalar(self, tag: str, scalar_value: Any, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        """Adds one scalar (a number or a one-element tensor) at ``global_step``."""
        self._writer.add_scalar(tag, _np(scalar_value), _np(global_step), walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict[str, Any],
                    global_step: int | None = None, walltime: float | None = None) -> None:
        """Adds several scalars to one plot (one sub-folder of ``log_dir`` per tag, as torch)."""
        from tensorboardX.summary import scalar

        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, scalar_value in tag_scalar_dict.items():
            # torch's layout: one folder per tag, named MAIN_TAG_TAG (tensorboardX nests them)
            fw_tag = fw_logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            fw = self._scalar_writers.get(fw_tag)
            if fw is None:
                fw = FileWriter(fw_tag, self.max_queue, self.flush_secs, self.filename_suffix)
                self._scalar_writers[fw_tag] = fw
            fw.add_summary(scalar(main_tag, _np(scalar_value)), _np(global_step), walltime)

    def add_histogram(self, tag: str, values: Any, global_step: int | None = None,
                      bins: Any = "tensorflow", walltime: float | None = None,
                      max_bins: int | None = None) -> None:
        """Adds a histogram of ``values``."""
        self._writer.add_histogram(tag, _np(values), _np(global_step), bins, walltime, max_bins)

    def add_image(self, tag: str, img_tensor: Any, global_step: int | None = None,
                  walltime: float | None = None, dataformats: str = "CHW") -> None:
        """Adds an image (floats in [0, 1] or uint8), laid out as ``dataformats`` says."""
        self._writer.add_image(tag, _np(img_tensor), _np(global_step), walltime, dataformats)

    def add_images(self, tag: str, img_tensor: Any, global_step: int | None = None,
                   walltime: float | None = None, dataformats: str = "NCHW") -> None:
        """Adds a batch of images, shown as one grid."""
        self._writer.add_images(tag, _np(img_tensor), _np(global_step), walltime, dataformats)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        """Adds text (markdown)."""
        self._writer.add_text(tag, text_string, _np(global_step), walltime)

    def add_hparams(self, hparam_dict: dict[str, Any], metric_dict: dict[str, Any],
                    hparam_domain_discrete: dict[str, list] | None = None,
                    run_name: str | None = None, global_step: int | None = None) -> None:
        """Adds a hyperparameter run: its values and metrics, in ``log_dir/run_name``."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        from tensorboardX.summary import hparams

        hparam_dict = {k: _np(v) for k, v in hparam_dict.items()}
        metric_dict = {k: _np(v) for k, v in metric_dict.items()}
        # tensorboardX records no discrete domains: TensorBoard infers them from the runs
        exp, ssi, sei = hparams(hparam_dict, metric_dict)
        if not run_name:
            run_name = str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as w_hp:
            w_hp.file_writer.add_summary(exp, global_step)
            w_hp.file_writer.add_summary(ssi, global_step)
            w_hp.file_writer.add_summary(sei, global_step)
            for k, v in metric_dict.items():
                w_hp.add_scalar(k, v, global_step)

    def flush(self) -> None:
        """Writes pending events to disk."""
        for fw in [self._get_file_writer(), *self._scalar_writers.values()]:
            _drain(fw)

    def close(self) -> None:
        """Flushes and closes the event files."""
        self._writer.close()
        for fw in self._scalar_writers.values():
            fw.close()
        self._scalar_writers = {}

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
