"""The seed tutorial ("A Gentle Introduction to torch.autograd"), cell by cell, run on ember.

Each cell is the tutorial's code with only the imports changed, next to the output the tutorial
prints. ``python -m ember.tutorial`` replays them; the tests compare the output character for
character.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Any, Callable, Iterator, NamedTuple


class Cell(NamedTuple):
    number: int
    code: str
    expected: str


CELLS = [
    Cell(1, """\
import ember as torch

a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)
print(a)
print(b)
""", """\
tensor([2., 3.], requires_grad=True)
tensor([6., 4.], requires_grad=True)
"""),
    Cell(2, """\
Q = 3*a**3 - b**2
print(Q)
""", """\
tensor([-12.,  65.], grad_fn=<SubBackward0>)
"""),
    Cell(3, """\
external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)
""", ""),
    Cell(4, """\
# check if collected gradients are correct
print(9*a**2 == a.grad)
print(-2*b == b.grad)
""", """\
tensor([True, True])
tensor([True, True])
"""),
    Cell(5, """\
x = torch.rand(5, 5)
y = torch.rand(5, 5)
z = torch.rand((5, 5), requires_grad=True)

a = x + y
print(f"Does `a` require gradients? : {a.requires_grad}")
b = x + z
print(f"Does `b` require gradients?: {b.requires_grad}")
""", """\
Does `a` require gradients? : False
Does `b` require gradients?: True
"""),
    Cell(6, """\
import ember.vision as torchvision
from ember import nn, optim

model = torchvision.models.resnet18(pretrained=True)

# Freeze all the parameters in the network
for param in model.parameters():
    param.requires_grad = False
""", ""),
    Cell(7, """\
model.fc = nn.Linear(512, 10)
""", ""),
    Cell(8, """\
# Optimize only the classifier
optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
""", ""),
    Cell(9, """\
print(optimizer)
""", """\
SGD (
Parameter Group 0
    dampening: 0
    differentiable: False
    foreach: None
    lr: 0.01
    maximize: False
    momentum: 0.9
    nesterov: False
    weight_decay: 0
)
"""),
    Cell(10, """\
print(model.fc)
""", """\
Linear(in_features=512, out_features=10, bias=True)
"""),
]

# The cell that builds resnet18(pretrained=True): without cached weights or a network it runs with
# random weights instead (what it prints does not depend on them).
PRETRAINED_CELL = 6


@contextlib.contextmanager
def _random_weights_when_offline() -> Iterator[list[str]]:
    """Within the block, ImageNet weights that can't be found or downloaded become random ones.

    Yields a list that receives one notice per substitution.
    """
    from ember import hub
    from ember.vision import models

    notices: list[str] = []
    cls = models.ResNet18_Weights
    original = cls.get_state_dict
    own = "get_state_dict" in vars(cls)

    def get_state_dict(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The hub's 'Downloading: ...' line is about this machine's cache, not the tutorial's
        # output: it goes to stderr, beside the download's progress bar.
        try:
            with contextlib.redirect_stdout(sys.stderr):
                return original(self, *args, **kwargs)
        except hub.DownloadError as e:
            notices.append(f"ImageNet weights are not cached and the download failed "
                           f"({e.reason}), so cell 6 runs with random weights, which changes "
                           f"none of its output; to use them, place the file at {e.path}")
            return models.resnet18(weights=None).state_dict()

    cls.get_state_dict = get_state_dict
    try:
        yield notices
    finally:
        if own:
            cls.get_state_dict = original
        else:
            delattr(cls, "get_state_dict")


def run_cells(cells: list[Cell] | None = None, echo: bool = False,
              after: Callable[[int, dict], None] | None = None) -> list[str]:
    """Runs the cells in one namespace and returns what each printed.

    ``echo`` prints ``In [n]:``, each cell's code and its output; ``after(n, namespace)`` is called
    after cell ``n`` ran (``ember tutorial --graph`` draws Q's graph from there).
    """
    namespace: dict = {"__name__": "__tutorial__"}
    outputs = []
    for cell in CELLS if cells is None else cells:
        if echo:  # before running it, so that warnings and progress bars follow the code
            print(f"In [{cell.number}]:")
            print(cell.code, flush=True)
        buf = io.StringIO()
        with contextlib.ExitStack() as stack:
            notices = (stack.enter_context(_random_weights_when_offline())
                       if cell.number == PRETRAINED_CELL else [])
            with contextlib.redirect_stdout(buf):
                exec(compile(cell.code, f"<tutorial cell {cell.number}>", "exec"), namespace)
        outputs.append(buf.getvalue())
        if echo:
            for line in notices:
                print(f"note: {line}", file=sys.stderr, flush=True)
            print(buf.getvalue(), flush=True)
        if after is not None:
            after(cell.number, namespace)
    return outputs


def _graph_drawer(directory: str) -> Callable[[int, dict], None]:
    """Draws Q's graph after cell 2 (the forward pass) and after cell 3 (with the gradients that
    backward sent along each edge), as SVG and PNG in ``directory``."""
    from ember import viz
    from ember.io._atomic import atomic_write

    os.makedirs(directory, exist_ok=True)

    def draw(number: int, ns: dict) -> None:
        if number not in (2, 3):
            return
        if number == 2:
            viz.record_grads(ns["Q"])  # before cell 3's backward, which frees what it saved
        params = {"Q": ns["Q"], "a": ns["a"], "b": ns["b"]}
        name = "Q" if number == 2 else "Q_backward"
        graph = viz.draw_graph(ns["Q"], params=params, show_grads=number == 3)
        for fmt in ("svg", "png"):
            path = os.path.join(directory, f"{name}.{fmt}")
            with atomic_write(path) as f:
                f.write(graph.pipe(format=fmt))
            print(f"[graph] wrote {path}", file=sys.stderr)

    return draw


def compiled_code() -> str:
    """Cells 2-4 through ``ember.compile``: ``Q = 3*a**3 - b**2`` and its backward, with the
    Python the compiled forward and backward run (the DAG of cell 2, written out as code)."""
    import ember

    a = ember.tensor([2., 3.], requires_grad=True)
    b = ember.tensor([6., 4.], requires_grad=True)
    q = ember.compile(lambda a, b: 3*a**3 - b**2)
    Q = q(a, b)
    Q.backward(gradient=ember.tensor([1., 1.]))
    return (f"q = ember.compile(lambda a, b: 3*a**3 - b**2)\nQ = q(a, b)  # {Q}\n"
            f"Q.backward(gradient=external_grad)  # a.grad = {a.grad}, b.grad = {b.grad}\n"
            f"print(q.code()):\n\n{q.code()}")


def main(graph_dir: str | None = None, compiled: bool = False) -> int:
    """Replays cells 1-10, printing each cell's code and output; 0 if the output is the tutorial's.

    ``graph_dir``: also write the DAG pictures of Q (before and after backward) there.
    ``compiled``: then print Q's graph compiled, as the code its forward and backward run.
    """
    after = _graph_drawer(graph_dir) if graph_dir else None
    outputs = run_cells(echo=True, after=after)
    same = all(out == cell.expected for out, cell in zip(outputs, CELLS))
    print("ember printed exactly what the tutorial prints." if same else
          "MISMATCH: ember's output differs from the tutorial's.")
    if compiled:
        print("\n# -- cell 2's graph compiled (ember.compile) " + "-" * 40)
        print(compiled_code())
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
