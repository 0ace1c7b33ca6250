"""``torch.nn.utils.rnn``: variable-length sequences for the recurrent layers.

A ``PackedSequence`` stores the steps of a batch of sequences sorted by length, longest first,
time-major: ``data`` holds step 0 of every sequence, then step 1 of those still running, and so
on; ``batch_sizes[t]`` says how many run at step ``t``. The recurrent layers accept one and run
only the running rows at each step.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from ...backend import backend_of
from ...creation import tensor as _tensor
from ...dtypes import int64
from ...ops.arrange import cat, stack
from ...ops.recurrent import PackPaddedSequence
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(PackedSequence_):
    """Holds the data and batch sizes of a packed batch of sequences (see the module)."""

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)
        # (data, batch_sizes) passed as one tuple, as torch allows
        return super().__new__(cls, data[0], data[1], sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(...)``; the index tensors stay on the CPU."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(data, self.batch_sizes,
                                                         self.sorted_indices,
                                                         self.unsorted_indices)

    def _cast(self, name: str) -> PackedSequence:
        return type(self)(getattr(self.data, name)(), self.batch_sizes, self.sorted_indices,
                          self.unsorted_indices)

    def cpu(self) -> PackedSequence:
        return self

    def double(self) -> PackedSequence:
        return self._cast("double")

    def float(self) -> PackedSequence:
        return self._cast("float")

    def half(self) -> PackedSequence:
        return self._cast("half")

    def long(self) -> PackedSequence:
        return self._cast("long")

    def int(self) -> PackedSequence:
        return self._cast("int")

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of an index permutation (``None`` stays ``None``)."""
    if permutation is None:
        return None
    p = permutation._data
    inv = backend_of(p).xp.empty_like(p)
    inv[p] = backend_of(p).xp.arange(p.size, dtype=p.dtype)
    return Tensor._make(inv)


def _layout(batch_sizes: Any) -> tuple:
    """For batch sizes ``(T,)``: the packed row of each ``(t, b)`` (``N`` where padded) and the
    flat ``t * B + b`` position of each packed row."""
    xp = backend_of(batch_sizes).xp
    sizes = batch_sizes.astype(xp.int64)
    T, B = sizes.size, int(sizes[0]) if sizes.size else 0
    offsets = xp.concatenate([xp.zeros(1, dtype=xp.int64), xp.cumsum(sizes)[:-1]])
    cols = xp.arange(B, dtype=xp.int64)
    valid = cols[None, :] < sizes[:, None]
    rows = xp.where(valid, offsets[:, None] + cols[None, :], int(sizes.sum()))
    flat = xp.flatnonzero(valid.ravel())
    return rows, flat, T, B


def _packed_to_padded(data: Tensor, batch_sizes: Tensor) -> tuple:
    """Packed ``(N, *)`` data as padded ``(T, B, *)`` (zeros past each end), and the sizes."""
    rows, _, T, B = _layout(batch_sizes._data)
    padded = cat([data, data.new_zeros((1,) + tuple(data.shape[1:]))], 0)
    x = padded.index_select(0, Tensor._make(rows.ravel())).reshape(T, B, *data.shape[1:])
    return x, tuple(int(n) for n in batch_sizes._data)


def _padded_to_packed(x: Tensor, batch_sizes: Tensor) -> Tensor:
    """A layer's padded ``(T, B, *)`` output back to packed ``(N, *)``: the running rows of each
    step, concatenated (so the node is torch's CatBackward0)."""
    return cat([x[t, :int(n)] for t, n in enumerate(batch_sizes._data)], 0)


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Packs a padded batch ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``) of sequences of
    the given ``lengths``. With ``enforce_sorted=False`` the batch is sorted here and the
    permutation kept in the result."""
    lens = _tensor(lengths._data if isinstance(lengths, Tensor) else list(lengths),
                   dtype=int64)._data
    xp = backend_of(lens).xp
    if enforce_sorted:
        if lens.size > 1 and (xp.diff(lens) > 0).any():
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        sorted_indices = None
    else:
        order = xp.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = Tensor._make(order.astype(xp.int64))
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    T = int(lens[0]) if lens.size else 0
    if T > input.size(0):
        raise RuntimeError(f"Expected sequence length to be at most {input.size(0)}, but got "
                           f"{T}")
    steps = xp.arange(T)
    batch_sizes = (lens[None, :] > steps[:, None]).sum(axis=1).astype(xp.int64)
    _, flat, _, _ = _layout(batch_sizes)
    data = PackPaddedSequence.apply(input if T == input.size(0) else input[:T], rows=flat)
    return PackedSequence(data, Tensor._make(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length: int | None = None) -> tuple:
    """Unpacks a ``PackedSequence`` to ``(padded, lengths)``: ``(T, B, *)`` (``(B, T, *)`` with
    ``batch_first``), in the batch order the sequences had before packing."""
    sizes = sequence.batch_sizes._data
    xp = backend_of(sizes).xp
    T = sizes.size
    if total_length is not None:
        if total_length < T:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
    x, _ = _packed_to_padded(sequence.data, sequence.batch_sizes)
    if padding_value != 0:
        rows, _, _, B = _layout(sizes)
        pad = Tensor._make((rows == int(sizes.sum())).reshape(T, B, *([1] * (x.dim() - 2))))
        x = x.masked_fill(pad, padding_value)
    if total_length is not None and total_length > T:
        extra = x.new_full((total_length - T,) + tuple(x.shape[1:]), padding_value)
        x = cat([x, extra], 0)
    B = int(sizes[0]) if T else 0
    lengths = (sizes[:, None] > xp.arange(B)[None, :]).sum(axis=0).astype(xp.int64)
    lengths = Tensor._make(lengths)
    if sequence.unsorted_indices is not None:
        x = x.index_select(1, sequence.unsorted_indices)
        lengths = Tensor._make(lengths._data[sequence.unsorted_indices._data])
    if batch_first:
        x = x.transpose(0, 1)
    return x, lengths


def pad_sequence(sequences: Any, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stacks tensors ``(L_i, *)`` into ``(L_max, B, *)`` (``(B, L_max, *)`` with
    ``batch_first``), padding each with ``padding_value`` on ``padding_side``."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    longest = max(s.size(0) for s in sequences)
    rows = []
    for s in sequences:
        short = longest - s.size(0)
        if short:
            fill = s.new_full((short,) + tuple(s.shape[1:]), padding_value)
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False) -> list:
    """The inverse of :func:`pad_sequence`: a list of ``(L_i, *)`` tensors."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(n)] for seq, n in zip(padded_sequences.unbind(0), lengths._data)]


def pack_sequence(sequences: Iterable[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of ``(L_i, *)`` tensors (longest first unless ``enforce_sorted=False``)."""
    sequences = list(sequences)
    lengths = [s.size(0) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The inverse of :func:`pack_sequence`: a list of ``(L_i, *)`` tensors."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)

from ..._device_guard import guard_namespace as _guard_namespace  # noqa: E402

_guard_namespace(__name__)
