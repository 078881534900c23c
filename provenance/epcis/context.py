"""JSON-LD namespace prefixes and @vocab terms of EPCIS 2.0 events, for the Event Hash ID."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

__all__ = [
    "STANDARD_PREFIXES",
    "VOCAB_BIZSTEP",
    "VOCAB_BTT",
    "VOCAB_DISP",
    "VOCAB_PREFIXES",
    "VOCAB_SDT",
    "Prefixes",
    "context_prefixes",
    "expand_curie",
    "expanded_vocabulary",
    "prefixes_for",
]


def _load_context() -> dict[str, Any]:
    data = resources.files("provenance.epcis").joinpath("schema", "epcis-context.jsonld")
    ctx: dict[str, Any] = json.loads(data.read_text(encoding="utf-8"))["@context"]
    return ctx


_CTX = _load_context()
STANDARD_PREFIXES: dict[str, str] = {
    k: v for k, v in _CTX.items() if isinstance(v, str) and v.endswith(("/", ":", "#"))
}


def expand_curie(value: str, prefixes: Mapping[str, str]) -> str:
    """A JSON-LD compact IRI ("prefix:rest") with a known prefix -> full IRI; else unchanged."""
    prefix, sep, rest = value.partition(":")
    if sep and prefix in prefixes and not rest.startswith("//"):
        return prefixes[prefix] + rest
    return value


def _terms(scoped: Mapping[str, Any]) -> dict[str, str]:
    """Bare vocabulary term -> full IRI, from one @vocab-typed term's scoped context."""
    out = {}
    for term, iri in scoped.items():
        if isinstance(iri, str) and not term.startswith("@") and ":" in iri:
            out[term] = expand_curie(iri, STANDARD_PREFIXES)
    return out


def _scoped(*path: str) -> dict[str, str]:
    node: Any = _CTX
    for step in path:
        node = node[step]["@context"]
    return _terms(node)


# Which JSON paths hold @vocab-typed values, so that a bare term ("shipping") expands as JSON-LD
# expansion with the EPCIS 2.0 context would expand it.
VOCAB_BIZSTEP = _scoped("bizStep")
VOCAB_DISP = _scoped("disposition")
VOCAB_BTT = _scoped("bizTransactionList", "type")
VOCAB_SDT = _scoped("sourceList", "type")
_VOCAB_MEASUREMENT = _scoped("sensorElementList", "sensorReport", "type")
_VOCAB_EXCEPTION = _scoped("sensorElementList", "sensorReport", "exception")
_VOCAB_COMPONENT = _scoped("sensorElementList", "sensorReport", "component")
_VOCAB_ERROR = _scoped("errorDeclaration", "reason")
VOCAB_PREFIXES = ("https://ref.gs1.org/cbv", "https://gs1.org/voc")


class Prefixes(dict[str, str]):
    """Namespace prefix -> IRI map of one document, computed once and reused for its events."""


def context_prefixes(context: Any) -> Prefixes:
    """Namespace prefixes in effect for a document's @context (standard EPCIS ones included)."""
    if isinstance(context, Prefixes):
        return context
    prefixes = Prefixes(STANDARD_PREFIXES)
    entries = context if isinstance(context, list) else [context]
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        for key, value in entry.items():
            if key.startswith("@") or not isinstance(key, str):
                continue
            if isinstance(value, str):
                prefixes[key] = value
            elif isinstance(value, Mapping) and isinstance(value.get("@id"), str):
                prefixes[key] = value["@id"]
    return prefixes


_STANDARD = Prefixes(STANDARD_PREFIXES)


def prefixes_for(context: Any) -> Prefixes:
    """`context_prefixes`, with the standard ones shared when there is no @context."""
    if context is None:
        return _STANDARD
    return context_prefixes(context)


def _vocab(
    value: Any, terms: Mapping[str, str], prefixes: Mapping[str, str], out: set[str]
) -> None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, str):
            iri = terms.get(v) or expand_curie(v, prefixes)
            if iri.startswith(VOCAB_PREFIXES):
                out.add(iri)


def expanded_vocabulary(event: Mapping[str, Any], prefixes: Mapping[str, str]) -> set[str]:
    """The CBV / GS1 web vocabulary IRIs the @vocab-typed fields of `event` expand to."""
    found: set[str] = set()
    _vocab(event.get("bizStep"), VOCAB_BIZSTEP, prefixes, found)
    _vocab(event.get("disposition"), VOCAB_DISP, prefixes, found)
    pd = event.get("persistentDisposition")
    if isinstance(pd, Mapping):
        _vocab(pd.get("set"), VOCAB_DISP, prefixes, found)
        _vocab(pd.get("unset"), VOCAB_DISP, prefixes, found)
    for key, terms in (
        ("bizTransactionList", VOCAB_BTT),
        ("sourceList", VOCAB_SDT),
        ("destinationList", VOCAB_SDT),
    ):
        items = event.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, Mapping):
                    _vocab(item.get("type"), terms, prefixes, found)
    sensors = event.get("sensorElementList")
    if isinstance(sensors, list):
        for element in sensors:
            reports = element.get("sensorReport") if isinstance(element, Mapping) else None
            if isinstance(reports, Mapping):
                reports = [reports]
            if isinstance(reports, list):
                for report in reports:
                    if isinstance(report, Mapping):
                        _vocab(report.get("type"), _VOCAB_MEASUREMENT, prefixes, found)
                        _vocab(report.get("exception"), _VOCAB_EXCEPTION, prefixes, found)
                        _vocab(report.get("component"), _VOCAB_COMPONENT, prefixes, found)
    err = event.get("errorDeclaration")
    if isinstance(err, Mapping):
        _vocab(err.get("reason"), _VOCAB_ERROR, prefixes, found)
    return found
