"""Smoke test of the benchmark harness: it runs and writes well-formed JSON.

Performance is never asserted here; only the structure of what ``benchmarks/run.py`` writes.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


# -- the workloads at their tiny size, the FLOP counter, the timing logic --------------------------

def _frameworks() -> list:
    import ember

    out = [ember]
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(2)
    return [*out, torch]


def _registry(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import models, run, worker, workloads

    return models, run, worker, workloads


ISSUE_WORKLOADS = ("seed_ops", "tiny_mlp", "mlp", "resnet18_cifar", "resnet18_224_infer",
                   "resnet18_224_finetune", "resnet18_224_train", "lstm", "gpt_small",
                   "mobilenet_v3_small_224_infer", "import", "seed_ops_compiled",
                   "tiny_mlp_compiled", "mlp_compiled", "gpt_small_compiled")


def test_the_issue_workloads_are_registered_in_order(monkeypatch) -> None:
    _, _, _, workloads = _registry(monkeypatch)
    assert tuple(workloads.WORKLOADS) == ISSUE_WORKLOADS
    for name in ISSUE_WORKLOADS[2:ISSUE_WORKLOADS.index("import")]:
        wl = workloads.WORKLOADS[name]
        assert wl.kind == "step" and wl.sized and wl.unit == "ms", name
        assert wl.description


@pytest.mark.host_only  # the CPU benchmark workloads: from_numpy data (host memory), as torch's;
# a GPU's numbers come from benchmarks/gpu_check.sh
def test_every_step_workload_runs_one_tiny_step_on_each_framework(monkeypatch) -> None:
    _, _, _, workloads = _registry(monkeypatch)
    for m in _frameworks():
        for name, wl in workloads.WORKLOADS.items():
            if wl.kind != "step":
                continue
            step = wl.make(m, tiny=True) if wl.sized else wl.make(m)
            step()
            step()  # a second step: the optimizer's momentum buffers exist by now
            if wl.sized:
                assert step.flops > 0 and step.flops_note, (m.__name__, name)


@pytest.mark.host_only  # the CPU benchmark workloads: from_numpy data (host memory), as torch's;
# a GPU's numbers come from benchmarks/gpu_check.sh
def test_finetune_trains_only_fc(monkeypatch) -> None:
    _, _, _, workloads = _registry(monkeypatch)
    for m in _frameworks():
        step = workloads.WORKLOADS["resnet18_224_finetune"].make(m, tiny=True)
        model = next(c.cell_contents for c in step.__closure__
                     if isinstance(getattr(c.cell_contents, "fc", None), m.nn.Linear))
        step()
        with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
        assert with_grad == {"fc.weight", "fc.bias"}, m.__name__


def test_conv_flops_match_a_hand_count(monkeypatch) -> None:
    import ember

    models, *_ = _registry(monkeypatch)
    conv = ember.nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1, bias=False)
    # 9x11 input: out (9 + 2 - 2 - 1) // 2 + 1 = 5 rows, (11 + 2 - 2 - 1) // 2 + 1 = 6 columns;
    # each output element is 3 * 3 * 3 = 27 multiply-adds, 8 channels: 5 * 6 * 8 * 27 = 6480 MACs
    assert models.conv2d_flops(conv, 9, 11) == (2 * 6480, 5, 6)
    assert tuple(conv(ember.zeros(1, 3, 9, 11)).shape[2:]) == (5, 6)
    # grouped, dilated, non-square kernel: rows 10 - 2*(3-1) = 6, columns 7 - 2*(2-1) = 5;
    # 6 output channels, each over 4 / 2 groups = 2 input channels of a 3x2 kernel
    conv = ember.nn.Conv2d(4, 6, kernel_size=(3, 2), dilation=2, groups=2)
    assert models.conv2d_flops(conv, 10, 7) == (2 * 6 * 5 * 6 * 2 * 3 * 2, 6, 5)
    assert tuple(conv(ember.zeros(1, 4, 10, 7)).shape[2:]) == (6, 5)
    assert models.linear_flops(ember.nn.Linear(512, 10)) == 2 * 5120


def test_resnet18_tree_and_flops_match_torchvision(monkeypatch) -> None:
    models, *_ = _registry(monkeypatch)
    for m in _frameworks():
        net = models.resnet18(m)
        # torchvision's resnet18(): 11,689,512 parameters, the same state_dict keys
        assert sum(p.numel() for p in net.parameters()) == 11_689_512
        assert "layer2.0.downsample.1.running_var" in net.state_dict()
        # torchvision's published figure: 1.81 GFLOPS (multiply-adds) at 224x224
        assert sum(models.resnet_flops(net, 224, 224).values()) == 2 * 1_814_073_344
        cifar = models.resnet18(m, 10, cifar=True)
        assert tuple(cifar.conv1.weight.shape) == (64, 3, 3, 3)
        assert models.resnet_flops(cifar, 32, 32)["conv1"] == 2 * 32 * 32 * 64 * 27


def test_slow_steps_get_two_warmups_and_at_least_three_samples(monkeypatch) -> None:
    import time

    _, _, worker, _ = _registry(monkeypatch)
    # every call takes >= 10% of the budget: two warm-ups, single-call samples, at least 3
    res = worker.time_step(lambda: time.sleep(0.02), budget=0.1, repeats=15)
    assert res["warmup"] == 2 and res["number"] == 1
    assert 3 <= res["repeats"] == len(res["samples_s"]) <= 15
    # a fast step: at least 3 warm-up calls, then batches
    res = worker.time_step(lambda: None, budget=0.05, repeats=5)
    assert res["warmup"] >= 3 and res["repeats"] == 5 and res["number"] >= 1


def test_a_slow_first_call_alone_does_not_make_a_step_slow(monkeypatch) -> None:
    import time

    _, _, worker, _ = _registry(monkeypatch)
    calls = []

    def step():  # like torch's seed_ops: the first backward starts the engine
        calls.append(None)
        if len(calls) == 1:
            time.sleep(0.02)

    res = worker.time_step(step, budget=0.1, repeats=5)
    assert res["warmup"] >= 3 and res["number"] > 1


def test_slow_workloads_get_their_own_budget_in_a_full_run(monkeypatch) -> None:
    _, run, _, _ = _registry(monkeypatch)
    full = run.parse_args([])
    s = run.settings(full)
    assert run.workload_budget("resnet18_224_train", s, full) > s["budget"]
    assert run.workload_budget("seed_ops", s, full) == s["budget"]
    for argv in (["--quick"], ["--budget", "0.2"]):
        args = run.parse_args(argv)
        assert run.workload_budget("resnet18_224_train", run.settings(args), args) \
            == run.settings(args)["budget"]


def test_throughput_rows(monkeypatch) -> None:
    _, run, _, _ = _registry(monkeypatch)
    row = {"workload": "resnet18_cifar",
           "ember": {"status": "ok", "median_s": 2.0, "flops": 8e9, "flops_note": "3 x forward"},
           "torch": {"status": "error", "error": "x"}}
    run.add_throughput(row, 100.0)
    assert row["flops_per_step"] == 8e9 and row["ember"]["gflops"] == 4.0
    assert row["ember"]["gemm_fraction"] == 0.04 and "gflops" not in row["torch"]
    text = run.render_throughput([row], 100.0)
    assert "4.0 (4%)" in text and "3 x forward" in text


def test_tiny_run_writes_flops_to_the_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--tiny", "--only",
         "resnet18_cifar", "--frameworks", "ember", "--budget", "0.05", "--no-gemm", "--output",
         str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(out.read_text())["results"]
    assert row["workload"] == "resnet18_cifar" and row["budget"] == 0.05
    if row["ember"]["status"] == "ok":  # ember may fail mid-refactor: the row carries the error
        assert row["flops_per_step"] == row["ember"]["flops"] > 0
        assert row["ember"]["gflops"] > 0 and row["ember"]["gemm_fraction"] is None
        assert row["ember"]["repeats"] >= 3
        assert "achieved throughput" in proc.stdout


def test_rounds_keep_each_frameworks_best(monkeypatch) -> None:
    _, run, _, _ = _registry(monkeypatch)
    ok = lambda med: {"status": "ok", "median_s": med}  # noqa: E731
    best = run.best_round(None, ok(3.0))
    best = run.best_round(best, {"status": "error", "error": "x"})
    best = run.best_round(best, ok(2.0))
    best = run.best_round(best, ok(2.5))
    assert best["median_s"] == 2.0 and best["round_medians_s"] == [3.0, 2.0, 2.5]
    err = run.best_round(None, {"status": "error", "error": "x"})
    assert run.best_round(err, ok(1.0))["round_medians_s"] == [1.0]
