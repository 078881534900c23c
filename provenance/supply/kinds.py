"""Supply-chain statement kinds: body checks, signer roles, and the operations they run."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from provenance.gs1.keys import GLN
from provenance.log import body as f
from provenance.log.errors import BadStatement
from provenance.log.identity import AUTHORITY
from provenance.log.kinds import KindRule, Op, Operation, Pending, ledger_kind
from provenance.supply import body as packs
from provenance.supply import (
    custody_exceptions,
    epcis_view,
    operations,
    pack_events,
    prefixes,
    shipments,
)
from provenance.supply.operations import SUPPLY_ROLES

MOVE_FIELDS = {"quantity", "serials"}


def signer(op: Op) -> GLN:
    """The signer's party: its GLN was checked when the party was registered."""
    return GLN(op.party)


@ledger_kind(
    "prefix.assign",
    frozenset({AUTHORITY}),
    "the registry authority assigns a GS1 company prefix to a manufacturer",
)
def prefix_assign(op: Op) -> None:
    b = op.body
    f.exact_members(b, "gln", "prefix")
    prefixes.assign(op.ledger, op.view, gln=f.gln(b), prefix=prefixes.company_prefix(b))


@ledger_kind("product.register", frozenset({"manufacturer"}), "a manufacturer registers a GTIN")
def product_register(op: Op) -> None:
    b = op.body
    f.members(b, {"gtin", "name", "form", "strength"}, {"ndc", "leaflet"})
    gtin = packs.gtin(b)
    # Checked, not projected: the resolver reads it from this entry, which anyone may read.
    packs.web_address(b, "leaflet")
    if op.rules >= 2:
        prefixes.require_holder(op.ledger, party=signer(op), gtin=gtin)
    operations.register_product(
        op.ledger,
        party=signer(op),
        gtin=gtin,
        name=f.text(b, "name"),
        ndc=f.optional_text(b, "ndc", 12),
        form=f.text(b, "form", 100),
        strength=f.text(b, "strength", 100),
    )


@ledger_kind(
    "batch.commission",
    frozenset({"manufacturer"}),
    "the product's manufacturer commissions a batch",
)
def batch_commission(op: Op) -> None:
    b = op.body
    f.members(b, {"gtin", "lot", "expiry"}, MOVE_FIELDS)
    quantity, serials = packs.quantity_or_serials(b)
    operations.commission(
        op.ledger,
        party=signer(op),
        gtin=packs.gtin(b),
        lot=packs.lot(b),
        expiry=packs.expiry(b),
        quantity=quantity,
        serials=serials,
    )


def _ship(action: str) -> Operation:
    def operation(op: Op) -> None:
        b = op.body
        f.members(b, {"shipment", "gtin", "lot", "to"}, MOVE_FIELDS | {"po", "despatch"})
        quantity, serials = packs.quantity_or_serials(b)
        shipments.ship(
            op.ledger,
            op.view,
            party=signer(op),
            shipment_id=f.text(b, "shipment", 80),
            gtin=packs.gtin(b),
            lot=packs.lot(b),
            to=f.gln(b, "to"),
            quantity=quantity,
            serials=serials,
            po=f.optional_text(b, "po", 80),
            despatch=f.optional_text(b, "despatch", 80),
            action=action,
        )

    return operation


custody_ship = ledger_kind("custody.ship", SUPPLY_ROLES, "the holder ships packs to a named party")(
    _ship("ship")
)
custody_return = ledger_kind(
    "custody.return", frozenset({"pharmacy"}), "a saleable return to a wholesaler"
)(_ship("return"))


def _receive(receipt: Callable[..., None]) -> Operation:
    """A receipt of a shipment (first, or of its remainder): the same body, its own rules."""

    def operation(op: Op) -> None:
        b = op.body
        f.members(b, {"from", "shipment"}, MOVE_FIELDS)
        quantity, serials = packs.quantity_or_serials(b)
        receipt(
            op.ledger,
            party=signer(op),
            sender=f.gln(b, "from"),
            shipment_id=f.text(b, "shipment", 80),
            quantity=quantity,
            serials=serials,
        )

    return operation


custody_receive = ledger_kind(
    "custody.receive", SUPPLY_ROLES, "the recipient accepts a shipment (custody moves)"
)(_receive(shipments.receive))
custody_receive_remainder = ledger_kind(
    "custody.receive-remainder",
    SUPPLY_ROLES,
    "the recipient of a short shipment receives what was still in transit",
)(_receive(custody_exceptions.receive_remainder))


@ledger_kind(
    "custody.recall-return",
    frozenset({"wholesaler", "pharmacy"}),
    "a holder sends packs of a recalled batch back to its manufacturer",
)
def custody_recall_return(op: Op) -> None:
    b = op.body
    f.members(b, {"shipment", "gtin", "lot", "to"}, MOVE_FIELDS)
    quantity, serials = packs.quantity_or_serials(b)
    custody_exceptions.recall_return(
        op.ledger,
        op.view,
        party=signer(op),
        shipment_id=f.text(b, "shipment", 80),
        gtin=packs.gtin(b),
        lot=packs.lot(b),
        to=f.gln(b, "to"),
        quantity=quantity,
        serials=serials,
    )


