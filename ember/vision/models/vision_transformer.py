"""ViT-B/16 (torchvision's ``models.vision_transformer``): Dosovitskiy et al., An Image is Worth
16x16 Words: Transformers for Image Recognition at Scale, 2020. Tree and names as torchvision's
(``encoder.layers.encoder_layer_0.self_attention.in_proj_weight``, ``encoder.layers.
encoder_layer_0.mlp.0.weight``), its legacy MLP key names renamed on load as torchvision does."""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial
from typing import Any, Callable, NamedTuple, Optional

from ... import cat, empty, nn, zeros
from ...tensor import Tensor
from ..ops.misc import MLP, Conv2dNormActivation
from ..transforms.functional import InterpolationMode
from ._api import WeightsEnum, register_model
from ._imagenet import _RECIPE, builder_doc, imagenet_weights
from ._utils import _ovewrite_named_param, handle_legacy_interface

__all__ = ["VisionTransformer", "ViT_B_16_Weights", "vit_b_16"]


def _assert(condition: bool, message: str) -> None:
    # torch._assert: an AssertionError with the message
    if not condition:
        raise AssertionError(message)


class ConvStemConfig(NamedTuple):
    out_channels: int
    kernel_size: int
    stride: int
    norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d
    activation_layer: Callable[..., nn.Module] = nn.ReLU


