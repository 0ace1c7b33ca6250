"""``torch.amp.GradScaler``: dynamic loss scaling, with torch's rules.

On ``"cpu"`` it scales, unscales, skips steps whose gradients hold inf/NaN and adapts the scale
exactly as torch's CPU scaler does. On ``"cuda"`` (the default) with CUDA available, the scale and
the growth tracker live on the device of the first scaled output, as torch's: ``unscale_`` checks
the gradients for inf/NaN on the device, ``step`` reads that flag on the host once (skipping the
optimizer's step when set) and ``update`` adapts the scale on the device, reading nothing back.
Without CUDA, ``"cuda"`` warns and disables itself, as torch does: then ``scale`` returns its
argument, ``step`` calls ``optimizer.step`` and the rest does nothing.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from enum import Enum
from typing import Any

import numpy as _np

from .. import dtypes as _dt
from ..autograd import no_grad
from ..creation import full
from ..tensor import Tensor


def _on_host(t: Tensor) -> bool:
    return type(t._data) is _np.ndarray


def _cuda_available() -> bool:
    from .. import cuda

    return cuda.is_available()

__all__ = ["GradScaler", "OptState"]


def _stack(tensors: list) -> Tensor:
    from ..ops.arrange import stack

    return stack(tensors)


class OptState(Enum):
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state() -> dict[str, Any]:
    return {"stage": OptState.READY, "found_inf_per_device": {}}


def _grads(optimizer: Any, allow_fp16: bool) -> Any:
    """The gradients an unscale visits, in the optimizer's order (float16 ones refused unless
    ``allow_fp16``, as torch's)."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            grad = param.grad
            if grad is None:
                continue
            if not allow_fp16 and grad.dtype is _dt.float16:
                raise ValueError("Attempting to unscale FP16 gradients.")
            yield grad


