"""Custody of drug batches and packs: holdings, shipments, pack states and conservation (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, NamedTuple, Protocol

from provenance.errors import BadStatement, Conflict
from provenance.log.statements import parse_timestamp

#: Primary-key columns of each projection table (the database schema declares the same).
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "product": ("gtin",),
    "batch": ("gtin", "lot"),
    "holding": ("gtin", "lot", "gln"),
    "shipment": ("sender", "shipment_id"),
    "pack": ("gtin", "serial"),
    "custody_event": ("idx", "seq"),
    "alert": ("idx", "seq"),
    "epcis_event": ("hash_id",),
}

#: EU FMD pack states a holder may set, and whether the same location may undo them.
SETTABLE_STATES = frozenset({"stolen", "locked", "sample", "exported", "checked-out", "withdrawn"})
UNDOABLE_STATES = frozenset({"supplied", "locked", "sample", "exported", "checked-out"})
UNDO_WINDOW = timedelta(days=10)


class PutRow(NamedTuple):
    """Insert or replace one projection row, keyed by its table's primary key."""

    table: str
    values: dict[str, Any]

    def key(self) -> tuple[Any, ...]:
        return tuple(self.values[c] for c in PRIMARY_KEYS[self.table])


class SetColumns(NamedTuple):
    """Overwrite columns of one row that is not in the projection (an erased off-log payload);
    only rows where `unless_set` is still NULL change, so a replay changes nothing again."""

    table: str
    key_columns: tuple[str, ...]
    key: tuple[Any, ...]
    values: dict[str, Any]
    unless_set: str


