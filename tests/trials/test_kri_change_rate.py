"""gsm's data change rate (kri0011) from the trial's own dataset amendments."""

from __future__ import annotations

import types
from collections import Counter
from collections.abc import Iterator

import pandas as pd
import pytest

from provenance.reports.source import open_source
from provenance.web.context import service
from tests.conftest import seeded_demo_app
from trials.datasets import Dataset
from trials.demo.story import TRIAL_ID
from trials.monitoring import kri, kri_inputs
from trials.monitoring.data import trial_data
from trials.monitoring.frames import SUBJECT_NAMES, TrialData, role
from trials.monitoring.kri_inputs import Submitted, TrialHistory, data_points

AE_COLUMNS = ("USUBJID", "AESEQ", "AETERM", "AETOXGR")
SITES, SUBJECTS, RECORDS = 30, 5, 10
FIRST, AMENDED, AGAIN = (
    pd.Timestamp("2024-01-10"),
    pd.Timestamp("2024-03-01"),
    pd.Timestamp("2024-05-01"),
)
PLANTED = "07"


def _subjects() -> list[tuple[str, str]]:
    return [(f"S{s:02d}-{n}", f"{s:02d}") for s in range(SITES) for n in range(SUBJECTS)]


def _ae(changed: dict[str, int], grade: str) -> Dataset:
    """Every subject's AE records; the first `changed[site]` records of each site get `grade`."""
    rows, left = [], dict(changed)
    for subject, site in _subjects():
        for seq in range(RECORDS):
            hit = left.get(site, 0) > 0
            left[site] = left.get(site, 0) - 1
            rows.append((subject, str(seq + 1), "Headache", grade if hit else "1"))
    return Dataset("csv", "AE", AE_COLUMNS, tuple(rows))


def _frame(table: Dataset) -> pd.DataFrame:
    return pd.DataFrame(list(table.rows), columns=list(table.columns), dtype=object)


def hand_built(changed: dict[str, int] | None, again: bool = False) -> TrialHistory:
    """30 sites of 5 subjects with 10 AEs each; `changed`: cells an amendment changes per site
    (None: never amended); `again`: a second amendment changes the same cells back."""
    started = tuple((subject, site, "2024-01-01") for subject, site in _subjects())
    dm = Dataset("csv", "DM", ("USUBJID", "SITEID", "RFSTDTC"), started)
    first = _ae({}, "1")
    ae = [Submitted(first, FIRST)]
    if changed is not None:
        ae.append(Submitted(_ae(changed, "3"), AMENDED))
        if again:
            ae.append(Submitted(first, AGAIN))
    points = data_points({"AE": "AE", "DM": "DM"}, {"AE": ae, "DM": [Submitted(dm, FIRST)]})
    roster = pd.DataFrame(_subjects(), columns=["subject", "site"])
    consent = pd.DataFrame(columns=["subject", "consented"])
    datasets = {"DM": _frame(dm), "AE": _frame(ae[-1].dataset)}
    return TrialHistory(datasets, roster, consent, points)


def _sites(result: kri.KriResult) -> pd.DataFrame:
    t = result.table
    return t[(t["kri"] == "kri0011") & (t["level"] == "site")].set_index("group")


def _baseline() -> dict[str, int]:
    return {f"{s:02d}": s % 3 + 1 for s in range(SITES)}


def test_planted_site_changing_many_cells_is_flagged_red() -> None:
    result = kri.compute_kris(hand_built({**_baseline(), PLANTED: 40}))
    assert result.flagged("kri0011") == [PLANTED]
    sites = _sites(result)
    assert sites.loc[PLANTED, "numerator"] == 40
    assert sites.loc["01", "numerator"] == 2
    # Data points: each subject's 10 AE rows of 4 cells and 1 DM row of 3 cells, 5 subjects.
    assert (sites["denominator"] == SUBJECTS * (RECORDS * 4 + 3)).all()
    assert sites.loc[PLANTED, "flag"] == 2 and sites.loc[PLANTED, "score"] > 3
    assert (sites.drop(PLANTED)["flag"] == 0).all()


