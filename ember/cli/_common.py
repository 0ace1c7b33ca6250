"""What the commands share: the three kinds of failure, how they are reported, small helpers.

Exit statuses (``EXIT_STATUS`` is the text ``ember --help`` prints):

* 2, usage error (:class:`CLIError`): the command line itself is wrong. The command's usage,
  then ``ember CMD: error: MESSAGE``.
* 2, input error (:class:`InputError`): a file the command reads is missing, unreadable, damaged
  or does not fit (a checkpoint of another model, an image with a bad header). One line,
  ``ember CMD: error: MESSAGE``, naming the file and what is wrong.
* 1, runtime failure (:class:`RunError`, and any other exception): the command could not do its
  work for a reason outside its input: no network, a program or extra not installed, a full disk,
  a bug. One line, with the exception's type.

No traceback is printed unless ``--debug`` is given.
"""
from __future__ import annotations

import sys

__all__ = ["CLIError", "InputError", "RunError", "EXIT_STATUS", "describe", "notice",
           "require_dot"]

EXIT_STATUS = ("exit status: 0 on success; 2 for a usage error (printed after the usage) or an "
               "input error (a file missing, unreadable, damaged or of the wrong kind: one line "
               "naming it); 1 when the command fails for another reason (no network, a missing "
               "program, a full disk, a bug); 130 when interrupted. `ember run` and `ember graph` "
               "give a failing script's own status; `ember tutorial` gives 1 when an output "
               "differs. --debug adds the Python traceback of a failure.")


class CLIError(Exception):
    """A usage error: reported as ``ember CMD: error: MESSAGE`` after the command's usage, with
    exit status 2."""

    status = 2
    show_usage = True


class InputError(CLIError):
    """A file the command reads is missing, unreadable, damaged or does not fit: one line
    ``ember CMD: error: MESSAGE`` naming the file, exit status 2, no usage."""

    show_usage = False


class RunError(CLIError):
    """The command can't do its work for a reason outside its input (no network, a missing
    program or extra): one line, exit status 1, no usage."""

    status = 1
    show_usage = False


def describe(error: BaseException) -> str:
    """``error`` as the one line that follows ``error:``."""
    text = str(error)
    if "\nOriginal Traceback" in text:
        # re-raised from a DataLoader worker: its last line is the original 'Type: message'
        last = text.rstrip().splitlines()[-1].strip()
        if isinstance(error, CLIError):  # drop the module-qualified type name of our own errors
            last = last.split(f"{type(error).__name__}: ", 1)[-1]
        return last
    message = " ".join(line.strip() for line in text.splitlines() if line.strip())
    if isinstance(error, CLIError):
        return message
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def notice(message: str) -> None:
    """One line on stderr that the user should read but that is not the command's output."""
    print(f"note: {message}", file=sys.stderr, flush=True)


def require_dot() -> None:
    """Fails with install instructions when Graphviz (the Python package or `dot`) is missing."""
    import shutil

    try:
        import graphviz  # noqa: F401
    except ImportError:
        raise RunError("drawing graphs needs the graphviz Python package: "
                       "pip install 'ember[viz]'") from None
    if shutil.which("dot") is None:
        raise RunError("Graphviz's `dot` program was not found on PATH; install Graphviz "
                       "(Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install "
                       "graphviz; conda: conda install graphviz), or write the DOT source "
                       "instead with an output name ending in .dot")
