"""The log asks its witnesses to cosign each checkpoint: three witnesses, a fork, a rollback,
a witness that is down, and receipts that must carry k cosignatures."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from provenance.cli import main
from provenance.errors import BadParameter
from provenance.gs1.keys import with_check_digit
from provenance.log.cosign import cosignatures, open_cosigned_checkpoint
from provenance.log.cosignatures import COSIGNED_FILE
from provenance.log.note import parse_verifier_key
from provenance.log.settings import Settings
from provenance.log.witnessing import parse_witness_entries
from provenance.web.context import service
from tests.conftest import BACKENDS, fresh_postgres_database
from tests.parties import ORIGIN, Authority, PartyKey, attestation, post, read, register_party
from tests.witness.witnesses import (
    Witnesses,
    copy_log,
    pusher,
    served_witness,
    witnessed_app,
)

WAIT = 20.0


@contextlib.contextmanager
def database_url(backend: str) -> Iterator[str | None]:
    """None for SQLite in the data directory, else a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield None
    else:
        with fresh_postgres_database() as url:
            yield url


def _vkey(app: Flask) -> str:
    with app.app_context():
        return service().verifier_key()


def _grow(app: Flask, count: int, prefix: str = "541234500") -> list[PartyKey]:
    """`count` appends: party registrations with GLNs from `prefix`."""
    client, authority = app.test_client(), Authority.from_app(app)
    made = []
    for i in range(count):
        gln = with_check_digit(f"{prefix}{i:03d}")
        made.append(register_party(client, authority, f"Party {prefix} {i}", gln, ["manufacturer"]))
    return made


def _checkpoint(app: Flask, url: str = "/log/checkpoint") -> str:
    answer = app.test_client().get(url)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def _size(note: str) -> int:
    return int(note.split("\n")[1])


@pytest.fixture
def witnesses(tmp_path: Path) -> Witnesses:
    return Witnesses(tmp_path, 3)


def test_three_witnesses_cosign_and_receipts_need_k(tmp_path: Path, witnesses: Witnesses) -> None:
    with witnessed_app(tmp_path / "log", witnesses.entries(), witnesses) as app:
        log_vkey = _vkey(app)
        witnesses.follow(log_vkey)
        maker = _grow(app, 3)[0]
        assert pusher(app).wait_idle(WAIT)
        verifier, keys = parse_verifier_key(log_vkey), witnesses.verifiers()
        note = _checkpoint(app)
        checkpoint = open_cosigned_checkpoint(note, verifier, ORIGIN, keys, 3)
        assert witnesses.sizes() == [checkpoint.size] * 3
        assert _checkpoint(app, "/log/checkpoint/cosigned?witnesses=3") == note
        assert (tmp_path / "log" / COSIGNED_FILE).read_text() == note
        cors = app.test_client().get("/log/checkpoint/cosigned")
        assert cors.headers["Access-Control-Allow-Origin"] == "*"
        assert app.test_client().get("/log/checkpoint/cosigned?witnesses=4").status_code == 404
        assert app.test_client().get("/log/checkpoint/cosigned?witnesses=x").status_code == 400

        # A receipt embeds the cosigned checkpoint; k of n is checked offline.
        answer = post(app.test_client(), attestation(maker))
        index = answer.get_json()["index"]
        assert pusher(app).wait_idle(WAIT)
        receipt = read(app.test_client(), maker, f"/log/receipt/{index}").get_data(as_text=True)
        proof = tmp_path / "entry.tlog-proof"
        proof.write_text(receipt)
        args = ["verify-receipt", str(proof), "--vkey", log_vkey]
        for vkey in witnesses.vkeys.values():
            args += ["--witness", vkey]
        checked = CliRunner().invoke(main, [*args, "--min-witnesses", "2"])
        assert checked.exit_code == 0, checked.output
        assert "cosigned by 3 of 3 witnesses (required 2)" in checked.output
        # Two cosignatures stripped: one is left, two are required.
        lines = receipt.splitlines(keepends=True)
        stripped = [
            line
            for line in lines
            if not line.startswith(("— witness.test/w1", "— witness.test/w2"))
        ]
        proof.write_text("".join(stripped))
        refused = CliRunner().invoke(main, [*args, "--min-witnesses", "2"])
        assert refused.exit_code == 1
        assert "1 of the 2 witnesses required" in refused.output
        assert "missing witness.test/w1, witness.test/w2" in refused.output
        # Without --min-witnesses every named witness is required; without --witness none.
        assert CliRunner().invoke(main, args).exit_code == 1
        assert CliRunner().invoke(main, args[:4]).exit_code == 0
        too_many = CliRunner().invoke(main, [*args, "--min-witnesses", "4"])
        assert too_many.exit_code == 2


