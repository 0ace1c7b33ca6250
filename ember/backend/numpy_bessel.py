"""Bessel functions of integer order 0 and 1 (J, Y, K and e^x K) and the Airy function Ai, as
whole-array float64 NumPy kernels (no SciPy).

Each function is split by argument into regions, each evaluated by a method that is accurate to
~1e-12 there, on its own elements only:

- small arguments: the power series (a fixed number of terms, whole-array Horner-free loops);
- large arguments: the asymptotic (Hankel) expansions, truncated before their smallest term;
- K between the two: its integral ``e^x K_nu(x) = int_0^inf exp(-x (cosh t - 1)) cosh(nu t) dt``
  by the trapezoidal rule, which converges exponentially for such analytic, doubly-decaying
  integrands (one array operation over all elements and nodes of a block).

The large-argument phases follow Cephes's (``x - pi/4``, ``x - 3 pi/4``, ``zeta + pi/4``), so
even huge arguments give torch's values. No Python loop visits elements.
"""
from __future__ import annotations

import math

import numpy as np

_EULER = 0.57721566490153286061
_2_PI = 2.0 / math.pi
_PIO4 = 0.78539816339744830962
_THPIO4 = 2.35619449019234492885
_SQ2OPI = 0.79788456080286535588  # sqrt(2 / pi)
_AI0 = 0.355028053887817239260  # Ai(0)
_DAI0 = 0.258819403792806798405  # -Ai'(0)
_AIRY_MAX = 103.892  # Ai underflows beyond it (torch returns 0 there)
_SERIES_J = 12.0  # J, Y: series below, Hankel's expansion from here
_SERIES_K = 2.0  # K: series below, the integral up to _ASYMPTOTIC_K, then the expansion
_ASYMPTOTIC_K = 17.0  # the expansion's smallest term there is ~e^-34
_BLOCK = 32768  # elements per pass: few Python-level calls, temporaries of a few MB
_ROWS = 2048  # elements per trapezoidal sum (times its ~80 nodes)


def _series_terms(q: float, limit: int) -> int:
    """How many terms of a series with term ratios q / (k (k + 1)) reach below 1e-18 of its
    largest term (the block's largest argument decides; at most ``limit``)."""
    term, top = 1.0, 1.0
    for k in range(1, limit):
        term *= q / (k * k)
        top = max(top, term)
        if term < 1e-18 * top:
            return k
    return limit


def _series_j(nu: int, x: np.ndarray, want_y: bool = True) -> tuple:
    """(J_nu(x), the Y series' extra sum) by their power series in (x/2)^2, 0 <= x < 12."""
    q = -(x * x) / 4.0
    term = np.ones_like(x) if nu == 0 else x / 2.0
    j = term.copy()
    # Y0: sum_{k>=1} (-1)^(k+1) H_k q^k/(k!)^2; Y1: sum_k (psi(k+1) + psi(k+2)) terms
    harmonic = 0.0
    extra = np.zeros_like(x) if nu == 0 else term * (-2 * _EULER + 1.0)
    for k in range(1, _series_terms(float(-q.min()), 40) + 1):
        term = term * q / (k * (k + nu))
        j = j + term
        if not want_y:
            continue
        harmonic += 1.0 / k
        if nu == 0:
            extra = extra - harmonic * term
        else:
            extra = extra + (2 * harmonic + 1.0 / (k + 1) - 2 * _EULER) * term
    return j, extra


