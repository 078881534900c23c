"""Supply-chain statement kinds: body checks, signer roles, and the operations they run."""

from __future__ import annotations

from typing import Any

from provenance.errors import BadStatement
from provenance.log import body as f
from provenance.log.kinds import LedgerOperation, View, ledger_kind
from provenance.supply import operations as supply
from provenance.supply import pack_events
from provenance.supply.custody import Ledger

MOVE_FIELDS = {"quantity", "serials"}


@ledger_kind("product.register", frozenset({"manufacturer"}), "a manufacturer registers a GTIN")
def _product(
    ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
) -> None:
    f.members(b, {"gtin", "name", "form", "strength"}, {"ndc"})
    supply.register_product(
        ledger,
        party,
        f.gtin(b),
        f.text(b, "name"),
        f.optional_text(b, "ndc", 12),
        f.text(b, "form", 100),
        f.text(b, "strength", 100),
    )


@ledger_kind(
    "batch.commission",
    frozenset({"manufacturer"}),
    "the product's manufacturer commissions a batch",
)
def _commission(
    ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
) -> None:
    f.members(b, {"gtin", "lot", "expiry"}, MOVE_FIELDS)
    quantity, serials = f.quantity_or_serials(b)
    supply.commission(ledger, party, f.gtin(b), f.lot(b), f.expiry(b), quantity, serials)


def _ship(action: str) -> LedgerOperation:
    def operation(
        ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
    ) -> None:
        f.members(b, {"shipment", "gtin", "lot", "to"}, MOVE_FIELDS | {"po", "despatch"})
        quantity, serials = f.quantity_or_serials(b)
        supply.ship(
            ledger,
            view,
            party,
            f.text(b, "shipment", 80),
            f.gtin(b),
            f.lot(b),
            f.gln(b, "to"),
            quantity,
            serials,
            f.optional_text(b, "po", 80),
            f.optional_text(b, "despatch", 80),
            action,
        )

    return operation


ledger_kind("custody.ship", supply.SUPPLY_ROLES, "the holder ships packs to a named party")(
    _ship("ship")
)
ledger_kind("custody.return", frozenset({"pharmacy"}), "a saleable return to a wholesaler")(
    _ship("return")
)


@ledger_kind(
    "custody.receive", supply.SUPPLY_ROLES, "the recipient accepts a shipment (custody moves)"
)
def _receive(
    ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
) -> None:
    f.members(b, {"from", "shipment"}, MOVE_FIELDS)
    quantity, serials = f.quantity_or_serials(b)
    supply.receive(ledger, party, f.gln(b, "from"), f.text(b, "shipment", 80), quantity, serials)


@ledger_kind("custody.dispense", frozenset({"pharmacy"}), "a pharmacy supplies packs to patients")
def _dispense(
    ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
) -> None:
    f.members(b, {"gtin", "lot"}, MOVE_FIELDS)
    quantity, serials = f.quantity_or_serials(b)
    supply.dispense(ledger, party, f.gtin(b), f.lot(b), quantity, serials, ledger.logged_at)


@ledger_kind("custody.destroy", supply.SUPPLY_ROLES, "the holder destroys packs")
def _destroy(
    ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
) -> None:
    f.members(b, {"gtin", "lot", "reason"}, MOVE_FIELDS)
    quantity, serials = f.quantity_or_serials(b)
    supply.destroy(ledger, party, f.gtin(b), f.lot(b), quantity, serials, f.text(b, "reason", 500))


@ledger_kind("batch.recall", frozenset({"manufacturer", "regulator"}), "recall a whole batch")
def _recall(
    ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
) -> None:
    f.exact_members(b, "gtin", "lot", "reason")
    supply.recall(ledger, party, roles, f.gtin(b), f.lot(b), f.text(b, "reason", 500))


@ledger_kind(
    "pack.state", supply.SUPPLY_ROLES, "set an EU FMD pack state (stolen, locked, ...) or undo it"
)
def _state(
    ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
) -> None:
    f.exact_members(b, "gtin", "lot", "serials", "state")
    serials = f.serials(b)
    if not serials:
        raise BadStatement("body.serials must name at least one pack")
    pack_events.pack_state(ledger, party, f.gtin(b), f.lot(b), serials, f.text(b, "state", 16))


@ledger_kind("scan.record", supply.SUPPLY_ROLES | {"regulator"}, "a party's signed scan of a pack")
def _scan(
    ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
) -> object:
    f.members(b, {"gtin"}, {"lot", "serial", "expiry"})
    lot = f.lot(b) if "lot" in b else None
    serial = f.serials({"serials": [b["serial"]]})[0] if "serial" in b else None
    expiry = f.expiry(b) if "expiry" in b else None
    return pack_events.scan(ledger, party, f.gtin(b), lot, serial, expiry, ledger.logged_at)


@ledger_kind(
    "alert.resolve", supply.SUPPLY_ROLES | {"regulator"}, "close an alert with a resolution"
)
def _resolve(
    ledger: Ledger, view: View, party: str, roles: tuple[str, ...], b: dict[str, Any]
) -> None:
    f.exact_members(b, "alert", "resolution")
    pack_events.resolve_alert(
        ledger, party, roles, f.text(b, "alert", 40), f.text(b, "resolution", 1000)
    )
