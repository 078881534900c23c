"""Proof bundles: a subject's entries with everything needed to check them offline.

One JSON object (format `provenance-proof-bundle/v1`):

    {"format": "provenance-proof-bundle/v1",
     "checkpoint": "<signed note: the log's checkpoint, with witness cosignatures if any>",
     "entries": [{"index": 0, "role": "identity", "entry": "<base64 entry bytes>",
                  "inclusion": ["<base64 hash>", ...]},
                 {"index": 7, "role": "subject", "entry": "...", "inclusion": [...],
                  "payload": "<base64 detached payload, only where the entry names one>"}]}

`subject` entries are what the bundle is about; `identity` entries register the keys that
signed them (from the genesis entry on), so the signatures check with the log's key alone.
Verifying (every step names the part that fails):

1. the format, and every member (exact, canonical base64, entries in increasing index order);
2. the checkpoint: the log's signature (and witness cosignatures, where required);
3. every entry's inclusion proof against the checkpoint's root (RFC 9162 §2.1.3.2), and the
   entry's own index and detached payload digest;
4. in index order from the genesis entry, which must name the log's key: each entry is signed
   by a key the bundle's earlier identity entries registered and the log's rules let sign its
   kind at its logging time; identity entries then update who may sign.

A bundle proves that its entries are in the log and who signed them. It does not prove that it
holds every entry about its subject (the server picks them, and leaves out what the requester
may not read), nor that no later entry revoked a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from provenance.audit.errors import BadBundle
from provenance.errors import Error
from provenance.log import identity, merkle
from provenance.log.canonical import canonical_bytes, parse_json
from provenance.log.kinds import check_audience_and_age, signing_key_der
from provenance.log.note import Checkpoint
from provenance.log.personality import Registry
from provenance.log.profile import LogProfile, entry_context, genesis_profile
from provenance.log.signing import parse_envelope, verify_p256
from provenance.log.statements import Statement
from provenance.log.store.projection import MemoryView

FORMAT = "provenance-proof-bundle/v1"
SUBJECT, IDENTITY = "subject", "identity"
_MEMBERS = {"index", "role", "entry", "inclusion"}


@dataclass(frozen=True)
class BundleEntry:
    index: int
    role: str  # SUBJECT or IDENTITY
    data: bytes  # the entry's bytes, as its leaf hash covers them
    inclusion: tuple[bytes, ...]
    payload: bytes | None = None  # a detached payload the entry names by SHA-256


@dataclass(frozen=True)
class VerifiedEntry:
    index: int
    role: str
    kind: str
    logged_at: str
    key_id: str
    party: str  # the signer's GLN
    party_name: str
    person: str | None  # the printed name of the person who signed, if a person did


@dataclass(frozen=True)
class VerifiedBundle:
    checkpoint: Checkpoint
    entries: tuple[VerifiedEntry, ...]


def encode_bundle(checkpoint_note: str, entries: Sequence[BundleEntry]) -> bytes:
    """The bundle file's bytes."""
    items = []
    for e in entries:
        item: dict[str, Any] = {
            "index": e.index,
            "role": e.role,
            "entry": _b64(e.data),
            "inclusion": [_b64(h) for h in e.inclusion],
        }
        if e.payload is not None:
            item["payload"] = _b64(e.payload)
        items.append(item)
    body = {"format": FORMAT, "checkpoint": checkpoint_note, "entries": items}
    return json.dumps(body, indent=1).encode() + b"\n"


def parse_bundle(data: bytes) -> tuple[str, list[BundleEntry]]:
    """Step 1: the checkpoint note and the entries, structure only."""
    try:
        bundle = parse_json(data)
    except Error as exc:
        raise BadBundle(f"the bundle is not JSON: {exc.detail}") from exc
    if not isinstance(bundle, dict) or set(bundle) != {"format", "checkpoint", "entries"}:
        raise BadBundle("the bundle is an object of exactly format, checkpoint and entries")
    if bundle["format"] != FORMAT:
        raise BadBundle(f"format {str(bundle['format'])[:40]!r} is not {FORMAT}")
    if not isinstance(bundle["checkpoint"], str):
        raise BadBundle("checkpoint: a signed note (text)")
    items = bundle["entries"]
    if not isinstance(items, list) or not items:
        raise BadBundle("entries: a non-empty list")
    entries: list[BundleEntry] = []
    for position, item in enumerate(items):
        where = f"entries[{position}]"
        if not isinstance(item, dict) or not _MEMBERS <= set(item) <= {*_MEMBERS, "payload"}:
            raise BadBundle(f"{where}: exactly index, role, entry, inclusion (and payload)")
        index = item["index"]
        if type(index) is not int or index < 0 or (entries and index <= entries[-1].index):
            raise BadBundle(f"{where}: index {index!r} is not above the one before it")
        where = f"entry {index}"
        if item["role"] not in (SUBJECT, IDENTITY):
            raise BadBundle(f"{where}: role {str(item['role'])[:20]!r} is not subject or identity")
        inclusion = item["inclusion"]
        if not isinstance(inclusion, list):
            raise BadBundle(f"{where}: inclusion is a list of hashes")
        payload = item.get("payload")
        entries.append(
            BundleEntry(
                index,
                item["role"],
                _unb64(item["entry"], f"{where}: entry"),
                tuple(_unb64(h, f"{where}: inclusion hash {i}") for i, h in enumerate(inclusion)),
                None if payload is None else _unb64(payload, f"{where}: payload"),
            )
        )
    return bundle["checkpoint"], entries


