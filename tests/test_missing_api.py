"""No bare AttributeError for a torch name: what ember lacks raises MissingAPIError naming it, and
docs/api-coverage.md (written by tools/api_coverage.py from the real torch) is current."""
import importlib.util
import pathlib
import subprocess
import sys
import textwrap
import warnings

import pytest

import ember
from ember._missing import MissingAPIError, torch_names
from helpers import torch_or_skip

ROOT = pathlib.Path(__file__).resolve().parent.parent

# (ember module, torch namespace) for every namespace the issue names
NAMESPACES = [("ember", "torch"), ("ember.nn", "torch.nn"),
              ("ember.nn.functional", "torch.nn.functional"), ("ember.optim", "torch.optim"),
              ("ember.linalg", "torch.linalg"), ("ember.special", "torch.special"),
              ("ember.fft", "torch.fft"), ("ember.utils.data", "torch.utils.data"),
              # not counted in docs/api-coverage.md, but named all the same
              ("ember.distributed", "torch.distributed"),
              ("ember.nn.parallel", "torch.nn.parallel"), ("ember.onnx", "torch.onnx"),
              ("ember.cuda", "torch.cuda"), ("ember.amp", "torch.amp"),
              ("ember.autograd", "torch.autograd"), ("ember.nn.init", "torch.nn.init"),
              ("ember.nn.utils", "torch.nn.utils"), ("ember.utils", "torch.utils"),
              ("ember.backends", "torch.backends"), ("ember.hub", "torch.hub")]


def _module(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        pytest.skip(f"{name} does not exist yet")


def _missing_name(mod, ns):
    for name in sorted(torch_names(ns)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                getattr(mod, name)
        except AttributeError:
            return name
        except Exception:  # noqa: BLE001 - there, but unsuited to this sample (Tensor.H on 1-d)
            pass
    return None


@pytest.mark.parametrize("ember_ns,torch_ns", NAMESPACES)
def test_every_namespace_names_what_it_lacks(ember_ns, torch_ns):
    mod = _module(ember_ns)
    name = _missing_name(mod, torch_ns)
    if name is None:
        pytest.skip(f"{ember_ns} has every name of {torch_ns}")
    with pytest.raises(MissingAPIError) as err:
        getattr(mod, name)
    assert str(err.value) == (f"{torch_ns}.{name} is not implemented in ember (there is no "
                              f"{ember_ns}.{name})")
    assert isinstance(err.value, NotImplementedError) and isinstance(err.value, AttributeError)
    assert getattr(mod, name, "default") == "default"


@pytest.mark.parametrize("ember_ns,torch_ns", NAMESPACES)
def test_other_names_stay_plain_attribute_errors(ember_ns, torch_ns):
    mod = _module(ember_ns)
    with pytest.raises(AttributeError) as err:
        getattr(mod, "no_such_name_in_torch")
    assert type(err.value) is AttributeError
    assert str(err.value) == f"module '{ember_ns}' has no attribute 'no_such_name_in_torch'"


def test_namespace_modules_have_the_hook():
    # a namespace module added later (ember.special, ember.fft, ...) must install the hook too:
    # `_missing.install(module, "torch.X")` or `__getattr__ = _missing.module_getattr(...)`
    for ember_ns, torch_ns in NAMESPACES:
        if importlib.util.find_spec(ember_ns) is None:
            continue
        mod = importlib.import_module(ember_ns)
        assert "__getattr__" in vars(mod), f"{ember_ns} has no __getattr__ for {torch_ns}"


def test_tensor_methods():
    t = ember.zeros(2)
    name = _missing_name(t, "torch.Tensor")
    assert name is not None
    with pytest.raises(MissingAPIError, match=rf"^torch\.Tensor\.{name} is not implemented in "
                                              rf"ember \(there is no ember\.Tensor\.{name}\)$"):
        getattr(t, name)
    assert not hasattr(t, name)
    with pytest.raises(AttributeError, match="^'Tensor' object has no attribute 'nope'$") as err:
        t.nope
    assert type(err.value) is AttributeError
    p = ember.nn.Parameter(ember.zeros(1))
    with pytest.raises(AttributeError, match="^'Parameter' object has no attribute 'nope'$"):
        p.nope


def test_submodules_still_load_on_first_use():
    code = "import ember; print(ember.optim.lr_scheduler.__name__, ember.backends.cudnn.enabled)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["ember.optim.lr_scheduler", "True"], out.stderr


def test_through_ember_run(tmp_path):
    script = tmp_path / "probe.py"
    name = _missing_name(ember.nn.functional, "torch.nn.functional")
    t_name = _missing_name(ember.zeros(1), "torch.Tensor")
    script.write_text(textwrap.dedent(f"""
        import torch
        import torch.nn.functional as F
        for obj, name in ((F, {name!r}), (torch.zeros(1), {t_name!r})):
            try:
                getattr(obj, name)
            except NotImplementedError as e:
                print(type(e).__name__, e)
            print(hasattr(obj, name))
    """))
    out = subprocess.run([sys.executable, "-m", "ember", "run", str(script)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"MissingAPIError torch.nn.functional.{name} is not implemented")
    assert lines[1] == "False"
    assert lines[2].startswith(f"MissingAPIError torch.Tensor.{t_name} is not implemented")
    assert lines[3] == "False"


def test_old_import_path_of_the_error_class():
    from ember.cli._alias import MissingAPIError as Old, MissingModuleError

    assert Old is MissingAPIError is ember.MissingAPIError
    assert MissingModuleError is ember._missing.MissingModuleError


def test_api_coverage_doc_is_current():
    # in a fresh process: dir(torch) grows with every torch submodule a test has imported
    torch_or_skip()
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "api_coverage.py"), "--check"],
                         capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert out.returncode == 0, (
        out.stdout + out.stderr + "\ndocs/api-coverage.md or ember/_torch_names.py is stale "
        "(names were added or removed since it was written): rerun "
        ".venv/bin/python tools/api_coverage.py")
