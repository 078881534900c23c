"""gsm's KRI methods: hand-computed small cases and gsm's own stored R output."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.paths import VECTORS
from trials.monitoring import kri_methods as km

GSM = VECTORS / "gsm"


def counts(numerators: list[float], denominators: list[float]) -> pd.DataFrame:
    groups = [f"s{i}" for i in range(len(numerators))]
    return pd.DataFrame({"group": groups, "numerator": numerators, "denominator": denominators})


def test_normal_rate_score_with_over_dispersion_by_hand() -> None:
    # mu = 15/300 = 0.05; z0 = ±0.05/sqrt(0.05/100) = ±sqrt(5); phi = 10/3;
    # score = ±sqrt(5)/sqrt(10/3) = ±sqrt(1.5).
    out = km.analyze_normal(km.transform(counts([0, 5, 10], [100, 100, 100])), "rate")
    assert out["overall"].iloc[0] == pytest.approx(0.05)
    assert out["factor"].iloc[0] == pytest.approx(10 / 3)
    assert out["score"].tolist() == pytest.approx([-math.sqrt(1.5), 0.0, math.sqrt(1.5)])


def test_normal_binary_score_by_hand() -> None:
    # mu = 0.2, v = 0.16; z0 = (0.1 - 0.2)/sqrt(0.016) and (0.4 - 0.2)/sqrt(0.016 * 2)...
    table = km.transform(counts([1, 4, 0], [10, 10, 5]))
    out = km.analyze_normal(table, "binary")
    mu = 5 / 25
    z0 = [(m - mu) / math.sqrt(mu * (1 - mu) / n) for m, n in [(0.1, 10), (0.4, 10), (0.0, 5)]]
    phi = sum(z * z for z in z0) / 3
    assert out["score"].tolist() == pytest.approx([z / math.sqrt(phi) for z in z0])


def test_degenerate_rates_score_zero() -> None:
    assert km.analyze_normal(km.transform(counts([0, 0], [5, 9])), "rate")["score"].tolist() == [
        0,
        0,
    ]
    assert km.analyze_normal(km.transform(counts([5, 9], [5, 9])), "binary")["score"].tolist() == [
        0,
        0,
    ]
    with pytest.raises(ValueError, match="kind"):
        km.analyze_normal(km.transform(counts([1], [2])), "odds")


def test_transform_drops_zero_denominators_and_sums_subjects() -> None:
    rows = pd.DataFrame(
        {"group": ["a", "a", "b", "c"], "numerator": [1, 2, 0, 1], "denominator": [3, 5, 0, 0]}
    )
    out = km.transform(rows)
    assert out["group"].tolist() == ["a"]
    assert out[["numerator", "denominator", "metric"]].iloc[0].tolist() == [3, 8, 3 / 8]


def test_flag_cuts_are_closed_on_the_left() -> None:
    scores = pd.Series([-3.5, -3.0, -2.5, -2.0, 0.0, 1.999, 2.0, 3.0, np.nan])
    flags = km.flag(scores, (-3, -2, 2, 3))
    assert flags.fillna(9).tolist() == [-2, -1, -1, 0, 0, 0, 1, 2, 9]
    # kri0001/kri0002 thresholds: amber already at -1, red below -2.
    ae = km.flag(pd.Series([-2.01, -2.0, -1.0, -0.99]), (-2, -1, 2, 3))
    assert ae.tolist() == [-2, -1, 0, 0]
    with pytest.raises(ValueError, match="ascending"):
        km.flag(scores, (3, 2, -2, -3))


def test_poisson_deviance_residuals_by_hand() -> None:
    # Intercept-only Poisson GLM with offset: both expected counts are 5.
    out = km.analyze_poisson(km.transform(counts([0, 10], [1, 1])))
    assert out["predicted"].tolist() == pytest.approx([5, 5])
    assert out["score"].tolist() == pytest.approx(
        [-math.sqrt(10), math.sqrt(20 * math.log(2) - 10)]
    )
    flagged = km.score_groups(counts([0, 100, 50], [1, 1, 1]), "poisson")
    assert flagged["flag"].tolist() == [-2, 1, 0]  # residuals -10 and +6.2 against ±5 / ±7
    assert flagged["score"].iloc[1] == pytest.approx(math.sqrt(2 * (100 * math.log(2) - 50)))


def brute_fisher(a: int, b: int, c: int, d: int) -> float:
    row, col, n = a + b, a + c, a + b + c + d

    def p(x: int) -> float:
        return math.comb(col, x) * math.comb(n - col, row - x) / math.comb(n, row)

    support = range(max(0, row + col - n), min(row, col) + 1)
    return sum(p(x) for x in support if p(x) <= p(a) * (1 + 1e-7))


def test_fisher_exact_two_sided_matches_known_values() -> None:
    assert km.fisher_p(3, 1, 1, 3) == pytest.approx(34 / 70)  # the tea-tasting table
    assert km.fisher_p(1, 9, 11, 3) == pytest.approx(0.002759, abs=1e-6)
    for table in [(0, 5, 5, 0), (2, 7, 8, 2), (10, 0, 3, 30), (0, 0, 4, 6)]:
        assert km.fisher_p(*table) == pytest.approx(brute_fisher(*table))


def test_fisher_flags_are_signed_by_direction() -> None:
    out = km.score_groups(counts([9, 1, 5, 5], [10, 10, 10, 10]), "fisher")
    by = out.set_index("group")
    assert float(by.loc["s0", "flag"]) > 0 and float(by.loc["s1", "flag"]) < 0
    assert by.loc["s2", "flag"] == 0
    assert by.loc["s0", "score"] == pytest.approx(brute_fisher(19, 11, 1, 9))


def test_identity_needs_thresholds_and_uses_the_metric() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        km.score_groups(counts([1], [2]), "identity")
    out = km.score_groups(counts([1, 9], [10, 10]), "identity", thresholds=(0, 0.05, 0.5, 0.8))
    assert out["score"].tolist() == [0.1, 0.9] and out["flag"].tolist() == [0, 2]
    with pytest.raises(ValueError, match="unknown method"):
        km.score_groups(counts([1], [2]), "bayes", thresholds=(0, 1, 2, 3))


def test_small_denominators_are_not_scored() -> None:
    out = km.score_groups(counts([0, 5, 10, 1], [100, 100, 100, 2]), "normal", "rate", None, 30)
    assert out["flag"].isna().tolist() == [False, False, False, True]
    assert out["score"].isna().tolist() == [False, False, False, True]


@pytest.mark.parametrize("level", ["", "_country"])
def test_gsm_stored_results_are_reproduced(level: str) -> None:
    """Every score and flag in gsm's own R output (data-raw/reportingResults*.csv): recomputed
    from its numerators and denominators with each KRI's type, thresholds and minimum."""
    results = pd.read_csv(GSM / f"reportingResults{level}.csv.gz", dtype={"GroupID": str})
    metrics = pd.read_csv(GSM / f"reportingMetrics{level}.csv").set_index("MetricID")
    checked = 0
    for (metric, _), group in results.groupby(["MetricID", "SnapshotDate"]):
        meta = metrics.loc[metric]
        assert meta["Model"] == "Normal Approximation"
        cuts = [float(x) for x in str(meta["Threshold"]).split(",")]
        table = group.rename(
            columns={"GroupID": "group", "Numerator": "numerator", "Denominator": "denominator"}
        )[["group", "numerator", "denominator"]]
        ours = km.score_groups(table, "normal", meta["AnalysisType"], cuts, meta["nMinDenominator"])
        ours = ours.set_index("group").reindex(group["GroupID"])
        assert np.allclose(ours["score"], group["Score"], atol=1e-9, equal_nan=True)
        assert ours["flag"].fillna(9).tolist() == group["Flag"].fillna(9).tolist()
        checked += len(group)
    assert checked == {"": 15524, "_country": 432}[level]
