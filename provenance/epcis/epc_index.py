"""Which EPCs an event names and in which field, and what each SimpleEventQuery MATCH_ reads.

An EPC is indexed in one form whatever form it was captured in: the canonical GS1 Digital Link
URI where it has one, so an EPC URN and its Digital Link find the same events."""

from __future__ import annotations

import functools
import hashlib

from provenance.epcis.document import EpcisEvent
from provenance.errors import BadParameter
from provenance.gs1.epc_uri import normalise_epc

#: An EPC without a canonical form longer than this is indexed by its digest instead, so
#: every key fits a database index entry.
MAX_KEY = 512

#: EPCIS 2.0 SimpleEventQuery: the event fields each EPC parameter matches.
MATCH_FIELDS: dict[str, tuple[str, ...]] = {
    "MATCH_epc": ("epcList", "childEPCs"),
    "MATCH_parentID": ("parentID",),
    "MATCH_inputEPC": ("inputEPCList",),
    "MATCH_outputEPC": ("outputEPCList",),
    "MATCH_anyEPC": ("epcList", "childEPCs", "parentID", "inputEPCList", "outputEPCList"),
    "MATCH_epcClass": ("quantityList", "childQuantityList"),
    "MATCH_inputEPCClass": ("inputQuantityList",),
    "MATCH_outputEPCClass": ("outputQuantityList",),
    "MATCH_anyEPCClass": (
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    ),
}

# Where an event type keeps the quantities `EpcisEvent.quantities` gathers.
_QUANTITY_FIELD = {
    "AggregationEvent": "childQuantityList",
    "AssociationEvent": "childQuantityList",
    "TransformationEvent": "outputQuantityList",
}


@functools.lru_cache(maxsize=1 << 16)
def epc_key(epc: str) -> str:
    """The indexed form of an EPC or EPC class: canonical Digital Link, else as given."""
    canonical = normalise_epc(epc)
    if canonical is not None:
        return canonical
    if len(epc) <= MAX_KEY:
        return epc
    return "sha-256:" + hashlib.sha256(epc.encode()).hexdigest()


def event_epcs(event: EpcisEvent) -> list[tuple[str, str]]:
    """(field, EPC key) of every EPC and EPC class the event names, each pair once."""
    pairs: dict[tuple[str, str], None] = {}
    for name, values in (
        ("epcList", event.epc_list),
        ("childEPCs", event.child_epcs),
        ("parentID", (event.parent_id,) if event.parent_id else ()),
        ("inputEPCList", event.input_epcs),
        ("outputEPCList", event.output_epcs),
    ):
        for epc in values:
            pairs[(name, epc_key(epc))] = None
    quantity_field = _QUANTITY_FIELD.get(event.type, "quantityList")
    for epc_class, _amount, _uom in event.quantities:
        pairs[(quantity_field, epc_key(epc_class))] = None
    for epc_class, _amount, _uom in event.input_quantities:
        pairs[("inputQuantityList", epc_key(epc_class))] = None
    return list(pairs)


def match_keys(parameter: str, value: str) -> list[str]:
    """The EPC keys a MATCH_ parameter's value names: a comma-separated list, any of which
    matches. EPC patterns (`urn:epc:idpat:…`) are refused rather than matched as literals."""
    keys = []
    for item in value.split(","):
        epc = item.strip()
        if not epc:
            raise BadParameter(f"{parameter} lists an empty EPC", parameter=parameter)
        if epc.startswith("urn:epc:idpat:") or "*" in epc:
            raise BadParameter(
                f"{parameter}: EPC patterns are not supported, only exact EPCs",
                parameter=parameter,
                value=epc,
            )
        keys.append(epc_key(epc))
    return list(dict.fromkeys(keys))