def _hankel(nu: int, x: np.ndarray) -> tuple:
    """Hankel's P and Q for order ``nu`` at x >= 12 (24 terms: below their smallest)."""
    mu = 4.0 * nu * nu
    z = 1.0 / x
    a = np.ones_like(x)
    p, q = np.ones_like(x), np.zeros_like(x)
    for k in range(1, 25):
        a = a * (mu - (2 * k - 1) ** 2) * z / (8.0 * k)
        if k % 2:
            q = q + a * (1 if (k // 2) % 2 == 0 else -1)
        else:
            p = p + a * (1 if (k // 2) % 2 == 0 else -1)
        if k % 4 == 0 and float(np.abs(a).max()) < 1e-18:
            break  # (P and Q are ~1: the rest is below round-off, on every element)
    return p, q


def _jy(nu: int, x: np.ndarray, want_y: bool) -> np.ndarray:
    """J_nu(|x|) (or Y_nu(x), x > 0) of finite ``x``, float64, 1-d."""
    ax = np.abs(x)
    out = np.empty_like(ax)
    small = ax < _SERIES_J
    xs = ax[small]
    if xs.size:
        j, extra = _series_j(nu, xs, want_y)
        if not want_y:
            out[small] = j
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                log = np.log(xs / 2.0)
                if nu == 0:
                    y = _2_PI * ((log + _EULER) * j + extra)
                else:
                    y = _2_PI * (log * j - 1.0 / xs) - extra / math.pi
                    y = np.where(xs == 0, -np.inf, y)
            out[small] = y
    big = ~small
    xb = ax[big]
    if xb.size:
        p, q = _hankel(nu, xb)
        xn = xb - (_PIO4 if nu == 0 else _THPIO4)
        s, c = np.sin(xn), np.cos(xn)
        amp = _SQ2OPI / np.sqrt(xb)
        out[big] = amp * ((p * s + q * c) if want_y else (p * c - q * s))
    return out


def _finish(x: np.ndarray, out: np.ndarray, odd: bool = False, at_inf: float = math.nan,
            negative: float | None = None) -> np.ndarray:
    """The special values: nan at nan and -inf (torch's), ``at_inf`` at +inf, ``negative``
    (when given) for every x < 0; ``odd``: f(-x) = -f(x)."""
    if odd:
        out = np.where(x < 0, -out, out)
    out = np.where(x == math.inf, at_inf, out)
    if negative is not None:
        out = np.where(x < 0, negative, out)
    return np.where(np.isnan(x) | (x == -math.inf), math.nan, out)


def _run(core, x: np.ndarray) -> np.ndarray:
    """``core`` on float64 blocks of ``x``, cast back to ``x``'s dtype."""
    x = np.asarray(x)
    flat = x.reshape(-1).astype(np.float64)
    out = np.empty(flat.shape, np.float64)
    with np.errstate(all="ignore"):  # (K's infinities near 0 overflow float32 by design)
        for i in range(0, flat.size, _BLOCK):  # blocks of elements: bounded temporaries
            out[i:i + _BLOCK] = core(flat[i:i + _BLOCK])
        return out.reshape(x.shape).astype(x.dtype, copy=False)


def _finite(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), x, 1.0)


def bessel_j0(x: np.ndarray) -> np.ndarray:
    """J0(x), even in x; NaN at NaN and +-inf (torch's)."""
    return _run(lambda v: _finish(v, _jy(0, _finite(v), False)), x)


def bessel_j1(x: np.ndarray) -> np.ndarray:
    """J1(x), odd in x; NaN at NaN and +-inf."""
    return _run(lambda v: _finish(v, _jy(1, _finite(v), False), odd=True), x)


def _y(nu: int, v: np.ndarray) -> np.ndarray:
    pos = np.where(np.isfinite(v) & (v >= 0), v, 1.0)
    return _finish(v, _jy(nu, pos, True), negative=math.nan)


def bessel_y0(x: np.ndarray) -> np.ndarray:
    """Y0(x): -inf at 0, NaN for x < 0."""
    return _run(lambda v: _y(0, v), x)


def bessel_y1(x: np.ndarray) -> np.ndarray:
    """Y1(x): -inf at 0, NaN for x < 0."""
    return _run(lambda v: _y(1, v), x)


# -- K_0, K_1 and their scaled forms --------------------------------------------------------------


def _k_series(nu: int, x: np.ndarray) -> np.ndarray:
    """K_nu(x) for 0 < x <= 2 (Abramowitz & Stegun 9.6.11), with I_nu by its own series."""
    q = x * x / 4.0
    term = np.ones_like(x) if nu == 0 else x / 2.0
    i = term.copy()
    # K0: sum psi(k+1) q^k/(k!)^2; K1: -(x/4) sum (psi(k+1) + psi(k+2)) q^k/(k!(k+1)!)
    psi = -_EULER
    acc = psi * term if nu == 0 else (2 * psi + 1.0) * np.ones_like(x)
    t1 = np.ones_like(x)
    for k in range(1, 30):
        term = term * q / (k * (k + nu))
        i = i + term
        psi += 1.0 / k
        if nu == 0:
            acc = acc + psi * term
        else:
            t1 = t1 * q / (k * (k + 1))
            acc = acc + (2 * psi + 1.0 / (k + 1)) * t1
    log = np.log(x / 2.0)
    if nu == 0:
        return -log * i + acc
    return 1.0 / x + log * i - x / 4.0 * acc


def _k_integral(nu: float, x: np.ndarray) -> np.ndarray:
    """e^x K_nu(x) for 1.5 <= x <= 17, by the trapezoidal rule in t: its error is about
    exp(x (1 - cos d) - 2 pi d / h) for a strip of half-width d, below 1e-16 here (d = 0.3)."""
    h = 0.05
    top = math.acosh(1.0 + 40.0 / max(float(x.min()), 1e-3)) if x.size else 0.0
    t = np.arange(0.0, top + h, h)
    w = np.cosh(nu * t)
    w[0] *= 0.5
    c = np.cosh(t)[None, :] - 1.0
    out = np.empty_like(x)
    for i in range(0, x.size, _ROWS):  # blocks of elements, each against all the nodes
        out[i:i + _ROWS] = np.exp(-x[i:i + _ROWS, None] * c) @ w
    return h * out


def _k_asymptotic(nu: float, x: np.ndarray) -> np.ndarray:
    """e^x K_nu(x) for x > 17: sqrt(pi / 2x) sum_k a_k(nu) / x^k."""
    mu = 4.0 * nu * nu
    a = np.ones_like(x)
    s = np.ones_like(x)
    for k in range(1, 40):
        a = a * (mu - (2 * k - 1) ** 2) / (8.0 * k * x)
        s = s + a
    return np.sqrt(math.pi / (2.0 * x)) * s


def _scaled_k(nu: int, x: np.ndarray) -> np.ndarray:
    """e^x K_nu(x) of x > 0 (finite), float64, 1-d."""
    out = np.empty_like(x)
    small = x <= _SERIES_K
    mid = ~small & (x <= _ASYMPTOTIC_K)
    big = x > _ASYMPTOTIC_K
    if small.any():
        out[small] = _k_series(nu, x[small]) * np.exp(x[small])
    if mid.any():
        out[mid] = _k_integral(nu, x[mid])
    if big.any():
        out[big] = _k_asymptotic(nu, x[big])
    return out


def _k(nu: int, v: np.ndarray, scaled: bool) -> np.ndarray:
    pos = np.where(np.isfinite(v) & (v > 0), v, 1.0)
    out = _scaled_k(nu, pos)
    if not scaled:
        out = out * np.exp(-pos)
    out = np.where(v == 0, math.inf, out)
    return _finish(v, out, at_inf=0.0, negative=math.nan)


def modified_bessel_k0(x: np.ndarray) -> np.ndarray:
    """K0(x): inf at 0, 0 at inf, NaN for x < 0."""
    return _run(lambda v: _k(0, v, False), x)


def modified_bessel_k1(x: np.ndarray) -> np.ndarray:
    """K1(x): inf at 0, 0 at inf, NaN for x < 0."""
    return _run(lambda v: _k(1, v, False), x)


def scaled_modified_bessel_k0(x: np.ndarray) -> np.ndarray:
    """e^x K0(x), without K0's underflow."""
    return _run(lambda v: _k(0, v, True), x)


def scaled_modified_bessel_k1(x: np.ndarray) -> np.ndarray:
    """e^x K1(x), without K1's underflow."""
    return _run(lambda v: _k(1, v, True), x)


# -- Airy Ai ---------------------------------------------------------------------------------------


def _airy_series(x: np.ndarray) -> np.ndarray:
    """Ai(x) = Ai(0) f(x) + Ai'(0) g(x) by its Maclaurin series, -8 <= x <= 2."""
    c = x * x * x
    f, g = np.ones_like(x), x.copy()
    tf, tg = np.ones_like(x), x.copy()
    for k in range(1, 32):
        tf = tf * c / ((3 * k - 1) * (3 * k))
        tg = tg * c / ((3 * k) * (3 * k + 1))
        f = f + tf
        g = g + tg
    return _AI0 * f - _DAI0 * g


def _airy_oscillating(x: np.ndarray) -> np.ndarray:
    """Ai(x) for x < -8: pi^-1/2 |x|^-1/4 (sin(zeta + pi/4) P - cos(zeta + pi/4) Q)."""
    t = np.sqrt(-x)
    zeta = -2.0 * x * t / 3.0
    z = 1.0 / zeta
    u = np.ones_like(x)
    p, q = np.ones_like(x), np.zeros_like(x)
    for k in range(1, 31):
        u = u * ((6 * k - 5) * (6 * k - 3) * (6 * k - 1)) / ((2 * k - 1) * 216.0 * k) * z
        sign = 1 if (k // 2) % 2 == 0 else -1
        if k % 2:
            q = q + sign * u
        else:
            p = p + sign * u
    theta = zeta + _PIO4
    return (np.sin(theta) * p - np.cos(theta) * q) / (math.sqrt(math.pi) * np.sqrt(t))


def _airy_decaying(x: np.ndarray) -> np.ndarray:
    """Ai(x) for x > 2: sqrt(x / 3) / pi * K_{1/3}(zeta), zeta = 2/3 x^(3/2)."""
    zeta = 2.0 * x * np.sqrt(x) / 3.0
    scaled = np.zeros_like(zeta)
    mid = zeta <= _ASYMPTOTIC_K
    if mid.any():
        scaled[mid] = _k_integral(1.0 / 3.0, zeta[mid])
    if (~mid).any():
        scaled[~mid] = _k_asymptotic(1.0 / 3.0, zeta[~mid])
    return np.sqrt(x / 3.0) / math.pi * scaled * np.exp(-zeta)


def _airy(v: np.ndarray) -> np.ndarray:
    x = np.where(np.isfinite(v), v, 0.0)
    out = np.empty_like(x)
    regions = ((x < -8.0, _airy_oscillating), ((x >= -8.0) & (x <= 2.0), _airy_series),
               ((x > 2.0) & (x <= _AIRY_MAX), _airy_decaying))
    for mask, fn in regions:
        if mask.any():
            out[mask] = fn(x[mask])
    out = np.where(x > _AIRY_MAX, 0.0, out)
    return _finish(v, out)


def airy_ai(x: np.ndarray) -> np.ndarray:
    """Ai(x): 0 beyond x = 103.892 (where torch's underflows), NaN at +-inf."""
    return _run(_airy, x)


KERNELS = {
    "bessel_j0": bessel_j0, "bessel_j1": bessel_j1, "bessel_y0": bessel_y0,
    "bessel_y1": bessel_y1, "modified_bessel_k0": modified_bessel_k0,
    "modified_bessel_k1": modified_bessel_k1,
    "scaled_modified_bessel_k0": scaled_modified_bessel_k0,
    "scaled_modified_bessel_k1": scaled_modified_bessel_k1, "airy_ai": airy_ai,
}


def bessel(name: str, x: np.ndarray) -> np.ndarray:
    """The kernel ``name`` (a key of ``KERNELS``) of ``x``, in ``x``'s dtype."""
    return KERNELS[name](x)
