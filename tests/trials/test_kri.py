"""gsm's KRIs on clindata, on the demo trial's datasets, on trials lacking domains, over time."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.paths import VECTORS
from trials.demo import clindata
from trials.monitoring import kri
from trials.monitoring.frames import TrialData
from trials.monitoring.kri_data import KriTables, from_clindata

GSM = VECTORS / "gsm"
#: The KRIs clindata's CSVs allow, as gsm defines them.
GSM_KRIS = ["kri0001", "kri0002", "kri0003", "kri0004", "kri0006", "kri0009", "kri0012"]


@pytest.fixture(scope="module")
def tables() -> KriTables:
    return from_clindata(clindata.DEFAULT_DIR, GSM)


@pytest.fixture(scope="module")
def result(tables: KriTables) -> kri.KriResult:
    return kri.compute_kris(tables)


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_csv(GSM / "clindata_expected.csv", dtype={"invid": str, "siteid": str})


def demo_trial() -> TrialData:
    """The demo trial's submissions: clindata's DM, AE and SV extracts and its roster."""
    datasets = {d: clindata.load_extract(d) for d in clindata.EXTRACTS}
    return TrialData(datasets, clindata.load_enrolment(), clindata.load_consent())


@pytest.mark.parametrize("kri_id", GSM_KRIS)
def test_clindata_site_kris_equal_gsm(
    result: kri.KriResult, expected: pd.DataFrame, kri_id: str
) -> None:
    want = expected[expected["kri"] == kri_id].set_index("invid")
    got = result.table[(result.table["kri"] == kri_id) & (result.table["level"] == "site")]
    got = got.set_index("group")
    assert sorted(got.index) == sorted(want.index)
    got = got.reindex(want.index)
    assert got["numerator"].tolist() == want["num"].tolist()
    assert got["denominator"].tolist() == want["den"].tolist()
    assert got["flag"].fillna(9).tolist() == want["flag"].fillna(9).tolist()
    assert got["score"].round(6).fillna(0).tolist() == pytest.approx(
        want["score"].fillna(0).tolist(), abs=2e-6
    )


def test_clindata_red_sites_are_the_issues_counts(result: kri.KriResult) -> None:
    assert result.flagged("kri0001") == ["0X024", "0X027", "0X159"]
    assert result.flagged("kri0002") == ["0X103", "0X109"]
    deviations = set(result.flagged("kri0003")) | set(result.flagged("kri0004"))
    assert len(deviations) == 7  # 4 + 4 red, 0X124 in both
    assert result.flagged("kri0006") == ["0X011", "0X103", "0X170"]
    assert result.flagged("kri0012") == ["0X023"]
    screen = result.table[(result.table["kri"] == "kri0012") & (result.table["group"] == "0X023")]
    assert screen["flag"].tolist() == [-2]  # fewer screen failures than the other sites


def test_clindata_lists_what_it_cannot_analyse(result: kri.KriResult) -> None:
    reasons = dict(result.not_analysed)
    assert sorted(reasons) == ["kri0005", "kri0007", "kri0008", "kri0011"]
    assert all(r.startswith("not analysed: ") for r in reasons.values())
    assert "lab" in reasons["kri0005"] and "data points" in reasons["kri0008"]


def test_clindata_country_level(result: kri.KriResult) -> None:
    country = result.table[result.table["level"] == "country"]
    assert set(country["group"]) == {"China", "Japan", "US"}
    ae = country[country["kri"] == "kri0001"].set_index("group")
    assert ae["numerator"].sum() == 4854  # every AE belongs to an enrolled subject
    sites = result.table[(result.table["level"] == "site") & (result.table["kri"] == "kri0001")]
    assert ae["denominator"].sum() == sites["denominator"].sum()
    assert result.flagged("kri0001", "country") == []
    assert result.flagged("kri0001", "country", red=False) == ["China"]


def test_demo_trial_datasets_give_gsms_ae_flags_by_site_number() -> None:
    result = kri.compute_kris(demo_trial())
    # invid 0X159, 0X027, 0X024 are site numbers 43, 75, 83; 0X103, 0X109 are 28 and 171.
    assert result.flagged("kri0001") == ["43", "75", "83"]
    assert result.flagged("kri0002") == ["171", "28"]
    missing = dict(result.not_analysed)
    assert {"kri0003", "kri0006", "kri0009", "kri0012"} <= set(missing)
    assert "kri0001" not in missing and "kri0010" not in missing


def test_trial_lacking_domains_reports_reasons_instead_of_failing() -> None:
    dm = pd.DataFrame({"USUBJID": ["1", "2"], "SITEID": ["A", "B"]}, dtype=object)
    result = kri.compute_kris({"DM": dm})
    assert result.table.empty
    reasons = dict(result.not_analysed)
    assert sorted(reasons) == [k.id for k in kri.KRIS]
    assert reasons["kri0001"] == "not analysed: no adverse-event data (AE)"
    with pytest.raises(ValueError, match="DM"):
        kri.compute_kris({"AE": dm})


def test_sdtm_style_domains_are_read() -> None:
    dm = pd.DataFrame(
        {
            "USUBJID": ["1", "2", "3", "4"],
            "SITEID": ["A", "A", "B", "B"],
            "COUNTRY": ["FR", "FR", "DE", "DE"],
            "RFSTDTC": ["2020-01-01"] * 4,
            "RFENDTC": ["2020-01-10", "2020-01-20", "2020-01-10", None],
        },
        dtype=object,
    )
    ae = pd.DataFrame(
        {"USUBJID": ["1", "1", "3"], "AESER": ["Y", "N", "N"], "AESTDTC": ["2020-01-02"] * 3}
    )
    dv = pd.DataFrame({"USUBJID": ["2", "4"], "DVIMP": ["Y", "N"], "DVSTDTC": [None, None]})
    ds = pd.DataFrame(
        {"USUBJID": ["1", "2", "3"], "DSDECOD": ["COMPLETED", "ADVERSE EVENT", "COMPLETED"]}
    )
    lb = pd.DataFrame({"USUBJID": ["1", "1", "3", "3"], "LBTOXGR": ["3", "0", "1", ""]})
    data = TrialData(
        {"DM": dm, "AE": ae, "DV": dv, "DS": ds, "LB": lb},
        dm[["USUBJID", "SITEID"]].set_axis(["subject", "site"], axis=1),
        pd.DataFrame(columns=["subject", "consented"]),
    )
    table = kri.compute_kris(data).table
    site = table[table["level"] == "site"].set_index(["kri", "group"])
    # Subject 4 has no end date, so no days on study: site B has subject 3's 10 days only.
    assert site.loc[("kri0001", "A"), ["numerator", "denominator"]].tolist() == [2, 30]
    assert site.loc[("kri0001", "B"), ["numerator", "denominator"]].tolist() == [1, 10]
    assert site.loc[("kri0004", "A"), "numerator"] == 1
    assert site.loc[("kri0003", "B"), "numerator"] == 1
    assert site.loc[("kri0006", "A"), ["numerator", "denominator"]].tolist() == [1, 2]
    assert site.loc[("kri0005", "A"), ["numerator", "denominator"]].tolist() == [1, 2]
    assert site.loc[("kri0005", "B"), ["numerator", "denominator"]].tolist() == [0, 1]
    assert set(table[table["level"] == "country"]["group"]) == {"FR", "DE"}


def test_snapshots_only_count_data_dated_by_then(tables: KriTables) -> None:
    dates = ["2003-01-01", "2008-12-31", "2012-12-31", "2030-01-01"]
    trend = kri.kri_snapshots(
        tables, dates, [k for k in kri.KRIS if k.id in ("kri0001", "kri0003")]
    )
    ae = trend[(trend["kri"] == "kri0001") & (trend["level"] == "site")]
    totals = ae.groupby("snapshot")[["numerator", "denominator"]].sum()
    assert pd.Timestamp("2003-01-01") not in totals.index  # nobody had started
    assert totals["numerator"].is_monotonic_increasing
    assert totals["denominator"].is_monotonic_increasing
    ae_created = tables.ae["dated"] if tables.ae is not None else pd.Series()
    assert totals.loc[pd.Timestamp("2008-12-31"), "numerator"] == (ae_created <= "2008-12-31").sum()
    # By 2030 everything has happened: the AE rate equals the full analysis...
    full = kri.compute_kris(tables).table
    late = ae[ae["snapshot"] == pd.Timestamp("2030-01-01")].set_index("group")
    now = full[(full["kri"] == "kri0001") & (full["level"] == "site")].set_index("group")
    assert late["flag"].fillna(9).tolist() == now["flag"].reindex(late.index).fillna(9).tolist()
    # ...but undated deviations cannot be placed in time, and the result says how many.
    snapshot = kri.compute_kris(tables, "2030-01-01")
    assert snapshot.undated["deviations"] == 3190
    assert kri.compute_kris(tables).undated == {}


def test_snapshot_before_any_subject_reports_every_kri_unanalysed(tables: KriTables) -> None:
    result = kri.compute_kris(tables, "2000-01-01")
    assert result.table.empty
    assert len(result.not_analysed) == len(kri.KRIS)


def test_snapshots_with_no_data_keep_the_columns(tables: KriTables) -> None:
    trend = kri.kri_snapshots(tables, ["2000-01-01"])
    assert trend.empty and list(trend.columns) == ["snapshot", *kri.COLUMNS]
    assert trend["flag"].dtype == float


def test_screening_log_and_queries_are_read_from_a_trial() -> None:
    dm = pd.DataFrame(
        {"SUBJECT": ["1", "2"], "SITEID": ["A", "B"], "RFSTDTC": ["2019-12-01"] * 2},
        dtype=object,
    )
    enroll = pd.DataFrame(
        {
            "SUBJECTID": ["1", "2", "x", "y", "z"],
            "SITEID": ["A", "B", "A", "A", "B"],
            "ENROLLYN": ["Y", "Y", "N", "N", "N"],
        }
    )
    query = pd.DataFrame(
        {
            "SUBJECT": ["1", "1", "2"],
            "QUERYSTATUS": ["Closed", "Open", "Closed"],
            "CREATED": ["2020-01-01", "2020-01-05", "2020-01-01"],
            "RESOLVED": ["2020-03-01", None, "2020-01-02"],
        }
    )
    result = kri.compute_kris({"DM": dm, "ENROLL": enroll, "QUERY": query})
    site = result.table[result.table["level"] == "site"].set_index(["kri", "group"])
    assert site.loc[("kri0012", "A"), ["numerator", "denominator"]].tolist() == [2, 3]
    assert site.loc[("kri0012", "B"), ["numerator", "denominator"]].tolist() == [1, 2]
    # Closed after 61 days, and open from 5 January to the extract's last date (1 March): 57.
    assert site.loc[("kri0009", "A"), ["numerator", "denominator"]].tolist() == [2, 2]
    assert site.loc[("kri0009", "B"), ["numerator", "denominator"]].tolist() == [0, 1]
    snapshot = kri.compute_kris({"DM": dm, "ENROLL": enroll, "QUERY": query}, "2020-01-20")
    early = snapshot.table.set_index(["level", "kri", "group"])
    assert early.loc[("site", "kri0009", "A"), "numerator"] == 0  # 20 and 16 days old then
    # The log has no screening dates, so a snapshot cannot place any screening.
    assert dict(snapshot.not_analysed)["kri0012"] == "not analysed: every denominator is 0"
    assert snapshot.undated["screening"] == 5
