"""ember.cuda: torch's CPU-build answers without a device, and torch.cuda's behaviour on the fake
CUDA device (tests/device/fakecupy.py through cupy_backend.use_module); the GPU check script's
--fake mode."""
import json
import os
import pathlib
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import torch_or_skip

import ember

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.cpu_build
def test_cuda_queries_match_torch_cpu_build():
    torch = torch_or_skip()
    assert ember.cuda.is_available() is torch.cuda.is_available() is False
    assert ember.cuda.device_count() == torch.cuda.device_count() == 0
    ember.cuda.manual_seed(0)
    ember.cuda.manual_seed_all(0)
    for name in ("current_device", "synchronize"):
        with pytest.raises(AssertionError) as t_err:
            getattr(torch.cuda, name)()
        with pytest.raises(AssertionError) as e_err:
            getattr(ember.cuda, name)()
        assert str(e_err.value) == str(t_err.value)


@pytest.fixture
def fake(fake_cuda):
    """The fake CUDA device for one test (tests/conftest.py's ``fake_cuda``)."""
    return fake_cuda


def test_no_device_keeps_the_cpu_build_answers(fake, monkeypatch):
    monkeypatch.setattr(fake, "DEVICE_COUNT", 0)
    assert ember.cuda.is_available() is False and ember.cuda.device_count() == 0
    with pytest.raises(AssertionError, match="^Torch not compiled with CUDA enabled$"):
        ember.cuda.current_device()
    with pytest.raises(RuntimeError, match="^torch.cuda.Stream requires CUDA support$"):
        ember.cuda.Stream()


def test_devices(fake):
    cuda = ember.cuda
    assert cuda.is_available() is True and cuda.is_initialized() is True
    assert cuda.device_count() == 2 and cuda.current_device() == 0
    cuda.set_device(1)
    assert cuda.current_device() == 1 and fake.cupy.cuda.get_device_id() == 1
    cuda.set_device("cuda:0")
    assert cuda.current_device() == 0
    cuda.set_device(ember.device("cuda", 1))
    assert cuda.current_device() == 1
    cuda.set_device(-1)  # torch: a negative index is a no-op
    assert cuda.current_device() == 1
    cuda.set_device(0)
    with pytest.raises(RuntimeError, match="^CUDA error: invalid device ordinal"):
        cuda.set_device(2)
    with pytest.raises(ValueError, match="^Expected a cuda device, but got: cpu$"):
        cuda.set_device("cpu")
    with pytest.raises(ValueError, match="specified index or an integer, but got:cuda$"):
        cuda.set_device("cuda")


class _OnDevice:
    """A tensor's view of its device, as device_of reads it."""

    def __init__(self, index):
        self.is_cuda, self._index = True, index

    def get_device(self):
        return self._index


def test_device_context_manager(fake):
    cuda = ember.cuda
    with cuda.device(1):
        assert cuda.current_device() == 1
        with cuda.device("cuda:0"):
            assert cuda.current_device() == 0
        assert cuda.current_device() == 1
        with cuda.device(-1):  # no-op
            assert cuda.current_device() == 1
    assert cuda.current_device() == 0
    with cuda.device(None):  # None: the current device
        assert cuda.current_device() == 0
    with cuda.device_of(_OnDevice(1)):  # what device_of reads of a tensor
        assert cuda.current_device() == 1
    with cuda.device_of(ember.zeros(2)):
        assert cuda.current_device() == 0


def test_properties(fake):
    cuda = ember.cuda
    props = cuda.get_device_properties(0)
    assert props.name == cuda.get_device_name() == cuda.get_device_name("cuda:1") == \
        fake.DEVICE_NAME.decode()
    assert (props.major, props.minor) == cuda.get_device_capability() == (9, 0)
    assert props.total_memory == fake.DEVICE_MEMORY and props.multi_processor_count == 132
    assert re.fullmatch(r"_CudaDeviceProperties\(name='fakecuda \(NumPy\)', major=9, minor=0, "
                        r"total_memory=81920MB, multi_processor_count=132, uuid=[0-9a-f-]{36}, "
                        r"L2_cache_size=\d+MB\)", repr(props)), repr(props)
    assert cuda._format_uuid(bytes(range(16))) == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    for bad in (2, -1):
        with pytest.raises(AssertionError, match="^Invalid device id$"):
            cuda.get_device_properties(bad)
    assert cuda.is_tf32_supported() is True
    assert cuda.is_bf16_supported() is True  # the fake holds ml_dtypes' bfloat16
    assert cuda.get_arch_list() == []
    assert cuda.synchronize() is None and cuda.synchronize(1) is None


