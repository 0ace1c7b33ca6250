"""ember.onnx.export: models exported, run in onnxruntime, compared with ember's own forward."""
from __future__ import annotations

import inspect
import os

import numpy as np
import pytest
from helpers import torch_or_skip

import ember
import ember.nn as nn
import ember.nn.functional as F

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _run(path, feeds):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, [f.numpy() for f in feeds])))


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _eager(model, xs):
    with ember.no_grad():
        out = model(*xs)
    return [t.numpy() for t in _flat(out)]


def roundtrip(tmp_path, model, example, others=(), atol=1e-4, rtol=1e-4, **kw):
    """Exports at ``example``, then runs it and each of ``others`` in onnxruntime: the outputs
    match ember's within float32 round-off (``atol`` relative to the output's scale)."""
    path = tmp_path / "model.onnx"
    ember.onnx.export(model, example, path, **kw)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    for xs in [example, *others]:
        got, want = _run(path, xs), _eager(model, xs)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.dtype == w.dtype
            scale = float(np.abs(w).max()) if w.size and w.dtype.kind == "f" else 1.0
            np.testing.assert_allclose(g, w, atol=atol * max(scale, 1e-3), rtol=rtol)
    return onnx.load(str(path))


def lively(model):
    """Batch-norm statistics and affine parameters away from their initial 0/1, and unit-gain
    linear layers, so that random-weight outputs are O(1) and a comparison means something."""
    g = np.random.default_rng(0)
    with ember.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                c = mod.num_features
                mod.running_mean.copy_(ember.tensor(g.normal(0, 0.1, c).astype(np.float32)))
                mod.running_var.copy_(ember.tensor(g.uniform(0.5, 2, c).astype(np.float32)))
                mod.weight.copy_(ember.tensor(g.uniform(0.5, 1.5, c).astype(np.float32)))
                mod.bias.copy_(ember.tensor(g.normal(0, 0.1, c).astype(np.float32)))
            elif isinstance(mod, nn.Linear):
                mod.weight.normal_(0, 1 / mod.in_features ** 0.5)
    with ember.no_grad():
        assert float(model(ember.randn(1, 3, 64, 64)).abs().max()) > 1e-2
    return model


BATCH = {"x": {0: "batch"}}


def test_mlp_dynamic_batch(tmp_path):
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)).eval()
    proto = roundtrip(tmp_path, m, (ember.randn(2, 4),), [(ember.randn(5, 4),)],
                      input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 4
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    # parameters are initializers under their state_dict names; nothing left in training mode
    assert {t.name for t in proto.graph.initializer} >= {"0.weight", "0.bias", "3.bias"}
    assert not m.training


def test_resnet18_dynamic_batch(tmp_path):
    from ember.vision.models import resnet18

    ember.manual_seed(0)
    m = lively(resnet18(num_classes=10).eval())
    x2, x5 = ember.randn(2, 3, 64, 64), ember.randn(5, 3, 64, 64)
    proto = roundtrip(tmp_path, m, (x2,), [(x5,)], input_names=["x"], dynamic_axes=BATCH)
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "Gemm"} <= ops


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "mobilenet_v2"])
def test_mobilenet_dynamic_batch(tmp_path, name):
    from ember.vision import models

    ember.manual_seed(0)
    m = lively(getattr(models, name)(num_classes=7).eval())
    roundtrip(tmp_path, m, (ember.randn(2, 3, 64, 64),), [(ember.randn(5, 3, 64, 64),)],
              input_names=["x"], dynamic_axes=BATCH)


@pytest.mark.parametrize("name", ["efficientnet_b0", "densenet121", "vgg11", "squeezenet1_1",
                                  "shufflenet_v2_x0_5", "convnext_tiny", "regnet_y_400mf",
                                  "mnasnet0_5"])
