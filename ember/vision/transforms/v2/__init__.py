"""``torchvision.transforms.v2`` for ember: the v1 transforms under their v2 names, taking any
structure of inputs (``img``, ``(img, label)``, ``{"image": img, "label": 3}``, ...).

ember has no ``tv_tensors``, so torchvision's rule for plain inputs applies: the first PIL image
or tensor in the (flattened) inputs is the image and is transformed; everything else passes
through unchanged. The numbers drawn are those of the v1 transform of the same name.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

import ember
from ember import Tensor, nn

from .. import _transforms_more as _m1
from .. import autoaugment as _a1
from .. import transforms as _t1
from .. import functional as _F1
from .._pil import is_pil_image
from ..functional import InterpolationMode
from . import functional

__all__ = [
    "Transform", "Compose", "RandomApply", "RandomChoice", "RandomOrder", "Lambda", "Identity",
    "ToImage", "ToDtype", "ToPureTensor", "PILToTensor", "ToPILImage", "ToTensor",
    "ConvertImageDtype", "Normalize", "Resize", "CenterCrop", "Pad", "RandomCrop",
    "RandomResizedCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "ColorJitter", "Grayscale",
    "RandomGrayscale", "RandomRotation", "RandomAffine", "RandomPerspective", "RandomErasing",
    "GaussianBlur", "RandomInvert", "RandomPosterize", "RandomSolarize", "RandomAdjustSharpness",
    "RandomAutocontrast", "RandomEqualize", "FiveCrop", "TenCrop", "ElasticTransform",
    "AutoAugmentPolicy", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix",
    "InterpolationMode", "functional", "LinearTransformation", "MixUp", "CutMix", "RGB",
    "GaussianNoise", "RandomChannelPermutation", "RandomResize",
]
AutoAugmentPolicy = _a1.AutoAugmentPolicy


# ---------------------------------------------------------------------------- input structures


def _flatten(obj: Any) -> tuple[list[Any], Callable[[list[Any]], Any]]:
    """Leaves of nested tuples/lists/dicts, and a function that rebuilds the structure."""
    if isinstance(obj, (tuple, list)):
        parts = [_flatten(o) for o in obj]
        sizes = [len(p[0]) for p in parts]

        def rebuild(leaves: list[Any]) -> Any:
            out, k = [], 0
            for (_, fn), n in zip(parts, sizes):
                out.append(fn(leaves[k:k + n]))
                k += n
            return type(obj)(out) if isinstance(obj, list) else tuple(out)
        return [leaf for p in parts for leaf in p[0]], rebuild
    if isinstance(obj, dict):
        keys = list(obj)
        inner_flat, inner_rebuild = _flatten([obj[k] for k in keys])
        return inner_flat, lambda leaves: dict(zip(keys, inner_rebuild(leaves)))
    return [obj], lambda leaves: leaves[0]


def _is_image(x: Any) -> bool:
    return isinstance(x, Tensor) or is_pil_image(x) or isinstance(x, np.ndarray)


def _pack(inputs: tuple) -> Any:
    return inputs if len(inputs) > 1 else inputs[0]


class _Structured:
    """Applies ``_transform`` to the first image in the inputs; the rest passes through."""

    def _transform(self, inpt: Any) -> Any:
        return super().__call__(inpt)  # the v1 class's own call (after this mixin in the MRO)

    def __call__(self, *inputs: Any) -> Any:
        flat, rebuild = _flatten(_pack(inputs))
        for i, leaf in enumerate(flat):
            if _is_image(leaf):
                flat[i] = self._transform(leaf)
                break
        return rebuild(flat)


class Transform(_Structured, nn.Module):
    """Base of the v2 transforms: override ``_transform(inpt)`` for the image."""

    def _transform(self, inpt: Any) -> Any:
        raise NotImplementedError


def _v2(v1: type, doc: str | None = None) -> type:
    # nn.Module transforms become Transforms; the few plain callables (PILToTensor, ToPILImage)
    # keep their own __init__/__call__ behind the structure handling
    bases = (Transform, v1) if issubclass(v1, nn.Module) else (_Structured, v1)
    ns = {"__doc__": doc or v1.__doc__, "__module__": __name__}
    if issubclass(v1, nn.Module):
        ns["_transform"] = lambda self, inpt: v1.__call__(self, inpt)
    return type(v1.__name__, bases, ns)


Normalize = _v2(_t1.Normalize)
Resize = _v2(_t1.Resize)
CenterCrop = _v2(_t1.CenterCrop)
Pad = _v2(_t1.Pad)
RandomCrop = _v2(_t1.RandomCrop)
RandomResizedCrop = _v2(_t1.RandomResizedCrop)
RandomHorizontalFlip = _v2(_t1.RandomHorizontalFlip)
RandomVerticalFlip = _v2(_t1.RandomVerticalFlip)
ColorJitter = _v2(_t1.ColorJitter)
PILToTensor = _v2(_t1.PILToTensor)
ToPILImage = _v2(_t1.ToPILImage)
ConvertImageDtype = _v2(_t1.ConvertImageDtype)
Grayscale = _v2(_m1.Grayscale)
RandomGrayscale = _v2(_m1.RandomGrayscale)
RandomRotation = _v2(_m1.RandomRotation)
RandomAffine = _v2(_m1.RandomAffine)
RandomPerspective = _v2(_m1.RandomPerspective)
RandomErasing = _v2(_m1.RandomErasing)
GaussianBlur = _v2(_m1.GaussianBlur)
RandomInvert = _v2(_m1.RandomInvert)
RandomPosterize = _v2(_m1.RandomPosterize)
RandomSolarize = _v2(_m1.RandomSolarize)
RandomAdjustSharpness = _v2(_m1.RandomAdjustSharpness)
RandomAutocontrast = _v2(_m1.RandomAutocontrast)
RandomEqualize = _v2(_m1.RandomEqualize)
FiveCrop = _v2(_m1.FiveCrop)
TenCrop = _v2(_m1.TenCrop)
ElasticTransform = _v2(_m1.ElasticTransform)
AutoAugment = _v2(_a1.AutoAugment)
RandAugment = _v2(_a1.RandAugment)
TrivialAugmentWide = _v2(_a1.TrivialAugmentWide)
AugMix = _v2(_a1.AugMix)
LinearTransformation = _v2(_m1.LinearTransformation)


class RGB(Transform):
    """Converts a 1- or 3-channel image to 3 channels (grayscale is repeated)."""

    def _transform(self, inpt: Any) -> Any:
        if isinstance(inpt, Tensor):
            c = _F1.get_dimensions(inpt)[0]
            if c == 3:
                return inpt
            if c != 1:
                raise ValueError(f"Input image tensor permitted channel values are 1 or 3, "
                                 f"but found {c}")
            return inpt.expand(*inpt.shape[:-3], 3, *inpt.shape[-2:])
        return inpt.convert("RGB") if is_pil_image(inpt) else inpt

    def __repr__(self) -> str:
        return "RGB()"


class GaussianNoise(Transform):
    """Adds Gaussian noise to a float image (clamped to ``[0, 1]`` when ``clip``)."""

    def __init__(self, mean: float = 0.0, sigma: float = 0.1, clip: bool = True) -> None:
        super().__init__()
        self.mean, self.sigma, self.clip = mean, sigma, clip

    def _transform(self, inpt: Any) -> Any:
        if is_pil_image(inpt):
            raise TypeError("GaussianNoise() does not support PIL images.")
        return functional.gaussian_noise(inpt, self.mean, self.sigma, self.clip)

    def __repr__(self) -> str:
        return f"GaussianNoise(mean={self.mean}, sigma={self.sigma}, clip={self.clip})"


class RandomChannelPermutation(Transform):
    """Shuffles the channels of the image (``randperm``)."""

    def _transform(self, inpt: Any) -> Any:
        perm = ember.randperm(_F1.get_dimensions(inpt)[0]).tolist()
        return functional.permute_channels(inpt, perm)

    def __repr__(self) -> str:
        return "RandomChannelPermutation()"


class RandomResize(Transform):
    """Resizes the shorter side to a size drawn uniformly from ``[min_size, max_size)``."""

    def __init__(self, min_size: int, max_size: int,
                 interpolation: InterpolationMode = InterpolationMode.BILINEAR,
                 antialias: bool | None = True) -> None:
        super().__init__()
        self.min_size, self.max_size = min_size, max_size
        self.interpolation = interpolation
        self.antialias = antialias

    def _transform(self, inpt: Any) -> Any:
        size = int(ember.randint(self.min_size, self.max_size, ()))
        return _F1.resize(inpt, [size], interpolation=self.interpolation,
                          antialias=self.antialias)

    def __repr__(self) -> str:
        return (f"RandomResize(min_size={self.min_size}, max_size={self.max_size}, "
                f"interpolation={self.interpolation}, antialias={self.antialias})")


def _find_labels_default(inputs: Any) -> Any:
    # (img, labels): the labels are second; a dict: the key "labels", else one containing "label"
    if isinstance(inputs, (tuple, list)):
        inputs = inputs[1]
    if isinstance(inputs, Tensor):
        return inputs
    if not isinstance(inputs, dict):
        raise ValueError(
            "When using the default labels_getter, the input passed to forward must be a "
            "dictionary or a two-tuple whose second item is a dictionary or a tensor, but got "
            f"{inputs} instead.")
    key = next((k for k in inputs if k.lower() == "labels"), None)
    if key is None:
        key = next((k for k in inputs if "label" in k.lower()), None)
    if key is None:
        raise ValueError(
            "Could not infer where the labels are in the sample. Try passing a callable as the "
            "labels_getter parameter?If there are no labels in the sample by design, pass "
            "labels_getter=None.")
    return inputs[key]


class _BaseMixUpCutMix(Transform):
    def __init__(self, *, alpha: float = 1.0, num_classes: int | None = None,
                 labels_getter: Any = "default") -> None:
        super().__init__()
        from ember.distributions import Beta

        self.alpha = float(alpha)
        self._dist = Beta(ember.tensor([alpha]), ember.tensor([alpha]))
        self.num_classes = num_classes
        if labels_getter == "default":
            labels_getter = _find_labels_default
        elif not callable(labels_getter):
            raise ValueError(f"labels_getter should either be 'default', a callable, or None, "
                             f"but got {labels_getter}.")
        self._labels_getter = labels_getter

    def _params(self, image: Tensor) -> dict:
        raise NotImplementedError

    def _mix_image(self, image: Tensor, params: dict) -> Tensor:
        raise NotImplementedError

    def _mixup_label(self, label: Tensor, lam: float) -> Tensor:
        if label.ndim == 1:
            label = ember.nn.functional.one_hot(
                label, num_classes=self.num_classes if self.num_classes is not None else -1)
        if not label.dtype.is_floating_point:
            label = label.float()
        return label.roll(1, 0) * (1.0 - lam) + label * lam

    def __call__(self, *inputs: Any) -> Any:
        packed = _pack(inputs)
        flat, rebuild = _flatten(packed)
        if any(is_pil_image(x) for x in flat):
            raise ValueError(f"{type(self).__name__}() does not support PIL images, bounding "
                             "boxes and masks.")
        labels = self._labels_getter(packed)
        if not isinstance(labels, Tensor):
            raise ValueError(f"The labels must be a torch.Tensor, but got {type(labels)} instead.")
        if labels.ndim not in (1, 2):
            raise ValueError(
                "labels should be index based with shape (batch_size,) or probability based with "
                f"shape (batch_size, num_classes), but got a tensor of shape {labels.shape} "
                "instead.")
        if labels.ndim == 2 and self.num_classes is not None and \
                labels.shape[-1] != self.num_classes:
            raise ValueError(f"When passing 2D labels, the number of elements in last dimension "
                             f"must match num_classes: {labels.shape[-1]} != {self.num_classes}. "
                             "You can Leave num_classes to None.")
        image_idx = next((i for i, x in enumerate(flat)
                          if isinstance(x, Tensor) and x is not labels), None)
        if image_idx is None:
            return packed
        image = flat[image_idx]
        if image.ndim != 4:
            raise ValueError(f"Expected a batched input with 4 dims, but got {image.ndim} "
                             "dimensions instead.")
        if image.shape[0] != labels.shape[0]:
            raise ValueError("The batch size of the image or video does not match the batch size "
                             f"of the labels: {image.shape[0]} != {labels.shape[0]}.")
        params = self._params(image)
        flat[image_idx] = self._mix_image(image, params)
        label_idx = next(i for i, x in enumerate(flat) if x is labels)
        flat[label_idx] = self._mixup_label(labels, params["lam"])
        return rebuild(flat)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha}, num_classes={self.num_classes})"


class MixUp(_BaseMixUpCutMix):
    """`MixUp <https://arxiv.org/abs/1710.09412>`_ on a batch: each image and one-hot label is
    blended with the previous one in the batch (``roll(1, 0)``) with weight ``lam ~ Beta``."""

    def _params(self, image: Tensor) -> dict:
        return {"lam": float(self._dist.sample(()))}

    def _mix_image(self, image: Tensor, params: dict) -> Tensor:
        lam = params["lam"]
        out = image.roll(1, 0) * (1.0 - lam) + image * lam
        return out.to(image.dtype) if not image.dtype.is_floating_point else out


class CutMix(_BaseMixUpCutMix):
    """`CutMix <https://arxiv.org/abs/1905.04899>`_ on a batch: a random box of each image is
    pasted from the previous image; labels mix by the box's share of the area."""

    def _params(self, image: Tensor) -> dict:
        lam = float(self._dist.sample(()))
        H, W = image.shape[-2:]
        r_x = ember.randint(W, size=(1,))
        r_y = ember.randint(H, size=(1,))
        r = 0.5 * (1.0 - lam) ** 0.5
        r_w_half, r_h_half = int(r * W), int(r * H)
        x1 = int(ember.clamp(r_x - r_w_half, min=0))
        y1 = int(ember.clamp(r_y - r_h_half, min=0))
        x2 = int(ember.clamp(r_x + r_w_half, max=W))
        y2 = int(ember.clamp(r_y + r_h_half, max=H))
        lam_adjusted = float(1.0 - (x2 - x1) * (y2 - y1) / (W * H))
        return {"box": (x1, y1, x2, y2), "lam": lam_adjusted}

    def _mix_image(self, image: Tensor, params: dict) -> Tensor:
        x1, y1, x2, y2 = params["box"]
        out = image.clone()
        out[..., y1:y2, x1:x2] = image.roll(1, 0)[..., y1:y2, x1:x2]
        return out