class GradScaler:
    """Scales a loss so that low-precision gradients do not underflow (``torch.amp.GradScaler``).

    Args:
        device: ``"cpu"``, or ``"cuda"`` (the default; disabled with torch's warning without
            CUDA).
        init_scale: the first scale factor.
        growth_factor: multiplies the scale after ``growth_interval`` steps without inf/NaN.
        backoff_factor: multiplies the scale after a step with inf/NaN gradients (skipped).
        growth_interval: steps without inf/NaN between growths.
        enabled: False makes every method pass through.
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = enabled
        if self._device == "cuda" and enabled and not _cuda_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.", UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled:
            assert growth_factor > 1.0, "The growth factor must be > 1.0."
            assert backoff_factor < 1.0, "The backoff factor must be < 1.0."
            self._init_scale = init_scale
            self._scale: Tensor | None = None  # made on first use, as torch's
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker: Tensor | None = None
            self._per_optimizer_states: defaultdict = defaultdict(_refresh_per_optimizer_state)

    def _lazy_init_scale_growth_tracker(self, dev: Any) -> None:
        assert self._growth_tracker is None, "_growth_tracker initialized before _scale"
        self._scale = full((), self._init_scale, dtype=_dt.float32, device=dev)
        self._growth_tracker = full((), self._init_growth_tracker, dtype=_dt.int32, device=dev)

    def scale(self, outputs: Any) -> Any:
        """``outputs`` (a tensor, or tensors in lists and tuples) multiplied by the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale.to(outputs.device)

        def apply_scale(val: Any) -> Any:
            if isinstance(val, Tensor):
                if self._scale is None:
                    self._lazy_init_scale_growth_tracker(val.device)
                return val * self._scale.to(val.device)
            if isinstance(val, (list, tuple)):
                out = [apply_scale(v) for v in val]
                return type(val)(out)
            if hasattr(val, "__iter__"):
                return map(apply_scale, val)
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")

        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer: Any, inv_scale: Tensor, found_inf: Tensor,
                        allow_fp16: bool) -> dict:
        if not _on_host(inv_scale):
            return self._unscale_grads_on_device(optimizer, inv_scale, allow_fp16)
        with no_grad():
            for grad in _grads(optimizer, allow_fp16):
                if not bool(grad.isfinite().all()):
                    found_inf.fill_(1.0)
                grad.mul_(inv_scale.to(grad.dtype))
        return {self._device: found_inf}

    def _unscale_grads_on_device(self, optimizer: Any, inv_scale: Tensor,
                                 allow_fp16: bool) -> dict:
        """torch's ``_amp_foreach_non_finite_check_and_unscale_``: per device, one found_inf
        flag (0.0 or 1.0, float32, on that device) computed there; nothing read back."""
        per_device: dict = {}
        with no_grad():
            for grad in _grads(optimizer, allow_fp16):
                per_device.setdefault(grad.device, []).append(grad)
            out = {}
            for dev, grads in per_device.items():
                inv = inv_scale.to(dev)
                finite = [g.isfinite().all() for g in grads]
                for g in grads:
                    g.mul_(inv.to(g.dtype))
                all_finite = finite[0] if len(finite) == 1 else _stack(finite).all()
                out[dev] = (~all_finite).to(_dt.float32)
        return out

    def unscale_(self, optimizer: Any) -> None:
        """Divides ``optimizer``'s gradients by the scale (once per step), noting inf/NaN."""
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        assert self._scale is not None
        inv_scale = self._scale.double().reciprocal().float()
        found_inf = full((), 0.0, dtype=_dt.float32, device=self._scale.device)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, found_inf,
                                                             False)
        state["stage"] = OptState.UNSCALED

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """``optimizer.step()`` unless this step's gradients hold inf/NaN (unscaling first)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError(
                "Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        assert len(state["found_inf_per_device"]) > 0, \
            "No inf checks were recorded for this optimizer."
        retval = None
        if not sum(v.item() for v in state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Adapts the scale to the steps since the last update (or sets ``new_scale``)."""
        if not self._enabled:
            return
        _scale, _growth_tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                _scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                          "torch.FloatTensor with requires_grad=False.")
                assert new_scale.device.type == self._device, reason
                assert new_scale.numel() == 1, reason
                assert new_scale.requires_grad is False, reason
                _scale.copy_(new_scale)
        else:
            found_infs = [found_inf for state in self._per_optimizer_states.values()
                          for found_inf in state["found_inf_per_device"].values()]
            assert len(found_infs) > 0, "No inf checks were recorded prior to update."
            if not _on_host(_scale):
                self._update_on_device(_scale, _growth_tracker, found_infs)
                self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)
                return
            found_inf = sum(f.item() for f in found_infs)
            with no_grad():
                if found_inf:
                    _scale.mul_(self._backoff_factor)
                    _growth_tracker.fill_(0)
                else:
                    successful = _growth_tracker.item() + 1
                    if successful == self._growth_interval:
                        grown = _scale.item() * self._growth_factor
                        if grown != float("inf"):  # torch keeps the scale finite
                            _scale.mul_(self._growth_factor)
                        _growth_tracker.fill_(0)
                    else:
                        _growth_tracker.fill_(successful)
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _update_on_device(self, scale: Tensor, tracker: Tensor, found_infs: list) -> None:
        """torch's ``_amp_update_scale_`` on the scale's device: back off after inf/NaN, grow
        after ``growth_interval`` clean steps (when the grown scale stays finite)."""
        from ..ops.compare import where

        with no_grad():
            found = found_infs[0].to(scale.device)
            for f in found_infs[1:]:
                found = found + f.to(scale.device)
            found = found > 0
            successful = tracker + 1
            hit = successful == self._growth_interval
            grown = scale * self._growth_factor
            kept = where(hit & grown.isfinite(), grown, scale)
            scale.copy_(where(found, scale * self._backoff_factor, kept))
            tracker.copy_(successful.masked_fill(found | hit, 0))

    def _check_scale_growth_tracker(self, funcname: str) -> tuple[Tensor, Tensor]:
        fix = ("This may indicate your script did not use scaler.scale(loss or outputs) earlier "
               "in the iteration.")
        assert self._scale is not None, f"Attempted {funcname} but _scale is None.  " + fix
        assert self._growth_tracker is not None, (
            f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def get_scale(self) -> float:
        """The current scale (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale.item()

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return (self._init_growth_tracker if self._growth_tracker is None
                else int(self._growth_tracker.item()))

    def is_enabled(self) -> bool:
        """Whether this scaler scales (False after disabling itself on ``"cuda"``)."""
        return self._enabled

    def state_dict(self) -> dict[str, Any]:
        """torch's keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker
        (empty when disabled)."""
        if self._enabled:
            return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                    "backoff_factor": self._backoff_factor,
                    "growth_interval": self._growth_interval,
                    "_growth_tracker": self._get_growth_tracker()}
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores what :meth:`state_dict` returned."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(state_dict["_growth_tracker"])
