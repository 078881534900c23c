"""The witness's add-checkpoint over HTTP: each answer tlog-witness prescribes, and atomicity."""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from provenance.log import merkle
from provenance.log.cosign import cosignatures, open_cosigned_checkpoint
from provenance.log.witness_protocol import SIZE_CONTENT_TYPE, format_add_checkpoint
from provenance.witness.http import create_witness_app
from provenance.witness.store import WitnessStore
from tests.witness.trees import TestLog, consistency, forked, leaves, make_witness

NAME = "witness.test/w1"


@pytest.fixture
def log() -> TestLog:
    return TestLog()


@pytest.fixture
def witness_dir(tmp_path: Path, log: TestLog) -> Path:
    make_witness(tmp_path / "witness", NAME, log).close()
    return tmp_path / "witness"


@pytest.fixture
def witness_app(witness_dir: Path) -> Flask:
    return create_witness_app(witness_dir)


@pytest.fixture
def witness(witness_app: Flask) -> FlaskClient:
    return witness_app.test_client()


def _post(client: FlaskClient, body: bytes) -> tuple[int, str, str]:
    answer = client.post("/add-checkpoint", data=body)
    return answer.status_code, answer.content_type, answer.get_data(as_text=True)


def _vkey(client: FlaskClient) -> str:
    return client.get("/").get_data(as_text=True).strip()


def test_cosigns_a_growing_log_and_serves_the_latest(witness: FlaskClient, log: TestLog) -> None:
    from provenance.log.cosign import parse_witness_vkey

    verifier = parse_witness_vkey(_vkey(witness))
    assert verifier.name == NAME
    tree = leaves(9)
    status, _, line = _post(witness, log.request(tree[:3], 0))
    assert status == 200 and line.startswith(f"— {NAME} ")
    (first,) = cosignatures(log.checkpoint(tree[:3]) + line, [verifier])
    status, _, line = _post(witness, log.request(tree, 3))
    assert status == 200
    (second,) = cosignatures(log.checkpoint(tree) + line, [verifier])
    assert second.timestamp >= first.timestamp > 0
    # The monitoring view: the checkpoint with the log's signature and the cosignature.
    served = witness.get(f"/{hashlib.sha256(log.origin.encode()).hexdigest()}/checkpoint")
    assert served.status_code == 200
    checkpoint = open_cosigned_checkpoint(
        served.get_data(as_text=True), log.signer.verifier, log.origin, [verifier], 1
    )
    assert checkpoint.size == 9
    assert witness.get(f"/{'0' * 64}/checkpoint").status_code == 404
    # The same checkpoint again (old size = its size, same root) is cosigned afresh.
    assert _post(witness, log.request(tree, 9))[0] == 200


def test_stale_old_size_is_409_with_the_latest_size(witness: FlaskClient, log: TestLog) -> None:
    tree = leaves(7)
    assert _post(witness, log.request(tree, 0))[0] == 200
    status, content_type, body = _post(witness, log.request(leaves(8), 0))
    assert (status, content_type, body) == (409, SIZE_CONTENT_TYPE, "7\n")
    # The client resends from the size it was told, with a proof: cosigned.
    assert _post(witness, log.request(leaves(8), 7))[0] == 200


def test_rollback_is_refused(witness: FlaskClient, log: TestLog) -> None:
    tree = leaves(7)
    assert _post(witness, log.request(tree, 0))[0] == 200
    # An old size above the checkpoint's is malformed; any other old size is not the latest.
    assert _post(witness, log.request(tree[:5], 7, proof=[]))[0] == 400
    assert _post(witness, log.request(tree[:5], 5))[:3:2] == (409, "7\n")
    assert _post(witness, log.request(tree[:5], 0))[:3:2] == (409, "7\n")


