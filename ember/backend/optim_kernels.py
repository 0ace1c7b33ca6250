"""Optimizer update kernels: each optimizer's update of one parameter as a few in-place array
operations, with no op dispatch (torch's ``foreach`` idea, one parameter at a time).

``ember.optim`` gathers each step's parameters, gradients and state and calls one kernel per
parameter through the parameter's backend (``backend_of(param).optim.adam(...)``); the optimizer
keeps the autograd side (version counters, new state tensors). A backend carries an
``OptimKernels`` over its array module, so a CuPy backend offers the same names.

Each kernel performs torch's single-tensor update (``torch/optim/adam.py``'s
``_single_tensor_adam`` and the like) operation by operation, in torch's order, so that every
intermediate rounds as it does there and in ember's Tensor ops: an in-place Tensor op is an
``out=`` write into the state array, an out-of-place one a new temporary. A temporary is reused in
place only where that keeps the value and dtype the out-of-place op would give (``_then``): a
state tensor loaded with a wider dtype than its parameter widens the intermediates it takes part
in, exactly as promotion does on Tensors.

Scalar state (step counters, NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``) are 0-d arrays
written in place; their values enter the formulas as Python floats, as torch's non-capturable
path reads them with ``.item()``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

Array = Any  # an array of the kernels' array module

_NUMBER = (int, float)


def _then(ufunc: Callable, t: Array, x: Any) -> Array:
    """``ufunc(t, x)`` for a temporary ``t``: into ``t`` when the result has ``t``'s dtype and
    shape (``x`` a Python number or an array like ``t``), a new array otherwise."""
    if type(x) in _NUMBER or (x.dtype == t.dtype and x.shape == t.shape):
        return ufunc(t, x, out=t)
    return ufunc(t, x)


def _tick(step: Array) -> float:
    """``step_t += 1``, then the step as a number (``step_t.item()``)."""
    step += 1
    return step.item()


class OptimKernels:
    """The per-parameter updates of ``ember.optim``'s optimizers on arrays of ``xp``.

    Each kernel writes the parameter and its state arrays in place and returns None (SGD returns
    the momentum buffer it starts on the first step). Gradients are never written.
    """

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    # -- shared steps --------------------------------------------------------------------------
    def _grad(self, param: Array, grad: Array, weight_decay: float, maximize: bool) -> Array:
        """The gradient the update uses: negated to maximize, plus the L2 term
        (``grad.add(param, alpha=weight_decay)``)."""
        xp = self.xp
        if maximize:
            grad = xp.negative(grad)
        if weight_decay != 0:
            # param * weight_decay + grad (addition commutes exactly), the new array reused
            grad = _then(xp.add, param * weight_decay, grad)
        return grad

    def _scaled(self, x: Array, alpha: float, like: Array) -> Array:
        """``x * alpha`` as ``like.add_(x, alpha=alpha)`` computes it: in the common dtype of
        ``x`` and ``like`` (a narrower state is widened first, then scaled)."""
        if x.dtype != like.dtype:
            x = x.astype(self.xp.result_type(x, like))
        return x * alpha

    def _lerp(self, t: Array, end: Array, weight: float) -> None:
        """``t.lerp_(end, weight)``: torch switches formula at 0.5 so both ends are exact."""
        xp = self.xp
        d = end - t
        if weight < 0.5:
            d *= weight
            xp.add(t, d, out=t)
        else:
            d *= 1 - weight
            xp.subtract(end, d, out=t)

    def _addcmul(self, t: Array, t1: Array, t2: Array, value: float = 1) -> None:
        """``t.addcmul_(t1, t2, value=value)`` as ``t + (value * t1) * t2``: torch's order (its
        CPU kernel fuses the final add, so float32 results may differ by an ulp)."""
        xp = self.xp
        p = _then(xp.multiply, t1 * value, t2) if value != 1 else t1 * t2
        xp.add(t, p, out=t)

    def _addcdiv(self, t: Array, t1: Array, t2: Array, value: float = 1) -> None:
        """``t.addcdiv_(t1, t2, value=value)`` as ``t + (value * t1) / t2``."""
        xp = self.xp
        q = _then(xp.divide, t1 * value, t2) if value != 1 else t1 / t2
        xp.add(t, q, out=t)

    # -- the optimizers ------------------------------------------------------------------------
    def sgd(self, param: Array, grad: Array, buf: Array | None, *, lr: float,
            weight_decay: float, momentum: float, dampening: float, nesterov: bool,
            maximize: bool) -> Array | None:
        """SGD with optional (Nesterov) momentum; returns the momentum buffer, a copy of the
        gradient on the first step (``buf`` None), as torch starts it."""
        xp = self.xp
        grad = self._grad(param, grad, weight_decay, maximize)
        if momentum != 0:
            if buf is None:
                buf = grad.copy()
            else:
                buf *= momentum
                xp.add(buf, self._scaled(grad, 1 - dampening, buf) if dampening != 0 else grad,
                       out=buf)
            grad = _then(xp.add, self._scaled(buf, momentum, grad), grad) if nesterov else buf
        xp.add(param, self._scaled(grad, -lr, param), out=param)
        return buf

    def adam(self, param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array,
             max_exp_avg_sq: Array | None, step: Array, *, lr: float, beta1: float,
             beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
             decoupled_weight_decay: bool) -> None:
        """Adam, AMSGrad with ``max_exp_avg_sq``, AdamW with ``decoupled_weight_decay``."""
        xp = self.xp
        if decoupled_weight_decay and weight_decay != 0:
            grad = self._grad(param, grad, 0, maximize)
            param *= 1 - lr * weight_decay
        else:
            grad = self._grad(param, grad, weight_decay, maximize)
        n = _tick(step)
        self._lerp(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        self._addcmul(exp_avg_sq, grad, grad, 1 - beta2)
        # the bias corrections in Python floats, as torch's non-capturable path
        step_size = lr / (1 - beta1**n)
        bias_correction2_sqrt = (1 - beta2**n) ** 0.5
        if amsgrad:
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            exp_avg_sq = max_exp_avg_sq
        denom = xp.sqrt(exp_avg_sq)
        denom /= bias_correction2_sqrt
        denom += eps
        self._addcdiv(param, exp_avg, denom, -step_size)

    def adamax(self, param: Array, grad: Array, exp_avg: Array, exp_inf: Array, step: Array, *,
               lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
               maximize: bool) -> None:
        """Adamax: Adam with the infinity norm."""
        xp = self.xp
        n = _tick(step)
        grad = self._grad(param, grad, weight_decay, maximize)
        self._lerp(exp_avg, grad, 1 - beta1)
        exp_inf *= beta2
        norm = xp.abs(grad)
        norm += eps
        xp.maximum(exp_inf, norm, out=exp_inf)
        self._addcdiv(param, exp_avg, exp_inf, -lr / (1 - beta1**n))

    def nadam(self, param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array,
              mu_product: Array, step: Array, *, lr: float, beta1: float, beta2: float,
              eps: float, weight_decay: float, momentum_decay: float,
              decoupled_weight_decay: bool, maximize: bool) -> None:
        """NAdam (NAdamW with ``decoupled_weight_decay``); ``mu_product`` is 0-d."""
        xp = self.xp
        n = _tick(step)
        bias_correction2 = 1 - beta2**n
        if decoupled_weight_decay and weight_decay != 0:
            grad = self._grad(param, grad, 0, maximize)
            param *= 1 - lr * weight_decay
        else:
            grad = self._grad(param, grad, weight_decay, maximize)
        # the momentum schedule of Dozat's paper; the product kept in the scalar dtype
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (n * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((n + 1) * momentum_decay)))
        mu_product *= mu
        self._lerp(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        self._addcmul(exp_avg_sq, grad, grad, 1 - beta2)
        denom = xp.sqrt(exp_avg_sq / bias_correction2)
        denom += eps
        mu_prod = mu_product.item()
        self._addcdiv(param, grad, denom, -lr * (1.0 - mu) / (1.0 - mu_prod))
        self._addcdiv(param, exp_avg, denom, -lr * mu_next / (1.0 - mu_prod * mu_next))

    def radam(self, param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array, step: Array,
              *, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
              decoupled_weight_decay: bool, maximize: bool) -> None:
        """RAdam: Adam whose adaptive step is rectified, plain momentum SGD while the variance
        of the adaptive rate is intractable (the first steps)."""
        xp = self.xp
        n = _tick(step)
        if decoupled_weight_decay and weight_decay != 0:
            grad = self._grad(param, grad, 0, maximize)
            param *= 1 - lr * weight_decay
        else:
            grad = self._grad(param, grad, weight_decay, maximize)
        self._lerp(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        self._addcmul(exp_avg_sq, grad, grad, 1 - beta2)
        bias_correction1 = 1 - beta1**n
        bias_correction2 = 1 - beta2**n
        update = exp_avg / bias_correction1
        update *= lr
        # the length of the approximated simple moving average, and its limit
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * n * (beta2**n) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            # sqrt(bias_correction2) / (sqrt(v) + eps), as torch's ``float / Tensor``:
            # reciprocal, then a product
            adaptive = xp.sqrt(exp_avg_sq)
            adaptive += eps
            adaptive = xp.divide(1, adaptive, out=adaptive)
            adaptive *= bias_correction2**0.5
            update = _then(xp.multiply, update, adaptive)
            update *= rect
        xp.subtract(param, update, out=param)  # param.add_(update, alpha=-1.0)

    def rmsprop(self, param: Array, grad: Array, square_avg: Array, grad_avg: Array | None,
                momentum_buffer: Array | None, step: Array, *, lr: float, alpha: float,
                eps: float, weight_decay: float, momentum: float, centered: bool,
                maximize: bool) -> None:
        """RMSprop, centered with ``grad_avg``, with momentum into ``momentum_buffer``."""
        xp = self.xp
        grad = self._grad(param, grad, weight_decay, maximize)
        step += 1  # (never read: no .item(), so a step of any size passes, as in torch)
        square_avg *= alpha
        self._addcmul(square_avg, grad, grad, 1 - alpha)
        if centered:
            self._lerp(grad_avg, grad, 1 - alpha)
            avg = square_avg - grad_avg * grad_avg
            xp.sqrt(avg, out=avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            momentum_buffer *= momentum
            self._addcdiv(momentum_buffer, grad, avg)
            xp.add(param, self._scaled(momentum_buffer, -lr, param), out=param)
        else:
            self._addcdiv(param, grad, avg, -lr)

    def adagrad(self, param: Array, grad: Array, state_sum: Array, step: Array, *, lr: float,
                weight_decay: float, lr_decay: float, eps: float, maximize: bool) -> None:
        """Adagrad with a learning rate decayed by the step count."""
        xp = self.xp
        n = _tick(step)
        grad = self._grad(param, grad, weight_decay, maximize)
        clr = lr / (1 + (n - 1) * lr_decay)
        self._addcmul(state_sum, grad, grad)
        std = xp.sqrt(state_sum)
        std += eps
        self._addcdiv(param, grad, std, -clr)

    def adadelta(self, param: Array, grad: Array, square_avg: Array, acc_delta: Array,
                 step: Array, *, lr: float, rho: float, eps: float, weight_decay: float,
                 maximize: bool) -> None:
        """Adadelta."""
        xp = self.xp
        step += 1
        grad = self._grad(param, grad, weight_decay, maximize)
        square_avg *= rho
        self._addcmul(square_avg, grad, grad, 1 - rho)
        std = square_avg + eps
        xp.sqrt(std, out=std)
        # acc_delta.add(eps).sqrt_().div_(std).mul_(grad): in place, so delta keeps acc_delta's
        # dtype whatever std's and grad's
        delta = acc_delta + eps
        xp.sqrt(delta, out=delta)
        xp.divide(delta, std, out=delta)
        xp.multiply(delta, grad, out=delta)
        acc_delta *= rho
        self._addcmul(acc_delta, delta, delta, 1 - rho)
        xp.add(param, self._scaled(delta, -lr, param), out=param)

    def asgd(self, param: Array, grad: Array, ax: Array, eta: Array, mu: Array, step: Array, *,
             lr: float, lambd: float, alpha: float, t0: float, weight_decay: float,
             maximize: bool, scalar_dtype: Any) -> None:
        """Averaged SGD; ``eta`` and ``mu`` are 0-d, their new values made in ``scalar_dtype``
        first (torch's ``as_tensor`` of a Python float), then copied in."""
        xp = self.xp
        n = _tick(step)
        grad = self._grad(param, grad, weight_decay, maximize)
        eta_value = eta.item()
        param *= 1 - lambd * eta_value  # the decay term
        xp.add(param, grad * -eta_value, out=param)
        mu_value = mu.item()
        if mu_value != 1:  # averaging
            d = param - ax
            d *= mu_value
            xp.add(ax, d, out=ax)
        else:
            ax[...] = param
        for state, value in ((eta, lr / ((1 + lambd * lr * n) ** alpha)),
                             (mu, 1 / max(1, n - t0))):
            new = np.asarray(value, dtype=scalar_dtype)
            # (eta and mu stay on the host with the step counter, as torch keeps them)
            state[...] = new if type(state) is np.ndarray else xp.asarray(new)

    def rprop(self, param: Array, grad: Array, prev: Array, step_size: Array, step: Array, *,
              etaminus: float, etaplus: float, step_size_min: float, step_size_max: float,
              maximize: bool) -> None:
        """Rprop: each step size grows where the gradient kept its sign and shrinks where it
        flipped; where it flipped the parameter stays and the next step sees a zero gradient."""
        xp = self.xp
        step += 1
        grad = self._grad(param, grad, 0, maximize)
        if prev.dtype.kind in "biu":  # torch's promotion: a float times an integer stays float
            prev_ = prev.astype(grad.dtype)
        else:
            prev_ = prev
        # the factor of each step size, from the sign of grad * prev (0 at NaN, as torch's sign)
        product = grad * prev_
        flipped = product < 0
        dt = product.dtype
        factor = xp.where(product > 0, xp.asarray(etaplus, dtype=dt),
                          xp.where(flipped, xp.asarray(etaminus, dtype=dt),
                                   xp.asarray(1.0, dtype=dt)))
        step_size *= factor
        # clamp_: max, then min, so NaN propagates as in torch
        xp.maximum(step_size, step_size_min, out=step_size)
        xp.minimum(step_size, step_size_max, out=step_size)
        grad = xp.where(flipped, xp.zeros((), dtype=grad.dtype), grad)
        self._addcmul(param, self._sign(grad), step_size, -1)
        prev[...] = grad

    def _sign(self, x: Array) -> Array:
        # torch's sign is 0 at nan and +0 at -0.0, where the array module's gives nan and -0.0
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)
