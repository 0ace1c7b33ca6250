"""The example programs in examples/ (written for PyTorch) run under ``ember run`` and train to
torch's losses: each is run by real torch first, which saves its initial state_dict, then by
``ember run`` from that file; the printed losses of a few steps must agree."""
import os
import re
import subprocess
import sys

import pytest

from tests.helpers import torch_or_skip

torch_or_skip()
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")


def _run(argv, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _numbers(out, pattern):
    return [float(v) for v in re.findall(pattern, out)]


@pytest.mark.parametrize("script, args", [
    ("char_gpt.py", ["--steps", "5", "--sample", "20"]),
    ("lstm_lm.py", ["--steps", "6", "--dropout", "0"]),
    ("lstm_lm.py", ["--model", "GRU", "--steps", "6", "--dropout", "0"]),
    ("digits_cnn.py", ["--steps", "5", "--no-dropout"]),
], ids=["char_gpt", "lstm_lm", "gru_lm", "digits_cnn"])
def test_example_matches_torch(script, args, tmp_path):
    path = os.path.join(EXAMPLES, script)
    init = str(tmp_path / "init.pt")
    torch_out = _run([sys.executable, path, *args, "--save-init", init], tmp_path)
    ember_out = _run([sys.executable, "-m", "ember", "run", path, *args, "--init", init],
                     REPO)
    t_losses = _numbers(torch_out, r"step \d+ loss ([-\d.]+)")
    e_losses = _numbers(ember_out, r"step \d+ loss ([-\d.]+)")
    assert len(t_losses) >= 5 and len(e_losses) == len(t_losses), (torch_out, ember_out)
    for e, t in zip(e_losses, t_losses):
        assert e == pytest.approx(t, rel=2e-4, abs=2e-5), (e_losses, t_losses)
    # the lines besides the losses (model size, evaluation, accuracy, greedy sample) agree too
    t_rest = [ln for ln in torch_out.splitlines() if not ln.startswith("step ")]
    e_rest = [ln for ln in ember_out.splitlines() if not ln.startswith("step ")]
    assert len(e_rest) == len(t_rest)
    for e, t in zip(e_rest, t_rest):
        e_nums, t_nums = _numbers(e, r"-?\d+\.?\d*"), _numbers(t, r"-?\d+\.?\d*")
        assert re.sub(r"-?\d+\.?\d*", "#", e) == re.sub(r"-?\d+\.?\d*", "#", t)
        assert e_nums == pytest.approx(t_nums, rel=1e-3, abs=2e-4), (e, t)