@pytest.mark.host_only  # (exact byte counts: a fake device of its own, not the session's)
def test_memory(fake):
    import gc

    # the counts are exact: no other test's garbage may be collected in the middle of them
    gc.collect()
    gc.disable()
    try:
        _check_memory(fake)
    finally:
        gc.enable()


def _check_memory(fake):
    cuda = ember.cuda
    cuda.empty_cache()
    cuda.reset_peak_memory_stats()
    before = cuda.memory_allocated()
    x = ember.zeros(1000, device="cuda")  # 4000 bytes: one 4096-byte block of 512s
    assert cuda.memory_allocated() - before == 4096
    assert cuda.memory_allocated("cuda:1") == 0
    assert cuda.max_memory_allocated() >= before + 4096
    del x
    assert cuda.memory_allocated() == before
    assert cuda.max_memory_allocated() >= before + 4096  # the peak stays
    assert cuda.memory_reserved() >= before + 4096  # the pool keeps the freed block
    cuda.empty_cache()
    assert cuda.memory_reserved() == before
    cuda.reset_peak_memory_stats()
    assert cuda.max_memory_allocated() == before and cuda.max_memory_reserved() == before
    # a tensor made and freed between two queries still counts: the allocator wrapper sees it
    ember.zeros(2000, device="cuda")  # 8000 bytes: 8192 in blocks of 512
    assert cuda.memory_allocated() == before
    assert cuda.max_memory_allocated() == before + 8192
    cuda.empty_cache()
    cuda.reset_peak_memory_stats()
    stats = cuda.memory_stats()
    assert stats["allocated_bytes.all.current"] == before
    assert list(stats) == ["allocated_bytes.all.current", "allocated_bytes.all.peak",
                           "reserved_bytes.all.current", "reserved_bytes.all.peak"]
    free, total = cuda.mem_get_info()
    assert total == fake.DEVICE_MEMORY and 0 < free <= total
    assert cuda.get_per_process_memory_fraction() == 1.0
    cuda.set_per_process_memory_fraction(0.25)
    assert cuda.get_per_process_memory_fraction() == 0.25
    assert cuda.get_per_process_memory_fraction(1) == 1.0
    assert fake.cupy.get_default_memory_pool().get_limit() == fake.DEVICE_MEMORY // 4
    cuda.set_per_process_memory_fraction(0.0)  # torch's 0 allows nothing; CuPy's 0 is no limit
    assert fake.cupy.get_default_memory_pool().get_limit() == 1
    cuda.set_per_process_memory_fraction(1.0)
    with pytest.raises(ValueError, match=r"^Invalid fraction value: 1\.5\. Allowed range: 0~1$"):
        cuda.set_per_process_memory_fraction(1.5)
    with pytest.raises(TypeError, match="^Invalid type for fraction argument, must be `float`$"):
        cuda.set_per_process_memory_fraction(1)


def test_seeds_and_rng_state(fake):
    cuda = ember.cuda
    gens = cuda.default_generators
    assert len(gens) == 2 and all(g.device == ember.device("cuda", i) for i, g in enumerate(gens))
    # the autouse fixture's ember.manual_seed(0) seeded the GPUs' generators too, as torch's
    assert cuda.initial_seed() == 0

    def draw(index=0):
        return ember.rand(4, device=f"cuda:{index}", generator=gens[index]).cpu().tolist()

    cuda.manual_seed(7)
    first = draw()
    cuda.manual_seed(7)
    assert draw() == first and cuda.initial_seed() == 7
    cuda.manual_seed_all(11)
    assert draw(0) == draw(1) and gens[1].initial_seed() == 11
    state = cuda.get_rng_state()
    again = draw()
    cuda.set_rng_state(state)
    assert draw() == again
    states = cuda.get_rng_state_all()
    assert len(states) == 2 and states[0].dtype is ember.uint8
    cuda.seed()
    assert cuda.initial_seed() != 11
    cuda.seed_all()
    assert gens[0].initial_seed() == gens[1].initial_seed()


