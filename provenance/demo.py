"""Demo parties and statements, for a demonstration log only (keys under data/demo/)."""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from provenance.client import build_envelope
from provenance.errors import Error
from provenance.log import keystore
from provenance.log.append import Submission
from provenance.log.errors import LogNotInitialised
from provenance.log.files import write_secret
from provenance.log.service import Service
from provenance.log.signing import (
    generate_private_key,
    load_private_key_pem,
    private_key_pem,
    public_key_der,
)
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection
from provenance.log.store.projection import DbView
from provenance.plugins import DemoParty, Plugin

DEFAULT_ENTRIES = 50


class NotDemo(Error):
    slug, status, title = "not-demo", 409, "Demo data goes only into a demonstration log"


BATCH = 500
#: Statements per transaction when a story is appended.
STORY_BATCH = 1000


def demo_key(data_dir: Path, slug: str) -> ec.EllipticCurvePrivateKey:
    """The demo party's key: made at random the first time, then read from data/demo/ (0600),
    so no demo key can be computed from the source."""
    path = data_dir / "demo" / f"{slug}.pem"
    if path.exists():
        return load_private_key_pem(path.read_bytes())
    key = generate_private_key()
    write_secret(path, private_key_pem(key))
    return key


def parties(plugins: Sequence[Plugin]) -> tuple[DemoParty, ...]:
    """The demo parties of these plug-ins, in plug-in order."""
    return tuple(party for plugin in plugins if plugin.demo for party in plugin.demo.parties)


@dataclass(frozen=True)
class DemoKeys:
    """The `DemoRun` of a seed: the service, and keys derived from the demo parties' names."""

    service: Service

    def key(self, slug: str) -> ec.EllipticCurvePrivateKey:
        return demo_key(self.service.settings.data_dir, slug)

    def sign(self, slug: str, kind: str, body: dict[str, Any]) -> Submission:
        """A statement signed on the demo party's side, ready for `submit`."""
        envelope = build_envelope(self.key(slug), kind, body, log=self.service.settings.origin)
        return self.service.log.parse(envelope)

    def sign_as_authority(self, kind: str, body: dict[str, Any]) -> Submission:
        authority = keystore.load_authority_key(self.service.settings.keys)
        envelope = build_envelope(authority, kind, body, log=self.service.settings.origin)
        return self.service.log.parse(envelope)

    def submit(self, items: Sequence[Submission]) -> None:
        for start in range(0, len(items), STORY_BATCH):
            self.service.log.submit_many(items[start : start + STORY_BATCH])


@dataclass(frozen=True)
class SeedResult:
    registered: int
    appended: int
    size: int
    skipped: bool = False
    stories: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.skipped:
            return f"log already holds {self.size} entries: demo seed skipped"
        return "\n".join(
            [
                f"registered {self.registered} demo parties, appended {self.appended} statements",
                *self.stories,
                f"log size {self.size}",
            ]
        )


def seed(
    service: Service,
    plugins: Sequence[Plugin],
    count: int,
    *,
    only_if_empty: bool = False,
    stories: Collection[str] | None = None,
) -> SeedResult:
    """Register the plug-ins' demo parties, run their stories (those named in `stories`; all if
    None) once each, and append `count` attestations signed in turn by every demo party."""
    demo_parties = parties(plugins)
    with read_connection(service.engine) as conn:
        size = logdb.tree_size(conn)
        view = DbView(conn)
        missing = [p for p in demo_parties if view.party(p.gln) is None]
    if size == 0:
        raise LogNotInitialised("the log has no genesis entry: run `flask --app app init` first")
    profile = service.profile()
    if profile is None or not profile.demo:
        raise NotDemo(
            "this is not a demonstration log: demo parties are registered only in a log made "
            "with `flask --app app init --demo`"
        )
    if only_if_empty and size > 1:
        return SeedResult(0, 0, size, skipped=True)
    authority = keystore.load_authority_key(service.settings.keys)
    run = DemoKeys(service)
    registrations: list[Submission] = []
    for party in missing:
        body: dict[str, object] = {
            "gln": party.gln,
            "name": party.name,
            "roles": list(party.roles),
            "public_key": base64.b64encode(public_key_der(run.key(party.slug))).decode(),
        }
        envelope = build_envelope(authority, "party.register", body, log=service.settings.origin)
        registrations.append(service.log.parse(envelope))
    if registrations:
        service.log.submit_many(registrations)
    told = []
    for plugin in plugins:
        if plugin.demo and plugin.demo.story and (stories is None or plugin.name in stories):
            told.append(plugin.demo.story(run))
    slugs = [p.slug for p in demo_parties]
    appended = 0
    while appended < count and slugs:
        batch: list[Submission] = []
        for n in range(appended, min(count, appended + BATCH)):
            body = {
                "subject": f"demo/{size + n}",
                "claim": {"sequence": size + n, "note": "demonstration statement"},
            }
            batch.append(run.sign(slugs[n % len(slugs)], "attestation", body))
        service.log.submit_many(batch)
        appended += len(batch)
    with read_connection(service.engine) as conn:
        final = logdb.tree_size(conn)
    return SeedResult(len(registrations), appended, final, stories=tuple(filter(None, told)))
