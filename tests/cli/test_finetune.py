"""`ember finetune` and `ember predict` end to end on a tiny generated image folder."""
import contextlib
import io
import json
import os
import re

import numpy as np
import pytest

from helpers import torch_or_skip

pytest.importorskip("PIL")

import ember  # noqa: E402
import ember.io  # noqa: E402
from ember.cli import main  # noqa: E402
from ember.cli.finetune import stratified_split  # noqa: E402

from conftest import CLASSES  # noqa: E402

ARGS = ["--image-size", "32", "--weights", "none", "--batch-size", "4"]
IMAGENET_FILE = "resnet18-f37072fd.pth"


def finetune(*args):
    """Runs `ember finetune` in-process; returns (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["finetune", *map(str, args)])
    return status, out.getvalue(), err.getvalue()


def load(path):
    return ember.io.load(str(path), weights_only=True)


def assert_same_state(a, b):
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)


def assert_same_run(a, b):
    assert_same_state(a["model"], b["model"])
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sorted(sa) == sorted(sb) and sa  # momentum buffers of fc.weight and fc.bias
    for k in sa:
        np.testing.assert_array_equal(sa[k]["momentum_buffer"].numpy(),
                                      sb[k]["momentum_buffer"].numpy())
    assert a["history"] == b["history"] and a["epoch"] == b["epoch"]


@pytest.fixture
def no_plot(monkeypatch):
    """Skips matplotlib (slow to import and draw) where a test does not look at the plot."""
    import ember.cli.finetune

    monkeypatch.setattr(ember.cli.finetune, "save_plot", lambda history, path: True)


@pytest.fixture(scope="module")
def straight(image_folder, tmp_path_factory):
    """Two epochs without interruption: the result every other route must reproduce."""
    out = tmp_path_factory.mktemp("straight")
    status, stdout, stderr = finetune(image_folder, *ARGS, "--epochs", 2, "--out", out)
    assert status == 0, stderr
    return out, stdout


def test_checkpoint_plot_and_output(straight, image_folder):
    torch = torch_or_skip()
    out, stdout = straight
    lines = stdout.splitlines()
    assert lines[0].startswith("finetuning resnet18 (random init; 1,539 of 11,178,051 parameters "
                               "trainable)")
    assert "3 classes, 18 train / 6 val images at 32x32" in lines[0]
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert re.fullmatch(r"epoch 1/2  train loss \d+\.\d{4}  val loss \d+\.\d{4}  val accuracy "
                        r"\d+\.\d%  lr 0.01  \(.*\)(  \*best)?", epochs[0])
    assert epochs[1].startswith("epoch 2/2  train loss ") and len(epochs) == 2
    assert lines[-2].startswith("best validation accuracy: ")

    ckpt_path = out / "checkpoint.pt"
    ours = load(ckpt_path)
    theirs = torch.load(ckpt_path, weights_only=True)
    assert set(theirs) == {"model", "optimizer", "epoch", "arch", "classes", "image_size",
                           "eval_resize", "history", "args", "seconds", "confusion"}
    assert theirs["epoch"] == 2 and theirs["arch"] == "resnet18"
    assert theirs["classes"] == list(CLASSES) and theirs["image_size"] == 32
    assert theirs["history"] == ours["history"]
    assert len(theirs["history"]["train_loss"]) == len(theirs["history"]["val_acc"]) == 2
    acc = theirs["history"]["val_acc"][-1]
    assert f"final: {acc:.1%} after 2 epochs" in stdout
    assert theirs["args"]["epochs"] == 2 and theirs["args"]["folder"] == str(image_folder)
    json.dumps(theirs["args"])  # plain values only
    assert list(theirs["model"]) == list(ours["model"])
    for key, value in theirs["model"].items():
        np.testing.assert_array_equal(value.numpy(), ours["model"][key].numpy(), err_msg=key)
    assert theirs["model"]["fc.weight"].shape == (3, 512)
    assert theirs["optimizer"]["param_groups"][0]["lr"] == 0.01

    Image = pytest.importorskip("PIL.Image")
    with Image.open(out / "training.png") as img:
        assert img.format == "PNG" and img.size[0] > 200
    assert sorted(os.listdir(out)) == ["best.pt", "checkpoint.pt", "confusion.png", "metrics.csv",
                                       "training.png"]  # no temporary files


def test_resume_gives_the_uninterrupted_result(straight, image_folder, tmp_path, no_plot):
    status, _, _ = finetune(image_folder, *ARGS, "--epochs", 1, "--out", tmp_path)
    assert status == 0
    first = load(tmp_path / "checkpoint.pt")
    # Only --epochs is given: the folder, --out and the rest come from the checkpoint.
    status, stdout, _ = finetune("--resume", tmp_path / "checkpoint.pt", "--epochs", 2)
    assert status == 0
    assert "resumed from" in stdout and "epoch 2/2" in stdout and "epoch 1/2" not in stdout
    resumed = load(tmp_path / "checkpoint.pt")
    assert_same_run(resumed, load(straight[0] / "checkpoint.pt"))
    # The frozen backbone did not move; only fc (and batch-norm statistics) did.
    for key, value in first["model"].items():
        same = np.array_equal(value.numpy(), resumed["model"][key].numpy())
        if key.startswith("fc."):
            assert not same, key
        elif key.endswith((".weight", ".bias")):  # not running_mean/var, which train mode updates
            assert same, key


def test_ctrl_c_keeps_the_last_epoch_and_resume_finishes_it(straight, image_folder, tmp_path,
                                                            no_plot, monkeypatch):
    step = ember.optim.SGD.step
    calls = []

    def interrupted_step(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 7:  # epoch 1 has 5 batches: this is mid-epoch 2, after one update
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)

    monkeypatch.setattr(ember.optim.SGD, "step", interrupted_step)
    status, stdout, stderr = finetune(image_folder, *ARGS, "--epochs", 2, "--out", tmp_path)
    assert status == 130
    assert "epoch 1/2" in stdout and "epoch 2/2" not in stdout
    ckpt = tmp_path / "checkpoint.pt"
    assert f"interrupted during epoch 2: {ckpt} holds epoch 1" in stderr
    assert f"Resume with: ember finetune --resume {ckpt}" in stderr
    assert load(ckpt)["epoch"] == 1
    monkeypatch.setattr(ember.optim.SGD, "step", step)

    assert finetune("--resume", ckpt)[0] == 0  # --epochs 2 comes from the checkpoint
    assert_same_run(load(ckpt), load(straight[0] / "checkpoint.pt"))


def test_digits_without_a_folder(tmp_path, no_plot, monkeypatch):
    from ember.vision import datasets

    class FewDigits(datasets.Digits):  # the real dataset, cut short to keep the test quick
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            keep = 20 if self.train else 10
            self.data, self.targets = self.data[:keep], self.targets[:keep]

    monkeypatch.setattr(datasets, "Digits", FewDigits)
    status, stdout, _ = finetune("--epochs", 1, "--weights", "none", "--image-size", 16,
                                 "--batch-size", 8, "--out", tmp_path)
    assert status == 0
    assert "on Digits: 10 classes, 20 train / 10 val images at 16x16" in stdout
    ckpt = load(tmp_path / "checkpoint.pt")
    assert ckpt["classes"] == [str(d) for d in range(10)] and ckpt["args"]["folder"] is None
    assert ckpt["eval_resize"] == 16  # digits fill their frame: no 256/224 margin


def test_frozen_backbone_backward_reaches_only_fc():
    from ember import nn
    from ember.cli._models import build_model, replace_fc

    model, _, _ = build_model("resnet18", "none")
    for p in model.parameters():
        p.requires_grad = False
    replace_fc(model, 3)
    loss = nn.functional.cross_entropy(model(ember.randn(2, 3, 32, 32)), ember.tensor([0, 2]))
    nodes, leaves, stack = set(), set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in nodes:
            continue
        nodes.add(node)
        if hasattr(node, "variable"):
            leaves.add(id(node.variable))
        stack.extend(n for n, _ in node.next_functions)
    assert leaves == {id(model.fc.weight), id(model.fc.bias)}
    assert len(nodes) < 10  # the loss, the linear layer and two AccumulateGrads, no convolutions
    loss.backward()
    assert [n for n, p in model.named_parameters() if p.grad is not None] == ["fc.weight",
                                                                              "fc.bias"]


def _random_resnet18_state():
    from ember.vision import models

    return models.resnet18(weights=None).state_dict()


def test_weights_from_a_torch_saved_state_dict(image_folder, tmp_path, no_plot):
    torch = torch_or_skip()
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in _random_resnet18_state().items()}
    torch.save(state, tmp_path / "backbone.pth")
    status, stdout, _ = finetune(image_folder, *ARGS[:2], "--batch-size", 4, "--epochs", 1,
                                 "--weights", tmp_path / "backbone.pth", "--out", tmp_path / "o")
    assert status == 0 and f"weights from {tmp_path / 'backbone.pth'}" in stdout
    trained = load(tmp_path / "o" / "checkpoint.pt")["model"]
    for key, value in state.items():  # the frozen weights are the file's, untouched
        if key.endswith((".weight", ".bias")) and not key.startswith("fc."):
            np.testing.assert_array_equal(trained[key].numpy(), value.numpy(), err_msg=key)


def test_weights_auto_offline_falls_back_to_random_init(image_folder, tmp_path, offline,
                                                       no_plot):
    status, stdout, stderr = finetune(image_folder, *ARGS[:2], "--batch-size", 4, "--epochs", 1,
                                      "--weights", "auto", "--out", tmp_path / "o")
    assert status == 0
    notes = [line for line in stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1
    assert notes[0].startswith("note: ImageNet weights for resnet18 are not cached and could not "
                               "be downloaded; starting from random initialisation")
    assert IMAGENET_FILE in notes[0]
    assert "random init, no ImageNet weights" in stdout
    cache = tmp_path / "ember_home" / "hub" / "checkpoints"
    assert not cache.exists() or not os.listdir(cache)  # nothing half-downloaded left behind

    status, _, stderr = finetune(image_folder, "--weights", "imagenet", "--out", tmp_path / "o2")
    assert status == 1  # no network: a runtime failure, not the input's
    assert "https://download.pytorch.org/models/" + IMAGENET_FILE in stderr
    assert "Traceback" not in stderr and "usage:" not in stderr


def _cache_imagenet_weights(tmp_path):
    cache = tmp_path / "ember_home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    state = _random_resnet18_state()
    ember.io.save(state, str(cache / IMAGENET_FILE))
    return state


def test_weights_auto_uses_cached_imagenet_weights(image_folder, tmp_path, offline, no_plot):
    state = _cache_imagenet_weights(tmp_path)
    status, stdout, stderr = finetune(image_folder, *ARGS[:2], "--batch-size", 4, "--epochs", 1,
                                      "--out", tmp_path / "o")  # --weights auto is the default
    assert status == 0, stderr
    assert "ImageNet IMAGENET1K_V1" in stdout and "note:" not in stderr
    trained = load(tmp_path / "o" / "checkpoint.pt")["model"]
    np.testing.assert_array_equal(trained["conv1.weight"].numpy(), state["conv1.weight"].numpy())


def _parse_predictions(stdout):
    """{image: [(probability, name), ...]} from predict's table."""
    lines = stdout.splitlines()
    assert lines[0].split()[0] == "image"
    result = {}
    for line in lines[1:]:
        path, *cells = re.split(r"\s{2,}", line)  # columns are 2+ spaces apart
        pairs = [cell.rsplit(" ", 1) for cell in cells]
        for name, prob in pairs:
            assert re.fullmatch(r"\d+\.\d\d%", prob), line
        result[path] = [(float(prob[:-1]) / 100, name) for name, prob in pairs]
    return result


