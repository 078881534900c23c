"""Loading the clindata tables, and the consent rule over them against the published facts."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.paths import PROJECT
from trials.consent import ENROLLED_BEFORE_CONSENT, NO_CONSENT, consent_findings
from trials.demo.clindata import (
    DEFAULT_DIR,
    Study,
    load_consent,
    load_enrolment,
    load_sites,
    load_study,
    load_table,
    pseudonym,
)

TABLES = [
    "ctms_protdev",
    "ctms_site",
    "ctms_study",
    "rawplus_ae",
    "rawplus_consent",
    "rawplus_dm",
    "rawplus_enroll",
    "rawplus_studcomp",
    "rawplus_visdt",
]


def raw_rows(name: str, directory: Path = DEFAULT_DIR) -> list[dict[str, str]]:
    """The table read with nothing but the standard library, to cross-check pandas."""
    with gzip.open(directory / f"{name}.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_table(directory: Path, name: str, rows: list[dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with gzip.open(directory / f"{name}.csv.gz", "wt", encoding="utf-8", newline="") as handle:
        handle.write(buffer.getvalue())


def test_default_dir_is_the_repository_data() -> None:
    expected = PROJECT / "data" / "clindata"
    assert expected == DEFAULT_DIR


@pytest.mark.parametrize("name", TABLES)
def test_load_table_matches_csv_and_is_deterministic(name: str) -> None:
    first = load_table(name)
    second = load_table(name)
    pd.testing.assert_frame_equal(first, second)
    assert first.equals(second)
    rows = raw_rows(name)
    assert len(first) == len(rows)
    assert list(first.columns) == list(rows[0])
    assert all(dtype == "object" for dtype in first.dtypes)
    # Every cell is the raw text, or None where the CSV field was empty.
    expected = [[value or None for value in row.values()] for row in rows]
    assert first.to_numpy().tolist() == expected


def test_load_table_keeps_leading_zeros() -> None:
    consent = load_table("rawplus_consent")
    assert "0496" in set(consent["subjid"])


def test_load_table_unknown_name() -> None:
    with pytest.raises(FileNotFoundError):
        load_table("no_such_table")


def test_load_study() -> None:
    study = load_study()
    assert study == Study(
        study_id="AA-AA-000-0000",
        title="Protocol Title",
        phase="P3",
        planned_sites=190,
        planned_subjects=1300,
        first_patient_first_visit="2003-01-01",
    )


@pytest.mark.parametrize("raw", ["P3", "3", "Phase 3", " p3 "])
def test_load_study_normalises_phase(tmp_path: Path, raw: str) -> None:
    row = raw_rows("ctms_study")[0]
    write_table(tmp_path, "ctms_study", [{**row, "phase": raw, "act_fpfv": ""}])
    study = load_study(tmp_path)
    assert study.phase == "P3"
    assert study.first_patient_first_visit is None


def test_load_sites() -> None:
    sites = load_sites()
    assert list(sites.columns) == ["site", "country", "activated", "status"]
    assert len(sites) == 176
    assert sites["site"].is_unique
    assert set(sites["country"]) == {"US", "China", "Japan"}
    assert set(sites["status"]) == {"Active"}
    for activated in sites["activated"]:
        assert date.fromisoformat(activated).isoformat() == activated
    # Numeric order, not text order ("10" after "9").
    numbers = [int(site) for site in sites["site"]]
    assert numbers == sorted(numbers)


def test_load_enrolment() -> None:
    enrolment = load_enrolment()
    assert list(enrolment.columns) == ["subject", "site", "enrolled"]
    assert len(enrolment) == 1301
    assert enrolment["subject"].is_unique
    enrolled_ids = {row["subjid"] for row in raw_rows("rawplus_enroll") if row["enrollyn"] == "Y"}
    assert set(enrolment["subject"]) == enrolled_ids
    dm_ids = {row["subjid"] for row in raw_rows("rawplus_dm")}
    assert enrolled_ids == dm_ids


def test_load_consent() -> None:
    consent = load_consent()
    assert list(consent.columns) == ["subject", "consented"]
    assert len(consent) == 1297
    assert consent["subject"].is_unique


def test_consent_findings_on_the_trial_match_facts() -> None:
    findings = consent_findings(load_enrolment(), load_consent())
    kinds = [finding.kind for finding in findings]
    assert kinds.count(NO_CONSENT) == 4
    assert kinds.count(ENROLLED_BEFORE_CONSENT) == 16
    assert findings == sorted(findings, key=lambda finding: (finding.kind, finding.subject))

    # Independent computation straight from the CSV rows.
    consent: dict[str, str] = {}
    for row in raw_rows("rawplus_consent"):
        if row["conscat"] == "MAINCONSENT" and row["consyn"] == "Y":
            consent[row["subjid"]] = min(row["consdt"], consent.get(row["subjid"], "9999"))
    no_consent: set[str] = set()
    before: set[str] = set()
    for row in raw_rows("rawplus_enroll"):
        if row["enrollyn"] != "Y":
            continue
        given = consent.get(row["subjid"])
        if given is None:
            no_consent.add(row["subjid"])
        elif date.fromisoformat(row["enroll_dt"]) < date.fromisoformat(given):
            before.add(row["subjid"])
    assert (len(no_consent), len(before)) == (4, 16)
    assert {f.subject for f in findings if f.kind == NO_CONSENT} == no_consent
    assert {f.subject for f in findings if f.kind == ENROLLED_BEFORE_CONSENT} == before
    for finding in findings:
        assert finding.consented == consent.get(finding.subject)


def test_nobody_enrolled_before_site_activation() -> None:
    sites = load_sites()
    activated = dict(zip(sites["site"], sites["activated"], strict=True))
    enrolment = load_enrolment()
    early = [
        row
        for row in enrolment.to_dict("records")
        if date.fromisoformat(row["enrolled"]) < date.fromisoformat(activated[row["site"]])
    ]
    assert len(enrolment) == 1301
    assert early == []


def test_load_consent_drops_refused_and_other_categories(tmp_path: Path) -> None:
    header = {"subjid": "", "consdt": "", "conscat": "", "consyn": ""}
    write_table(
        tmp_path,
        "rawplus_consent",
        [
            {
                **header,
                "subjid": "0001",
                "consdt": "2020-01-01",
                "conscat": "MAINCONSENT",
                "consyn": "N",
            },
            {
                **header,
                "subjid": "0002",
                "consdt": "2020-01-01",
                "conscat": "SUBSTUDY",
                "consyn": "Y",
            },
            {
                **header,
                "subjid": "0003",
                "consdt": "2020-01-05",
                "conscat": "MAINCONSENT",
                "consyn": "Y",
            },
            {
                **header,
                "subjid": "0003",
                "consdt": "2020-01-02",
                "conscat": "MAINCONSENT",
                "consyn": "Y",
            },
        ],
    )
    write_table(
        tmp_path,
        "rawplus_enroll",
        [
            {"subjid": s, "siteid": "9", "enroll_dt": "2020-01-03", "enrollyn": "Y"}
            for s in ("0001", "0002", "0003")
        ]
        + [{"subjid": "", "siteid": "9", "enroll_dt": "2020-01-03", "enrollyn": "N"}],
    )
    consent = load_consent(tmp_path)
    assert consent.to_dict("records") == [{"subject": "0003", "consented": "2020-01-02"}]
    enrolment = load_enrolment(tmp_path)
    assert list(enrolment["subject"]) == ["0001", "0002", "0003"]
    findings = consent_findings(enrolment, consent)
    assert [(f.subject, f.kind) for f in findings] == [("0001", NO_CONSENT), ("0002", NO_CONSENT)]


def test_pseudonym_is_keyed_and_stable() -> None:
    value = pseudonym("0496", b"sponsor secret one")
    assert value == pseudonym("0496", b"sponsor secret one")
    assert value.startswith("S-") and len(value) == 14
    assert value != pseudonym("0496", b"sponsor secret two")
    assert value != pseudonym("0497", b"sponsor secret one")
    # Without the secret, hashing every 4-digit number does not find it.
    import hashlib

    unkeyed = {"S-" + hashlib.sha256(f"{n:04d}".encode()).hexdigest()[:12] for n in range(10000)}
    assert value not in unkeyed
