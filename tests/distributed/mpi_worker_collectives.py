"""Every collective against its definition, for every op and dtype (run by
test_collectives.py under the launcher at 2 and 3 ranks). Each rank knows every rank's input,
so it computes the expected result itself; values are small exact binary fractions, so sums and
products are exact whatever order MPI reduces in."""
import os
import sys
from datetime import timedelta

import numpy as np

import ember
import ember.distributed as dist

dist.init_process_group("gloo", timeout=timedelta(seconds=20))
rank, n = dist.get_rank(), dist.get_world_size()
assert (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])) == (rank, n)
assert int(os.environ["LOCAL_RANK"]) == rank and int(os.environ["LOCAL_WORLD_SIZE"]) == n
assert os.environ["MASTER_ADDR"] and os.environ["MASTER_PORT"]
checks = 0

DTYPES = ["float32", "float64", "float16", "int8", "uint8", "int16", "int32", "int64", "bool"]
R = dist.ReduceOp
OPS = [R.SUM, R.AVG, R.PRODUCT, R.MIN, R.MAX, R.BAND, R.BOR, R.BXOR]


def value(r: int, dtype: str, shape=(3, 4)) -> np.ndarray:
    k = np.arange(int(np.prod(shape))).reshape(shape)
    if dtype == "bool":
        return (k % (r + 2)) == 0
    if dtype.startswith("float"):
        return (((k * (r + 3)) % 7) - 3 + r).astype(dtype) * 0.5
    if dtype.startswith("uint"):
        return ((k + r) % 3 + 1).astype(dtype)
    return ((k * (r + 1)) % 5 - 2).astype(dtype)


