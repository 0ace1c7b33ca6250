"""What the commands share: the usage-error exception and small helpers."""
from __future__ import annotations

import sys

__all__ = ["CLIError", "notice", "require_dot"]


class CLIError(Exception):
    """A usage error: reported as ``ember CMD: error: MESSAGE`` on stderr with exit status 2."""


def notice(message: str) -> None:
    """One line on stderr that the user should read but that is not the command's output."""
    print(f"note: {message}", file=sys.stderr, flush=True)


def require_dot() -> None:
    """Fails with install instructions when Graphviz (the Python package or `dot`) is missing."""
    import shutil

    try:
        import graphviz  # noqa: F401
    except ImportError:
        raise CLIError("drawing graphs needs the graphviz Python package: "
                       "pip install 'ember[viz]'") from None
    if shutil.which("dot") is None:
        raise CLIError("Graphviz's `dot` program was not found on PATH; install Graphviz "
                       "(Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install "
                       "graphviz; conda: conda install graphviz), or write the DOT source "
                       "instead with an output name ending in .dot")
