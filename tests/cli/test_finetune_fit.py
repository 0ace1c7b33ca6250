"""`ember finetune` fitting the user's data: image size and augmentation chosen from the images,
the frozen backbone's feature cache (BatchNorm in eval mode), best.pt / metrics.csv / confusion,
training options, messy folders, --out never overwritten, and `ember predict` on folders/globs."""
import contextlib
import csv
import io
import math
import os
import shutil
import sys

import numpy as np
import pytest
from helpers import torch_or_skip

pytest.importorskip("PIL")

from conftest import CLASSES  # noqa: E402

import ember  # noqa: E402
import ember.io  # noqa: E402
from ember.cli import main  # noqa: E402

FAST = ["--weights", "none", "--batch-size", "4"]


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def load(path):
    return ember.io.load(str(path), weights_only=True)


@pytest.fixture
def no_plot(monkeypatch):
    import ember.cli._report
    import ember.cli.finetune

    monkeypatch.setattr(ember.cli.finetune, "save_plot", lambda history, path: True)
    monkeypatch.setattr(ember.cli._report, "confusion_png", lambda matrix, classes: None)


def _png(path, size, colour=0):
    from PIL import Image

    rng = np.random.default_rng(abs(hash(str(path))) % 2**32)
    pixels = rng.integers(0, 90, size=(size[1], size[0], 3))
    pixels[..., colour] += 150
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)


# -- what is chosen from the images -----------------------------------------------------------
def test_image_size_and_augmentation_follow_the_images():
    from ember.cli._data import choose_augment, choose_image_size

    assert choose_image_size([(8, 8)] * 3)[0] == 32  # the model's minimum
    size, why = choose_image_size([(44, 36), (50, 40), (64, 64)])
    assert size == 40 and "median shorter side is 40 px" in why
    assert choose_image_size([(640, 480)] * 2)[0] == 224
    assert choose_augment([(64, 64)], photos=True)[0] == "none"  # no crops of small images
    assert choose_augment([(640, 480)], photos=True)[0] == "standard"
    assert choose_augment([(8, 8)], photos=False)[0] == "none"


def test_run_prints_what_it_chose_and_why(image_folder, tmp_path, no_plot):
    status, stdout, stderr = run("finetune", image_folder, *FAST, "--epochs", 1,
                                 "--out", tmp_path / "o")
    assert status == 0, stderr
    assert "at 36x36" in stdout  # the fixture's images are 44x36
    assert "image size 36 px: the images' median shorter side is 36 px" in stdout
    assert "augmentation none: the images (36 px) are smaller than the model's 224 px" in stdout
    assert "classes (3; images each): blue 8, green 8, red 8" in stdout
    assert "feature cache: the frozen backbone's features are computed once" in stdout
    assert "BatchNorm statistics estimated from 18 training images" in stdout
    ckpt = load(tmp_path / "o" / "checkpoint.pt")
    assert ckpt["args"]["image_size"] == 36 and ckpt["args"]["augment"] == "none"
    assert ckpt["eval_resize"] == 36


def test_standard_augmentation_has_no_cache(image_folder, tmp_path, no_plot):
    status, stdout, stderr = run("finetune", image_folder, *FAST, "--epochs", 1, "--image-size",
                                 32, "--augment", "standard", "--out", tmp_path / "o")
    assert status == 0, stderr
    assert "no feature cache: --augment standard" in stdout and "\nfeature cache:" not in stdout
    assert load(tmp_path / "o" / "checkpoint.pt")["eval_resize"] == round(32 * 256 / 224)


