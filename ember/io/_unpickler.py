"""A pickle reader that runs no code from the file: the safe core of :func:`ember.io.load`.

``pickle.Unpickler`` calls ``find_class`` for every opcode that names a global and
``persistent_load`` for every storage reference. Here the first answers from an exact allowlist
of ``(module, name)`` pairs and never imports; the second only hands out storages it has checked.
An allowlist alone is not enough (CHECKPOINTS.md §2.1): ``BUILD`` can set attributes on any object
on the pickle stack. So everything the unpickler can reach is an inert stand-in (``__slots__``, no
``__dict__``, a ``__setstate__`` that refuses, never a type) and tensors stay wrapped in ``_T``
until :func:`unwrap` turns the finished object into ember Tensors.
"""
from __future__ import annotations

import collections
import io
import pickle
import pickletools
import re
import reprlib
from typing import Any, Callable

import numpy as np

from .. import dtypes as _dt
from ..nn.parameter import Parameter
from ..tensor import Size, Tensor
from .. import devices as _devices
from ..devices import device
from ._safe_globals import user_globals

__all__ = ["UnsafeCheckpointError", "SafeUnpickler", "Storages", "unwrap"]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint asked for something ember refuses to do: import or call a global outside the
    allowlist, set attributes with ``BUILD``, reference a storage that does not exist or is smaller
    than claimed. Nothing from the file has run when this is raised."""


class _Inert:
    """Base of every object the unpickler can see: no ``__dict__``, and ``BUILD`` is refused."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise UnsafeCheckpointError(f"BUILD on {self!r} refused: a checkpoint may not set "
                                    "attributes of the objects ember builds for it")


class _Fn(_Inert):
    """An allowlisted callable. An instance, not a type, so ``NEWOBJ`` on it fails in pickle."""

    __slots__ = ("qualname", "fn")

    def __init__(self, qualname: str, fn: Callable) -> None:
        self.qualname, self.fn = qualname, fn

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __repr__(self) -> str:
        return self.qualname


class _StorageType(_Inert):
    """A ``torch.FloatStorage``-style global: names the element type of a storage record."""

    __slots__ = ("qualname", "dtype")

    def __init__(self, qualname: str, dtype: str | None) -> None:
        self.qualname, self.dtype = qualname, dtype  # dtype None: UntypedStorage (bytes)

    def __repr__(self) -> str:
        return self.qualname