def test_a_fork_is_refused_by_every_witness(
    tmp_path: Path, witnesses: Witnesses, caplog: pytest.LogCaptureFixture
) -> None:
    with witnessed_app(tmp_path / "log", witnesses.entries(), witnesses) as app:
        witnesses.follow(_vkey(app))
        _grow(app, 2)
        assert pusher(app).wait_idle(WAIT)
        forked_at = _size(_checkpoint(app))
        # The operator copies the database and keys and appends other entries to the copy.
        copy_log(tmp_path / "log", tmp_path / "fork")
        _grow(app, 2, prefix="541234501")
        assert pusher(app).wait_idle(WAIT)
        main_size = _size(_checkpoint(app))
        assert witnesses.sizes() == [main_size] * 3
        with (
            caplog.at_level(logging.ERROR),
            witnessed_app(tmp_path / "fork", witnesses.entries(), witnesses) as fork,
        ):
            _grow(fork, 3, prefix="541234502")
            assert pusher(fork).wait_idle(WAIT)
            fork_note = _checkpoint(fork)
            assert _size(fork_note) == forked_at + 3
            # Not one witness cosigned the fork: it is consistent with what none of them saw.
            assert cosignatures(fork_note, witnesses.verifiers()) == []
            assert (
                fork.test_client().get("/log/checkpoint/cosigned").get_data(as_text=True)
                != fork_note
            )
            assert witnesses.sizes() == [main_size] * 3
            # Each kept the fork's checkpoints it refused (how many: as the pushes coalesced).
            assert all(kept >= 1 for kept in witnesses.evidence())
        refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert {m.split(":")[0] for m in refusals if "roots differ" in m or "old root" in m} == {
            f"witness witness.test/w{i}" for i in (1, 2, 3)
        }
        # The real log goes on being witnessed.
        _grow(app, 1, prefix="541234503")
        assert pusher(app).wait_idle(WAIT)
        open_cosigned_checkpoint(
            _checkpoint(app), parse_verifier_key(_vkey(app)), ORIGIN, witnesses.verifiers(), 3
        )


def test_a_rolled_back_log_is_reported(
    tmp_path: Path, witnesses: Witnesses, caplog: pytest.LogCaptureFixture
) -> None:
    with witnessed_app(tmp_path / "log", witnesses.entries(), witnesses) as app:
        witnesses.follow(_vkey(app))
        _grow(app, 1)
        assert pusher(app).wait_idle(WAIT)
        copy_log(tmp_path / "log", tmp_path / "backup")
        _grow(app, 2, prefix="541234501")
        assert pusher(app).wait_idle(WAIT)
        witnessed = witnesses.sizes()
    # The deployment is restored from the older backup and starts again.
    with (
        caplog.at_level(logging.ERROR),
        witnessed_app(tmp_path / "backup", witnesses.entries(), witnesses) as restored,
    ):
        pusher(restored).push_latest()
        assert pusher(restored).wait_idle(WAIT)
    rolled_back = [r for r in caplog.records if "looks rolled back" in r.getMessage()]
    assert len(rolled_back) == 3 and all(r.levelno == logging.ERROR for r in rolled_back)
    assert witnesses.sizes() == witnessed