def test_streams(fake):
    cuda = ember.cuda
    default = cuda.default_stream()
    assert cuda.current_stream() == default and default.cuda_stream == 0
    assert repr(default) == "<torch.cuda.Stream device=cuda:0 cuda_stream=0x0>"
    s = cuda.Stream()
    assert s != default and s.device == ember.device("cuda", 0)
    assert re.fullmatch(r"<torch\.cuda\.Stream device=cuda:0 cuda_stream=0x[0-9a-f]+>", repr(s))
    with cuda.stream(s):
        assert cuda.current_stream() == s
    assert cuda.current_stream() == default
    with cuda.stream(None):
        assert cuda.current_stream() == default
    assert s.query() is True and s.synchronize() is None
    s.wait_stream(default)
    other = cuda.Stream(device=1)
    assert other.device_index == 1 and cuda.current_device() == 0
    assert hash(s) == hash(s) and {s: 1}[s] == 1


def test_events(fake):
    cuda = ember.cuda
    start, end = cuda.Event(enable_timing=True), cuda.Event(enable_timing=True)
    assert repr(start) == "<torch.cuda.Event uninitialized>" and start.query() is True
    with pytest.raises(ValueError, match=r"^Both events must be recorded before calculating "
                                         r"elapsed time\.$"):
        start.elapsed_time(end)
    start.record()
    ember.ones(100, device="cuda").sum()
    end.record(cuda.current_stream())
    end.synchronize()
    elapsed = start.elapsed_time(end)
    assert isinstance(elapsed, float) and elapsed >= 0
    assert re.fullmatch(r"<torch\.cuda\.Event 0x[0-9a-f]+>", repr(start))
    plain = cuda.Event()
    plain.record()
    with pytest.raises(ValueError, match=r"^Both events must be created with argument "
                                         r"'enable_timing=True'\.$"):
        plain.elapsed_time(end)
    event = cuda.current_stream().record_event()
    assert isinstance(event, cuda.Event) and event.query() is True
    cuda.current_stream().wait_event(event)


def test_sync_debug_mode(fake):
    from ember import backend

    cuda = ember.cuda
    assert cuda.get_sync_debug_mode() == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cuda.set_sync_debug_mode("warn")
        cuda._on_sync("item")
    messages = [str(w.message) for w in caught]
    assert messages[-1] == "called a synchronizing CUDA operation"
    assert caught[-1].filename == __file__  # the line that synced, not the reporting machinery
    assert all(w.category is UserWarning for w in caught)
    assert cuda.get_sync_debug_mode() == 1 and backend.sync_hook is cuda._on_sync
    cuda.set_sync_debug_mode(2)
    with pytest.raises(RuntimeError, match="^called a synchronizing CUDA operation$"):
        cuda._on_sync("item")
    with pytest.raises(RuntimeError, match="^called a synchronizing CUDA operation$"):
        cuda.Stream().synchronize()  # torch's stream synchronize is reported too
    cuda.set_sync_debug_mode(1)
    with pytest.warns(UserWarning, match="synchronizing") as record:
        cuda.Stream().synchronize()
    assert record[0].filename == __file__
    cuda.set_sync_debug_mode(2)
    cuda.synchronize()  # the device-wide one is not, in torch either
    cuda.set_sync_debug_mode("default")
    assert cuda.get_sync_debug_mode() == 0 and backend.sync_hook is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cuda._on_sync("item")  # silent
    with pytest.raises(RuntimeError, match="expected one of `default`, `warn`, `error`$"):
        cuda.set_sync_debug_mode("loud")
    with pytest.raises(RuntimeError, match="^invalid value of debug_mode, expected one of 0,1,2$"):
        cuda.set_sync_debug_mode(3)


def test_amp_still_reachable(fake):
    with pytest.warns(FutureWarning, match="torch.amp.autocast"):
        ember.cuda.amp.autocast(enabled=False)


def _gpu_check_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return gpu_check


