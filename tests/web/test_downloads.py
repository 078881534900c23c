"""What the service hands out as files: uploads as attachments, CSV no spreadsheet runs."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from flask.testing import FlaskClient

from provenance.reports.model import Table
from provenance.reports.render import csv_cell, csv_text, table_csv
from tests.parties import (
    Authority,
    PartyKey,
    read,
    register_party,
    register_person,
    send,
    signed,
)

TRIAL = "NCT01234567"
FORMULA = "=1+cmd|' /C calc'!A0"
SUM = "@SUM(1)"


def upload(client: FlaskClient, party: PartyKey, data: bytes, media_type: str) -> str:
    salt = hashlib.sha256(data).digest()
    url = "/api/v1/trials/payloads"
    response = client.post(
        url,
        data=data,
        headers={
            **signed(party, "POST", url, data),
            "X-Salt": salt.hex(),
            "Content-Type": media_type,
        },
    )
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["commitment"])


@pytest.fixture
def sponsor(client: FlaskClient, authority: Authority) -> PartyKey:
    return register_party(client, authority, "Sponsor", "5412345000051", ["sponsor"])


def test_an_html_upload_comes_back_as_an_attachment(client: FlaskClient, sponsor: PartyKey) -> None:
    page = b"<!doctype html><script>alert(document.domain)</script>"
    commitment = upload(client, sponsor, page, "text/html")
    response = read(client, sponsor, f"/api/v1/trials/payloads/{commitment}")
    assert response.status_code == 200 and response.data == page
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{commitment}.html"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Provenance-Media-Type"] == "text/html"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in response.headers


def _xpt(tmp_path: Path) -> bytes:
    """A one-row SAS XPT V5 file: uploads declared as datasets must be readable datasets."""
    path = tmp_path / "dm.xpt"
    pyreadstat.write_xport(pd.DataFrame({"USUBJID": ["01-001"], "AGE": [63.0]}), str(path))
    return path.read_bytes()


@pytest.mark.parametrize(
    ("declared", "extension"),
    [
        ("text/csv", ".csv"),
        ("application/json", ".json"),  # JSON that is no Dataset-JSON: stored as it is
        ("application/x-sas-xport", ".xpt"),
        ("application/x-never-heard-of", ".bin"),
    ],
)
def test_the_file_name_follows_the_declared_type(
    client: FlaskClient, sponsor: PartyKey, declared: str, extension: str, tmp_path: Path
) -> None:
    data = _xpt(tmp_path) if extension == ".xpt" else declared.encode()
    commitment = upload(client, sponsor, data, declared)
    response = read(client, sponsor, f"/api/v1/trials/payloads/{commitment}")
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].endswith(f'{commitment}{extension}"')
    assert response.headers["Provenance-Media-Type"] == declared


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (FORMULA, "'" + FORMULA),
        (SUM, "'" + SUM),
        ("+1", "'+1"),
        ("-5", "'-5"),  # text that looks like a number is still text
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        ("", ""),
        (-5, -5),
        (-2.5, -2.5),
        (None, None),
    ],
)
def test_csv_cell_quotes_what_a_spreadsheet_would_run(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_csv_text_writes_numbers_as_numbers() -> None:
    text = csv_text(["name", "=total"], [[FORMULA, -5], [SUM, 3]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "'=total"],
        ["'" + FORMULA, "-5"],
        ["'" + SUM, "3"],
    ]


def test_report_tables_quote_text_and_keep_negative_numbers() -> None:
    frame = pd.DataFrame(
        {
            "party": [FORMULA, SUM, "-5", "Acme"],
            "change": [-5, 3, 0, -1],
            "share": [-0.5, 0.25, None, 1.0],
            "mixed": [-5, "-5", None, "+x"],
            "@column": pd.Categorical(["=a", "b", "b", "b"]),
        }
    )
    rows = list(csv.reader(io.StringIO(table_csv(Table("t", "T", frame)))))
    assert rows == [
        ["party", "change", "share", "mixed", "'@column"],
        ["'" + FORMULA, "-5", "-0.5", "-5", "'=a"],
        ["'" + SUM, "3", "0.25", "'-5", "b"],
        ["'-5", "0", "", "", "b"],
        ["Acme", "-1", "1.0", "'+x", "b"],
    ]


def test_the_audit_trail_csv_runs_no_formula(client: FlaskClient, sponsor: PartyKey) -> None:
    # A party may register people under any names: the names reach the audit trail verbatim.
    formula = register_person(client, sponsor, "P-1", FORMULA, "data manager")
    total = register_person(client, sponsor, "P-2", SUM, "medical director")
    registration = {
        "trial": TRIAL,
        "title": "A trial",
        "phase": "3",
        "planned_enrolment": 100,
        "primary_completion": "2027-06-30",
        "signature": {"meaning": "approval"},
        "sites": [{"site": "001", "name": "Site one"}],
    }
    send(client, formula, "trial.register", registration)
    lock = {
        "trial": TRIAL,
        "reason": "-5 queries left open, all answered",
        "signature": {"meaning": "approval"},
    }
    send(client, total, "trial.lock", lock)
    response = read(client, sponsor, f"/api/v1/trials/{TRIAL}/history.csv")
    assert response.headers["Content-Disposition"] == f'attachment; filename="{TRIAL}-audit.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["printed_name"], row["reason"]) for row in rows] == [
        ("'" + FORMULA, ""),
        ("'" + SUM, "'" + lock["reason"]),
    ]
    assert all(row["entry"].isdigit() for row in rows)
    trail = read(client, sponsor, f"/api/v1/trials/{TRIAL}/history").get_json()["history"]
    assert [e["printed_name"] for e in trail] == [FORMULA, SUM]  # JSON is not a spreadsheet


def test_report_table_csv_over_http_quotes_party_names(
    client: FlaskClient, authority: Authority
) -> None:
    # Reports are for regulators: the party with the formula for a name is one.
    regulator = register_party(client, authority, FORMULA, "5412345000013", ["regulator"])
    response = read(client, regulator, "/reports/ledger/tables/key_events.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["index"], row["gln"], row["party"]) for row in rows] == [
        ("0", "0000000000000", "Registry authority"),
        ("1", "5412345000013", "'" + FORMULA),
    ]
    records = read(client, regulator, "/reports/ledger/tables/key_events.json").get_json()
    assert records[1]["party"] == FORMULA
