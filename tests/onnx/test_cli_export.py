"""`ember export`: a checkpoint of `ember finetune` as an ONNX model that onnxruntime runs."""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

pytest.importorskip("PIL")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import ember
from ember.cli import main


def _main(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in args])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """One epoch of `ember finetune` on 3 classes x 6 small images."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c, name in enumerate(("blue", "green", "red")):
        (root / name).mkdir()
        for i in range(6):
            pixels = rng.integers(0, 90, size=(36, 40, 3))
            pixels[..., 2 - c] += 150
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    out = tmp_path_factory.mktemp("run")
    status, _, err = _main("finetune", root, "--image-size", 32, "--weights", "none",
                           "--batch-size", 6, "--epochs", 1, "--out", out, "--overwrite")
    assert status == 0, err
    return out / "checkpoint.pt"


def test_export_runs_in_onnxruntime(checkpoint, tmp_path):
    from ember.cli.predict import _from_checkpoint

    path = tmp_path / "model.onnx"
    status, stdout, err = _main("export", checkpoint, "-o", path)
    assert status == 0, err
    assert stdout.startswith(f"wrote {path}: resnet18 with 3 classes, input 'image' "
                             "[batch, 3, 32, 32] float32, output 'logits' [batch, 3]")
    proto = onnx.load(str(path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["classes"]) == ["blue", "green", "red"]
    assert meta["arch"] == "resnet18" and meta["image_size"] == "32"
    model, _, _ = _from_checkpoint(str(checkpoint))
    model.eval()
    x = ember.randn(5, 3, 32, 32)  # exported at batch 1, run at 5
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = sess.run(["logits"], {"image": x.numpy()})
    with ember.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_export_refuses_to_overwrite_and_bad_inputs(checkpoint, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"old")
    status, _, err = _main("export", checkpoint, "-o", path)
    assert status == 2 and "exists (--overwrite replaces it)" in err
    assert path.read_bytes() == b"old"
    status, _, err = _main("export", checkpoint, "-o", path, "--overwrite", "--static-batch")
    assert status == 0, err
    dim = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_value == 1
    status, _, err = _main("export", tmp_path / "missing.pt", "-o", tmp_path / "x.onnx")
    assert status == 2 and "no such file" in err
    status, _, err = _main("export", checkpoint, "-o", tmp_path / "y.onnx", "--opset", 9)
    assert status == 2 and "opset versions 17 to" in err
    assert not (tmp_path / "y.onnx").exists()


def test_torch_onnx_export_under_ember_run(tmp_path):
    """An unmodified PyTorch script that exports with torch.onnx.export, run by `ember run`."""
    script = tmp_path / "export.py"
    out = tmp_path / "r18.onnx"
    script.write_text(
        "import torch\nimport torchvision\n"
        "m = torchvision.models.resnet18(num_classes=3).eval()\n"
        f"torch.onnx.export(m, (torch.randn(1, 3, 32, 32),), {str(out)!r}, input_names=['x'],\n"
        "                  dynamic_axes={'x': {0: 'batch'}}, dynamo=False)\n"
        "print('exported', torch.onnx.is_in_onnx_export())\n")
    status, stdout, err = _main("run", script)
    assert status == 0, err
    assert stdout == "exported False\n"
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": np.zeros((4, 3, 32, 32), np.float32)})
    assert y.shape == (4, 3)
