"""AutoAugment, RandAugment, TrivialAugmentWide and AugMix with torchvision's policies,
magnitude bins and order of random draws (from ember's global RNG)."""
from __future__ import annotations

import math
from enum import Enum
from typing import Any

import ember
from ember import Tensor, nn

from . import functional as F
from .functional import InterpolationMode, _check_interpolation

__all__ = ["AutoAugmentPolicy", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix"]


def _apply_op(img: Any, op_name: str, magnitude: float, interpolation: InterpolationMode,
              fill: list[float] | None) -> Any:
    if op_name == "ShearX":
        # torchvision shears by atan(magnitude) about the corner (0, 0), as the reference code
        return F.affine(img, angle=0.0, translate=[0, 0], scale=1.0,
                        shear=[math.degrees(math.atan(magnitude)), 0.0],
                        interpolation=interpolation, fill=fill, center=[0, 0])
    if op_name == "ShearY":
        return F.affine(img, angle=0.0, translate=[0, 0], scale=1.0,
                        shear=[0.0, math.degrees(math.atan(magnitude))],
                        interpolation=interpolation, fill=fill, center=[0, 0])
    if op_name == "TranslateX":
        return F.affine(img, angle=0.0, translate=[int(magnitude), 0], scale=1.0,
                        interpolation=interpolation, shear=[0.0, 0.0], fill=fill)
    if op_name == "TranslateY":
        return F.affine(img, angle=0.0, translate=[0, int(magnitude)], scale=1.0,
                        interpolation=interpolation, shear=[0.0, 0.0], fill=fill)
    if op_name == "Rotate":
        return F.rotate(img, magnitude, interpolation=interpolation, fill=fill)
    if op_name == "Brightness":
        return F.adjust_brightness(img, 1.0 + magnitude)
    if op_name == "Color":
        return F.adjust_saturation(img, 1.0 + magnitude)
    if op_name == "Contrast":
        return F.adjust_contrast(img, 1.0 + magnitude)
    if op_name == "Sharpness":
        return F.adjust_sharpness(img, 1.0 + magnitude)
    if op_name == "Posterize":
        return F.posterize(img, int(magnitude))
    if op_name == "Solarize":
        bound = 1.0 if isinstance(img, Tensor) and img.is_floating_point() else 255.0
        return F.solarize(img, bound * magnitude)
    if op_name == "AutoContrast":
        return F.autocontrast(img)
    if op_name == "Equalize":
        return F.equalize(img)
    if op_name == "Invert":
        return F.invert(img)
    if op_name == "Identity":
        return img
    raise ValueError(f"The provided operator {op_name} is not recognized.")


def _tensor_fill(img: Any, fill: Any) -> Any:
    if isinstance(img, Tensor):
        if isinstance(fill, (int, float)):
            return [float(fill)] * F.get_image_num_channels(img)
        if fill is not None:
            return [float(f) for f in fill]
    return fill


def _posterize_bins(num_bins: int, top: int, levels: int) -> Tensor:
    return top - (ember.arange(num_bins) / ((num_bins - 1) / levels)).round().int()


# The augmentation spaces map op name -> (magnitudes, signed); the key order is the order the
# ops are drawn from. They differ only in their maxima, so they are built from these parts.


def _geometric_ops(num_bins: int, shear: float, translate_x: float, translate_y: float,
                   rotate: float) -> dict[str, tuple[Tensor, bool]]:
    return {
        "ShearX": (ember.linspace(0.0, shear, num_bins), True),
        "ShearY": (ember.linspace(0.0, shear, num_bins), True),
        "TranslateX": (ember.linspace(0.0, translate_x, num_bins), True),
        "TranslateY": (ember.linspace(0.0, translate_y, num_bins), True),
        "Rotate": (ember.linspace(0.0, rotate, num_bins), True),
    }


def _enhance_ops(num_bins: int, top: float) -> dict[str, tuple[Tensor, bool]]:
    return {name: (ember.linspace(0.0, top, num_bins), True)
            for name in ("Brightness", "Color", "Contrast", "Sharpness")}


def _tone_ops(num_bins: int, posterize_top: int,
              posterize_levels: int) -> dict[str, tuple[Tensor, bool]]:
    return {
        "Posterize": (_posterize_bins(num_bins, posterize_top, posterize_levels), False),
        "Solarize": (ember.linspace(1.0, 0.0, num_bins), False),
        "AutoContrast": (ember.tensor(0.0), False),
        "Equalize": (ember.tensor(0.0), False),
    }


def _standard_space(num_bins: int, image_size: list[int]) -> dict[str, tuple[Tensor, bool]]:
    # AutoAugment's and RandAugment's common space
    return {**_geometric_ops(num_bins, 0.3, 150.0 / 331.0 * image_size[0],
                             150.0 / 331.0 * image_size[1], 30.0),
            **_enhance_ops(num_bins, 0.9), **_tone_ops(num_bins, 8, 4)}


class AutoAugmentPolicy(Enum):
    """AutoAugment policies learned on IMAGENET, CIFAR10 and SVHN."""

    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


# (op, probability, magnitude bin) pairs, from the AutoAugment paper (as torchvision lists them)
_POLICIES = {
    AutoAugmentPolicy.IMAGENET: [
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
        (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
        (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
        (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
        (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
        (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
        (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
        (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
        (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
        (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
        (("ShearX", 0.6, 5), ("Equalize", 1.0, None)),
        (("Color", 0.4, 0), ("Equalize", 0.6, None)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    ],
    AutoAugmentPolicy.CIFAR10: [
        (("Invert", 0.1, None), ("Contrast", 0.2, 6)),
        (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
        (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
        (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.5, None), ("Equalize", 0.9, None)),
        (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
        (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
        (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
        (("Equalize", 0.6, None), ("Equalize", 0.5, None)),
        (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
        (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
        (("Equalize", 0.3, None), ("AutoContrast", 0.4, None)),
        (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
        (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
        (("Solarize", 0.5, 2), ("Invert", 0.0, None)),
        (("Equalize", 0.2, None), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.2, None), ("Equalize", 0.6, None)),
        (("Color", 0.9, 9), ("Equalize", 0.6, None)),
        (("AutoContrast", 0.8, None), ("Solarize", 0.2, 8)),
        (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
        (("Solarize", 0.4, 5), ("AutoContrast", 0.9, None)),
        (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.9, None), ("Solarize", 0.8, 3)),
        (("Equalize", 0.8, None), ("Invert", 0.1, None)),
        (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, None)),
    ],
    AutoAugmentPolicy.SVHN: [
        (("ShearX", 0.9, 4), ("Invert", 0.2, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.6, None), ("Solarize", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("AutoContrast", 0.8, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.4, None)),
        (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
        (("Invert", 0.9, None), ("AutoContrast", 0.8, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)),
        (("ShearY", 0.8, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.9, None), ("TranslateY", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)),
        (("Invert", 0.8, None), ("TranslateY", 0.0, 2)),
        (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)),
        (("Invert", 0.6, None), ("Rotate", 0.8, 4)),
        (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)),
        (("ShearX", 0.1, 6), ("Invert", 0.6, None)),
        (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)),
        (("ShearY", 0.8, 4), ("Invert", 0.8, None)),
        (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)),
        (("ShearY", 0.8, 5), ("AutoContrast", 0.7, None)),
        (("ShearX", 0.7, 2), ("Invert", 0.1, None)),
    ],
}


class AutoAugment(nn.Module):
    """`AutoAugment <https://arxiv.org/abs/1805.09501>`_: one random sub-policy of two
    operations, each applied with its probability. Tensor images must be uint8."""

    def __init__(self, policy: AutoAugmentPolicy = AutoAugmentPolicy.IMAGENET,
                 interpolation: InterpolationMode = InterpolationMode.NEAREST,
                 fill: list[float] | None = None) -> None:
        super().__init__()
        self.policy = policy
        self.interpolation = _check_interpolation(interpolation)
        self.fill = fill
        self.policies = self._get_policies(policy)

    def _get_policies(self, policy: AutoAugmentPolicy) -> list:
        if policy not in _POLICIES:
            raise ValueError(f"The provided policy {policy} is not recognized.")
        return list(_POLICIES[policy])

    def _augmentation_space(self, num_bins: int,
                            image_size: list[int]) -> dict[str, tuple[Tensor, bool]]:
        space = _standard_space(num_bins, image_size)
        space["Invert"] = (ember.tensor(0.0), False)
        return space

    @staticmethod
    def get_params(transform_num: int) -> tuple[int, Tensor, Tensor]:
        """``(policy_id, probs, signs)``."""
        policy_id = int(ember.randint(transform_num, (1,)).item())
        probs = ember.rand((2,))
        signs = ember.randint(2, (2,))
        return policy_id, probs, signs

    def forward(self, img: Any) -> Any:
        fill = _tensor_fill(img, self.fill)
        transform_id, probs, signs = self.get_params(len(self.policies))
        op_meta = self._augmentation_space(10, F.get_image_size(img))
        for i, (op_name, p, magnitude_id) in enumerate(self.policies[transform_id]):
            if probs[i] <= p:
                magnitudes, signed = op_meta[op_name]
                magnitude = float(magnitudes[magnitude_id].item()) \
                    if magnitude_id is not None else 0.0
                if signed and signs[i] == 0:
                    magnitude *= -1.0
                img = _apply_op(img, op_name, magnitude, interpolation=self.interpolation,
                                fill=fill)
        return img

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(policy={self.policy}, fill={self.fill})"


class RandAugment(nn.Module):
    """`RandAugment <https://arxiv.org/abs/1909.13719>`_: ``num_ops`` operations drawn uniformly,
    each at bin ``magnitude`` of ``num_magnitude_bins``."""

    def __init__(self, num_ops: int = 2, magnitude: int = 9, num_magnitude_bins: int = 31,
                 interpolation: InterpolationMode = InterpolationMode.NEAREST,
                 fill: list[float] | None = None) -> None:
        super().__init__()
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = _check_interpolation(interpolation)
        self.fill = fill

    def _augmentation_space(self, num_bins: int,
                            image_size: list[int]) -> dict[str, tuple[Tensor, bool]]:
        return {"Identity": (ember.tensor(0.0), False), **_standard_space(num_bins, image_size)}

    def forward(self, img: Any) -> Any:
        fill = _tensor_fill(img, self.fill)
        for _ in range(self.num_ops):
            op_meta = self._augmentation_space(self.num_magnitude_bins, F.get_image_size(img))
            op_index = int(ember.randint(len(op_meta), (1,)).item())
            op_name = list(op_meta.keys())[op_index]
            magnitudes, signed = op_meta[op_name]
            magnitude = float(magnitudes[self.magnitude].item()) if magnitudes.ndim > 0 else 0.0
            if signed and ember.randint(2, (1,)):
                magnitude *= -1.0
            img = _apply_op(img, op_name, magnitude, interpolation=self.interpolation, fill=fill)
        return img

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_ops={self.num_ops}, magnitude={self.magnitude}, "
                f"num_magnitude_bins={self.num_magnitude_bins}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


class TrivialAugmentWide(nn.Module):
    """`TrivialAugment <https://arxiv.org/abs/2103.10158>`_ (wide space): one operation at a
    uniformly drawn magnitude bin."""

    def __init__(self, num_magnitude_bins: int = 31,
                 interpolation: InterpolationMode = InterpolationMode.NEAREST,
                 fill: list[float] | None = None) -> None:
        super().__init__()
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = _check_interpolation(interpolation)
        self.fill = fill

    def _augmentation_space(self, num_bins: int) -> dict[str, tuple[Tensor, bool]]:
        return {"Identity": (ember.tensor(0.0), False),
                **_geometric_ops(num_bins, 0.99, 32.0, 32.0, 135.0),
                **_enhance_ops(num_bins, 0.99), **_tone_ops(num_bins, 8, 6)}

    def forward(self, img: Any) -> Any:
        fill = _tensor_fill(img, self.fill)
        op_meta = self._augmentation_space(self.num_magnitude_bins)
        op_index = int(ember.randint(len(op_meta), (1,)).item())
        op_name = list(op_meta.keys())[op_index]
        magnitudes, signed = op_meta[op_name]
        magnitude = (float(magnitudes[ember.randint(len(magnitudes), (1,), dtype=ember.long)]
                           .item()) if magnitudes.ndim > 0 else 0.0)
        if signed and ember.randint(2, (1,)):
            magnitude *= -1.0
        return _apply_op(img, op_name, magnitude, interpolation=self.interpolation, fill=fill)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_magnitude_bins={self.num_magnitude_bins}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


class AugMix(nn.Module):
    """`AugMix <https://arxiv.org/abs/1912.02781>`_: a Dirichlet-weighted mix of
    ``mixture_width`` chains of random operations, blended with the original by a Beta draw."""

    def __init__(self, severity: int = 3, mixture_width: int = 3, chain_depth: int = -1,
                 alpha: float = 1.0, all_ops: bool = True,
                 interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                 fill: list[float] | None = None) -> None:
        super().__init__()
        self._PARAMETER_MAX = 10
        if not (1 <= severity <= self._PARAMETER_MAX):
            raise ValueError(f"The severity must be between [1, {self._PARAMETER_MAX}]. "
                             f"Got {severity} instead.")
        self.severity = severity
        self.mixture_width = mixture_width
        self.chain_depth = chain_depth
        self.alpha = alpha
        self.all_ops = all_ops
        self.interpolation = _check_interpolation(interpolation)
        self.fill = fill

    def _augmentation_space(self, num_bins: int,
                            image_size: list[int]) -> dict[str, tuple[Tensor, bool]]:
        s = {**_geometric_ops(num_bins, 0.3, image_size[0] / 3.0, image_size[1] / 3.0, 30.0),
             **_tone_ops(num_bins, 4, 4)}
        if self.all_ops:
            s.update(_enhance_ops(num_bins, 0.9))
        return s

    @staticmethod
    def _sample_dirichlet(params: Tensor) -> Tensor:
        from ember.distributions import Dirichlet

        return Dirichlet(params).sample()

    def forward(self, orig_img: Any) -> Any:
        fill = self.fill
        if isinstance(orig_img, Tensor):
            img = orig_img
            fill = _tensor_fill(img, fill)
        else:
            img = F.pil_to_tensor(orig_img)
        op_meta = self._augmentation_space(self._PARAMETER_MAX, F.get_image_size(img))
        orig_dims = list(img.shape)
        batch = img.reshape([1] * max(4 - img.ndim, 0) + orig_dims)
        batch_dims = [batch.size(0)] + [1] * (batch.ndim - 1)
        # the Beta weight of the original vs the mix, as a 2-parameter Dirichlet
        m = self._sample_dirichlet(
            ember.tensor([self.alpha, self.alpha], device=batch.device).expand(batch_dims[0], -1))
        combined_weights = self._sample_dirichlet(
            ember.tensor([self.alpha] * self.mixture_width, device=batch.device)
            .expand(batch_dims[0], -1)
        ) * m[:, 1].reshape([batch_dims[0], -1])
        mix = m[:, 0].reshape(batch_dims) * batch
        for i in range(self.mixture_width):
            aug = batch
            depth = self.chain_depth if self.chain_depth > 0 else \
                int(ember.randint(low=1, high=4, size=(1,)).item())
            for _ in range(depth):
                op_index = int(ember.randint(len(op_meta), (1,)).item())
                op_name = list(op_meta.keys())[op_index]
                magnitudes, signed = op_meta[op_name]
                magnitude = (float(magnitudes[ember.randint(self.severity, (1,),
                                                            dtype=ember.long)].item())
                             if magnitudes.ndim > 0 else 0.0)
                if signed and ember.randint(2, (1,)):
                    magnitude *= -1.0
                aug = _apply_op(aug, op_name, magnitude, interpolation=self.interpolation,
                                fill=fill)
            mix = mix + combined_weights[:, i].reshape(batch_dims) * aug
        mix = mix.reshape(orig_dims).to(dtype=img.dtype)
        if not isinstance(orig_img, Tensor):
            return F.to_pil_image(mix)
        return mix

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(severity={self.severity}, "
                f"mixture_width={self.mixture_width}, chain_depth={self.chain_depth}, "
                f"alpha={self.alpha}, all_ops={self.all_ops}, "
                f"interpolation={self.interpolation}, fill={self.fill})")