def expected(op, dtype: str, ranks=None) -> np.ndarray:
    ranks = range(n) if ranks is None else ranks
    xs = [value(r, dtype) for r in ranks]
    m = len(xs)
    if dtype == "bool":
        u = np.stack(xs).astype(np.uint8)
        red = {R.SUM: u.max(0), R.AVG: u.max(0), R.PRODUCT: u.min(0), R.MIN: u.min(0),
               R.MAX: u.max(0), R.BAND: np.bitwise_and.reduce(u), R.BOR: np.bitwise_or.reduce(u),
               R.BXOR: np.bitwise_xor.reduce(u)}[op]
        return red.astype(bool)
    s = np.stack(xs)
    wide = s.astype(np.float32) if dtype == "float16" else s
    if op == R.SUM:
        return wide.sum(0).astype(dtype)
    if op == R.AVG:
        total = wide.sum(0)
        if dtype.startswith("float"):
            return (total / m).astype(dtype)
        return (np.sign(total) * (np.abs(total) // m)).astype(dtype)
    if op == R.PRODUCT:
        return wide.prod(0).astype(dtype)
    if op == R.MIN:
        return s.min(0)
    if op == R.MAX:
        return s.max(0)
    return {R.BAND: np.bitwise_and, R.BOR: np.bitwise_or, R.BXOR: np.bitwise_xor}[op].reduce(s)


def same(t, want, what):
    global checks
    got = t.numpy()
    assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want), \
        f"rank {rank} {what}: got {got!r}, want {want!r}"
    checks += 1


def tensor(a):
    return ember.from_numpy(np.array(a))


for dtype in DTYPES:
    for op in OPS:
        bitwise = op in (R.BAND, R.BOR, R.BXOR)
        if bitwise and dtype.startswith("float"):
            try:
                dist.all_reduce(tensor(value(rank, dtype)), op)
            except RuntimeError as e:
                assert "Cannot use ReduceOp" in str(e)
                checks += 1
                continue
            raise AssertionError(f"{op} on {dtype} did not raise")
        want = expected(op, dtype)
        t = tensor(value(rank, dtype))
        dist.all_reduce(t, op)
        same(t, want, f"all_reduce {op} {dtype}")
        # not contiguous: reduced through a staged copy written back
        t = tensor(value(rank, dtype).T.copy()).t()
        assert not t.is_contiguous()
        dist.all_reduce(t, op)
        same(t, want, f"all_reduce(non-contiguous) {op} {dtype}")
        t = tensor(value(rank, dtype))
        work = dist.all_reduce(t, op, async_op=True)
        work.wait()
        assert work.is_completed() and work.result()[0] is t
        same(t, want, f"all_reduce(async) {op} {dtype}")
        dst = n - 1
        t = tensor(value(rank, dtype))
        dist.reduce(t, dst=dst, op=op)
        same(t, want if rank == dst else value(rank, dtype), f"reduce {op} {dtype}")
        # reduce_scatter_tensor: rank i gets block i of the reduction of (n*3, 4) inputs
        big = np.concatenate([value(rank, dtype)] * n)
        out = tensor(np.zeros_like(value(rank, dtype)))
        dist.reduce_scatter_tensor(out, tensor(big), op)
        same(out, want, f"reduce_scatter_tensor {op} {dtype}")
        out = tensor(np.zeros_like(value(rank, dtype)))
        dist.reduce_scatter(out, [tensor(value(rank, dtype)) for _ in range(n)], op)
        same(out, want, f"reduce_scatter {op} {dtype}")

    # data movement: every dtype travels as bytes
    t = tensor(value(rank, dtype))
    dist.broadcast(t, src=1)
    same(t, value(1, dtype), f"broadcast {dtype}")
    outs = [tensor(np.zeros_like(value(0, dtype))) for _ in range(n)]
    dist.all_gather(outs, tensor(value(rank, dtype)))
    for r, o in enumerate(outs):
        same(o, value(r, dtype), f"all_gather {dtype}")
    out = tensor(np.zeros((3 * n, 4), dtype))
    dist.all_gather_into_tensor(out, tensor(value(rank, dtype)))
    same(out, np.concatenate([value(r, dtype) for r in range(n)]), f"all_gather_into {dtype}")
    out = tensor(np.zeros((n, 3, 4), dtype))
    dist.all_gather_into_tensor(out, tensor(value(rank, dtype)))
    same(out, np.stack([value(r, dtype) for r in range(n)]), f"all_gather_into(stack) {dtype}")
    gl = [tensor(np.zeros_like(value(0, dtype))) for _ in range(n)] if rank == 0 else None
    dist.gather(tensor(value(rank, dtype)), gl, dst=0)
    if rank == 0:
        for r, o in enumerate(gl):
            same(o, value(r, dtype), f"gather {dtype}")
    t = tensor(np.zeros_like(value(0, dtype)))
    dist.scatter(t, [tensor(value(r + 10, dtype)) for r in range(n)] if rank == 0 else None,
                 src=0)
    same(t, value(rank + 10, dtype), f"scatter {dtype}")
    outs = [tensor(np.zeros_like(value(0, dtype))) for _ in range(n)]
    dist.all_to_all(outs, [tensor(value(10 * rank + j, dtype)) for j in range(n)])
    for j, o in enumerate(outs):
        same(o, value(10 * j + rank, dtype), f"all_to_all {dtype}")
    # all_to_all_single with uneven splits: rank r sends j+1 rows to rank j
    rows = np.concatenate([value(10 * rank + j, dtype, (j + 1, 2)) for j in range(n)])
    out = tensor(np.zeros(((rank + 1) * n, 2), dtype))
    dist.all_to_all_single(out, tensor(rows), output_split_sizes=[rank + 1] * n,
                           input_split_sizes=[j + 1 for j in range(n)])
    same(out, np.concatenate([value(10 * j + rank, dtype, (rank + 1, 2)) for j in range(n)]),
         f"all_to_all_single(uneven) {dtype}")
    out = tensor(np.zeros((n * 2, 3), dtype))
    dist.all_to_all_single(out, tensor(np.concatenate([value(10 * rank + j, dtype, (2, 3))
                                                       for j in range(n)])))
    same(out, np.concatenate([value(10 * j + rank, dtype, (2, 3)) for j in range(n)]),
         f"all_to_all_single {dtype}")
    # point to point: a ring
    right, left = (rank + 1) % n, (rank - 1) % n
    got = tensor(np.zeros_like(value(0, dtype)))
    sw = dist.isend(tensor(value(rank, dtype)), right)
    rw = dist.irecv(got, left)
    sw.wait()
    rw.wait()
    same(got, value(left, dtype), f"isend/irecv {dtype}")
    if rank == 0:
        dist.send(tensor(value(7, dtype)), 1, tag=3)
    elif rank == 1:
        got = tensor(np.zeros_like(value(0, dtype)))
        assert dist.recv(got, tag=3) == 0  # any source: the sender's rank comes back
        same(got, value(7, dtype), f"send/recv {dtype}")

dist.barrier()
assert dist.barrier(async_op=True).wait()
objs = [None] * n
dist.all_gather_object(objs, {"rank": rank, "t": ember.tensor([rank])})
assert [o["rank"] for o in objs] == list(range(n)) and objs[1]["t"].tolist() == [1]
box = [rank, "from", {"x": rank}] if rank == 1 else [None, None, None]
dist.broadcast_object_list(box, src=1)
assert box == [1, "from", {"x": 1}], box
got = [None] * n if rank == 0 else None
dist.gather_object(("r", rank), got, dst=0)
assert rank != 0 or got == [("r", r) for r in range(n)]
# a sub-group: its own ranks, collectives only among members
sub = dist.new_group([0, n - 1])
if rank in (0, n - 1):
    assert dist.get_rank(sub) == (0 if rank == 0 else 1) and dist.get_world_size(sub) == 2
    t = tensor(value(rank, "int64"))
    dist.all_reduce(t, group=sub)
    same(t, value(0, "int64") + value(n - 1, "int64"), "all_reduce(sub-group)")
    t = tensor(value(rank, "float32"))
    dist.broadcast(t, src=n - 1, group=sub)  # src is a global rank, as in torch
    same(t, value(n - 1, "float32"), "broadcast(sub-group)")
else:
    assert sub == dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(sub) == -1
    assert dist.all_reduce(tensor(value(rank, "int64")), group=sub) is None
dist.barrier()
try:
    dist.init_process_group("gloo")
except ValueError as e:
    assert "twice" in str(e)
dist.destroy_process_group()
assert not dist.is_initialized()
if rank == 0:
    print(f"collectives ok: {checks} checks on each rank of {n}")