class ToTensor(_Structured, _t1.ToTensor):
    """Deprecated in v2: use ``Compose([ToImage(), ToDtype(ember.float32, scale=True)])``."""

    def __init__(self) -> None:
        warnings.warn(
            "The transform `ToTensor()` is deprecated and will be removed in a future release. "
            "Instead, please use `v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, "
            "scale=True)])`.Output is equivalent up to float precision.")


class ToImage(Transform):
    """A PIL image, ``HxWxC`` ndarray or tensor as a ``CxHxW`` tensor of the same dtype."""

    def _transform(self, inpt: Any) -> Any:
        return functional.to_image(inpt)

    def __repr__(self) -> str:
        return "ToImage()"


class ToPureTensor(Transform):
    """Unwraps tv_tensors to plain tensors: ember's images are plain tensors already."""

    def _transform(self, inpt: Any) -> Any:
        return inpt

    def __repr__(self) -> str:
        return "ToPureTensor()"


class Identity(Transform):
    """Returns the inputs unchanged."""

    def __call__(self, *inputs: Any) -> Any:
        return _pack(inputs)

    def __repr__(self) -> str:
        return "Identity()"


class ToDtype(Transform):
    """Converts the image to ``dtype``; with ``scale=True`` rescales the values as
    ``convert_image_dtype`` does (e.g. uint8 ``[0, 255]`` to float ``[0, 1]``)."""

    def __init__(self, dtype: Any, scale: bool = False) -> None:
        super().__init__()
        if not isinstance(dtype, (dict, ember.dtype)):
            raise ValueError(f"dtype must be a dict or a torch.dtype, got {type(dtype)} instead")
        if isinstance(dtype, dict):
            dtype = dtype.get(Tensor, dtype.get("others"))
        self.dtype = dtype
        self.scale = scale

    def _transform(self, inpt: Any) -> Any:
        if self.dtype is None or not isinstance(inpt, Tensor):
            return inpt
        return functional.to_dtype(inpt, self.dtype, self.scale)

    def __repr__(self) -> str:
        return f"ToDtype(scale={self.scale})"


