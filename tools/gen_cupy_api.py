"""Regenerate ``tests/device/cupy_api_14.2.json``, the CuPy API dump the fake device is built from.

Needs a real CuPy and no GPU: ``import cupy`` works on a machine without a driver (only array
creation fails), so any machine with the wheel will do::

    python -m venv /tmp/cupyenv && /tmp/cupyenv/bin/pip install cupy-cuda13x==14.2.0
    /tmp/cupyenv/bin/python tools/gen_cupy_api.py -o tests/device/cupy_api_14.2.json

(``-o -`` prints to stdout; without ``-o`` the file is named after the installed version.) Run it
when ember's CuPy pin moves, then rerun ``tests/device/test_fakecupy.py``: names CuPy gained or
lost show there, and ``tests/device/fakecupy.py`` builds its namespaces from the new file.

Not yet run against a real CuPy (none could be installed where it was written): on its first run,
diff its output for 14.2.0 with the committed file, which came from the design note's generator.
Callables whose parameters come from neither a signature nor a first docstring line (gufuncs such
as ``matmul``) are where the two may differ.

What it records (DEVICES.md section 8): ``dir()`` of ``cupy``, ``cupyx``, ``cupy.lib.stride_tricks``,
``cupyx.scipy.special``, ``cupy.random`` and ``cupy.linalg`` without ``_`` names, each name as

- ``{"kind": "ufunc", "params": ["out", "casting", "dtype"], "methods": [...]}``: the methods of
  ``at/reduce/accumulate/reduceat/outer`` it has;
- ``{"kind": "module"}``;
- ``{"kind": "function", "params": [...]}`` for any other callable, classes included: the
  keyword-passable parameter names from ``inspect.signature`` or, for Cython callables without
  one, from the first docstring line ``name(a, b=1)``; ``"*"`` when it takes ``**kwargs``;
  ``null`` when neither source works. Cython docstrings keep a type word (``int axis``): readers
  take the last word;
- ``{"kind": "value"}`` otherwise.

``"cupy.ndarray"`` holds the array's public methods (``"method"``, ``self`` included in
``params``) and attributes (``"attr"``), plus ``__cuda_array_interface__`` and ``__dlpack__``;
``"_meta"`` is ``{"cupy": version, "flags": [the public fields of ndarray.flags]}``. The file is
written with ``indent=0, sort_keys=True``.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import re
import sys
import types
from typing import Any

SECTIONS = ("cupy", "cupyx", "cupy.lib.stride_tricks", "cupyx.scipy.special", "cupy.random",
            "cupy.linalg")
UFUNC_PARAMS = ["out", "casting", "dtype"]
UFUNC_METHODS = ("at", "reduce", "accumulate", "reduceat", "outer")
ARRAY_DUNDERS = ("__cuda_array_interface__", "__dlpack__")
_FIRST_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*)\((.*)\)")


def params_from_signature(obj: Any) -> list | str | None:
    """Keyword-passable parameter names (``"*"``: takes ``**kwargs``; None: no signature)."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    names = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return "*"
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.append(p.name)
    return names


def params_from_docstring(obj: Any) -> list | str | None:
    """The same names from a Cython docstring's first line, ``name(a, int b=1, *, c=None)``."""
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    match = _FIRST_LINE.match(doc[0]) if doc else None
    if match is None:
        return None
    names: list[str] = []
    depth, part, parts = 0, "", []
    for ch in match.group(2):  # split on top-level commas only (defaults may hold tuples)
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += ch
    parts.append(part)
    for raw in parts:
        name = raw.split("=", 1)[0].strip()
        if not name or name in ("*", "/"):
            if name == "/":
                names.clear()  # everything before "/" is positional-only
            continue
        if name.startswith("**"):
            return "*"
        if name.startswith("*"):
            continue
        names.append(name)
    return names


def params_of(obj: Any) -> list | str | None:
    """Signature first, then the docstring."""
    found = params_from_signature(obj)
    return found if found is not None else params_from_docstring(obj)


def describe(obj: Any, ufunc_type: type) -> dict:
    """One name's JSON entry."""
    if isinstance(obj, ufunc_type):
        return {"kind": "ufunc", "params": UFUNC_PARAMS,
                "methods": [m for m in UFUNC_METHODS if hasattr(obj, m)]}
    if isinstance(obj, types.ModuleType):
        return {"kind": "module"}
    if callable(obj):
        return {"kind": "function", "params": params_of(obj)}
    return {"kind": "value"}


def describe_module(module: Any, ufunc_type: type) -> dict:
    """Every public name of ``module``."""
    return {name: describe(getattr(module, name), ufunc_type)
            for name in dir(module) if not name.startswith("_")}


def describe_array(array_type: type) -> dict:
    """``cupy.ndarray``'s public methods and attributes (and the two interop dunders)."""
    out = {}
    for name in dir(array_type):
        if name.startswith("_") and name not in ARRAY_DUNDERS:
            continue
        member = inspect.getattr_static(array_type, name)
        if callable(member) and not isinstance(member, property):
            out[name] = {"kind": "method", "params": params_of(getattr(array_type, name))}
        else:
            out[name] = {"kind": "attr"}
    return out


def generate() -> dict:
    """The whole dump from the installed CuPy."""
    import cupy  # noqa: F401  (imported for its submodules below)

    modules = {name: importlib.import_module(name) for name in SECTIONS}
    ufunc_type = (modules["cupy"].ufunc,)
    try:  # cupyx.scipy.special's ufuncs are also cupy.ufunc objects; gufuncs are not ufuncs
        from cupy._core._kernel import ufunc as core_ufunc
        ufunc_type += (core_ufunc,)
    except ImportError:
        pass
    dump: dict = {name: describe_module(module, ufunc_type) for name, module in modules.items()}
    dump["cupy.ndarray"] = describe_array(modules["cupy"].ndarray)
    from cupy._core.flags import Flags
    dump["_meta"] = {"cupy": modules["cupy"].__version__,
                     "flags": sorted(n for n in dir(Flags) if not n.startswith("_")
                                     and not callable(getattr(Flags, n)))}
    return dump


def main(argv: list | None = None) -> int:
    """Write the dump (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", help="the JSON file ('-': stdout); default: "
                        "cupy_api_<version>.json")
    args = parser.parse_args(argv)
    try:
        dump = generate()
    except ImportError as exc:
        print(f"gen_cupy_api: CuPy is needed ({exc}); pip install cupy-cuda12x or cupy-cuda13x",
              file=sys.stderr)
        return 1
    text = json.dumps(dump, indent=0, sort_keys=True)
    path = args.output or f"cupy_api_{dump['_meta']['cupy']}.json"
    if path == "-":
        print(text)
    else:
        with open(path, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
