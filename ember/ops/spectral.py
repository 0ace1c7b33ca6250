"""The short-time Fourier transform and its inverse, ``stft`` and ``istft``, composed of recorded
ops as torch composes them (padding, overlapping frames, window, one FFT over all frames, an
in-place transpose; the inverse's overlap-add is one index_add and a division by the window's
summed squares), so they are differentiable and show torch's nodes."""
from __future__ import annotations

import warnings

from .. import dtypes as _dt
from ..backend import get_array_module
from ..tensor import Tensor
from .inplace import type_name

_warned: set = set()


def _describe(x: Tensor) -> str:
    return f"ember.{type_name(x)}Tensor[{', '.join(str(s) for s in x.shape)}]"


def _window_arg(window: Tensor | None) -> str:
    if window is None:
        return "None"
    return f"ember.{type_name(window)}Tensor{{[{', '.join(str(s) for s in window.shape)}]}}"


def _full_window(window: Tensor | None, win_length: int, n_fft: int, like: Tensor) -> Tensor:
    """The window as n_fft taps: ``win_length`` ones when None, centred with zeros around."""
    from ..creation import ones, zeros
    from .arrange import cat

    dtype = like.dtype if not like.is_complex() else _dt.float32
    w = ones(win_length, dtype=dtype, device=like.device) if window is None else window
    if win_length < n_fft:
        left = (n_fft - win_length) // 2
        w = cat([zeros(left, dtype=w.dtype, device=w.device), w,
                 zeros(n_fft - win_length - left, dtype=w.dtype, device=w.device)])
    return w


