"""Swin-T (torchvision's ``models.swin_transformer``): Liu et al., Swin Transformer: Hierarchical
Vision Transformer using Shifted Windows, 2021. Tree and names as torchvision's
(``features.1.0.attn.relative_position_bias_table``, ``features.2.reduction.weight``)."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Optional

import ember

from ... import cat, flatten, nn, roll, stack, zeros
from ...nn import functional as F
from ...tensor import Tensor
from ..ops.misc import MLP, Permute
from ..ops.stochastic_depth import StochasticDepth
from ..transforms.functional import InterpolationMode
from ._api import WeightsEnum, register_model
from ._imagenet import _RECIPE, builder_doc, imagenet_weights
from ._utils import _with_weights, handle_legacy_interface

__all__ = ["SwinTransformer", "Swin_T_Weights", "swin_t"]


def _patch_merging_pad(x: Tensor) -> Tensor:
    """``(..., H, W, C)`` -> ``(..., H/2, W/2, 4C)``: each 2x2 neighbourhood's features side by
    side (odd sizes padded with zeros)."""
    H, W, _ = x.shape[-3:]
    x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
    x0 = x[..., 0::2, 0::2, :]
    x1 = x[..., 1::2, 0::2, :]
    x2 = x[..., 0::2, 1::2, :]
    x3 = x[..., 1::2, 1::2, :]
    return cat([x0, x1, x2, x3], -1)


class PatchMerging(nn.Module):
    """Halves the resolution and doubles the width: 2x2 neighbourhoods concatenated, normed,
    projected (no bias)."""

    def __init__(self, dim: int, norm_layer: Callable[..., nn.Module] = nn.LayerNorm) -> None:
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.reduction(self.norm(_patch_merging_pad(x)))


def _get_relative_position_bias(relative_position_bias_table: Tensor,
                                relative_position_index: Tensor,
                                window_size: list[int]) -> Tensor:
    """The ``(1, heads, N, N)`` bias of every query/key pair in a window, gathered from the
    table by their relative offset."""
    N = window_size[0] * window_size[1]
    bias = relative_position_bias_table[relative_position_index].view(N, N, -1)
    return bias.permute(2, 0, 1).contiguous().unsqueeze(0)


def _shift_mask(pad_H: int, pad_W: int, window_size: list[int], shift_size: list[int],
                like: Tensor) -> Tensor:
    """``(num_windows, N, N)``: 0 where query and key came from the same region before the
    cyclic shift, -100 where the shift made them neighbours."""
    mask = like.new_zeros((pad_H, pad_W))
    h_slices = ((0, -window_size[0]), (-window_size[0], -shift_size[0]), (-shift_size[0], None))
    w_slices = ((0, -window_size[1]), (-window_size[1], -shift_size[1]), (-shift_size[1], None))
    count = 0
    for h in h_slices:  # the 3x3 regions of the shifted map, numbered
        for w in w_slices:
            mask[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    num_windows = (pad_H // window_size[0]) * (pad_W // window_size[1])
    mask = mask.view(pad_H // window_size[0], window_size[0], pad_W // window_size[1],
                     window_size[1])
    mask = mask.permute(0, 2, 1, 3).reshape(num_windows, window_size[0] * window_size[1])
    mask = mask.unsqueeze(1) - mask.unsqueeze(2)
    return mask.masked_fill(mask != 0, float(-100.0)).masked_fill(mask == 0, float(0.0))


def shifted_window_attention(input: Tensor, qkv_weight: Tensor, proj_weight: Tensor,
                             relative_position_bias: Tensor, window_size: list[int],
                             num_heads: int, shift_size: list[int],
                             attention_dropout: float = 0.0, dropout: float = 0.0,
                             qkv_bias: Optional[Tensor] = None,
                             proj_bias: Optional[Tensor] = None,
                             training: bool = True) -> Tensor:
    """Window-based multi-head self-attention on ``(B, H, W, C)``, the windows shifted by
    ``shift_size`` (a cyclic roll, masked so only pixels adjacent before the roll attend)."""
    B, H, W, C = input.shape
    pad_r = (window_size[1] - W % window_size[1]) % window_size[1]
    pad_b = (window_size[0] - H % window_size[0]) % window_size[0]
    x = F.pad(input, (0, 0, 0, pad_r, 0, pad_b))
    _, pad_H, pad_W, _ = x.shape
    shift_size = list(shift_size)
    # a window covering the whole map needs no shift
    if window_size[0] >= pad_H:
        shift_size[0] = 0
    if window_size[1] >= pad_W:
        shift_size[1] = 0
    if sum(shift_size) > 0:
        x = roll(x, shifts=(-shift_size[0], -shift_size[1]), dims=(1, 2))
    num_windows = (pad_H // window_size[0]) * (pad_W // window_size[1])
    x = x.view(B, pad_H // window_size[0], window_size[0], pad_W // window_size[1],
               window_size[1], C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B * num_windows, window_size[0] * window_size[1], C)
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(x.size(0), x.size(1), 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    q = q * (C // num_heads) ** -0.5
    attn = q.matmul(k.transpose(-2, -1)) + relative_position_bias
    if sum(shift_size) > 0:
        attn_mask = _shift_mask(pad_H, pad_W, window_size, shift_size, x)
        attn = attn.view(x.size(0) // num_windows, num_windows, num_heads, x.size(1), x.size(1))
        attn = attn + attn_mask.unsqueeze(1).unsqueeze(0)
        attn = attn.view(-1, num_heads, x.size(1), x.size(1))
    attn = F.dropout(F.softmax(attn, dim=-1), p=attention_dropout, training=training)
    x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), C)
    x = F.dropout(F.linear(x, proj_weight, proj_bias), p=dropout, training=training)
    # windows back into the map, the shift undone, the padding cropped
    x = x.view(B, pad_H // window_size[0], pad_W // window_size[1], window_size[0],
               window_size[1], C)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, pad_H, pad_W, C)
    if sum(shift_size) > 0:
        x = roll(x, shifts=(shift_size[0], shift_size[1]), dims=(1, 2))
    return x[:, :H, :W, :].contiguous()


class ShiftedWindowAttention(nn.Module):
    """:func:`shifted_window_attention` with its projections and relative position bias."""

    def __init__(self, dim: int, window_size: list[int], shift_size: list[int], num_heads: int,
                 qkv_bias: bool = True, proj_bias: bool = True, attention_dropout: float = 0.0,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if len(window_size) != 2 or len(shift_size) != 2:
            raise ValueError("window_size and shift_size must be of length 2")
        self.window_size = window_size
        self.shift_size = shift_size
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.define_relative_position_bias_table()
        self.define_relative_position_index()

    def define_relative_position_bias_table(self) -> None:
        # one learned bias per head for each of the (2Wh-1)(2Ww-1) relative offsets
        self.relative_position_bias_table = nn.Parameter(zeros(
            (2 * self.window_size[0] - 1) * (2 * self.window_size[1] - 1), self.num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def define_relative_position_index(self) -> None:
        coords_h = ember.arange(self.window_size[0])
        coords_w = ember.arange(self.window_size[1])
        coords = flatten(stack(ember.meshgrid(coords_h, coords_w, indexing="ij")), 1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
        # offsets shifted to start at 0, then (dh, dw) -> one row index of the table
        dh = (relative[:, :, 0] + self.window_size[0] - 1) * (2 * self.window_size[1] - 1)
        dw = relative[:, :, 1] + self.window_size[1] - 1
        self.register_buffer("relative_position_index", (dh + dw).flatten())

    def get_relative_position_bias(self) -> Tensor:
        return _get_relative_position_bias(self.relative_position_bias_table,
                                           self.relative_position_index, self.window_size)

    def forward(self, x: Tensor) -> Tensor:
        return shifted_window_attention(
            x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(),
            self.window_size, self.num_heads, shift_size=self.shift_size,
            attention_dropout=self.attention_dropout, dropout=self.dropout,
            qkv_bias=self.qkv.bias, proj_bias=self.proj.bias, training=self.training)


class SwinTransformerBlock(nn.Module):
    """``x + sd(attn(norm1(x)))``, then ``+ sd(mlp(norm2(.)))``, on ``(B, H, W, C)``."""

    def __init__(self, dim: int, num_heads: int, window_size: list[int], shift_size: list[int],
                 mlp_ratio: float = 4.0, dropout: float = 0.0, attention_dropout: float = 0.0,
                 stochastic_depth_prob: float = 0.0,
                 norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
                 attn_layer: Callable[..., nn.Module] = ShiftedWindowAttention) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_layer(dim, window_size, shift_size, num_heads,
                               attention_dropout=attention_dropout, dropout=dropout)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.norm2 = norm_layer(dim)
        self.mlp = MLP(dim, [int(dim * mlp_ratio), dim], activation_layer=nn.GELU, inplace=None,
                       dropout=dropout)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class SwinTransformer(nn.Module):
    """Swin Transformer.

    Args:
        patch_size (list of 2 int): the patchifying convolution's kernel and stride.
        embed_dim (int): width of the first stage (doubled at each later one).
        depths, num_heads (list of int): blocks and heads per stage.
        window_size (list of 2 int): the attention windows.
        mlp_ratio (float): Default: 4.0.
        dropout, attention_dropout (float): Default: 0.0.
        stochastic_depth_prob (float): the last block's; earlier blocks' grow linearly from 0.
            Default: 0.1.
        num_classes (int): Default: 1000.
        norm_layer, block, downsample_layer (callable, optional): Default: LayerNorm (eps
            1e-5), :class:`SwinTransformerBlock`, :class:`PatchMerging`.
    """

    def __init__(self, patch_size: list[int], embed_dim: int, depths: list[int],
                 num_heads: list[int], window_size: list[int], mlp_ratio: float = 4.0,
                 dropout: float = 0.0, attention_dropout: float = 0.0,
                 stochastic_depth_prob: float = 0.1, num_classes: int = 1000,
                 norm_layer: Optional[Callable[..., nn.Module]] = None,
                 block: Optional[Callable[..., nn.Module]] = None,
                 downsample_layer: Callable[..., nn.Module] = PatchMerging) -> None:
        super().__init__()
        self.num_classes = num_classes
        block = SwinTransformerBlock if block is None else block
        norm_layer = partial(nn.LayerNorm, eps=1e-5) if norm_layer is None else norm_layer
        layers: list[nn.Module] = [nn.Sequential(
            nn.Conv2d(3, embed_dim, kernel_size=(patch_size[0], patch_size[1]),
                      stride=(patch_size[0], patch_size[1])),
            Permute([0, 2, 3, 1]),
            norm_layer(embed_dim),
        )]
        total_stage_blocks = sum(depths)
        stage_block_id = 0
        for i_stage in range(len(depths)):
            stage: list[nn.Module] = []
            dim = embed_dim * 2 ** i_stage
            for i_layer in range(depths[i_stage]):
                sd_prob = stochastic_depth_prob * float(stage_block_id) / (total_stage_blocks - 1)
                # every other block shifts its windows by half a window
                stage.append(block(dim, num_heads[i_stage], window_size=window_size,
                                   shift_size=[0 if i_layer % 2 == 0 else w // 2
                                               for w in window_size],
                                   mlp_ratio=mlp_ratio, dropout=dropout,
                                   attention_dropout=attention_dropout,
                                   stochastic_depth_prob=sd_prob, norm_layer=norm_layer))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
            if i_stage < len(depths) - 1:
                layers.append(downsample_layer(dim, norm_layer))
        self.features = nn.Sequential(*layers)
        num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(num_features)
        self.permute = Permute([0, 3, 1, 2])  # B H W C -> B C H W
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.permute(self.norm(self.features(x)))
        return self.head(self.flatten(self.avgpool(x)))


class Swin_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "swin_t-704ceda3.pth", num_params=28288354, recipe=_RECIPE + "#swintransformer",
        acc1=81.474, acc5=95.776, ops=4.491, file_size=108.19, min_size=(224, 224),
        resize_size=232, interpolation=InterpolationMode.BICUBIC,
        docs="These weights reproduce closely the results of the paper using a similar training "
             "recipe.")
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(weights=("pretrained", Swin_T_Weights.IMAGENET1K_V1))
def swin_t(*, weights: Optional[Swin_T_Weights] = None, progress: bool = True,
           **kwargs: Any) -> SwinTransformer:
    weights = Swin_T_Weights.verify(weights)
    return _with_weights(SwinTransformer, weights, progress, patch_size=[4, 4], embed_dim=96,
                         depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=[7, 7],
                         stochastic_depth_prob=0.2, **kwargs)


swin_t.__doc__ = builder_doc("Swin-T (Liu et al., 2021).", "Swin_T_Weights", "SwinTransformer")
