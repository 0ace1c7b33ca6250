"""`ember graph` and `ember tutorial --graph`: the autograd DAG of a script's tensor."""
import shutil

import pytest

pytest.importorskip("graphviz")

from ember.cli import main  # noqa: E402

SCRIPT = """\
import sys
import torch
a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
Q = 3*a**3 - b**2
if "--backward" in sys.argv:
    Q.backward(gradient=torch.tensor([1., 1.]))
"""

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "q.py"
    path.write_text(SCRIPT)
    return str(path)


def test_dot_source_names_the_nodes_and_leaves(script, tmp_path, capsys):
    out = tmp_path / "q.dot"
    assert main(["graph", script, "--var", "Q", "-o", str(out)]) == 0
    source = out.read_text()
    for name in ("SubBackward0", "MulBackward0", "PowBackward0", "AccumulateGrad"):
        assert name in source
    assert '"a\n[2] float32' in source and '"b\n[2] float32' in source
    assert '"Q\n[2] float32' in source  # the drawn variable is named after itself
    assert capsys.readouterr().out == f"wrote {out}\n"


def test_show_grads_passes_script_arguments_and_records_backward(script, tmp_path):
    out = tmp_path / "q.dot"
    # --backward is the script's own option: ember graph passes it on
    assert main(["graph", script, "--var", "Q", "-o", str(out), "--show-grads",
                 "--backward"]) == 0
    source = out.read_text()
    assert "[36., 81.]" in source and "[-12., -8.]" in source  # 9a^2 and -2b


def test_show_grads_without_backward_is_a_usage_error(script, tmp_path, capsys):
    assert main(["graph", script, "--var", "Q", "-o", str(tmp_path / "q.dot"),
                 "--show-grads"]) == 2
    assert "record_grads" in capsys.readouterr().err


@needs_dot
@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("png", b"\x89PNG")])
def test_renders_by_suffix(script, tmp_path, fmt, magic):
    out = tmp_path / f"q.{fmt}"
    assert main(["graph", script, "--var", "Q", "-o", str(out), "--show-saved"]) == 0
    assert out.read_bytes().startswith(magic)
    # no DOT source or temporary file left beside the picture
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["q.py", f"q.{fmt}"])


def test_errors(script, tmp_path, capsys, monkeypatch):
    assert main(["graph", script, "--var", "nope", "-o", str(tmp_path / "x.svg")]) == 2
    assert "no global named 'nope'; its tensors are: Q, a, b" in capsys.readouterr().err
    assert main(["graph", script, "--var", "Q", "-o", str(tmp_path / "x.gif")]) == 2
    assert "can't tell the format" in capsys.readouterr().err
    monkeypatch.setattr(shutil, "which", lambda name: None)
    # a missing program is a runtime failure (status 1), not a usage error: no usage block
    assert main(["graph", script, "--var", "Q", "-o", str(tmp_path / "x.svg")]) == 1
    err = capsys.readouterr().err
    assert "`dot` program was not found" in err and "apt-get install graphviz" in err
    assert "usage:" not in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.svg").exists()
    assert main(["tutorial", "--graph", str(tmp_path / "pictures")]) == 1  # before any cell runs
    out, err = capsys.readouterr()
    assert out == "" and "ember tutorial: error: Graphviz's `dot` program was not found" in err


@needs_dot
def test_tutorial_graph_writes_q_before_and_after_backward(tmp_path, capsys):
    pytest.importorskip("PIL")
    from ember import tutorial

    outputs = tutorial.run_cells(tutorial.CELLS[:3], after=tutorial._graph_drawer(str(tmp_path)))
    assert outputs == [c.expected for c in tutorial.CELLS[:3]]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["Q.png", "Q.svg", "Q_backward.png", "Q_backward.svg"]
    assert "36., 81." in (tmp_path / "Q_backward.svg").read_text()
    assert "36., 81." not in (tmp_path / "Q.svg").read_text()
    from PIL import Image

    with Image.open(tmp_path / "Q.png") as img:
        assert img.format == "PNG" and min(img.size) > 10