class _Dtype(_Inert):
    """A ``torch.float32``-style global: an ember dtype once loaded, or ``_rebuild_tensor_v3``'s
    dtype argument."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class _Storage(_Inert):
    """One storage record: its raw bytes as a 1-D uint8 array, and typed views of it, cached."""

    __slots__ = ("key", "raw", "dtype", "typed", "target")

    def __init__(self, key: str, raw: np.ndarray, dtype: str | None) -> None:
        self.key, self.raw, self.dtype, self.typed = key, raw, dtype, {}
        self.target: Any = None  # the device its tensors go to (None: the CPU)

    def __repr__(self) -> str:
        return f"storage {self.key!r}"


class _T(_Inert):
    """A rebuilt tensor, checked but not yet built: the arrays are made by :func:`unwrap` once the
    unpickler is done (the legacy format stores the bytes after the pickle)."""

    __slots__ = ("storage", "offset", "size", "stride", "dtype", "neg", "requires_grad",
                 "parameter", "built")

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple, dtype: str,
                 neg: bool, requires_grad: bool, parameter: bool = False) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.dtype, self.neg, self.requires_grad, self.parameter = (dtype, neg, requires_grad,
                                                                     parameter)
        self.built: Any = None  # the Tensor once made: one Tensor however often it is unwrapped

    def __repr__(self) -> str:
        return "tensor"


# -- dtypes ---------------------------------------------------------------------------------------
# torch dtype name -> (numpy type code of the bytes on disk, ember dtype it loads as). bfloat16
# loads as bfloat16 (its bytes viewed as ml_dtypes' type); uint16 and uint32 have no ember dtype:
# they are widened losslessly to the next signed int.
_DTYPES: dict[str, tuple[str, _dt.dtype]] = {
    "float32": ("f4", _dt.float32), "float64": ("f8", _dt.float64), "float16": ("f2", _dt.float16),
    "bfloat16": ("u2", _dt.bfloat16), "complex64": ("c8", _dt.complex64),
    "complex128": ("c16", _dt.complex128), "int64": ("i8", _dt.int64), "int32": ("i4", _dt.int32),
    "int16": ("i2", _dt.int16), "int8": ("i1", _dt.int8), "uint8": ("u1", _dt.uint8),
    "bool": ("u1", _dt.bool), "uint16": ("u2", _dt.int32), "uint32": ("u4", _dt.int64),
}
_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64",
            "int": "int32", "short": "int16", "cfloat": "complex64", "cdouble": "complex128",
            "chalf": "complex32"}
# dtypes torch has and ember cannot represent, with the reason given in the error
_NO_EMBER_DTYPE = {
    "complex32": "ember has no complex32 dtype",
    "uint64": "ember has no uint64 dtype, and int64 cannot hold every value",
    **{n: "ember has no float8 dtypes" for n in (
        "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu",
        "float4_e2m1fn_x2")},
    **{n: "ember has no quantized dtypes" for n in (
        "qint8", "quint8", "qint32", "quint4x2", "quint2x4")},
    **{n: "ember has no bit dtypes" for n in ("bits1x8", "bits2x4", "bits4x2", "bits8", "bits16")},
}
_STORAGE_TYPES = {"DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
                  "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
                  "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
                  "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
                  "ComplexDoubleStorage": "complex128"}


def _no_ember_dtype(name: str) -> NotImplementedError:
    return NotImplementedError(f"the checkpoint holds a torch.{name} tensor, which ember cannot "
                               f"load: {_NO_EMBER_DTYPE[name]}")


def to_ember_dtype(name: str) -> _dt.dtype:
    """The ember dtype a torch dtype name loads as (widened where ember lacks it)."""
    name = _ALIASES.get(name, name)
    if name in _NO_EMBER_DTYPE:
        raise _no_ember_dtype(name)
    return _DTYPES[name][1]


# -- checked rebuild functions (the only code a checkpoint can reach) --------------------------
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60


def _short(x: Any) -> str:
    """A bounded ``repr`` for error messages about values a file chose (any size, any depth)."""
    return _REPR.repr(x)


def _check(cond: bool, what: str, *values: Any) -> None:
    # ``what`` is formatted with the (short reprs of) ``values`` only when the check fails: these
    # checks run for every tensor of a checkpoint
    if not cond:
        raise pickle.UnpicklingError("malformed checkpoint: " + what.format(*map(_short, values)))


def _is_int(x: Any) -> bool:
    return type(x) is int  # not bool, not a subclass


def _typed(storage: _Storage, name: str, byteorder: str) -> np.ndarray:
    """The storage's bytes as a 1-D native array of the ember dtype that ``name`` loads as."""
    if name in storage.typed:
        return storage.typed[name]
    code, edtype = _DTYPES[name]
    raw = storage.raw
    itemsize = np.dtype(code).itemsize
    _check(raw.size % itemsize == 0,
           "storage {} of {} bytes does not hold whole {} elements", storage.key, raw.size, name)
    arr = raw.view(np.dtype(code).newbyteorder("<" if byteorder == "little" else ">"))
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if name == "bfloat16":
        arr = arr.view(_dt.bfloat16.np)  # the same 16 bits
    elif name == "bool":
        arr = arr.view(np.bool_) if not arr.size or arr.max() <= 1 else arr != 0
    elif arr.dtype != edtype.np:
        arr = arr.astype(edtype.np)
    storage.typed[name] = arr
    return arr


def _no_overlap(size: tuple, stride: tuple) -> bool:
    # Sorted by stride, each dimension must step past everything the smaller ones span.
    span = 0
    for n, s in sorted((p for p in zip(size, stride) if p[0] > 1), key=lambda p: p[1]):
        if s <= span:
            return False
        span += (n - 1) * s
    return True


def _tensor(storage: Any, offset: Any, size: Any, stride: Any, dtype: str, requires_grad: Any,
            hooks: Any, metadata: Any) -> _T:
    """Checks the arguments every ``_rebuild_tensor_*`` shares; the array is made later."""
    _check(isinstance(storage, _Storage), "expected a storage, got {}", storage)
    _check(_is_int(offset) and offset >= 0, "bad storage offset {}", offset)
    _check(isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride),
           "bad tensor size {} / stride {}", size, stride)
    _check(all(_is_int(n) and n >= 0 for n in size), "bad tensor size {}", size)
    _check(all(_is_int(s) and s >= 0 for s in stride), "bad tensor stride {}", stride)
    _check(type(requires_grad) is bool, "bad requires_grad {}", requires_grad)
    _check(not requires_grad or _DTYPES[dtype][1].is_floating_point,
           "only floating point tensors can require gradients")
    _check(isinstance(hooks, dict) and not hooks, "tensors with backward hooks are not supported")
    if metadata is not None:
        _check(isinstance(metadata, dict) and set(metadata) <= {"conj", "neg"}
               and all(type(v) is bool for v in metadata.values()),
               "bad tensor metadata {}", metadata)
    # conj of a real tensor is the tensor itself (complex tensors never get this far)
    neg = bool(metadata and metadata.get("neg"))
    return _T(storage, offset, size, stride, dtype, neg, requires_grad)


