"""summary: parameter counts, the frozen/trainable split after the tutorial's steps, output shapes
against a real forward, FLOPs against the hand formula, and a model left as it was."""
from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import nn
from ember.viz import summary


def test_resnet18_counts_after_the_tutorials_freezing(resnet18):
    total = sum(p.numel() for p in resnet18.parameters())
    assert total == 11_689_512  # torchvision's resnet18
    s = summary(resnet18, input_size=(1, 3, 64, 64))
    assert (s.total_params, s.trainable_params, s.frozen_params) == (total, total, 0)
    for param in resnet18.parameters():
        param.requires_grad = False
    resnet18.fc = nn.Linear(512, 10)
    s = summary(resnet18, input_size=(1, 3, 224, 224))
    assert s.trainable_params == 5_130 == 512 * 10 + 10
    assert s.frozen_params == 11_176_512
    assert s.total_params == sum(p.numel() for p in resnet18.parameters())
    text = str(s)
    assert "Trainable params: 5,130" in text and "Non-trainable (frozen) params: 11,176,512" in text
    assert "Linear: 1-10" in text and "[1, 10]" in text
    fc = next(layer for layer in s.layers if layer.name == "fc")
    assert (fc.trainable, fc.num_params) == ("True", 5_130)
    assert s.layers[0].trainable == "Partial"
    # ResNet-18's published cost: 1.81 G multiply-adds at 224x224 (with the new 10-class fc)
    assert round(s.macs / 1e9, 2) == 1.81 and s.flops == 2 * s.macs
    assert s.param_bytes == 4 * s.total_params


def test_output_shapes_match_a_real_forward(resnet18):
    seen = {}

    def record(name):
        def hook(module, args, output):
            seen.setdefault(name, tuple(output.shape))  # returns None: output unchanged
        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in resnet18.named_modules()]
    with ember.no_grad():
        resnet18.eval()
        out = resnet18(ember.zeros(2, 3, 64, 48))
    for h in handles:
        h.remove()
    s = summary(resnet18, input_size=(2, 3, 64, 48))
    assert s.layers[0].output_shapes == [tuple(out.shape)] == [(2, 1000)]
    first = {}
    for layer in s.layers:
        first.setdefault(layer.name, layer.output_shapes[0])
    assert first == seen
    assert s.activation_bytes == sum(
        4 * int(np.prod(layer.output_shapes[0])) for layer in s.layers if layer.is_leaf)


def test_depth_hides_rows_not_counts(resnet18):
    s1 = summary(resnet18, input_size=(1, 3, 32, 32), depth=1)
    text = str(s1)
    assert "Sequential: 1-5" in text and "BasicBlock" not in text
    assert s1.total_params == 11_689_512


def test_flops_of_a_conv_and_a_linear():
    conv = nn.Conv2d(3, 8, kernel_size=(3, 5), stride=2, padding=1, groups=1)
    s = summary(conv, input_size=(2, 3, 17, 20))
    n, c_out, h, w = s.layers[0].output_shapes[0]
    assert (h, w) == ((17 + 2 - 3) // 2 + 1, (20 + 2 - 5) // 2 + 1)
    assert s.macs == n * c_out * h * w * 3 * 3 * 5 and s.flops == 2 * s.macs
    grouped = nn.Conv2d(4, 6, 3, groups=2)
    s = summary(grouped, input_size=(1, 4, 5, 5))
    assert s.macs == 6 * 3 * 3 * (4 // 2) * 3 * 3
    lin = nn.Linear(7, 5)
    s = summary(lin, input_size=(4, 7))
    assert s.macs == 4 * 5 * 7 and s.total_params == 7 * 5 + 5
    s = summary(nn.ConvTranspose2d(3, 2, 3, stride=2), input_size=(1, 3, 4, 4))
    assert s.macs == 3 * 4 * 4 * 2 * 3 * 3


def test_model_is_left_unchanged():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.LazyLinear(2))
    with ember.no_grad():
        model(ember.zeros(2, 3, 6, 6))  # a lazy layer materializes at its first call (as torch's)
    model.train()
    model[1].eval()  # mixed modes must come back as they were
    state = {k: v.clone() for k, v in model.state_dict().items()}
    summary(model, input_size=(2, 3, 6, 6), mode="train")
    summary(model, input_size=(2, 3, 6, 6))
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k].numpy(), err_msg=k)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_input_data_dtypes_and_errors():
    emb = nn.Embedding(10, 3)
    s = summary(emb, input_size=(2, 5), dtypes=[ember.int64])
    assert s.layers[0].output_shapes == [(2, 5, 3)] and s.macs == 0
    s = summary(nn.Linear(3, 2), input_data=ember.ones(4, 3))
    assert s.layers[0].output_shapes == [(4, 2)]
    if ember.cuda.is_available():  # (pytest --device fakecuda) the inputs are made there
        s = summary(nn.Linear(3, 2, device="cuda"), input_size=(1, 3), device="cuda")
        assert s.layers[0].output_shapes == [(1, 2)]
        s = summary(nn.Linear(3, 2, device="cuda"), input_size=(1, 3))  # (the model's device)
        assert s.layers[0].output_shapes == [(1, 2)]
    else:  # torch's CPU build
        with pytest.raises(AssertionError, match="not compiled with CUDA"):
            summary(nn.Linear(3, 2), input_size=(1, 3), device="cuda")
    with pytest.raises(ValueError, match="dtypes"):
        summary(nn.Linear(3, 2), input_size=(1, 3), dtypes=[ember.float32, ember.float32])
