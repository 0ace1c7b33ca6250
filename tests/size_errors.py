"""Runs size-overflow and huge-allocation cases under torch and ember in a child process with an
address-space limit, so that a case that does allocate fails fast instead of swapping the machine.

``errors_in_child(cases)`` evaluates each expression with ``T`` bound to torch, then to ember, and
returns ``{case: {"torch": (kind, text), "ember": (kind, text)}}``: kind is the exception's class
name (``"OK"`` and the result's shape when it returns), text its message.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_CHILD = textwrap.dedent("""
    import json, resource, sys, warnings
    warnings.simplefilter("ignore")
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    import torch, ember

    def run(mod, src):
        try:
            r = eval(src, {{"T": mod}})
        except BaseException as e:  # the exception is the result
            # torch appends its C++ trace to some messages; compare the part before it
            return [type(e).__name__, str(e).split("\\nException raised from")[0],
                    isinstance(e, RuntimeError), isinstance(e, MemoryError)]
        return ["OK", str(tuple(r.shape)) if hasattr(r, "shape") else repr(r), False, False]

    out = {{c: {{"torch": run(torch, c), "ember": run(ember, c)}} for c in json.loads(sys.argv[1])}}
    print(json.dumps(out))
""")


def errors_in_child(cases: list[str], limit_gib: int = 8, timeout: float = 300) -> dict:
    """The outcome of each case under torch and ember (see the module docstring)."""
    script = _CHILD.format(limit=limit_gib << 30)
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(cases)], capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_same_error(result: dict) -> None:
    """ember raised what torch raised: the same class (torch's RuntimeError for an allocation
    that failed may be ember's OutOfMemoryError, a RuntimeError that is also a MemoryError) and
    the same message; or both returned the same shape."""
    t_kind, t_text, _, _ = result["torch"]
    e_kind, e_text, e_runtime, e_memory = result["ember"]
    if t_kind == "RuntimeError" and e_kind == "OutOfMemoryError":
        assert e_runtime and e_memory
        assert "DefaultCPUAllocator: can't allocate memory" in t_text
    else:
        assert e_kind == t_kind, result
    assert e_text == t_text.replace("torch.", "ember."), result