def _negated(storage: _Storage, name: str, byteorder: str) -> np.ndarray:
    """The storage's values negated, once per storage and dtype: a lazy ``neg`` view is applied
    to the storage and then viewed, so it costs the storage's size, never the view's."""
    key = "-" + name
    if key not in storage.typed:
        storage.typed[key] = np.negative(_typed(storage, name, byteorder))
    return storage.typed[key]


# NumPy's limit on dimensions (torch's is larger, but ember's arrays are NumPy's)
_MAX_DIMS = 64


def _array(t: _T, byteorder: str) -> np.ndarray:
    """The numpy view a checked ``_T`` describes, over its storage's own 1-D array.

    Nothing here is proportional to the view's number of elements: an ``expand``-ed view
    (stride 0) of a billion elements over one stored value stays a view of that value."""
    _check(t.storage.raw is not None, "storage {} has no data", t.storage.key)
    size, stride, offset = t.size, t.stride, t.offset
    if len(size) > _MAX_DIMS:
        raise NotImplementedError(f"the checkpoint holds a tensor with {len(size)} dimensions; "
                                  f"ember's arrays (NumPy's) have at most {_MAX_DIMS}")
    flat = _typed(t.storage, t.dtype, byteorder)
    numel = extent = 1
    for n in size:
        numel *= n
        extent *= max(n, 1)  # NumPy refuses such shapes even when a 0 makes them empty
    if extent * flat.itemsize >= 1 << 63:  # torch: "numel: integer multiplication overflow"
        raise pickle.UnpicklingError(
            f"malformed checkpoint: a tensor of size {_short(size)} has more elements than a "
            "64-bit size can count")
    if numel == 0:
        return np.empty(size, flat.dtype)
    # The bounds check runs against the storage's own 1-D array, which nothing in the file can
    # replace: a view reading past it would expose unrelated memory.
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= flat.size:
        raise UnsafeCheckpointError(
            f"tensor view exceeds its storage: size {_short(size)}, stride {_short(stride)} and "
            f"offset {offset} reach element {last}, but storage {t.storage.key!r} holds "
            f"{flat.size}")
    if t.neg:  # saved unresolved (a lazy negative view); negate the storage, then view it
        flat = _negated(t.storage, t.dtype, byteorder)
    item = flat.itemsize
    arr = np.ndarray(size, flat.dtype, buffer=flat, offset=offset * item,
                     strides=tuple(s * item for s in stride))
    if not _no_overlap(size, stride):
        arr.flags.writeable = False  # an expand()-style view: elements alias each other
    return arr


class Storages:
    """Where storage records come from, and the file-wide facts needed to decode them."""

    def __init__(self, read: Callable[[str, int], np.ndarray], byteorder: str,
                 check_location: Callable[[str], None], legacy: bool = False) -> None:
        self.read = read  # (key, expected nbytes) -> raw uint8 array; validates before reading
        self.byteorder = byteorder
        self.check_location = check_location
        self.legacy = legacy
        self.cache: dict[str, _Storage] = {}


_KEY = re.compile(r"[0-9]{1,40}")


# Python's own pickler cannot write deeper nesting than its recursion limit (1000 by default), so
# no honest checkpoint comes near this; deeper structures only serve to crash the reader.
MAX_DEPTH = 1000

_LEAF_OPS = frozenset((
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "STRING", "BINSTRING",
    "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "NEXT_BUFFER",
    "NONE", "NEWTRUE", "NEWFALSE", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8",
    "FLOAT", "BINFLOAT", "EXT1", "EXT2", "EXT4", "GLOBAL", "PERSID"))
_FIXED_TUPLES = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}
_GROW_FROM_MARK = frozenset(("APPENDS", "SETITEMS", "ADDITEMS"))


