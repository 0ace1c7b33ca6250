"""Writes the ``data.pkl`` of a torch checkpoint: protocol-2 pickle opcodes emitted by hand.

The stdlib picklers cannot name ``torch._utils._rebuild_tensor_v2`` without importing torch
(CHECKPOINTS.md §3.1), so the opcodes are written directly. Only opcodes that torch's
``weights_only`` unpickler implements are used, so ``torch.load(weights_only=True)`` reads the file.

Saving is two walks over the object: :func:`collect` checks every leaf (a ``TypeError`` names the
first unsupported one and where it is) and lists the tensors; :func:`plan_storages` decides which
tensors share a storage record; :class:`Emitter` then writes the opcodes.
"""
from __future__ import annotations

import collections
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..nn.parameter import Parameter, is_lazy
from ..tensor import Size, Tensor
from ..devices import device

__all__ = ["collect", "plan_storages", "Emitter", "StoragePlan"]

_STORAGE_NAMES = {"float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage",
                  "int64": "LongStorage", "int32": "IntStorage", "int16": "ShortStorage",
                  "int8": "CharStorage", "uint8": "ByteStorage", "bool": "BoolStorage",
                  "bfloat16": "BFloat16Storage", "complex64": "ComplexFloatStorage",
                  "complex128": "ComplexDoubleStorage"}
_SCALARS = (type(None), bool, int, float, complex, str, bytes)


def collect(obj: Any) -> list[Tensor]:
    """Every distinct tensor in ``obj`` in the order the emitter meets them; raises ``TypeError``
    naming the path of the first object ember cannot save."""
    tensors: list[Tensor] = []
    seen: set[int] = set()

    def walk(x: Any, path: str) -> None:
        t = type(x)
        if isinstance(x, np.generic):
            x, t = x.item(), type(x.item())
        if t in _SCALARS or t in (_dt.dtype, device):
            return
        if isinstance(x, Tensor):
            if is_lazy(x):  # (an uninitialized parameter has no data: pickled as its class)
                return
            if id(x) not in seen:
                seen.add(id(x))
                tensors.append(x)
            return
        if t is Size:
            return
        if t in (list, set, dict, collections.OrderedDict):
            if id(x) in seen:  # shared or cyclic: pickled once, then referenced
                return
            seen.add(id(x))
        if t in (list, tuple):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]")
        elif t is set:
            for v in x:
                walk(v, f"{path} (a set element)")
        elif t in (dict, collections.OrderedDict):
            for k, v in x.items():
                walk(k, f"{path} (a key)")
                walk(v, f"{path}[{k!r}]")
            if t is collections.OrderedDict:
                for k, v in vars(x).items():
                    walk(v, f"{path}.{k}")
        else:
            raise TypeError(
                f"ember.save cannot save an object of type {t.__module__}.{t.__qualname__} at "
                f"{path}: a checkpoint holds tensors, Parameters, dict/OrderedDict/list/tuple/set, "
                "None, bool, int, float, complex, str, bytes, Size, device and dtype, so that it "
                "loads with weights_only=True (convert it to one of those)")

    walk(obj, "obj")
    return tensors


def _contiguous_strides(shape: tuple) -> tuple:
    # torch's strides for a fresh tensor; max(n, 1) keeps e.g. (5, 1) for a (0, 5) tensor
    out, acc = [], 1
    for n in reversed(shape):
        out.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(out))


@dataclass
class StoragePlan:
    """Storage records in key order, and where each tensor sits in its record."""

    records: list[np.ndarray] = field(default_factory=list)  # key i -> 1-D array to write
    # id(tensor) -> (record key, offset, stride), in elements
    where: dict[int, tuple[int, int, tuple]] = field(default_factory=dict)
    # key i -> the device its tensors live on ("cpu", "cuda:0"), as torch tags storages
    locations: list[str] = field(default_factory=list)


def _root(a: np.ndarray) -> np.ndarray:
    # the array owning the memory this one views (numpy keeps the owner as .base)
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _host_view(a: Any, hosts: dict) -> np.ndarray:
    """A device array as a host array viewing one host copy of its device storage, read back
    once per storage (``hosts``: the device root's (device, address, size) -> (root, host
    copy)), so views of one CUDA tensor (``w.t()``, slices, tied weights) stay one storage
    record as on the CPU. A storage that is not C-contiguous, or a view NumPy cannot express
    over the copy, is copied alone."""
    from ..backend import NUMPY, backend_of
    from ..devices import move

    b = backend_of(a)
    root = a
    while isinstance(root.base, type(a)):
        root = root.base
    # keyed by address, not id: CuPy's .base is the owner, but a wrapper need not be one object
    key = (b.device_index(root), b.data_ptr(root), root.nbytes)
    entry = hosts.get(key)
    if entry is None:  # (the root is kept in the entry: its memory cannot be reused meanwhile)
        entry = hosts[key] = (root, move(root, NUMPY, None) if root.flags.c_contiguous
                              else None)
    host = entry[1]
    if host is not None and host.size:
        try:
            return np.ndarray(a.shape, a.dtype, buffer=host.reshape(-1).view(np.uint8),
                              offset=b.data_ptr(a) - b.data_ptr(root), strides=a.strides)
        except (ValueError, TypeError):
            pass
    return move(a, NUMPY, None)