def test_vision_zoo(tmp_path, name):
    from ember.vision import models

    ember.manual_seed(0)
    m = lively(getattr(models, name)(num_classes=5).eval())
    roundtrip(tmp_path, m, (ember.randn(2, 3, 64, 64),), [(ember.randn(3, 3, 64, 64),)],
              input_names=["x"], dynamic_axes=BATCH, atol=2e-4)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_dynamic_batch(tmp_path, norm_first):
    ember.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, norm_first=norm_first,
                                       activation="gelu")
    m = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    roundtrip(tmp_path, m, (ember.randn(2, 6, 16),), [(ember.randn(5, 6, 16),)],
              input_names=["x"], dynamic_axes=BATCH)


def test_multihead_attention_and_embedding(tmp_path):
    ember.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 8)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.norm = nn.LayerNorm(8)

        def forward(self, tokens):
            h = self.emb(tokens)
            a, _ = self.attn(h, h, h, need_weights=False)
            return self.norm(h + a).mean(1)

    m = Net().eval()
    tok = ember.randint(0, 20, (2, 5))
    roundtrip(tmp_path, m, (tok,), [(ember.randint(0, 20, (4, 5)),)],
              input_names=["tokens"], dynamic_axes={"tokens": {0: "batch"}})


def test_functional_breadth(tmp_path):
    def fn(x, y):
        a = F.softmax(x, -1) + F.log_softmax(x, 1) + F.gelu(x) + F.gelu(x, approximate="tanh")
        b = F.silu(x) * ember.sigmoid(y) - ember.tanh(x) / 2 + F.relu6(x) + F.hardswish(y)
        c = (x ** 2 + y.abs().sqrt() + x.exp() * 0.1 + F.leaky_relu(x) + F.elu(y)
             + x.clamp(-0.5, 0.5) + F.hardsigmoid(x) - (-x))
        d = ember.cat([a, b], 1)[:, 2:8] + ember.stack([c, c]).sum(0)[:, :6]
        e = d.permute(0, 2, 1).transpose(1, 2).reshape(d.shape[0], -1).view(d.shape[0], 6, 8)
        s1, s2 = e.split([2, 4], 1)
        c1, c2 = e.chunk(2, -1)
        f = (s1.mean(1, keepdim=True) + s2.amax(1, keepdim=True) + c1.sum(-1, keepdim=True)
             + c2.flatten(1)[:, :1].unsqueeze(-1))
        g = f @ e.transpose(1, 2)
        return g.squeeze(1) + F.layer_norm(e, (8,))[:, :1, :6], e[:, -1], e[..., None].max(-2)[0]

    x, y = ember.randn(2, 6, 8), ember.randn(2, 6, 8)
    roundtrip(tmp_path, fn, (x, y), [(ember.randn(4, 6, 8), ember.randn(4, 6, 8))],
              input_names=["x", "y"], dynamic_axes={"x": {0: "b"}, "y": {0: "b"}})


@pytest.mark.parametrize("groups,stride,dilation,padding", [
    (1, 1, 1, 0), (2, 2, 1, 1), (4, 1, 2, 2), (1, (2, 1), (1, 2), (1, 0)), (4, 3, 1, "same")])
def test_convolutions(tmp_path, groups, stride, dilation, padding):
    ember.manual_seed(0)
    if padding == "same":
        stride = 1
    m = nn.Sequential(nn.Conv2d(4, 8, 3, stride, padding, dilation, groups),
                      nn.ConvTranspose2d(8, 4, 3, 2, 1, output_padding=1)).eval()
    roundtrip(tmp_path, m, (ember.randn(2, 4, 11, 12),), [(ember.randn(3, 4, 11, 12),)],
              input_names=["x"], dynamic_axes=BATCH)