def prescan(file: io.BytesIO, size: int) -> None:
    """Checks a pickle before ``pickle.Unpickler`` runs it, from its opcodes alone.

    The C unpickler trusts what a pickle declares in three ways that a small file can turn into a
    crash or a huge allocation: it grows its memo to the largest index a ``PUT`` names; it
    allocates a ``BINBYTES8``/``BINUNICODE8`` payload at its declared length before reading it;
    and the objects it builds may nest arbitrarily deep, which C code that recurses without a
    guard (hashing a tuple that holds a tuple that holds a tuple ...) turns into a segfault.
    Here every declared length is checked against the bytes really present (``pickletools``
    reads them), memo indices against the pickle's length, and the nesting depth of the objects
    the pickle would build against :data:`MAX_DEPTH`, by running the pickle's stack machine on
    depths instead of objects.

    A container that already sits inside another one can still be reached through the memo and
    grow (``APPEND`` after ``GET``), which deepens everything holding it after the fact. Such
    late growth is summed and added to every depth checked, so the bound errs only towards
    refusing; pickles written by Python or torch never grow a container after placing it.

    Raises:
        UnsafeCheckpointError: a memo index is out of range, or the nesting exceeds the limit.
        pickle.UnpicklingError: the opcodes are malformed (an unknown opcode, an argument
            running past the end, a stack underflow, a missing mark).
    """
    stack: list[int] = []  # depth >= 0 of an immutable object, or ~id of a mutable container
    marks: list[int] = []  # stack lengths at each MARK, as the C unpickler keeps them
    memo: dict[int, int] = {}
    cdepth: list[int] = []  # each mutable container's depth so far
    embedded = bytearray()  # whether that container has been put inside another one
    late = 0  # total growth of containers after they were put inside another one

    def depth(x: int) -> int:
        return x if x >= 0 else cdepth[~x]

    def check(d: int, pos: int) -> None:
        if d + late > MAX_DEPTH:
            raise UnsafeCheckpointError(
                f"the pickle nests objects more than {MAX_DEPTH} levels deep (at byte {pos}); "
                f"ember refuses deeper nesting (the limit is MAX_DEPTH = {MAX_DEPTH}), which "
                "Python's pickle cannot write and which would crash the interpreter")

    def take(items: list[int]) -> int:
        # items go into a new or growing container: the depth that container gets from them
        deepest = 0
        for x in items:
            if x < 0:
                embedded[~x] = 1
            deepest = max(deepest, depth(x))
        return deepest + 1

    def pop(n: int, pos: int) -> list[int]:
        fence = marks[-1] if marks else 0
        if len(stack) - n < fence:
            raise pickle.UnpicklingError(f"malformed pickle: stack underflow at byte {pos}")
        items = stack[len(stack) - n:]
        del stack[len(stack) - n:]
        return items

    def pop_mark(pos: int) -> list[int]:
        if not marks:
            raise pickle.UnpicklingError(f"malformed pickle: no MARK before byte {pos}")
        at = marks.pop()
        items = stack[at:]
        del stack[at:]
        return items

    def new_container(d: int) -> int:
        cdepth.append(d)
        embedded.append(0)
        return ~(len(cdepth) - 1)

    def grow(target: int, d: int, pos: int) -> None:
        nonlocal late
        if target >= 0:  # not a container (the unpickler itself will fail); keep a bound
            stack[-1] = max(target, d)
        elif d > cdepth[~target]:
            if embedded[~target]:
                late += d - cdepth[~target]
            cdepth[~target] = d
        check(d, pos)

    ops = pickletools.genops(file)
    while True:
        try:
            op, arg, pos = next(ops)
        except StopIteration:
            break
        except ValueError as e:  # an unknown opcode, or an argument running past the end
            raise pickle.UnpicklingError(f"malformed pickle: {e}") from None
        name = op.name
        if name in _LEAF_OPS:
            stack.append(0)
        elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET"):
            stack.append(new_container(1))
        elif name == "EMPTY_TUPLE":
            stack.append(1)
        elif name == "MARK":
            marks.append(len(stack))
        elif name in ("TUPLE", "FROZENSET", "LIST", "DICT", "INST", "OBJ"):
            d = take(pop_mark(pos))
            check(d, pos)
            stack.append(d if name in ("TUPLE", "FROZENSET") else new_container(d))
        elif name in _FIXED_TUPLES:
            d = take(pop(_FIXED_TUPLES[name], pos))
            check(d, pos)
            stack.append(d)
        elif name in _GROW_FROM_MARK or name in ("APPEND", "SETITEM", "BUILD"):
            items = pop_mark(pos) if name in _GROW_FROM_MARK else pop(
                2 if name == "SETITEM" else 1, pos)
            if not stack or (marks and len(stack) <= marks[-1]):
                raise pickle.UnpicklingError(f"malformed pickle: {name} without a target at "
                                             f"byte {pos}")
            grow(stack[-1], take(items), pos)
        elif name in ("REDUCE", "NEWOBJ", "NEWOBJ_EX"):
            # the result holds at most what its arguments hold; it may be a fresh container
            args = pop(3 if name == "NEWOBJ_EX" else 2, pos)[1:]
            d = max(depth(x) for x in args)
            take(args)
            stack.append(new_container(d))
        elif name in ("STACK_GLOBAL", "BINPERSID"):
            pop(2 if name == "STACK_GLOBAL" else 1, pos)
            stack.append(0)
        elif name == "POP":
            if marks and marks[-1] == len(stack):
                marks.pop()
            else:
                pop(1, pos)
        elif name == "POP_MARK":
            pop_mark(pos)
        elif name == "DUP":
            stack.append(pop(1, pos)[0])
            stack.append(stack[-1])
        elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            # pickle grows its memo to the largest index a PUT names, so one crafted index
            # would allocate gigabytes: indices are checked against the pickle's length
            index = len(memo) if name == "MEMOIZE" else arg
            if not 0 <= index < size:
                raise UnsafeCheckpointError(f"memo index {index} at byte {pos} is out of range")
            if not stack:
                raise pickle.UnpicklingError(f"malformed pickle: {name} on an empty stack at "
                                             f"byte {pos}")
            memo[index] = stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            if arg not in memo:
                raise pickle.UnpicklingError(f"malformed pickle: memo entry {arg} is not set "
                                             f"(byte {pos})")
            stack.append(memo[arg])
        # PROTO, FRAME, READONLY_BUFFER and STOP change nothing that is checked here


