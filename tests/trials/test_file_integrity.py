"""File integrity at real sizes: truncated and inconsistent files, domains, limits, streaming."""

from __future__ import annotations

import gzip
import io
import json
import random
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from provenance.cli import main
from provenance.client import ClientError
from provenance.log.canonical import canonical_bytes, sha256_hex
from provenance.log.store.engine import read_connection
from provenance.web.context import service
from tests.parties import Authority, PartyKey, signed
from tests.server import live_server
from tests.trials.test_trials import Study
from trials import dataset_json, datasets, payloads
from trials.client import MEDIA_TYPES, dataset_body, upload_file
from trials.dataset_files import detect_format, parse_dataset, summarise, summarise_bytes
from trials.dataset_sources import Source
from trials.datasets import number_cell
from trials.errors import BadDataset

UPLOAD = "/api/v1/trials/payloads"


def dm_frame(rows: int = 306, domain: str = "DM") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "STUDYID": ["CDISCPILOT01"] * rows,
            "DOMAIN": [domain] * rows,
            "USUBJID": [f"01-701-{i:04d}" for i in range(rows)],
            "AGE": [float(60 + i % 30) for i in range(rows)],
            "SEX": ["F" if i % 2 else "M" for i in range(rows)],
        }
    )


def xpt_bytes(tmp_path: Path, frame: pd.DataFrame, name: str = "dm.xpt") -> bytes:
    path = tmp_path / name
    pyreadstat.write_xport(frame, str(path), table_name="DM", file_format_version=5)
    return path.read_bytes()


def dataset_json_doc(rows: int = 3, records: int | None = None) -> dict[str, Any]:
    return {
        "datasetJSONCreationDateTime": "2026-01-01T00:00:00",
        "datasetJSONVersion": "1.1.0",
        "records": rows if records is None else records,
        "name": "LB",
        "label": "Laboratory",
        "columns": [
            {"itemOID": "IT.USUBJID", "name": "USUBJID", "label": "Subject", "dataType": "string"},
            {"itemOID": "IT.LBSTRESN", "name": "LBSTRESN", "label": "Result", "dataType": "double"},
        ],
        "rows": [[f"S-{i}", i + 0.5] for i in range(rows)],
    }


def ndjson(doc: dict[str, Any]) -> bytes:
    meta = {k: v for k, v in doc.items() if k != "rows"}
    lines = [json.dumps(meta)] + [json.dumps(row) for row in doc["rows"]]
    return ("\n".join(lines) + "\n").encode()


def refused(data: bytes, fmt: str) -> str:
    with pytest.raises(BadDataset) as info:
        summarise_bytes(data, fmt)
    return info.value.detail


# --- structure: truncated and inconsistent files -------------------------------------------------


