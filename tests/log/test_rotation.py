"""Rules 2: a key that rotates itself waits; the authority rotates at once or cancels the wait."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from provenance.log import append, keystore
from provenance.log.errors import Conflict, RevokedKey
from provenance.log.rotation import ROTATION_WAIT
from provenance.log.service import Service
from provenance.log.settings import Settings
from provenance.log.signing import generate_private_key
from provenance.log.statements import format_timestamp
from tests.log.members import MEMBER, core_registry
from tests.parties import Authority, PartyKey

GLN = "5412345000013"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[tuple[Service, Authority, PartyKey]]:
    service = Service(Settings.from_config({"DATA_DIR": str(tmp_path)}), core_registry())
    service.initialise()
    authority = Authority(keystore.load_authority_key(service.settings.keys))
    owner = PartyKey(generate_private_key(), GLN)
    body = {"gln": GLN, "name": "Owner", "roles": [MEMBER], "public_key": owner.public_b64}
    service.log.submit(authority.envelope("party.register", body))
    yield service, authority, owner
    service.close()


def rotation(old: PartyKey, new: PartyKey) -> dict[str, str]:
    return {"gln": GLN, "old_key": old.key_id, "new_public_key": new.public_b64}


def say(service: Service, party: PartyKey, subject: str) -> int:
    claim = {"subject": subject, "claim": {}}
    return service.log.submit(party.envelope("attestation", claim)).index


def later(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    """The server's clock, `delta` from now (statements are signed at the same moment)."""
    moment = datetime.now(UTC) + delta
    monkeypatch.setattr(append, "now_timestamp", lambda: format_timestamp(moment))
    monkeypatch.setattr("provenance.log.statements.now_timestamp", lambda: format_timestamp(moment))


def test_a_key_rotating_itself_waits(
    log: tuple[Service, Authority, PartyKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _authority, owner = log
    thief = PartyKey(generate_private_key(), GLN)
    service.log.submit(owner.envelope("key.rotate", rotation(owner, thief)))
    with pytest.raises(RevokedKey, match="becomes valid at"):
        say(service, thief, "too early")
    say(service, owner, "the owner still signs")
    again = PartyKey(generate_private_key(), GLN)
    with pytest.raises(Conflict, match="pending until"):
        service.log.submit(owner.envelope("key.rotate", rotation(owner, again)))
    later(monkeypatch, ROTATION_WAIT + timedelta(minutes=1))
    say(service, thief, "after the wait")
    with pytest.raises(RevokedKey, match="rotated out"):
        say(service, owner, "too late")
    assert service.verify(workers=1).ok


def test_the_authority_cancels_a_pending_rotation(
    log: tuple[Service, Authority, PartyKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, authority, owner = log
    thief = PartyKey(generate_private_key(), GLN)
    service.log.submit(owner.envelope("key.rotate", rotation(owner, thief)))
    revoke = {"key_id": thief.key_id, "effective_at": format_timestamp(datetime.now(UTC)),
              "reason": "rotation not made by the owner"}  # fmt: skip
    service.log.submit(authority.envelope("key.revoke", revoke))
    later(monkeypatch, ROTATION_WAIT + timedelta(hours=1))
    say(service, owner, "the owner keeps the key")
    with pytest.raises(RevokedKey, match="revoked"):
        say(service, thief, "never valid")
    assert service.verify(workers=1).ok


def test_the_authority_rotates_at_once_and_replaces_a_pending_rotation(
    log: tuple[Service, Authority, PartyKey],
) -> None:
    service, authority, owner = log
    thief = PartyKey(generate_private_key(), GLN)
    service.log.submit(owner.envelope("key.rotate", rotation(owner, thief)))
    fresh = PartyKey(generate_private_key(), GLN)
    service.log.submit(authority.envelope("key.rotate", rotation(owner, fresh)))
    say(service, fresh, "at once")
    with pytest.raises(RevokedKey):
        say(service, owner, "rotated out")
    with pytest.raises(RevokedKey, match="revoked"):
        say(service, thief, "cancelled")
    keys = {k.key_id: k for k in _keys(service)}
    assert keys[thief.key_id].revocation_reason == "replaced by the authority"
    assert service.verify(workers=1).ok


def test_log_time_never_goes_backwards(
    log: tuple[Service, Authority, PartyKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _authority, owner = log
    first = say(service, owner, "now")
    later(monkeypatch, -timedelta(hours=1))  # this host's clock is an hour behind
    second = say(service, owner, "from a slow clock")
    with service.engine.connect() as conn:
        times = [
            conn.exec_driver_sql("SELECT logged_at FROM log_entry WHERE idx = ?", (i,)).scalar()
            for i in (first, second)
        ]
    assert times[0] is not None and times[1] == times[0]


def _keys(service: Service) -> list[object]:
    from provenance.log.store.engine import read_connection
    from provenance.log.store.projection import DbView

    with read_connection(service.engine) as conn:
        return list(DbView(conn).keys_of(GLN))