class _Safe:
    """The allowlist and the checked storages, for either of pickle's unpicklers."""

    def __init__(self, file: io.BytesIO, storages: Storages | None, *,
                 encoding: str = "utf-8") -> None:
        super().__init__(file, encoding=encoding)  # type: ignore[call-arg]
        self._file = file
        self._storages = storages
        self._globals = _ALLOWLIST
        # the user's allowlist (add_safe_globals): those objects and instances of those classes
        self._user = user_globals()
        self._user_ids = {id(v) for v in self._user.values()}
        self._user_types = tuple(v for v in self._user.values() if isinstance(v, type))

    def accept(self, x: Any) -> bool:
        """Whether ``x`` came from the user's allowlist (kept by :func:`unwrap`)."""
        return id(x) in self._user_ids or type(x) in self._user_types

    def load(self) -> Any:
        start = self._file.tell()
        prescan(self._file, len(self._file.getbuffer()) - start)
        self._file.seek(start)
        return super().load()  # type: ignore[misc]

    def find_class(self, module: str, name: str) -> Any:
        found = self._globals.get((module, name))
        if found is not None:
            return found
        user = self._user.get(f"{module}.{name}")
        if user is not None:  # trusted by add_safe_globals: rebuilt as torch rebuilds it
            return user
        if module in ("torch", "torch.cuda") and name in _UNSUPPORTED_STORAGES:
            raise NotImplementedError(f"the checkpoint holds a {module}.{name}, which ember "
                                      f"cannot load: {_UNSUPPORTED_STORAGES[name]}")
        if (module, name) in _UNSUPPORTED:
            raise NotImplementedError(f"the checkpoint uses {module}.{name}: "
                                      f"{_UNSUPPORTED[(module, name)]} cannot be loaded by ember")
        raise UnsafeCheckpointError(
            f"the checkpoint asks for the global {module}.{name}, which ember refuses: with "
            "weights_only=True ember.load never imports or calls anything outside a fixed "
            "allowlist of tensor-rebuilding functions. If you trust this class/function, "
            f"allowlist it with ember.serialization.add_safe_globals([{module}.{name}]) or the "
            f"ember.serialization.safe_globals([{module}.{name}]) context manager; if you trust "
            "the whole file, load it with weights_only=False (which runs code from it)")

    def persistent_load(self, pid: Any) -> _Storage:
        st = self._storages
        ok = (st is not None and isinstance(pid, tuple) and len(pid) in (5, 6)
              and pid[0] == "storage" and isinstance(pid[1], _StorageType)
              and isinstance(pid[2], str) and _KEY.fullmatch(pid[2]) is not None
              and isinstance(pid[3], str) and _is_int(pid[4]) and pid[4] >= 0
              and (len(pid) == 5 or (st.legacy and pid[5] is None)))
        if not ok:
            if st is not None and isinstance(pid, tuple) and len(pid) == 6 and pid[5] is not None:
                raise NotImplementedError("the checkpoint holds a storage view (a pre-1.0 torch "
                                          "feature), which ember cannot load")
            raise UnsafeCheckpointError(f"bad persistent id {_short(pid)}: ember expects "
                                        "('storage', <storage type>, key, location, numel)")
        _, stype, key, location, numel = pid[:5]
        if key in st.cache:
            return st.cache[key]
        target = st.check_location(location)
        itemsize = 1 if stype.dtype is None else np.dtype(_DTYPES[stype.dtype][0]).itemsize
        storage = _Storage(key, st.read(key, numel * itemsize), stype.dtype)
        storage.target = target
        st.cache[key] = storage
        return storage