def test_predict_with_the_finetuned_checkpoint(straight, image_folder, capsys):
    images = [str(image_folder / "red" / "0.png"), str(image_folder / "blue" / "1.png")]
    assert main(["predict", *images, "--checkpoint", str(straight[0] / "checkpoint.pt"),
                 "--topk", "2"]) == 0
    predictions = _parse_predictions(capsys.readouterr().out)
    assert list(predictions) == images
    for top in predictions.values():
        assert len(top) == 2 and {name for _, name in top} <= set(CLASSES)
        probs = [p for p, _ in top]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-4

    assert main(["predict", *images, "--checkpoint", str(straight[0] / "checkpoint.pt")]) == 0
    predictions = _parse_predictions(capsys.readouterr().out)
    for top in predictions.values():  # top-5 of 3 classes: all of them, summing to one
        assert sorted(name for _, name in top) == sorted(CLASSES)
        assert sum(p for p, _ in top) == pytest.approx(1, abs=2e-4)


def test_predict_with_imagenet_weights_names_imagenet_categories(image_folder, tmp_path, capsys,
                                                                 offline):
    from ember.vision.models import ResNet18_Weights

    _cache_imagenet_weights(tmp_path)
    image = str(image_folder / "green" / "2.png")
    assert main(["predict", image]) == 0
    top = _parse_predictions(capsys.readouterr().out)[image]
    assert len(top) == 5
    assert {name for _, name in top} <= set(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


@pytest.mark.parametrize("argv, message", [
    (["finetune", "/no/such/folder"], "image folder '/no/such/folder' does not exist"),
    (["finetune", "--model", "resnet19"],
     "unknown model 'resnet19'; choose from resnet18, resnet34, "),
    (["finetune", "--resume", "/no/such.pt"], "no such file: '/no/such.pt'"),
    (["finetune", "--val-fraction", "1.5"], "--val-fraction must be between 0 and 1, got 1.5"),
    (["finetune", "--weights", "/no/weights.pth"], "no such file: '/no/weights.pth'"),
    (["predict", "/no/image.png"], "no such image: '/no/image.png'"),
    (["predict", "--topk", "0", "x.png"], "--topk must be at least 1"),
])
def test_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"ember {argv[0]}: error: {message}" in err and "Traceback" not in err


def test_stratified_split_holds_out_each_class():
    targets = [0] * 10 + [1] * 5 + [2] * 2
    train, val = stratified_split(targets, 0.2, seed=0)
    assert sorted(train + val) == list(range(17))
    assert sorted(targets[i] for i in val) == [0, 0, 1, 2]
    assert (train, val) == stratified_split(targets, 0.2, seed=0)
    assert (train, val) != stratified_split(targets, 0.2, seed=1)


def test_default_image_size_is_chosen_from_the_data(tmp_path):
    from ember.cli import build_parser
    from ember.cli.finetune import _choose, _datasets, _settings

    parser = build_parser()
    digits = _settings(parser.parse_args(["finetune"]), None)
    assert digits["image_size"] is None  # chosen once the images are known
    _choose(digits, _datasets(digits))
    assert digits["image_size"] == 32 and digits["augment"] == "none"
    given = _settings(parser.parse_args(["finetune", str(tmp_path), "--image-size", "64"]), None)
    assert given["image_size"] == 64
