"""Convolution + normalisation + activation blocks, squeeze-and-excitation and ``Permute``
(torchvision's ``ops.misc``): module trees and attribute names as torchvision's, so the models
built from them have torchvision's ``state_dict`` keys."""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

from ... import nn
from ...tensor import Tensor

__all__ = ["Conv2dNormActivation", "SqueezeExcitation", "Permute", "MLP"]


class Conv2dNormActivation(nn.Sequential):
    """``Conv2d`` then an optional normalisation layer then an optional activation, as one
    ``Sequential`` (children ``0``, ``1``, ``2``).

    Args:
        in_channels, out_channels (int): channels in and out.
        kernel_size, stride, dilation, groups: as :class:`ember.nn.Conv2d`.
        padding (int, optional): default ``(kernel_size - 1) // 2 * dilation`` ("same" for
            stride 1).
        norm_layer (callable, optional): built as ``norm_layer(out_channels)``; None for none.
            Default: ``nn.BatchNorm2d``.
        activation_layer (callable, optional): built as ``activation_layer(inplace=inplace)``
            (without the keyword when ``inplace`` is None); None for none. Default: ``nn.ReLU``.
        inplace (bool, optional): passed to the activation. Default: True.
        bias (bool, optional): the convolution's bias; default: only without a norm layer.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 kernel_size: Union[int, Sequence[int]] = 3,
                 stride: Union[int, Sequence[int]] = 1,
                 padding: Optional[Union[int, Sequence[int], str]] = None, groups: int = 1,
                 norm_layer: Optional[Callable[..., nn.Module]] = nn.BatchNorm2d,
                 activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU,
                 dilation: Union[int, Sequence[int]] = 1, inplace: Optional[bool] = True,
                 bias: Optional[bool] = None) -> None:
        if padding is None:
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = (kernel_size - 1) // 2 * dilation
            else:
                n = len(kernel_size) if isinstance(kernel_size, Sequence) else len(dilation)
                ks = kernel_size if isinstance(kernel_size, Sequence) else [kernel_size] * n
                ds = dilation if isinstance(dilation, Sequence) else [dilation] * n
                padding = tuple((k - 1) // 2 * d for k, d in zip(ks, ds))
        if bias is None:
            bias = norm_layer is None  # a norm layer's shift makes a bias redundant
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                             padding, dilation=dilation, groups=groups,
                                             bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation (Hu et al., 2017): the input scaled per channel by
    ``scale_activation(fc2(activation(fc1(avgpool(x)))))``, ``fc1``/``fc2`` being 1x1
    convolutions through ``squeeze_channels``.

    Args:
        input_channels (int): channels of the input (and of the scale).
        squeeze_channels (int): channels of the bottleneck.
        activation (callable): built with no arguments. Default: ``nn.ReLU``.
        scale_activation (callable): built with no arguments. Default: ``nn.Sigmoid``.
    """

    def __init__(self, input_channels: int, squeeze_channels: int,
                 activation: Callable[..., nn.Module] = nn.ReLU,
                 scale_activation: Callable[..., nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input: Tensor) -> Tensor:
        scale = self.activation(self.fc1(self.avgpool(input)))
        return self.scale_activation(self.fc2(scale))

    def forward(self, input: Tensor) -> Tensor:
        return self._scale(input) * input


class Permute(nn.Module):
    """``x.permute(*dims)`` as a module (ConvNeXt and Swin move channels last and back)."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return x.permute(*self.dims)


class MLP(nn.Sequential):
    """Linear layers with normalisation, activation and dropout between them (torchvision's
    ``ops.MLP``): for each hidden width but the last, Linear, [norm], activation, Dropout; then
    the last Linear and Dropout.

    Args:
        in_channels (int): input width.
        hidden_channels (list of int): the widths of the Linear layers, the last one the output.
        norm_layer (callable, optional): built with the width. Default: None.
        activation_layer (callable): Default: ``nn.ReLU``.
        inplace (bool, optional): passed to the activation and dropout when not None.
        bias (bool): Default: True.
        dropout (float): Default: 0.0.
    """

    def __init__(self, in_channels: int, hidden_channels: list[int],
                 norm_layer: Optional[Callable[..., nn.Module]] = None,
                 activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU,
                 inplace: Optional[bool] = None, bias: bool = True, dropout: float = 0.0) -> None:
        params = {} if inplace is None else {"inplace": inplace}
        layers: list[nn.Module] = []
        in_dim = in_channels
        for hidden_dim in hidden_channels[:-1]:
            layers.append(nn.Linear(in_dim, hidden_dim, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden_dim))
            layers.append(activation_layer(**params))
            layers.append(nn.Dropout(dropout, **params))
            in_dim = hidden_dim
        layers.append(nn.Linear(in_dim, hidden_channels[-1], bias=bias))
        layers.append(nn.Dropout(dropout, **params))
        super().__init__(*layers)
