"""People under parties: registered by their party, signing as themselves, suspended at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from provenance.log import keystore
from provenance.log.errors import Conflict, RevokedKey, WrongRole
from provenance.log.rebuild import rebuild
from provenance.log.service import Service
from provenance.log.settings import Settings
from provenance.log.signing import generate_private_key
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from tests.log.members import MEMBER, core_registry
from tests.parties import Authority, PartyKey

PHARMACY, OTHER = "5412345000037", "5412345000099"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[tuple[Service, Authority, PartyKey, PartyKey]]:
    service = Service(Settings.from_config({"DATA_DIR": str(tmp_path)}), core_registry())
    service.initialise()
    authority = Authority(keystore.load_authority_key(service.settings.keys))
    parties = []
    for gln in (PHARMACY, OTHER):
        party = PartyKey(generate_private_key(), gln)
        body = {
            "gln": gln,
            "name": f"Party {gln}",
            "roles": [MEMBER],
            "public_key": party.public_b64,
        }
        service.log.submit(authority.envelope("party.register", body))
        parties.append(party)
    yield service, authority, parties[0], parties[1]
    service.close()


def person(gln: str, person_id: str, name: str) -> tuple[PartyKey, dict[str, str]]:
    key = PartyKey(generate_private_key(), gln)
    body = {"gln": gln, "person": person_id, "name": name, "role": "pharmacist",
            "public_key": key.public_b64}  # fmt: skip
    return key, body


def say(service: Service, who: PartyKey, subject: str) -> int:
    envelope = who.envelope("attestation", {"subject": subject, "claim": {}})
    return service.log.submit(envelope).index


def test_a_party_registers_its_people_who_then_sign_as_themselves(
    log: tuple[Service, Authority, PartyKey, PartyKey],
) -> None:
    service, _authority, pharmacy, other = log
    alice, body = person(PHARMACY, "E-1017", "Alice Martin")
    service.log.submit(pharmacy.envelope("person.register", body))
    say(service, alice, "dispensed")
    with pytest.raises(Conflict, match="already acts"):
        again, twice = person(PHARMACY, "E-1017", "Alice Martin")
        service.log.submit(pharmacy.envelope("person.register", twice))
    # Another party cannot put people under this one, nor can a person add colleagues.
    bob, bob_body = person(PHARMACY, "E-2001", "Bob Stone")
    with pytest.raises(WrongRole, match="only party"):
        service.log.submit(other.envelope("person.register", bob_body))
    with pytest.raises(WrongRole, match="person's key"):
        service.log.submit(alice.envelope("person.register", bob_body))
    with read_connection(service.engine) as conn:
        record = DbView(conn).person_of(alice.key_id)
    assert record is not None and (record.name, record.gln) == ("Alice Martin", PHARMACY)


def test_a_suspended_person_signs_nothing_until_reinstated(
    log: tuple[Service, Authority, PartyKey, PartyKey],
) -> None:
    service, authority, pharmacy, _other = log
    alice, body = person(PHARMACY, "E-1017", "Alice Martin")
    service.log.submit(pharmacy.envelope("person.register", body))
    suspend = {"gln": PHARMACY, "person": "E-1017", "reason": "left the company"}
    service.log.submit(pharmacy.envelope("person.suspend", suspend))
    with pytest.raises(RevokedKey, match="Alice Martin .* suspended .*left the company"):
        say(service, alice, "after leaving")
    # Her rotated key is still hers, and still suspended.
    new = PartyKey(generate_private_key(), PHARMACY)
    rotate = {"gln": PHARMACY, "old_key": alice.key_id, "new_public_key": new.public_b64}
    with pytest.raises(RevokedKey):
        service.log.submit(alice.envelope("key.rotate", rotate))
    service.log.submit(authority.envelope("key.rotate", rotate))
    with pytest.raises(RevokedKey, match="suspended"):
        say(service, new, "with a new key")
    reinstate = {"gln": PHARMACY, "person": "E-1017", "reason": "came back"}
    service.log.submit(pharmacy.envelope("person.reinstate", reinstate))
    say(service, new, "back at work")
    assert service.verify(workers=1).ok
    assert rebuild(service.engine, service.registry).identical
