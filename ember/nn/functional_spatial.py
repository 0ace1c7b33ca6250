"""``torch.nn.functional``'s convolution, pooling and rearrangement in every dimension beyond the
2-d core of ``functional.py``: conv1d/3d, the transposed ones, 1-d and 3-d pooling, power-average
pooling, max unpooling, interpolate in every mode and dimension, unfold/fold, affine_grid and
grid_sample (re-exported by ``functional``)."""
from __future__ import annotations

from ..ops.conv_nd import (  # noqa: F401 (re-exported)
    conv1d, conv3d, conv_transpose1d, conv_transpose3d)
from ..ops.pool_1d import (  # noqa: F401 (re-exported)
    adaptive_avg_pool1d, adaptive_max_pool1d, adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d_with_indices, avg_pool1d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d,
    max_pool1d_with_indices, max_unpool1d, max_unpool2d, max_unpool3d)
from ..ops.pool_nd import (  # noqa: F401 (re-exported)
    adaptive_avg_pool3d, adaptive_max_pool3d, adaptive_max_pool3d_with_indices, avg_pool3d,
    max_pool3d, max_pool3d_with_indices)

from ..ops.grid import affine_grid, grid_sample  # noqa: F401 (re-exported)
from ..ops.im2col import fold, unfold  # noqa: F401 (re-exported)
from ..ops.resample import (  # noqa: F401 (re-exported; replaces pool.interpolate's 2-d modes)
    interpolate, upsample, upsample_bilinear, upsample_nearest)

__all__ = [
    "conv1d", "conv3d", "conv_transpose1d", "conv_transpose3d", "max_pool1d", "max_pool3d",
    "max_pool1d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_unpool1d",
    "max_unpool2d", "max_unpool3d", "interpolate", "upsample", "upsample_nearest",
    "upsample_bilinear", "unfold", "fold", "affine_grid", "grid_sample",
]
