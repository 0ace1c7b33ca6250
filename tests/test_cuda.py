"""ember.cuda answers as torch's CPU build does."""
import pytest

import ember
from helpers import torch_or_skip


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