class RowView(Protocol):
    def row(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None: ...

    def rows(self, table: str, keys: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]: ...


class Ledger:
    """Working copy of the rows one entry reads and changes; `changes()` is what it wrote.

    Several operations in one entry (an EPCIS document) see each other's effects here before
    anything reaches the projection, so a failure part-way leaves the projection untouched.
    """

    def __init__(self, view: RowView, index: int, logged_at: str, key_id: str) -> None:
        self.view = view
        self.index = index
        self.logged_at = logged_at
        self.key_id = key_id
        self._rows: dict[tuple[str, tuple[Any, ...]], dict[str, Any] | None] = {}
        self._dirty: dict[tuple[str, tuple[Any, ...]], None] = {}
        self._seq: dict[str, int] = {}
        #: Changes beyond projection rows (e.g. erasing an off-log payload), applied last.
        self.extra: list[object] = []

    def get(self, table: str, *key: Any) -> dict[str, Any] | None:
        slot = (table, key)
        if slot not in self._rows:
            found = self.view.row(table, key)
            self._rows[slot] = dict(found) if found is not None else None
        return self._rows[slot]

    def prefetch(self, table: str, keys: Iterable[tuple[Any, ...]]) -> None:
        """Read many rows in a few queries ahead of per-row `get`s (absent ones cached too)."""
        wanted = [key for key in dict.fromkeys(keys) if (table, key) not in self._rows]
        for key in wanted:
            self._rows[(table, key)] = None
        for found in self.view.rows(table, wanted):
            self._rows[(table, tuple(found[c] for c in PRIMARY_KEYS[table]))] = dict(found)

    def put(self, table: str, values: dict[str, Any]) -> dict[str, Any]:
        slot = (table, tuple(values[c] for c in PRIMARY_KEYS[table]))
        self._rows[slot] = values
        self._dirty[slot] = None
        return values

    def touch(self, table: str, row: dict[str, Any]) -> None:
        """Mark a row returned by `get` and edited in place as changed."""
        self.put(table, row)

    def changes(self) -> list[object]:
        """The rows written, each once in its final state (the ledger is done with them)."""
        rows = self._rows
        return [*(PutRow(slot[0], rows[slot] or {}) for slot in self._dirty), *self.extra]

    def event(
        self,
        gtin: str,
        lot: str,
        action: str,
        party: str,
        *,
        counterparty: str | None = None,
        quantity: int = 0,
        serials: Sequence[str] = (),
        detail: str = "",
    ) -> None:
        seq = self.next_seq("custody_event")
        self.put(
            "custody_event",
            {
                "idx": self.index,
                "seq": seq,
                "gtin": gtin,
                "lot": lot,
                "action": action,
                "party": party,
                "counterparty": counterparty,
                "quantity": quantity,
                "serials": json.dumps(list(serials)),
                "detail": detail,
                "at": self.logged_at,
                "key_id": self.key_id,
            },
        )

    def alert(
        self, kind: str, gtin: str, lot: str | None, serial: str | None, party: str, detail: str
    ) -> str:
        seq = self.next_seq("alert")
        self.put(
            "alert",
            {
                "idx": self.index,
                "seq": seq,
                "kind": kind,
                "gtin": gtin,
                "lot": lot,
                "serial": serial,
                "party": party,
                "detail": detail,
                "raised_at": self.logged_at,
                "resolved_index": None,
                "resolved_by": None,
                "resolution": None,
            },
        )
        return f"{self.index}-{seq}"

    def next_seq(self, table: str) -> int:
        """Rows keyed (entry index, seq) are numbered 0, 1, … within the entry."""
        seq = self._seq.get(table, 0)
        self._seq[table] = seq + 1
        return seq


# --- operations ---------------------------------------------------------------------------------


def require_batch(ledger: Ledger, gtin: str, lot: str) -> dict[str, Any]:
    batch = ledger.get("batch", gtin, lot)
    if batch is None:
        raise Conflict(f"batch {gtin}/{lot} is not commissioned in this log", gtin=gtin, lot=lot)
    return batch


def holding(ledger: Ledger, gtin: str, lot: str, gln: str) -> dict[str, Any]:
    row = ledger.get("holding", gtin, lot, gln)
    if row is None:
        row = {"gtin": gtin, "lot": lot, "gln": gln, "quantity": 0, "first_index": ledger.index}
    return row


def check_quantity_form(batch: dict[str, Any], quantity: int, serials: Sequence[str]) -> int:
    """Serialised batches move by serial, others by count; returns the number of packs."""
    if batch["serialised"]:
        if not serials:
            raise BadStatement(
                f"batch {batch['gtin']}/{batch['lot']} is serialised: name the serials"
            )
        if quantity and quantity != len(serials):
            raise BadStatement("body.quantity differs from the number of serials")
        return len(serials)
    if serials:
        raise BadStatement(f"batch {batch['gtin']}/{batch['lot']} has no serials; give a quantity")
    if quantity <= 0:
        raise BadStatement("body.quantity must be a positive integer")
    return quantity


def take_from_holding(
    ledger: Ledger,
    batch: dict[str, Any],
    gln: str,
    count: int,
    serials: Sequence[str],
    what: str,
    *,
    leaves_as: str | None = None,
) -> dict[str, Any]:
    """Remove `count` packs (these serials, if any) from a party's custody, or refuse (409).

    The named packs go in transit, or with `leaves_as` take that EU FMD state (supplied,
    destroyed); every pack is checked before any is changed."""
    gtin, lot = batch["gtin"], batch["lot"]
    row = holding(ledger, gtin, lot, gln)
    if row["quantity"] < count:
        raise Conflict(
            f"party {gln} holds {row['quantity']} of batch {gtin}/{lot} and cannot {what} {count}",
            held=row["quantity"],
            requested=count,
        )
    packs = []
    for serial in serials:
        pack = ledger.get("pack", gtin, serial)
        if pack is None or pack["lot"] != lot:
            raise Conflict(f"serial {serial} is not a pack of batch {gtin}/{lot}", serial=serial)
        if pack["holder"] != gln:
            raise Conflict(f"party {gln} does not hold pack {serial}", serial=serial)
        if pack["state"] != "active":
            raise Conflict(f"pack {serial} is {pack['state']}, not active", serial=serial)
        packs.append(pack)
    row["quantity"] -= count
    ledger.put("holding", row)
    for pack in packs:
        if leaves_as is None:
            pack["holder"] = None  # in transit
            ledger.touch("pack", pack)
        else:
            set_pack_state(ledger, pack, leaves_as, gln)
    return row


def give_to_holding(
    ledger: Ledger, gtin: str, lot: str, gln: str, count: int, serials: Iterable[str]
) -> None:
    row = holding(ledger, gtin, lot, gln)
    row["quantity"] += count
    ledger.put("holding", row)
    for serial in serials:
        pack = ledger.get("pack", gtin, serial)
        assert pack is not None  # serials were checked against the shipment
        pack["holder"] = gln
        ledger.touch("pack", pack)


def set_pack_state(ledger: Ledger, pack: dict[str, Any], state: str, by: str) -> None:
    pack.update(
        state=state,
        state_by=by,
        state_index=ledger.index,
        state_at=ledger.logged_at,
        undo_state=pack["state"] if state in UNDOABLE_STATES else None,
    )
    ledger.touch("pack", pack)


def undo_pack_state(ledger: Ledger, pack: dict[str, Any], by: str) -> str:
    """EU FMD: an undo restores the prior state, by the same location within 10 days."""
    state = pack["state"]
    if state not in UNDOABLE_STATES or pack["undo_state"] is None:
        raise Conflict(f"pack {pack['serial']} is {state}; that state cannot be undone")
    if pack["state_by"] != by:
        raise Conflict(
            f"pack {pack['serial']} was set {state} by {pack['state_by']}; only that location "
            "may undo it"
        )
    since = parse_timestamp(ledger.logged_at) - parse_timestamp(pack["state_at"])
    if since > UNDO_WINDOW:
        raise Conflict(f"pack {pack['serial']} was set {state} more than 10 days ago")
    set_pack_state(ledger, pack, pack["undo_state"], by)
    pack["undo_state"] = None
    return str(state)


def conservation(batch: dict[str, Any], held: int, in_transit: int) -> bool:
    """Commissioned = held + in transit + dispensed + destroyed."""
    total = held + in_transit + batch["dispensed"] + batch["destroyed"]
    return bool(batch["quantity"] == total)