# -- the feature cache ------------------------------------------------------------------------
@pytest.mark.parametrize("cache", ["memory", "disk"])
def test_cached_features_train_the_same_head_as_recomputed_ones(image_folder, tmp_path, no_plot,
                                                                cache):
    args = [image_folder, *FAST, "--epochs", 2, "--image-size", 32]
    status, stdout, stderr = run("finetune", *args, "--cache", cache, "--out", tmp_path / "c")
    assert status == 0, stderr
    assert f"kept in {cache}" in stdout
    status, stdout, stderr = run("finetune", *args, "--cache", "none", "--out", tmp_path / "n")
    assert status == 0, stderr
    assert "feature cache" not in stdout
    cached, fresh = load(tmp_path / "c" / "checkpoint.pt"), load(tmp_path / "n" / "checkpoint.pt")
    for key in cached["model"]:  # same BatchNorm statistics, same head within round-off
        np.testing.assert_allclose(cached["model"][key].numpy(), fresh["model"][key].numpy(),
                                   rtol=1e-4, atol=1e-5, err_msg=key)
    np.testing.assert_allclose(cached["history"]["val_acc"], fresh["history"]["val_acc"])
    assert not [f for f in os.listdir(tmp_path / "c") if f.startswith(".")]  # cache removed


def test_frozen_batchnorm_runs_in_eval_mode_and_a_batch_of_one_works(image_folder, tmp_path,
                                                                     no_plot):
    status, stdout, stderr = run("finetune", image_folder, "--weights", "none", "--batch-size", 1,
                                 "--epochs", 1, "--cache", "none", "--image-size", 32,
                                 "--out", tmp_path / "o")
    assert status == 0, stderr
    # --bn-train: train-mode BatchNorm (a last batch of one is dropped), no cache
    status, stdout, stderr = run("finetune", image_folder, *FAST, "--epochs", 1, "--bn-train",
                                 "--image-size", 32, "--out", tmp_path / "b")
    assert status == 0, stderr
    assert "feature cache" not in stdout and "BatchNorm statistics" not in stdout


def test_train_one_epoch_keeps_frozen_batchnorm_statistics():
    from ember import nn, optim
    from ember.cli._models import build_model, replace_fc
    from ember.cli.finetune import train_one_epoch

    model, _, _ = build_model("resnet18", "none")
    for p in model.parameters():
        p.requires_grad = False
    replace_fc(model, 3)
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    batch = [(ember.randn(1, 3, 32, 32), ember.tensor([1]))]
    opt = optim.SGD(model.fc.parameters(), lr=0.1)
    train_one_epoch(model, batch, opt, nn.CrossEntropyLoss(), "t", bn_eval=True)
    after = model.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key].numpy(), value.numpy(), err_msg=key)
    assert model.fc.training and not model.bn1.training


# -- what a run keeps -------------------------------------------------------------------------
def test_best_epoch_metrics_and_confusion(image_folder, tmp_path):
    out = tmp_path / "o"
    status, stdout, stderr = run("finetune", image_folder, *FAST, "--epochs", 3, "--out", out,
                                 "--image-size", 32)
    assert status == 0, stderr
    assert sorted(os.listdir(out)) == ["best.pt", "checkpoint.pt", "confusion.png",
                                       "metrics.csv", "training.png"]
    ckpt, best = load(out / "checkpoint.pt"), load(out / "best.pt")
    accs = ckpt["history"]["val_acc"]
    best_epoch = accs.index(max(accs)) + 1  # the first epoch that reached the best
    assert best["epoch"] == best_epoch and ckpt["epoch"] == 3
    assert f"best validation accuracy: {max(accs):.1%} at epoch {best_epoch} (best.pt)" in stdout
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "val_acc", "lr", "seconds"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["val_acc"]) for r in rows] == pytest.approx(accs, abs=1e-5)
    assert all(float(r["lr"]) == 0.01 and float(r["seconds"]) >= 0 for r in rows)
    assert "per-class validation accuracy:" in stdout and "confusion matrix" in stdout
    matrix = best["confusion"]
    assert sum(map(sum, matrix)) == 6 and len(matrix) == 3
    assert sum(matrix[i][i] for i in range(3)) / 6 == pytest.approx(best["history"]["val_acc"][-1])
    from PIL import Image

    with Image.open(out / "confusion.png") as img:
        assert img.format == "PNG"


