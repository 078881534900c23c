"""The demo supply chain: one story that shows every verdict the resolver gives."""

from __future__ import annotations

from typing import Any

from provenance.log.identity import AUTHORITY
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.plugins import DemoParty, DemoRun
from provenance.supply.tables import KEYS

AMOXICILLIN = "09506000134352"
LISINOPRIL = "00307773105025"  # NDC 0777-3105-02
ACME, MEDSUPPLY, CITY, REGULATOR = "acme", "medsupply", "citypharmacy", "regulator"
GLNS = {ACME: "5412345000013", MEDSUPPLY: "5412345000020", CITY: "5412345000037"}
#: Acme's GS1 company prefixes: GS1's example prefix, and "03" and the NDC labeler code 0777 (the
#: U.P.C. Company Prefix "30777" of its GTIN-12s, in GS1 form with a leading zero).
ACME_PREFIXES = ("9506000", "030777")

CHAIN_LOT, RECALLED_LOT, EXPIRED_LOT, BULK_LOT = "AMX2611A", "AMX2503R", "AMX2401E", "LIS2607"
CHAIN_SERIALS = [f"A{n:07d}" for n in range(1, 13)]
RECALLED_SERIALS = [f"R{n:07d}" for n in range(1, 5)]
EXPIRED_SERIALS = [f"E{n:07d}" for n in range(1, 3)]
FORGED_SERIAL = "X9999999"

#: What each demo pack shows on the resolver (the README links these).
SHOWCASE = {
    "authentic": (AMOXICILLIN, CHAIN_LOT, CHAIN_SERIALS[5]),
    "dispensed": (AMOXICILLIN, CHAIN_LOT, CHAIN_SERIALS[0]),
    "suspect": (AMOXICILLIN, CHAIN_LOT, CHAIN_SERIALS[9]),
    "recalled": (AMOXICILLIN, RECALLED_LOT, RECALLED_SERIALS[0]),
    "expired": (AMOXICILLIN, EXPIRED_LOT, EXPIRED_SERIALS[0]),
    "unknown": (AMOXICILLIN, CHAIN_LOT, FORGED_SERIAL),
}


def _ship(
    *, sender: str, to: str, ref: str, lot: str, serials: list[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (
            sender,
            "custody.ship",
            {
                "shipment": ref,
                "gtin": AMOXICILLIN,
                "lot": lot,
                "to": GLNS[to],
                "serials": serials,
                "po": f"PO-{ref}",
            },
        ),
        (to, "custody.receive", {"from": GLNS[sender], "shipment": ref, "serials": serials}),
    ]


def story() -> list[tuple[str, str, dict[str, Any]]]:
    """(party slug, or AUTHORITY for the registry authority; statement kind, body) in log order."""
    return [
        *(
            (AUTHORITY, "prefix.assign", {"gln": GLNS[ACME], "prefix": prefix})
            for prefix in ACME_PREFIXES
        ),
        (
            ACME,
            "product.register",
            {
                "gtin": AMOXICILLIN,
                "name": "Amoxicillin 500 mg capsules",
                "form": "capsule",
                "strength": "500 mg",
            },
        ),
        (
            ACME,
            "product.register",
            {
                "gtin": LISINOPRIL,
                "name": "Lisinopril 10 mg tablets",
                "form": "tablet",
                "strength": "10 mg",
                "ndc": "0777-3105-02",
            },
        ),
        (
            ACME,
            "batch.commission",
            {"gtin": AMOXICILLIN, "lot": CHAIN_LOT, "expiry": "281130", "serials": CHAIN_SERIALS},
        ),
        *_ship(sender=ACME, to=MEDSUPPLY, ref="D1001", lot=CHAIN_LOT, serials=CHAIN_SERIALS[:10]),
        *_ship(sender=MEDSUPPLY, to=CITY, ref="W2001", lot=CHAIN_LOT, serials=CHAIN_SERIALS[:6]),
        (
            CITY,
            "custody.dispense",
            {"gtin": AMOXICILLIN, "lot": CHAIN_LOT, "serials": CHAIN_SERIALS[:2]},
        ),
        (
            MEDSUPPLY,
            "pack.state",
            {
                "gtin": AMOXICILLIN,
                "lot": CHAIN_LOT,
                "serials": [CHAIN_SERIALS[9]],
                "state": "stolen",
            },
        ),
        (
            CITY,
            "scan.record",
            {"gtin": AMOXICILLIN, "lot": CHAIN_LOT, "serial": FORGED_SERIAL, "expiry": "281130"},
        ),
        (
            ACME,
            "batch.commission",
            {
                "gtin": AMOXICILLIN,
                "lot": RECALLED_LOT,
                "expiry": "270331",
                "serials": RECALLED_SERIALS,
            },
        ),
        *_ship(
            sender=ACME, to=MEDSUPPLY, ref="D1002", lot=RECALLED_LOT, serials=RECALLED_SERIALS[:2]
        ),
        (
            REGULATOR,
            "batch.recall",
            {"gtin": AMOXICILLIN, "lot": RECALLED_LOT, "reason": "sterility test failure (demo)"},
        ),
        (
            ACME,
            "batch.commission",
            {
                "gtin": AMOXICILLIN,
                "lot": EXPIRED_LOT,
                "expiry": "250131",
                "serials": EXPIRED_SERIALS,
            },
        ),
        (
            ACME,
            "batch.commission",
            {"gtin": LISINOPRIL, "lot": BULK_LOT, "expiry": "280731", "quantity": 500},
        ),
        (
            ACME,
            "custody.ship",
            {
                "shipment": "D1003",
                "gtin": LISINOPRIL,
                "lot": BULK_LOT,
                "to": GLNS[MEDSUPPLY],
                "quantity": 200,
            },
        ),
        (MEDSUPPLY, "custody.receive", {"from": GLNS[ACME], "shipment": "D1003", "quantity": 196}),
    ]


def parties() -> tuple[DemoParty, ...]:
    return (
        DemoParty(ACME, "Acme Pharmaceuticals", GLNS[ACME], ("manufacturer",)),
        DemoParty(MEDSUPPLY, "MedSupply Wholesale", GLNS[MEDSUPPLY], ("wholesaler",)),
        DemoParty(CITY, "City Pharmacy", GLNS[CITY], ("pharmacy",)),
        DemoParty(REGULATOR, "National Medicines Regulator", "5412345000044", ("regulator",)),
    )


def tell(run: DemoRun) -> str:
    """Append the story once; a one-line summary (empty if it was there already)."""
    with read_connection(run.service.engine) as conn:
        if DbView(conn, KEYS).row("product", (AMOXICILLIN,)) is not None:
            return ""
    items = [
        run.sign_as_authority(kind, body) if slug == AUTHORITY else run.sign(slug, kind, body)
        for slug, kind, body in story()
    ]
    run.submit(items)
    return f"supply chain: {len(items)} demo statements"
