"""Wycheproof Ed25519 vectors through `note.ed25519_verify` (python-ecdsa):
0 invalid accepted, 0 valid rejected, 0 exceptions escaping (88 valid, 63 invalid)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provenance.log.note import ed25519_verify
from tests.paths import VECTORS

DATA = json.loads((VECTORS / "wycheproof/ed25519_test.json").read_text())
CASES = [(bytes.fromhex(g["publicKey"]["pk"]), t) for g in DATA["testGroups"] for t in g["tests"]]


@pytest.mark.parametrize(("key", "test"), CASES, ids=[f"tc{t['tcId']}" for _, t in CASES])
def test_vector(key: bytes, test: dict[str, Any]) -> None:
    ok = ed25519_verify(key, bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]))
    assert ok is (test["result"] == "valid")


def test_totals() -> None:
    outcome = {"valid": [0, 0], "invalid": [0, 0]}
    for key, test in CASES:
        ok = ed25519_verify(key, bytes.fromhex(test["msg"]), bytes.fromhex(test["sig"]))
        outcome[test["result"]][ok] += 1
    assert outcome == {"valid": [0, 88], "invalid": [63, 0]}
