"""Access rules of the supply chain's routes: the resolver's (DSCSA verification included), and
the batch routes' (its handlers, its manufacturer, regulators)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from provenance.access.principal import Principal
from provenance.access.rules import Facts, Rule
from provenance.errors import Error
from provenance.gs1 import keys as gs1
from provenance.gs1 import lvm
from provenance.log.store.engine import query
from provenance.supply import readers

#: Whether a party (by GLN) may use a route of batch (GTIN, lot).
BatchCheck = Callable[[Connection, str, str, str], bool]


def _batch_rule(name: str, allowed: BatchCheck) -> Rule:
    """A rule over the batch the route arguments `gtin` and `lot` name."""

    def check(who: Principal, facts: Facts) -> bool:
        if who.regulator:
            return True
        try:
            gtin = gs1.normalise_gtin(str(facts.args.get("gtin")))
        except Error:
            return who.authenticated  # the route answers why the GTIN is wrong
        lot = facts.args.get("lot")
        if not isinstance(lot, str):
            return who.authenticated  # no lot in the path: the route answers 404
        if who.gln is not None and allowed(facts.conn, who.gln, gtin, lot):
            return True
        return who.authenticated and not _exists(facts.conn, gtin, lot)  # the route answers 404

    return Rule(name, check)


def _exists(conn: Connection, gtin: str, lot: str) -> bool:
    return bool(query(conn, "SELECT 1 FROM batch WHERE gtin = ? AND lot = ?", (gtin, lot)))


#: The batch's custody (its JSON with timeline, holdings, alerts, shipments).
BATCH_HANDLERS = _batch_rule(
    "the parties that handled the batch (made, held or were shipped it), and regulators",
    readers.handled,
)
#: Labels and QR codes are printed by whoever puts the packs on the market.
BATCH_MAKER = _batch_rule("the batch's manufacturer, and regulators", readers.made)


def _verification_requester(who: Principal, facts: Facts) -> bool:
    """Anyone resolves a Digital Link URI; a DSCSA verification request (GS1 LVM) is answered
    to a registered party only, and only when the requester it names (reqGLN) is that party."""
    if lvm.link_type(str(facts.args.get("linkType") or "")) != lvm.VERIFICATION_SERVICE:
        return True
    if not who.authenticated:
        return False
    named = facts.args.get("reqGLN")
    # A missing or malformed reqGLN is the request's fault: the route answers 400.
    return not gs1.is_valid_gln(named) or named == who.gln


#: The resolver's routes.
DIGITAL_LINK = Rule(
    "anyone; a DSCSA verification (linkType=gs1:verificationService): a registered party, "
    "as its own reqGLN",
    _verification_requester,
)