def test_conv1d_and_pools(tmp_path):
    ember.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv1d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x):
            h = self.bn(x)
            pools = [F.max_pool2d(h, 3, 2, 1), F.max_pool2d(h, 3, 2, ceil_mode=True),
                     F.avg_pool2d(h, 3, 2, 1), F.avg_pool2d(h, 2, 2, ceil_mode=True,
                                                            count_include_pad=False),
                     F.avg_pool2d(h, 3, 2, 1, count_include_pad=False)]
            flat = ember.cat([p.flatten(1) for p in pools], 1)
            ad = ember.cat([F.adaptive_avg_pool2d(h, 1).flatten(1),
                            F.adaptive_avg_pool2d(h, (3, 2)).flatten(1),
                            F.adaptive_max_pool2d(h, 1).flatten(1)], 1)
            seq = self.c1(x[:, :3, 0])
            return flat, ad, seq, F.pad(h, (1, 2, 0, 1), value=0.5)

    m = Net().eval()
    m.bn.running_mean.uniform_(-1, 1)
    m.bn.running_var.uniform_(0.5, 2)
    roundtrip(tmp_path, m, (ember.randn(2, 4, 9, 10),), [(ember.randn(3, 4, 9, 10),)],
              input_names=["x"], dynamic_axes=BATCH)


def test_sdpa_masks(tmp_path):
    mask = ember.rand(5, 5) > 0.3
    mask[:, 0] = True

    def fn(q):
        return (F.scaled_dot_product_attention(q, q, q, is_causal=True)
                + F.scaled_dot_product_attention(q, q, q, attn_mask=mask))

    roundtrip(tmp_path, fn, (ember.randn(2, 3, 5, 4),), [(ember.randn(4, 3, 5, 4),)],
              input_names=["q"], dynamic_axes={"q": [0]})


def test_constants_are_folded(tmp_path):
    m = nn.Linear(3, 2).eval()

    def fn(x):
        w = m.weight * 2 + ember.ones(2, 3)  # depends on no input: one initializer
        return x @ w.t()

    proto = roundtrip(tmp_path, fn, (ember.randn(4, 3),))
    assert [n.op_type for n in proto.graph.node] == ["MatMul", "Identity"]
    unfolded = roundtrip(tmp_path, fn, (ember.randn(4, 3),), do_constant_folding=False)
    assert "Mul" in [n.op_type for n in unfolded.graph.node]


def test_export_params_and_initializers_as_inputs(tmp_path):
    m = nn.Linear(3, 2).eval()
    p = tmp_path / "m.onnx"
    ember.onnx.export(m, (ember.randn(1, 3),), p, export_params=False)
    proto = onnx.load(str(p))
    assert not proto.graph.initializer
    assert [i.name for i in proto.graph.input] == ["input", "weight", "bias"]
    ember.onnx.export(m, (ember.randn(1, 3),), p, keep_initializers_as_inputs=True)
    proto = onnx.load(str(p))
    assert {t.name for t in proto.graph.initializer} == {"weight", "bias"}
    assert [i.name for i in proto.graph.input] == ["input", "weight", "bias"]


def test_returns_program_and_writes_file_objects(tmp_path):
    import io

    m = nn.Linear(3, 2).eval()
    prog = ember.onnx.export(m, (ember.randn(1, 3),))
    assert isinstance(prog, ember.onnx.ONNXProgram)
    prog.save(tmp_path / "a.onnx")
    buf = io.BytesIO()
    assert ember.onnx.export(m, (ember.randn(1, 3),), buf, dynamo=False) is None
    assert onnx.load_from_string(buf.getvalue()).graph.node
    assert (tmp_path / "a.onnx").stat().st_size > 0


def test_training_mode_and_is_in_onnx_export(tmp_path):
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append((ember.onnx.is_in_onnx_export(), self.training))
            return x + 1

    m = Probe()  # in training mode
    ember.onnx.export(m, (ember.randn(2),), tmp_path / "p.onnx")
    assert seen[0] == (True, False) and m.training and not ember.onnx.is_in_onnx_export()
    ember.onnx.export(m, (ember.randn(2),), tmp_path / "p.onnx",
                      training=ember.onnx.TrainingMode.PRESERVE)
    assert seen[-1] == (True, True)