class SafeUnpickler(_Safe, pickle.Unpickler):
    """``pickle.Unpickler`` with an exact allowlist and checked storages (module docstring)."""


class CallingUnpickler(_Safe, pickle._Unpickler):  # type: ignore[name-defined,misc]
    """For files that call code of the user's (add_safe_globals, or weights_only=False): what
    ``REDUCE``, ``NEWOBJ`` and ``BUILD`` hand to that code gets real tensors first, as torch's
    unpickler gives it (pickle's Python unpickler, whose steps can be overridden; the tensors
    made then are the ones the final :func:`unwrap` returns). ember's own stand-ins are called
    as they are (a tensor is built once: ``_T.built``). Legacy files hold their storages' bytes
    after the pickle, so there the code gets the stand-ins and the final unwrap converts what it
    kept."""

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def _real(self, x: Any) -> Any:
        st = self._storages
        if st is not None and st.legacy:
            return x
        return unwrap(x, st.byteorder if st is not None else "little", self.accept)

    def _load_reduce(self) -> None:
        stack = self.stack
        args = stack.pop()
        func = stack[-1]
        if not isinstance(func, _Inert):
            args = self._real(args)
        stack[-1] = func(*args)

    def _load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(cls, type) or issubclass(cls, _Inert):
            raise pickle.UnpicklingError(f"NEWOBJ on {_short(cls)}, which is not a class")
        self.append(cls.__new__(cls, *self._real(args)))

    def _load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(cls, type) or issubclass(cls, _Inert):
            raise pickle.UnpicklingError(f"NEWOBJ_EX on {_short(cls)}, which is not a class")
        self.append(cls.__new__(cls, *self._real(args), **self._real(kwargs)))

    def _load_build(self) -> None:
        state = self.stack.pop()
        if not isinstance(self.stack[-1], _Inert):  # stand-ins refuse BUILD themselves
            state = self._real(state)
        self.stack.append(state)
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]

    dispatch[pickle.REDUCE[0]] = _load_reduce
    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex
    dispatch[pickle.BUILD[0]] = _load_build


# -- the allowlist ------------------------------------------------------------------------------
_UNSUPPORTED_STORAGES = {
    **{n: "ember has no quantized tensors" for n in (
        "QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage")},
}
_UNSUPPORTED = {
    ("torch._utils", "_rebuild_qtensor"): "quantized tensors",
    ("torch._utils", "_rebuild_sparse_tensor"): "sparse tensors",
    ("torch._utils", "_rebuild_nested_tensor"): "nested tensors",
    ("torch._utils", "_rebuild_wrapper_subclass"): "tensor subclasses",
    ("torch._utils", "_rebuild_device_tensor_from_numpy"): "device tensors from numpy",
    ("torch._utils", "_rebuild_device_tensor_from_cpu_tensor"): "device tensors",
    ("torch._utils", "_rebuild_meta_tensor_no_storage"): "meta tensors (no data)",
    ("torch._utils", "_rebuild_parameter_with_state"): "parameters with Python attributes",
    ("torch._tensor", "_rebuild_from_type_v2"): "tensor subclasses or tensors with Python "
                                                "attributes",
}


def _make_device(*args: Any) -> device | str:
    _check(1 <= len(args) <= 2 and isinstance(args[0], str)
           and (len(args) == 1 or args[1] is None or _is_int(args[1])), "bad device {}", args)
    name = args[0] if len(args) == 1 or args[1] is None else f"{args[0]}:{args[1]}"
    # ember has only the CPU: other devices stay as their torch spelling, a plain string
    return device(name) if name.split(":")[0] == "cpu" else name


def _make_size(dims: Any) -> Size:
    _check(isinstance(dims, (tuple, list)) and all(_is_int(d) for d in dims), "bad size {}", dims)
    return Size(dims)


def _encode(text: Any, encoding: Any) -> bytes:
    _check(isinstance(text, str) and encoding == "latin1", "bytes must be encoded as latin1")
    return text.encode("latin1")


def _make_set(items: Any = ()) -> set:
    _check(isinstance(items, (list, tuple)), "bad set contents {}", type(items).__name__)
    try:
        return set(items)
    except TypeError as e:  # an unhashable element
        raise pickle.UnpicklingError(f"malformed checkpoint: {e}") from None