def test_top5_column_with_more_than_five_classes(tmp_path, no_plot):
    for c in range(6):
        for i in range(3):
            _png(tmp_path / "d" / f"c{c}" / f"{i}.png", (32, 32), colour=c % 3)
    status, stdout, stderr = run("finetune", tmp_path / "d", *FAST, "--epochs", 1, "--out",
                                 tmp_path / "o", "--val-fraction", 0.34)
    assert status == 0, stderr
    assert "top-5" in stdout
    header = (tmp_path / "o" / "metrics.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,val_loss,val_acc,val_top5,lr,seconds"


def test_lr_schedules_match_torchs_schedulers():
    torch = torch_or_skip()
    from ember.cli._report import schedule_lr

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=9)
    for epoch in range(9):
        assert schedule_lr(0.1, epoch, 9, "cosine", 0) == pytest.approx(opt.param_groups[0]["lr"])
        opt.step()
        cosine.step()
    opt = torch.optim.SGD([p], lr=0.1)
    step = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.1)
    for epoch in range(9):
        assert schedule_lr(0.1, epoch, 9, "step", 0) == pytest.approx(opt.param_groups[0]["lr"])
        opt.step()
        step.step()
    warm = [schedule_lr(0.1, e, 6, "cosine", 2) for e in range(6)]
    assert warm[:2] == pytest.approx([0.1 / 3, 0.2 / 3]) and warm[2] == pytest.approx(0.1)
    assert warm[3] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi / 4)))


@pytest.mark.parametrize("optimizer, kind", [("adam", "Adam"), ("adamw", "AdamW"),
                                             ("sgd", "SGD")])
def test_optimizer_options(image_folder, tmp_path, no_plot, optimizer, kind):
    out = tmp_path / "o"
    status, stdout, stderr = run("finetune", image_folder, *FAST, "--epochs", 2, "--out", out,
                                 "--image-size", 32, "--optimizer", optimizer,
                                 "--weight-decay", 0.01, "--label-smoothing", 0.1,
                                 "--lr-schedule", "cosine", "--warmup-epochs", 1)
    assert status == 0, stderr
    ckpt = load(out / "checkpoint.pt")
    group = ckpt["optimizer"]["param_groups"][0]
    base = 0.01 if optimizer == "sgd" else 0.001
    assert group["weight_decay"] == 0.01 and ckpt["args"]["lr"] == base
    assert ckpt["history"]["lr"] == pytest.approx([base / 2, base])
    assert ("betas" in group) == (optimizer != "sgd")
    assert ckpt["args"]["label_smoothing"] == 0.1
    # a resumed run keeps its optimizer; another one is refused
    other = "sgd" if optimizer != "sgd" else "adam"
    status, _, stderr = run("finetune", "--resume", out / "checkpoint.pt", "--optimizer", other)
    assert status == 2 and f"--optimizer {other} does not match the checkpoint's" in stderr
    status, _, stderr = run("finetune", "--resume", out / "checkpoint.pt", "--epochs", 3)
    assert status == 0, stderr


def test_patience_stops_early(image_folder, tmp_path, no_plot):
    status, stdout, stderr = run("finetune", image_folder, *FAST, "--epochs", 5, "--lr", 0,
                                 "--patience", 2, "--image-size", 32, "--out", tmp_path / "o")
    assert status == 0, stderr
    assert "early stop: no better validation accuracy for 2 epochs" in stdout
    assert "epoch 3/5" in stdout and "epoch 4/5" not in stdout
    assert "(stopped early)" in stdout


def test_summary_option(image_folder, tmp_path, no_plot):
    status, stdout, stderr = run("finetune", image_folder, *FAST, "--epochs", 1, "--summary",
                                 "--image-size", 32, "--out", tmp_path / "o")
    assert status == 0, stderr
    assert "Total params: 11,178,051" in stdout and "Trainable params: 1,539" in stdout