def test_unsupported_op_names_the_op_and_opset(tmp_path):
    def fn(x):
        return ember.lgamma(x)

    path = tmp_path / "bad.onnx"
    with pytest.raises(ember.onnx.errors.UnsupportedOperatorError,
                       match=r"Exporting the operator 'LgammaBackward0 \(ember\.ops\.[a-z_]+\."
                             r"Lgamma\)' to ONNX opset version 18 is not supported"):
        ember.onnx.export(fn, (ember.randn(3),), path)
    assert not path.exists()
    with pytest.raises(ember.onnx.errors.UnsupportedOperatorError, match="batch statistics"):
        ember.onnx.export(nn.BatchNorm1d(3), (ember.randn(4, 3),), path,
                          training=ember.onnx.TrainingMode.TRAINING)


def test_failed_export_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.onnx"
    ember.onnx.export(nn.Linear(3, 2), (ember.randn(1, 3),), path)
    before = path.read_bytes()
    with pytest.raises(ember.onnx.errors.UnsupportedOperatorError):
        ember.onnx.export(lambda x: ember.lgamma(x), (ember.randn(3),), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.onnx"]  # no temporary file left behind


def test_argument_errors(tmp_path):
    m = nn.Linear(3, 2)
    x = ember.randn(1, 3)
    with pytest.raises(ValueError, match="opset versions 17 to"):
        ember.onnx.export(m, (x,), tmp_path / "m.onnx", opset_version=11)
    with pytest.raises(ValueError, match=r"dynamic_axes names \['z'\]"):
        ember.onnx.export(m, (x,), tmp_path / "m.onnx", dynamic_axes={"z": [0]})
    with pytest.raises(TypeError, match="args must be a tuple"):
        ember.onnx.export(m, 3, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="dynamic_shapes"):
        ember.onnx.export(m, (x,), tmp_path / "m.onnx", dynamic_shapes={"x": {0: "b"}})
    assert not (tmp_path / "m.onnx").exists()


def test_opsets(tmp_path):
    m = nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.LayerNorm(4)).eval()
    for opset in (17, 18, 20):
        proto = roundtrip(tmp_path, m, (ember.randn(2, 4),), opset_version=opset)
        assert proto.opset_import[0].version == opset


def test_signature_matches_torch():
    torch = torch_or_skip()
    ours = inspect.signature(ember.onnx.export).parameters
    theirs = inspect.signature(torch.onnx.export).parameters
    assert list(ours) == list(theirs)
    for name, p in theirs.items():
        assert ours[name].kind == p.kind, name
        if name not in ("training", "operator_export_type"):
            assert ours[name].default == p.default, name
    for enum_name in ("TrainingMode", "OperatorExportTypes"):
        ours_e, theirs_e = getattr(ember.onnx, enum_name), getattr(torch.onnx, enum_name)
        assert {k: int(v) for k, v in ours_e.__members__.items()} == {
            k: int(v) for k, v in theirs_e.__members__.items()}
    assert int(ember.onnx.export.__kwdefaults__["training"]) == int(
        torch.onnx.export.__kwdefaults__["training"])
    assert str(ember.onnx.errors.UnsupportedOperatorError("aten::foo", 17, 18)) == str(
        torch.onnx.errors.UnsupportedOperatorError("aten::foo", 17, 18))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_same_outputs_as_torchs_export(tmp_path):
    """torch's own exporter, on a torch MLP with the same weights: both files agree in
    onnxruntime, and name their initializers alike."""
    torch = torch_or_skip()
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).eval()
    t = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).eval()
    t.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in m.state_dict().items()})
    x = ember.randn(3, 4)
    ember.onnx.export(m, (x,), tmp_path / "e.onnx", input_names=["x"])
    torch.onnx.export(t, (torch.from_numpy(x.numpy()),), str(tmp_path / "t.onnx"),
                      input_names=["x"], dynamo=False)
    a, b = _run(tmp_path / "e.onnx", [x]), _run(tmp_path / "t.onnx", [x])
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)
    names = lambda p: {i.name for i in onnx.load(str(p)).graph.initializer}
    assert names(tmp_path / "e.onnx") == names(tmp_path / "t.onnx")


