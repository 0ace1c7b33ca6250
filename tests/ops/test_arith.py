import numpy as np
import pytest

from helpers import check_gradcheck, check_op

SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 4)), ((), (2, 2))]


@pytest.mark.parametrize("sa,sb", SHAPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_parity_and_gradcheck(op, sa, sb, rng):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32) + 3
    fn = lambda m, x, y: getattr(m, op)(x, y)  # noqa: E731
    check_op(fn, a, b)
    check_gradcheck(fn, a, b)


def test_tutorial_q():
    check_op(lambda m, a, b: 3 * a**3 - b**2, np.array([2.0, 3.0], np.float32),
             np.array([6.0, 4.0], np.float32))
