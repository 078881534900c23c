"""The entries of a batch and of a pack, for proof bundles (`Personality.bundle_subjects`)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection

from provenance.errors import NotFound
from provenance.gs1 import keys as gs1
from provenance.gs1.errors import BadIdentifier
from provenance.log.store.engine import query


def _checked(params: Mapping[str, str]) -> tuple[str, str]:
    gtin, lot = gs1.normalise_gtin(params["gtin"]), params["lot"]
    if not gs1.is_valid_lot(lot):
        raise BadIdentifier(f"lot {lot!r} is not 1-20 characters of the GS1 character set 82")
    return gtin, lot


def batch_entries(conn: Connection, params: Mapping[str, str]) -> list[int]:
    """Every entry about a batch: its product's registration, its commissioning and recall, its
    custody timeline, the EPCIS events about it, and the alerts raised on it and their
    resolutions."""
    gtin, lot = _checked(params)
    found = query(
        conn,
        "SELECT commissioned_index, recall_index FROM batch WHERE gtin = ? AND lot = ?",
        (gtin, lot),
    )
    if not found:
        raise NotFound(f"no batch {gtin}/{lot}")
    rows = query(
        conn,
        "SELECT registered_index FROM product WHERE gtin = ? "
        "UNION SELECT idx FROM custody_event WHERE gtin = ? AND lot = ? "
        "UNION SELECT idx FROM epcis_event WHERE gtin = ? AND lot = ? "
        "UNION SELECT idx FROM alert WHERE gtin = ? AND lot = ? "
        "UNION SELECT resolved_index FROM alert WHERE gtin = ? AND lot = ?",
        (gtin, gtin, lot, gtin, lot, gtin, lot, gtin, lot),
    )
    indices = {*found[0], *(index for (index,) in rows)}
    return sorted(int(index) for index in indices if index is not None)


def pack_entries(conn: Connection, params: Mapping[str, str]) -> list[int]:
    """A pack's entries: its batch's, and the alerts raised on its serial (a scan of it names
    no batch when its lot was misread) with their resolutions."""
    gtin, lot = _checked(params)
    serial = params["serial"]
    if not gs1.is_valid_serial(serial):
        raise BadIdentifier(f"serial {serial!r} is not 1-20 characters of the GS1 character set 82")
    pack = query(conn, "SELECT lot FROM pack WHERE gtin = ? AND serial = ?", (gtin, serial))
    serialised = query(conn, "SELECT serialised FROM batch WHERE gtin = ? AND lot = ?", (gtin, lot))
    # A pack of a batch commissioned without serials is known by its batch alone.
    if (pack and pack[0][0] != lot) or (not pack and (not serialised or serialised[0][0])):
        raise NotFound(f"no pack {gtin}/{lot}/{serial}")
    rows = query(
        conn,
        "SELECT idx FROM alert WHERE gtin = ? AND serial = ? "
        "UNION SELECT resolved_index FROM alert WHERE gtin = ? AND serial = ?",
        (gtin, serial, gtin, serial),
    )
    own = {int(index) for (index,) in rows if index is not None}
    return sorted({*batch_entries(conn, params), *own})


SUBJECTS = {"batch": batch_entries, "pack": pack_entries}
