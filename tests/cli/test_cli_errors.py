"""How the `ember` program fails: one `error:` line naming the file and the problem, exit status 2
for usage and input errors and 1 for runtime failures, a traceback only with --debug; and where a
resumed run writes."""
import contextlib
import io
import os
import shutil
import signal
import struct
import zlib

import numpy as np
import pytest

pytest.importorskip("PIL")

import ember  # noqa: E402
import ember.io  # noqa: E402
from ember.cli import main  # noqa: E402

ARGS = ["--image-size", "32", "--weights", "none", "--batch-size", "4"]


def run(*argv):
    """Runs `ember ...` in-process; returns (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def assert_one_error_line(stderr, command, *fragments):
    assert stderr.count("\n") == 1 and stderr.startswith(f"ember {command}: error: "), stderr
    for fragment in fragments:
        assert fragment in stderr, (fragment, stderr)


@pytest.fixture(scope="module")
def trained(image_folder, tmp_path_factory):
    """A checkpoint of one epoch, to resume and to damage."""
    out = tmp_path_factory.mktemp("trained")
    status, _, stderr = run("finetune", image_folder, *ARGS, "--epochs", 1, "--out", out)
    assert status == 0, stderr
    return out / "checkpoint.pt"


@pytest.fixture
def no_plot(monkeypatch):
    import ember.cli.finetune

    monkeypatch.setattr(ember.cli.finetune, "save_plot", lambda history, path: True)


# -- --resume writes where the command line says, never where the file says --------------------
def test_resume_without_out_writes_next_to_the_checkpoint(trained, tmp_path, no_plot):
    ckpt = ember.io.load(str(trained))
    elsewhere = tmp_path / "chosen_by_the_file"
    ckpt["args"]["out"] = str(elsewhere)  # as a received checkpoint could say
    received = tmp_path / "received"
    received.mkdir()
    ember.io.save(ckpt, str(received / "ck.pt"))

    status, stdout, stderr = run("finetune", "--resume", received / "ck.pt", "--epochs", 2)
    assert status == 0, stderr
    assert not elsewhere.exists()
    assert {"checkpoint.pt", "ck.pt", "metrics.csv"} <= set(os.listdir(received))
    assert f"files: {received / 'checkpoint.pt'}" in stdout
    assert ember.io.load(str(received / "checkpoint.pt"))["epoch"] == 2

    given = tmp_path / "given"  # --out still wins
    status, _, stderr = run("finetune", "--resume", received / "ck.pt", "--epochs", 2,
                            "--out", given)
    assert status == 0, stderr
    assert "checkpoint.pt" in os.listdir(given) and not elsewhere.exists()


# -- damaged and foreign checkpoints on --resume ------------------------------------------------
def _resnet34_state():
    from ember.vision import models

    return models.resnet34(weights=None).state_dict()


def _set(path, value):
    def change(ckpt):
        *parents, last = path
        target = ckpt
        for key in parents:
            target = target[key]
        target[last] = value
        return ckpt
    return change


def _drop(*path):
    def change(ckpt):
        *parents, last = path
        target = ckpt
        for key in parents:
            target = target[key]
        del target[last]
        return ckpt
    return change


def _first_state(ckpt):
    return ckpt["optimizer"]["state"][min(ckpt["optimizer"]["state"])]


DAMAGED = {
    "a list": (lambda c: [c], "holds a list, not a dict"),
    "no optimizer": (_drop("optimizer"), "is not a checkpoint written by ember finetune: it has "
                                         "no 'optimizer' entry"),
    "epoch a str": (_set(["epoch"], "three"), "its 'epoch' should be an int of at least 0, not "
                                              "str 'three'"),
    "negative epoch": (_set(["epoch"], -1), "its 'epoch' should be an int of at least 0"),
    "args a list": (_set(["args"], [1, 2]), "its 'args' should be a dict, not list"),
    "epochs a str": (_set(["args", "epochs"], "6"), "its args['epochs'] should be an int of at "
                                                    "least 1, not str '6'"),
    "batch size 0": (_set(["args", "batch_size"], 0), "its args['batch_size'] should be an int"),
    "unknown model": (_set(["args", "model"], "resnet19"), "its args['model'] should be the name "
                                                           "of a model of the zoo, not str "
                                                           "'resnet19'"),
    "history without val_acc": (_drop("history", "val_acc"), "its 'history' should be a dict of "
                                                             "'train_loss' and 'val_acc' lists"),
    "classes a str": (_set(["classes"], "blue"), "its 'classes' should be a non-empty list"),
    "other classes": (_set(["classes"], ["cat", "dog", "eel"]), "has the classes ['cat', 'dog', "
                                                                "'eel'], not the data's"),
    "model of strs": (_set(["model"], {"fc.weight": "x"}), "its 'model' should be a state_dict"),
    "missing keys": (lambda c: _drop("model", "fc.bias")(_drop("model", "conv1.weight")(c)),
                     "does not hold the weights of a resnet18 with 3 classes: 2 missing keys "
                     "('conv1.weight', 'fc.bias')"),
    "wrong shape": (_set(["model", "fc.weight"], ember.zeros(10, 512)),
                    "'fc.weight' is [10, 512], not [3, 512]"),
    "another model": (lambda c: _set(["model"], _resnet34_state())(c),
                      "does not hold the weights of a resnet18 with 3 classes: "),
    "momentum buffer shape": (lambda c: _first_state(c).update(momentum_buffer=ember.zeros(5))
                              or c, "the optimizer's momentum_buffer of fc.weight is [5], not "
                                    "[3, 512]"),
    "momentum buffer a str": (lambda c: _first_state(c).update(momentum_buffer="x") or c,
                              "the optimizer's momentum_buffer of fc.weight is a str"),
    "no param groups": (_set(["optimizer", "param_groups"], []),
                        "its optimizer state does not fit the model's parameters: "),
    "weight decay a str": (lambda c: c["optimizer"]["param_groups"][0].update(weight_decay="x")
                           or c, "the optimizer's weight_decay is str 'x'"),
}


@pytest.mark.parametrize("change, message", DAMAGED.values(), ids=DAMAGED.keys())
def test_damaged_checkpoint_on_resume_is_one_error_line(trained, tmp_path, change, message):
    damaged = tmp_path / "damaged" / "checkpoint.pt"
    damaged.parent.mkdir()
    ember.io.save(change(ember.io.load(str(trained))), str(damaged))
    status, stdout, stderr = run("finetune", "--resume", damaged, "--epochs", 2)
    assert status == 2
    assert_one_error_line(stderr, "finetune", str(damaged), message)
    assert "epoch 2/2" not in stdout
    assert os.listdir(damaged.parent) == ["checkpoint.pt"]  # nothing trained, nothing written


@pytest.mark.parametrize("content, message", [
    (b"", "can't read"),
    (b"not a checkpoint at all\n", "can't read"),
    (None, "can't read"),  # the real file cut in half
])
def test_unreadable_checkpoint_on_resume_is_one_error_line(trained, tmp_path, content, message):
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(trained.read_bytes()[:trained.stat().st_size // 2] if content is None
                        else content)
    status, _, stderr = run("finetune", "--resume", damaged)
    assert status == 2
    assert_one_error_line(stderr, "finetune", f"'{damaged}'", message)


def test_a_plain_state_dict_on_resume_says_what_it_lacks(tmp_path):
    plain = tmp_path / "resnet34.pth"
    ember.io.save(_resnet34_state(), str(plain))
    status, _, stderr = run("finetune", "--resume", plain)
    assert status == 2
    assert_one_error_line(stderr, "finetune", f"'{plain}' is not a checkpoint written by ember "
                                              "finetune: it has no 'model', 'optimizer', "
                                              "'epoch', 'classes', 'history' entries")


def test_predict_with_a_damaged_checkpoint(trained, tmp_path, image_folder):
    ckpt = ember.io.load(str(trained))
    ckpt["arch"] = "vgg17"  # no such model
    bad = tmp_path / "bad.pt"
    ember.io.save(ckpt, str(bad))
    image = image_folder / "red" / "0.png"
    status, _, stderr = run("predict", image, "--checkpoint", bad)
    assert status == 2
    assert_one_error_line(stderr, "predict", f"'{bad}' is damaged: its 'arch' should name a "
                                             "model of the zoo")
    ckpt["arch"] = "resnet34"
    ember.io.save(ckpt, str(bad))
    status, _, stderr = run("predict", image, "--checkpoint", bad)
    assert status == 2
    assert_one_error_line(stderr, "predict", "does not hold the weights of a resnet34 with 3 "
                                             "classes: ")


# -- images with bad headers ---------------------------------------------------------------------
def _png(width, height):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "PNG")
    png = buf.getvalue()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return png[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + png[33:]


def _bmp_with_header_size(size):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "BMP")
    data = bytearray(buf.getvalue())
    data[14:18] = struct.pack("<I", size)
    return bytes(data)


BAD_IMAGES = {
    "ppm maxval (ValueError)": ("x.ppm", b"P6\n8 8\n70000\n" + bytes(400),
                                "maxval must be greater than 0 and less than 65536"),
    "decompression bomb": ("bomb.png", _png(100000, 100000), "could be decompression bomb"),
    "bmp header (OSError)": ("x.bmp", _bmp_with_header_size(99), "Unsupported BMP header type"),
    "not an image": ("x.png", b"hello", "cannot identify image file"),
}


@pytest.mark.parametrize("name, data, message", BAD_IMAGES.values(), ids=BAD_IMAGES.keys())
def test_predict_on_a_bad_image_is_one_error_line(tmp_path, name, data, message):
    image = tmp_path / name
    image.write_bytes(data)
    status, stdout, stderr = run("predict", image, "--weights", "none")
    assert status == 2 and stdout == ""
    assert_one_error_line(stderr, "predict", f"can't read image '{image}': ", message)


@contextlib.contextmanager
def _deadline(seconds):
    """Fails a test that would hang on its DataLoader workers (SIGALRM interrupts the wait)."""
    def expired(signum, frame):
        raise TimeoutError(f"no result within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("workers", [0, 1])
def test_finetune_on_a_folder_with_a_bad_image(image_folder, tmp_path, workers, no_plot):
    folder = tmp_path / "images"
    shutil.copytree(image_folder, folder)
    bad = folder / "green" / "3.png"
    bad.write_bytes(b"P6\n8 8\n70000\n" + bytes(400))
    with _deadline(120):
        status, _, stderr = run("finetune", folder, *ARGS, "--epochs", 1, "--workers", workers,
                                "--out", tmp_path / "out")
    assert status == 2
    assert_one_error_line(stderr, "finetune", f"'{bad}'", "maxval must be greater than 0")


# -- the three kinds of failure, and --debug ------------------------------------------------------
def test_usage_errors_print_the_usage_and_input_errors_do_not(tmp_path):
    status, _, stderr = run("predict", "--topk", "0", "x.png")
    assert status == 2 and stderr.startswith("usage: ember predict")
    assert stderr.endswith("ember predict: error: --topk must be at least 1, got 0\n")
    status, _, stderr = run("predict", tmp_path / "missing.png")
    assert status == 2
    assert stderr == f"ember predict: error: no such image: '{tmp_path / 'missing.png'}'\n"


def test_runtime_failure_is_one_line_with_status_1(image_folder, monkeypatch):
    import ember.cli.predict

    def fails(*args, **kwargs):
        raise MemoryError("Unable to allocate 3.00 GiB for an array")

    monkeypatch.setattr(ember.cli.predict, "predict", fails)
    status, _, stderr = run("predict", image_folder / "red" / "0.png", "--weights", "none")
    assert status == 1
    assert stderr == ("ember predict: error: MemoryError: Unable to allocate 3.00 GiB for an "
                      "array (--debug shows the traceback)\n")


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_prints_the_traceback(tmp_path, where):
    image = tmp_path / "x.ppm"
    image.write_bytes(b"P6\n8 8\n70000\n" + bytes(400))
    argv = ["predict", image, "--weights", "none"]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    status, _, stderr = run(*argv)
    assert status == 2
    assert stderr.startswith("Traceback (most recent call last):")
    assert "ValueError: maxval must be greater than 0" in stderr
    assert stderr.splitlines()[-1].startswith(f"ember predict: error: can't read image '{image}'")


def test_help_documents_the_exit_statuses():
    status, stdout, _ = run("--help")
    text = " ".join(stdout.split())
    assert status == 0 and "exit status: 0 on success; 2 for a usage error" in text
    assert "--debug" in text