# ---------------------------------------------------------------------------- containers


def _run(t: Callable, inputs: tuple) -> Any:
    return t(*inputs) if len(inputs) > 1 else t(inputs[0])


def _as_tuple(outputs: Any, n: int) -> tuple:
    return outputs if n > 1 else (outputs,)


class Compose(Transform):
    """Chains transforms; every transform receives the whole input structure."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        super().__init__()
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence of callables")
        if not transforms:
            raise ValueError("Pass at least one transform")
        self.transforms = transforms

    def __call__(self, *inputs: Any) -> Any:
        n = len(inputs)
        for t in self.transforms:
            inputs = _as_tuple(_run(t, inputs), n)
        return _pack(inputs)

    def __repr__(self) -> str:
        return "Compose(" + "".join(f"\n    {t}" for t in self.transforms) + "\n)"


class RandomApply(Compose):
    """Applies all ``transforms`` with probability ``p``."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        if not (0.0 <= p <= 1.0):
            raise ValueError("`p` should be a floating point value in the interval [0.0, 1.0].")
        super().__init__(transforms)
        self.p = p

    def __call__(self, *inputs: Any) -> Any:
        if ember.rand(1) >= self.p:
            return _pack(inputs)
        return super().__call__(*inputs)

    def __repr__(self) -> str:
        return "RandomApply(" + f"\n    p={self.p}" + \
            "".join(f"\n    {t}" for t in self.transforms) + "\n)"


