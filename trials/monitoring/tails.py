"""Chi-square and Poisson tail probabilities (regularised incomplete gamma), without SciPy."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

_EPS = 1e-15
_ITERATIONS = 500


def _lower_series(a: float, x: float) -> float:
    """P(a, x) by its power series; converges fast for x < a + 1."""
    term = total = 1.0 / a
    denominator = a
    for _ in range(_ITERATIONS):
        denominator += 1
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_fraction(a: float, x: float) -> float:
    """Q(a, x) by Lentz's continued fraction; converges fast for x >= a + 1."""
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, _ITERATIONS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return h * math.exp(-x + a * math.log(x) - math.lgamma(a))


def gamma_q(a: float, x: float) -> float:
    """The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    if x <= 0:
        return 1.0
    if x < a + 1:
        return max(0.0, 1.0 - _lower_series(a, x))
    return _upper_fraction(a, x)


def _each(
    a: npt.ArrayLike, b: npt.ArrayLike, value: Callable[[float, float], float]
) -> npt.NDArray[np.float64]:
    """value(a, b) element by element, a and b broadcast against each other."""
    xs, ys = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    out = np.empty(xs.shape)
    for i in np.ndindex(xs.shape):
        out[i] = value(float(xs[i]), float(ys[i]))
    return out


def chi2_sf(x: npt.ArrayLike, df: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Upper tail of the chi-square distribution; NaN where x or df is NaN or df < 1."""

    def tail(x: float, df: float) -> float:
        if math.isfinite(x) and math.isfinite(df) and df >= 1:
            return gamma_q(df / 2, max(0.0, x) / 2)
        return math.nan

    return _each(x, df, tail)


def poisson_sf(observed: npt.ArrayLike, expected: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """P(X >= observed) for X ~ Poisson(expected): P(observed, expected) of the gamma function."""

    def tail(k: float, mu: float) -> float:
        if k > 0 and mu > 0:
            return 1.0 - gamma_q(k, mu)
        return 0.0 if k > 0 else 1.0

    return _each(observed, expected, tail)


def poisson_cdf(observed: npt.ArrayLike, expected: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """P(X <= observed) for X ~ Poisson(expected): Q(observed + 1, expected)."""
    return _each(observed, expected, lambda k, mu: gamma_q(k + 1, mu) if mu > 0 else 1.0)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (tiny if abs(d) < tiny else d)
    h = d
    for m in range(1, _ITERATIONS):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (tiny if abs(d) < tiny else d)
            c = 1 + numerator / c
            c = tiny if abs(c) < tiny else c
            h *= d * c
        if abs(d * c - 1) < _EPS:
            break
    return h


def beta_i(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1 - front * _beta_fraction(b, a, 1 - x) / b


def t_two_sided(t: npt.ArrayLike, df: float) -> npt.NDArray[np.float64]:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom; NaN stays NaN."""
    ts = np.asarray(t, np.float64)
    out = np.full(ts.shape, np.nan)
    for i in np.ndindex(ts.shape):
        if np.isfinite(ts[i]):
            out[i] = beta_i(df / 2, 0.5, df / (df + float(ts[i]) ** 2))
    return out
