"""Random numbers: ``Generator``, seeding and RNG state, the sampling functions (``rand``,
``randn``, ``randint``, ``randperm``, ``normal``, ``bernoulli``, ``multinomial``, ``*_like``) and
the in-place samplers bound onto Tensor (``uniform_``, ``normal_``, ``bernoulli_``, ...).

ember draws from NumPy's PCG64 bit generator, not torch's Mersenne Twister: the same seed always
gives the same numbers within ember, but never the same numbers as torch. RNG states are uint8
tensors like torch's, though of a different size and layout.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator

import numpy as np

from . import dtypes as _dt
from .backend import backend_of
from .ops._op import Op
from .creation import (_allocation, _check_device, _check_int64, _finish, _size_args,
                       _write_out)
from .ops.inplace import apply_inplace, type_name
from .tensor import Tensor, _shape_arg
from . import devices as _devices
from .devices import device as _device

_DEFAULT_SEED = 67280421310721  # torch's default initial seed
_U64 = 2**64


class Generator:
    """A pseudo-random number generator (NumPy's PCG64 underneath; not torch's bit stream)."""

    def __init__(self, device: Any = "cpu") -> None:
        self.device = _device(device)
        if self.device.type == "cuda":
            # a CUDA generator draws on the host and its samples are copied to the device, so
            # a seed gives the same values on every device (not torch's CUDA stream)
            try:
                _devices.cuda_backend()
            except (AssertionError, RuntimeError):
                raise RuntimeError("Cannot get CUDA generator without ATen_cuda library: ember "
                                   "runs CUDA through CuPy, which is not available") from None
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed: Any) -> Generator:
        """Seeds this generator; negative seeds wrap modulo 2**64 as in torch."""
        seed = int(seed)
        if not -(2**63) <= seed < _U64:
            raise ValueError("Overflow when unpacking long long")
        self._seed = seed % _U64
        self._np_rng = None  # made on first draw: numpy.random costs ~20 ms to import
        return self

    @property
    def _rng(self) -> np.random.Generator:
        rng = self._np_rng
        if rng is None:
            rng = self._np_rng = np.random.Generator(np.random.PCG64(self._seed))
        return rng

    def seed(self) -> int:
        """Seeds from OS entropy and returns the seed."""
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The generator state as a uint8 tensor (the PCG64 state, its increment and the seed)."""
        st = self._rng.bit_generator.state
        pcg = st["state"]
        raw = (pcg["state"].to_bytes(16, "little") + pcg["inc"].to_bytes(16, "little")
               + bytes([st["has_uint32"]]) + int(st["uinteger"]).to_bytes(4, "little")
               + self._seed.to_bytes(8, "little"))
        return Tensor._make(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state: Tensor) -> Generator:
        """Restores a state returned by ``get_state``."""
        if not isinstance(new_state, Tensor) or new_state.dtype is not _dt.uint8:
            raise TypeError("RNG state must be a ember.ByteTensor")
        raw = new_state._data.tobytes()
        if len(raw) != _STATE_SIZE:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_SIZE} but found "
                               f"the input RNG state size to be {len(raw)}")
        self._rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int.from_bytes(raw[:16], "little"),
                      "inc": int.from_bytes(raw[16:32], "little")},
            "has_uint32": raw[32],
            "uinteger": int.from_bytes(raw[33:37], "little"),
        }
        self._seed = int.from_bytes(raw[37:45], "little")
        return self

    def __repr__(self) -> str:
        return f"<ember.Generator object at {id(self):#x}>"


_STATE_SIZE = 45
_MISSING = object()
default_generator = Generator()


# each GPU's default generator (``ember.cuda.default_generators``), made on its first draw;
# ``manual_seed`` and ``seed`` seed them all, those made later included, as torch's do
_device_generators: dict[int, Generator] = {}
_gpu_seed: list = [_DEFAULT_SEED]  # what a GPU generator starts from when it is made


def device_generator(index: int) -> Generator:
    """The default generator of GPU ``index``: what its random tensors are drawn from."""
    g = _device_generators.get(index)
    if g is None:
        g = _device_generators[index] = Generator(f"cuda:{index}").manual_seed(_gpu_seed[0])
    return g