def test_reachable_as_torch_onnx_export():
    import ember as torch

    assert torch.onnx.export is ember.onnx.export


@pytest.mark.parametrize("kind,kw", [
    ("LSTM", dict(num_layers=2, batch_first=True, bidirectional=True)),
    ("LSTM", dict(batch_first=False)),
    ("GRU", dict(num_layers=2, batch_first=True)),
    ("GRU", dict(bidirectional=True, bias=False)),
    ("RNN", dict(nonlinearity="relu", batch_first=True)),
    ("RNN", dict(num_layers=2))])
def test_recurrent_layers(tmp_path, kind, kw):
    ember.manual_seed(0)
    m = getattr(nn, kind)(4, 6, **kw).eval()
    bf = kw.get("batch_first", False)
    shape = (lambda b: (b, 5, 4)) if bf else (lambda b: (5, b, 4))
    roundtrip(tmp_path, m, (ember.randn(*shape(2)),), [(ember.randn(*shape(3)),)],
              input_names=["x"], dynamic_axes={"x": {0 if bf else 1: "batch"}})


def test_recurrent_with_initial_state(tmp_path):
    ember.manual_seed(0)
    m = nn.LSTM(4, 6, batch_first=True).eval()
    x, h0, c0 = ember.randn(2, 5, 4), ember.randn(1, 2, 6), ember.randn(1, 2, 6)
    roundtrip(tmp_path, lambda x, h, c: m(x, (h, c)), (x, h0, c0))


def test_sizes_read_from_dynamic_axes(tmp_path):
    """A class token expanded to the batch, a constant made in the batch's size, a reshape
    with two dynamic sizes, a roll, and a mask built in place: all follow new sizes."""
    ember.manual_seed(0)
    token = nn.Parameter(ember.randn(1, 1, 4))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.token = token

        def forward(self, x):
            n, t = x.shape[0], x.shape[1]
            h = ember.cat([self.token.expand(n, -1, -1), x], 1)  # (n, t + 1, 4)
            h = h + ember.zeros(n, 1, 1)  # made in the batch's size: ConstantOfShape
            flat = h.reshape(n * (t + 1), 4).reshape(n, t + 1, 2, 2)
            mask = ember.zeros(4, 4)
            mask[1:, :2] = 1.0  # filled in place: a constant all the same
            rolled = ember.roll(flat, shifts=(1, -1), dims=(2, 3)) * 2 + ember.roll(flat, 3)
            return rolled.sum(-1) @ mask[:2, :2], h[:, 0]

    m = Net()
    x = ember.randn(2, 3, 4)
    roundtrip(tmp_path, m, (x,), [(ember.randn(5, 6, 4),)], input_names=["x"],
              dynamic_axes={"x": {0: "batch", 1: "seq"}})


def test_dynamic_size_of_a_non_uniform_constant_is_refused(tmp_path):
    def fn(x):
        return x + ember.arange(x.shape[0]).float().unsqueeze(1)

    with pytest.raises(RuntimeError, match="not filled with one value"):
        ember.onnx.export(fn, (ember.randn(3, 2),), tmp_path / "m.onnx", input_names=["x"],
                          dynamic_axes={"x": [0]})
    assert not (tmp_path / "m.onnx").exists()


def test_swin_transformer(tmp_path):
    """Shifted windows: rolls, an attention mask built by setitem, relative position bias."""
    from ember.vision import models

    ember.manual_seed(0)
    m = models.swin_t(num_classes=5).eval()
    roundtrip(tmp_path, m, (ember.randn(1, 3, 64, 64),), [(ember.randn(2, 3, 64, 64),)],
              input_names=["x"], dynamic_axes=BATCH)


