"""torchvision's MobileNetV3-Small tree built with any torch-like module ``m`` (the torch side
of ``mobilenet_v3_small_224_infer``; ember's side is ``ember.vision.models.mobilenet_v3_small``,
whose tree this matches key for key: tests/test_benchmarks.py checks it), and a FLOP count by
forward hooks."""
from __future__ import annotations

from functools import partial
from typing import Any

from benchmarks.models import conv2d_flops, linear_flops

# (in, kernel, expanded, out, squeeze-excitation, hard-swish, stride): the paper's Table 2
_SMALL = [(16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2),
          (24, 3, 88, 24, False, False, 1), (24, 5, 96, 40, True, True, 2),
          (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
          (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1),
          (48, 5, 288, 96, True, True, 2), (96, 5, 576, 96, True, True, 1),
          (96, 5, 576, 96, True, True, 1)]


def _divisible(v: float, d: int = 8) -> int:
    new_v = max(d, int(v + d / 2) // d * d)
    return new_v + d if new_v < 0.9 * v else new_v


def mobilenet_v3_small(m: Any, num_classes: int = 1000) -> Any:
    """``torchvision.models.mobilenet_v3_small(num_classes=...)``'s tree with ``m.nn``."""
    nn = m.nn
    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)

    def cna(cin: int, cout: int, k: int, s: int = 1, groups: int = 1, act: Any = None) -> Any:
        layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False),
                  norm(cout)]
        if act is not None:
            layers.append(act(inplace=True))
        return nn.Sequential(*layers)

    class SqueezeExcitation(nn.Module):
        def __init__(self, c: int, squeeze: int) -> None:
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1, self.fc2 = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1)
            self.activation, self.scale_activation = nn.ReLU(), nn.Hardsigmoid()

        def forward(self, x: Any) -> Any:
            s = self.fc2(self.activation(self.fc1(self.avgpool(x))))
            return self.scale_activation(s) * x

    class InvertedResidual(nn.Module):
        def __init__(self, cin: int, k: int, exp: int, cout: int, se: bool, hs: bool,
                     stride: int) -> None:
            super().__init__()
            act = nn.Hardswish if hs else nn.ReLU
            layers = [] if exp == cin else [cna(cin, exp, 1, act=act)]
            layers.append(cna(exp, exp, k, stride, groups=exp, act=act))
            if se:
                layers.append(SqueezeExcitation(exp, _divisible(exp // 4)))
            layers.append(cna(exp, cout, 1))
            self.block = nn.Sequential(*layers)
            self.use_res_connect = stride == 1 and cin == cout

        def forward(self, x: Any) -> Any:
            y = self.block(x)
            return y + x if self.use_res_connect else y

    class MobileNetV3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers = [cna(3, 16, 3, 2, act=nn.Hardswish)]
            layers += [InvertedResidual(*row) for row in _SMALL]
            layers.append(cna(96, 576, 1, act=nn.Hardswish))
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Linear(576, 1024), nn.Hardswish(inplace=True),
                                            nn.Dropout(p=0.2, inplace=True),
                                            nn.Linear(1024, num_classes))

        def forward(self, x: Any) -> Any:
            return self.classifier(m.flatten(self.avgpool(self.features(x)), 1))

    return MobileNetV3()


def hooked_flops(m: Any, model: Any, size: int) -> int:
    """FLOPs of one image through the convolutions and linear layers of ``model`` (2 per
    multiply-add, biases not counted), read off one forward at ``size`` x ``size``."""
    total = [0]

    def conv_hook(mod: Any, inputs: Any, output: Any) -> None:
        total[0] += conv2d_flops(mod, *inputs[0].shape[2:])[0]

    def linear_hook(mod: Any, inputs: Any, output: Any) -> None:
        total[0] += linear_flops(mod)

    handles = [mod.register_forward_hook(conv_hook if isinstance(mod, m.nn.Conv2d)
                                         else linear_hook)
               for mod in model.modules() if isinstance(mod, (m.nn.Conv2d, m.nn.Linear))]
    with m.no_grad():
        model(m.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return total[0]
