"""A log built from the core alone: what it accepts, what it refuses, what it imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from provenance.epcis.query import EPCIS_PAYLOAD_TYPE
from provenance.errors import Error
from provenance.log import keystore
from provenance.log.errors import BadEnvelope, BadStatement
from provenance.log.kinds import ANY_PARTY, KindRule, Pending
from provenance.log.personality import Personality, Registry
from provenance.log.rebuild import rebuild
from provenance.log.service import Service
from provenance.log.settings import Settings
from provenance.log.signing import generate_private_key, sign_envelope
from tests.log.members import MEMBER, MEMBERS, core_registry
from tests.parties import Authority, PartyKey
from tests.paths import PROJECT

GLN = "5412345000013"


def make_service(tmp_path: Path, registry: Registry) -> Service:
    service = Service(Settings.from_config({"DATA_DIR": str(tmp_path)}), registry)
    service.initialise()
    return service


@pytest.fixture
def core(tmp_path: Path) -> Iterator[tuple[Service, Authority]]:
    service = make_service(tmp_path, core_registry())
    yield service, Authority(keystore.load_authority_key(service.settings.keys))
    service.close()


def register(service: Service, authority: Authority, gln: str, roles: list[str]) -> PartyKey:
    party = PartyKey(generate_private_key(), gln)
    body = {"gln": gln, "name": "Member", "roles": roles, "public_key": party.public_b64}
    service.log.submit(authority.envelope("party.register", body))
    return party


def test_a_core_log_knows_only_the_core_kinds(core: tuple[Service, Authority]) -> None:
    service, authority = core
    assert set(service.registry.kinds) == {
        "party.register",
        "key.rotate",
        "key.revoke",
        "attestation",
        "person.register",
        "person.suspend",
        "person.reinstate",
    }
    member = register(service, authority, GLN, [MEMBER])
    claim = {"subject": "lot/1", "claim": {"ok": True}}
    assert service.log.submit(member.envelope("attestation", claim)).index == 2
    product = {"gtin": "09506000134352", "name": "X", "form": "tablet", "strength": "1 mg"}
    with pytest.raises(BadStatement, match="unknown statement kind 'product.register'"):
        service.log.submit(member.envelope("product.register", product))
    # A payload type no personality declared is not even parsed.
    envelope = sign_envelope(member.key, json.dumps({"type": "EPCISDocument"}).encode(),
                             EPCIS_PAYLOAD_TYPE).to_json()  # fmt: skip
    with pytest.raises(BadEnvelope, match="payloadType"):
        service.log.submit(envelope)
    assert service.verify(workers=1).ok
    assert rebuild(service.engine, service.registry).identical


def test_roles_come_from_the_personalities(tmp_path: Path) -> None:
    service = make_service(tmp_path, Registry())
    try:
        authority = Authority(keystore.load_authority_key(service.settings.keys))
        with pytest.raises(BadStatement, match=r"distinct \[\]"):
            register(service, authority, GLN, ["manufacturer"])
    finally:
        service.close()


def test_a_personality_adds_a_kind_without_touching_the_core(tmp_path: Path) -> None:
    def plan(pending: Pending) -> list[object]:
        if pending.statement.body != {"note": "hello"}:
            raise BadStatement("body must be {note: hello}")
        return []

    greeting = KindRule("greeting.say", frozenset({ANY_PARTY}), plan, "say hello")
    greeters = Personality("greeters", kinds=(greeting,), roles=frozenset({"greeter"}))
    service = make_service(tmp_path, Registry([MEMBERS, greeters]))
    try:
        authority = Authority(keystore.load_authority_key(service.settings.keys))
        # ANY_PARTY: a role of any personality may sign the new kind.
        member = register(service, authority, GLN, [MEMBER])
        assert not service.log.submit(member.envelope("greeting.say", {"note": "hello"})).duplicate
        with pytest.raises(BadStatement, match="hello"):
            service.log.submit(member.envelope("greeting.say", {"note": "bye"}))
        assert service.verify(workers=1).ok
    finally:
        service.close()


@pytest.mark.parametrize(
    "second",
    [
        Personality("twin", kinds=(KindRule("attestation", frozenset(), lambda p: [], ""),)),
        Personality("twin", tables={"party": ("gln",)}),
        Personality("twin", roles=frozenset({"authority"})),
        MEMBERS,
    ],
)
def test_personalities_cannot_redeclare_what_exists(second: Personality) -> None:
    with pytest.raises(ValueError, match="declares|may not"):
        Registry([MEMBERS, second])


def test_importing_the_core_loads_no_domain_and_no_web(tmp_path: Path) -> None:
    program = (
        "import sys, json;"
        "import provenance.log.service, provenance.log.verify, provenance.log.rebuild,"
        " provenance.log.reader, provenance.log.entries;"
        "print(json.dumps(sorted(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, cwd=PROJECT, check=True
    )
    loaded = json.loads(result.stdout)
    ours = [m for m in loaded if m.split(".")[0] in ("provenance", "trials")]
    assert all(m.startswith(("provenance.log", "provenance.errors")) or m in {
        "provenance", "provenance.gs1", "provenance.gs1.keys", "provenance.gs1.errors",
        "provenance.recent",  # a bounded cache of immutable values, no domain in it
    } for m in ours), ours  # fmt: skip
    for module in ("flask", "click", "jsonschema", "pandas", "werkzeug"):
        assert module not in loaded, module


def test_a_domain_error_is_an_error_of_the_one_hierarchy() -> None:
    from provenance.epcis.errors import BadEpcis
    from provenance.gs1.errors import BadIdentifier
    from trials.errors import BadDataset

    for cls in (BadEpcis, BadIdentifier, BadDataset):
        assert issubclass(cls, Error)
        copy = cls("detail", at=1).with_context("more detail", item=3)
        assert type(copy) is cls and copy.extensions == {"at": 1, "item": 3}
