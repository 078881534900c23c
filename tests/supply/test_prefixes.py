"""GS1 company prefixes: the authority assigns them, and under rules 2 only their holder
registers a product under one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from provenance.gs1.keys import with_check_digit
from provenance.log.errors import WrongRole
from provenance.log.identity import KeyRecord, PartyRecord, PutKey, PutParty
from provenance.log.ledger import PutRow
from provenance.log.profile import EntryContext
from provenance.log.rebuild import projection_digest
from provenance.log.signing import generate_private_key, key_id, public_key_der
from provenance.log.statements import make_statement, now_timestamp
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView, MemoryView
from provenance.plugins import load_plugins
from provenance.supply.tables import KEYS
from provenance.web.context import installed, service
from tests.parties import ORIGIN, Authority, PartyKey, assign_prefix, register_party, send

MAKER, RIVAL = "5412345000013", "5412345000051"
WHOLESALER, UNREGISTERED = "5412345000020", "5412345000068"
GTIN = "09506000134352"  # GS1 company prefix 9506000
NDC_GTIN = "00307773105025"  # a GTIN-12, NDC 0777-3105-02: U.P.C. Company Prefix 30777
#: A GTIN-13 under the 10-digit prefix 4012345678.
TEN_DIGIT_GTIN = with_check_digit("0401234567801")
#: A GTIN-8 held as a GTIN-14, and the 12-digit prefix that assigns exactly that GTIN-8.
GTIN8 = "000000" + with_check_digit("9501234")
GTIN8_PREFIX = "00000" + "9501234"


@dataclass
class Parties:
    client: FlaskClient
    authority: Authority
    maker: PartyKey
    rival: PartyKey
    wholesaler: PartyKey

    def assign(self, gln: str, prefix: Any, status: int = 201) -> Any:
        return send(
            self.client, self.authority, "prefix.assign", {"gln": gln, "prefix": prefix}, status
        )

    def register(self, party: PartyKey, gtin: str, status: int = 201) -> Any:
        body = {"gtin": gtin, "name": "Amoxicillin", "form": "capsule", "strength": "500 mg"}
        return send(self.client, party, "product.register", body, status)


@pytest.fixture
def parties(client: FlaskClient, authority: Authority) -> Parties:
    return Parties(
        client,
        authority,
        register_party(client, authority, "Acme", MAKER, ["manufacturer"]),
        register_party(client, authority, "Rival Generics", RIVAL, ["manufacturer"]),
        register_party(client, authority, "MedSupply", WHOLESALER, ["wholesaler"]),
    )


def log_state(app: Flask) -> tuple[int, str]:
    """The log's size and the projection's fingerprint."""
    with app.app_context(), read_connection(service().engine) as conn:
        return logdb.tree_size(conn), projection_digest(conn, installed().registry)


def prefix_row(app: Flask, prefix: str) -> dict[str, Any] | None:
    with app.app_context(), read_connection(service().engine) as conn:
        return DbView(conn, KEYS).row("company_prefix", (prefix,))


def test_only_the_authority_assigns_prefixes(app: Flask, parties: Parties) -> None:
    body = {"gln": MAKER, "prefix": "9506000"}
    before = log_state(app)
    for signer in (parties.maker, parties.wholesaler):
        problem = send(parties.client, signer, "prefix.assign", body, 403)
        assert problem["type"].endswith("/wrong-role")
    assert log_state(app) == before
    assign_prefix(parties.client, parties.authority, MAKER, "9506000")
    row = prefix_row(app, "9506000")
    assert row is not None and (row["gln"], row["assigned_index"]) == (MAKER, before[0])


def test_prefixes_are_assigned_to_registered_manufacturers(app: Flask, parties: Parties) -> None:
    before = log_state(app)
    assert "not a manufacturer" in parties.assign(WHOLESALER, "9506000", 422)["detail"]
    assert "not registered" in parties.assign(UNREGISTERED, "9506000", 409)["detail"]
    assert log_state(app) == before


@pytest.mark.parametrize(
    "prefix",
    ["950", "9506000134352", "95O6000", " 9506000", 9506000, "", None, "0000095", "00000950123"],
)
def test_a_prefix_is_4_to_12_digits_and_names_a_single_gtin8(
    parties: Parties, prefix: object
) -> None:
    problem = parties.assign(MAKER, prefix, 422)
    assert problem["detail"].startswith("body.prefix")


def test_seven_and_ten_digit_prefixes_cover_their_gtins(parties: Parties) -> None:
    parties.assign(MAKER, "9506000")
    parties.assign(RIVAL, "4012345678")
    parties.register(parties.maker, GTIN)
    parties.register(parties.rival, TEN_DIGIT_GTIN)
    parties.register(parties.maker, TEN_DIGIT_GTIN, 403)
    parties.register(parties.rival, GTIN, 403)


def test_overlapping_prefixes_are_refused_whoever_holds_them(app: Flask, parties: Parties) -> None:
    parties.assign(MAKER, "9506000")
    parties.assign(RIVAL, "40123456")
    before = log_state(app)
    for gln in (MAKER, RIVAL):
        again = parties.assign(gln, "9506000", 409)
        assert again["detail"] == f"prefix 9506000 is already assigned to {MAKER}"
        shorter = parties.assign(gln, "950600", 409)  # would cover 9506000
        assert (shorter["assigned"], shorter["gln"]) == ("9506000", MAKER)
        longer = parties.assign(gln, "95060001", 409)  # inside 9506000
        assert (longer["assigned"], longer["gln"]) == ("9506000", MAKER)
        covering = parties.assign(gln, "4012", 409)  # would cover the longer 40123456
        assert (covering["assigned"], covering["gln"]) == ("40123456", RIVAL)
    assert log_state(app) == before
    parties.assign(RIVAL, "9506001")  # a neighbour shares digits but neither leads the other
    parties.assign(MAKER, "40123457")
    parties.assign(MAKER, "401234560001", 409)


def test_a_product_under_a_foreign_prefix_is_refused(app: Flask, parties: Parties) -> None:
    parties.assign(RIVAL, "9506000")
    before = log_state(app)
    problem = parties.register(parties.maker, GTIN, 403)
    assert problem["type"].endswith("/wrong-role")
    assert problem["detail"] == (
        f"GTIN {GTIN} is under GS1 company prefix 9506000, assigned to {RIVAL}, not to {MAKER}"
    )
    assert (problem["gtin"], problem["prefix"]) == (GTIN, "9506000")
    assert log_state(app) == before
    parties.register(parties.rival, GTIN)


def test_a_product_under_no_assigned_prefix_is_refused(app: Flask, parties: Parties) -> None:
    parties.assign(MAKER, "4012345678")
    before = log_state(app)
    problem = parties.register(parties.maker, GTIN, 403)
    assert "9506000134352" in problem["detail"] and "assigned to no party" in problem["detail"]
    assert log_state(app) == before
    parties.assign(MAKER, "9506000")
    parties.register(parties.maker, GTIN)


def test_gtin12_and_gtin8_are_covered_in_their_gtin14_form(parties: Parties) -> None:
    # A GTIN-12 is held as "00" and its digits: its U.P.C. Company Prefix leads them only in
    # GS1 form, with a leading zero.
    parties.assign(RIVAL, "30777")
    parties.register(parties.rival, NDC_GTIN, 403)
    parties.assign(MAKER, "030777")
    parties.register(parties.maker, NDC_GTIN)
    parties.assign(RIVAL, GTIN8_PREFIX)
    parties.register(parties.rival, GTIN8)
    parties.register(parties.rival, "000000" + with_check_digit("9501235"), 403)


def register_in_a_log_without_prefixes(rules: int) -> list[object]:
    """The changes of a manufacturer's product.register in a log under `rules` where no prefix
    is assigned (the registry's rules over an in-memory projection)."""
    registry = load_plugins().registry
    view = MemoryView(registry.key_columns)
    der, at = public_key_der(generate_private_key()), now_timestamp()
    view.apply(
        [
            PutParty(PartyRecord(MAKER, "Acme", ("manufacturer",), 1)),
            PutKey(KeyRecord(key_id(der), MAKER, der, 1, at)),
        ]
    )
    body = {"gtin": GTIN, "name": "Amoxicillin", "form": "capsule", "strength": "500 mg"}
    statement = make_statement("product.register", body, key_id(der), log=ORIGIN)
    return registry.evaluate(view, statement, EntryContext(2, at, rules, ORIGIN))


def test_rules_1_logs_register_products_without_prefixes() -> None:
    (change,) = register_in_a_log_without_prefixes(1)
    assert isinstance(change, PutRow) and change.key == (GTIN,)
    assert (change.table, change.values["manufacturer"]) == ("product", MAKER)
    with pytest.raises(WrongRole, match="assigned to no party"):
        register_in_a_log_without_prefixes(2)