def _seed_gpus(seed: int) -> None:
    _gpu_seed[0] = seed
    for g in _device_generators.values():
        g.manual_seed(seed)


def rng_states() -> tuple:
    """The CPU generator's state and each GPU generator's made so far (checkpoint replays all)."""
    return (default_generator.get_state(),
            {i: g.get_state() for i, g in _device_generators.items()})


def set_rng_states(states: tuple) -> None:
    """Restores what ``rng_states`` returned (a GPU generator made since starts afresh)."""
    default_generator.set_state(states[0])
    for i, g in _device_generators.items():
        if i in states[1]:
            g.set_state(states[1][i])
        else:
            g.manual_seed(_gpu_seed[0])


def rng_states_differ(a: tuple, b: tuple) -> bool:
    """Whether anything drew random numbers between two ``rng_states``."""
    return a[1].keys() != b[1].keys() or any(
        not bool((x == y).all()) for x, y in zip((a[0], *a[1].values()), (b[0], *b[1].values())))


def manual_seed(seed: Any) -> Generator:
    """Seeds the default generator (and every GPU's) and returns it."""
    g = default_generator.manual_seed(seed)
    _seed_gpus(g._seed)
    return g


def seed() -> int:
    """Seeds the default generator (and every GPU's) non-deterministically; returns the seed."""
    value = default_generator.seed()
    _seed_gpus(value)
    return value


def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The default generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    """Restores the default generator's state."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices: Any = None, enabled: bool = True, **kwargs: Any) -> Iterator[None]:
    """Restores the generators' states (the CPU's and each GPU's) on exit from the block."""
    if not enabled:
        yield
        return
    state = rng_states()
    try:
        yield
    finally:
        set_rng_states(state)


def _gen(generator: Generator | None, on: Any = None) -> np.random.Generator:
    """What samples are drawn with: ``generator``, else the default generator of the device
    they go to (``on``: a tensor there, or a factory's ``(backend, index)``; None: the CPU).
    A GPU's generator draws on the host too (its values are not torch's CUDA stream)."""
    if generator is None:
        if on is not None:
            index = on[1] if type(on) is tuple else _gpu_index(on._data)
            if index is not None:
                return device_generator(index)._rng
        return default_generator._rng
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a ember.Generator, but got {type(generator).__name__}")
    return generator._rng


def _gpu_index(data: Any) -> int | None:
    return None if type(data) is np.ndarray else backend_of(data).device_index(data)


