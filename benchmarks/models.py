"""torchvision's ResNet-18, written once against a torch-like module ``m``, and a FLOP counter.

torchvision cannot be installed beside the torch the benchmarks use, so the model tree is written
here with ``m.nn``, so that the same code builds it for ember and for torch: conv1 / bn1 / relu /
maxpool / layer1..layer4 of two BasicBlocks each / avgpool / fc, with torchvision's attribute
names and shapes (torchvision's weight init is left out: it does not change the timing). The
``cifar`` variant has a 3x3 stride-1 stem and no max-pool, for 32x32 inputs.

The FLOP counter reads the shapes of the model's own modules (kernel, stride, padding, channels),
so it follows the model rather than a hard-coded figure: a convolution or linear layer counts each
multiply-add as 2 FLOPs; batch norm, ReLU, pooling and the residual additions are not counted
(they are memory-bound and under 1% of the multiply-adds). ResNet-18 at 224x224 comes to
3.63 GFLOP per image forward (1.81 G multiply-adds).

Like ``workloads.py``, this module imports neither numpy nor a framework at module level.
"""
from __future__ import annotations

from typing import Any

_CLASSES: dict[int, tuple[type, type]] = {}  # id(m) -> (BasicBlock, ResNet), built once per m


def _classes(m: Any) -> tuple[type, type]:
    """The BasicBlock and ResNet classes for framework ``m`` (subclasses of its ``nn.Module``)."""
    if id(m) in _CLASSES:
        return _CLASSES[id(m)]
    nn = m.nn

    class BasicBlock(nn.Module):
        """Two 3x3 convolutions and a shortcut (a 1x1 strided conv + BN when the shape changes)."""

        def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(
                    nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes))

        def forward(self, x: Any) -> Any:
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            identity = x if self.downsample is None else self.downsample(x)
            out += identity
            return self.relu(out)

    class ResNet(nn.Module):
        """ResNet-18: a stem, four stages of two BasicBlocks, global average pooling, ``fc``."""

        def __init__(self, num_classes: int = 1000, cifar: bool = False) -> None:
            super().__init__()
            if cifar:  # 32x32 inputs: keep the resolution in the stem
                self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
            else:
                self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.Identity() if cifar else nn.MaxPool2d(3, stride=2, padding=1)
            self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
            self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
            self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
            self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x: Any) -> Any:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(m.flatten(self.avgpool(x), 1))

    _CLASSES[id(m)] = BasicBlock, ResNet
    return BasicBlock, ResNet


def resnet18(m: Any, num_classes: int = 1000, *, cifar: bool = False) -> Any:
    """torchvision's ``resnet18(num_classes=...)`` tree built with ``m.nn``; ``cifar=True`` swaps
    the 7x7 stride-2 stem and max-pool for a 3x3 stride-1 conv (for 32x32 inputs)."""
    return _classes(m)[1](num_classes, cifar)


# -- FLOP counting --------------------------------------------------------------------------------


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, str):
        raise ValueError(f"string padding {v!r} is not supported by the FLOP counter")
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv2d_flops(conv: Any, h: int, w: int) -> tuple[int, int, int]:
    """FLOPs of one image through ``conv`` (an ``nn.Conv2d``) at input ``h`` x ``w``, counting a
    multiply-add as 2 (the bias is not counted), and the output's height and width."""
    (kh, kw), (sh, sw) = _pair(conv.kernel_size), _pair(conv.stride)
    (ph, pw), (dh, dw) = _pair(conv.padding), _pair(conv.dilation)
    oh, ow = _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)
    macs = oh * ow * conv.out_channels * (conv.in_channels // conv.groups) * kh * kw
    return 2 * macs, oh, ow


def linear_flops(linear: Any) -> int:
    """FLOPs of one row through ``linear`` (an ``nn.Linear``): 2 per multiply-add."""
    return 2 * linear.in_features * linear.out_features


def _pool_out(pool: Any, h: int, w: int) -> tuple[int, int]:
    if not hasattr(pool, "kernel_size"):  # nn.Identity (the cifar stem has no max-pool)
        return h, w
    if getattr(pool, "ceil_mode", False):
        raise ValueError("ceil_mode pooling is not supported by the FLOP counter")
    (kh, kw), (ph, pw) = _pair(pool.kernel_size), _pair(pool.padding)
    (sh, sw), (dh, dw) = _pair(pool.stride or pool.kernel_size), _pair(pool.dilation)
    return _out_size(h, kh, sh, ph, dh), _out_size(w, kw, sw, pw, dw)


def resnet_flops(model: Any, h: int, w: int) -> dict[str, int]:
    """Forward FLOPs of one ``h`` x ``w`` image through a :func:`resnet18` (or torchvision-style
    ResNet of BasicBlocks) model, per top-level part: ``conv1``, ``layer1``..``layer4``, ``fc``
    (their sum is the forward total). Reads every conv's and pool's shape from the model."""
    out: dict[str, int] = {}
    out["conv1"], h, w = conv2d_flops(model.conv1, h, w)
    h, w = _pool_out(model.maxpool, h, w)
    for name in ("layer1", "layer2", "layer3", "layer4"):
        total = 0
        for block in getattr(model, name):
            f1, h1, w1 = conv2d_flops(block.conv1, h, w)
            f2, h2, w2 = conv2d_flops(block.conv2, h1, w1)
            total += f1 + f2
            if block.downsample is not None:
                total += conv2d_flops(block.downsample[0], h, w)[0]
            h, w = h2, w2
        out[name] = total
    out["fc"] = linear_flops(model.fc)
    return out
