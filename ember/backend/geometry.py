"""Where the windows of a convolution or pooling sit: plain integers, shared by every backend."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WindowGeometry:
    """``in_hw`` is the unpadded image, ``out_hw`` the grid of windows, ``pad`` the top/left
    padding (bottom/right follow from the sizes)."""

    kernel: tuple
    stride: tuple
    pad: tuple
    dilation: tuple
    groups: int
    in_hw: tuple
    out_hw: tuple

    def row_pad(self) -> tuple | None:
        """For stride 1: the zero padding (top, bottom, left, right) that makes the windows
        cover the padded image exactly; None where they would need a crop instead."""
        (pt, pl), (h, w), (oh, ow) = self.pad, self.in_hw, self.out_hw
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        pad = (pt, oh + (kh - 1) * dh - h - pt, pl, ow + (kw - 1) * dw - w - pl)
        return pad if self.stride == (1, 1) and min(pad) >= 0 else None

    def transposed(self) -> "WindowGeometry | None":
        """For stride 1, the geometry in which a convolution's input gradient is a convolution
        of the output gradient with the flipped, transposed kernel; None where that needs a
        crop."""
        pad = self.row_pad()
        if pad is None:
            return None
        (kh, kw), (dh, dw) = self.kernel, self.dilation
        reach_h, reach_w = (kh - 1) * dh, (kw - 1) * dw  # each side's padding becomes reach - it
        flipped = (reach_h - pad[0], reach_h - pad[1], reach_w - pad[2], reach_w - pad[3])
        if min(flipped) < 0:
            return None
        return WindowGeometry(self.kernel, self.stride, (flipped[0], flipped[2]), self.dilation,
                              self.groups, self.out_hw, self.in_hw)