def test_tensorboard_without_the_extra_names_it(image_folder, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ember.utils.tensorboard", None)
    status, _, stderr = run("finetune", image_folder, *FAST, "--tensorboard", tmp_path / "tb")
    assert status == 1
    assert stderr == ("ember finetune: error: --tensorboard needs the tensorboard extra: pip "
                      "install 'ember[tensorboard]'\n")


def test_tensorboard_logs_every_epoch(image_folder, tmp_path, no_plot):
    pytest.importorskip("ember.utils.tensorboard")
    from tensorboardX.event_file_writer import EventFileWriter  # noqa: F401 - the extra is there

    status, _, stderr = run("finetune", image_folder, *FAST, "--epochs", 2, "--image-size", 32,
                            "--tensorboard", tmp_path / "tb", "--out", tmp_path / "o")
    assert status == 0, stderr
    files = [f for f in os.listdir(tmp_path / "tb") if f.startswith("events.out.tfevents")]
    assert len(files) == 1
    data = (tmp_path / "tb" / files[0]).read_bytes()
    for tag in (b"train/loss", b"val/loss", b"val/acc", b"lr"):
        assert tag in data


def test_light_augmentation_flips_without_crops(image_folder, tmp_path, no_plot):
    from ember.cli.finetune import _transforms
    from ember.vision import transforms as T

    train, val, resize = _transforms(32, "light", photos=True)
    names = [type(t).__name__ for t in train.transforms]
    assert names == ["Resize", "CenterCrop", "RandomHorizontalFlip", "ToTensor", "Normalize"]
    assert [type(t).__name__ for t in val.transforms] == ["Resize", "CenterCrop", "ToTensor",
                                                          "Normalize"] and resize == 32
    assert isinstance(_transforms(32, "standard", True)[0].transforms[0], T.RandomResizedCrop)
    status, stdout, stderr = run("finetune", image_folder, *FAST, "--epochs", 1, "--augment",
                                 "light", "--out", tmp_path / "o")
    assert status == 0, stderr
    assert "no feature cache: --augment light changes the inputs every epoch" in stdout


def test_nproc_passes_every_option_on(monkeypatch):
    import ember.distributed.run
    from ember.cli import build_parser
    from ember.cli.finetune import _relaunch

    seen = []
    monkeypatch.setattr(ember.distributed.run, "main", lambda argv: seen.append(argv) or 0)
    ns = build_parser().parse_args(
        ["finetune", "imgs", "--optimizer", "adamw", "--lr-schedule", "cosine", "--bn-train",
         "--no-skip-bad-images", "--augment", "light", "--cache", "disk", "--overwrite",
         "--summary", "--tensorboard", "tb", "--patience", "3"])
    assert _relaunch(ns, 2) == 0
    argv = seen[0]
    assert argv[:6] == ["--nproc-per-node", "2", "-m", "ember", "finetune", "imgs"]
    for pair in (["--optimizer", "adamw"], ["--lr-schedule", "cosine"], ["--augment", "light"],
                 ["--cache", "disk"], ["--patience", "3"], ["--tensorboard", "tb"]):
        i = argv.index(pair[0])
        assert argv[i:i + 2] == pair
    assert {"--bn-train", "--no-skip-bad-images", "--overwrite", "--summary"} <= set(argv)
    assert build_parser().parse_args(argv[4:]).optimizer == "adamw"


# -- messy folders ------------------------------------------------------------------------------
@pytest.fixture
def messy(image_folder, tmp_path):
    folder = tmp_path / "messy"
    shutil.copytree(image_folder, folder)
    _png(folder / ".ipynb_checkpoints" / "x.png", (40, 40))  # not a class
    _png(folder / "red" / ".ipynb_checkpoints" / "0-checkpoint.png", (40, 40))  # not a sample
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "red" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    _png(folder / "violet" / "0.png", (40, 40))  # a class of one image
    good = (folder / "green" / "0.png").read_bytes()
    (folder / "green" / "cut.png").write_bytes(good[: len(good) // 2])  # truncated
    (folder / "blue" / "text.jpg").write_bytes(b"not an image")
    return folder


def test_messy_folder_bad_images_are_listed_before_training(messy, tmp_path, no_plot):
    status, stdout, stderr = run("finetune", messy, *FAST, "--out", tmp_path / "o")
    assert status == 2
    lines = [line for line in stderr.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("ember finetune: error: 2 images can't be "
                                                   "read: ")
    assert f"'{messy / 'blue' / 'text.jpg'}'" in lines[0] and f"'{messy / 'green' / 'cut.png'}'" \
        in lines[0] and "--skip-bad-images" in lines[0]
    assert "epoch" not in stdout and not (tmp_path / "o").exists()


def test_messy_folder_trains_with_skip_bad_images(messy, tmp_path, no_plot):
    status, stdout, stderr = run("finetune", messy, *FAST, "--epochs", 1, "--skip-bad-images",
                                 "--out", tmp_path / "o")
    assert status == 0, stderr
    assert f"note: skipping hidden folder in {messy}: .ipynb_checkpoints (not classes)" in stderr
    assert "note: skipping 2 images that can't be read: " in stderr
    assert "note: class 'violet' has only 1 image: it is trained on but never validated" in stderr
    assert "classes (4; images each): blue 8, green 8, red 8, violet 1" in stdout
    assert "4 classes, 19 train / 6 val images" in stdout
    assert load(tmp_path / "o" / "checkpoint.pt")["classes"] == [*CLASSES, "violet"]


def test_library_imagefolder_keeps_torchvisions_behaviour(messy):
    from ember.vision.datasets import ImageFolder

    assert ImageFolder(str(messy)).classes == [".ipynb_checkpoints", *CLASSES, "violet"]


# -- --out is never silently overwritten ----------------------------------------------------------
def test_out_is_never_silently_overwritten(image_folder, tmp_path, monkeypatch, no_plot):
    monkeypatch.chdir(tmp_path)
    args = [image_folder, *FAST, "--epochs", 1, "--image-size", 32]
    assert run("finetune", *args)[0] == 0
    assert (tmp_path / "runs" / "finetune" / "checkpoint.pt").exists()
    status, stdout, _ = run("finetune", *args)  # the default is taken: the next free one
    assert status == 0 and (tmp_path / "runs" / "finetune-2" / "checkpoint.pt").exists()
    assert "runs/finetune-2/checkpoint.pt" in stdout
    first = (tmp_path / "runs" / "finetune" / "checkpoint.pt").read_bytes()
    status, _, stderr = run("finetune", *args, "--out", "runs/finetune")
    assert status == 2
    assert "error: --out 'runs/finetune' is not empty (a previous run?)" in stderr
    assert (tmp_path / "runs" / "finetune" / "checkpoint.pt").read_bytes() == first
    status, _, stderr = run("finetune", *args, "--out", "runs/finetune", "--overwrite")
    assert status == 0, stderr


# -- predict --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint(image_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit")
    status, _, stderr = run("finetune", image_folder, *FAST, "--epochs", 1, "--out", out / "o",
                            "--image-size", 32)
    assert status == 0, stderr
    return out / "o" / "checkpoint.pt"


def test_predict_on_a_folder_and_a_glob_prints_a_table(checkpoint, image_folder):
    status, stdout, stderr = run("predict", image_folder, "--checkpoint", checkpoint,
                                 "--topk", 2)
    assert status == 0, stderr
    lines = stdout.splitlines()
    assert lines[0].split() == ["image", "top-1", "top-2"]
    assert len(lines) == 1 + 24
    assert lines[1].startswith(str(image_folder / "blue" / "0.png"))
    for line in lines[1:]:
        cells = line.split()
        assert cells[1] in CLASSES and cells[2].endswith("%") and cells[3] in CLASSES
    status, stdout, _ = run("predict", str(image_folder / "red" / "*.png"), "--checkpoint",
                            checkpoint)
    assert status == 0 and len(stdout.splitlines()) == 1 + 8
    status, _, stderr = run("predict", str(image_folder / "*.gif"), "--checkpoint", checkpoint)
    assert status == 2 and "no file matches" in stderr


def test_predict_csv_uses_the_checkpoints_classes(checkpoint, image_folder, tmp_path):
    target = tmp_path / "p.csv"
    status, stdout, stderr = run("predict", image_folder / "green", "--checkpoint", checkpoint,
                                 "--csv", target)
    assert status == 0, stderr
    assert stdout == f"8 images: predictions written to {target}\n"
    with open(target) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 * 3 and {r["class"] for r in rows} == set(CLASSES)
    for i in range(8):
        probs = [float(r["probability"]) for r in rows[3 * i:3 * i + 3]]
        assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1, abs=1e-4)


def test_predict_says_when_imagenet_classes_come_from_random_weights(image_folder):
    status, stdout, stderr = run("predict", image_folder / "red" / "0.png", "--weights", "none")
    assert status == 0
    assert "note: showing ImageNet's class names, but resnet18 has random weights" in stderr


# -- --device cpu|cuda|auto -------------------------------------------------------------------
def test_device_option(image_folder, tmp_path, no_plot, monkeypatch):
    # The model and each batch go to --device; the checkpoint holds CPU tensors whatever the
    # device (torch.load reads it without map_location); training gives the same numbers there.
    # The CUDA half runs under `pytest --device fakecuda` (or on a GPU).
    torch = torch_or_skip()
    args = [image_folder, *FAST, "--image-size", "32", "--epochs", "1"]
    status, cpu_out, err = run("finetune", *args, "--out", tmp_path / "cpu", "--device", "cpu")
    assert status == 0, err
    assert cpu_out.splitlines()[0].endswith(" at 32x32 on cpu")
    ckpt = tmp_path / "cpu" / "checkpoint.pt"
    assert torch.load(ckpt, weights_only=True)["model"]["fc.weight"].device.type == "cpu"
    status, out, err = run("predict", image_folder / "red", "--checkpoint", ckpt,
                           "--device", "cpu")
    assert status == 0 and out.splitlines()[1].split()[1] == "red", err

    def epoch_line(text):
        return next(line for line in text.splitlines() if line.startswith("epoch 1/1"))

    if ember.cuda.is_available():
        status, out, err = run("finetune", *args, "--out", tmp_path / "auto")
        assert status == 0, err
        assert out.splitlines()[0].endswith(" at 32x32 on cuda:0")  # auto: CUDA when available
        # the same numbers as on the CPU (the timing aside)
        assert epoch_line(out).split("(")[0] == epoch_line(cpu_out).split("(")[0]
        saved = torch.load(tmp_path / "auto" / "checkpoint.pt", weights_only=True)
        assert all(t.device.type == "cpu" for t in saved["model"].values())
        status, out, err = run("predict", image_folder / "red", "--checkpoint",
                               tmp_path / "auto" / "checkpoint.pt", "--device", "cuda")
        assert status == 0 and out.splitlines()[1].split()[1] == "red", err
        # a resumed run may change the device
        status, out, err = run("finetune", "--resume", ckpt, "--epochs", "2", "--device", "cuda")
        assert status == 0 and "on cuda:0" in out.splitlines()[0], err
    else:
        status, out, err = run("finetune", *args, "--out", tmp_path / "auto", "--device", "auto")
        assert status == 0 and out.splitlines()[0].endswith(" at 32x32 on cpu"), err

    monkeypatch.setattr(ember.cuda, "is_available", lambda: False)
    for command in (["finetune", *args, "--out", tmp_path / "none"],
                    ["predict", image_folder / "red", "--checkpoint", ckpt]):
        status, out, err = run(*command, "--device", "cuda")
        assert status == 2 and not out and err.splitlines()[-1].startswith(
            f"ember {command[0]}: error: --device cuda: no CUDA device"), err
    status, _, err = run("finetune", *args, "--out", tmp_path / "none", "--device", "tpu")
    assert status == 2 and "--device tpu: not a device" in err
    assert not (tmp_path / "none").exists()