def test_vision_transformer(tmp_path):
    """The class token expanded to the batch, patch embedding, encoder blocks."""
    from ember.vision.models.vision_transformer import VisionTransformer

    ember.manual_seed(0)
    m = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                          hidden_dim=16, mlp_dim=32, num_classes=5).eval()
    with ember.no_grad():
        m.heads.head.weight.normal_()  # torchvision starts the head at zero
    roundtrip(tmp_path, m, (ember.randn(2, 3, 32, 32),), [(ember.randn(4, 3, 32, 32),)],
              input_names=["x"], dynamic_axes=BATCH)


def test_masks_and_comparisons_follow_the_values(tmp_path):
    """Comparisons make their bool tensors without an op: the tracer records them, so a mask
    is computed from the new input instead of being frozen at the example's."""
    def fn(x, y):
        keep = (x > 0) & (y <= 0.5) | (x == y)
        a = ember.where(keep, x, y * 0.1) + (x < 0.25).float() + (x != 0).logical_not().float()
        return a + ember.maximum(x, y) - ember.minimum(x, -y) + x.masked_fill(y > 1, 0.0)

    roundtrip(tmp_path, fn, (ember.randn(2, 5), ember.randn(2, 5)),
              [(ember.randn(3, 5), ember.randn(3, 5))], input_names=["x", "y"],
              dynamic_axes={"x": [0], "y": [0]})


def test_values_frozen_by_the_trace_are_refused(tmp_path):
    def by_argmax(x):
        return x[:, x[0].argmax()]  # an index read from the values

    with pytest.raises(ember.onnx.OnnxExporterError, match="depends on the input values"):
        ember.onnx.export(by_argmax, (ember.randn(3, 4),), tmp_path / "m.onnx")

    def branching(x):
        return x * 2 if float(x[0]) > 0 else x - 1  # Python control flow on a value

    with pytest.raises(RuntimeError, match="runs different ops for other input values"):
        ember.onnx.export(branching, (ember.tensor([1.0, -1.0, -2.0]),), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_more_layers(tmp_path):
    ember.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gn = nn.GroupNorm(2, 4)
            self.inorm = nn.InstanceNorm2d(4, affine=True)
            self.prelu = nn.PReLU(4)
            self.shuffle = nn.PixelShuffle(2)
            self.up = nn.Upsample(scale_factor=2)
            self.conv3 = nn.Conv3d(1, 2, 3, padding=1)

        def forward(self, x):
            h = self.prelu(self.inorm(self.gn(x)))
            u = (F.interpolate(h, scale_factor=2, mode="bilinear")
                 + F.interpolate(h, size=(10, 10), mode="bilinear", align_corners=True)
                 + self.up(h) + self.shuffle(ember.cat([h, h, h, h], 1))[:, :4, :10, :10])
            v = F.normalize(u, dim=1) + u.var(1, keepdim=True) + u.std((2, 3), keepdim=True)
            w = (F.mish(v) + F.softplus(v, beta=2) + F.selu(v) + F.celu(v) + F.logsigmoid(v)
                 + v.floor() + v.ceil() + v.round() + v.sign() + v.erf() + v.flip(2))
            a, b = w.unbind(1)[:2]
            g = w.index_select(1, ember.tensor([0, 2])).sum(1) + w.gather(
                1, ember.zeros(x.shape[0], 1, 10, 10, dtype=ember.int64)).squeeze(1)
            p = F.max_pool3d(self.conv3(w[:, :1].unsqueeze(1)), (1, 2, 2)).flatten(1)
            return a + b + g, F.avg_pool3d(self.conv3(w[:, 1:2, None]), 1).flatten(1), p

    m = Net().eval()
    roundtrip(tmp_path, m, (ember.randn(2, 4, 5, 5),), [(ember.randn(3, 4, 5, 5),)],
              input_names=["x"], dynamic_axes=BATCH)


def test_encoder_with_a_key_padding_mask_input(tmp_path):
    ember.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    m = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False).eval()
    mha = nn.MultiheadAttention(8, 2, batch_first=True).eval()

    def fn(x, pad):
        return m(x, src_key_padding_mask=pad), mha(x, x, x, key_padding_mask=pad)[0]

    pad = ember.tensor([[False, False, False, True], [False, False, False, False]])
    roundtrip(tmp_path, fn, (ember.randn(2, 4, 8), pad),
              [(ember.randn(3, 4, 8), ember.tensor([[False, True, True, True]] * 3))],
              input_names=["x", "pad"], dynamic_axes={"x": [0], "pad": [0]})