def test_gpu_check_pytest_part_reads_the_run(tmp_path, monkeypatch):
    """The suite part's command (--device cuda, -x) run here on the CPU over one small test file:
    its summary, count and log."""
    torch_or_skip()  # the file it runs compares with torch
    gpu_check = _gpu_check_module()
    run = subprocess.run
    commands = []

    def on_cpu(cmd, **kw):
        commands.append(cmd)
        cmd = [c for c in cmd if c not in ("tests/ops", "tests/nn")]
        cmd[cmd.index("--device") + 1] = "cpu"
        return run([*cmd, "tests/test_cuda_cpu_build.py", "-k", "answers"], **kw)

    monkeypatch.setattr(gpu_check.subprocess, "run", on_cpu)
    args = type("Args", (), {"part_seconds": 100.0, "out": str(tmp_path)})
    result = gpu_check.part_pytest(type("Dev", (), {"fake": False}), args)
    at = commands[0].index("--device")
    assert commands[0][at:at + 5] == ["--device", "cuda", "-x", "tests/ops", "tests/nn"]
    assert result["ok"] is True and result["returncode"] == 0, result
    assert re.fullmatch(r"\d+ passed, \d+ deselected in [\d.]+s", result["summary"]), result
    assert result["passed_before_the_end"] == int(result["summary"].split()[0])
    assert "passed" in (tmp_path / "pytest_tail.txt").read_text()


def test_gpu_check_compare_catches_differences():
    gpu_check = _gpu_check_module()
    same = np.array([1.0, np.nan, np.inf], np.float32)
    assert gpu_check._compare(same, same.copy(), lambda a: a)[0] is True
    assert gpu_check._compare(same, np.array([1.0, 1.0, np.inf], np.float32), lambda a: a)[2] \
        == "NaN positions differ"
    assert gpu_check._compare(same, same * 1.01, lambda a: a)[0] is False
    assert gpu_check._compare(np.arange(3), np.array([0, 1, 3]), lambda a: a)[2] == \
        "integers differ"
    assert gpu_check._compare(same, same.astype(np.float64), lambda a: a)[0] is False
    assert gpu_check._compare([same, 1], [same, 2], lambda a: a)[0] is False


def _gpu_check_fake(out, parts):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--fake",
                           "--out", str(out), "--parts", ",".join(parts)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    results = json.loads((out / "gpu_check_fake.json").read_text())
    assert list(results["parts"]) == parts, proc.stderr
    return results["parts"]


def test_gpu_check_fake_mode(tmp_path):
    """gpu_check.py --fake: the environment, kernel parity and device-semantics parts on the fake
    device against torch on the CPU, writing its JSON."""
    torch_or_skip()
    parts = _gpu_check_fake(tmp_path, ["env", "kernels", "semantics", "pytest"])
    assert parts["env"]["ember_cuda_available"] is True and parts["env"]["fake"] is True
    kernels = parts["kernels"]
    assert kernels["cases"] > 100 and kernels["untested_kernels"] == []
    assert kernels["failed"] == 0, [r for r in kernels["rows"] if not r["ok"]]
    assert "skipped" in parts["pytest"]
    semantics = {row["case"]: row for row in parts["semantics"]["rows"]}
    assert semantics["numpy_of_device_tensor"]["ember"][0] == "TypeError"
    assert semantics["mixed_add"]["ember"][0] == "RuntimeError"
    assert semantics["round_trip_grad"]["ember"] == \
        ["ok", ["ToCopyBackward0", False, [2.0, 4.0, 6.0], 14.0]]
    assert semantics["round_trip_grad"]["torch_cpu"][1][2:] == [[2.0, 4.0, 6.0], 14.0]
    assert semantics["attributes"]["ember"] == ["ok", ["cuda:0", True, 0, -1, "cuda:0"]]
    assert semantics["state_dict_across"]["ember"] == ["ok", ["cuda:0", True, True]]
    assert semantics["save_load"]["ember"] == ["ok", ["cuda:0", "cpu", [0.0, 1.0, 2.0]]]
    assert semantics["to_returns_self"]["ember"] == ["ok", [True, True, False]]


def test_gpu_check_fake_training(tmp_path):
    """gpu_check.py --fake's training and sync parts: ResNet-18 (48 px, batch 4, two SGD steps)
    on the fake device against torch on the CPU, and the syncs of a step."""
    torch_or_skip()
    parts = _gpu_check_fake(tmp_path, ["train", "syncs"])
    train = parts["train"]
    assert "ember_error" not in train, train.get("ember_traceback")
    assert len(train["losses"]["ember"]) == len(train["losses"]["torch"]) == 2
    assert train["ok"] is True and train["max_relative_loss_diff"] < 1e-3, train["losses"]
    assert 0 < train["ember_peak_allocated_bytes"] <= train["ember_peak_reserved_bytes"]
    assert train["ratio_ember_over_torch"] > 0
    syncs = parts["syncs"]
    assert "error" not in syncs, syncs.get("traceback")
    assert syncs["fake_sync_count"] >= 1  # loss.item(), at least
    # the core reports loss.item() through the hook, at the line that called it
    assert syncs["hook_wired"] is True and syncs["reported"] >= 1, syncs
    assert any(site.startswith("gpu_check.py:") for site in syncs["sites"]), syncs["sites"]
    assert "tensor.py" in " ".join(syncs["fake_findings"]["sync"])


