"""DistributedSampler against torch's: the same index lists (but the shuffled permutation,
which comes from ember's generator), lengths, set_epoch, and errors."""
import itertools

import pytest
import torch.utils.data as tdata

import ember.utils.data as edata


@pytest.mark.parametrize("length,world,drop_last",
                         list(itertools.product([1, 2, 5, 7, 10, 12, 13], [1, 2, 3, 4, 5, 8],
                                                [False, True])))
def test_index_lists_match_torch(length, world, drop_last):
    data = list(range(length))
    for rank in range(world):
        mine = edata.DistributedSampler(data, world, rank, shuffle=False, drop_last=drop_last)
        ref = tdata.DistributedSampler(data, world, rank, shuffle=False, drop_last=drop_last)
        assert list(mine) == list(ref) and len(mine) == len(ref)
        assert (mine.num_samples, mine.total_size) == (ref.num_samples, ref.total_size)


@pytest.mark.parametrize("length,world,drop_last", [(10, 3, False), (10, 3, True), (7, 4, False),
                                                     (3, 5, False)])
def test_shuffled_shards_follow_torchs_layout(length, world, drop_last):
    """Shuffled: the permutation is ember's (seed + epoch), padded and strided as torch's."""
    import ember

    data = list(range(length))
    shards = [list(edata.DistributedSampler(data, world, r, seed=7, drop_last=drop_last))
              for r in range(world)]
    perm = ember.randperm(length, generator=ember.Generator().manual_seed(7)).tolist()
    ref = tdata.DistributedSampler(data, world, 0, drop_last=drop_last)
    padded = (perm * (ref.total_size // length + 1))[:ref.total_size]
    assert shards == [padded[r::world] for r in range(world)]
    assert all(len(s) == len(ref) for s in shards)


def test_set_epoch_reshuffles_and_seed_is_shared():
    data = list(range(20))
    s = edata.DistributedSampler(data, 2, 0, seed=1)
    first = list(s)
    assert list(s) == first  # no set_epoch: the same order every epoch, as torch
    s.set_epoch(1)
    assert list(s) != first
    t = edata.DistributedSampler(data, 2, 1, seed=1)
    t.set_epoch(1)
    assert sorted(list(s) + list(t)) == data


def test_rank_out_of_range():
    for rank in (-1, 2):
        with pytest.raises(ValueError, match=r"Invalid rank .*, rank should be in the interval "
                                             r"\[0, 1\]"):
            edata.DistributedSampler(range(4), num_replicas=2, rank=rank)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        edata.DistributedSampler(range(4))
