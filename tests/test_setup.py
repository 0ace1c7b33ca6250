"""Set-up: `import ember` from the folder that contains the clone finds the package, not the
clone as an empty namespace package; the Makefile's demo installs what it advertises."""
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_import_from_the_folder_that_contains_the_clone(tmp_path):
    # A user's clone is a folder named `ember` (here: a link of that name to this checkout);
    # Python looks in the current folder first, where that folder has no __init__.py.
    (tmp_path / "ember").symlink_to(ROOT, target_is_directory=True)
    code = "import ember; print(ember.__file__); print(ember.tensor([1.0]).sum().item())"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, env=env)
    assert result.returncode == 0, result.stderr
    path, value = result.stdout.split()
    assert path.endswith(os.path.join("ember", "__init__.py")) and value == "1.0"


def test_editable_install_is_a_path_entry_not_a_finder():
    # setuptools' editable finder is consulted after the current folder, which is what let the
    # clone's folder shadow the package; package-dir = {"" = "."} makes it a static .pth
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as f:
        setuptools = tomllib.load(f)["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"": "."}
    import site

    for folder in site.getsitepackages():
        for name in os.listdir(folder) if os.path.isdir(folder) else []:
            if name.startswith("__editable__") and "ember" in name and name.endswith(".pth"):
                text = (pathlib.Path(folder) / name).read_text()
                assert "finder" not in text, (f"{folder}/{name} is setuptools' finder: reinstall "
                                              "with pip install -e . (pyproject.toml changed)")


def test_make_demo_installs_vision_and_viz():
    makefile = (ROOT / "Makefile").read_text()
    base = makefile[makefile.index("$(BASE):"):].split("\n\n")[0]
    assert "'.[vision,viz]'" in base and "@echo" in base
