"""DSCSA verification answers: what the log knows of a pack, in GS1 LVM codes (pure)."""

from __future__ import annotations

from datetime import date

from provenance.gs1 import lvm
from provenance.gs1.keys import parse_expiry
from provenance.supply.rows import BatchRow, PackRow

#: Pack states after which a pack must not be sold again: dispensed to a patient, destroyed, or
#: taken out of the supply chain (EU FMD states). Stolen goods are illegitimate (DSCSA §581(8)).
ILLEGITIMATE_STATES = frozenset({"stolen"})


def same_expiry(asked: str, commissioned: str) -> bool:
    """Whether two GS1 dates name the same day (day 00 is the month's last day)."""
    return parse_expiry(asked) == parse_expiry(commissioned)


def verification(
    request: lvm.VerificationRequest,
    *,
    pack: PackRow | None,
    batch: BatchRow | None,
    suspect: bool,
    today: date,
) -> lvm.Verification:
    """The LVM answer to `request`, from the pack its GTIN and serial name (its batch, its
    state) and whether the log holds open alerts against it (`suspect`).

    `verified` is true only when GTIN, serial, lot and expiry all match what was commissioned.
    Following the LVM scenarios, a matching pack of a recalled batch is verified with
    additionalInfo `Recalled`, an expired one with `Expired`, a suspect one with `Suspect`;
    `Not_for_re-distribution` is kept for packs that must not be sold again (dispensed,
    destroyed, stolen or otherwise out of the supply chain)."""
    # 1. GTIN and serial: a serial never commissioned under this GTIN settles it.
    if pack is None or batch is None:
        return lvm.Verification(False, lvm.NO_MATCH_GTIN_SERIAL)
    # 2. Lot and expiry, against the batch the serial was commissioned in.
    lot_ok = request.lot == batch["lot"]
    expiry_ok = same_expiry(request.expiry, batch["expiry"])
    if not lot_ok and not expiry_ok:
        return lvm.Verification(False, lvm.NO_MATCH_GTIN_SERIAL_LOT_EXPIRY)
    if not lot_ok:
        return lvm.Verification(False, lvm.NO_MATCH_GTIN_SERIAL_LOT)
    if not expiry_ok:
        return lvm.Verification(False, lvm.NO_MATCH_GTIN_SERIAL_EXPIRY)
    # 3. The identifier matches: what the manufacturer also has to say about the pack.
    if pack["state"] != "active":
        info = lvm.ILLEGITIMATE if pack["state"] in ILLEGITIMATE_STATES else lvm.SUSPECT
        return lvm.Verification(False, lvm.NOT_FOR_REDISTRIBUTION, info)
    if batch["status"] == "recalled":
        return lvm.Verification(True, additional_info=lvm.RECALLED)
    if parse_expiry(batch["expiry"]) < today:
        return lvm.Verification(True, additional_info=lvm.EXPIRED)
    if suspect:
        return lvm.Verification(True, additional_info=lvm.SUSPECT)
    return lvm.Verification(True)