def test_a_truncated_xpt_is_refused_not_read_short(tmp_path: Path) -> None:
    data = xpt_bytes(tmp_path, dm_frame())
    assert summarise_bytes(data, "xpt").row_count == 306
    assert "is cut short" in refused(data[: len(data) // 2], "xpt")
    # Cut after 62 whole 80-byte records of 34-byte observations: 145 of them and 30 bytes.
    header = data.index(b"HEADER RECORD*******OBS") + 80
    detail = refused(data[: header + 62 * 80], "xpt")
    assert "ends inside observation 146 (30 of its 34 bytes)" in detail
    assert "ends in the NAMESTR" in refused(data[:600], "xpt")


def test_xpt_headers_and_members_are_checked(tmp_path: Path) -> None:
    data = xpt_bytes(tmp_path, dm_frame(3))
    damaged = data.replace(b"NAMESTR HEADER", b"NAMESTX HEADER")
    assert "expected the NAMESTR header record" in refused(damaged, "xpt")
    member = data[data.index(b"HEADER RECORD*******MEMBER") :]
    assert "more than one dataset" in refused(data + member, "xpt")


def test_xpt_numbers_read_as_pyreadstat_reads_them(tmp_path: Path) -> None:
    """IBM doubles carry up to 56 bits: the low bits are cut, as readstat (and SAS) cut them,
    so hashes of files read before the streaming reader stay as they were."""
    data = bytearray(xpt_bytes(tmp_path, pd.DataFrame({"X": [0.0] * 400}), "x.xpt"))
    start = data.index(b"HEADER RECORD*******OBS") + 80
    generator = random.Random(7)
    for i in range(400):
        sign_exponent = generator.randint(0x30, 0x50) | generator.choice((0, 0x80))
        fraction = bytes([generator.randint(16, 255)]) + generator.randbytes(6)
        data[start + 8 * i : start + 8 * i + 8] = bytes([sign_exponent]) + fraction
    path = tmp_path / "random.xpt"
    path.write_bytes(data)
    frame, _ = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
    expected = [number_cell(v) for v in frame["X"]]
    assert [row[0] for row in parse_dataset(bytes(data), "xpt").rows] == expected


def test_dataset_json_record_count_must_match_its_rows() -> None:
    assert summarise_bytes(json.dumps(dataset_json_doc()).encode(), "dataset-json").row_count == 3
    wrong = json.dumps(dataset_json_doc(records=4)).encode()
    assert "declares 4 records but holds 3 rows" in refused(wrong, "dataset-json")
    cut = b"".join(ndjson(dataset_json_doc(10)).splitlines(keepends=True)[:-2])
    assert "declares 10 records but holds 8 rows" in refused(cut, "dataset-json")
    missing = dataset_json_doc()
    del missing["records"]
    assert "must declare its number of records" in refused(
        json.dumps(missing).encode(), "dataset-json"
    )
    no_columns = json.dumps(dataset_json_doc(0) | {"columns": []}).encode()
    assert "no column metadata" in refused(no_columns, "dataset-json")


def test_ragged_rows_and_quoting_errors_are_refused() -> None:
    assert "CSV row 3 has 1 fields, the header has 2" in refused(b"a,b\n1,2\n3\n4,5\n", "csv")
    assert "CSV row 2 has 0 fields" in refused(b"a,b\n\n1,2\n", "csv")
    assert "CSV is malformed" in refused(b'a,b\n"1"x,2\n', "csv")
    assert "CSV is malformed" in refused(b'a,b\n1,"2\n', "csv")  # a quote never closed
    doc = dataset_json_doc()
    doc["rows"][1] = ["S-1"]
    assert "row 2 has 1 values, the dataset has 2 columns" in refused(ndjson(doc), "dataset-json")


# --- the declared domain ----------------------------------------------------------------------


@pytest.fixture
def open_study(client: FlaskClient, authority: Authority) -> Study:
    return Study.with_protocol(client, authority)


def test_an_ae_file_submitted_as_dm_is_refused(open_study: Study, tmp_path: Path) -> None:
    ae = b"STUDYID,DOMAIN,USUBJID,AETERM\nX,AE,S-1,Headache\nX,AE,S-2,Nausea\n"
    body = open_study.dataset_body("AE", ae)  # its helper declares domain AE
    problem = open_study.send(open_study.sponsor, "dataset.submit", body | {"domain": "DM"}, 422)
    assert "DOMAIN column holds AE, but it is submitted as domain DM" in problem["detail"]
    assert (problem["declared"], problem["found"]) == ("DM", ["AE"])
    open_study.send(open_study.sponsor, "dataset.submit", body)
    path = tmp_path / "ae.csv"
    path.write_bytes(ae)
    with pytest.raises(BadDataset, match="submitted as domain DM"):
        dataset_body("NCT05555555", "AE", "DM", path, b"s" * 32, {"meaning": "authorship"})


# --- compressed and NDJSON forms, and the precision of numbers ---------------------------------


def test_ndjson_gzip_and_dsjc_hash_as_the_document_does(tmp_path: Path) -> None:
    doc = dataset_json_doc(50)
    document = json.dumps(doc).encode()
    expected = summarise_bytes(document, "dataset-json").content_hash
    for form in (
        ndjson(doc),
        gzip.compress(document),
        gzip.compress(ndjson(doc)),
        zlib.compress(ndjson(doc), 9),  # the compressed form, DSJC
    ):
        assert summarise_bytes(form, "dataset-json").content_hash == expected
    assert detect_format("lb.dsjc", zlib.compress(ndjson(doc))) == "dataset-json"
    assert detect_format("lb.ndjson.gz", gzip.compress(ndjson(doc))) == "dataset-json"
    assert detect_format("lb.csv.gz", gzip.compress(b"a,b\n1,2\n")) == "csv"
    damaged = gzip.compress(ndjson(doc))[:-30]
    assert "damaged or cut short" in refused(damaged, "dataset-json")


def test_the_streamed_hash_is_the_canonical_hash() -> None:
    tricky = 'id,text\n1,"quote "" and \\\\ back"\n2,"tab\tnew\nline é ✓ \x7f"\n3,\x01\n'.encode()
    loaded = parse_dataset(tricky, "csv")
    assert summarise_bytes(tricky, "csv").content_hash == sha256_hex(
        canonical_bytes(loaded.canonical())
    )


def test_numbers_compare_at_fifteen_significant_digits(tmp_path: Path) -> None:
    full = b"id,value\n1,0.30000000000000004\n2,12345678901234567\n3,007\n"
    short = b"id,value\n1,0.3\n2,12345678901234600\n3,007\n"
    assert summarise_bytes(full, "csv").content_hash != summarise_bytes(short, "csv").content_hash
    at_15 = {summarise(Source.of_bytes(d), "csv", 15).content_hash for d in (full, short)}
    assert len(at_15) == 1
    (tmp_path / "a.csv").write_bytes(full)
    (tmp_path / "b.csv").write_bytes(short)
    files = [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    differ = CliRunner().invoke(main, ["dataset-hash", *files])
    assert differ.exit_code == 1 and "the datasets differ" in differ.output
    same = CliRunner().invoke(main, ["dataset-hash", "--digits", "15", *files])
    assert same.exit_code == 0, same.output
    assert "3 rows x 2 columns (csv)" in same.output


# --- bounded memory ---------------------------------------------------------------------------


def peak_bytes(path: Path, fmt: str) -> tuple[int, int]:
    tracemalloc.start()
    try:
        summary = summarise(Source.of_path(path), fmt)
        return summary.row_count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def lb_files(directory: Path, rows: int) -> list[tuple[Path, str]]:
    """The same laboratory-like table as CSV, NDJSON and XPT, of `rows` rows."""
    csv_path, nd_path = directory / f"lb{rows}.csv", directory / f"lb{rows}.ndjson"
    with csv_path.open("w") as out:
        out.write("USUBJID,LBTESTCD,LBSTRESN,LBORRES,VISITNUM,LBDTC\n")
        for i in range(rows):
            out.write(f"01-{i:06d},GLUC,{i / 4},{i % 97} mg/dL,{i % 12},2026-01-{i % 28 + 1:02d}\n")
    with nd_path.open("wb") as nd:
        nd.write(ndjson(dataset_json_doc(0, records=rows)))
        for i in range(rows):
            nd.write(json.dumps([f"01-701-{i:06d}-{'x' * 10}", i + 0.5]).encode() + b"\n")
    xpt_path = directory / f"lb{rows}.xpt"
    pyreadstat.write_xport(dm_frame(rows), str(xpt_path), file_format_version=5)
    return [(csv_path, "csv"), (nd_path, "dataset-json"), (xpt_path, "xpt")]


def test_large_files_are_read_in_bounded_memory(tmp_path: Path) -> None:
    """A file four times longer is read in the same memory: a batch or two of rows at a time
    (batches of 8,192 cells), well under the smaller file's own size."""
    rows = 25_000
    small, large = lb_files(tmp_path, rows), lb_files(tmp_path, 4 * rows)
    for (path, fmt), (longer, _) in zip(small, large, strict=True):
        count, peak = peak_bytes(path, fmt)
        assert count == rows
        count, longer_peak = peak_bytes(longer, fmt)
        assert count == 4 * rows
        assert longer.stat().st_size > 3_400_000, fmt
        assert longer_peak < 1.25 * peak + 100_000, (fmt, peak, longer_peak)
        assert longer_peak < longer.stat().st_size / 2, (fmt, longer_peak)


def test_cell_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "MAX_CELLS", 4)
    assert "more than the limit of 4" in refused(b"a,b\n1,2\n3,4\n5,6\n", "csv")
    assert summarise_bytes(b"a,b\n1,2\n3,4\n", "csv").row_count == 2
    monkeypatch.setattr(dataset_json, "MAX_DOCUMENT", 100)
    document = json.dumps(dataset_json_doc(2)).encode()
    assert "read only in its NDJSON form" in refused(document, "dataset-json")
    assert summarise_bytes(ndjson(dataset_json_doc(2)), "dataset-json").row_count == 2


# --- uploads: limits, refusals that keep nothing --------------------------------------------


def upload(client: FlaskClient, party: PartyKey, data: bytes, media_type: str) -> Any:
    headers = {**signed(party, "POST", UPLOAD, data), "X-Salt": "ab" * 32}
    return client.post(UPLOAD, data=data, headers={**headers, "Content-Type": media_type})


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where uploads are spooled (the temporary directory), to look into afterwards."""
    directory = tmp_path / "spool"
    directory.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(directory))
    return directory


def stored(app: Flask) -> tuple[int, int]:
    with app.app_context(), read_connection(service().engine) as conn:
        payloads_ = conn.execute(text("SELECT count(*) FROM trial_payload")).scalar_one()
        uploads = conn.execute(text("SELECT count(*) FROM trial_upload")).scalar_one()
    return int(payloads_), int(uploads)


def test_a_rejected_upload_leaves_nothing(
    app: Flask, open_study: Study, spool: Path, tmp_path: Path
) -> None:
    before = stored(app)
    truncated = xpt_bytes(tmp_path, dm_frame())[:5000]
    for data, media_type, message in (
        (truncated, MEDIA_TYPES["xpt"], "is cut short"),
        (b"a,b\n1,2\n3\n", MEDIA_TYPES["csv"], "CSV row 3 has 1 fields"),
        (json.dumps(dataset_json_doc(records=9)).encode(), "application/json", "declares 9"),
    ):
        answer = upload(open_study.client, open_study.sponsor, data, media_type)
        assert answer.status_code == 422, answer.get_json()
        assert message in answer.get_json()["detail"]
    assert stored(app) == before
    assert list(spool.iterdir()) == []
    accepted = upload(open_study.client, open_study.sponsor, b"a,b\n1,2\n", "text/csv")
    assert accepted.status_code == 201 and stored(app) == (before[0] + 1, before[1] + 1)
    assert list(spool.iterdir()) == []
    # JSON that is no Dataset-JSON (a USDM protocol, say) is a document, stored as it is.
    protocol = json.dumps({"usdmVersion": "3.0.0", "study": {"name": "P"}}).encode()
    kept = upload(open_study.client, open_study.sponsor, protocol, "application/json")
    assert kept.status_code == 201 and stored(app) == (before[0] + 2, before[1] + 2)


class CountingStream(io.RawIOBase):
    """A request body that counts how much of it the server read."""

    def __init__(self, size: int) -> None:
        self.size, self.position, self.read_bytes = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # the test client measures the body by seeking, which reads nothing

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = self.size + offset if whence == io.SEEK_END else offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.size - self.position)
        buffer[:count] = b"x" * count
        self.position += count
        self.read_bytes += count
        return count


def test_an_oversize_upload_is_413_before_its_body_is_read(
    app: Flask, open_study: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = app.view_functions["trials.upload_payload"]
    monkeypatch.setattr(view, "max_body", 10_000)
    body = CountingStream(50_000_000)
    headers = {**signed(open_study.sponsor, "POST", UPLOAD, b"x"), "X-Salt": "ab" * 32}
    answer = open_study.client.post(
        UPLOAD,
        input_stream=body,
        headers={**headers, "Content-Type": "text/csv", "Content-Length": "50000000"},
    )
    assert answer.status_code == 413
    assert answer.get_json()["detail"] == "request bodies are limited to 10000 bytes"
    assert body.read_bytes == 0


def test_the_payload_limit_is_a_setting() -> None:
    assert payloads.payload_limit(None) == 900 * 1024 * 1024
    assert payloads.payload_limit("1000000000") == payloads.STORABLE
    for bad in ("lots", "0", str(payloads.STORABLE + 1)):
        with pytest.raises(ValueError, match="PROVENANCE_TRIAL_MAX_PAYLOAD"):
            payloads.payload_limit(bad)


@pytest.fixture
def small_limit_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with live_server(tmp_path / "data") as (url, app):
        monkeypatch.setattr(app.view_functions["trials.upload_payload"], "max_body", 100_000)
        yield url


def test_the_client_reports_the_413_problem(small_limit_server: str, tmp_path: Path) -> None:
    big = tmp_path / "lb.csv"
    with big.open("w") as out:
        out.write("USUBJID,LBSTRESN\n")
        out.writelines(f"S-{i},{i}\n" for i in range(1_000_000))
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ClientError) as info:
        upload_file(small_limit_server, big, b"s" * 32, "text/csv", key)
    limited = "request bodies are limited to 100000 bytes"
    assert str(info.value) == f"HTTP 413 Request Entity Too Large: {limited}"
    key_file = tmp_path / "key.pem"
    assert CliRunner().invoke(main, ["keygen", str(key_file)]).exit_code == 0
    run = CliRunner().invoke(
        main,
        ["submit-dataset", "NCT05555555", "LB", str(big), "--domain", "LB", "--key",
         str(key_file), "--url", small_limit_server, "--meaning", "authorship"],
    )  # fmt: skip
    assert run.exit_code == 1
    assert "HTTP 413" in run.output and "limited to 100000 bytes" in run.output
    assert "Broken pipe" not in run.output
