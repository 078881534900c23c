"""Digit preference per test code and unit, each site against the other sites on its own grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trials.monitoring.distributions import MIN_SITES_OWN_SCALE
from trials.monitoring.findings import findings
from trials.monitoring.frames import MIN_SUBJECTS, TrialData, empty_sites
from trials.monitoring.sites import column_digits
from trials.monitoring.stats import SEED, normal_isf, normal_sf, rank_sites
from trials.monitoring.tails import chi2_sf

#: A site's values of one test (and the other sites' reference) need this many to be assessed:
#: 5 expected per digit keeps the chi-square tail honest.
MIN_DIGIT_VALUES = 50
#: A site's values must spread over this many recording steps (SD) for their last digit to be
#: free of their level: a normal density's last digit deviates from uniform by about
#: exp(-2 pi^2 SD^2 / 100), 0.7 % at 5 steps but 17 % at 3 (sodium in mmol/L), where a site
#: whose patients run a little high would show "preferred" digits.
MIN_SPREAD = 5.0
#: Subject-level random assignments that calibrate each p (see subject_permutation_p).
DRAWS = 499
#: Candidate recording steps, in units of the test's finest decimal place.
STEPS = (100, 50, 20, 10, 5, 2, 1)
#: A site records on a step when this share of its values are multiples of it.
ON_GRID = 0.98
EXTRAS = ["p_alone", "step", "reference", "spread", "share0", *(f"d{d}" for d in range(10))]


def site_step(k: np.ndarray) -> int:
    """The coarsest candidate step that (almost) all of a site's scaled values sit on."""
    return next((s for s in STEPS if np.mean(k % s == 0) >= ON_GRID), 1)


def _digits(k: np.ndarray, step: int) -> np.ndarray:
    # floor(x + 0.5), not round(): numpy's round-half-even would favour even grid indices.
    return np.floor(k / step + 0.5).astype(np.int64) % 10


