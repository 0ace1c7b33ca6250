"""The mobilenet_v3_small_224_infer benchmark: its torch-side tree (benchmarks/mobile_models.py)
is ember.vision.models.mobilenet_v3_small's, key for key, and its FLOP count is torchvision's
published figure."""
from __future__ import annotations

from pathlib import Path

from helpers import torch_or_skip

torch = torch_or_skip()

import ember  # noqa: E402
from ember.vision import models  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_tree_is_the_zoo_models(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import mobile_models

    zoo = models.mobilenet_v3_small()
    for m in (ember, torch):
        net = mobile_models.mobilenet_v3_small(m)
        assert ([(k, tuple(v.shape)) for k, v in net.state_dict().items()]
                == [(k, tuple(v.shape)) for k, v in zoo.state_dict().items()])
        assert sum(p.numel() for p in net.parameters()) == 2_542_856
        # torchvision's "_ops" for these weights: 0.057 GFLOPS (multiply-adds) at 224x224
        macs = mobile_models.hooked_flops(m, net, 224) / 2
        assert abs(macs / 1e9 - 0.057) < 0.0005, macs
    assert mobile_models.hooked_flops(ember, zoo, 224) == mobile_models.hooked_flops(
        torch, mobile_models.mobilenet_v3_small(torch), 224)
