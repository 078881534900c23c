"""Deterministic demo parties and statements (keys under data/demo/, for demonstration only)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.client import build_envelope
from provenance.errors import LogNotInitialised
from provenance.log import keystore
from provenance.log.append import Submission, parse_submission, tree_size
from provenance.log.service import Service
from provenance.log.signing import P256_ORDER, load_private_key_pem, private_key_pem, public_key_der
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.supply import demo as demo_supply

DEFAULT_ENTRIES = 50
#: Further demo stories (the trial package adds its demo trial): each appends once and returns
#: a one-line summary.
EXTRA_STORIES: dict[str, Callable[[Service], str]] = {}
ALL_STORIES = ("supply", "trial")
BATCH = 500


@dataclass(frozen=True)
class DemoParty:
    slug: str
    name: str
    gln: str
    roles: tuple[str, ...]


PARTIES = (
    DemoParty("acme", "Acme Pharmaceuticals", "5412345000013", ("manufacturer",)),
    DemoParty("medsupply", "MedSupply Wholesale", "5412345000020", ("wholesaler",)),
    DemoParty("citypharmacy", "City Pharmacy", "5412345000037", ("pharmacy",)),
    DemoParty("regulator", "National Medicines Regulator", "5412345000044", ("regulator",)),
    DemoParty("sponsor", "Northwind Trials Sponsor", "5412345000051", ("sponsor",)),
    DemoParty("site001", "Riverside Clinical Site 001", "5412345000068", ("site",)),
)


def demo_key(data_dir: Path, slug: str) -> ec.EllipticCurvePrivateKey:
    """The demo party's key: derived from its name, so every checkout seeds the same parties."""
    path = data_dir / "demo" / f"{slug}.pem"
    if path.exists():
        return load_private_key_pem(path.read_bytes())
    secret = int.from_bytes(hashlib.sha256(f"provenance demo key {slug}".encode()).digest())
    key = ec.derive_private_key(secret % (P256_ORDER - 1) + 1, ec.SECP256R1())
    keystore.write_secret(path, private_key_pem(key))
    return key


def signed(key: ec.EllipticCurvePrivateKey, kind: str, body: dict[str, Any]) -> Submission:
    """A statement signed on the party's side, ready for `submit_many`."""
    return parse_submission(build_envelope(key, kind, body))


@dataclass(frozen=True)
class SeedResult:
    registered: int
    appended: int
    size: int
    skipped: bool = False
    story: int = 0
    extra: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.skipped:
            return f"log already holds {self.size} entries: demo seed skipped"
        story = f" and {self.story} supply-chain demo statements" if self.story else ""
        return "\n".join(
            [
                f"registered {self.registered} demo parties, appended {self.appended} "
                f"statements{story}",
                *self.extra,
                f"log size {self.size}",
            ]
        )


def seed(
    service: Service,
    count: int,
    *,
    only_if_empty: bool = False,
    stories: Collection[str] = ALL_STORIES,
) -> SeedResult:
    """Register the demo parties, the demo supply chain (once) and `count` attestations."""
    log = service.log
    data_dir = service.settings.data_dir
    with read_connection(service.engine) as conn:
        size = tree_size(conn)
        view = DbView(conn)
        missing = [p for p in PARTIES if view.party(p.gln) is None]
        has_story = view.row("product", (demo_supply.AMOXICILLIN,)) is not None
    if size == 0:
        raise LogNotInitialised("the log has no genesis entry: run `flask --app app init` first")
    if only_if_empty and size > 1:
        return SeedResult(0, 0, size, skipped=True)
    authority = keystore.load_authority_key(service.settings.keys)
    registrations: list[Submission] = []
    for party in missing:
        der = public_key_der(demo_key(data_dir, party.slug))
        body: dict[str, object] = {
            "gln": party.gln,
            "name": party.name,
            "roles": list(party.roles),
            "public_key": base64.b64encode(der).decode(),
        }
        registrations.append(signed(authority, "party.register", body))
    if registrations:
        log.submit_many(registrations)
    keys = [demo_key(data_dir, p.slug) for p in PARTIES]
    by_slug = dict(zip((p.slug for p in PARTIES), keys, strict=True))
    story = demo_supply.story() if "supply" in stories and not has_story else []
    if story:
        items = []
        for slug, kind, body in story:
            key = by_slug[slug]
            items.append(signed(key, kind, body))
        log.submit_many(items)
    appended = 0
    while appended < count:
        batch: list[Submission] = []
        for n in range(appended, min(count, appended + BATCH)):
            key = keys[n % len(keys)]
            body = {
                "subject": f"demo/{size + n}",
                "claim": {"sequence": size + n, "note": "demonstration statement"},
            }
            batch.append(signed(key, "attestation", body))
        log.submit_many(batch)
        appended += len(batch)
    extra = tuple(add(service) for name, add in EXTRA_STORIES.items() if name in stories)
    with read_connection(service.engine) as conn:
        final = tree_size(conn)
    return SeedResult(len(registrations), appended, final, story=len(story), extra=extra)
