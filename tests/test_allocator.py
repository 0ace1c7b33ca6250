"""glibc malloc tuning at import (ember/backend/allocator.py), and its opt-out."""
import os
import subprocess
import sys

import pytest

CODE = "import ember.backend.allocator as a, ember; print(a.tuned)"


def _run(**env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=e,
                          timeout=60).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_import_tunes_malloc_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert _run() == "True"


def test_opt_out_leaves_malloc_alone():
    assert _run(EMBER_MALLOC_TUNING="0") == "False"

