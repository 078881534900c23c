"""Central monitoring on SDTM-shaped trials: null calibration, planted fabrications, coverage."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from provenance.reports.model import Params
from tests.conftest import make_app, run_named_report
from trials import monitoring as mon
from trials.monitoring import data as monitoring_data
from trials.monitoring import simulate as sim
from trials.monitoring.checks import Results, combine, run_checks
from trials.monitoring.copies import copied_values
from trials.monitoring.digits import digit_preference, site_step
from trials.monitoring.frames import TrialData
from trials.monitoring.indicators import NOT_AVAILABLE, kri_red_flags, kri_tables
from trials.monitoring.score import ALPHA, simes
from trials.monitoring.tails import chi2_sf, poisson_cdf, poisson_sf, t_two_sided
from trials.monitoring.trend import trend

NULL_SEEDS = range(1, 21)
#: The seed of the trial the fabrications are planted in: its own null ranking flags nothing.
PLANT_SEED = 1


@pytest.fixture(scope="module")
def null_runs() -> list[tuple[Results, pd.DataFrame]]:
    runs = []
    for seed in NULL_SEEDS:
        results = run_checks(sim.simulate_sdtm(seed))
        runs.append((results, combine(results)))
    return runs


def test_null_trials_flag_at_most_the_nominal_share_of_sites(
    null_runs: list[tuple[Results, pd.DataFrame]],
) -> None:
    """20 trials of 12 sites without anomalies but with site habits (a scale reading to 0.5 kg,
    blood pressures to 2 mmHg, glucose in mg/dL) and benign site differences."""
    flagged = sum(int(scores["flagged"].sum()) for _, scores in null_runs)
    sites = sum(len(scores) for _, scores in null_runs)
    assert sites == 20 * 12
    assert flagged / sites <= ALPHA + 0.01, flagged
    # The combined p is roughly uniform under the null: not all 1, not piled up near 0.
    p = np.concatenate([scores["p"].to_numpy(dtype=float) for _, scores in null_runs])
    assert 0.02 <= float(np.mean(p < 0.05)) <= 0.15


def test_site_habits_are_not_digit_preference(
    null_runs: list[tuple[Results, pd.DataFrame]],
) -> None:
    habits = sim.Habits()
    half_kg, even_bp = sim.site_name(habits.half_kg_site), sim.site_name(habits.even_bp_site)
    weights, flags = [], 0
    for results, _ in null_runs:
        digits = results.tables["digits"]
        flags += int(digits["flagged"].sum())
        assert not digits.loc[digits["flagged"], "site"].isin([half_kg, even_bp]).any()
        weight = digits[(digits["variable"] == "VS.WEIGHT [kg]") & (digits["site"] == half_kg)]
        assert weight["step"].tolist() == ["0.5"]
        weights.append(float(weight["p"].iloc[0]))
        bp = digits[(digits["variable"] == "VS.SYSBP [mmHg]") & (digits["site"] == even_bp)]
        assert bp["step"].tolist() == ["2"]
        # Study days, sequence numbers and reference ranges are never tested.
        assert not digits["variable"].str.contains("DY|SEQ|NRLO|NRHI").any()
    assert np.mean(np.array(weights) < 0.05) <= 0.15
    assert flags <= 2  # Benjamini-Hochberg at 5 %: about one trial in twenty has one


def test_null_near_duplicates_skip_same_day_visits(
    null_runs: list[tuple[Results, pd.DataFrame]],
) -> None:
    """Subjects of one site seen on the same day have SV rows (and urine results) that differ
    only in USUBJID: that is not a copied record."""
    data = sim.simulate_sdtm(NULL_SEEDS[0])
    sv = data.datasets["SV"]
    same_day = sv.duplicated(["VISITNUM", "VISIT", "SVSTDTC", "SVSTDY"], keep=False)
    assert same_day.sum() > 20  # the trial does have them
    for results, _ in null_runs:
        listing = results.tables["duplicate records"]
        copied = listing[listing["kind"].str.contains("another subject")]
        assert set(copied["dataset"]) <= {"AE"}
        assert not results.tables["copies"]["flagged"].any()


Plant = Callable[[TrialData], TrialData]
PLANTS: dict[str, tuple[Plant, str, str]] = {
    "whole copied records": (lambda d: sim.plant_copied_records(d, "06"), "06", "copies"),
    "vitals copied with own dates": (lambda d: sim.plant_copied_vitals(d, "05"), "05", "copies"),
    "uniform terminal digits": (lambda d: sim.plant_uniform_digits(d, "07"), "07", "digits"),
    "AEs over-reported (36 of 141)": (lambda d: sim.plant_ae_rate(d, "02", 4.0), "02", "ae"),
    "AEs under-reported": (lambda d: sim.plant_ae_rate(d, "02", 0.1), "02", "ae"),
    "lab distribution shifted": (lambda d: sim.plant_lab_shift(d, "08"), "08", "distributions"),
}


def test_the_plant_trial_is_clean(null_runs: list[tuple[Results, pd.DataFrame]]) -> None:
    _, scores = null_runs[PLANT_SEED - 1]
    assert not scores["flagged"].any()


@pytest.mark.parametrize("kind", list(PLANTS))
def test_planted_fabrication_ranks_first_and_is_flagged(kind: str) -> None:
    plant, site, check = PLANTS[kind]
    scores = combine(run_checks(plant(sim.simulate_sdtm(PLANT_SEED))))
    top = scores.iloc[0]
    assert (top["site"], bool(top["flagged"])) == (site, True), scores.head(3)
    assert check in top["checks"].split(", ")
    assert scores["flagged"].sum() <= 2


def test_copied_vitals_are_listed_against_the_first_subject() -> None:
    data = sim.plant_copied_vitals(sim.simulate_sdtm(PLANT_SEED), "05")
    table, listing = copied_values(data)
    first = sorted(s for s in data.datasets["VS"]["USUBJID"].unique() if "-05-" in s)[0]
    at_site = listing[listing["site"] == "05"]
    involved = set(at_site["subject"]) | set(at_site["shares_with"])
    assert first in involved and len(involved) == 8  # the first subject and its 7 copies
    assert len(at_site) == 28 * 5  # every pair of the 8, for each of the 5 vital signs
    assert set(at_site["test"]) == {f"VS.{t[1]}" for t in sim.TESTS if t[0] == "VS"}
    assert table.iloc[0]["site"] == "05" and table.iloc[0]["expected"] < 5


def test_whole_copied_records_are_near_duplicates_of_a_visit() -> None:
    data = sim.plant_copied_records(sim.simulate_sdtm(PLANT_SEED), "06", copies=2)
    listing = mon.duplicate_records(data)
    visits = listing[listing["kind"] == "visit copied to another subject"]
    assert set(visits["site"]) == {"06"}
    assert visits["subject"].nunique() == 3  # the source and its two copies
    assert set(visits["dataset"]) == {"LB", "VS"}


def test_coincidental_event_matches_are_listed_but_not_counted() -> None:
    """With 8 AE terms and 3 severities, a subject's recurrent mild headache and two patients'
    same-day nausea happen by chance: listed with their expected count, not held against the
    site; a record copied with every field is not expected by chance."""
    data = sim.simulate_sdtm(8, visits=16)
    listing = mon.duplicate_records(data)
    events = listing[listing["kind"].isin(["date shifted", "copied to another subject"])]
    assert len(events) > 10 and (events["chance"] >= 0.05).mean() > 0.9
    ae = data.datasets["AE"]
    copy = ae.iloc[[0]].assign(USUBJID=ae["USUBJID"].iloc[-1], AETERM="RARE EVENT")
    original = ae.iloc[[0]].assign(AETERM="RARE EVENT")
    events_plus = pd.concat([ae, original, copy], ignore_index=True)
    planted = TrialData({**data.datasets, "AE": events_plus}, data.roster, data.consent)
    found = mon.duplicate_records(planted)
    rare = found[found["record"].str.contains("RARE EVENT")]
    copied = rare[rare["kind"] == "copied to another subject"]
    assert len(copied) == 2 and (copied["chance"] < 0.05).all()


# --- coverage: missing domains, consent, split datasets --------------------------------------


def _without(data: TrialData, *domains: str, consent: bool = True) -> TrialData:
    kept = {k: v for k, v in data.datasets.items() if k not in domains}
    consents = data.consent if consent else pd.DataFrame(columns=["subject", "consented"])
    return TrialData(kept, data.roster, consents)


def test_trial_without_consent_or_ae_says_what_was_not_analysed() -> None:
    data = _without(sim.simulate_sdtm(2), "AE", consent=False)
    results = run_checks(data)
    coverage = results.coverage_table().set_index("check")
    assert coverage.loc["AE reporting rate", "status"] == "not analysed"
    assert "no AE dataset" in coverage.loc["AE reporting rate", "reason"]
    assert "consent" in coverage.loc["Date anomalies", "reason"]
    assert "page-creation" in coverage.loc["Data-entry lag", "reason"]
    assert "failed" not in set(coverage["status"])
    assert coverage.loc["Copied values", "status"] == "analysed"
    assert len(combine(results)) == 12


def test_trial_without_findings_or_roster_still_ranks_sites() -> None:
    full = sim.simulate_sdtm(3)
    data = TrialData(
        {"DM": full.datasets["DM"], "AE": full.datasets["AE"]},
        pd.DataFrame(columns=["subject", "site"]),
        full.consent,
    )
    results = run_checks(data)
    coverage = results.coverage_table().set_index("check")
    assert coverage.loc["Lab and vital-sign distributions", "status"] == "not analysed"
    assert "findings" in coverage.loc["Copied values", "reason"]
    assert set(results.tables["ae"]["site"]) == {sim.site_name(i) for i in range(12)}


class _Source:
    """The two queries trial_data makes, answered from frames; payloads are keys of `files`."""

    def __init__(self, versions: pd.DataFrame, roster: pd.DataFrame) -> None:
        self.versions, self.roster, self.conn = versions, roster, None

    def frame(self, sql: str, params: tuple[object, ...] = ()) -> pd.DataFrame:
        if "dataset_version" in sql:
            return self.versions
        if "enrolment" in sql:
            return self.roster
        return pd.DataFrame(columns=["subject", "consented"])


def test_a_domain_split_over_two_datasets_is_read_as_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LB submitted as two datasets: both halves are read as LB, and AE stays AE."""
    data = sim.simulate_sdtm(4)
    lb = data.datasets["LB"]
    files = {
        "p-lb1": lb.iloc[: len(lb) // 2],
        "p-lb2": lb.iloc[len(lb) // 2 :].drop(columns=["LBORNRLO"]),
        "p-ae": data.datasets["AE"],
        "p-dm": data.datasets["DM"],
    }
    versions = pd.DataFrame(
        [
            ["ae", 1, "AE", "csv", "p-ae", 1],
            ["dm", 1, "DM", "csv", "p-dm", 1],
            ["lb-chemistry", 1, "LB", "csv", "p-lb1", 1],
            ["lb-haematology", 1, "LB", "csv", "p-lb2", 1],
        ],
        columns=["dataset", "version", "domain", "format", "payload", "row_count"],
    )

    def parse(payload: str, _format: str) -> types.SimpleNamespace:
        frame = files[payload]
        return types.SimpleNamespace(columns=list(frame.columns), rows=frame.to_numpy().tolist())

    monkeypatch.setattr(monitoring_data, "payload_bytes", lambda _conn, payload: payload)
    monkeypatch.setattr(monitoring_data, "parse_dataset", parse)
    read, used = monitoring_data.trial_data(_Source(versions, data.roster), "T")  # type: ignore[arg-type]
    assert sorted(read.datasets) == ["AE", "DM", "LB"]
    assert len(read.datasets["LB"]) == len(lb)
    half = len(lb) // 2
    missing = int(lb.iloc[:half]["LBORNRLO"].isna().sum()) + len(lb) - half
    assert read.datasets["LB"]["LBORNRLO"].isna().sum() == missing
    assert set(used["status"]) == {"analysed"}
    results = run_checks(read)
    assert len(results.tables["ae"]) == 12 and len(results.tables["distributions"])


def test_report_on_a_trial_without_consent_builds(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _without(sim.simulate_sdtm(5), "SV", consent=False)
    versions = pd.DataFrame({"dataset": ["DM"], "version": [1], "status": ["analysed"]})
    monkeypatch.setattr(monitoring_data, "trial_data", lambda _source, _trial: (data, versions))
    app = make_app(tmp_path / "data")  # type: ignore[operator]
    report = run_named_report(app, "monitoring", Params(trial="NCT-SDTM", as_of=date(2013, 9, 1)))
    coverage = report.table("monitoring_coverage").frame
    assert "consent" in " ".join(coverage["reason"])
    assert report.metric("Sites").value == "12"
    titles = [s.title for s in report.sections]
    assert titles[0] == "Overview" and "Trends by as-of date" in titles
    trend_table = report.table("monitoring_trend").frame
    assert trend_table["as_of"].max() <= "2013-09-01"


# --- trends, KRIs, small statistics ---------------------------------------------------------


def test_trend_recomputes_each_as_of_date_from_dated_records() -> None:
    data = sim.simulate_sdtm(6)
    table = trend(data, date(2030, 1, 1))
    cuts = sorted(table["as_of"].unique())
    assert 2 <= len(cuts) <= 4
    aes = table.pivot(index="site", columns="as_of", values="aes").fillna(0)
    assert (aes.diff(axis=1).fillna(0) >= 0).all().all()  # counts only grow with the date
    ae_sites = data.datasets["AE"]["USUBJID"].str.split("-").str[1].value_counts()
    assert aes[cuts[-1]].astype(int).to_dict() == ae_sites.sort_index().to_dict()
    early = trend(data, date.fromisoformat(cuts[0]))
    assert early["as_of"].max() == cuts[0]


def test_kri_red_flags_enter_the_combined_score(monkeypatch: pytest.MonkeyPatch) -> None:
    data = sim.simulate_sdtm(PLANT_SEED)
    missing = kri_tables(data, Params(), module_name="trials.monitoring.no_such_kri_module")
    assert missing["note"].tolist() == [NOT_AVAILABLE]
    assert kri_red_flags(missing).empty
    module = types.ModuleType("fake_kri")

    def compute_kris(trial: TrialData) -> pd.DataFrame:
        return pd.DataFrame(
            {"group": ["11", "11", "03"], "kri": ["ae", "sae", "ae"], "flag": [-2, 2, 1]}
        )

    module.compute_kris = compute_kris  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_kri", module)
    table = kri_tables(data, Params(), module_name="fake_kri")
    red = kri_red_flags(table)
    assert red.to_dict() == {"03": 0.0, "11": 2.0}
    results = run_checks(data)
    plain, with_kri = combine(results), combine(results, red)
    assert with_kri.iloc[0]["site"] == "11" and with_kri.iloc[0]["kri_red"] == 2
    before = float(plain.set_index("site").loc["11", "score"])
    assert float(with_kri.set_index("site").loc["11", "score"]) == pytest.approx(before + 2)


def test_tail_probabilities() -> None:
    assert chi2_sf([3.841459, 27.877165], [1, 9]) == pytest.approx([0.05, 0.001], rel=1e-5)
    assert poisson_sf([5], [2.0])[0] == pytest.approx(0.052653, rel=1e-4)
    assert poisson_cdf([3], [2.0])[0] == pytest.approx(0.857123, rel=1e-5)
    assert t_two_sided([2.446912], 6)[0] == pytest.approx(0.05, rel=1e-5)
    assert simes(np.array([0.01, 0.04, 0.5])) == pytest.approx(0.03)


def test_recording_step_and_digit_test_use_only_measured_values() -> None:
    assert site_step(np.array([725, 730, 805, 810])) == 5
    assert site_step(np.array([120, 122, 130, 118])) == 2
    assert site_step(np.array([121, 122, 130])) == 1
    data = sim.simulate_sdtm(7)
    tested = set(digit_preference(data)["variable"])
    assert "VS.WEIGHT [kg]" in tested and "LB.GLUC [mg/dL]" in tested
    assert not {v for v in tested if "PROT" in v}  # text results have no digits


def test_digit_habits_shared_by_every_site_are_weighed_against_each_other() -> None:
    """When every site differs from the rest (each its own reading habit), only a site that
    differs far more than the others is left unusual; shared habits change nothing."""
    from trials.monitoring.digits import habits_rescaled

    sites = [f"{i:02d}" for i in range(12)]
    habits = pd.DataFrame(
        {
            "variable": "VS.PULSE [beats/min]",
            "site": sites,
            "p": [1e-4, 3e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1, 2e-1, 4e-1, 1e-30],
            "eligible": True,
        }
    )
    out = habits_rescaled(habits)
    assert (out["p"].iloc[:11] > 0.2).all() and out["p"].iloc[11] < 0.01
    uniform = habits.assign(p=np.linspace(0.04, 0.96, 12))
    expected = np.minimum(uniform["p"].to_numpy(), 0.5)  # one-sided: no site is "too typical"
    assert habits_rescaled(uniform)["p"].to_numpy() == pytest.approx(expected)
