"""RFC 8785 canonical JSON (cyberphone test data) and strict JSON parsing."""

from __future__ import annotations

import pytest

from provenance.errors import BadJSON
from provenance.log.canonical import canonical_bytes, parse_json
from provenance.log.errors import BadStatement
from tests.paths import VECTORS

JCS = VECTORS / "jcs"
NAMES = sorted(p.name for p in (JCS / "input").iterdir())


@pytest.mark.parametrize("name", NAMES)
def test_rfc8785_testdata(name: str) -> None:
    value = parse_json((JCS / "input" / name).read_bytes())
    assert canonical_bytes(value) == (JCS / "output" / name).read_bytes()


def test_all_six_files_present() -> None:
    assert NAMES == [
        "arrays.json",
        "french.json",
        "structures.json",
        "unicode.json",
        "values.json",
        "weird.json",
    ]


@pytest.mark.parametrize("value", [2**53 + 1, float("nan"), float("inf"), "\ud800", {"a": {1}}])
def test_values_jcs_cannot_represent(value: object) -> None:
    with pytest.raises(BadStatement):
        canonical_bytes(value)


@pytest.mark.parametrize(
    "text",
    [b'{"a":1,"a":2}', b"NaN", b"[Infinity]", b'{"a":-Infinity}', b"\xff", b"{", b""],
)
def test_strict_parsing(text: bytes) -> None:
    with pytest.raises(BadJSON):
        parse_json(text)
