"""GS1-Conformant resolver links: the RFC 9264 linkset of an identified item, and the resolver
description at /.well-known/gs1resolver (GS1-Conformant Resolver Standard 1.2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provenance.gs1 import keys as gs1
from provenance.gs1 import lvm

LINKSET_JSON = "application/linkset+json"
#: Link relation types are the GS1 Web Vocabulary's URIs; `gs1:` is their CURIE prefix.
VOCABULARY = "https://gs1.org/voc/"
DEFAULT_LINK = "gs1:defaultLink"
PIP = "gs1:pip"
EPIL = "gs1:epil"
#: The link types this resolver may answer (one item has each at most once).
LINK_TYPES = (DEFAULT_LINK, lvm.VERIFICATION_SERVICE, PIP, EPIL)
TITLES = {
    DEFAULT_LINK: "Default link: the verification page",
    lvm.VERIFICATION_SERVICE: "Verification Service (GS1 Lightweight Verification Messaging)",
    PIP: "Product Information Page",
    EPIL: "Electronic Patient Information Leaflet",
}
#: DSCSA verification contexts the verification service is asked for; others are accepted too.
CONTEXTS = ("dscsaSaleableReturn",)


@dataclass(frozen=True)
class Link:
    rel: str  # a CURIE such as "gs1:pip"
    href: str
    title: str
    type: str | None = None

    def to_json(self) -> dict[str, Any]:
        target: dict[str, Any] = {"href": self.href, "title": self.title}
        if self.type is not None:
            target["type"] = self.type
        target["hreflang"] = ["en"]
        return target


def links(
    anchor: str, product_page: str, *, name: str | None, leaflet: str | None
) -> tuple[Link, ...]:
    """The item's links: the verdict page is its default link and its verification service
    (GS1 LVM answers at the same address, asked with linkType=gs1:verificationService), the
    product's public facts page its product information page, and the patient leaflet if the
    product's registration names one."""
    what = name or "this item"
    found = [
        Link(DEFAULT_LINK, anchor, f"Verification of {what}", "text/html"),
        Link(lvm.VERIFICATION_SERVICE, anchor, f"Verification service for {what}"),
        Link(PIP, product_page, f"Product information: {what}", "text/html"),
    ]
    if leaflet is not None:
        found.append(Link(EPIL, leaflet, f"Patient information leaflet: {what}"))
    return tuple(found)


def expand(curie: str) -> str:
    return VOCABULARY + curie.removeprefix("gs1:")


def linkset(anchor: str, item: tuple[Link, ...], description: str | None) -> dict[str, Any]:
    """The RFC 9264 JSON linkset: one link context (the item) with its targets by relation."""
    context: dict[str, Any] = {"anchor": anchor}
    if description:
        context["description"] = description
        context["itemDescription"] = description  # the schema's deprecated, still-read name
    for link in item:
        context.setdefault(expand(link.rel), []).append(link.to_json())
    return {"linkset": [context]}


def link_header(anchor: str) -> str:
    """The Link header that points every resolver answer at the item's linkset."""
    return f'<{anchor}?linkType=all>; rel="linkset"; type="{LINKSET_JSON}"'


def description(resolver_root: str, name: str) -> dict[str, Any]:
    """The resolver description file (/.well-known/gs1resolver); its root is the configured
    public URL, never a request's Host header."""
    return {
        "name": name,
        "resolverRoot": resolver_root,
        "supportedPrimaryKeys": ["01"],
        "supportedLinkType": [{"namespace": VOCABULARY, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
        "supportedContextValuesEnumerated": list(CONTEXTS),
        "activeLinkTypes": {
            "en": {rel: {"title": TITLES[rel], "url": expand(rel)} for rel in LINK_TYPES}
        },
    }


def anchor_of(stem: str, gtin: str, lot: str | None, serial: str | None) -> str:
    """The item's canonical Digital Link URI under `stem`: lot and serial percent-encoded."""
    return gs1.digital_link_uri(stem, gtin, lot, serial)
