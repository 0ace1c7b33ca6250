"""The ``ddp`` mode: data-parallel training cost on MPI (``python benchmarks/run.py --ddp``).

    python benchmarks/ddp.py [--steps 5] [--batch 32] [--output benchmarks/results/ddp.json]

The ``resnet18_cifar`` train step (ResNet-18, 3x3 stem, 10 classes, 32x32 images, SGD momentum)
on the same global batch at world sizes 1 and 2 (``DistributedDataParallel``, one thread per
rank), reporting the step time and the share of it spent in communication: the bucket
allreduces and the buffer broadcasts, timed around each collective on rank 0 (which includes
waiting for the slower rank). Then the in-place float32 allreduce's time and bandwidth for 1, 10
and 45 MB buffers at 2 ranks (45 MB is ResNet-18's gradient). On a 2-core machine no speed-up is
expected: the figure that matters is the communication overhead.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "DDP-RESULT: "


def _rank_job(args: argparse.Namespace) -> None:
    """One rank of a measurement (started by mpiexec)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import ember
    import ember.distributed as dist
    from benchmarks.models import resnet18

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    comm = [0.0]

    def timed(fn):  # time every collective DDP issues (rank 0's view, waiting included)
        def wrapper(*a, **k):
            began = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                comm[0] += time.perf_counter() - began
        return wrapper

    if world > 1:
        dist.all_reduce = timed(dist.all_reduce)
        dist.broadcast = timed(dist.broadcast)
    ember.manual_seed(0)
    model = resnet18(ember, 10, cifar=True)
    model.train()
    if world > 1:
        model = ember.nn.parallel.DistributedDataParallel(model)
    opt = ember.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    local = args.batch // world
    g = ember.Generator().manual_seed(1)
    x = ember.randn(args.batch, 3, 32, 32, generator=g)[rank * local:(rank + 1) * local]
    y = ember.randint(0, 10, (args.batch,), generator=g)[rank * local:(rank + 1) * local]
    loss_fn = ember.nn.CrossEntropyLoss()
    steps, comms = [], []
    for i in range(args.steps + 1):  # the first step warms up
        dist.barrier()
        comm[0] = 0.0
        began = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        if i:
            steps.append(time.perf_counter() - began)
            comms.append(comm[0])
    result = {"world": world, "local_batch": local, "step_s": statistics.median(steps),
              "steps_s": steps, "comm_s": statistics.median(comms),
              "comm_share": statistics.median(c / s for c, s in zip(comms, steps))}
    if world > 1:
        import numpy as np

        n_params = sum(p.numel() for p in model.parameters())
        result["buckets"] = len(model.reducer.buckets)
        result["gradient_mb"] = n_params * 4 / 1e6
        bandwidth = {}
        for mb, iters in ((1, 200), (10, 20), (45, 10)):
            buf = ember.from_numpy(np.ones(int(mb * 1e6) // 4, np.float32))
            times = []
            for _ in range(iters + 2):
                dist.barrier()
                began = time.perf_counter()
                dist.all_reduce(buf)
                times.append(time.perf_counter() - began)
            med = statistics.median(times[2:])
            slowest = [0.0] * world
            dist.all_gather_object(slowest, med)
            med = max(slowest)
            bandwidth[f"{mb} MB"] = {"ms": med * 1e3, "GB/s": mb * 1e6 / med / 1e9}
        result["allreduce"] = bandwidth
    if rank == 0:
        print(MARKER + json.dumps(result), flush=True)
    dist.destroy_process_group()


def _measure(world: int, args: argparse.Namespace) -> dict:
    from ember.distributed.run import find_mpiexec

    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    cmd = [find_mpiexec(), "-n", str(world), sys.executable, str(Path(__file__).resolve()),
           "--rank-job", "--steps", str(args.steps), "--batch", str(args.batch)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    raise RuntimeError(f"world size {world} failed (exit {proc.returncode}):\n{proc.stderr}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=5, help="timed steps per world size")
    p.add_argument("--batch", type=int, default=32, help="the global batch")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "ddp.json")
    p.add_argument("--rank-job", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rank_job:
        _rank_job(args)
        return 0
    results = [_measure(w, args) for w in (1, 2)]
    one, two = results
    print(f"resnet18_cifar train step, global batch {args.batch}, 1 thread per rank")
    print(f"{'world size':>10} {'local batch':>11} {'step (median)':>14} {'communication':>14}")
    for r in results:
        share = f"{r['comm_s'] * 1e3:.0f} ms ({r['comm_share']:.1%})" if r["world"] > 1 else "—"
        print(f"{r['world']:>10} {r['local_batch']:>11} {r['step_s'] * 1e3:>11.0f} ms "
              f"{share:>14}")
    print(f"step time ratio ws2/ws1: {two['step_s'] / one['step_s']:.2f} "
          f"({two['buckets']} buckets, {two['gradient_mb']:.1f} MB of gradients)")
    print("allreduce, float32 in place, 2 ranks (slowest rank's median):")
    for size, r in two["allreduce"].items():
        print(f"  {size:>6}: {r['ms']:7.2f} ms  {r['GB/s']:5.2f} GB/s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"batch": args.batch, "steps": args.steps,
                                       "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
