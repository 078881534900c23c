"""Which pack a scan names: the scanner's reading, or, when a GS separator was lost and the data
reads several ways, the reading whose batch or pack the log knows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from provenance.gs1 import scanner, splits
from provenance.gs1.errors import BadIdentifier
from provenance.gs1.keys import GTIN, Lot, Serial, element_string
from provenance.log.store.projection import DbView
from provenance.supply.tables import KEYS

#: How well the log knows a reading: its pack, its batch (no serial scanned), its batch but not
#: the serial scanned, nothing.
PACK_KNOWN, BATCH_KNOWN, SERIAL_UNKNOWN, NOTHING_KNOWN = 3, 2, 1, 0


@dataclass(frozen=True)
class Reading:
    """What a scan says, once read: the AIs the verdict is on and how they were read."""

    gtin: GTIN
    lot: Lot | None
    serial: Serial | None
    expiry: str | None
    ais: tuple[tuple[str, str], ...]
    form: str
    symbology: str | None
    #: The scanner's own repairs (whitespace, Caps Lock, substituted separators).
    warnings: tuple[str, ...] = ()
    #: Readings chosen because the log knows them, not as the data first read.
    corrections: tuple[str, ...] = ()

    @property
    def names_a_pack(self) -> bool:
        return self.lot is not None or self.serial is not None

    def bracketed(self) -> str:
        return element_string(self.ais)


def _reading(
    ais: Sequence[tuple[str, str]],
    form: str,
    symbology: str | None,
    warnings: Sequence[str] = (),
    corrections: Sequence[str] = (),
) -> Reading:
    values = dict(ais)
    lot, serial = values.get("10"), values.get("21")
    return Reading(
        gtin=GTIN(values["01"]),
        lot=None if lot is None else Lot(lot),
        serial=None if serial is None else Serial(serial),
        expiry=values.get("17"),
        ais=tuple(ais),
        form=form,
        symbology=symbology,
        warnings=tuple(warnings),
        corrections=tuple(corrections),
    )


class Known:
    """The packs and batches some readings name, read in one statement per table (bounded by
    the readings, however long the log) before any of them is judged."""

    def __init__(self, view: DbView, readings: Sequence[Sequence[tuple[str, str]]]) -> None:
        packs: set[tuple[str, str]] = set()
        batches: set[tuple[str, str]] = set()
        for ais in readings:
            values = dict(ais)
            if "01" in values and "21" in values:
                packs.add((values["01"], values["21"]))
            if "01" in values and "10" in values:
                batches.add((values["01"], values["10"]))
        self.packs = {(r["gtin"], r["serial"]): r for r in view.rows("pack", sorted(packs))}
        self.batches = {(r["gtin"], r["lot"]) for r in view.rows("batch", sorted(batches))}

    def of(self, ais: Sequence[tuple[str, str]]) -> int:
        """How well the log knows the batch and pack a reading names (see PACK_KNOWN…)."""
        values = dict(ais)
        if "01" not in values:
            return NOTHING_KNOWN
        gtin, lot, serial = values["01"], values.get("10"), values.get("21")
        if serial is not None:
            pack = self.packs.get((gtin, serial))
            if pack is not None and lot in (None, pack["lot"]):
                return PACK_KNOWN
        if lot is None or (gtin, lot) not in self.batches:
            return NOTHING_KNOWN
        return BATCH_KNOWN if serial is None else SERIAL_UNKNOWN


def known(view: DbView, ais: Sequence[tuple[str, str]]) -> int:
    """How well the log knows the batch and pack a reading names (see PACK_KNOWN…)."""
    return Known(view, [ais]).of(ais)


def _best(
    view: DbView,
    candidates: Sequence[splits.Split],
    floor: int | None,
    as_read: Sequence[tuple[str, str]] = (),
) -> splits.Split | None:
    """The one candidate the log knows better than `floor` (None: than the data as read); None
    if none is, or several are equally well known (the log cannot tell them apart, so the
    data stands as read)."""
    index = Known(view, [*(c.ais for c in candidates), as_read])
    if floor is None:
        floor = index.of(as_read)
    scored = [(index.of(c.ais), c) for c in candidates]
    top = max((score for score, _ in scored), default=NOTHING_KNOWN)
    winners = [c for score, c in scored if score == top]
    if top <= floor or len(winners) != 1:
        return None
    return winners[0]


def _correction(split: splits.Split) -> str:
    return f"scan corrected: {split.describe()} (the log knows this pack or batch)"


def read(conn: Connection, code: str) -> Reading:
    """Read a scan as the scanner parses it; where its GS-separated data reads several ways,
    the reading the log knows, with a correction saying so. Raises BadIdentifier as the
    scanner does when no reading is known."""
    view = DbView(conn, KEYS)
    try:
        scan = scanner.parse_scan(code)
    except BadIdentifier:
        data = splits.scanner_data(code)
        if data is None:
            raise
        chosen = _best(view, splits.candidate_splits(data), NOTHING_KNOWN)
        if chosen is None:
            raise
        symbology = code.strip()[:3] if code.strip().startswith("]") else None
        return _reading(chosen.ais, "scanner-data", symbology, (), (_correction(chosen),))
    as_read = _reading(scan.ais, scan.form, scan.symbology, scan.warnings)
    if scan.form != "scanner-data" or not scan.names_a_pack:
        return as_read  # a URI or bracketed string delimits its values itself
    alternatives = [c for c in splits.candidates_of_ais(scan.ais) if c.ais != scan.ais]
    if not alternatives:
        return as_read
    chosen = _best(view, alternatives, None, scan.ais)
    if chosen is None:
        return as_read
    return _reading(chosen.ais, scan.form, scan.symbology, scan.warnings, (_correction(chosen),))
