"""The fields of each EPCIS 2.0 event type (EPCIS 2.0 §7.4), allowed and required."""

from __future__ import annotations

__all__ = [
    "ALLOWED",
    "FIELDS",
    "PAIR_LISTS",
    "QUANTITY_LISTS",
    "REQUIRED",
    "REQUIRED_SETS",
    "SCHEMA_CHECKED",
]


_COMMON = frozenset(
    {
        "@context",
        "type",
        "eventTime",
        "recordTime",
        "eventTimeZoneOffset",
        "eventID",
        "certificationInfo",
        "errorDeclaration",
    }
)
# The "why" and "where" dimensions every event type shares (EPCIS 2.0 §7.3.5, §7.3.6).
_CONTEXT = frozenset(
    {
        "bizStep",
        "disposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "sensorElementList",
    }
)
# Per event type: its own fields (EPCIS 2.0 §7.4) and those it must have.
FIELDS = {
    "ObjectEvent": _CONTEXT
    | {"action", "epcList", "quantityList", "persistentDisposition", "ilmd"},
    "AggregationEvent": _CONTEXT | {"parentID", "childEPCs", "childQuantityList", "action"},
    "TransactionEvent": _CONTEXT | {"parentID", "epcList", "quantityList", "action"},
    "TransformationEvent": _CONTEXT
    | {
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
        "persistentDisposition",
        "ilmd",
    },
    "AssociationEvent": _CONTEXT | {"parentID", "childEPCs", "childQuantityList", "action"},
}
REQUIRED = {
    "ObjectEvent": ("eventTime", "eventTimeZoneOffset", "action"),
    "AggregationEvent": ("eventTime", "eventTimeZoneOffset", "action"),
    "TransactionEvent": ("eventTime", "eventTimeZoneOffset", "action", "bizTransactionList"),
    "TransformationEvent": ("eventTime", "eventTimeZoneOffset"),
    "AssociationEvent": ("eventTime", "eventTimeZoneOffset", "action", "parentID"),
}
ALLOWED = {kind: own | _COMMON for kind, own in FIELDS.items()}
REQUIRED_SETS = {kind: frozenset(names) for kind, names in REQUIRED.items()}
QUANTITY_LISTS = frozenset(
    {"quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"}
)
PAIR_LISTS = frozenset({"bizTransactionList", "sourceList", "destinationList"})
# Structures whose many sub-fields are left to the official JSON Schema.
SCHEMA_CHECKED = frozenset({"sensorElementList", "errorDeclaration"})
