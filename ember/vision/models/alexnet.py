"""AlexNet (torchvision's ``models.alexnet``): Krizhevsky, One weird trick for parallelizing
convolutional neural networks, 2014 (the single-tower variant). Tree and names as torchvision's."""
from __future__ import annotations

from typing import Any, Optional

from ... import flatten, nn
from ...tensor import Tensor
from ._api import WeightsEnum, register_model
from ._imagenet import _RECIPE, builder_doc, imagenet_weights
from ._utils import _with_weights, handle_legacy_interface

__all__ = ["AlexNet", "AlexNet_Weights", "alexnet"]


class AlexNet(nn.Module):
    """AlexNet: five convolutions, three max-pools, three fully connected layers with dropout.

    Args:
        num_classes (int): Default: 1000.
        dropout (float): Default: 0.5.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


class AlexNet_Weights(WeightsEnum):
    IMAGENET1K_V1 = imagenet_weights(
        "alexnet-owt-7be5be79.pth", num_params=61100840, recipe=_RECIPE + "#alexnet-and-vgg",
        acc1=56.522, acc5=79.066, ops=0.714, file_size=233.087, min_size=(63, 63),
        docs="These weights reproduce closely the results of the paper using a simplified "
             "training recipe.")
    DEFAULT = IMAGENET1K_V1


@register_model()
@handle_legacy_interface(weights=("pretrained", AlexNet_Weights.IMAGENET1K_V1))
def alexnet(*, weights: Optional[AlexNet_Weights] = None, progress: bool = True,
            **kwargs: Any) -> AlexNet:
    weights = AlexNet_Weights.verify(weights)
    return _with_weights(AlexNet, weights, progress, **kwargs)


alexnet.__doc__ = builder_doc("AlexNet (Krizhevsky, 2014).", "AlexNet_Weights", "AlexNet")