class RandomChoice(Transform):
    """Applies one of ``transforms``, drawn with probabilities ``p`` (uniform by default)."""

    def __init__(self, transforms: Sequence[Callable], p: list[float] | None = None) -> None:
        super().__init__()
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence of callables")
        if p is None:
            p = [1] * len(transforms)
        elif len(p) != len(transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: "
                             f"{len(p)} != {len(transforms)}")
        total = sum(p)
        self.transforms = transforms
        self.p = [prob / total for prob in p]

    def __call__(self, *inputs: Any) -> Any:
        idx = int(ember.multinomial(ember.tensor(self.p), 1))
        return _run(self.transforms[idx], inputs)


class RandomOrder(Transform):
    """Applies ``transforms`` in a random order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        super().__init__()
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence of callables")
        self.transforms = transforms

    def __call__(self, *inputs: Any) -> Any:
        n = len(inputs)
        for idx in ember.randperm(len(self.transforms)).tolist():
            inputs = _as_tuple(_run(self.transforms[idx], inputs), n)
        return _pack(inputs)


class Lambda(Transform):
    """Applies ``lambd`` to every input of one of ``types`` (default: every input)."""

    def __init__(self, lambd: Callable, *types: type) -> None:
        super().__init__()
        self.lambd = lambd
        self.types = types or (object,)

    def __call__(self, *inputs: Any) -> Any:
        flat, rebuild = _flatten(_pack(inputs))
        return rebuild([self.lambd(x) if isinstance(x, self.types) else x for x in flat])

    def __repr__(self) -> str:
        name = getattr(self.lambd, "__name__", type(self.lambd).__name__)
        return f"Lambda({name}, types={[t.__name__ for t in self.types]})"

