"""Small statistics for central monitoring: tail probabilities, FDR, funnels and site ranking."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

Floats = npt.NDArray[np.float64]

#: Benjamini-Hochberg false discovery rate below which an eligible site is flagged.
FDR = 0.05
#: Two-sided 95 % and 99.8 % normal quantiles: the usual funnel-plot control limits.
Z95, Z998 = 1.959964, 3.090232
#: Spiegelhalter (2005) winsorises the top and bottom 10 % of z-scores before estimating phi.
WINSOR = 0.10
#: Random site assignments behind each terminal-digit p; the least p is 1 / (PERMUTATIONS + 1).
PERMUTATIONS = 9999
#: Fixed, so the same snapshot always gives the same p-values.
SEED = 6962
#: Columns every check's site table starts with (after any check-specific keys).
SITE_COLUMNS = ["site", "n", "statistic", "effect", "z", "p", "q", "rank", "flagged", "eligible"]


def _floats(values: object) -> Floats:
    return np.asarray(values, dtype=np.float64)


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def normal_sf(z: object) -> Floats:
    """Upper tail of the standard normal; NaN stays NaN."""
    return np.asarray(0.5 * _erfc(_floats(z) / math.sqrt(2)), dtype=np.float64)


def normal_isf(p: object) -> Floats:
    """The z with upper tail p (bisection on erfc: exact enough for ranking and charts)."""
    probabilities = _floats(p)
    low, high = np.full(probabilities.shape, -40.0), np.full(probabilities.shape, 40.0)
    for _ in range(80):
        middle = (low + high) / 2
        above = normal_sf(middle) > probabilities
        low, high = np.where(above, middle, low), np.where(above, high, middle)
    return np.asarray(np.where(np.isnan(probabilities), np.nan, (low + high) / 2), np.float64)


def _chi2(site: Floats, n: Floats, total: Floats) -> Floats:
    """Pearson chi-square of each row's counts against the rest of the table (2 x k)."""
    grand = total.sum()
    share = total / grand
    expect_site, expect_rest = np.outer(n, share), np.outer(grand - n, share)
    rest = total - site
    terms = (site - expect_site) ** 2 / expect_site + (rest - expect_rest) ** 2 / expect_rest
    return np.asarray(terms.sum(axis=1), dtype=np.float64)


def site_vs_rest_chi2(counts: npt.NDArray[np.int64]) -> pd.DataFrame:
    """Per row (site) of a site x category count table: chi-square against all other rows, its
    permutation p, Cohen's w less its chance level, and the total variation distance.

    p is exact conditional on the margins (Monte Carlo over PERMUTATIONS random assignments of
    the trial's values to a site of the same size): with a few values per category the
    asymptotic chi-square tail is too light, and a check of many sites lives in that tail. The
    effect sqrt(max(0, chi2 - df) / n) removes chi2's null expectation, so a small site's
    chance deviation does not outrank a real one.
    """
    used = counts[:, counts.sum(axis=0) > 0].astype(np.float64)
    total, n = used.sum(axis=0), used.sum(axis=1)
    inside = (n > 0) & (n < total.sum())  # a site with every value has nothing to compare with
    chi2 = np.full(n.shape, np.nan)
    chi2[inside] = _chi2(used[inside], n[inside], total)
    p = np.full(n.shape, np.nan)
    rng = np.random.default_rng(SEED)
    for size in np.unique(n[inside]):
        draws = rng.multivariate_hypergeometric(total.astype(np.int64), int(size), PERMUTATIONS)
        null = np.sort(_chi2(draws.astype(np.float64), np.full(PERMUTATIONS, size), total))
        rows = inside & (n == size)
        # Count draws at least as extreme; the tolerance keeps ties from rounding noise.
        extreme = PERMUTATIONS - np.searchsorted(null, chi2[rows] * (1 - 1e-9), side="left")
        p[rows] = (1 + extreme) / (PERMUTATIONS + 1)
    df = used.shape[1] - 1
    rest = total - used
    with np.errstate(divide="ignore", invalid="ignore"):
        tvd = 0.5 * np.abs(used / n[:, None] - rest / rest.sum(axis=1, keepdims=True)).sum(1)
        effect = np.sqrt(np.maximum(0.0, chi2 - df) / n)
    return pd.DataFrame(
        {"statistic": chi2, "effect": effect, "z": normal_isf(p), "p": p, "tvd": tvd}
    )