def stft(input: Tensor, n_fft: int, hop_length: int | None = None, win_length: int | None = None,
         window: Tensor | None = None, center: bool = True, pad_mode: str = "reflect",
         normalized: bool = False, onesided: bool | None = None,
         return_complex: bool | None = None, align_to_window: bool | None = None) -> Tensor:
    """The short-time Fourier transform of ``input`` (L) or (B, L): a (B,) N x frames complex
    tensor, N = n_fft // 2 + 1 when ``onesided``."""
    from .conv import pad as _pad
    from .fft import fft, rfft
    from .layout import TransposeInplace
    from .sample_stats import _QuantileSqueeze

    if return_complex is None and not input.is_complex() and not (
            window is not None and window.is_complex()):
        raise RuntimeError("stft requires the return_complex parameter be given for real inputs, "
                           "and will further require that return_complex=True in a future "
                           "PyTorch release.")
    if window is None and "window" not in _warned:
        _warned.add("window")
        warnings.warn("A window was not provided. A rectangular window will be applied,which is "
                      "known to cause spectral leakage. Other windows such as ember.hann_window "
                      "or ember.hamming_window are recommended to reduce spectral leakage.To "
                      "suppress this warning and use a rectangular window, explicitly set "
                      "`window=ember.ones(n_fft, device=<device>)`.", UserWarning, stacklevel=2)
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    x = input
    if center and 1 <= x.ndim <= 2:
        # torch pads a (1, B, L) view: the padding mode's rules (and errors) for one channel
        shaped = x.reshape((1,) * (3 - x.ndim) + tuple(x.shape))
        x = _pad(shaped, (n_fft // 2, n_fft // 2), pad_mode).reshape(
            tuple(x.shape[:-1]) + (x.shape[-1] + 2 * (n_fft // 2),))
    elif center:
        x = _pad_shape_only(x, n_fft)
    head = (f"stft({_describe(x)}, n_fft={n_fft}, hop_length={hop}, win_length={win}, "
            f"window={_window_arg(window)}, normalized={int(normalized)}, onesided="
            f"{'None' if onesided is None else int(onesided)}, return_complex="
            f"{'None' if return_complex is None else int(return_complex)}, align_to_window="
            f"{'None' if align_to_window is None else int(align_to_window)}) : ")
    if x.ndim not in (1, 2):
        raise RuntimeError(head + "expected a 1D or 2D tensor")
    length = x.shape[-1]
    if n_fft <= 0 or n_fft > length:
        raise RuntimeError(head + f"expected 0 < n_fft < {length}, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(head + f"expected hop_length > 0, but got hop_length={hop}")
    if win <= 0 or win > n_fft:
        raise RuntimeError(head + f"expected 0 < win_length <= n_fft, but got win_length={win}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        raise RuntimeError(head + "expected a 1D window tensor of size equal to win_length="
                           f"{win}, but got window with size {list(window.shape)}")
    batched = x.ndim == 2
    if not batched:
        x = x.unsqueeze(0)
    frames = x.unfold(-1, n_fft, hop)
    if window is not None or win < n_fft:  # (torch multiplies by no window of ones)
        frames = frames * _full_window(window, win, n_fft, x)
    complex_in = x.is_complex() or (window is not None and window.is_complex())
    if onesided is None:
        onesided = not complex_in
    if onesided and complex_in:
        raise RuntimeError(head + "Cannot have onesided output if window or input is complex")
    norm = "ortho" if normalized else None
    spec = (rfft(frames, dim=-1, norm=norm) if onesided else fft(frames, dim=-1, norm=norm))
    spec = TransposeInplace.apply(spec, dim0=1, dim1=2)  # (torch transposes its result in place)
    if not batched:
        spec = _QuantileSqueeze.apply(spec, dims=(0,))
    if not return_complex:
        from .complex import view_as_real

        return view_as_real(spec)
    return spec


def _pad_shape_only(x: Tensor, n_fft: int) -> Tensor:
    """A tensor of more than 2 dims, padded only so that the error names torch's shape."""
    from .conv import pad as _pad

    return _pad(x, (n_fft // 2, n_fft // 2))


def istft(input: Tensor, n_fft: int, hop_length: int | None = None,
          win_length: int | None = None, window: Tensor | None = None, center: bool = True,
          normalized: bool = False, onesided: bool | None = None, length: int | None = None,
          return_complex: bool = False) -> Tensor:
    """The inverse of :func:`stft`: overlap-adds the inverse FFTs of the frames, weighted by the
    window, and divides by the window's overlapping squares."""
    from ..creation import zeros
    from .conv import pad as _pad
    from .fft import ifft, irfft

    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    batched = input.ndim == 3
    spec = input if batched else input.unsqueeze(0)
    n_frames = spec.shape[-1]
    onesided_arg = onesided
    if onesided is None:
        onesided = spec.shape[-2] != n_fft
    real_dtype = _dt.float64 if input.dtype is _dt.complex128 else _dt.float32
    w = _full_window(window, win, n_fft, zeros(1, dtype=real_dtype, device=input.device))
    if normalized:
        spec = spec * (n_fft ** 0.5)
    spec = spec.transpose(1, 2)
    frames = irfft(spec, n=n_fft, dim=-1) if onesided else ifft(spec, n=n_fft, dim=-1)
    if not return_complex and frames.is_complex():
        frames = frames.real
    frames = frames * w
    expected = n_fft + hop * (n_frames - 1)
    xp = get_array_module(w._data)
    # overlap-add: every frame's samples land at their positions, one index_add for all
    index = (xp.arange(n_frames)[:, None] * hop + xp.arange(n_fft)[None, :]).reshape(-1)
    y = zeros((spec.shape[0], expected), dtype=frames.dtype, device=frames.device).index_add(
        1, Tensor._make(index), frames.reshape(spec.shape[0], -1))
    wsq = w._data * w._data
    envelope = xp.zeros(expected, dtype=wsq.dtype)
    xp.add.at(envelope, index, xp.tile(wsq, n_frames))
    start = n_fft // 2 if center else 0
    end = expected - (n_fft // 2 if center else 0) if length is None else start + length
    end = min(end, expected)
    y = y[:, start:end]
    envelope = envelope[start:end]
    if envelope.size and float(xp.abs(envelope).min()) < 1e-11:
        raise RuntimeError(
            f"istft(CPUComplex{'Double' if input.dtype is _dt.complex128 else 'Float'}Type"
            f"[{', '.join(str(s) for s in input.shape)}], n_fft={n_fft}, hop_length={hop}, "
            f"win_length={win}, window={_window_arg(window)}, center={int(center)}, "
            f"normalized={int(normalized)}, onesided="
            f"{'None' if onesided_arg is None else int(onesided_arg)}, length="
            f"{'None' if length is None else length}, return_complex={int(return_complex)}) "
            "window overlap add min: 1\n[ CPUBoolType{} ]")
    y = y / Tensor._make(envelope.astype(w._data.dtype))
    if not batched:
        y = y.squeeze(0)
    if length is not None and y.shape[-1] < length:  # zeros after the last frame
        y = _pad(y, (0, length - y.shape[-1]))
    return y


__all__ = ["stft", "istft"]
TENSOR_METHODS: dict = {"stft": stft, "istft": istft}
