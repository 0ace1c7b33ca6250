"""The seed tutorial ("A Gentle Introduction to torch.autograd"), cell by cell, run on ember.

Each cell is the tutorial's code with only the imports changed, next to the output the tutorial
prints. ``python -m ember.tutorial`` replays them; the tests compare the output character for
character.
"""
from __future__ import annotations

import contextlib
import io
from typing import NamedTuple


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
]


def run_cells(cells: list[Cell] = CELLS, echo: bool = False) -> list[str]:
    """Runs the cells in one namespace and returns what each printed."""
    namespace: dict = {"__name__": "__tutorial__"}
    outputs = []
    for cell in cells:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(cell.code, f"<tutorial cell {cell.number}>", "exec"), namespace)
        outputs.append(buf.getvalue())
        if echo:
            print(f"In [{cell.number}]:")
            print(cell.code)
            print(buf.getvalue())
    return outputs


def main() -> int:
    outputs = run_cells(echo=True)
    same = all(out == cell.expected for out, cell in zip(outputs, CELLS))
    print("ember printed exactly what the tutorial prints." if same else
          "MISMATCH: ember's output differs from the tutorial's.")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