@ledger_kind(
    "custody.write-off",
    SUPPLY_ROLES,
    "the holder writes off packs it can no longer account for (lost, damaged, theft)",
)
def custody_write_off(op: Op) -> None:
    b = op.body
    f.members(b, {"gtin", "lot", "reason"}, MOVE_FIELDS | {"note"})
    quantity, serials = packs.quantity_or_serials(b)
    custody_exceptions.write_off(
        op.ledger,
        party=signer(op),
        gtin=packs.gtin(b),
        lot=packs.lot(b),
        quantity=quantity,
        serials=serials,
        reason=f.text(b, "reason", 20),
        note=f.optional_text(b, "note", 500),
    )


@ledger_kind("custody.dispense", frozenset({"pharmacy"}), "a pharmacy supplies packs to patients")
def custody_dispense(op: Op) -> None:
    b = op.body
    f.members(b, {"gtin", "lot"}, MOVE_FIELDS)
    quantity, serials = packs.quantity_or_serials(b)
    operations.dispense(
        op.ledger,
        party=signer(op),
        gtin=packs.gtin(b),
        lot=packs.lot(b),
        quantity=quantity,
        serials=serials,
        today=op.ledger.logged_at,
    )


@ledger_kind("custody.destroy", SUPPLY_ROLES, "the holder destroys packs")
def custody_destroy(op: Op) -> None:
    b = op.body
    f.members(b, {"gtin", "lot", "reason"}, MOVE_FIELDS)
    quantity, serials = packs.quantity_or_serials(b)
    operations.destroy(
        op.ledger,
        party=signer(op),
        gtin=packs.gtin(b),
        lot=packs.lot(b),
        quantity=quantity,
        serials=serials,
        reason=f.text(b, "reason", 500),
    )


@ledger_kind("batch.recall", frozenset({"manufacturer", "regulator"}), "recall a whole batch")
def batch_recall(op: Op) -> None:
    b = op.body
    f.exact_members(b, "gtin", "lot", "reason")
    operations.recall(
        op.ledger,
        party=signer(op),
        roles=op.roles,
        gtin=packs.gtin(b),
        lot=packs.lot(b),
        reason=f.text(b, "reason", 500),
    )


@ledger_kind(
    "pack.state", SUPPLY_ROLES, "set an EU FMD pack state (stolen, locked, ...) or undo it"
)
def pack_state(op: Op) -> None:
    b = op.body
    f.exact_members(b, "gtin", "lot", "serials", "state")
    serials = packs.serials(b)
    if not serials:
        raise BadStatement("body.serials must name at least one pack")
    pack_events.pack_state(
        op.ledger,
        party=signer(op),
        gtin=packs.gtin(b),
        lot=packs.lot(b),
        serials=serials,
        state=f.text(b, "state", 16),
    )


@ledger_kind("scan.record", SUPPLY_ROLES | {"regulator"}, "a party's signed scan of a pack")
def scan_record(op: Op) -> object:
    b = op.body
    f.members(b, {"gtin"}, {"lot", "serial", "expiry"})
    return pack_events.scan(
        op.ledger,
        party=signer(op),
        gtin=packs.gtin(b),
        lot=packs.lot(b) if "lot" in b else None,
        serial=packs.serials({"serials": [b["serial"]]})[0] if "serial" in b else None,
        expiry=packs.expiry(b) if "expiry" in b else None,
        today=op.ledger.logged_at,
    )


@ledger_kind("alert.resolve", SUPPLY_ROLES | {"regulator"}, "close an alert with a resolution")
def alert_resolve(op: Op) -> None:
    b = op.body
    f.exact_members(b, "alert", "resolution")
    pack_events.resolve_alert(
        op.ledger,
        party=signer(op),
        roles=op.roles,
        alert_id=f.text(b, "alert", 40),
        resolution=f.text(b, "resolution", 1000),
    )


def with_epcis_view(rule: KindRule) -> KindRule:
    """`rule`, also storing in its entry the EPCIS 2.0 events its custody changes imply (see
    `epcis_view`), so custody signed natively is queried as EPCIS as captured custody is."""
    plain = rule.plan

    def plan(pending: Pending) -> list[object]:
        changes = plain(pending)
        return [*changes, *epcis_view.derived_changes(changes, pending.view)]

    return dataclasses.replace(rule, plan=plan)


#: The kinds that change custody, as declared above: without their EPCIS events.
CUSTODY_KINDS: tuple[KindRule, ...] = (
    batch_commission,
    custody_ship,
    custody_return,
    custody_receive,
    custody_receive_remainder,
    custody_recall_return,
    custody_write_off,
    custody_dispense,
    custody_destroy,
    batch_recall,
    pack_state,
)

#: The supply chain's statement kinds besides EPCIS capture (see `capture`), whose events are
#: stored as captured rather than derived.
KINDS: tuple[KindRule, ...] = (
    prefix_assign,
    product_register,
    *(with_epcis_view(rule) for rule in CUSTODY_KINDS),
    scan_record,
    alert_resolve,
)
