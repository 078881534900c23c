"""Copied values: runs of results repeated from another subject of the same site, by hashing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trials.monitoring.digits import site_step
from trials.monitoring.findings import findings
from trials.monitoring.frames import MIN_SUBJECTS, TrialData, empty_sites
from trials.monitoring.stats import normal_isf, rank_sites
from trials.monitoring.tails import poisson_sf

#: Run lengths tried per test, shortest first.
RUNS = (3, 4, 5, 6, 8)
#: A run length is used for a test once fewer than this share of subject pairs at different
#: sites share a run of it by chance: coarse values (integer heart rates) need longer runs.
CHANCE_PAIRS = 0.002
_BASE = np.uint64(0x9E3779B97F4A7C15)
EXTRAS = ["expected", "pairs", "tests", "copied_pairs"]


def _coarsest(values: pd.DataFrame) -> pd.Series:
    """Each value rounded to the coarsest recording step any site uses for its test and unit,
    as text: a site whose scale reads to 0.5 kg must not collide more only for that."""
    out = pd.Series(index=values.index, dtype=object)
    for _, frame in values.groupby(["test", "unit"], sort=False):
        decimals = int(frame["text"].str.partition(".")[2].str.len().max())
        k = np.round(frame["value"].to_numpy() * 10**decimals).astype(np.int64)
        site = frame["site"].to_numpy()
        step = max(site_step(np.abs(k[site == s])) for s in np.unique(site))
        out[frame.index] = (np.floor(k / step + 0.5).astype(np.int64) * step).astype(str)
    return out


def run_hashes(values: pd.DataFrame, length: int) -> pd.DataFrame:
    """(test, subject, site, hash) of every run of `length` consecutive results of a subject's
    test (by date, then visit number), values on the coarsest grid; one row per distinct run.
    A run's hash is a polynomial in its values' hashes, computed for all runs at once."""
    ordered = values.sort_values(["test", "subject", "date", "order", "row"], kind="stable")
    hashed = pd.util.hash_pandas_object(ordered[["test", "unit", "grid"]], index=False)
    cell = hashed.to_numpy(dtype=np.uint64)
    group = ordered.groupby(["test", "subject"], sort=False).ngroup().to_numpy()
    starts = cell.size - length + 1
    if starts <= 0:
        return pd.DataFrame(columns=["test", "subject", "site", "hash"])
    run = np.zeros(starts, dtype=np.uint64)
    for j in range(length):
        run = np.asarray(run * _BASE + cell[j : j + starts], dtype=np.uint64)
    ok = group[:starts] == group[length - 1 :]
    out = ordered.iloc[:starts].loc[ok, ["test", "subject", "site"]].assign(hash=run[ok])
    return pd.DataFrame(out.drop_duplicates(["subject", "hash"]))


def shared_pairs(runs: pd.DataFrame) -> pd.DataFrame:
    """Distinct (test, subject a, subject b) pairs that share at least one run, with sites."""
    shared = runs[runs.duplicated("hash", keep=False)]
    if shared.empty:
        return pd.DataFrame(columns=["test", "a", "b", "site_a", "site_b"])
    pairs = shared.merge(shared, on=["hash", "test"], suffixes=("_a", "_b"))
    pairs = pairs[pairs["subject_a"] < pairs["subject_b"]]
    pairs = pairs.rename(columns={"subject_a": "a", "subject_b": "b"})
    return pairs.drop_duplicates(["test", "a", "b"])[["test", "a", "b", "site_a", "site_b"]]


def copied_values(data: TrialData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per site: subject pairs of the same site that share a run of results of a test, against
    the rate at which subject pairs elsewhere (other sites' own pairs and pairs across sites)
    share one by chance.

    For each test the run length is the shortest of RUNS at which under CHANCE_PAIRS of pairs
    across sites share a run; expected = sum over tests of that rate (other sites only, plus one
    pseudo-pair so a rate is never 0) x the site's own subject pairs, times the other sites'
    median excess when that is above 1; p = Poisson upper tail.
    Dates are not compared, so values copied with their own dates are found. Returns (site
    table, listing of the pairs).
    """
    values = findings(data)
    values = values[values["value"].notna()].copy()
    listing_columns = ["site", "test", "subject", "shares_with", "run"]
    if values.empty:
        return empty_sites([], EXTRAS), pd.DataFrame(columns=listing_columns)
    values["grid"] = _coarsest(values)
    subjects = (
        values.groupby(["test", "site"])["subject"].nunique().rename("subjects").reset_index()
    )
    subjects["pairs"] = subjects["subjects"] * (subjects["subjects"] - 1) / 2
    counts_by_test = {str(t): f.set_index("site") for t, f in subjects.groupby("test")}
    cross_pairs = {
        t: (f["subjects"].sum() ** 2 - (f["subjects"] ** 2).sum()) / 2
        for t, f in counts_by_test.items()
    }
    chosen: dict[str, tuple[int, pd.DataFrame]] = {}
    for length in RUNS:
        # One hashing pass per run length for all tests; a test keeps the first length at
        # which chance sharing across sites is rare enough (or the longest tried).
        open_tests = [t for t in counts_by_test if t not in chosen]
        if not open_tests:
            break
        pairs = shared_pairs(run_hashes(values[values["test"].isin(open_tests)], length))
        for test in map(str, open_tests):
            mine = pairs[pairs["test"] == test]
            cross = int((mine["site_a"] != mine["site_b"]).sum())
            rare = cross_pairs[test] == 0 or cross / cross_pairs[test] < CHANCE_PAIRS
            if rare or length == RUNS[-1]:
                chosen[test] = (length, mine)
    rows, found = [], []
    for test, (length, pairs) in sorted(chosen.items()):
        counts = counts_by_test[test]
        cross = int((pairs["site_a"] != pairs["site_b"]).sum())
        within = pairs[pairs["site_a"] == pairs["site_b"]]
        hits = within.groupby("site_a").size().reindex(counts.index, fill_value=0)
        for site in counts.index:
            other_hits = hits.drop(site).sum() + cross
            other_pairs = counts["pairs"].drop(site).sum() + cross_pairs[test]
            rate = (other_hits + 1) / (other_pairs + 1)
            pairs_here = counts.loc[site, "pairs"]
            rows.append([site, test, int(hits[site]), rate * pairs_here, pairs_here])
        found.append(within.assign(run=length))
    per_test = pd.DataFrame(rows, columns=["site", "test", "hits", "expected", "pairs"])
    table = per_test.groupby("site").agg(
        statistic=("hits", "sum"),
        expected=("expected", "sum"),
        pairs=("pairs", "sum"),
        tests=("test", "nunique"),
    )
    n = values.groupby("site")["subject"].nunique().reindex(table.index)
    table = table.reset_index().assign(n=n.to_numpy())
    table["eligible"] = table["n"] >= MIN_SUBJECTS
    # Sites differ in how often their subjects' values coincide (a thermometer read to 0.5
    # degrees, a stable population); the median observed/expected of the other eligible sites,
    # when above 1, scales a site's expectation, so only a site far beyond the typical excess
    # is unusual.
    ratio = (table["statistic"] / table["expected"]).where(table["n"] >= MIN_SUBJECTS)
    excess = [
        max(1.0, float(np.nanmedian(ratio.drop(i)))) if ratio.drop(i).notna().sum() >= 3 else 1.0
        for i in table.index
    ]
    table["expected"] = table["expected"] * np.asarray(excess)
    table["p"] = poisson_sf(table["statistic"], table["expected"])
    table["z"] = normal_isf(table["p"])
    table["effect"] = table["statistic"] / table["expected"]
    table["copied_pairs"] = table["statistic"]
    table = table[["site", "n", "statistic", "effect", "z", "p", "eligible", *EXTRAS]]
    listing = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    if len(listing):
        listing = listing.rename(columns={"site_a": "site", "b": "subject", "a": "shares_with"})
        listing = listing[listing_columns].sort_values(
            ["site", "test", "subject"], ignore_index=True
        )
    else:
        listing = pd.DataFrame(columns=listing_columns)
    return rank_sites(table, table["z"], ascending=False), listing