def test_a_cell_changed_twice_is_one_data_point_with_a_change() -> None:
    once = _sites(kri.compute_kris(hand_built({**_baseline(), PLANTED: 40})))
    twice = _sites(kri.compute_kris(hand_built({**_baseline(), PLANTED: 40}, again=True)))
    assert twice["numerator"].tolist() == once["numerator"].tolist()


def test_a_snapshot_before_the_amendment_counts_no_changes() -> None:
    data = hand_built({**_baseline(), PLANTED: 40})
    before = _sites(kri.compute_kris(data, as_of="2024-02-01"))
    after = _sites(kri.compute_kris(data, as_of="2024-03-01"))
    assert len(before) == len(after) == SITES
    assert before["numerator"].sum() == 0 and (before["flag"] == 0).all()
    assert after.loc[PLANTED, "flag"] == 2
    assert after["numerator"].sum() == sum(_baseline().values()) - 2 + 40


def test_a_trial_never_amended_is_analysed_with_no_changes() -> None:
    result = kri.compute_kris(hand_built(None))
    assert "kri0011" not in dict(result.not_analysed)
    sites = _sites(result)
    assert len(sites) == SITES
    assert sites["numerator"].sum() == 0 and (sites["flag"] == 0).all()


def test_datasets_without_a_version_history_are_not_analysed() -> None:
    built = hand_built(None)
    plain = TrialData(built.datasets, built.roster, built.consent)
    reasons = dict(kri.compute_kris(plain).not_analysed)
    assert (
        reasons["kri0011"]
        == "not analysed: no version history of the datasets (data points and amendments)"
    )
    assert "kri0011" in dict(kri.compute_kris(dict(built.datasets)).not_analysed)


# --- the demo trial, read from the log ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrialData]:
    with seeded_demo_app(tmp_path_factory.mktemp("change-rate"), 0, ("trials",)) as app:
        with app.app_context(), open_source(service()) as source:
            data, _ = trial_data(source, TRIAL_ID)
        yield data


def test_demo_ae_amendment_counts_its_three_cells_at_their_sites(demo: TrialData) -> None:
    result = kri.compute_kris(demo)
    assert "kri0011" not in dict(result.not_analysed)
    sites = _sites(result)
    ae = demo.datasets["AE"]
    site_of = demo.roster.astype(str).set_index("subject")["site"]
    # The demo amendment corrects the toxicity grade of AE's first three rows.
    subject = role(ae, SUBJECT_NAMES)
    assert subject is not None
    want = Counter(site_of[str(s)] for s in ae[subject].iloc[:3])
    got = sites[sites["numerator"] > 0]["numerator"]
    assert got.to_dict() == {site: float(n) for site, n in want.items()}
    known = set(site_of.index)
    cells = sum(
        int(frame[role(frame, SUBJECT_NAMES) or ""].astype(str).isin(known).sum()) * frame.shape[1]
        for frame in demo.datasets.values()
    )
    assert sites["denominator"].sum() == cells


def test_an_erased_version_is_left_out_and_its_neighbours_compared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AE v1, v2 (erased) and v3: v3 is compared with v1; the latest is read once, by the caller."""
    stored = {"p1": _ae({}, "1"), "p3": _ae({PLANTED: 4}, "3")}
    read: list[str] = []

    def payload(_conn: object, commitment: str) -> str | None:
        read.append(commitment)
        return commitment if commitment in stored else None

    monkeypatch.setattr(kri_inputs, "payload_bytes", payload)
    monkeypatch.setattr(kri_inputs, "parse_dataset", lambda data, _fmt: stored[data])
    versions = pd.DataFrame(
        [["ae", n, "AE", "csv", f"p{n}", f"2024-0{n}-01T00:00:00Z"] for n in (1, 2, 3)],
        columns=["dataset", "version", "domain", "format", "payload", "submitted_at"],
    )
    points = kri_inputs.read_history(
        types.SimpleNamespace(conn=None),  # type: ignore[arg-type]
        versions,
        {"ae": stored["p3"]},
    )
    assert read == ["p1", "p2"]
    changed = points[points["changed"] > 0]
    assert changed["changed"].sum() == 4
    assert set(changed["dated"]) == {pd.Timestamp("2024-03-01")}
    assert points["points"].sum() == SITES * SUBJECTS * RECORDS * 4