def plan_storages(tensors: list[Tensor]) -> StoragePlan:
    """Groups tensors that view one array into one storage record (tied weights, ``w.t()``,
    slices), so torch's loader shares them again; anything else gets its own contiguous copy."""
    groups: dict[tuple, list] = {}  # (id(root), dtype) -> [root, lo, hi, key, dtype]
    placed: list[tuple[int, tuple, int, tuple]] = []  # id(tensor), group, offset, stride
    keep = []  # copies must outlive the planning so their ids stay unique
    hosts: dict = {}  # a device storage's (device, address, size) -> (root, host copy)
    devices: dict[int, str] = {}  # id(root) -> location, for the device tensors' host copies
    for t in tensors:
        a = t._data
        if type(a) is not np.ndarray:  # a device tensor: a view of its storage's host copy
            a = _host_view(a, hosts)
            keep.append(a)
            devices[id(a)] = str(t.device)
        item = a.itemsize
        if a.size == 0:
            g = ("empty", id(t))
            groups[g] = [np.empty(0, a.dtype), 0, 0, len(groups), a.dtype]
            placed.append((id(t), g, 0, _contiguous_strides(a.shape)))
            continue
        root = _root(a)
        start = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        end = start + sum((n - 1) * s for n, s in zip(a.shape, a.strides)) + item
        if ((root.flags.c_contiguous or root.flags.f_contiguous) and 0 <= start
                and end <= root.nbytes and start % item == 0
                and all(s >= 0 and s % item == 0 for s in a.strides)):
            stride = tuple(s // item for s in a.strides)
        else:  # negative or odd strides, or a non-contiguous base: save a copy, unshared
            root = np.array(a, order="C")
            keep.append(root)
            start, stride = 0, tuple(s // item for s in root.strides)
        offset = start // item
        hi = offset + sum((n - 1) * s for n, s in zip(a.shape, stride)) + 1
        g = (id(root), a.dtype.str)
        if id(a) in devices:
            devices[id(root)] = devices[id(a)]
        if g not in groups:
            groups[g] = [root, offset, hi, len(groups), a.dtype]
        else:
            groups[g][1] = min(groups[g][1], offset)
            groups[g][2] = max(groups[g][2], hi)
        placed.append((id(t), g, offset, stride))
    plan = StoragePlan()
    for root, lo, hi, _, dtype in sorted(groups.values(), key=lambda g: g[3]):
        # the root's memory in memory order, as bytes; then the span its tensors use (elements)
        item = dtype.itemsize
        memory = root.ravel(order="A").view(np.uint8)
        plan.records.append(memory[lo * item:hi * item].view(dtype))
        plan.locations.append(devices.get(id(root), "cpu"))
    for tid, g, offset, stride in placed:
        _, lo, _, key, _ = groups[g]
        plan.where[tid] = (key, offset - lo, stride)
    return plan


class Emitter:
    """Protocol-2 opcodes for one object; ``bytes(emitter.out)`` is the finished pickle."""

    def __init__(self, plan: StoragePlan) -> None:
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.memo: dict[Any, int] = {}
        self.plan = plan

    # -- memo ----------------------------------------------------------------------------------
    def _put(self, key: Any) -> None:
        i = self.memo[key] = len(self.memo)
        self.out += b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i)

    def _get(self, key: Any) -> bool:
        i = self.memo.get(key)
        if i is None:
            return False
        self.out += b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i)
        return True

    def _global(self, module: str, name: str) -> None:
        if not self._get(("global", module, name)):
            self.out += f"c{module}\n{name}\n".encode("ascii")
            self._put(("global", module, name))

    def _call(self, module: str, name: str, args: tuple) -> None:
        self._global(module, name)
        self.save(args)
        self.out += b"R"  # REDUCE

    # -- values --------------------------------------------------------------------------------
    def save(self, x: Any) -> None:
        out = self.out
        if isinstance(x, np.generic):
            x = x.item()
        t = type(x)
        if x is None:
            out += b"N"
        elif t is bool:
            out += b"\x88" if x else b"\x89"
        elif t is int:
            self._int(x)
        elif t is float:
            out += b"G" + struct.pack(">d", x)
        elif t is str:
            data = x.encode("utf-8", "surrogatepass")
            out += b"X" + struct.pack("<I", len(data)) + data
        elif t is bytes:  # as torch writes it: _codecs.encode(latin-1 text, 'latin1')
            self._call("_codecs", "encode", (x.decode("latin1"), "latin1"))
        elif t is complex:
            self._call("__builtin__", "complex", (x.real, x.imag))
        elif t is _dt.dtype:
            self._global("torch", x.name)
        elif t is Size:
            self._call("torch", "Size", (tuple(x),))
        elif t is device:
            self._call("torch", "device", (x.type,) if x.index is None else (x.type, x.index))
        elif isinstance(x, Tensor) and is_lazy(x):  # as torch pickles it: class(requires_grad)
            self._call("torch.nn.parameter", type(x).__name__, (x.requires_grad,))
        elif isinstance(x, Tensor):
            self._tensor(x)
        elif t is tuple:
            self._tuple(x)
        elif self._get(id(x)):  # a container seen before
            pass
        elif t is list:
            out += b"]"
            self._put(id(x))
            self._batches(x, b"e", lambda v: self.save(v))
        elif t is set:
            self._global("__builtin__", "set")
            out += b"]"
            self._batches(x, b"e", lambda v: self.save(v))
            out += b"\x85R"  # TUPLE1 REDUCE
            self._put(id(x))
        elif t is dict:
            out += b"}"
            self._put(id(x))
            self._items(x)
        elif t is collections.OrderedDict:
            self._global("collections", "OrderedDict")
            out += b")R"
            self._put(id(x))
            self._items(x)
            if vars(x):  # e.g. a state_dict's _metadata, applied by BUILD as torch writes it
                self.save(vars(x))
                out += b"b"
        else:  # collect() has already refused it
            raise TypeError(f"cannot save {t.__name__}")

    def _int(self, x: int) -> None:
        if 0 <= x < 256:
            self.out += b"K" + bytes([x])
        elif 0 <= x < 65536:
            self.out += b"M" + struct.pack("<H", x)
        elif -(2**31) <= x < 2**31:
            self.out += b"J" + struct.pack("<i", x)
        else:
            data = x.to_bytes((x.bit_length() + 8) // 8, "little", signed=True)
            self.out += (b"\x8a" + bytes([len(data)]) if len(data) < 256
                         else b"\x8b" + struct.pack("<I", len(data))) + data

    def _tuple(self, x: tuple) -> None:
        if not x:
            self.out += b")"
            return
        if len(x) > 3:
            self.out += b"("
        for v in x:
            self.save(v)
        self.out += b"t" if len(x) > 3 else b"\x85\x86\x87"[len(x) - 1:len(x)]

    def _batches(self, items: Any, op: bytes, save_one: Any) -> None:
        items = list(items)
        for i in range(0, len(items), 1000):  # as pickle does: MARK ... APPENDS/SETITEMS
            self.out += b"("
            for v in items[i:i + 1000]:
                save_one(v)
            self.out += op

    def _items(self, d: dict) -> None:
        def save_pair(kv: tuple) -> None:
            self.save(kv[0])
            self.save(kv[1])

        self._batches(d.items(), b"u", save_pair)

    def _tensor(self, x: Tensor) -> None:
        if self._get(id(x)):
            return
        if isinstance(x, Parameter):  # _rebuild_parameter(<tensor without grad>, rg, hooks)
            self._global("torch._utils", "_rebuild_parameter")
            self.out += b"("
            self._tensor_v2(x, False)
            self.save(x.requires_grad)
            self._call("collections", "OrderedDict", ())
            self.out += b"tR"
        else:
            self._tensor_v2(x, x.requires_grad)
        self._put(id(x))

    def _tensor_v2(self, x: Tensor, requires_grad: bool) -> None:
        key, offset, stride = self.plan.where[id(x)]
        numel = self.plan.records[key].size
        self._global("torch._utils", "_rebuild_tensor_v2")
        self.out += b"(("  # MARK (args) MARK (persistent id)
        self.save("storage")
        self._global("torch", _STORAGE_NAMES[_dt._FROM_NP[x._data.dtype].name])
        self.save(str(key))
        self.save(self.plan.locations[key])
        self.save(numel)
        self.out += b"tQ"  # TUPLE BINPERSID
        self.save(offset)
        self.save(tuple(x._data.shape))
        self.save(stride)
        self.save(requires_grad)
        self._call("collections", "OrderedDict", ())  # backward_hooks
        self.out += b"tR"
