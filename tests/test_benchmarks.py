"""Smoke test of the benchmark harness: it runs and writes well-formed JSON.

Performance is never asserted here; only the structure of what ``benchmarks/run.py`` writes.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_seed_ops_ember_only(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", "seed_ops",
         "--frameworks", "ember", "--budget", "0.05", "--no-gemm", "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "seed_ops" in proc.stdout and "ember median" in proc.stdout

    data = json.loads(out.read_text())
    for key in ("schema", "date", "commit", "quick", "settings", "machine", "versions", "blas",
                "env", "numpy_gemm", "results"):
        assert key in data, key
    assert data["quick"] is True
    for key in ("cpu_model", "cores", "threads"):
        assert key in data["machine"], key
    assert data["versions"]["numpy"]
    assert "summary" in data["blas"]
    assert set(data["env"]["set"]) == {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                       "MKL_NUM_THREADS"}
    assert "OPENBLAS_CORETYPE" not in data["env"]["set"]

    (row,) = data["results"]
    assert row["workload"] == "seed_ops"
    assert row["torch"] == {"status": "skipped"}
    assert row["ratio"] is None
    ember = row["ember"]
    # ember may legitimately fail while ops are being written: the row then carries the error
    assert ember["status"] in ("ok", "error"), ember
    if ember["status"] == "ok":
        assert ember["min_s"] <= ember["median_s"]
        assert ember["repeats"] == len(ember["samples_s"]) >= 3
        assert ember["peak_rss_kib"] > 0
    else:
        assert ember["error"]


def test_failing_workload_is_reported_not_raised(monkeypatch) -> None:
    # in-process: the worker turns a workload's exception into an error result for the table row
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import worker, workloads

    def boom(m):
        def step():
            m.no_such_op()

        return step

    monkeypatch.setitem(workloads.WORKLOADS, "boom", workloads.Workload("boom", "", "step", boom))
    res = worker.run_step_workload("boom", "ember", threads=2, budget=0.05, repeats=3)
    assert res["status"] == "error" and res["phase"] == "step"
    assert res["error"].startswith("AttributeError") and "no_such_op" in res["error"]