def test_argmax_and_argmin(tmp_path):
    ember.manual_seed(0)
    m = nn.Linear(6, 4).eval()

    def fn(x):
        y = m(x)
        return y, y.argmax(-1), ember.argmin(y, 1, keepdim=True), y.argmax(), x.argmin(
            keepdim=True)

    roundtrip(tmp_path, fn, (ember.randn(3, 6),), [(ember.randn(5, 6),)], input_names=["x"],
              dynamic_axes={"x": [0]})


def test_cumsum_topk_sort(tmp_path):
    def fn(x):
        v, i = x.topk(2, -1)
        lo, j = x.topk(3, 0, largest=False)
        s, k = x.sort(1, descending=True)
        return x.cumsum(1), v, i, lo, j, s, k, x.sort(0)[0], x.int().cumsum(0)

    roundtrip(tmp_path, fn, (ember.randn(4, 5),), [(ember.randn(6, 5),)], input_names=["x"],
              dynamic_axes={"x": [0]})


class _Mixed(nn.Module):
    """Convolution with batch norm, an LSTM, attention with an attention mask, a constant made
    in the forward on the input's device, and a pooling divisor folded from a trace constant."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False))
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.mha = nn.MultiheadAttention(6, 2, batch_first=True)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        y = self.conv(x).flatten(2).transpose(1, 2)  # (batch, 9, 4)
        y, _ = self.lstm(y)
        mask = ember.ones(9, 9, dtype=ember.bool, device=x.device).triu(1)
        y = self.mha(y, y, y, attn_mask=mask)[0]
        return self.head(y + ember.tensor([0.5], device=x.device)).mean(1)


def test_a_model_on_cuda_exports_the_cpu_file(tmp_path):
    """torch.onnx.export takes a model on a GPU: the file is the one its copy on the CPU gives
    (initializers and folded constants are read back to the host)."""
    if not ember.cuda.is_available():
        pytest.skip("no CUDA device")
    ember.manual_seed(0)
    m = _Mixed().to("cpu").eval()
    with ember.no_grad():
        bn = m.conv[1]
        bn.running_mean.copy_(ember.linspace(-0.2, 0.3, 4, device="cpu"))
        bn.running_var.copy_(ember.linspace(0.5, 2.0, 4, device="cpu"))
    x = ember.randn(2, 3, 6, 6, device="cpu")
    kw = {"input_names": ["x"], "output_names": ["y"], "dynamic_axes": {"x": [0], "y": [0]}}
    # each export under its device as the default one: the LSTM makes its initial state on
    # the default device, not its input's (nn/modules/rnn.py)
    with ember.device("cpu"):
        ember.onnx.export(m, (x,), tmp_path / "cpu.onnx", **kw)
    m.to("cuda")
    assert m.head.weight.is_cuda and m.conv[1].running_var.is_cuda
    with ember.device("cuda"):
        ember.onnx.export(m, (x.cuda(),), tmp_path / "cuda.onnx", **kw)
    assert m.head.weight.is_cuda  # the model stays where it was
    assert (tmp_path / "cuda.onnx").read_bytes() == (tmp_path / "cpu.onnx").read_bytes()
    feeds = [ember.randn(5, 3, 6, 6, device="cpu")]
    (got,) = _run(tmp_path / "cuda.onnx", feeds)
    with ember.no_grad():
        want = m(feeds[0].cuda()).cpu().numpy()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)
