"""Reading CDISC Dataset-JSON (1.1, and the nested 1.0 shape) into the canonical `Dataset` form."""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, Context
from typing import Any

from provenance.errors import BadJSON
from provenance.log.canonical import parse_json
from trials.datasets import (
    Cell,
    Dataset,
    check_size,
    column_names,
    decimal_literal,
    exact_number,
    number_cell,
    text_cell,
)
from trials.errors import BadDataset

_JSON_NUMBER_TYPES = frozenset({"integer", "decimal", "float", "double"})
_JSON_TYPES = _JSON_NUMBER_TYPES | {"string", "boolean", "date", "datetime", "time", "URI"}


def parse_dataset_json(data: bytes) -> Dataset:
    try:
        doc = parse_json(data)
    except BadJSON as exc:
        raise BadDataset(f"Dataset-JSON is not valid JSON: {exc.detail}") from exc
    if not isinstance(doc, dict):
        raise BadDataset("Dataset-JSON must be a JSON object")
    version = doc.get("datasetJSONVersion")
    if isinstance(version, str) and version.startswith("1.1"):
        name, items, rows = doc.get("name"), doc.get("columns"), doc.get("rows")
    elif "clinicalData" in doc or "referenceData" in doc:
        name, items, rows = _dataset_json_10(doc)
    else:
        raise BadDataset("not CDISC Dataset-JSON 1.1: datasetJSONVersion is missing or not 1.1")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise BadDataset("Dataset-JSON columns must be a list of objects")
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise BadDataset("Dataset-JSON rows must be a list of arrays")
    types: list[str] = []
    for index, item in enumerate(items):
        kind = item.get("dataType", item.get("type"))  # 1.0 calls it "type"
        oid = item.get("itemOID", item.get("OID"))
        if not isinstance(item.get("name"), str) or not isinstance(oid, str):
            raise BadDataset("Dataset-JSON column needs an itemOID and a name", column=index)
        if kind not in _JSON_TYPES:
            raise BadDataset(f"Dataset-JSON column has unknown dataType {kind!r}", column=index)
        types.append(kind)
    columns = column_names(item["name"] for item in items)
    check_size(len(columns), len(rows))
    out = []
    for number, row in enumerate(rows, start=1):
        if len(row) != len(columns):
            raise BadDataset(f"Dataset-JSON row {number} has {len(row)} values", row=number)
        out.append(tuple(_json_value(v, t, number) for v, t in zip(row, types, strict=True)))
    return Dataset("dataset-json", name if isinstance(name, str) else None, columns, tuple(out))


def _dataset_json_10(doc: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The 1.0 shape nests one item group; its ITEMGROUPDATASEQ column is a row number, not data."""
    body = doc.get("clinicalData") or doc.get("referenceData")
    groups = body.get("itemGroupData") if isinstance(body, dict) else None
    if not isinstance(groups, dict) or len(groups) != 1:
        raise BadDataset("Dataset-JSON 1.0 must hold exactly one itemGroupData entry")
    group = next(iter(groups.values()))
    if not isinstance(group, dict):
        raise BadDataset("Dataset-JSON 1.0 itemGroupData entry must be an object")
    items, rows = group.get("items"), group.get("itemData")
    if (
        isinstance(items, list)
        and items
        and isinstance(items[0], dict)
        and items[0].get("OID") == "ITEMGROUPDATASEQ"
        and isinstance(rows, list)
        and all(isinstance(r, list) and r for r in rows)
    ):
        items, rows = items[1:], [r[1:] for r in rows]
    return group.get("name"), items, rows


def _json_value(value: Any, kind: str, row: int) -> Cell:
    if value is None:
        return None
    if kind in _JSON_NUMBER_TYPES:
        if isinstance(value, bool):
            raise BadDataset(f"Dataset-JSON row {row}: {kind} value is a boolean", row=row)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            return number_cell(value)
        if isinstance(value, str):  # 1.1 writes decimals as strings to keep their precision
            return _json_decimal(value, row)
    elif kind == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    elif isinstance(value, str):
        return text_cell(value)
    raise BadDataset(f"Dataset-JSON row {row}: {value!r} is not a valid {kind}", row=row)


def _json_decimal(text: str, row: int) -> Cell:
    if not text.strip():
        return None
    exact = decimal_literal(text)
    if exact is None:
        raise BadDataset(f"Dataset-JSON row {row}: {text!r} is not a number", row=row)
    # Agree with the double a SAS export would hold where it is the same value; otherwise keep
    # every digit (a context as wide as the literal, so normalising cannot round).
    wide = Context(prec=max(len(exact.as_tuple().digits), 1), Emax=MAX_EMAX, Emin=MIN_EMIN)
    return exact_number(text) or str(exact.normalize(wide))