def _chi2(site: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Pearson chi-square of each row of `site` (draws x 10) against `total` minus it."""
    rest = total - site
    n, m = site.sum(-1, keepdims=True), rest.sum(-1, keepdims=True)
    share = total / total.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (site - n * share) ** 2 / (n * share) + (rest - m * share) ** 2 / (m * share)
    return np.asarray(np.nansum(np.where(share > 0, terms, 0.0), axis=-1), dtype=np.float64)


def _rounding(counts: np.ndarray) -> np.ndarray:
    """Digit counts collapsed to 0, 5 and the rest: where rounding habits and their absence
    show, with far more power than spreading the same difference over ten cells."""
    other = counts.sum(-1) - counts[..., 0] - counts[..., 5]
    return np.stack([counts[..., 0], counts[..., 5], other], axis=-1).astype(np.float64)


def subject_permutation_p(counts: np.ndarray, mine: np.ndarray, seed: int) -> float:
    """Two-sided p that the site's digits differ from its reference, when whole subjects are
    assigned to the site at random: a subject's repeated values share its level, so their last
    digits are not independent (a weight stays within a kilogram) and a value-level chi-square
    is far too sure. Two statistics, the 10-digit chi-square and the 0 / 5 / other chi-square,
    each referred to a scaled chi-square c * chi2(nu) matched (Satterthwaite) to the mean and
    variance of its values over DRAWS random subject assignments, which reaches far below
    1 / DRAWS; p = 2 x the smaller (Bonferroni). `counts` is subjects x 10 over the site and
    its reference; `mine` marks the site's subjects."""
    rng = np.random.default_rng(seed)
    size, pool = int(mine.sum()), counts.shape[0]
    picks = np.argpartition(rng.random((DRAWS, pool)), size, axis=1)[:, :size]
    chosen = np.zeros((DRAWS, pool))
    np.put_along_axis(chosen, picks, 1.0, axis=1)
    drawn = chosen @ counts
    ps = []
    for collapse in (lambda c: c.astype(np.float64), _rounding):
        total = collapse(counts.sum(0))
        observed = float(_chi2(collapse(counts[mine].sum(0))[None, :], total)[0])
        null = _chi2(collapse(drawn), total)
        mean, var = float(null.mean()), float(null.var())
        if mean <= 0 or var <= 0:
            ps.append(1.0)
            continue
        scale, nu = var / (2 * mean), 2 * mean**2 / var
        ps.append(float(chi2_sf(observed / scale, nu)))
    return min(1.0, 2 * min(ps))


def digits_of_test(frame: pd.DataFrame, seed: int = 0) -> list[dict[str, object]]:
    """One test code and unit: each site's last digit on its own recording step against the
    other sites whose step divides it (their values re-rounded to that step)."""
    decimals = int(frame["text"].str.partition(".")[2].str.len().max())
    k = np.round(frame["value"].abs().to_numpy() * 10**decimals).astype(np.int64)
    site = frame["site"].astype(str).to_numpy()
    subject = frame["subject"].to_numpy()
    steps = {s: site_step(k[site == s]) for s in np.unique(site)}
    rows = []
    for i, (s, step) in enumerate(steps.items()):
        mine = site == s
        others = ~mine & np.isin(site, [o for o, g in steps.items() if step % g == 0])
        pool = mine | others
        digit = _digits(k[pool], step)
        codes, uniques = pd.factorize(subject[pool])
        flat = np.bincount(codes * 10 + digit, minlength=uniques.size * 10)
        counts = flat.reshape(uniques.size, 10)
        mine_subjects = np.zeros(uniques.size, dtype=bool)
        mine_subjects[codes[mine[pool]]] = True
        site_counts = counts[mine_subjects].sum(0)
        n, reference = int(mine.sum()), int(others.sum())
        spread = float(np.std(k[mine] / step)) if n else 0.0
        eligible = (
            spread >= MIN_SPREAD
            and n >= MIN_DIGIT_VALUES
            and reference >= MIN_DIGIT_VALUES
            and mine_subjects.sum() >= MIN_SUBJECTS
            and (~mine_subjects).sum() >= MIN_SUBJECTS
        )
        total = counts.sum(0).astype(np.float64)
        chi2 = float(_chi2(site_counts[None, :].astype(np.float64), total)[0])
        df = int((total > 0).sum()) - 1
        p = subject_permutation_p(counts, mine_subjects, seed + i) if eligible and df else np.nan
        rows.append(
            {
                "site": str(s),
                "n": n,
                "statistic": chi2,
                "effect": np.sqrt(max(0.0, chi2 - df) / n) if n else np.nan,
                "p": p,
                "eligible": bool(eligible and df > 0),
                "step": f"{step / 10**decimals:g}",
                "reference": reference,
                "spread": spread,
                "share0": site_counts[0] / n if n else np.nan,
                **{f"d{d}": int(site_counts[d]) for d in range(10)},
            }
        )
    return rows


def _spread(z: np.ndarray) -> float:
    """The scale of one-sided z-scores (0 for p >= 0.5) from their upper quartile, which is
    0.6745 when p is uniform: sites that all differ push it up, one odd site does not."""
    return max(1.0, float(np.quantile(z, 0.75)) / 0.6745) if z.size >= 4 else 1.0


def habits_rescaled(table: pd.DataFrame) -> pd.DataFrame:
    """p against how much sites' digits differ anyway. Each site-vs-rest p becomes a one-sided
    z (0 for p >= 0.5), divided by a scale from the upper quartile of all tests' z (and of the
    test's own, where it has MIN_SITES_OWN_SCALE sites and that is larger). Real sites keep
    their own reading habits (a pulse counted over 15 s is a multiple of 4 more often than not),
    so in a real trial most sites differ from the rest beyond chance; a site is then unusual
    only when it differs far more than sites typically do. Where sites share their habits the
    scale is 1 and nothing changes. `p_alone` keeps the p before this step."""
    out = table.assign(p_alone=table["p"])
    p = out["p"].to_numpy(dtype=np.float64)
    z = normal_isf(np.clip(p, 1e-300, 0.5))
    eligible = out["eligible"].to_numpy(dtype=bool) & np.isfinite(p)
    pooled = _spread(z[eligible])
    scaled = np.full(z.shape, np.nan)
    for rows in out.groupby("variable").indices.values():
        usable = rows[eligible[rows]]
        own = _spread(z[usable]) if usable.size >= MIN_SITES_OWN_SCALE else 1.0
        scaled[rows] = z[rows] / max(pooled, own)
    out["z"] = scaled
    out["p"] = np.where(np.isfinite(p), normal_sf(scaled), np.nan)
    return out


def digit_preference(data: TrialData) -> pd.DataFrame:
    """Terminal digits of measured values per test code and unit (--TESTCD, --ORRESU on
    --ORRES), and of each numeric column of one-row-per-subject datasets (DM.AGE).

    Each site is compared with the other sites for the same test and unit, not with uniform
    digits (vital signs are read with habits). A site that records on a coarser step, a scale
    reading to 0.5 kg or blood pressures to 2 mmHg, is compared on that step: its digits are
    the position on its own grid, and the other sites' values are rounded to the same grid, so
    a legitimate instrument habit is not a preference. Pearson chi-square on the 2 x 10 table,
    and the same on digits 0 / 5 / other, calibrated by assigning whole subjects to the site
    at random (subject_permutation_p), then weighed against how much sites differ anyway
    (habits_rescaled); Benjamini-Hochberg across every site and test.
    """
    values = findings(data)
    values = values[values["value"].notna()]
    parts = []
    for number, ((test, unit), frame) in enumerate(values.groupby(["test", "unit"], sort=True)):
        rows = digits_of_test(frame, SEED + 1000 * number)
        parts.append(pd.DataFrame(rows).assign(variable=f"{test} [{unit}]" if unit else str(test)))
    columns = column_digits(data)
    if len(columns):
        reference = columns.groupby("variable")["n"].transform("sum") - columns["n"]
        parts.append(columns.assign(step="1", reference=reference, spread=np.nan))
    if not parts:
        return empty_sites(["variable"], EXTRAS)
    table = pd.concat(parts, ignore_index=True)
    table = habits_rescaled(table)
    table = table[["variable", "site", "n", "statistic", "effect", "z", "p", "eligible", *EXTRAS]]
    return rank_sites(table, table["z"].fillna(-np.inf), ascending=False, by=["variable"])