def _make_complex(real: Any = 0.0, imag: Any = 0.0) -> complex:
    _check(all(type(x) in (int, float) for x in (real, imag)), "bad complex number")
    return complex(real, imag)


def _make_ordered_dict(*args: Any) -> collections.OrderedDict:
    # pickle passes the items afterwards with SETITEMS; the constructor takes none here
    _check(not args, "OrderedDict() takes its items through SETITEMS")
    return collections.OrderedDict()


def _allowlist() -> dict[tuple[str, str], _Inert]:
    def rebuild_v2(storage, offset, size, stride, requires_grad, hooks, metadata=None):
        _check(isinstance(storage, _Storage) and storage.dtype is not None,
               "_rebuild_tensor_v2 needs a typed storage")
        return _tensor(storage, offset, size, stride, storage.dtype, requires_grad, hooks,
                       metadata)

    def rebuild_v3(storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
        _check(isinstance(dtype, _Dtype), "bad dtype {}", dtype)
        if dtype.name in _NO_EMBER_DTYPE:
            raise _no_ember_dtype(dtype.name)
        return _tensor(storage, offset, size, stride, dtype.name, requires_grad, hooks, metadata)

    def rebuild_parameter(data, requires_grad, hooks):
        _check(isinstance(data, _T) and not data.parameter and type(requires_grad) is bool,
               "bad _rebuild_parameter arguments")
        _check(isinstance(hooks, dict) and not hooks, "parameters with hooks are not supported")
        _check(not requires_grad or _DTYPES[data.dtype][1].is_floating_point,
               "only floating point parameters can require gradients")
        return _T(data.storage, data.offset, data.size, data.stride, data.dtype, data.neg,
                  requires_grad, parameter=True)

    table: dict[tuple[str, str], _Inert] = {
        ("collections", "OrderedDict"): _Fn("collections.OrderedDict", _make_ordered_dict),
        ("torch._utils", "_rebuild_tensor_v2"): _Fn("torch._utils._rebuild_tensor_v2", rebuild_v2),
        ("torch._utils", "_rebuild_tensor_v3"): _Fn("torch._utils._rebuild_tensor_v3", rebuild_v3),
        ("torch._utils", "_rebuild_parameter"): _Fn("torch._utils._rebuild_parameter",
                                                    rebuild_parameter),
        ("torch", "Size"): _Fn("torch.Size", _make_size),
        ("torch", "device"): _Fn("torch.device", _make_device),
        ("_codecs", "encode"): _Fn("_codecs.encode", _encode),
        ("torch.storage", "UntypedStorage"): _StorageType("torch.storage.UntypedStorage", None),
        ("torch", "UntypedStorage"): _StorageType("torch.UntypedStorage", None),
    }
    for module in ("builtins", "__builtin__"):  # protocol-2 pickles keep the Python 2 spelling
        table[(module, "set")] = _Fn(f"{module}.set", _make_set)
        table[(module, "complex")] = _Fn(f"{module}.complex", _make_complex)
    for module in ("torch", "torch.cuda"):  # legacy files name GPU storages torch.cuda.*
        for name, dt in _STORAGE_TYPES.items():
            table[(module, name)] = _StorageType(f"{module}.{name}", dt)
    for name in (*_DTYPES, *_ALIASES, *_NO_EMBER_DTYPE):
        table[("torch", name)] = _Dtype(_ALIASES.get(name, name))
    return table


def _on_device(t: _T, arr: np.ndarray, byteorder: str) -> Any:
    """``arr`` (the view ``t`` describes over its storage's host array) as the same view of one
    device copy of that storage, made once per storage, dtype and target: views and tied
    tensors saved from one storage share memory on the device as on the CPU."""
    backend, index = _devices.backend_for(t.storage.target)
    if not arr.size:
        return _devices.move(arr, backend, index)
    key = ("device", t.dtype, t.neg, str(t.storage.target))
    flat = t.storage.typed.get(key)
    if flat is None:
        host = _negated(t.storage, t.dtype, byteorder) if t.neg else \
            _typed(t.storage, t.dtype, byteorder)
        flat = t.storage.typed[key] = _devices.move(host, backend, index)
    with backend.xp.cuda.Device(index):  # (CuPy works on the current device's arrays)
        return backend.as_strided(flat[t.offset:], arr.shape, arr.strides)


# -- after unpickling -------------------------------------------------------------------------
def unwrap(obj: Any, byteorder: str = "little",
           accept: Callable[[Any], bool] | None = None) -> Any:
    """Turns the unpickled object into ember objects: ``_T`` -> Tensor/Parameter, dtype markers ->
    ember dtypes. Mutable containers are updated in place, so shared references and cycles survive;
    each ``_T`` becomes one Tensor however often it is referenced. Objects of other types are
    refused unless ``accept`` says yes (the user's allowlist, or everything with
    ``weights_only=False``): those are kept, their ``__dict__`` (and items) converted in place.

    The walk keeps its own stack (one generator per open container) rather than recursing, so how
    deep a file nests its containers never reaches Python's recursion limit."""
    done: dict[int, Any] = {}
    busy: set[int] = set()

    def simple(x: Any) -> tuple[bool, Any]:
        """``(True, value)`` for anything converted at once, ``(False, None)`` for a container."""
        t = type(x)
        if t in (str, int, float, bool, bytes, complex) or x is None:
            return True, x
        if id(x) in done:
            return True, done[id(x)]
        if isinstance(x, _T):
            if x.built is None:  # (a CallingUnpickler may have built it for user code already)
                arr = _array(x, byteorder)
                if x.storage.target is not None:  # map_location (or the file) names a GPU
                    arr = _on_device(x, arr, byteorder)
                x.built = (Parameter(Tensor._make(arr), x.requires_grad) if x.parameter
                           else Tensor._make(arr, requires_grad=x.requires_grad))
            out: Any = x.built
        elif isinstance(x, _Dtype):
            out = to_ember_dtype(x.name)
        elif isinstance(x, _Inert):
            raise pickle.UnpicklingError(f"malformed checkpoint: a bare {_short(x)} is not a "
                                         "value ember can return")
        elif isinstance(x, (device, Tensor)):  # a Tensor: returned by an allowlisted function
            out = x
        elif t in (list, dict, collections.OrderedDict, tuple, set, Size):
            return False, None
        elif accept is not None and accept(x):
            return False, None
        else:
            raise pickle.UnpicklingError(f"malformed checkpoint: unexpected {t.__name__}")
        done[id(x)] = out
        return True, out

    def container(x: Any):
        """Yields each element of ``x`` and receives it converted; returns ``x`` converted."""
        t = type(x)
        if t not in _CONTAINERS:  # an accepted object: its contents are converted in place
            return (yield from accepted(x))
        if t is list:
            done[id(x)] = x
            values = []
            for v in x:
                values.append((yield v))
            x[:] = values
            return x
        if t in (dict, collections.OrderedDict):
            done[id(x)] = x
            yield from items_in_place(x)
            if t is collections.OrderedDict:  # attributes set by BUILD, e.g. _metadata
                yield from attrs_in_place(vars(x))
            return x
        return (yield from rebuilt(x, t, "tuple or set"))

    def accepted(x: Any):
        if isinstance(x, tuple):  # a namedtuple: rebuilt from its converted fields
            t = type(x)
            return (yield from rebuilt(x, t._make if hasattr(t, "_make") else t, "tuple"))
        done[id(x)] = x
        if isinstance(x, list):
            for i in range(len(x)):
                x[i] = yield x[i]
        elif isinstance(x, dict):  # a dict subclass (defaultdict): keys may be tensors too
            yield from items_in_place(x)
        attrs = getattr(x, "__dict__", None)
        if type(attrs) is dict:
            yield from attrs_in_place(attrs)
        return x

    def rebuilt(x: Any, make: Callable[[list], Any], what: str):
        """An immutable container (tuple, set, namedtuple): ``make`` of its converted elements."""
        if id(x) in busy:  # reached again while its elements are converted
            raise pickle.UnpicklingError(f"malformed checkpoint: a {what} contains itself")
        busy.add(id(x))
        values = []
        for v in x:
            values.append((yield v))
        busy.discard(id(x))
        out = make(values)
        done[id(x)] = out
        return out

    def items_in_place(x: dict):
        """Converts a dict's keys and values in place (keys may be tensors too)."""
        items = []
        for k, v in list(x.items()):
            key = yield k
            items.append((key, (yield v)))
        x.clear()
        x.update(items)

    def attrs_in_place(attrs: dict):
        for k in list(attrs):
            attrs[k] = yield attrs[k]

    ready, value = simple(obj)
    if ready:
        return value
    stack = [container(obj)]
    value = None
    while stack:
        try:
            child = stack[-1].send(value)
        except StopIteration as e:
            stack.pop()
            value = e.value
            continue
        ready, value = simple(child)
        if not ready:
            stack.append(container(child))
    return value


_ALLOWLIST = _allowlist()
_CONTAINERS = (list, dict, collections.OrderedDict, tuple, set, Size)
