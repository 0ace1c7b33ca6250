"""The Tensor: an n-d array plus the autograd state that links it into the backward graph.

Methods here are the tensor's own state and conversions; the maths lives in ``ember.ops`` and is
bound onto ``Tensor`` by each ops module (see ``ember/ops/__init__.py``).
"""
from __future__ import annotations

import warnings
import weakref
from typing import Any, Callable, Iterator

from . import dtypes as _dt
from . import devices as _device_mod
from .backend import DEVICE_TYPES, NUMPY, backend_of
from .devices import device
from .graph import grad_mode
from .graph.node import AccumulateGrad, RemovableHandle, add_hook

_ndarray = NUMPY.array_type
_xp = NUMPY.xp  # a tensor made from Python data lives on the CPU (until a device argument)
_grad_state = grad_mode.state
_FROM_NP = _dt._FROM_NP


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``ember.Size([2, 3])``."""

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, i):  # slicing keeps the type, as torch.Size does
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __add__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__


_cpu = _device_mod.cpu


class Tensor:
    """A multi-dimensional array that can record the operations applied to it for autograd."""

    __slots__ = ("_data", "_requires_grad", "_grad_fn", "_output_nr", "_version_counter", "_grad",
                 "__dict__", "__weakref__")
    # rarely set state lives in the instance __dict__, with these class-level defaults
    _base: Tensor | None = None
    _view_fn: Callable | None = None
    _acc: Any = None
    _retains_grad = False
    _post_acc_hooks: dict | None = None
    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators

    def __init__(self, *args: Any, dtype: _dt.dtype | None = None, device: Any = None,
                 requires_grad: bool = False) -> None:
        # the legacy constructor: Tensor([1, 2]) copies data as float32; Tensor(2, 3) is uninitialised
        if len(args) == 1 and not isinstance(args[0], int):
            data = _xp.array(_to_array(args[0]), dtype=(dtype or _dt.get_default_dtype()).np)
        else:
            data = _xp.empty(tuple(args), dtype=(dtype or _dt.get_default_dtype()).np)
        self._init(data, requires_grad)

    def _init(self, data: Any, requires_grad: bool = False, grad_fn: Any = None,
              output_nr: int = 0) -> None:
        self._data = data
        self._requires_grad = requires_grad
        self._grad_fn = grad_fn
        self._output_nr = output_nr
        self._version_counter = [0]
        self._grad = None

    @staticmethod
    def _make(data: Any, requires_grad: bool = False, grad_fn: Any = None,
              output_nr: int = 0) -> Tensor:
        """Wraps a backend array (the fast path every op output takes)."""
        t = _new(Tensor)
        if type(data) is not _ndarray and type(data) not in DEVICE_TYPES:
            data = backend_of(data).xp.asarray(data)  # numpy turns 0-d results into scalars
        t._data = data
        t._requires_grad = requires_grad
        t._grad_fn = grad_fn
        t._output_nr = output_nr
        t._version_counter = [0]
        t._grad = None
        return t

    # -- metadata -----------------------------------------------------------------------------
    @property
    def dtype(self) -> _dt.dtype:
        return _FROM_NP[self._data.dtype]

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None) -> Size | int:
        """Returns the shape, or the size of dimension ``dim``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim_strict(dim, self._data.ndim)]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    @property
    def device(self) -> device:
        d = self._data
        return _cpu if type(d) is _ndarray else _device_mod.device_of(d)

    @property
    def is_cuda(self) -> bool:
        d = self._data
        return type(d) is not _ndarray and _device_mod.device_of(d).type == "cuda"

    @property
    def is_sparse(self) -> bool:
        return False

    def is_floating_point(self) -> bool:
        return _dt.is_float_array(self._data)

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def is_contiguous(self, memory_format: Any = None) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: int | None = None) -> tuple | int:
        if self._data.size == 0:  # numpy zeroes an empty array's strides; torch keeps C order
            st, acc = [], 1
            for n in reversed(self._data.shape):
                st.append(acc)
                acc *= max(n, 1)
            st = tuple(reversed(st))
        else:
            st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim_strict(dim, self._data.ndim)]

    def data_ptr(self) -> int:
        d = self._data
        return (NUMPY if type(d) is _ndarray else backend_of(d)).data_ptr(d)

    def untyped_storage(self) -> Any:
        base = self._data
        while isinstance(base.base, type(self._data)):
            base = base.base
        return base

    @property
    def _version(self) -> int:
        return self._version_counter[0]

    # -- autograd state -----------------------------------------------------------------------
    @property
    def grad_fn(self) -> Any:
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self._grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self._grad_fn is not None:
            if value:
                raise RuntimeError("you can only change requires_grad flags of leaf variables.")
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if value and not (self._data.dtype.kind == "c" or _dt.is_float_array(self._data)):
            # torch words this three ways: here, in requires_grad_(), and in factories
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Sets ``requires_grad`` in place and returns the tensor."""
        if requires_grad and self._grad_fn is not None:
            return self  # a non-leaf already requires grad: torch accepts this as a no-op
        if requires_grad and not (self._data.dtype.kind == "c" or
                                  _dt.is_float_array(self._data)):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self) -> Tensor | None:
        if self._grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during autograd.backward(). If you indeed want "
                "the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on the "
                "non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure you access "
                "the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more "
                "information.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError("assigned grad has data of a different type")
            if value._data.shape != self._data.shape:
                raise RuntimeError("assigned grad has data of a different size")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def _grad_accumulator(self) -> AccumulateGrad:
        # cached weakly: the graph's nodes hold it strongly, the tensor must not (no cycle)
        acc = self._acc() if self._acc is not None else None
        if acc is None:
            acc = AccumulateGrad(self)
            self._acc = weakref.ref(acc)
        return acc

    def _set_history(self, grad_fn: Any, output_nr: int, requires_grad: bool = True) -> None:
        self._grad_fn, self._output_nr, self._requires_grad = grad_fn, output_nr, requires_grad

    def retain_grad(self) -> None:
        """Makes this non-leaf tensor keep its ``.grad`` after backward."""
        if self._grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        fn = self._grad_fn
        if fn._retain is None:
            fn._retain = {}
        fn._retain[self._output_nr] = weakref.ref(self)
        fn._hooked = True
        self._retains_grad = True

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Registers ``hook(grad)`` to run when this tensor's gradient is computed; it may return a
        replacement gradient."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._grad_fn is not None:
            return self._grad_fn._add_tensor_hook(self._output_nr, hook)
        acc = self._grad_accumulator()
        self._acc_strong = acc  # a leaf's hooks live on its accumulator, which must outlive graphs
        return acc._add_tensor_hook(0, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> RemovableHandle:
        """Registers ``hook(tensor)`` to run after a leaf's ``.grad`` has been accumulated."""
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = {}
        return add_hook(self._post_acc_hooks, hook)

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Computes the gradient of this tensor w.r.t. the graph leaves (accumulated in ``.grad``)."""
        _autograd().backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """Returns a tensor sharing this one's data, cut off from the graph."""
        t = Tensor._make(self._data)
        t._version_counter = self._version_counter
        return t

    def detach_(self) -> Tensor:
        """Detaches this tensor from the graph in place, making it a leaf."""
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as True, gradients are views of DDP buckets, and hence detach_() cannot be called on these gradients. To fix this error, please refer to the Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution."
            )
        self._grad_fn, self._output_nr, self._requires_grad = None, 0, False
        return self

    @property
    def data(self) -> Tensor:
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__}")
        self._data = value._data

    # -- conversions --------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> Any:
        """Returns the data as a NumPy array sharing memory with this tensor."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
            )
        d = self._data
        if type(d) is not _ndarray:
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                                "Tensor.cpu() to copy the tensor to host memory first.")
            return backend_of(d).to_host(d)
        return d

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        d = self._data
        if type(d) is not _ndarray:
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        return d if dtype is None else d.astype(dtype, copy=False)

    def item(self) -> Any:
        """Returns the value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar"
            )
        if type(self._data) is not _ndarray:
            _device_mod._sync("item")
        return self._data.reshape(()).item()

    def tolist(self) -> Any:
        if type(self._data) is not _ndarray:
            _device_mod._sync("tolist")
        return self._data.tolist()

    def __bool__(self) -> bool:
        n = self._data.size
        if n != 1:
            what = "no values" if n == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {what} is ambiguous")
        if type(self._data) is not _ndarray:
            _device_mod._sync("bool")
        return bool(self._data.reshape(()))

    def _scalar(self) -> Any:
        if self._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        if type(self._data) is not _ndarray:
            _device_mod._sync("item")
        return self._data.reshape(()).item()

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self._scalar())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self, *, tensor_contents: Any = None) -> str:
        from ._tensor_str import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, protocol: int) -> Any:
        d = self._data
        if type(d) is not _ndarray:  # back on its own GPU (CuPy's: the current one)
            return (_rebuild, (d, self._requires_grad, backend_of(d).device_index(d)))
        return (_rebuild, (d, self._requires_grad))

    def __deepcopy__(self, memo: dict) -> Tensor:
        if self._grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment.  If you were attempting to deepcopy a module, this may be "
                "because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001"
            )
        new = type(self).__new__(type(self))
        Tensor._init(new, self._data.copy(), self._requires_grad)
        new.__dict__.update({k: v for k, v in self.__dict__.items() if not k.startswith("_")})
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    def cpu(self, memory_format: Any = None) -> Tensor:
        """A copy on the CPU (``self`` if already there), recorded for autograd."""
        return self if type(self._data) is _ndarray else self.to("cpu")

    def cuda(self, device: Any = None, non_blocking: bool = False,
             memory_format: Any = None) -> Tensor:
        """A copy on a CUDA device (``self`` if already there), recorded for autograd."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int) and not isinstance(device, bool):
            device = _device_mod.device("cuda", device)
        elif _device_mod.device(device).type != "cuda":
            raise RuntimeError("Invalid device, must be cuda device")
        return self.to(device, non_blocking=non_blocking)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
        return self._new_filled(size, 0, dtype, requires_grad, device)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        return self._new_filled(size, 1, dtype, requires_grad, device)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
        return self._new_filled(size, None, dtype, requires_grad, device)

    def new_full(self, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        if not isinstance(size, (tuple, list)):
            raise TypeError(f"new_full(): argument 'size' (position 1) must be tuple of ints, not "
                            f"{type(size).__name__}")
        return self._new_filled((size,), fill_value, dtype, requires_grad, device)


_new = object.__new__


def _autograd() -> Any:
    """ember.autograd, which imports this module: looked up once, on first use."""
    global _autograd_module
    if _autograd_module is None:
        from . import autograd

        _autograd_module = autograd
    return _autograd_module


_autograd_module: Any = None


_HERE = object()


def _factory_result(data: Any, requires_grad: bool, device: Any = _HERE) -> Tensor:
    """A new leaf from a factory (zeros, tensor, new_ones, ...), with torch's factory error.
    ``device``: where a factory computed on the host puts its result (None: the default
    device); left out, the data stays where it is."""
    if device is not _HERE and (device is not None or _device_mod.default[0] is not None):
        data = _device_mod.move(data, *_device_mod.backend_for(device))
    if requires_grad and not (data.dtype.kind == "c" or _dt.is_float_array(data)):
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
    t = Tensor._make(data)
    t._requires_grad = bool(requires_grad)
    return t


def _rebuild(data: Any, requires_grad: bool, index: int | None = None) -> Tensor:
    t = Tensor._make(_device_mod.onto(data, index))
    t._requires_grad = requires_grad
    return t


def _wrap_dim(dim: int, ndim: int) -> int:
    """Turns a possibly negative ``dim`` into an index, raising torch's IndexError when out of range."""
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def _wrap_dim_strict(dim: int, ndim: int) -> int:
    """``_wrap_dim`` for size(dim)/stride(dim), which (unlike ops) reject a 0-d tensor's dims."""
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return _wrap_dim(dim, ndim)


def _shape_arg(size: tuple) -> tuple:
    """Accepts ``f(2, 3)`` and ``f((2, 3))`` / ``f([2, 3])`` / ``f(Size)`` forms of a size."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, _dt.INTEGER_TYPES) or isinstance(s, bool):
            raise TypeError(
                f"size must be a tuple of ints, but got {type(s).__name__} in {tuple(size)}"
            )
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _to_array(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_to_array(d) for d in data]
    return data
