"""DistributedDataParallel equals single-process training on the global batch (run by
test_ddp.py at 2 and 3 ranks). Each rank builds its model from its own seed (construction must
make rank 0's win), trains on its DistributedSampler shard of a global batch of 12, and rank 0
replays the same steps in one process on the whole batch, with plain BatchNorm where DDP has
SyncBatchNorm. Prints the largest |DDP - single| per case."""
import copy
import sys
import warnings
from datetime import timedelta

import numpy as np

import ember
import ember.distributed as dist
from ember import nn, optim
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DistributedSampler

dist.init_process_group("gloo", timeout=timedelta(seconds=30))
rank, world = dist.get_rank(), dist.get_world_size()
G, STEPS = 12, 3


def make(kind: str) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                             nn.Linear(32, 4))
    # no bias before BatchNorm (as ResNet): its true gradient is 0, and Adam would scale the
    # rounding noise standing in for it up to full steps
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8),
                         nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 4))


def data(kind: str):
    g = ember.Generator().manual_seed(7)
    shape = (STEPS, G, 10) if kind == "mlp" else (STEPS, G, 3, 8, 8)
    return ember.randn(*shape, generator=g), ember.randint(0, 4, (STEPS, G), generator=g)


def optimizer(name: str, params):
    if name == "sgd":
        return optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3)
    return optim.Adam(params, lr=0.01)


def train(model, opt, kind, shards, accumulate, ddp=None):
    """STEPS steps; ``shards[step]`` are the sample indices this process trains on, split in
    ``accumulate`` micro-batches (all but the last under no_sync)."""
    X, Y = data(kind)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(STEPS):
        opt.zero_grad()
        pieces = np.array_split(np.array(shards[step]), accumulate)
        for j, idx in enumerate(pieces):
            idx = ember.tensor(idx.tolist())
            ctx = ddp.no_sync() if ddp is not None and j < accumulate - 1 else _null()
            with ctx:
                loss_fn(model(X[step][idx]), Y[step][idx]).backward()
        opt.step()


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def local_shards():
    sampler = DistributedSampler(range(G), shuffle=True, seed=3)
    shards = []
    for step in range(STEPS):
        sampler.set_epoch(step)
        shards.append(list(sampler))
    return shards


def global_shards(accumulate):
    """The union of every rank's micro-batch j, for each j: the single process's micro-batch."""
    out = []
    for step in range(STEPS):
        per_rank = []
        for r in range(world):
            s = DistributedSampler(range(G), num_replicas=world, rank=r, shuffle=True, seed=3)
            s.set_epoch(step)
            per_rank.append(np.array_split(np.array(list(s)), accumulate))
        out.append(np.concatenate([np.concatenate([p[j] for p in per_rank])
                                   for j in range(accumulate)]).tolist())
    return out


def state(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def case(kind, opt_name, cap=None, accumulate=1, **ddp_kw):
    ember.manual_seed(100 + rank)
    model = make(kind)
    if kind == "cnn":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = DDP(model, bucket_cap_mb=cap, **ddp_kw)
    init = state(model)  # rank 0's, after the construction's broadcast
    buckets = len(ddp.reducer.buckets)
    opt = optimizer(opt_name, ddp.parameters())
    # accumulate micro-batches split each rank's shard; the union per micro-batch is the
    # single process's micro-batch
    train(ddp, opt, kind, local_shards(), accumulate, ddp)
    final = state(model)
    everyone = [None] * world
    dist.all_gather_object(everyone, final)
    every_init = [None] * world
    dist.all_gather_object(every_init, init)
    if rank != 0:
        return
    for other in everyone[1:]:  # ranks identical, bit for bit
        assert all(np.array_equal(final[k], other[k]) for k in final), "ranks differ"
    for other in every_init[1:]:
        assert all(np.array_equal(init[k], other[k]) for k in init), "init not broadcast"
    ref = make(kind)
    ref.load_state_dict({k: ember.from_numpy(v) for k, v in init.items()})
    train(ref, optimizer(opt_name, ref.parameters()), kind, global_shards(accumulate),
          accumulate)
    single = state(ref)
    diff = max(float(np.abs(final[k].astype(np.float64) - single[k]).max()) for k in final)
    moved = max(float(np.abs(final[k].astype(np.float64) - init[k]).max()) for k in final
                if final[k].dtype.kind == "f")
    label = f"{kind} {opt_name} buckets={buckets} accumulate={accumulate} {ddp_kw or ''}"
    print(f"ddp-vs-single {world} ranks: {label}: max|diff| {diff:.2e} (moved {moved:.2f})",
          flush=True)
    assert moved > 1e-3, "training did not move the parameters"
    assert diff <= 1e-6, f"{label}: DDP differs from single-process training by {diff}"


def semantics():
    """The module. prefix, buffer syncing, the unused-parameter error and its remedy."""
    ember.manual_seed(rank)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ddp = DDP(model, broadcast_buffers=True)
    assert any(issubclass(w.category, FutureWarning) for w in caught)
    assert ddp.module is model and list(ddp.state_dict())[0] == "module.0.weight"
    # buffers: rank 0's are broadcast before each forward with grad enabled
    with ember.no_grad():
        model[1].running_mean.fill_(float(rank))
    model.eval()
    ddp(ember.randn(3, 4))
    assert model[1].running_mean.tolist() == [0.0] * 4
    model.train()

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.a(x)

    ddp = DDP(TwoHeads(), bucket_cap_mb=0.00001)
    ddp(ember.randn(2, 4)).sum().backward()
    try:
        ddp(ember.randn(2, 4))
    except RuntimeError as e:
        msg = str(e)
        assert msg.startswith("Expected to have finished reduction in the prior iteration")
        assert "b.weight, b.bias" in msg and "find_unused_parameters=True" in msg
    else:
        raise AssertionError("unused parameters did not raise")
    ember.manual_seed(rank)
    heads = TwoHeads()
    ddp = DDP(heads, find_unused_parameters=True)
    for _ in range(2):
        ddp(ember.randn(2, 4) + rank).sum().backward()
    assert heads.b.weight.grad is None and heads.a.weight.grad is not None
    grads = [None] * world
    dist.all_gather_object(grads, heads.a.weight.grad.numpy())
    assert all(np.array_equal(grads[0], g) for g in grads)
    # gradient_as_bucket_view: .grad is the bucket's memory
    ember.manual_seed(rank)
    m = nn.Linear(3, 2)
    ddp = DDP(m, gradient_as_bucket_view=True)
    ddp(ember.randn(2, 3)).sum().backward()
    flat = ddp.reducer.buckets[0].flat
    assert np.shares_memory(m.weight.grad.numpy(), flat.numpy())
    try:
        DDP(nn.Linear(2, 2), device_ids=[0])
    except ValueError as e:
        assert "device_ids and output_device arguments only work" in str(e)
    else:
        raise AssertionError("device_ids on a CPU module did not raise")


args = [a for a in sys.argv[1:] if not a.startswith("--token")]
if "semantics" in args:
    semantics()
    if rank == 0:
        print("ddp semantics ok", flush=True)
if "train" in args:
    case("mlp", "sgd")                                  # one bucket
    case("mlp", "adam", cap=0.002)                      # several buckets
    case("mlp", "sgd", cap=0.002, accumulate=2)         # no_sync accumulation
    case("cnn", "sgd", cap=0.001)                       # SyncBatchNorm, several buckets
    case("cnn", "adam", cap=0.001, accumulate=2)
    case("mlp", "sgd", cap=0.002, gradient_as_bucket_view=True, overlap=True)
dist.destroy_process_group()