def test_peaks_through_the_allocator_on_real_cupy(monkeypatch):
    """On CuPy, whose pool keeps no peak, every allocation goes through ember.cuda's wrapper of
    the pool's malloc (cupy.cuda.set_allocator); a CuPy-shaped stub stands in for it here."""
    import types

    class Pointer:
        def __init__(self, size):
            self.device_id, self.size = 0, size

    class Pool:
        used = total = 0

        def malloc(self, size):
            Pool.used += size
            Pool.total = max(Pool.total, Pool.used)
            return Pointer(size)

        def used_bytes(self):
            return Pool.used

        def total_bytes(self):
            return Pool.total

    installed = []
    cuda = types.SimpleNamespace(set_allocator=installed.append)
    xp = types.SimpleNamespace(cuda=cuda, get_default_memory_pool=Pool)
    monkeypatch.setattr(ember.cuda._State, "backend", None)
    ember.cuda._initialise(types.SimpleNamespace(xp=xp))
    (malloc,) = installed
    pointer = malloc(1024)
    assert isinstance(pointer, Pointer) and pointer.size == 1024
    Pool.used -= 1024  # freed: the peak stays
    malloc(256)
    assert ember.cuda._State.peak_allocated == {0: 1024}
    assert ember.cuda._State.peak_reserved == {0: 1024}
    monkeypatch.setattr(ember.cuda._State, "backend", None)


def test_gpu_check_sh_runs_and_summarises(tmp_path):
    """The shell wrapper: environment lines, the run, and a summary line per part."""
    torch_or_skip()
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(tmp_path),
                           "--fake", "--parts", "env,kernels"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "== python: " in proc.stdout and "   numpy " in proc.stdout
    assert "   kernels: {'ok': True, 'failed': 0" in proc.stdout, proc.stdout
    assert (tmp_path / "gpu_check_fake.json").exists()


def test_sync_debug_mode_reports_the_cores_reads(fake):
    """The core's device-to-host reads (item, tolist, bool, a copy to the CPU) reach _on_sync
    through ember.backend.sync_hook: warned at the line that read, or refused."""
    cuda = ember.cuda
    t = ember.ones(3, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cuda.set_sync_debug_mode("warn")
    with pytest.warns(UserWarning, match="^called a synchronizing CUDA operation$") as record:
        t.sum().item()
    assert record[0].filename == __file__
    cuda.set_sync_debug_mode("error")
    for read in (lambda: t.sum().item(), t.tolist, lambda: bool(t[0] > 0), t.cpu):
        with pytest.raises(RuntimeError, match="^called a synchronizing CUDA operation$"):
            read()
    y = t * 2  # work that stays on the device is not a sync
    cuda.set_sync_debug_mode(0)
    assert y.cpu().tolist() == [2.0, 2.0, 2.0]


def test_out_of_memory_is_torchs_error(fake):
    """CuPy's allocation failure becomes torch's OutOfMemoryError (a RuntimeError, the class
    ``except torch.cuda.OutOfMemoryError`` catches), from a factory and from an op."""
    pool = fake.cupy.get_default_memory_pool()
    x = ember.ones(1024, device="cuda")
    pool.set_limit(size=1 << 20)
    try:
        with pytest.raises(ember.cuda.OutOfMemoryError,
                           match=r"^CUDA out of memory\. Tried to allocate 4\.00 MiB\. GPU 0 has "
                                 r"a total capacity of [0-9.]+ GiB of which "):
            ember.zeros(1 << 20, device="cuda")
        with pytest.raises(ember.OutOfMemoryError, match=r"Tried to allocate 4\.00 MiB"):
            x.expand(1024, 1024).contiguous()
        try:
            ember.empty(1 << 21, device="cuda")
        except ember.cuda.OutOfMemoryError as e:
            assert isinstance(e, RuntimeError) and not isinstance(e, MemoryError)
        else:
            pytest.fail("no OutOfMemoryError")
        assert (x * 2).sum().item() == 2048.0  # what fits still runs
    finally:
        pool.set_limit(size=0)
