"""What a scan means: the verdict on a pack from its batch, pack state and scanned data (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from provenance.errors import Error
from provenance.gs1 import keys as gs1
from provenance.gs1.keys import GTIN, Lot, Serial
from provenance.log.rows import Rows
from provenance.supply.rows import BATCH, PACK, PRODUCT, BatchRow, PackRow, ProductRow

#: Verdict codes, worst first; the page colours and the DSCSA answer derive from them.
VERDICTS = {
    "unknown": "Unknown: possible counterfeit",
    "recalled": "Recalled",
    "expired": "Expired",
    "dispensed": "Already dispensed",
    "suspect": "Suspect",
    "authentic": "Authentic",
}
#: Answers to a GTIN alone (an EAN-13, UPC-A or ITF-14, or /01/<gtin>): a product names no pack,
#: so nothing about a pack can be said, least of all that it may be counterfeit.
PRODUCT_ANSWERS = {
    "product-known": "Product known: scan the 2D code to check the pack",
    "product-unknown": "Unknown product: this GTIN is not registered in this log",
}

#: What to do, in one line a pharmacist reads at a glance (the wording of EMVS clients).
ACTIONS = {
    "unknown": "Do not dispense — quarantine the pack and report it",
    "recalled": "Do not dispense — quarantine and return per the recall",
    "expired": "Expired: do not dispense — quarantine for destruction",
    "dispensed": "Already dispensed: do not dispense again — quarantine and report",
    "suspect": "Do not dispense — quarantine the pack and report it",
    "authentic": "OK to dispense",
    "product-known": "Product only: scan the 2D code to verify the pack",
    "product-unknown": "Product only: scan the 2D code to verify the pack",
}
#: A symbol for each answer beside its colour, so colour is never the only cue; the label is
#: what a screen reader says for it.
ICONS = {
    "unknown": ("\u2716", "stop: unknown pack"),
    "recalled": ("\u26d4", "stop: recalled"),
    "expired": ("\u231b", "stop: expired"),
    "dispensed": ("\u21ba", "stop: already dispensed"),
    "suspect": ("\u26a0", "warning: suspect pack"),
    "authentic": ("\u2714", "OK"),
    "product-known": ("\u2139", "information"),
    "product-unknown": ("\u2139", "information"),
}
#: The verdicts that warrant an alert reference (EMVS raises an alert on each of them).
ALERTING = frozenset({"unknown", "recalled", "expired", "dispensed", "suspect"})


@dataclass(frozen=True)
class Verdict:
    code: str
    reasons: tuple[str, ...] = field(default=())
    #: Alert kinds a signed scan with this verdict raises.
    alerts: tuple[tuple[str, str], ...] = field(default=())
    #: The reasons as anyone may read them: what is wrong with the pack, never who did it (the
    #: pharmacy that dispensed it, the party that set its state). None: the reasons name nobody.
    public_reasons: tuple[str, ...] | None = None

    @property
    def title(self) -> str:
        return VERDICTS.get(self.code) or PRODUCT_ANSWERS[self.code]

    def to_json(self, *, full: bool = True) -> dict[str, Any]:
        """The verdict with its reasons: in full for the parties that handled the batch and
        regulators, else their public form."""
        public = self.reasons if self.public_reasons is None else self.public_reasons
        reasons = self.reasons if full else public
        return {"verdict": self.code, "title": self.title, "reasons": list(reasons)}


def expiry_date(yymmdd: str) -> date | None:
    try:
        return gs1.parse_expiry(yymmdd)
    except Error:
        return None


def judge(
    *,
    product: ProductRow | None,
    batch: BatchRow | None,
    pack: PackRow | None,
    serial: Serial | None,
    scanned_expiry: str | None,
    today: date,
    duplicate_alerts: int = 0,
) -> Verdict:
    """The verdict on a scanned pack; rows are projection rows (or None when absent)."""
    if product is None:
        why = "the GTIN is not registered by any manufacturer in this log"
        return Verdict("unknown", (why,), (("unknown-product", why),))
    if batch is None:
        why = "no such batch (lot) was commissioned for this product"
        return Verdict("unknown", (why,), (("unknown-batch", why),))
    if serial is not None and batch["serialised"] and pack is None:
        why = f"serial {serial} was never commissioned in this batch"
        return Verdict("unknown", (why,), (("unknown-serial", why),))
    reasons: list[str] = []
    public: list[str] = []  # the same reasons, without who
    alerts: list[tuple[str, str]] = []
    if scanned_expiry is not None and scanned_expiry != batch["expiry"]:
        why = (
            f"the pack says expiry {scanned_expiry}, "
            f"the batch was commissioned with {batch['expiry']}"
        )
        reasons.append(why)
        public.append(why)
        alerts.append(("expiry-mismatch", why))
    if batch["status"] == "recalled":
        why = f"batch recalled: {batch['recall_reason']}"
        return Verdict(
            "recalled", (why, *reasons), (("recalled-scan", why), *alerts), (why, *public)
        )
    expires = expiry_date(batch["expiry"])
    if expires is not None and expires < today:
        why = f"batch expired on {expires.isoformat()}"
        return Verdict("expired", (why, *reasons), (("expired-scan", why), *alerts), (why, *public))
    if pack is not None:
        if pack["state"] == "supplied":
            why = f"pack {serial} was dispensed at {pack['state_at']} by {pack['state_by']}"
            seen = f"pack {serial} was already dispensed, on {pack['state_at'][:10]}"
            return Verdict(
                "dispensed", (why, *reasons), (("duplicate-serial", why), *alerts), (seen, *public)
            )
        if pack["state"] != "active":
            reasons.append(f"pack {serial} is {pack['state']} (set by {pack['state_by']})")
            public.append(f"pack {serial} is {pack['state']}")
            alerts.append(("pack-state", reasons[-1]))
    if duplicate_alerts:
        reasons.append(f"this serial has {duplicate_alerts} open duplicate-serial alert(s)")
        public.append(reasons[-1])
    if reasons:
        return Verdict("suspect", tuple(reasons), tuple(alerts), tuple(public))
    return Verdict("authentic")


def judge_product(product: ProductRow | None) -> Verdict:
    """The answer to a GTIN alone: whether a manufacturer registered the product. It raises
    no alert: a product code on a carton is no evidence about any pack."""
    if product is None:
        why = "no manufacturer registered this GTIN here; the pack's 2D code may still be checked"
        return Verdict("product-unknown", (why,))
    why = "a GTIN names the product, not a pack: the 2D code carries the lot and serial"
    return Verdict("product-known", (why,))


@dataclass(frozen=True)
class Scanned:
    """The rows a scan names, and the verdict on them."""

    lot: Lot | None  # as scanned, or the pack's when the serial alone named the batch
    product: ProductRow | None
    batch: BatchRow | None
    pack: PackRow | None
    verdict: Verdict


def judge_scan(
    rows: Rows,
    *,
    gtin: GTIN,
    lot: Lot | None,
    serial: Serial | None,
    scanned_expiry: str | None,
    today: date,
    lot_from_pack: bool = False,
    duplicate_alerts: int = 0,
) -> Scanned:
    """Read the product, batch and pack a scan names and judge them: the one path of a signed
    scan (rows from its entry's ledger) and of the resolver (rows from the projection).

    With `lot_from_pack` a serial scanned without a lot names its pack's batch (the resolver);
    a signed scan is judged on the lot it states, so a rebuild replays it the same way."""
    product = PRODUCT.get(rows, (gtin,))
    pack = PACK.get(rows, (gtin, serial)) if serial is not None else None
    if lot_from_pack and lot is None and pack is not None:
        lot = pack["lot"]
    if pack is not None and lot is not None and pack["lot"] != lot:
        pack = None  # the serial exists, but in another batch
    batch = BATCH.get(rows, (gtin, lot)) if lot is not None else None
    result = judge(
        product=product,
        batch=batch,
        pack=pack,
        serial=serial,
        scanned_expiry=scanned_expiry,
        today=today,
        duplicate_alerts=duplicate_alerts,
    )
    return Scanned(lot, product, batch, pack, result)