class MLPBlock(MLP):
    """The transformer's feed-forward block: Linear, GELU, Dropout, Linear, Dropout."""

    # version 2 named its Linear layers 0 and 3 (version 1: linear_1, linear_2)
    _version = 2

    def __init__(self, in_dim: int, mlp_dim: int, dropout: float) -> None:
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU, inplace=None,
                         dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict,
                              strict: bool, missing_keys: list, unexpected_keys: list,
                              error_msgs: list) -> None:
        version = local_metadata.get("version", None)
        if version is None or version < 2:
            for i in range(2):
                for kind in ["weight", "bias"]:
                    old_key = f"{prefix}linear_{i + 1}.{kind}"
                    if old_key in state_dict:
                        state_dict[f"{prefix}{3 * i}.{kind}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class EncoderBlock(nn.Module):
    """Pre-norm transformer layer: ``x + attn(ln_1(x))``, then ``+ mlp(ln_2(.))``."""

    def __init__(self, num_heads: int, hidden_dim: int, mlp_dim: int, dropout: float,
                 attention_dropout: float,
                 norm_layer: Callable[..., nn.Module] = partial(nn.LayerNorm, eps=1e-6)) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads,
                                                    dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input: Tensor) -> Tensor:
        _assert(input.dim() == 3,
                f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Position embedding, dropout, the encoder layers and a final LayerNorm."""

    def __init__(self, seq_length: int, num_layers: int, num_heads: int, hidden_dim: int,
                 mlp_dim: int, dropout: float, attention_dropout: float,
                 norm_layer: Callable[..., nn.Module] = partial(nn.LayerNorm, eps=1e-6)) -> None:
        super().__init__()
        # learned position embedding, initialised as BERT's
        self.pos_embedding = nn.Parameter(empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i in range(num_layers):
            layers[f"encoder_layer_{i}"] = EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout,
                                                        attention_dropout, norm_layer)
        self.layers = nn.Sequential(layers)
        self.ln = norm_layer(hidden_dim)

    def forward(self, input: Tensor) -> Tensor:
        _assert(input.dim() == 3,
                f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Vision Transformer.

    Args:
        image_size, patch_size (int): the input's side (fixed) and the patches' side.
        num_layers, num_heads, hidden_dim, mlp_dim (int): the encoder's shape.
        dropout, attention_dropout (float): Default: 0.0.
        num_classes (int): Default: 1000.
        representation_size (int, optional): a Linear + Tanh "pre-logits" layer of this width.
        norm_layer (callable): Default: ``LayerNorm(eps=1e-6)``.
        conv_stem_configs (list of ConvStemConfig, optional): a convolutional stem in place of
            the patchifying convolution.
    """

    def __init__(self, image_size: int, patch_size: int, num_layers: int, num_heads: int,
                 hidden_dim: int, mlp_dim: int, dropout: float = 0.0,
                 attention_dropout: float = 0.0, num_classes: int = 1000,
                 representation_size: Optional[int] = None,
                 norm_layer: Callable[..., nn.Module] = partial(nn.LayerNorm, eps=1e-6),
                 conv_stem_configs: Optional[list[ConvStemConfig]] = None) -> None:
        super().__init__()
        _assert(image_size % patch_size == 0, "Input shape indivisible by patch size!")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.norm_layer = norm_layer
        if conv_stem_configs is not None:
            # "Early Convolutions Help Transformers See Better" (Xiao et al., 2021)
            seq_proj = nn.Sequential()
            prev_channels = 3
            for i, cfg in enumerate(conv_stem_configs):
                seq_proj.add_module(f"conv_bn_relu_{i}", Conv2dNormActivation(
                    in_channels=prev_channels, out_channels=cfg.out_channels,
                    kernel_size=cfg.kernel_size, stride=cfg.stride, norm_layer=cfg.norm_layer,
                    activation_layer=cfg.activation_layer))
                prev_channels = cfg.out_channels
            seq_proj.add_module("conv_last", nn.Conv2d(in_channels=prev_channels,
                                                       out_channels=hidden_dim, kernel_size=1))
            self.conv_proj: nn.Module = seq_proj
        else:
            self.conv_proj = nn.Conv2d(in_channels=3, out_channels=hidden_dim,
                                       kernel_size=patch_size, stride=patch_size)
        seq_length = (image_size // patch_size) ** 2
        self.class_token = nn.Parameter(zeros(1, 1, hidden_dim))
        seq_length += 1  # the class token
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                               attention_dropout, norm_layer)
        self.seq_length = seq_length
        heads_layers: OrderedDict[str, nn.Module] = OrderedDict()
        if representation_size is None:
            heads_layers["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads_layers["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads_layers["act"] = nn.Tanh()
            heads_layers["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads_layers)

        if isinstance(self.conv_proj, nn.Conv2d):
            fan_in = (self.conv_proj.in_channels * self.conv_proj.kernel_size[0]
                      * self.conv_proj.kernel_size[1])
            nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
            if self.conv_proj.bias is not None:
                nn.init.zeros_(self.conv_proj.bias)
        elif isinstance(getattr(self.conv_proj, "conv_last", None), nn.Conv2d):
            last = self.conv_proj.conv_last
            nn.init.normal_(last.weight, mean=0.0, std=math.sqrt(2.0 / last.out_channels))
            if last.bias is not None:
                nn.init.zeros_(last.bias)
        if hasattr(self.heads, "pre_logits") and isinstance(self.heads.pre_logits, nn.Linear):
            fan_in = self.heads.pre_logits.in_features
            nn.init.trunc_normal_(self.heads.pre_logits.weight, std=math.sqrt(1 / fan_in))
            nn.init.zeros_(self.heads.pre_logits.bias)
        if isinstance(self.heads.head, nn.Linear):
            nn.init.zeros_(self.heads.head.weight)
            nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        p = self.patch_size
        _assert(h == self.image_size,
                f"Wrong image height! Expected {self.image_size} but got {h}!")
        _assert(w == self.image_size,
                f"Wrong image width! Expected {self.image_size} but got {w}!")
        n_h, n_w = h // p, w // p
        # (n, c, h, w) -> (n, hidden_dim, n_h, n_w) -> (n, n_h * n_w, hidden_dim)
        x = self.conv_proj(x)
        return x.reshape(n, self.hidden_dim, n_h * n_w).permute(0, 2, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self._process_input(x)
        n = x.shape[0]
        batch_class_token = self.class_token.expand(n, -1, -1)
        x = self.encoder(cat([batch_class_token, x], dim=1))
        return self.heads(x[:, 0])  # the class token's output


def _vision_transformer(patch_size: int, num_layers: int, num_heads: int, hidden_dim: int,
                        mlp_dim: int, weights: Optional[WeightsEnum], progress: bool,
                        **kwargs: Any) -> VisionTransformer:
    if weights is not None:
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
        assert weights.meta["min_size"][0] == weights.meta["min_size"][1]
        _ovewrite_named_param(kwargs, "image_size", weights.meta["min_size"][0])
    image_size = kwargs.pop("image_size", 224)
    model = VisionTransformer(image_size=image_size, patch_size=patch_size,
                              num_layers=num_layers, num_heads=num_heads, hidden_dim=hidden_dim,
                              mlp_dim=mlp_dim, **kwargs)
    if weights:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


def _swag(weights: Any, recipe: str = "https://github.com/facebookresearch/SWAG") -> Any:
    """SWAG's weights carry its license (and, unless given, its recipe)."""
    weights.meta.update({"recipe": recipe,
                         "license": "https://github.com/facebookresearch/SWAG/blob/main/LICENSE"})
    return weights


class ViT_B_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "vit_b_16-c867db91.pth", num_params=86567656, recipe=_RECIPE + "#vit_b_16",
        acc1=81.072, acc5=95.318, ops=17.564, file_size=330.285, min_size=(224, 224),
        docs="These weights were trained from scratch by using a modified version of DeIT "
             "(https://arxiv.org/abs/2012.12877)'s training recipe.")
    IMAGENET1K_SWAG_E2E_V1 = _swag(imagenet_weights(
        "vit_b_16_swag-9ac1b537.pth", num_params=86859496, recipe="", acc1=85.304, acc5=97.650,
        ops=55.484, file_size=331.398, min_size=(384, 384), crop_size=384, resize_size=384,
        interpolation=InterpolationMode.BICUBIC,
        docs="These weights are learnt via transfer learning by end-to-end fine-tuning the "
             "original SWAG (https://arxiv.org/abs/2201.08371) weights on ImageNet-1K data."))
    IMAGENET1K_SWAG_LINEAR_V1 = _swag(imagenet_weights(
        "vit_b_16_lc_swag-4e70ced5.pth", num_params=86567656, recipe="", acc1=81.886,
        acc5=96.180, ops=17.564, file_size=330.285, min_size=(224, 224), crop_size=224,
        resize_size=224, interpolation=InterpolationMode.BICUBIC,
        docs="These weights are composed of the original frozen SWAG "
             "(https://arxiv.org/abs/2201.08371) trunk weights and a linear classifier learnt on "
             "top of them trained on ImageNet-1K data."),
        recipe="https://github.com/pytorch/vision/pull/5793")
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(weights=("pretrained", ViT_B_16_Weights.IMAGENET1K_V1))
def vit_b_16(*, weights: Optional[ViT_B_16_Weights] = None, progress: bool = True,
             **kwargs: Any) -> VisionTransformer:
    weights = ViT_B_16_Weights.verify(weights)
    return _vision_transformer(patch_size=16, num_layers=12, num_heads=12, hidden_dim=768,
                               mlp_dim=3072, weights=weights, progress=progress, **kwargs)


vit_b_16.__doc__ = builder_doc("ViT-B/16 (Dosovitskiy et al., 2020); ``image_size`` (default "
                               "224) may be passed as a keyword.", "ViT_B_16_Weights",
                               "VisionTransformer")
