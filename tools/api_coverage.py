"""Writes ``docs/api-coverage.md`` and ``ember/_torch_names.py`` from the real torch 2.13.

Run with the dev venv, where torch is installed::

    .venv/bin/python tools/api_coverage.py            # rewrite both files
    .venv/bin/python tools/api_coverage.py --summary  # print the per-namespace counts only
    .venv/bin/python tools/api_coverage.py --check    # exit 1 if either file is stale

A public name is one that ``dir()`` shows without a leading underscore, less what the module merely
imported: standard-library modules, typing helpers and objects defined outside torch
(``torch.nn.functional.Callable``). ``torch.Tensor``'s names are its class's. ember "has" a name
when the matching ember object answers ``hasattr`` with True.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pathlib
import sys
import types
import warnings

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "api-coverage.md"
NAMES = ROOT / "ember" / "_torch_names.py"

# torch namespace -> the ember module that stands for it (``Tensor``: the class)
NAMESPACES = {
    "torch": "ember",
    "torch.nn": "ember.nn",
    "torch.nn.functional": "ember.nn.functional",
    "torch.optim": "ember.optim",
    "torch.linalg": "ember.linalg",
    "torch.special": "ember.special",
    "torch.fft": "ember.fft",
    "torch.utils.data": "ember.utils.data",
    "torch.Tensor": "ember.Tensor",
}
# namespaces whose missing names raise MissingAPIError too, though the doc does not count them
# (their own issues bring their contents)
RUNTIME_ONLY = {
    "torch.distributed": "ember.distributed",
    "torch.nn.parallel": "ember.nn.parallel",
    "torch.onnx": "ember.onnx",
    "torch.cuda": "ember.cuda",
    "torch.amp": "ember.amp",
    "torch.autograd": "ember.autograd",
    "torch.nn.init": "ember.nn.init",
    "torch.nn.utils": "ember.nn.utils",
    "torch.utils": "ember.utils",
    "torch.backends": "ember.backends",
    "torch.hub": "ember.hub",
}
_NOT_API = {"TYPE_CHECKING"}


def _is_public(owner: str, name: str, value: object) -> bool:
    if name.startswith("_") or name in _NOT_API:
        return False
    if isinstance(value, types.ModuleType):  # a submodule is API; ``math`` imported for use is not
        return value.__name__.startswith("torch.")
    module = getattr(value, "__module__", None)
    if owner == "torch.Tensor" or not isinstance(module, str):
        return True  # constants (pi, float32, ...) carry no module
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)) or callable(value):
        return module.startswith("torch") or module == "builtins" and owner == "torch"
    return True


def torch_names(runtime: bool = False) -> dict[str, list[str]]:
    """Each namespace's public names in torch, sorted (with ``runtime``, RUNTIME_ONLY's too)."""
    import torch

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ns in [*NAMESPACES, *(RUNTIME_ONLY if runtime else ())]:
            obj = torch.Tensor if ns == "torch.Tensor" else importlib.import_module(ns)
            names = []
            for name in dir(obj):
                try:
                    value = getattr(obj, name)
                except Exception:  # noqa: BLE001 - a lazily failing attribute is still a name
                    value = None
                if _is_public(ns, name, value):
                    names.append(name)
            out[ns] = sorted(names)
    return out


def _ember_object(target: str) -> object | None:
    import ember

    if target == "ember.Tensor":
        return ember.Tensor
    try:
        return importlib.import_module(target)
    except ImportError:
        return None


def _has(obj: object, name: str, sample: object | None) -> bool:
    if hasattr(obj, name):
        return True
    if sample is None:
        return False
    try:  # an instance attribute of Tensor (set in __init__), or a property that raises on a sample
        getattr(sample, name)
    except AttributeError:
        return False
    except Exception:  # noqa: BLE001 - it exists; the sample tensor just doesn't suit it
        return True
    return True


def coverage(names: dict[str, list[str]]) -> dict[str, tuple[list[str], list[str]]]:
    """Per namespace: (names ember has, names it lacks)."""
    sys.path.insert(0, str(ROOT))
    import ember

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ns, target in NAMESPACES.items():
            obj = _ember_object(target)
            sample = ember.zeros(2, 3) if ns == "torch.Tensor" else None
            have, lack = [], []
            for name in names[ns]:
                (have if obj is not None and _has(obj, name, sample) else lack).append(name)
            out[ns] = (have, lack)
    return out


def summary_rows(cov: dict[str, tuple[list[str], list[str]]]) -> list[tuple[str, int, int, int]]:
    rows = [(ns, len(h) + len(m), len(h), len(m)) for ns, (h, m) in cov.items()]
    total = sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows)
    return rows + [("all", *total)]


def render_doc(cov: dict[str, tuple[list[str], list[str]]], version: str) -> str:
    lines = [
        "# API coverage: ember against torch " + version,
        "",
        "Generated by `tools/api_coverage.py` from the real torch (run it with the dev venv:",
        "`.venv/bin/python tools/api_coverage.py`); do not edit by hand. A public name is one",
        "`dir()` shows without a leading underscore, less what the module merely imports (standard",
        "modules, typing helpers). A name ember lacks raises `ember.MissingAPIError` naming it.",
        "",
        "| namespace | torch's public names | ember has | missing | coverage |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for ns, n, have, miss in summary_rows(cov):
        lines.append(f"| `{ns}` | {n} | {have} | {miss} | {100 * have / max(n, 1):.1f}% |"
                     if ns != "all" else
                     f"| all | {n} | {have} | {miss} | {100 * have / max(n, 1):.1f}% |")
    for ns, (have, missing) in cov.items():
        lines += ["", f"## `{ns}`: {len(missing)} missing", ""]
        lines.append(", ".join(f"`{m}`" for m in missing) if missing else "(none)")
    return "\n".join(lines) + "\n"


def render_names(names: dict[str, list[str]], version: str) -> str:
    lines = [
        f'"""torch {version}\'s public names per namespace, for ``MissingAPIError`` (generated by',
        'tools/api_coverage.py from the real torch: do not edit by hand; '
        'loaded only on a miss)."""',
        "",
        "NAMES = {",
    ]
    for ns, ns_names in names.items():
        lines.append(f"    {ns!r}: frozenset({{")
        row = "       "
        for name in ns_names:
            item = f" {name!r},"
            if len(row) + len(item) > 99:
                lines.append(row)
                row = "       "
            row += item
        lines.append(row)
        lines.append("    }),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", action="store_true", help="print the counts, write nothing")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    import torch

    version = torch.__version__.split("+")[0]
    names = torch_names()
    cov = coverage(names)
    all_names = torch_names(runtime=True)
    if args.summary:
        for ns, n, have, miss in summary_rows(cov):
            print(f"{ns:22} {n:5} torch  {have:5} ember  {miss:5} missing  "
                  f"{100 * have / max(n, 1):5.1f}%")
        return 0
    texts = {DOC: render_doc(cov, version), NAMES: render_names(all_names, version)}
    if args.check:
        stale = [str(p.relative_to(ROOT)) for p, t in texts.items()
                 if not p.exists() or p.read_text() != t]
        if stale:
            print("stale: " + ", ".join(stale) + "; rerun .venv/bin/python tools/api_coverage.py")
            return 1
        return 0
    for path, text in texts.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
