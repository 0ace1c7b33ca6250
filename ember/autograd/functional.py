"""Higher-level autograd: jacobian, hessian, vjp, jvp, hvp, vhp (filled in by the linalg work)."""
from __future__ import annotations
