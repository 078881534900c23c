"""Whatever garbage is stored, `verify` reports it as damage that names where it starts (the
first problem is the one that explains the rest), never as a traceback; with the public
verifier key alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from provenance import demo
from provenance.log.merkle import leaf_hash
from provenance.web.context import installed, service
from tests.conftest import make_app
from tests.log.damage import damage, first_problem, loosen, public_copy, row, run_verify

ENTRIES = 300
SIZE = ENTRIES + 7  # genesis and the six demo parties


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A data directory whose log holds SIZE entries, appended in several batches."""
    data_dir = tmp_path_factory.mktemp("damage") / "data"
    app = make_app(data_dir, demo=True)
    with app.app_context():
        for _ in range(3):
            demo.seed(service(), installed().plugins, ENTRIES // 3, stories=())
        service().close()
    yield data_dir


@pytest.fixture
def log(source: Path, tmp_path: Path) -> Path:
    """A copy to damage: its database and the public verifier key, no private key."""
    return public_copy(source, tmp_path / "copy")


def found(log: Path) -> str:
    code, output = run_verify(log)
    assert code == 1, output
    assert "Traceback" not in output
    return first_problem(output)


def test_the_copy_verifies_without_a_private_key(log: Path) -> None:
    assert not list((log / "keys").glob("*.pem"))
    code, output = run_verify(log)
    assert code == 0, output
    assert output.startswith(f"log intact: {SIZE} entries, {SIZE} signatures")


def test_data_replaced_by_an_integer(log: Path) -> None:
    damage(log, "UPDATE log_entry SET data = 12345 WHERE idx = 150")
    assert (
        found(log) == "first bad index 150: edited entry: the stored entry is a value of type int"
    )


def test_data_replaced_by_text(log: Path) -> None:
    damage(log, "UPDATE log_entry SET data = CAST(data AS TEXT) WHERE idx = 151")
    assert (
        found(log) == "first bad index 151: edited entry: the stored entry is a value of type str"
    )


def test_null_data(log: Path) -> None:
    loosen(log, "log_entry")
    damage(log, "UPDATE log_entry SET data = NULL WHERE idx = 152")
    assert found(log) == "first bad index 152: edited entry: the stored entry is NULL"


def test_null_leaf_hash(log: Path) -> None:
    loosen(log, "log_entry")
    damage(log, "UPDATE log_entry SET leaf_hash = NULL WHERE idx = 153")
    assert found(log) == (
        "first bad index 153: edited entry: entry bytes do not hash to the stored leaf hash "
        "(it is NULL)"
    )


def test_leaf_hash_of_the_wrong_length(log: Path) -> None:
    damage(log, "UPDATE log_entry SET leaf_hash = substr(leaf_hash, 1, 16) WHERE idx = 154")
    assert found(log) == (
        "first bad index 154: edited entry: entry bytes do not hash to the stored leaf hash "
        "(it is 16 bytes)"
    )


def test_truncated_blob(log: Path) -> None:
    damage(log, "UPDATE log_entry SET data = substr(data, 1, 100) WHERE idx = 155")
    assert found(log) == (
        "first bad index 155: edited entry: entry bytes do not hash to the stored leaf hash"
    )


def test_truncated_blob_with_its_hashes_rewritten(log: Path) -> None:
    """Rewriting the leaf and the level-0 tree hash too leaves bytes that are no entry."""
    (data,) = row(log, "SELECT data FROM log_entry WHERE idx = 156")
    short = data[:100]
    damage(
        log,
        ("UPDATE log_entry SET data = ?, leaf_hash = ? WHERE idx = 156", (short, leaf_hash(short))),
        ("UPDATE log_node SET hash = ? WHERE level = 0 AND idx = 156", (leaf_hash(short),)),
    )
    assert found(log).startswith(
        "first bad index 156: edited entry: entry is not a well-formed log entry (not valid JSON"
    )


def test_json_that_is_no_entry(log: Path) -> None:
    damage(
        log,
        ("UPDATE log_entry SET data = ?, leaf_hash = ? WHERE idx = 157", (b"5", leaf_hash(b"5"))),
    )
    assert found(log).startswith("first bad index 157: edited entry: entry is not a well-formed")


def test_extra_row_at_the_end(log: Path) -> None:
    """A row beyond the last signed checkpoint: every append signs one, so it was put there."""
    damage(
        log,
        "INSERT INTO log_entry SELECT idx + 1, leaf_hash, x'00' || payload_digest, kind, signer, "
        f"logged_at, data FROM log_entry WHERE idx = {SIZE - 1}",
    )
    assert found(log) == (
        f"first bad index {SIZE}: extra entry: entries {SIZE}..{SIZE} follow the latest signed "
        f"checkpoint (size {SIZE})"
    )


def test_extra_row_before_the_first(log: Path) -> None:
    damage(
        log,
        "INSERT INTO log_entry SELECT -5, leaf_hash, x'00' || payload_digest, kind, signer, "
        "logged_at, data FROM log_entry WHERE idx = 3",
    )
    assert found(log) == "first bad index 0: extra entry: a row at index -5 precedes entry 0"


def test_rows_reordered(log: Path) -> None:
    """idx values swapped: each row keeps its bytes, hashes and columns, at the other index."""
    damage(
        log,
        "UPDATE log_entry SET idx = -40 WHERE idx = 40",
        "UPDATE log_entry SET idx = 40 WHERE idx = 41",
        "UPDATE log_entry SET idx = 41 WHERE idx = -40",
    )
    assert found(log) == "first bad index 40: moved entry: row 40 holds the entry for index 41"


def test_truncation_names_the_first_missing_entry(log: Path) -> None:
    """Entries from k on deleted with the nodes that start there; a node over [128, 256) and
    the later checkpoints remain. The first problem is k, where entries go missing."""
    k = 190
    damage(
        log,
        f"DELETE FROM log_entry WHERE idx >= {k}",
        f"DELETE FROM log_node WHERE (idx << level) >= {k}",
    )
    assert found(log) == (
        f"first bad index {k}: missing entry: the log holds {k} entries; a checkpoint of size "
        f"{SIZE} was signed"
    )


def test_node_hash_replaced_by_text(log: Path) -> None:
    damage(log, "UPDATE log_node SET hash = 'garbage' WHERE level = 3 AND idx = 20")
    assert found(log) == (
        "first bad index 160: edited tree hash: stored node (level 3, index 20) is a value of "
        "type str"
    )


def test_node_hash_of_the_wrong_length(log: Path) -> None:
    damage(log, "UPDATE log_node SET hash = x'0011' WHERE level = 0 AND idx = 170")
    assert found(log) == (
        "first bad index 170: edited tree hash: stored node (level 0, index 170) is 2 bytes"
    )


def test_null_node_hash(log: Path) -> None:
    loosen(log, "log_node")
    damage(log, "UPDATE log_node SET hash = NULL WHERE level = 2 AND idx = 10")
    assert (
        found(log)
        == "first bad index 40: missing tree hash: stored node (level 2, index 10) is missing"
    )


def test_node_at_no_address(log: Path) -> None:
    damage(log, "INSERT INTO log_node VALUES ('up', 'left', x'00')")
    assert found(log) == (
        f"first bad index {SIZE}: extra tree hash: stored node (level 'up', index 'left') is not "
        "a node of any tree"
    )


def test_node_beyond_the_tree(log: Path) -> None:
    damage(log, f"INSERT INTO log_node VALUES (4, {SIZE // 16 + 3}, zeroblob(32))")
    assert found(log) == (
        f"first bad index {(SIZE // 16 + 3) * 16}: extra tree hash: stored node (level 4, index "
        f"{SIZE // 16 + 3}) covers missing entries"
    )


def test_checkpoint_note_replaced_by_an_integer(log: Path) -> None:
    (size,) = row(log, "SELECT min(size) FROM log_checkpoint WHERE size > 100")
    damage(log, f"UPDATE log_checkpoint SET note = 7 WHERE size = {size}")
    assert found(log).startswith(f"first bad index {size - 1}: bad checkpoint: checkpoint of size")


def test_checkpoint_root_of_the_wrong_type(log: Path) -> None:
    (size,) = row(log, "SELECT min(size) FROM log_checkpoint WHERE size > 100")
    damage(log, f"UPDATE log_checkpoint SET root_hash = 'abc' WHERE size = {size}")
    assert found(log) == (
        f"first bad index {size - 1}: bad checkpoint: stored size/root differ from the signed note"
    )
