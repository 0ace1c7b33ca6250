"""A 3-rank allreduce loop in which rank 1 fails at step 5 (run by test_failures.py):
``raise``, ``exit`` (sys.exit(3)), ``kill`` (SIGKILL), ``skip`` (skips one collective, then
hangs: the others must time out), or ``none``; ``wait`` makes every rank idle in a collective
until interrupted (the Ctrl-C test)."""
import os
import signal
import sys
import time
from datetime import timedelta

import ember
import ember.distributed as dist

mode = sys.argv[1]
dist.init_process_group("gloo", timeout=timedelta(seconds=float(os.environ.get("TMO", "30"))))
rank = dist.get_rank()
print(f"rank {rank} started", flush=True)
t = ember.ones(1000)
if mode == "wait":
    dist.barrier()
    if rank == 0:
        print("all started", flush=True)
    time.sleep(300)
for step in range(50):
    if rank == 1 and step == 5:
        if mode == "raise":
            raise ValueError("boom on rank 1")
        if mode == "exit":
            sys.exit(3)
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "skip":
            time.sleep(120)
    dist.all_reduce(t)
print(f"rank {rank} done", flush=True)
