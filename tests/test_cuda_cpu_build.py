"""The rest of torch.cuda that programs call without checking is_available(): the answers and
errors of torch's CPU build."""
import warnings

import pytest

import ember
from helpers import torch_or_skip

torch = torch_or_skip()

ANSWERS = [("is_initialized", ()), ("empty_cache", ()), ("is_bf16_supported", ()),
           ("is_tf32_supported", ()), ("get_arch_list", ()), ("seed", ()), ("seed_all", ()),
           ("memory_allocated", ()), ("max_memory_allocated", ()), ("memory_reserved", ()),
           ("max_memory_reserved", ()), ("memory_stats", ()), ("memory_allocated", (0,))]
RAISES = [("get_device_name", ()), ("get_device_name", (0,)), ("get_device_capability", ()),
          ("get_device_properties", (0,)), ("init", ()), ("ipc_collect", ()),
          ("get_rng_state", ()), ("initial_seed", ()), ("current_stream", ()),
          ("mem_get_info", ()), ("can_device_access_peer", (0, 1))]


@pytest.mark.parametrize("name,args", ANSWERS)
def test_answers(name, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = getattr(torch.cuda, name)(*args)
    assert getattr(ember.cuda, name)(*args) == expected


@pytest.mark.parametrize("name,args", RAISES)
def test_errors(name, args):
    with pytest.raises(AssertionError) as t_err:
        getattr(torch.cuda, name)(*args)
    with pytest.raises(AssertionError) as e_err:
        getattr(ember.cuda, name)(*args)
    assert str(e_err.value) == str(t_err.value)


def test_other_names_name_themselves():
    with pytest.raises(ember.MissingAPIError, match=r"^torch\.cuda\.Stream is not implemented"):
        ember.cuda.Stream
    assert not hasattr(ember.cuda, "Stream")
