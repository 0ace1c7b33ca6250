"""ember.utils.tensorboard.SummaryWriter writes real TensorBoard event files: each test reads the
files back (TFRecord framing, tensorboardX's Event protobuf) and checks what TensorBoard shows."""
import glob
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import ember

tbx = pytest.importorskip("tensorboardX")
from tensorboardX.proto import event_pb2  # noqa: E402

from ember.utils.tensorboard import SummaryWriter  # noqa: E402


def read_events(folder):
    """Every Event in the event files directly in ``folder``, in order."""
    events = []
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        data = open(path, "rb").read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            payload = data[pos + 12:pos + 12 + length]  # after the length and its CRC
            pos += 12 + length + 4
            ev = event_pb2.Event()
            ev.ParseFromString(payload)
            events.append(ev)
    return events


def values(folder):
    out = []
    for ev in read_events(folder):
        for v in ev.summary.value:
            out.append((ev.step, v))
    return out


def test_scalars_histogram_images_text(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        assert w.get_logdir() == str(tmp_path)
        for step in range(3):
            w.add_scalar("loss", ember.tensor(1.0 / (step + 1)), step)
        w.add_scalar("lr", 0.1, ember.tensor(7))
        w.add_histogram("weights", ember.arange(100.0), 3)
        w.add_image("img", ember.ones(3, 4, 5) * 0.5, 4)
        w.add_image("hwc", ember.zeros(4, 5, 3), 4, dataformats="HWC")
        w.add_images("batch", ember.rand(2, 3, 4, 4), 5)
        w.add_text("note", "hello *world*", 6)
    vals = values(str(tmp_path))
    scalars = [(s, v.tag, v.simple_value) for s, v in vals if v.HasField("simple_value")]
    assert scalars[:3] == [(0, "loss", 1.0), (1, "loss", 0.5), (2, "loss", pytest.approx(1 / 3))]
    assert scalars[3] == (7, "lr", pytest.approx(0.1))
    hist = [v.histo for s, v in vals if v.HasField("histo")][0]
    assert hist.num == 100 and hist.min == 0 and hist.max == 99 and hist.sum == sum(range(100))
    images = {v.tag: v.image for s, v in vals if v.HasField("image")}
    assert (images["img"].height, images["img"].width) == (4, 5)
    assert images["img"].encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"
    assert (images["hwc"].height, images["hwc"].width) == (4, 5)
    assert images["batch"].width == 8  # two 4x4 images side by side, as torch's grid
    text = [v for s, v in vals if v.tag.startswith("note")][0]
    assert b"hello *world*" in text.tensor.string_val[0]


def test_add_scalars_uses_torch_folder_layout(tmp_path):
    w = SummaryWriter(str(tmp_path))
    w.add_scalars("run/14h", {"xsinx": 1.0, "xcosx": ember.tensor(2.0)}, 1)
    w.flush()
    w.close()
    # torch: one folder per tag, MAIN_TAG (slashes as _) + "_" + TAG, each with the main tag
    for tag, expected in (("xsinx", 1.0), ("xcosx", 2.0)):
        vals = values(os.path.join(str(tmp_path), "run_14h_" + tag))
        assert [(s, v.tag, v.simple_value) for s, v in vals] == [(1, "run/14h", expected)]


def test_add_hparams(tmp_path):
    w = SummaryWriter(str(tmp_path))
    w.add_hparams({"lr": 0.1, "bsize": 4, "opt": "sgd", "wd": ember.tensor(0.5)},
                  {"hparam/accuracy": ember.tensor(0.9)}, run_name="trial")
    w.close()
    vals = values(os.path.join(str(tmp_path), "trial"))
    tags = [v.tag for s, v in vals]
    assert "_hparams_/experiment" in tags and "_hparams_/session_start_info" in tags
    assert [v.simple_value for s, v in vals if v.tag == "hparam/accuracy"] == [
        pytest.approx(0.9)]
    with pytest.raises(TypeError, match="hparam_dict and metric_dict should be dictionary."):
        w.add_hparams([("lr", 0.1)], {})


def test_default_log_dir_as_torch(tmp_path, monkeypatch):
    import socket

    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_exp")
    w.close()
    logdir = w.get_logdir()
    parent, name = os.path.split(logdir)
    assert parent == "runs" and name.endswith("_" + socket.gethostname() + "_exp")
    assert len(name.split("_")[0]) == 5  # e.g. Dec07, then _HH-MM-SS
    assert os.path.isdir(logdir) and glob.glob(os.path.join(logdir, "events.out.tfevents.*"))


def test_flush_makes_events_readable_before_close(tmp_path):
    w = SummaryWriter(str(tmp_path), flush_secs=1000)
    w.add_scalar("a", 3.0, 0)
    w.flush()
    assert [v.simple_value for s, v in values(str(tmp_path))] == [3.0]
    w.close()


def test_without_the_extra_the_error_names_it(tmp_path):
    # a child process where tensorboardX cannot be imported
    code = ("import sys; sys.modules['tensorboardX'] = None\n"
            "try:\n    import ember.utils.tensorboard\n"
            "except ModuleNotFoundError as e:\n    print(e.name, '|', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    name, msg = out.stdout.strip().split(" | ")
    assert name == "tensorboardX"
    assert "pip install 'ember[tensorboard]'" in msg


def test_torch_script_imports_it_under_ember_run(tmp_path):
    script = tmp_path / "tb.py"
    script.write_text(
        "import torch\nfrom torch.utils.tensorboard import SummaryWriter\n"
        f"w = SummaryWriter({str(tmp_path / 'logs')!r})\n"
        "w.add_scalar('loss', torch.tensor(0.25), 0)\nw.close()\nprint('ok')\n")
    out = subprocess.run([sys.executable, "-m", "ember", "run", str(script)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    assert [v.simple_value for s, v in values(str(tmp_path / "logs"))] == [0.25]


def test_numpy_inputs_pass_through(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_histogram("h", np.ones(10), 0)
    assert [v.histo.num for s, v in values(str(tmp_path))] == [10]