def _fmt(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


# -- samplers on arrays ---------------------------------------------------------------------------


def _uniform(rng: np.random.Generator, shape: tuple, d: _dt.dtype,
             like: Tensor | None = None, resize: bool = False) -> np.ndarray:
    """Uniform samples on [0, 1) in dtype ``d`` (``like``: the input of a ``*_like``;
    ``resize``: torch resizes an ``out=`` tensor, checking the element count first)."""
    with _allocation(shape, d, like=like, resize=resize):
        return _uniform_array(rng, shape, d)


def _uniform_array(rng: np.random.Generator, shape: tuple, d: _dt.dtype) -> np.ndarray:
    if d is _dt.float32 or d is _dt.float64:
        return rng.random(shape, dtype=d.np)
    if d is _dt.float16:
        # 11 random bits are exact in half precision; rounding wider samples could give 1.0
        return (np.floor(rng.random(shape, dtype=np.float32) * 2048) / 2048).astype(np.float16)
    raise NotImplementedError(f"\"check_uniform_bounds\" not implemented for '{type_name(d)}'")


def _standard_normal(rng: np.random.Generator, shape: tuple, d: _dt.dtype,
                     like: Tensor | None = None, resize: bool = False) -> np.ndarray:
    with _allocation(shape, d, like=like, resize=resize):
        if not d.is_floating_point:
            raise NotImplementedError(
                f"\"normal_kernel_cpu\" not implemented for '{type_name(d)}'")
        wide = np.float64 if d is _dt.float64 else np.float32
        return rng.standard_normal(shape, dtype=wide).astype(d.np, copy=False)


_C_NAMES = {"uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int",
            "int64": "long", "bool": "bool", "float16": "c10::Half", "float32": "float",
            "float64": "double"}
_FLOAT_DIGITS = {"float16": 11, "float32": 24, "float64": 53}


def _int_range(d: _dt.dtype, low: int, high: int | None) -> tuple[int, int]:
    """torch's checks on a discrete range [low, high) for dtype ``d``; returns inclusive bounds
    (``high=None`` means up to the dtype's largest exactly representable integer)."""
    if d.is_floating_point:
        digits = _FLOAT_DIGITS[d.name]
        top = 2**digits
        if high is not None and not -top <= high - 1 <= top:
            warnings.warn(
                f"to - 1 is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision "
                f"limitations {_C_NAMES[d.name]} can support discrete uniform distribution only "
                "within this range.", UserWarning, stacklevel=3)
    elif d is _dt.bool:
        top = 1
    else:
        top = int(np.iinfo(d.np).max)
    if high is None:
        return low, top
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    if not d.is_floating_point:
        bottom = 0 if d is _dt.bool else int(np.iinfo(d.np).min)
        if not bottom <= low <= top:
            raise RuntimeError(f"from is out of bounds for {_C_NAMES[d.name]}")
        if not bottom <= high - 1 <= top:
            raise RuntimeError(f"to - 1 is out of bounds for {_C_NAMES[d.name]}")
    return low, high - 1


def _integers(rng: np.random.Generator, shape: tuple, d: _dt.dtype, low: int,
              high: int | None, like: Tensor | None = None, resize: bool = False) -> np.ndarray:
    lo, hi = _int_range(d, low, high)
    with _allocation(shape, d, like=like, resize=resize):
        return rng.integers(lo, hi, size=shape, dtype=np.int64, endpoint=True).astype(d.np)


def _int_arg(x: Any, fname: str, name: str, pos: int) -> int:
    if isinstance(x, Tensor) and x.ndim == 0 and not x.is_floating_point():
        x = x.item()
    if not isinstance(x, (int, np.integer)) or isinstance(x, bool):
        raise TypeError(f"{fname}(): argument '{name}' (position {pos}) must be int, not "
                        f"{type(x).__name__}")
    return int(x)


# -- random tensors -------------------------------------------------------------------------------


def rand(*args: Any, size: Any = None, generator: Generator | None = None, out: Any = None,
         dtype: Any = None, layout: Any = None, device: Any = None, requires_grad: bool = False,
         pin_memory: bool = False) -> Tensor:
    """Samples from the uniform distribution on [0, 1)."""
    where = _check_device(device)
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    data = _uniform(_gen(generator, where), _size_args("rand", args, size), d,
                    resize=out is not None)
    return _finish(data, requires_grad, out, "rand", where)


def randn(*args: Any, size: Any = None, generator: Generator | None = None, out: Any = None,
          dtype: Any = None, layout: Any = None, device: Any = None, requires_grad: bool = False,
          pin_memory: bool = False) -> Tensor:
    """Samples from the standard normal distribution."""
    where = _check_device(device)
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
    data = _standard_normal(_gen(generator, where), _size_args("randn", args, size), d,
                            resize=out is not None)
    return _finish(data, requires_grad, out, "randn", where)


def _low_high(fname: str, args: list, low: Any, high: Any, offset: int) -> tuple[int, int]:
    """The ``(high)`` / ``(low, high)`` overloads of randint and randint_like."""
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif len(args) > 2:
        raise TypeError(f"{fname}() takes at most {2 + offset} positional arguments")
    if high is None:
        raise TypeError(f'{fname}() missing 1 required positional arguments: "high"')
    low = 0 if low is None else _int_arg(low, fname, "low", 1 + offset)
    return low, _int_arg(high, fname, "high", 1 + offset + (len(args) == 2))


def randint(*args: Any, size: Any = None, low: Any = None, high: Any = None,
            generator: Generator | None = None, out: Any = None, dtype: Any = None,
            layout: Any = None, device: Any = None, requires_grad: bool = False,
            pin_memory: bool = False) -> Tensor:
    """Random integers uniform on [low, high) (``randint(high, size)`` or
    ``randint(low, high, size)``); int64 unless ``dtype`` says otherwise."""
    where = _check_device(device)
    pos = list(args)
    if size is None:
        if not pos:
            raise TypeError('randint() missing 1 required positional arguments: "size"')
        size = pos.pop()
        if not isinstance(size, (tuple, list)):
            raise TypeError(f"randint(): argument 'size' (position {len(pos) + 1}) must be tuple "
                            f"of ints, not {type(size).__name__}")
    lo, hi = _low_high("randint", pos, low, high, 0)
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    data = _integers(_gen(generator, where), _check_int64("randint", _shape_arg((size,))), d, lo,
                     hi, resize=out is not None)
    return _finish(data, requires_grad, out, "randint", where)


def randperm(n: int, *, generator: Generator | None = None, out: Any = None, dtype: Any = None,
             layout: Any = None, device: Any = None, requires_grad: bool = False,
             pin_memory: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    where = _check_device(device)
    n = _shape_arg((_int_arg(n, "randperm", "n", 1),))[0]
    d = _dt.to_dtype(dtype) if dtype is not None else _dt.int64
    with _allocation((n,), d, resize=out is not None):
        data = _gen(generator, where).permutation(n).astype(d.np)
    return _finish(data, requires_grad, out, "randperm", where)


def _like_place(input: Tensor, device: Any) -> tuple:
    """Where a ``*_like`` sample goes: ``device=``, else the input's device (drawn on the host
    generator, then copied: the same values on every device)."""
    if device is None:
        device = input.device
    return _check_device(device)


def _like_dtype(input: Tensor, dtype: Any, fname: str) -> _dt.dtype:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return _dt.to_dtype(dtype) if dtype is not None else input.dtype


def rand_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None,
              layout: Any = None, device: Any = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    """Uniform samples on [0, 1) shaped like ``input``."""
    where = _like_place(input, device)
    d = _like_dtype(input, dtype, "rand_like")
    return _finish(_uniform(_gen(generator, where), input.shape, d, input), requires_grad,
                   where=where)


def randn_like(input: Tensor, *, generator: Generator | None = None, dtype: Any = None,
               layout: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """Standard normal samples shaped like ``input``."""
    d = _like_dtype(input, dtype, "randn_like")
    where = _like_place(input, device)
    return _finish(_standard_normal(_gen(generator, where), input.shape, d, input), requires_grad,
                   where=where)


def randint_like(input: Tensor, *args: Any, low: Any = None, high: Any = None,
                 generator: Generator | None = None, dtype: Any = None, layout: Any = None,
                 device: Any = None, requires_grad: bool = False,
                 memory_format: Any = None) -> Tensor:
    """Random integers on [low, high) shaped like ``input`` (in its dtype by default)."""
    d = _like_dtype(input, dtype, "randint_like")
    lo, hi = _low_high("randint_like", list(args), low, high, 1)
    where = _like_place(input, device)
    return _finish(_integers(_gen(generator, where), input.shape, d, lo, hi, input),
                   requires_grad, where=where)


# -- normal, bernoulli, multinomial ---------------------------------------------------------------


def _on(host: np.ndarray, like: Any) -> Any:
    """Host draws ``host`` on the device of the array ``like`` (itself on the CPU): samples
    come from the host generator on every device, so a seed gives the same values."""
    if type(like) is np.ndarray or not hasattr(like, "dtype"):
        return host
    b = backend_of(like)
    return b.from_host(host, b.device_index(like))


def _host(a: Any) -> np.ndarray:
    """A device array read back to the host (a sync): for samplers whose draws depend on the
    values (a gamma's concentration, a multinomial's probabilities)."""
    return a if type(a) is np.ndarray else backend_of(a).to_host(a)


def _sampled(sample: Callable, args: tuple) -> Any:
    out = sample(*args)
    return _on(out, args[0]) if type(out) is np.ndarray and args else out


class _ZeroGrad(Op):
    """A sampling op: its output does not vary smoothly with its inputs, so torch defines their
    gradients as zero."""

    @staticmethod
    def forward(ctx, *args, sample):
        return _sampled(sample, args)

    @staticmethod
    def backward(ctx, g):
        zero = g.new_zeros(g.shape)
        return tuple(zero if need else None for need in ctx.needs_input_grad)


def _zero_grad_op(cls_name: str, node_name: str) -> type:
    """A sampling op recorded under torch's node name ``node_name``."""
    return type(cls_name, (_ZeroGrad,), {"__module__": __name__}, name=node_name)


NormalTensorFloat = _zero_grad_op("NormalTensorFloat", "NormalBackward1")
NormalFloatTensor = _zero_grad_op("NormalFloatTensor", "NormalBackward2")
NormalTensorTensor = _zero_grad_op("NormalTensorTensor", "NormalBackward3")
Bernoulli = _zero_grad_op("Bernoulli", "BernoulliBackward0")


class BernoulliFloat(Op, name="NotImplemented"):
    """``bernoulli(input, p)``: torch records a node that refuses to differentiate."""

    @staticmethod
    def forward(ctx, a, *, sample):
        return _sampled(sample, (a,))

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError("derivative for aten::bernoulli is not implemented")


def _broadcast(a: tuple, b: tuple) -> tuple:
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        for i in range(1, min(len(a), len(b)) + 1):
            if a[-i] != b[-i] and a[-i] != 1 and b[-i] != 1:
                raise RuntimeError(
                    f"The size of tensor a ({a[-i]}) must match the size of tensor b ({b[-i]}) at "
                    f"non-singleton dimension {max(len(a), len(b)) - i}"
                ) from None
        raise


def normal(mean: Any, std: Any = 1.0, size: Any = None, *, generator: Generator | None = None,
           out: Any = None, dtype: Any = None, layout: Any = None, device: Any = None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Normal samples with the given ``mean`` and ``std`` (tensors, broadcast together, or numbers
    with a ``size``)."""
    m_t, s_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    rng = _gen(generator, mean if m_t else std if s_t else _check_device(device))
    if not (m_t or s_t):
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments - got "
                            f"({type(mean).__name__}, {type(std).__name__}), but expected a size "
                            "when mean and std are both numbers")
        where = _check_device(device)
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
        d = _dt.to_dtype(dtype) if dtype is not None else _dt.get_default_dtype()
        shape = _shape_arg((size,) if isinstance(size, (tuple, list)) else (size,))
        data = _standard_normal(rng, _check_int64("normal", shape), d, resize=out is not None)
        with _allocation(shape, d):  # (the arithmetic's temporaries)
            data = (data * d.np.type(std) + d.np.type(mean)).astype(d.np, copy=False)
        return _finish(data, requires_grad, out, "normal", where)
    if size is not None:
        raise TypeError("normal() received an invalid combination of arguments: size is only "
                        "accepted when mean and std are both numbers")
    d = mean.dtype if m_t else std.dtype
    if s_t:
        if not bool(np.all(std._data >= 0)):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")
    shape = _broadcast(mean.shape if m_t else (), std.shape if s_t else ())

    def sample(m: Any, s: Any) -> np.ndarray:
        z = _on(_standard_normal(rng, shape, d), m if hasattr(m, "dtype") else s)
        return (m + s * z).astype(d.np, copy=False)

    op = NormalTensorTensor if m_t and s_t else (NormalTensorFloat if m_t else NormalFloatTensor)
    return _write(op.apply(mean, std, sample=sample), out, "normal")


def _write(t: Tensor, out: Any, fname: str) -> Tensor:
    return t if out is None else _write_out(out, t._data, fname)


def _check_probs(p: np.ndarray) -> None:
    if not bool(np.all((p >= 0) & (p <= 1))):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")


def bernoulli(input: Tensor, p: float | None = None, *, generator: Generator | None = None,
              out: Any = None) -> Tensor:
    """Draws 0/1 samples: each element is 1 with probability ``input`` (or ``p`` if given)."""
    rng = _gen(generator, input)
    if p is not None:
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}")

        def sample_p(a: np.ndarray) -> np.ndarray:
            return (rng.random(a.shape) < p).astype(a.dtype)

        return _write(BernoulliFloat.apply(input, sample=sample_p), out, "bernoulli")
    d = input.dtype
    if not d.is_floating_point:
        raise NotImplementedError(
            f"\"bernoulli_tensor_cpu_p_\" not implemented for '{type_name(d)}'")
    _check_probs(input._data)

    def sample(a: np.ndarray) -> np.ndarray:
        return (_on(rng.random(a.shape), a) < a).astype(a.dtype)

    return _write(Bernoulli.apply(input, sample=sample), out, "bernoulli")


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None, out: Any = None) -> Tensor:
    """Samples category indices from each row of (unnormalised) probabilities ``input``."""
    rng = _gen(generator, input)
    p = _host(input._data)
    if p.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.is_floating_point():
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: {type_name(input)}")
    n = _int_arg(num_samples, "multinomial", "num_samples", 2)
    if n <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    k = p.shape[-1]
    if not replacement and n > k:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    rows = p.reshape(-1, k).astype(np.float64)
    if rows.size and not bool(np.all(np.isfinite(rows) & (rows >= 0))):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if rows.shape[0] and bool(np.any(rows.sum(axis=1) <= 0)):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        u = rng.random((rows.shape[0], n)) * cdf[:, -1:]
        idx = np.stack([np.searchsorted(c, ui, side="right") for c, ui in zip(cdf, u)]) \
            if rows.shape[0] else np.zeros((0, n), np.int64)
        # u * total can round up to total: fall back to the last category with mass
        last = k - 1 - np.argmax(rows[:, ::-1] > 0, axis=1)
        idx = np.minimum(idx, last[:, None])
    else:
        # the exponential race: the n smallest of E_i / p_i are a draw without replacement
        with np.errstate(divide="ignore"):
            keys = rng.standard_exponential(rows.shape) / rows
        idx = np.argsort(keys, axis=1, kind="stable")[:, :n]
    data = idx.astype(np.int64).reshape(p.shape[:-1] + (n,))
    return _write(Tensor._make(_on(data, input._data)), out, "multinomial")


# -- in-place samplers (Tensor.uniform_, ...) -----------------------------------------------------


Uniform = _zero_grad_op("Uniform", "UniformBackward0")
NormalInplace = _zero_grad_op("NormalInplace", "NormalBackward0")
BernoulliTensorP = _zero_grad_op("BernoulliTensorP", "BernoulliBackward1")
BernoulliScalarP = _zero_grad_op("BernoulliScalarP", "BernoulliBackward2")
Exponential = _zero_grad_op("Exponential", "ExponentialBackward0")
Cauchy = _zero_grad_op("Cauchy", "CauchyBackward0")
LogNormal = _zero_grad_op("LogNormal", "LogNormalBackward0")
Geometric = _zero_grad_op("Geometric", "GeometricBackward0")
RandomFromTo = _zero_grad_op("RandomFromTo", "RandomBackward0")
RandomTo = _zero_grad_op("RandomTo", "RandomBackward1")
RandomFull = _zero_grad_op("RandomFull", "RandomBackward2")


def _fill(self: Tensor, op: type, sample: Callable[[np.ndarray], np.ndarray],
          *params: Any) -> Tensor:
    """Overwrites ``self`` with ``sample(self_array)`` as an in-place op: version bump, autograd
    history on non-leaves, and torch's refusal for leaves that require grad (in grad mode)."""
    return apply_inplace(self, lambda s: op.apply(s, *params, sample=sample))


def _continuous(self: Tensor, what: str, ctype: bool = False) -> None:
    if not self.is_floating_point():
        name = _C_NAMES[self.dtype.name] + (" int" if self.dtype is _dt.int64 else "") \
            if ctype else type_name(self)
        raise RuntimeError(f"{what} distribution is a continuous probability distribution. dtype "
                           f"must be a floating point but you specified {name}")


def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *,
             generator: Generator | None = None) -> Tensor:
    """Fills ``self`` with samples uniform on [from_, to)."""
    rng, d = _gen(generator, self), self.dtype
    if d.is_floating_point:
        info = np.finfo(d.np)
        for name, v in (("from", from_), ("to", to)):
            if not float(info.min) <= v <= float(info.max):
                raise RuntimeError(f"{name} is out of bounds for {_C_NAMES[d.name]}")
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={_fmt(from_)} > to={_fmt(to)}")

    def sample(a: np.ndarray) -> np.ndarray:
        u = _uniform(rng, a.shape, d)
        return (from_ + (to - from_) * u.astype(np.float64)).astype(a.dtype)

    return _fill(self, Uniform, sample)


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fills ``self`` with normal samples of the given ``mean`` and ``std``."""
    rng = _gen(generator, self)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_fmt(std)}")

    def sample(a: np.ndarray) -> np.ndarray:
        z = _standard_normal(rng, a.shape, self.dtype)
        return (mean + std * z.astype(np.float64)).astype(a.dtype)

    return _fill(self, NormalInplace, sample)


def bernoulli_(self: Tensor, p: Any = 0.5, *, generator: Generator | None = None) -> Tensor:
    """Fills ``self`` with 0/1 samples that are 1 with probability ``p`` (a number or tensor)."""
    rng = _gen(generator, self)
    if isinstance(p, Tensor):
        if not p.is_floating_point():
            raise NotImplementedError(
                f"\"bernoulli_tensor_cpu_p_\" not implemented for '{type_name(p)}'")
        _check_probs(p._data)
        p.expand(self.shape)  # torch's error when p does not broadcast to self

        def sample_t(a: np.ndarray, pa: np.ndarray) -> np.ndarray:
            return (_on(rng.random(a.shape), pa) < pa).astype(a.dtype)

        return _fill(self, BernoulliTensorP, sample_t, p)
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_fmt(p)}")

    def sample(a: np.ndarray) -> np.ndarray:
        return (rng.random(a.shape) < p).astype(a.dtype)

    return _fill(self, BernoulliScalarP, sample)


def exponential_(self: Tensor, lambd: float = 1.0, *,
                 generator: Generator | None = None) -> Tensor:
    """Fills ``self`` with exponential samples of rate ``lambd``."""
    rng = _gen(generator, self)
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_fmt(lambd)}")
    _continuous(self, "Exponential")
    return _fill(self, Exponential,
                 lambda a: (rng.standard_exponential(a.shape) / lambd).astype(a.dtype))


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *,
            generator: Generator | None = None) -> Tensor:
    """Fills ``self`` with Cauchy samples."""
    rng = _gen(generator, self)
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_fmt(sigma)}")
    _continuous(self, "Cauchy", ctype=True)
    return _fill(self, Cauchy,
                 lambda a: (median + sigma * rng.standard_cauchy(a.shape)).astype(a.dtype))


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *,
                generator: Generator | None = None) -> Tensor:
    """Fills ``self`` with samples whose logarithm is normal(mean, std)."""
    rng = _gen(generator, self)
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_fmt(std)}")
    if not self.is_floating_point():
        raise NotImplementedError(f"\"log_normal_cpu\" not implemented for '{type_name(self)}'")
    return _fill(self, LogNormal, lambda a: rng.lognormal(mean, std, a.shape).astype(a.dtype))


def geometric_(self: Tensor, p: float, *, generator: Generator | None = None) -> Tensor:
    """Fills ``self`` with the number of Bernoulli(p) trials up to the first success."""
    rng = _gen(generator, self)
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_fmt(p)}")
    return _fill(self, Geometric, lambda a: rng.geometric(p, a.shape).astype(a.dtype))


def random_(self: Tensor, *args: Any, to: Any = _MISSING, generator: Generator | None = None
            ) -> Tensor:
    """``random_()``: integers over the dtype's exact range; ``random_(to)``: [0, to);
    ``random_(from, to)``: [from, to) (``to=None``: up to the dtype's maximum)."""
    rng, d = _gen(generator, self), self.dtype
    if to is not _MISSING:
        args = (*args, to)
    if len(args) > 2:
        raise TypeError(f"random_() takes at most 2 positional arguments ({len(args)} given)")
    if not args:
        op, low, high = RandomFull, 0, None
    elif len(args) == 1:
        op, low, high = RandomTo, 0, _int_arg(args[0], "random_", "to", 1)
    else:
        op, low = RandomFromTo, _int_arg(args[0], "random_", "from", 1)
        high = None if args[1] is None else _int_arg(args[1], "random_", "to", 2)
    lo, hi = _int_range(d, low, high)
    return _fill(self, op, lambda a: rng.integers(lo, hi, size=a.shape, dtype=np.int64,
                                                  endpoint=True).astype(a.dtype))


def _bernoulli_method(self: Tensor, p: Any = None, *, generator: Generator | None = None) -> Tensor:
    return bernoulli(self, p, generator=generator)


# -- gamma samples with their reparametrized gradient ---------------------------------------------


def _gamma_sample_grad(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """d sample / d alpha of standard gamma samples, holding their CDF fixed (the implicit
    reparametrization): -(dP(alpha, x)/d alpha) / p(x; alpha), P the regularized lower incomplete
    gamma function. From P's series P = x^a e^-x / Gamma(a+1) * S, S = sum_n x^n / ((a+1)..(a+n)),
    it is -(x / a) * (S * (log x - digamma(a + 1)) + dS/da). Large alphas use the Wilson-Hilferty
    approximation (x = a (1 - 1/(9a) + z / (3 sqrt a))^3 at fixed z)."""
    from .backend.numpy_special import digamma

    x64, a64 = x.astype(np.float64), alpha.astype(np.float64)
    out = np.empty_like(x64)
    big = a64 > 1000
    if big.any():
        a, xb = a64[big], x64[big]
        z = (np.cbrt(xb / a) - 1 + 1 / (9 * a)) * 3 * np.sqrt(a)
        u = 1 - 1 / (9 * a) + z / (3 * np.sqrt(a))
        out[big] = u**3 + 3 * a * u**2 * (1 / (9 * a * a) - z / (6 * a**1.5))
    small = ~big
    if small.any():
        a, xs = a64[small], x64[small]
        # terms shrink geometrically once n exceeds x - a: a few standard deviations more
        n_max = int(np.ceil(np.max(np.maximum(xs - a, 0) + 10 * np.sqrt(np.maximum(xs, 1)))))
        t, total, harmonic, d_total = np.ones_like(xs), np.ones_like(xs), np.zeros_like(xs), 0.0
        for n in range(1, n_max + 40):  # a loop over series terms, vectorised over samples
            t = t * xs / (a + n)
            harmonic = harmonic + 1 / (a + n)
            total = total + t
            d_total = d_total - t * harmonic
        with np.errstate(divide="ignore", invalid="ignore"):
            out[small] = -(xs / a) * (total * (np.log(xs) - digamma(a + 1)) + d_total)
    return out.astype(x.dtype)


def _standard_gamma_grad(self: Tensor, output: Tensor) -> Tensor:
    """The derivative of ``_standard_gamma(self)``'s samples ``output`` with respect to the
    concentration ``self`` (torch's ``_standard_gamma_grad``)."""
    return Tensor._make(_on(_gamma_sample_grad(_host(output._data), _host(self._data)),
                            self._data))


class StandardGamma(Op, name="StandardGammaBackward0"):
    @staticmethod
    def forward(ctx, alpha, *, rng):
        x = rng.standard_gamma(_host(alpha).astype(np.float64)).astype(alpha.dtype)
        # torch clamps to the smallest positive normal number, so log(x) stays finite
        x = _on(np.maximum(x, np.finfo(alpha.dtype).tiny), alpha)
        ctx.save_for_backward(alpha, x)
        return x

    @staticmethod
    def backward(ctx, g):
        alpha, x = ctx.saved_tensors
        return g * _standard_gamma_grad(alpha.detach(), x.detach())


def _standard_gamma(input: Tensor, generator: Generator | None = None) -> Tensor:
    """Samples of Gamma(input, 1), reparametrized: differentiable in ``input``."""
    if not input.is_floating_point():
        raise RuntimeError(f'"gamma_cpu" not implemented for \'{type_name(input)}\'')
    return StandardGamma.apply(input, rng=_gen(generator, input))


__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "rand", "randn", "randint", "randperm", "rand_like",
           "randn_like", "randint_like", "normal", "bernoulli", "multinomial", "_standard_gamma",
           "_standard_gamma_grad"]

TENSOR_METHODS = {
    "uniform_": uniform_, "normal_": normal_, "bernoulli_": bernoulli_,
    "exponential_": exponential_, "cauchy_": cauchy_, "log_normal_": log_normal_,
    "geometric_": geometric_, "random_": random_, "bernoulli": _bernoulli_method,
    "multinomial": multinomial,
}
for _name, _fn in TENSOR_METHODS.items():
    setattr(Tensor, _name, _fn)