def test_a_witness_down_neither_slows_nor_fails_appends(
    tmp_path: Path, witnesses: Witnesses
) -> None:
    first, second, third = witnesses.vkeys
    witnesses.down.add(first)
    witnesses.hung.add(second)
    with witnessed_app(tmp_path / "log", witnesses.entries(), witnesses) as app:
        witnesses.follow(_vkey(app))
        client, authority = app.test_client(), Authority.from_app(app)
        maker = register_party(client, authority, "Acme", "5412345000013", ["manufacturer"])
        slowest = 0.0
        for i in range(15):
            started = time.perf_counter()
            assert post(client, attestation(maker, f"batch/{i}")).status_code == 201
            slowest = max(slowest, time.perf_counter() - started)
        # The hung witness holds its thread for its whole timeout (5 s) and the appends go on.
        assert slowest < 1.0
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            note = _checkpoint(app)
            if _size(note) == 17 and len(cosignatures(note, witnesses.verifiers())) == 1:
                break
            time.sleep(0.05)
        (only,) = cosignatures(_checkpoint(app), witnesses.verifiers())
        assert only.witness.line() == witnesses.vkeys[third]
        states = {s.endpoint.url: s for s in pusher(app).witnesses}
        assert "connection refused" in (states[first].last_error or "")
        # Back up: the next push reaches it and it catches up with the newest checkpoint.
        witnesses.down.clear()
        witnesses.hung.clear()
        witnesses.release.set()
        post(client, attestation(maker, "batch/last"))
        assert pusher(app).wait_idle(WAIT)
        assert len(cosignatures(_checkpoint(app), witnesses.verifiers())) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_receipts_use_the_largest_cosigned_checkpoint_that_holds_the_entry(
    tmp_path: Path, witnesses: Witnesses, backend: str
) -> None:
    with (
        database_url(backend) as url,
        witnessed_app(tmp_path / "log", witnesses.entries(), witnesses, url) as app,
    ):
        witnesses.follow(_vkey(app))
        client, authority = app.test_client(), Authority.from_app(app)
        maker = register_party(client, authority, "Acme", "5412345000013", ["manufacturer"])
        old = post(client, attestation(maker, "batch/old")).get_json()["index"]
        assert pusher(app).wait_idle(WAIT)
        cosigned = _checkpoint(app)
        witnesses.down.update(witnesses.vkeys)
        new = post(client, attestation(maker, "batch/new")).get_json()["index"]
        assert pusher(app).wait_idle(0.5) is False  # the witnesses are down: still pending
        latest = _checkpoint(app)
        assert _size(latest) == new + 1 and cosignatures(latest, witnesses.verifiers()) == []

        def checkpoint_of(index: int, query: str = "") -> str:
            answer = read(client, maker, f"/log/receipt/{index}{query}")
            assert answer.status_code == 200, answer.get_json()
            return answer.get_data(as_text=True).split("\n\n", 1)[1]

        # An entry the cosigned checkpoint holds gets it, cosignatures and all.
        assert checkpoint_of(old) == cosigned
        assert checkpoint_of(old, "?witnesses=3") == cosigned
        # One it does not hold gets the latest checkpoint, as a log without witnesses gives.
        assert checkpoint_of(new) == latest
        assert checkpoint_of(old, "?witnesses=4") == latest
        assert read(client, maker, f"/log/receipt/{old}?witnesses=0").status_code == 400


def test_pushes_over_http(tmp_path: Path, witnesses: Witnesses) -> None:
    url_of = next(iter(witnesses.dirs))
    with served_witness(witnesses.dirs[url_of]) as url:
        entries = [f"{witnesses.vkeys[url_of]}={url}"]
        with witnessed_app(tmp_path / "log", entries, None) as app:
            witnesses.follow(_vkey(app))
            _grow(app, 2)
            assert pusher(app).wait_idle(WAIT)
            found = cosignatures(_checkpoint(app), witnesses.verifiers())
            assert [c.witness.name for c in found] == ["witness.test/w1"]


