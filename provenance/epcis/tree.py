"""EPCIS 2.0 JSON events read as the EPCIS XML data model the Event Hash ID is defined over."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from provenance.epcis.context import VOCAB_PREFIXES, expand_curie

__all__ = ["SKIP_KEYS", "UNSORTED_MARKERS", "Converter", "Element", "suffix_index"]


# The pre-hash string is defined over the EPCIS XML data model (CBV 2.0 §8.9.2 names XML
# elements: epcList/epc, quantityList/quantityElement, ...). JSON is mapped onto that model
# while it is read: an element is [name, text, children]; an entry of a source, destination or
# bizTransaction list is a tuple pair of its first two fields, kept in document order.

Element = list[Any]
SKIP_KEYS = frozenset({"#text", "rdfs:comment", "comment"})
_PAIRED_LISTS = frozenset({"sourceList", "destinationList", "bizTransactionList"})
UNSORTED_MARKERS = frozenset({"bizTransaction", "source", "destination"})
_RENAMED = {
    "inputEPC": "epc",
    "outputEPC": "epc",
    "inputQuantity": "quantityElement",
    "outputQuantity": "quantityElement",
    "childQuantity": "quantityElement",
}


@lru_cache(maxsize=1024)
def suffix_index(vocabulary: frozenset[str]) -> dict[str, str | None]:
    """Bare term -> the one vocabulary IRI ending in "-term" or "/term" (None if ambiguous)."""
    index: dict[str, str | None] = {}
    for iri in vocabulary:
        seen = set()
        for at, char in enumerate(iri):
            if char in "-/":
                term = iri[at + 1 :]
                if term in seen:
                    continue
                seen.add(term)
                index[term] = iri if term not in index else None
    return index


class Converter:
    """Reads one event into elements, expanding names and values with `prefixes`."""

    __slots__ = ("bare", "literals", "prefixes")

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefixes = prefixes
        # elements whose text is a bare word, resolved once the whole event has been read
        self.bare: list[Element] = []
        # vocabulary IRIs written out in full anywhere in the event
        self.literals: set[str] = set()

    def resolve_bare(self, vocabulary: set[str]) -> None:
        """A bare JSON-LD term ("shipping", "owning_party", "Temperature") stands for the
        vocabulary IRI it expands to elsewhere in the event; ambiguous terms stay bare."""
        vocabulary |= self.literals
        if not vocabulary or not self.bare:
            return
        index = suffix_index(frozenset(vocabulary))
        for element in self.bare:
            element[1] = index.get(element[1]) or element[1]

    def key(self, key: str) -> str:
        prefix, sep, local = key.partition(":")
        if sep and prefix in self.prefixes:
            return "{" + self.prefixes[prefix] + "}" + local
        return key

    def text(self, value: str) -> str:
        if ":" in value:
            if value.startswith(VOCAB_PREFIXES):
                self.literals.add(value)
            return expand_curie(value, self.prefixes)
        return value

    def scalar(self, value: Any) -> str:
        if type(value) is str:
            return self.text(value)
        if isinstance(value, bool):
            # as the XML serialisation (xsd:boolean) writes it
            return "true" if value else "false"
        return "" if value is None else str(value)

    def members(self, obj: Mapping[str, Any]) -> list[Any]:
        # Plain fields first, then each "...List" regrouped under one element, then childEPCs:
        # the element order the XML data model gives.
        plain: list[Any] = []
        lists: list[Any] = []
        child_epcs: list[Any] = []
        element = self.element
        for key, value in obj.items():
            if key in SKIP_KEYS or type(key) is not str:
                continue
            name = self.key(key) if ":" in key else key
            items = value if type(value) is list else (value,)
            if name.endswith("List"):
                if not items:
                    continue
                if name in _PAIRED_LISTS:
                    lists.append([name, "", [self.pair(v) for v in items]])
                else:
                    sub = name[:-4]
                    lists.append([name, "", [element(sub, v) for v in items]])
            elif name == "childEPCs":
                for v in items:
                    epc = element("", v)
                    epc[0] = "epc"
                    epc[2] = []
                    child_epcs.append(epc)
            else:
                for v in items:
                    plain.append(element(name, v))
        if lists:
            plain.extend(lists)
        if child_epcs:
            plain.append(["childEPCs", "", child_epcs])
        return plain

    def element(self, name: str, value: Any) -> Element:
        if type(value) is str:
            if ":" in value:
                return [_RENAMED.get(name, name), self.text(value), []]
            element = [_RENAMED.get(name, name), value, []]
            if value:
                self.bare.append(element)
            return element
        name = _RENAMED.get(name, name)
        if type(value) is dict or isinstance(value, Mapping):
            text = value.get("#text")
            children = self.members(value)
            if name == "quantity" and children:
                name = "quantityElement"
            return [name, "" if text is None else self.scalar(text), children]
        if isinstance(value, list):
            return [name, "", [self.element("", v) for v in value]]
        return [name, self.scalar(value), []]

    def plain(self, name: str, value: Any) -> Element:
        """An element exactly as written, without the XML-model regrouping."""
        if type(value) is str:
            return self.element(name, value)
        if type(value) is dict or isinstance(value, Mapping):
            children: list[Any] = []
            for key, item in value.items():
                if key in SKIP_KEYS or not isinstance(key, str):
                    continue
                items = item if isinstance(item, list) else (item,)
                children.extend(self.plain(self.key(key), v) for v in items)
            text = value.get("#text")
            return [name, "" if text is None else self.scalar(text), children]
        if isinstance(value, list):
            return [name, "", [self.plain("", v) for v in value]]
        return [name, self.scalar(value), []]

    def pair(self, value: Any) -> tuple[Any, ...]:
        if type(value) is dict:
            # only the first two fields make up the pair (type, then its identifier)
            out: list[Element] = []
            for key, item in value.items():
                if key in SKIP_KEYS or type(key) is not str:
                    continue
                name = self.key(key) if ":" in key else key
                items = item if type(item) is list else (item,)
                out.extend(self.plain(name, v) for v in items)
                if len(out) >= 2:
                    break
            return tuple(out[:2])
        return tuple(self.plain("", value)[2][:2])
