"""Recurrent layers as fused ops: one node runs one layer in one direction over every time step.

``RnnLayer.apply(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, mode=..., reverse=..., sizes=...)``
with ``x`` ``(T, B, I)`` returns ``(y, h_T, c_T)``: the hidden states of every step ``(T, B, H)``
and the final ones. The input projections of all steps are one GEMM; each step adds one GEMM for
the hidden path, the gates being columns of one ``(B, G*H)`` product (torch's gate orders: LSTM
``i, f, g, o``; GRU ``r, z, n``). ``sizes`` (a packed sequence's batch sizes, sorted descending)
runs only the first ``sizes[t]`` rows at step ``t``; the other rows keep their state and output 0.

The step and its back-propagation through time are written once (``_forward_steps``,
``_bptt``) over a small carrier (``_ArrayCarrier``: backend arrays; ``_TensorCarrier``: ember
ops). A plain backward runs them on the arrays forward saved. On arrays the steps work in
Fortran order (``_ArrayCarrier.mm_t``, ``state``): the hidden path's GEMMs in OpenBLAS's faster
order, and no elementwise pass mixing layouts. Under ``create_graph`` the steps are
recomputed with ember ops from the saved inputs and the same BPTT is recorded, so it
differentiates again.
"""
from __future__ import annotations

from typing import Any

from ..backend import backend_of
from ..graph import grad_mode
from ..tensor import Tensor
from ._op import Op