def test_fork_at_the_same_size_is_422_and_kept(
    witness: FlaskClient, log: TestLog, witness_dir: Path
) -> None:
    assert _post(witness, log.request(leaves(7), 0))[0] == 200
    fork = forked(4, 7)
    status, _, detail = _post(witness, log.request(fork, 7))
    assert status == 422 and "roots differ" in detail
    # A larger fork whose proof is made for it does not lead to the cosigned root either.
    assert _post(witness, log.request(forked(4, 9), 7))[0] == 422
    store = WitnessStore(witness_dir)
    assert [origin for origin, _, _ in store.evidence()] == [log.origin, log.origin]
    assert store.logs()[0].size == 7  # nothing moved
    assert store.logs()[0].root_hash == merkle.root_from_leaf_hashes(leaves(7))
    store.close()


def test_bad_consistency_proofs_are_422(witness: FlaskClient, log: TestLog) -> None:
    tree = leaves(12)
    assert _post(witness, log.request(tree[:5], 0))[0] == 200
    proof = consistency(tree, 5, 12)
    proof[1] = bytes(32)
    assert _post(witness, log.request(tree, 5, proof))[0] == 422
    assert _post(witness, log.request(tree, 5, consistency(tree, 5, 12)[:-1]))[0] == 422
    assert _post(witness, log.request(tree, 5, []))[0] == 422
    assert _post(witness, log.request(tree, 5))[0] == 200


def test_first_checkpoint_needs_no_proof_and_size_zero_the_empty_root(
    witness_dir: Path, log: TestLog
) -> None:
    client = create_witness_app(witness_dir).test_client()
    assert _post(client, log.request(leaves(3), 0, proof=[bytes(32)]))[0] == 422
    empty = log.signer.sign(f"{log.origin}\n0\n{base64.b64encode(bytes(32)).decode()}\n")
    assert _post(client, format_add_checkpoint(0, [], empty))[0] == 422
    assert _post(client, log.request([], 0))[0] == 200


def test_signatures_and_origins(witness: FlaskClient, log: TestLog) -> None:
    tree = leaves(4)
    note = log.checkpoint(tree)
    text, _, signature = note.rpartition(" ")
    blob = bytearray(base64.b64decode(signature))
    blob[10] ^= 1
    tampered = f"{text} {base64.b64encode(bytes(blob)).decode()}\n"
    assert _post(witness, format_add_checkpoint(0, [], tampered))[0] == 403
    # Signed by another key with the log's name: no signature by a trusted key.
    impostor = TestLog(log.origin)
    assert _post(witness, impostor.request(tree, 0))[0] == 403
    # A log the witness does not follow.
    assert _post(witness, TestLog("example.org/other").request(tree, 0))[0] == 404
    # A trusted signature beside unknown ones is enough.
    both = note + impostor.checkpoint(tree).split("\n\n")[1]
    assert _post(witness, format_add_checkpoint(0, [], both))[0] == 200


@pytest.mark.parametrize(
    "body",
    [
        b"old 0\n",
        b"old 01\n\n",
        b"old -1\n\n",
        b"new 0\n\n",
        b"old 3\nnot base64!\n\n",
        b"old 3\n" + b"AAAA\n" + b"\n",
        b"\xff\xfe",
    ],
)
def test_malformed_requests_are_400(witness: FlaskClient, log: TestLog, body: bytes) -> None:
    note = log.checkpoint(leaves(3)).encode()
    assert _post(witness, body + (note if body.endswith(b"\n\n") else b""))[0] == 400


def test_more_than_63_proof_lines_are_400(witness: FlaskClient, log: TestLog) -> None:
    body = format_add_checkpoint(3, [bytes(32)] * 64, log.checkpoint(leaves(5)))
    assert _post(witness, body)[0] == 400
    assert _post(witness, b"old 0\n\n" + b"not a note")[0] == 400


def test_concurrent_requests_from_one_old_size_cosign_once(
    witness_app: Flask, log: TestLog
) -> None:
    """tlog-witness's race: A and B both from size N; only one may be cosigned."""
    assert _post(witness_app.test_client(), log.request(leaves(10), 0))[0] == 200
    tree = leaves(40)
    bodies = [log.request(tree[: 11 + i], 10) for i in range(12)]
    statuses: list[int] = []
    start = threading.Barrier(len(bodies))

    def send(body: bytes) -> None:
        client = witness_app.test_client()
        start.wait()
        statuses.append(_post(client, body)[0])

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * (len(bodies) - 1)