def verify_bundle(
    data: bytes,
    open_checkpoint: Callable[[str], Checkpoint],
    registry: Registry,
    log_key: str,
) -> VerifiedBundle:
    """Steps 1-4; BadBundle naming the part that fails."""
    note, entries = parse_bundle(data)
    # 2.
    try:
        checkpoint = open_checkpoint(note)
    except Error as exc:
        raise BadBundle(f"checkpoint: {exc.detail}") from exc
    # 3.
    for e in entries:
        try:
            merkle.verify_inclusion(
                e.index,
                checkpoint.size,
                merkle.leaf_hash(e.data),
                e.inclusion,
                checkpoint.root_hash,
            )
        except Error as exc:
            raise BadBundle(f"entry {e.index}: inclusion proof: {exc.detail}") from exc
    # 4.
    if entries[0].index != 0:
        raise BadBundle("the bundle lacks the genesis entry (index 0) that names the log's keys")
    replay = _Replay(registry, checkpoint.origin, log_key)
    verified = tuple(replay.entry(e) for e in entries)
    if not any(e.role == SUBJECT for e in verified):
        raise BadBundle("the bundle holds no subject entry")
    return VerifiedBundle(checkpoint, verified)


class _Replay:
    """Who may sign, built from the bundle's identity entries in index order."""

    def __init__(self, registry: Registry, origin: str, log_key: str) -> None:
        self.registry = registry
        self.origin = origin
        self.log_key = log_key
        self.view = MemoryView()
        self.profile: LogProfile | None = None
        self.last_at = ""

    def entry(self, e: BundleEntry) -> VerifiedEntry:
        try:
            return self._entry(e)
        except BadBundle:
            raise
        except Error as exc:
            raise BadBundle(f"entry {e.index}: {exc.title}: {exc.detail}") from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadBundle(f"entry {e.index}: not a well-formed log entry ({exc})") from exc

    def _entry(self, e: BundleEntry) -> VerifiedEntry:
        entry = parse_json(e.data)
        if not isinstance(entry, dict) or canonical_bytes(entry) != e.data:
            raise BadBundle(f"entry {e.index}: not an RFC 8785 canonical JSON object")
        if entry.get("index") != e.index:
            raise BadBundle(f"entry {e.index}: it says it is entry {entry.get('index')}")
        logged_at = str(entry["logged_at"])
        if self.profile is not None and self.profile.rules >= 2 and logged_at < self.last_at:
            raise BadBundle(f"entry {e.index}: logged_at goes back before an earlier entry's")
        self.last_at = max(self.last_at, logged_at)
        statement, signed = self._statement(e, entry["envelope"])
        ctx = entry_context(e.index, logged_at, self.profile, statement.body)
        if e.index == 0:
            changes: list[object] = list(identity.plan_genesis(statement, ctx))
            if statement.body.get("log_key") != self.log_key:
                raise BadBundle("entry 0: the genesis entry names another log key than --vkey")
            if statement.body.get("origin") != self.origin:
                raise BadBundle("entry 0: the genesis entry names another origin")
            self.profile = genesis_profile(statement.body)
            der = signing_key_der(self.view, statement)
            is_identity = True
        else:
            rule, key = self.registry.check_signer(self.view, statement, ctx)
            check_audience_and_age(statement, ctx, rule.max_age)
            der = key.public_key
            changes = self.registry.replay_identity(self.view, rule, key, statement, ctx)
            is_identity = rule.identity
        if der is None:
            raise BadBundle(f"entry {e.index}: no key to check its signature with")
        verify_p256(der, *signed)
        if e.role == IDENTITY and not is_identity:
            raise BadBundle(f"entry {e.index}: a {statement.kind} entry is not an identity entry")
        self.view.apply(changes)
        return self._verified(e, statement, logged_at)

    def _statement(
        self, e: BundleEntry, envelope_json: Any
    ) -> tuple[Statement, tuple[bytes, bytes]]:
        detached = isinstance(envelope_json, dict) and "payloadSha256" in envelope_json
        if detached != (e.payload is not None):
            what = (
                "lacks the detached payload" if detached else "carries a payload it does not name"
            )
            raise BadBundle(f"entry {e.index}: the bundle {what}")
        if e.payload is not None and hashlib.sha256(e.payload).hexdigest() != str(
            envelope_json["payloadSha256"]
        ):
            raise BadBundle(f"entry {e.index}: payload does not match the entry's payloadSha256")
        envelope = parse_envelope(
            envelope_json, payload_types=self.registry.payload_types, detached_payload=e.payload
        )
        return self.registry.statement(envelope), (envelope.pae(), envelope.signatures[0].sig)

    def _verified(self, e: BundleEntry, statement: Statement, logged_at: str) -> VerifiedEntry:
        key = self.view.key(statement.signer)
        gln = key.gln if key is not None else ""
        party = self.view.party(gln)
        person = self.view.person_of(statement.signer)
        return VerifiedEntry(
            e.index,
            e.role,
            statement.kind,
            logged_at,
            statement.signer,
            gln,
            party.name if party is not None else "",
            person.name if person is not None else None,
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: object, where: str) -> bytes:
    """Standard base64 in its one canonical spelling, so that no two texts mean one value."""
    try:
        if not isinstance(value, str):
            raise ValueError("not a string")
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadBundle(f"{where} is not base64") from exc
    if _b64(data) != value:
        raise BadBundle(f"{where} is not canonical base64")
    return data