def test_witness_entries_from_config_and_environment(
    witnesses: Witnesses, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = witnesses.entries()
    monkeypatch.setenv("PROVENANCE_WITNESSES", f"{entries[0]},\n {entries[1]}\n{entries[2]}\n")
    settings = Settings.from_config({})
    assert settings.witnesses == tuple(entries)
    parsed = parse_witness_entries(settings.witnesses)
    assert [e.url for e in parsed] == list(witnesses.vkeys)
    assert parsed[0].add_checkpoint_url == "http://w1.test/add-checkpoint"
    assert Settings.from_config({"WITNESSES": entries[:1]}).witnesses == tuple(entries[:1])
    vkey = entries[0].partition("=")[0]
    log_key = "example.org/log+0f3c9f1a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
    for bad in (vkey, f"{vkey}=ftp://w.test", f"{log_key}=http://w.test", "x=http://w.test"):
        with pytest.raises(BadParameter):
            parse_witness_entries([bad])
    with pytest.raises(BadParameter, match="twice"):
        parse_witness_entries([entries[0], entries[0]])


def test_verify_requires_the_named_witnesses_on_the_checkpoints_kept_outside(
    tmp_path: Path, witnesses: Witnesses
) -> None:
    with witnessed_app(tmp_path / "log", witnesses.entries(), witnesses) as app:
        witnesses.follow(_vkey(app))
        _grow(app, 2)
        assert pusher(app).wait_idle(WAIT)
        cosigned = tmp_path / "cosigned.checkpoint"
        cosigned.write_text(_checkpoint(app, "/log/checkpoint/cosigned?witnesses=3"))
        lines = cosigned.read_text().splitlines(keepends=True)
        log_line = next(line for line in lines if line.startswith(f"— {ORIGIN} "))
        bare = tmp_path / "bare.checkpoint"
        bare.write_text("".join(lines[: lines.index("\n") + 1]) + log_line)
        named = [arg for vkey in list(witnesses.vkeys.values())[:2] for arg in ("--witness", vkey)]
        runner = app.test_cli_runner()
        base = ["verify", "--quiet", "--workers", "1"]
        passed = runner.invoke(args=[*base, "--checkpoint", str(cosigned), *named])
        assert passed.exit_code == 0, passed.output
        assert "log intact" in passed.output
        # The log's own signature alone is not enough once witnesses are named.
        refused = runner.invoke(args=[*base, "--checkpoint", str(bare), *named])
        assert refused.exit_code == 1
        assert "0 of the 2 witnesses required" in refused.output
        one = runner.invoke(args=[*base, "--checkpoint", str(bare), *named, "--min-witnesses", "1"])
        assert one.exit_code == 1
        # Witnesses check checkpoints kept outside: there must be one to check.
        assert runner.invoke(args=[*base, *named]).exit_code == 2


def test_verify_over_http_checks_the_servers_cosigned_checkpoint(
    tmp_path: Path, witnesses: Witnesses
) -> None:
    import threading

    from werkzeug.serving import make_server

    from provenance.log.signing import private_key_pem

    with witnessed_app(tmp_path / "log", witnesses.entries(), witnesses) as app:
        witnesses.follow(_vkey(app))
        regulator = register_party(
            app.test_client(), Authority.from_app(app), "Regulator", "5412345000044", ["regulator"]
        )
        _grow(app, 2)
        assert pusher(app).wait_idle(WAIT)
        key = tmp_path / "regulator.pem"
        key.write_bytes(private_key_pem(regulator.key))
        vkey = tmp_path / "log.vkey"
        vkey.write_text(_vkey(app) + "\n")
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_port}"
            named = [a for v in witnesses.vkeys.values() for a in ("--witness", v)]
            args = ["verify", "--quiet", "--workers", "1", "--url", url, "--vkey", str(vkey)]
            runner = app.test_cli_runner()
            checked = runner.invoke(args=[*args, "--key", str(key), *named])
            assert checked.exit_code == 0, checked.output
            assert "log intact" in checked.output
            # A witness that never cosigned this log: the server has no such checkpoint.
            stranger = Witnesses(tmp_path / "strangers", 1)
            extra = ["--witness", next(iter(stranger.vkeys.values()))]
            refused = runner.invoke(args=[*args, "--key", str(key), *named, *extra])
            assert refused.exit_code == 1, refused.output
        finally:
            server.shutdown()
            thread.join(timeout=10)
