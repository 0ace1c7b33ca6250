"""Without CuPy (or without a device) ember.cuda answers as torch's CPU build does: the same values,
the same exception types and messages, for the calls programs make without checking
is_available() first."""
import warnings

import pytest

import ember
from helpers import torch_or_skip

torch = torch_or_skip()
pytestmark = pytest.mark.cpu_build  # the answers without a device: not under --device

ANSWERS = [("is_initialized", ()), ("empty_cache", ()), ("is_bf16_supported", ()),
           ("is_bf16_supported", (False,)), ("is_tf32_supported", ()), ("get_arch_list", ()),
           ("seed", ()), ("seed_all", ()), ("memory_allocated", ()),
           ("max_memory_allocated", ()), ("memory_reserved", ()), ("max_memory_reserved", ()),
           ("memory_stats", ()), ("memory_stats", (0,)), ("memory_allocated", (0,)),
           ("memory_reserved", ("cuda:0",)), ("max_memory_reserved", (0,)),
           ("manual_seed", (1,)), ("manual_seed_all", (1,)), ("set_device", (-1,)),
           ("set_stream", (None,)), ("get_rng_state_all", ()), ("is_available", ()),
           ("device_count", ())]
RAISES = [("get_device_name", ()), ("get_device_name", (0,)), ("get_device_capability", ()),
          ("get_device_properties", ()), ("get_device_properties", (0,)), ("init", ()),
          ("ipc_collect", ()), ("get_rng_state", ()), ("initial_seed", ()),
          ("current_stream", ()), ("default_stream", ()), ("mem_get_info", ()),
          ("can_device_access_peer", (0, 1)), ("current_device", ()), ("synchronize", ()),
          ("synchronize", (0,)), ("get_sync_debug_mode", ()), ("set_sync_debug_mode", ("warn",)),
          ("set_sync_debug_mode", ("bad",)), ("set_sync_debug_mode", (1,)),
          ("set_device", (0,)), ("set_device", ("cuda:0",)), ("set_device", ("cuda",)),
          ("set_device", ("cpu",)), ("set_device", (None,)), ("reset_peak_memory_stats", ()),
          ("reset_peak_memory_stats", (0,)), ("Stream", ()), ("Stream", (0,)), ("Event", ()),
          ("device", ("cpu",)), ("set_per_process_memory_fraction", (0.5,)),
          ("get_per_process_memory_fraction", ())]


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


@pytest.mark.parametrize("name,args", ANSWERS)
def test_answers(name, args):
    expected = _quiet(lambda: getattr(torch.cuda, name)(*args))
    got = _quiet(lambda: getattr(ember.cuda, name)(*args))
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("name,args", RAISES)
def test_errors(name, args):
    with pytest.raises(Exception) as t_err:
        _quiet(lambda: getattr(torch.cuda, name)(*args))
    with pytest.raises(Exception) as e_err:
        _quiet(lambda: getattr(ember.cuda, name)(*args))
    assert type(e_err.value) is type(t_err.value)
    assert str(e_err.value) == str(t_err.value)


def _outcome(fn):
    try:
        return "ok", fn()
    except Exception as e:  # noqa: BLE001 - the outcome is what is compared
        return type(e).__name__, str(e)


@pytest.mark.parametrize("arg", [0, 1, "cuda:0", -1, None])
def test_device_context_manager(arg):
    # constructing always works; entering needs CUDA unless the index is negative (or None,
    # where torch's CPU build trips over comparing None with 0)
    outcomes = []
    for mod in (torch, ember):
        ctx = mod.cuda.device(arg)
        outcomes.append((ctx.idx, _outcome(ctx.__enter__), _outcome(
            lambda c=ctx: c.__exit__(None, None, None))))
    assert outcomes[0] == outcomes[1]


def test_device_of_a_cpu_tensor_is_a_no_op():
    with ember.cuda.device_of(ember.zeros(1)) as entered:
        assert entered is None
    with torch.cuda.device_of(torch.zeros(1)):
        pass


def test_stream_context_without_cuda_is_a_no_op():
    for mod in (torch, ember):
        ctx = mod.cuda.stream(None)
        assert isinstance(ctx, mod.cuda.StreamContext)
        with ctx as entered:
            assert entered is None


def test_reset_max_memory_allocated_warns_then_fails_as_torch():
    for mod in (torch, ember):
        with pytest.warns(FutureWarning, match="reset_peak_memory_stats"):
            with pytest.raises(AttributeError, match="_cuda_resetPeakMemoryStats"):
                mod.cuda.reset_max_memory_allocated()


def test_set_rng_state_is_deferred_for_good():
    assert ember.cuda.set_rng_state(ember.zeros(8, dtype=ember.uint8)) is None


def test_stream_and_event_are_classes():
    for name in ("Stream", "Event", "StreamContext", "device", "device_of"):
        assert isinstance(getattr(ember.cuda, name), type), name


def test_other_names_name_themselves():
    with pytest.raises(ember.MissingAPIError, match=r"^torch\.cuda\.CUDAGraph is not implemented"):
        ember.cuda.CUDAGraph
    assert not hasattr(ember.cuda, "CUDAGraph")