class _ArrayCarrier:
    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def sigmoid(self, a: Any) -> Any:
        # (1 + tanh(a / 2)) / 2: no overflow for very negative a, and one fast pass (a quarter of
        # the cost of the two-branch exp form on a (20, 1024) float32 block)
        half = a.dtype.type(0.5)
        t = a * half
        self.xp.tanh(t, out=t)
        t *= half
        t += half
        return t

    def lstm_acts(self, gates: Any, H: int) -> Any:
        """The LSTM gates' activations in one ``(B, 4H)`` array: sigmoid for the ``i, f, o``
        blocks, tanh for ``g`` (written over its block: one array, in the steps' layout)."""
        act = self.sigmoid(gates)
        self.xp.tanh(gates[:, 2 * H:3 * H], out=act[:, 2 * H:3 * H])
        return act

    def lstm_slopes(self, act: Any, H: int) -> Any:
        """Each activation's derivative from its value: ``s - s*s`` for a sigmoid, ``1 - g*g``
        for tanh's ``g`` block; four passes instead of a product chain per gate."""
        xp = self.xp
        d = act * act
        xp.subtract(act, d, out=d)
        g, dg = act[:, 2 * H:3 * H], d[:, 2 * H:3 * H]
        xp.multiply(g, g, out=dg)
        xp.subtract(act.dtype.type(1), dg, out=dg)
        return d

    def tanh(self, a: Any) -> Any:
        return self.xp.tanh(a)

    def relu(self, a: Any) -> Any:
        return self.xp.maximum(a, 0)

    def positive(self, a: Any) -> Any:
        return (a > 0).astype(a.dtype)

    def cat(self, items: list, axis: int) -> Any:
        return self.xp.concatenate(items, axis=axis)

    def stack(self, items: list) -> Any:
        return self.xp.stack(items)

    def t(self, a: Any) -> Any:
        return a.T

    @staticmethod
    def mm_t(a: Any, w: Any) -> Any:
        """``a @ w.T``, computed as ``(w @ a.T).T``: with ``a`` a few rows (the batch) OpenBLAS
        splits this order's long side over its threads (with two, a (1024, 256) @ (256, 20)
        GEMM takes ~63 µs against ~85 µs for (20, 256) @ (256, 1024); the same on one). The
        result is Fortran-ordered, so each gate's columns are one contiguous block."""
        return (w @ a.T).T

    def right(self, w: Any) -> Any:
        """``w`` made ready to be ``mm``'s right operand at every step: its transpose, copied
        contiguous once (each step's GEMM then reads it in its fast order: 41 µs against 52 µs
        for a (20, 1024) @ (1024, 256) step)."""
        return self.xp.ascontiguousarray(w.T)

    @staticmethod
    def mm(a: Any, wt: Any) -> Any:
        """``a @ w`` for ``wt = right(w)``, computed as ``(wt @ a.T).T`` (the hidden path's
        backward; as ``mm_t``)."""
        return (wt @ a.T).T

    def state(self, a: Any) -> Any:
        """A carried state (``h``, ``c`` or their gradients) in the steps' layout (Fortran
        order, as ``mm_t`` returns): an elementwise pass mixing C- and Fortran-ordered operands
        costs 2-5x one on a single layout."""
        return a if a is None else self.xp.asfortranarray(a)

    def sum0(self, a: Any) -> Any:
        if a.dtype.kind != "f" or a.dtype.itemsize < 4 or a.ndim != 2 or not a.shape[0]:
            return a.sum(axis=0)
        # ``ones(1, k) @ rows``: GEMMs that read the (T * B, G) gradients along their contiguous
        # axis, whichever order they are in (numpy's sum down a Fortran-ordered matrix takes
        # ~2x as long; ``rows`` gives them so), in blocks of rows small enough for OpenBLAS to
        # stay on one thread (a threaded call can wait milliseconds for its partner on a busy
        # machine, as ``NumpyBackend.sum_rows`` notes)
        R, W = a.shape
        k = max(1, (1 << 17) // max(W, 1))
        ones = self.xp.ones((1, min(k, R)), dtype=a.dtype)
        out = ones @ a[:k]
        for r in range(k, R, k):
            out += ones[:, :min(k, R - r)] @ a[r:r + k]
        return out[0]

    def copy(self, a: Any) -> Any:
        return a.copy()

    def zeros(self, like: Any, shape: tuple) -> Any:
        return self.xp.zeros(shape, dtype=like.dtype)

    def steps(self, a: Any) -> Any:
        """``a`` (T, B, X) laid out so that each step ``a[t]`` is Fortran-ordered (``state``)."""
        return self.xp.ascontiguousarray(a.transpose(0, 2, 1)).transpose(0, 2, 1)

    def rows(self, items: list, B: int, width: int, like: Any) -> Any:
        """The steps' ``(n_t, width)`` blocks as the rows of one ``(T * B, width)`` matrix, each
        step padded with zero rows to ``B``: the transpose of a C-ordered ``(width, T * B)``
        array, so that each Fortran-ordered block is one contiguous copy."""
        T = len(items)
        short = any(d.shape[0] != B for d in items)
        out = (self.xp.zeros if short else self.xp.empty)((width, T, B), dtype=like.dtype)
        for t, d in enumerate(items):
            out[:, t, :d.shape[0]] = d.T
        return out.reshape(width, T * B).T


class _TensorCarrier:
    def __init__(self, xp: Any) -> None:
        self.xp = xp

    sigmoid = staticmethod(lambda a: a.sigmoid())
    tanh = staticmethod(lambda a: a.tanh())
    relu = staticmethod(lambda a: a.relu())
    t = staticmethod(lambda a: a.t())
    mm_t = staticmethod(lambda a, w: a @ w.t())
    mm = staticmethod(lambda a, w: a @ w)
    right = staticmethod(lambda w: w)
    state = staticmethod(lambda a: a)
    copy = staticmethod(lambda a: a.clone())
    sum0 = staticmethod(lambda a: a.sum(0))

    def lstm_acts(self, gates: Tensor, H: int) -> Tensor:
        s = gates.sigmoid()
        return self.cat([s[:, :2 * H], gates[:, 2 * H:3 * H].tanh(), s[:, 3 * H:]], 1)

    def lstm_slopes(self, act: Tensor, H: int) -> Tensor:
        d = act - act * act
        g = act[:, 2 * H:3 * H]
        return self.cat([d[:, :2 * H], 1 - g * g, d[:, 3 * H:]], 1)

    def positive(self, a: Tensor) -> Tensor:
        return Tensor._make((a._data > 0).astype(a._data.dtype))

    def cat(self, items: list, axis: int) -> Tensor:
        from .arrange import cat
        return cat(items, axis)

    def stack(self, items: list) -> Tensor:
        from .arrange import stack
        return stack(items)

    def zeros(self, like: Tensor, shape: tuple) -> Tensor:
        return Tensor._make(backend_of(like._data).xp.zeros(shape, dtype=like._data.dtype))

    steps = staticmethod(lambda a: a)

    def rows(self, items: list, B: int, width: int, like: Tensor) -> Tensor:
        if not items:
            return self.zeros(like, (0, width))
        padded = [d if d.shape[0] == B else self.cat([d, self.zeros(d, (B - d.shape[0], width))], 0)
                  for d in items]
        return self.stack(padded).reshape(len(items) * B, width)


def _hidden(mode: str, w_hh: Any) -> int:
    """The hidden size: ``w_hh`` stacks one ``(H, H_out)`` block per gate."""
    return w_hh.shape[0] // {"LSTM": 4, "GRU": 3}.get(mode, 1)


def _order(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _merge(C: Any, new: Any, old: Any, n: int) -> Any:
    """``new`` for the first ``n`` rows, ``old`` for the rest (rows past a short sequence)."""
    return new if n == old.shape[0] else C.cat([new, old[n:]], 0)


def _forward_steps(C: Any, mode: str, x: Any, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any,
                   w_hr: Any, h0: Any, c0: Any, reverse: bool, sizes: tuple) -> tuple:
    """Runs the layer; returns ``(ys, h, c, saved)``, ``ys`` a list of per-step outputs
    (``(n_t, H)``, in time order) and ``saved`` per step (in time order) what BPTT reads."""
    T, B = x.shape[0], x.shape[1]
    # LSTM and RNN add b_hh to every step's gates: it joins b_ih once, outside the loop (GRU
    # needs it apart: r multiplies the hidden path's n block with its bias)
    fold = mode != "GRU" and b_hh is not None
    bias = b_ih if not fold else b_hh if b_ih is None else b_ih + b_hh
    xi = C.mm_t(x.reshape(T * B, x.shape[2]), w_ih)  # all input projections: one GEMM
    if bias is not None:
        xi = xi + bias
    xi = xi.reshape(T, B, xi.shape[-1])
    h, c = C.state(h0), C.state(c0)
    ys: list = [None] * T
    saved: list = [None] * T
    H = _hidden(mode, w_hh)
    for t in _order(T, reverse):
        n = sizes[t]
        hp = h[:n] if n != h.shape[0] else h
        gh = C.mm_t(hp, w_hh)
        if b_hh is not None and not fold:
            gh = gh + b_hh
        gi = xi[t][:n] if n != xi.shape[1] else xi[t]
        if mode == "LSTM":
            act = C.lstm_acts(gi + gh, H)
            i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
            cp = c[:n] if n != c.shape[0] else c
            cn = f * cp + i * g
            tc = C.tanh(cn)
            hn = o * tc
            if w_hr is not None:
                m = hn
                hn = C.mm_t(m, w_hr)
            else:
                m = None
            saved[t] = (hp, cp, act, tc, m)
            c = _merge(C, cn, c, n)
        elif mode == "GRU":
            rz = C.sigmoid(gi[:, :2 * H] + gh[:, :2 * H])
            r, z = rz[:, :H], rz[:, H:]
            ghn = gh[:, 2 * H:]
            nn_ = C.tanh(gi[:, 2 * H:] + r * ghn)
            hn = (hp - nn_) * z + nn_  # (1 - z) * n + z * h, rounded as torch's
            saved[t] = (hp, r, z, nn_, ghn)
        else:
            pre = gi + gh
            hn = C.tanh(pre) if mode == "RNN_TANH" else C.relu(pre)
            saved[t] = (hp, hn)
        ys[t] = hn
        h = _merge(C, hn, h, n)
    return ys, h, c, saved


def _bptt(C: Any, mode: str, x: Any, w_ih: Any, w_hh: Any, w_hr: Any, saved: list,
          gys: Any, gh: Any, gc: Any, reverse: bool, sizes: tuple, needs: tuple) -> tuple:
    """Back-propagation through time; returns gradients for
    ``(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0)``."""
    T, B = x.shape[0], x.shape[1]
    dgi: list = [None] * T  # gradient of each step's input projection (n_t, G)
    dgh_all: list = [None] * T  # ... and of its hidden projection
    dw_hr = None
    gys = None if gys is None else C.steps(gys)
    gh, gc = C.state(gh), C.state(gc)
    H = _hidden(mode, w_hh)
    w_hh_r = C.right(w_hh)
    w_hr_r = None if w_hr is None else C.right(w_hr)
    for t in _order(T, not reverse):
        n = sizes[t]
        dh = gh[:n] if n != B else gh
        if gys is not None:
            dh = dh + (gys[t][:n] if n != B else gys[t])
        if mode == "LSTM":
            hp, cp, act, tc, m = saved[t]
            i, f, g, o = act[:, :H], act[:, H:2 * H], act[:, 2 * H:3 * H], act[:, 3 * H:]
            if w_hr is not None:
                dw_hr = C.t(dh) @ m if dw_hr is None else dw_hr + C.t(dh) @ m
                dh = C.mm(dh, w_hr_r)
            dc = gc[:n] if n != B else gc
            dc = dc + dh * o * (1 - tc * tc)
            dgates = C.cat([dc * g, dc * cp, dc * i, dh * tc], 1) * C.lstm_slopes(act, H)
            dgi[t] = dgh_all[t] = dgates
            gc = _merge(C, dc * f, gc, n)
        elif mode == "GRU":
            hp, r, z, nn_, ghn = saved[t]
            dn = dh * (1 - z) * (1 - nn_ * nn_)
            dz = dh * (hp - nn_) * z * (1 - z)
            dr = dn * ghn * r * (1 - r)
            dgi[t] = C.cat([dr, dz, dn], 1)
            dgh_all[t] = C.cat([dr, dz, dn * r], 1)
            dhp_direct = dh * z
        else:
            hp, hn = saved[t]
            dpre = dh * (1 - hn * hn) if mode == "RNN_TANH" else dh * C.positive(hn)
            dgi[t] = dgh_all[t] = dpre
        dhp = C.mm(dgh_all[t], w_hh_r)
        if mode == "GRU":
            dhp = dhp + dhp_direct
        gh = _merge(C, dhp, gh, n)
    need_x, need_wih, need_whh, need_bih, need_bhh, need_whr, need_h0, need_c0 = needs
    G = dgi[0].shape[1] if T else w_ih.shape[0]
    # the steps as rows of one (T * B, G) matrix (short steps padded with zeros), so that the
    # input-path gradients are one GEMM each
    dgi_all = C.rows(dgi, B, G, w_ih)
    xf = x.reshape(T * B, x.shape[2])
    gx = (dgi_all @ w_ih).reshape(T, B, x.shape[2]) if need_x else None
    gw_ih = C.t(dgi_all) @ xf if need_wih else None
    gb_ih = C.sum0(dgi_all) if need_bih else None
    gw_hh = gb_hh = None
    if need_whh or need_bhh:
        dgh_flat = C.rows(dgh_all, B, G, w_ih) if mode == "GRU" else dgi_all
        if need_whh:
            hp_flat = C.rows([s[0] for s in saved], B, w_hh.shape[1], w_hh)
            gw_hh = C.t(dgh_flat) @ hp_flat
        if need_bhh:
            gb_hh = C.copy(gb_ih) if need_bih and mode != "GRU" else C.sum0(dgh_flat)
    return (gx, gw_ih, gw_hh, gb_ih, gb_hh, dw_hr if need_whr else None,
            gh if need_h0 else None, gc if need_c0 and mode == "LSTM" else None)


class RnnLayer(Op, name="StackBackward0"):
    """One layer, one direction (see the module's docstring); outputs ``(y, h_T, c_T)``."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, *, mode, reverse, sizes):
        C = _ArrayCarrier(ctx.xp)
        T, B = x.shape[:2]
        sizes = sizes or (B,) * T
        ys, h, c, saved = _forward_steps(C, mode, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0,
                                         reverse, sizes)
        ctx.mode, ctx.reverse, ctx.sizes = mode, reverse, sizes
        if any(ctx.needs_input_grad):  # (inference keeps none of the steps)
            ctx.steps = saved
            ctx.save_for_backward(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0)
        Hout = h0.shape[1]
        y = ctx.xp.zeros((T, B, Hout), dtype=x.dtype)
        for t in range(T):  # short sequences leave zeros in their padded steps
            y[t, :sizes[t]] = ys[t]
        return y, h, (c if c is not None else ctx.xp.zeros((0,), dtype=x.dtype))

    @staticmethod
    def backward(ctx, gy, gh, gc):
        x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0 = ctx.saved_tensors
        mode, reverse, sizes = ctx.mode, ctx.reverse, ctx.sizes
        needs = tuple(ctx.needs_input_grad)
        if grad_mode.state.enabled:  # create_graph: recompute the steps with ember ops
            C: Any = _TensorCarrier(ctx.xp)
            _, _, _, saved = _forward_steps(C, mode, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0,
                                            reverse, sizes)
            gh = gh if gh is not None else C.zeros(h0, tuple(h0.shape))
            if mode == "LSTM":
                gc = gc if gc is not None else C.zeros(c0, tuple(c0.shape))
            grads = _bptt(C, mode, x, w_ih, w_hh, w_hr, saved, gy, gh, gc, reverse, sizes,
                          needs)
            return grads
        C = _ArrayCarrier(ctx.xp)
        d = (lambda t: None if t is None else t._data)
        h0d = h0._data
        ghd = d(gh) if gh is not None else ctx.xp.zeros_like(h0d)
        gcd = None
        if mode == "LSTM":
            gcd = d(gc) if gc is not None else ctx.xp.zeros_like(c0._data)
        grads = _bptt(C, mode, x._data, w_ih._data, w_hh._data, d(w_hr), ctx.steps, d(gy), ghd,
                      gcd, reverse, sizes, needs)
        return tuple(None if g is None else Tensor._make(g) for g in grads)


class MkldnnRnnLayer(RnnLayer, name="MkldnnRnnLayerBackward0"):
    """torch's node for a float32 LSTM layer without projections (its oneDNN kernel)."""


class TransposeInplace(Op, name="TransposeBackward1"):
    """Dims 0 and 1 swapped, as torch's composite RNNs swap a batch-first output in place
    (``transpose_``, whose node this is)."""

    @staticmethod
    def forward(ctx, a):
        return ctx.xp.swapaxes(a, 0, 1)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(0, 1)


class PackPaddedSequence(Op, name="PackPaddedSequenceBackward0"):
    """Rows of a padded ``(T, B, *)`` batch picked into packed order: ``rows`` are the flat
    ``t * B + b`` positions of the packed rows; the gradient goes back to them (zeros where
    padded), through ember ops so that it differentiates again."""

    @staticmethod
    def forward(ctx, x, *, rows):
        ctx.rows, ctx.shape = rows, x.shape
        return x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:])[rows]

    @staticmethod
    def backward(ctx, g):
        from .arrange import cat

        T, B = ctx.shape[:2]
        xp = ctx.xp
        # each padded position reads its packed row, or the appended zero row
        where = xp.full(T * B, g.shape[0], dtype=xp.int64)
        where[ctx.rows] = xp.arange(g.shape[0], dtype=xp.int64)
        padded = cat([g, g.new_zeros((1,) + tuple(g.shape[1:]))], 0)
        return padded.index_select(0, Tensor._make(where)).reshape(ctx.shape)


__all__: list = []
TENSOR_METHODS: dict = {}