def bh(p: Sequence[float] | Floats) -> Floats:
    """Benjamini-Hochberg adjusted p-values (q); NaN p-values are left out and stay NaN."""
    values = _floats(p)
    q = np.full(values.shape, np.nan)
    idx = np.flatnonzero(~np.isnan(values))
    if idx.size == 0:
        return q
    order = idx[np.argsort(values[idx], kind="stable")]
    m = idx.size
    scaled = values[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return q


def _winsorised_square(fraction: float) -> float:
    """E[min(max(Z, -c), c)^2] for standard normal Z clipped at its `fraction` quantiles."""
    c = float(normal_isf(fraction))
    density = math.exp(-c * c / 2) / math.sqrt(2 * math.pi)
    return (1 - 2 * fraction) - 2 * c * density + 2 * fraction * c * c


def winsorised_phi(z: Floats) -> float:
    """Spiegelhalter's (2005) over-dispersion factor from 10 %-winsorised z-scores.

    The plain mean square of winsorised z estimates phi = 1 as about 0.68 even without
    over-dispersion, so it is divided by that expectation under normality (as 1.4826 makes a
    MAD consistent); otherwise a heterogeneous trial's between-site variance comes out a third
    too small and its ordinary sites get flagged.
    """
    values = z[np.isfinite(z)]
    if values.size < 3:
        return 1.0
    low, high = np.quantile(values, [WINSOR, 1 - WINSOR])
    return float(np.mean(np.clip(values, low, high) ** 2)) / _winsorised_square(WINSOR)


def funnel(
    observed: npt.ArrayLike,
    size: npt.ArrayLike,
    target: float,
    kind: str,
    eligible: npt.ArrayLike,
) -> tuple[pd.DataFrame, float]:
    """Funnel-plot z-scores with Spiegelhalter's (2005) additive random-effects adjustment.

    `kind` "poisson": counts against expected = target x size, on the variance-stabilising
    scale y = sqrt(O/E) with s = 1/(2 sqrt(E)). `kind` "binomial": proportions against
    `target`, on y = asin(sqrt(O/n)) with s = 1/(2 sqrt(n)). Over-dispersion phi is estimated
    from the winsorised z-scores of eligible sites; if k*phi exceeds k-1 a between-site variance
    tau2 = (k phi - (k-1)) / (sum w - sum w^2 / sum w), w = 1/s^2, widens every site's limits
    (additive rather than multiplicative, so large sites are not all pushed outside). Returns
    (frame of expected, y, s, z_raw, z) and tau2.
    """
    observed, size = _floats(observed), _floats(size)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "poisson":
            expected = target * size
            y = np.sqrt(observed / expected)
            centre = 1.0
            s = 1 / (2 * np.sqrt(expected))
        else:
            expected = target * size
            y = np.arcsin(np.sqrt(observed / size))
            centre = math.asin(math.sqrt(target))
            s = 1 / (2 * np.sqrt(size))
        z_raw = (y - centre) / s
    usable = np.asarray(eligible, dtype=bool) & np.isfinite(z_raw) & (target > 0)
    tau2 = 0.0
    k = int(usable.sum())
    if k >= 3:
        phi = winsorised_phi(z_raw[usable])
        w = 1 / s[usable] ** 2
        spread = float(w.sum() - (w**2).sum() / w.sum())
        if k * phi > k - 1 and spread > 0:
            tau2 = (k * phi - (k - 1)) / spread
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(target > 0, (y - centre) / np.sqrt(s**2 + tau2), 0.0)
    frame = pd.DataFrame({"expected": expected, "y": y, "s": s, "z_raw": z_raw, "z": z})
    return frame, tau2


def robust_rescale(z: npt.ArrayLike, eligible: npt.ArrayLike) -> tuple[Floats, float]:
    """Centre z on the eligible sites' median and divide by 1.4826 MAD when that exceeds 1.

    Sites differ for harmless reasons (case mix, enrolment date), which spreads the z-scores
    of every site; the robust spread measures that without letting the outliers set it. A
    spread below 1 is not used to sharpen z, so under-dispersion never creates flags.
    """
    z = _floats(z)
    values = z[np.asarray(eligible, dtype=bool) & np.isfinite(z)]
    if values.size < 3:
        return z, 1.0
    centre = float(np.median(values))
    scale = max(1.0, 1.4826 * float(np.median(np.abs(values - centre))))
    return (z - centre) / scale, scale


def rank_sites(
    frame: pd.DataFrame, key: pd.Series, ascending: bool, by: Sequence[str] = ()
) -> pd.DataFrame:
    """Add q (BH over eligible rows), flagged and rank; eligible sites rank before small ones.

    `frame` needs site, n, statistic, effect, z, p and eligible; rows are ranked on `key`
    (aligned with the frame). `by` are check-specific key columns kept in front (e.g. the
    variable tested); any other columns follow the common ones.
    """
    out = frame.copy()
    eligible = out["eligible"].to_numpy(dtype=bool)
    out["q"] = bh(np.where(eligible, out["p"].to_numpy(dtype=np.float64), np.nan))
    out["flagged"] = eligible & (out["q"] < FDR).to_numpy()
    ordering = key.to_numpy(dtype=np.float64)
    out["_key"] = ordering if ascending else -ordering
    out["_small"] = ~eligible
    out = out.sort_values(["_small", "_key", "site"], kind="stable", na_position="last")
    out["rank"] = np.arange(1, len(out) + 1)
    extras = [c for c in out.columns if c not in (*by, *SITE_COLUMNS, "_key", "_small")]
    return out[[*by, *SITE_COLUMNS, *extras]].reset_index(drop=True)


def site_moments(x: pd.Series, site: pd.Series) -> pd.DataFrame:
    """Per site: n, mean, var; the same of all other sites' values; z and standardised gap."""
    squares = x**2
    agg = pd.DataFrame({"x": x, "x2": squares, "site": site}).groupby("site")
    out = agg.agg(n=("x", "size"), total=("x", "sum"), squares=("x2", "sum"))
    n = out["n"].astype(float)
    rest = len(x) - n
    with np.errstate(divide="ignore", invalid="ignore"):
        out["mean"] = out["total"] / n
        out["var"] = (out["squares"] - n * out["mean"] ** 2).clip(lower=0) / (n - 1)
        rest_mean = (x.sum() - out["total"]) / rest
        rest_ss = squares.sum() - out["squares"] - rest * rest_mean**2
        out["rest_var"] = rest_ss.clip(lower=0) / (rest - 1)
        gap = out["mean"] - rest_mean
        se = np.sqrt(out["rest_var"] * (1 / n + 1 / rest))
        out["z"] = np.where(se > 0, gap / se, 0.0)
        out["smd"] = np.where(out["rest_var"] > 0, gap / np.sqrt(out["rest_var"]), 0.0)
    return out


def rate_scores(size: pd.Series, count: pd.Series, kind: str, min_n: int) -> pd.DataFrame:
    """Counts out of `size` records per site on an excess-rate funnel (see `funnel`): n,
    statistic (count), effect (share), z and upper-tail p; sites of min_n or more are eligible
    and alone set the over-dispersion."""
    n = size.to_numpy(dtype=np.float64)
    observed = count.to_numpy(dtype=np.float64)
    target = float(observed.sum() / n.sum()) if n.sum() > 0 else 0.0
    eligible = n >= min_n
    scores, _ = funnel(observed, n, target, kind, eligible)
    z = scores["z"].to_numpy()
    # No such record anywhere in the trial: nothing to compare, not a clean result.
    p = normal_sf(z) if target > 0 else np.nan
    return count_frame(size, observed, z, p, eligible, target)


def count_frame(
    size: pd.Series,
    count: npt.NDArray[np.float64],
    z: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64] | float,
    eligible: npt.NDArray[np.bool_],
    target: float,
) -> pd.DataFrame:
    """A count check's sites: n (`size`), statistic (the count), effect (its share), z, p,
    whether eligible, and the trial's rate."""
    n = size.to_numpy(dtype=np.float64)
    return pd.DataFrame(
        {
            "site": size.index.astype(str),
            "n": n.astype(int),
            "statistic": count.astype(int),
            "effect": count / n,
            "z": z,
            "p": p,
            "eligible": eligible,
            "trial_rate": target,
        }
    )


def mann_whitney_z(values: npt.ArrayLike, groups: npt.ArrayLike) -> pd.DataFrame:
    """Each group against all other values: tie-corrected Mann-Whitney z (positive = larger).

    One ranking of all values serves every group, because "group vs rest" pools them all.
    """
    x = _floats(values)
    n_total = x.size
    ranks = pd.Series(x).rank(method="average").to_numpy()
    ties = np.unique(x, return_counts=True)[1].astype(np.float64)
    tie_term = float((ties**3 - ties).sum())
    sums = pd.Series(ranks).groupby(np.asarray(groups)).agg(["sum", "size"])
    n = sums["size"].to_numpy(dtype=np.float64)
    u = sums["sum"].to_numpy() - n * (n + 1) / 2
    mean = n * (n_total - n) / 2
    var = n * (n_total - n) / 12 * ((n_total + 1) - tie_term / (n_total * (n_total - 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (u - mean) / np.sqrt(var), 0.0)
    return pd.DataFrame({"z": z}, index=sums.index)
