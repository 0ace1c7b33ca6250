"""`ember finetune --nproc 2` and the same program under mpiexec: rank 0 alone prints and writes
an unwrapped checkpoint, which --resume continues at any world size."""
import os

from mpi_helpers import PY, mpi, mpiexec, run

pytestmark = mpi
ARGS = ["--weights", "none", "--image-size", "16", "--batch-size", "64", "--val-fraction", "0.8"]


def test_finetune_on_two_ranks_then_resume_on_one_and_on_two(tmp_path):
    import ember
    from ember.vision import models

    out = str(tmp_path / "run")
    job = run([PY, "-m", "ember", "finetune", "--nproc", "2", "--epochs", "1", "--out", out,
               *ARGS], timeout=180)
    assert job.rc == 0, job.text
    assert job.out.count("epoch 1/1") == 1 and "on 2 processes" in job.out  # rank 0 alone
    ckpt = ember.load(os.path.join(out, "checkpoint.pt"))
    assert ckpt["epoch"] == 1 and not any(k.startswith("module.") for k in ckpt["model"])
    model = models.resnet18(num_classes=10)
    model.load_state_dict(ckpt["model"])
    assert os.path.exists(os.path.join(out, "training.png"))

    one = str(tmp_path / "one")
    os.makedirs(one)
    job = run([PY, "-m", "ember", "finetune", "--resume", os.path.join(out, "checkpoint.pt"),
               "--epochs", "2", "--out", one], timeout=180)
    assert job.rc == 0, job.text
    assert "epoch 2/2" in job.out and ember.load(os.path.join(one, "checkpoint.pt"))["epoch"] == 2
    job = run([mpiexec(), "-n", "2", PY, "-m", "ember", "finetune", "--resume",
               os.path.join(out, "checkpoint.pt"), "--epochs", "2", "--out", out], timeout=180)
    assert job.rc == 0, job.text
    assert job.out.count("epoch 2/2") == 1
    assert ember.load(os.path.join(out, "checkpoint.pt"))["epoch"] == 2
