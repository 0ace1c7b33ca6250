"""A training script written for PyTorch, run unmodified: by torchrun + gloo, and by ember
through `ember run --nproc-per-node 2` / `ember run torchrun ...` (test_launcher.py compares the
checkpoints). Initial weights are rank-dependent (DDP must broadcast rank 0's) but not random,
and the data is a formula, so both frameworks start from the same numbers."""
import argparse
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args, _ = parser.parse_known_args()
    dist.init_process_group(backend="gloo")
    local_rank = int(os.environ["LOCAL_RANK"])
    rank, world = dist.get_rank(), dist.get_world_size()
    assert local_rank == rank and world == int(os.environ["WORLD_SIZE"])

    n = 60
    x = torch.sin(torch.arange(n * 6, dtype=torch.float32) * 0.37).reshape(n, 6)
    y = (torch.arange(n) * 7 % 3)
    dataset = TensorDataset(x, y)
    sampler = DistributedSampler(dataset, shuffle=False)
    loader = DataLoader(dataset, batch_size=5, sampler=sampler)

    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape) * (rank + 1))
    model = DDP(model, bucket_cap_mb=0.0005)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
    dist.barrier()
    if rank == 0:
        torch.save(model.module.state_dict(), args.out)
        print(f"saved after 3 epochs, last loss {loss.item():.4f}")
    dist.barrier()  # both ranks tear down together, not one while the other still writes
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
