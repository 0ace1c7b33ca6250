"""`ember run`: unmodified PyTorch scripts on ember, the program's help, and its usage errors."""
import os
import subprocess
import sys
import textwrap

import pytest

from helpers import torch_or_skip

from ember.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Deterministic values only, so that torch and ember print the same text.
TRAINING_SCRIPT = """\
import sys
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim

print("argv", sys.argv[1:], __name__)
x = torch.linspace(-1, 1, 16).reshape(8, 2)
y = (x[:, 0] * 2 - x[:, 1]).unsqueeze(1)
model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
with torch.no_grad():
    for i, p in enumerate(model.parameters()):
        p.copy_(torch.arange(p.numel(), dtype=torch.float32).reshape(p.shape) * 0.1 - 0.2 * i)
opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for step in range(5):
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    print(f"step {step} loss {loss.item():.4f}")
print(model)
a = torch.tensor([2., 3.], requires_grad=True)
print(3 * a ** 3 - a.sum())
print(isinstance(a, torch.Tensor), tuple(torch.zeros(2, 3).shape))
sys.exit(3)
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_script_prints_what_it_prints_under_torch(tmp_path, capsys):
    torch_or_skip()
    script = _write(tmp_path, "train.py", TRAINING_SCRIPT)
    real = subprocess.run([sys.executable, script, "A", "--flag"], capture_output=True,
                          text=True, cwd=tmp_path)
    assert real.returncode == 3, real.stderr
    assert main(["run", script, "A", "--flag"]) == 3
    out = capsys.readouterr().out
    assert out == real.stdout
    assert "argv ['A', '--flag'] __main__" in out


def test_missing_api_is_a_clear_not_implemented_error(tmp_path, capsys):
    script = _write(tmp_path, "missing.py", """\
        import torch
        print("hasattr", hasattr(torch, "sparse_coo_tensor"))
        try:
            torch.sparse_coo_tensor
        except NotImplementedError as e:
            print("attr:", e)
        try:
            import torch.fx
        except ImportError as e:
            print("module:", isinstance(e, NotImplementedError), e)
        torch.sparse_coo_tensor([[0]], [1.0])
        """)
    assert main(["run", script]) == 1
    out, err = capsys.readouterr()
    assert "hasattr False" in out
    assert "attr: torch.sparse_coo_tensor is not implemented in ember" in out
    assert "module: True torch.fx is not implemented in ember" in out
    # The traceback is the script's, ending in the error that names the API.
    assert 'missing.py", line 11, in <module>' in err
    assert err.rstrip().splitlines()[-1].endswith(
        "MissingAPIError: torch.sparse_coo_tensor is not implemented in ember (there is no "
        "ember.sparse_coo_tensor)")
    assert "_alias.py" not in err


def test_torch_resolves_to_ember_for_the_script_and_its_modules_only(tmp_path, capsys):
    torch = torch_or_skip()

    _write(tmp_path, "helper_mod_h5.py", """\
        import torch
        def make():
            return torch.ones(2)
        """)
    script = _write(tmp_path, "uses_helper.py", """\
        import sys
        import torch, torch.nn, torchvision
        from helper_mod_h5 import make
        import ember
        print(type(make()) is ember.Tensor, torch.nn.Linear is ember.nn.Linear,
              torch.Tensor is ember.Tensor, sys.argv)
        """)
    argv, path = sys.argv[:], sys.path[:]
    before = {k: v for k, v in sys.modules.items() if k.startswith("torch")}
    assert main(["run", script, "x"]) == 0
    assert capsys.readouterr().out == f"True True True [{script!r}, 'x']\n"
    after = {k: v for k, v in sys.modules.items() if k.startswith("torch")}
    assert after == before and sys.modules["torch"] is torch
    assert "helper_mod_h5" not in sys.modules
    assert sys.argv == argv and sys.path == path
    assert type(torch.ones(1)).__module__.startswith("torch")


def test_exit_status_and_traceback_like_python(tmp_path, capsys):
    script = _write(tmp_path, "fails.py", """\
        def inner():
            raise ValueError("boom")
        inner()
        """)
    assert main(["run", script]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n")
    assert 'fails.py", line 3, in <module>' in err and "ValueError: boom" in err
    assert "runpy" not in err
    assert main(["run", _write(tmp_path, "quits.py", "raise SystemExit('bye')\n")]) == 1
    assert capsys.readouterr().err == "bye\n"
    assert main(["run", _write(tmp_path, "ok.py", "import sys; sys.exit()\n")]) == 0


def test_missing_script_is_an_input_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err  # one line, as python's own "can't open file", no usage
    assert err == f"ember run: error: can't open file '{tmp_path / 'nope.py'}': no such file\n"


def test_unknown_command_and_options(capsys):
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err
    assert main(["tutorial", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("ember ")


def test_python_dash_m_ember_help():
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-m", "ember", "--help"], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr
    for command in ("finetune", "predict", "run", "tutorial", "graph"):
        assert command in done.stdout
    done = subprocess.run([sys.executable, "-m", "ember", "finetune", "--help"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0 and "--no-freeze" in done.stdout


def test_console_script_is_declared():
    from importlib import metadata

    try:
        eps = metadata.entry_points(group="console_scripts")
    except TypeError:  # Python < 3.10
        pytest.skip("entry_points(group=) needs Python 3.10")
    ember_eps = [ep for ep in eps if ep.name == "ember"]
    if not ember_eps:
        pytest.skip("ember is not installed with its console script")
    assert ember_eps[0].value == "ember.cli:main"
