"""Checking entries as a monitor reads them: leaf hash, chain, signature, the log's rules.

The checks are those `verify` replays over a whole database, run one entry at a time from a
state that a monitor keeps between runs (the identity projection, the last leaf and time).
Entries a party may not read are skipped; their leaf hashes still link the chain. A party that
skipped entries may meet a signer whose registration it could not read: such an entry counts as
unverifiable, not as bad, since the registration may be one of the skipped entries.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from provenance.audit.errors import BadEntry, bad_entry
from provenance.errors import Error
from provenance.log import identity
from provenance.log.canonical import canonical_bytes, parse_json
from provenance.log.entries import ZERO_HASH_HEX
from provenance.log.errors import Conflict, UnknownKey
from provenance.log.identity import KeyRecord, PartyRecord, PersonRecord
from provenance.log.kinds import check_audience_and_age, signing_key_der
from provenance.log.merkle import leaf_hash
from provenance.log.personality import Registry
from provenance.log.profile import LogProfile, entry_context, genesis_profile
from provenance.log.sigcheck import SignatureChecks
from provenance.log.signing import Envelope, parse_envelope, verify_p256
from provenance.log.store.projection import MemoryView

#: The detached payload named by a SHA-256, or None where the reader may not have it.
PayloadFetch = Callable[[bytes], bytes | None]


@dataclass
class ReplayState:
    """What has been checked: entries [0, next_index), the last leaf and logging time, the
    log's profile and who may sign (the identity projection those entries built)."""

    next_index: int = 0
    prev: str = ZERO_HASH_HEX
    last_at: str = ""
    profile: LogProfile | None = None
    view: MemoryView = field(default_factory=MemoryView)
    skipped: int = 0  # entries not read: this party may not read them
    unverifiable: int = 0  # read, but signed by a key registered in a skipped entry

    def to_json(self) -> dict[str, Any]:
        view = self.view
        return {
            "next_index": self.next_index,
            "prev": self.prev,
            "last_at": self.last_at,
            "profile": None if self.profile is None else asdict(self.profile),
            "skipped": self.skipped,
            "unverifiable": self.unverifiable,
            "parties": [asdict(p) for p in view.parties.values()],
            "keys": [
                {**asdict(k), "public_key": base64.b64encode(k.public_key).decode()}
                for k in view.keys.values()
            ],
            "people": [asdict(p) for p in view.people.values()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplayState:
        view = MemoryView()
        for party in data["parties"]:
            record = PartyRecord(**{**party, "roles": tuple(party["roles"])})
            view.parties[record.gln] = record
        for key in data["keys"]:
            view.keys[key["key_id"]] = KeyRecord(
                **{**key, "public_key": base64.b64decode(key["public_key"])}
            )
        for person in data["people"]:
            view.people[person["key_id"]] = PersonRecord(**person)
        profile = data["profile"]
        return cls(
            next_index=int(data["next_index"]),
            prev=str(data["prev"]),
            last_at=str(data["last_at"]),
            profile=None if profile is None else LogProfile(**profile),
            view=view,
            skipped=int(data["skipped"]),
            unverifiable=int(data["unverifiable"]),
        )


class EntryChecker:
    """Checks entries in index order against `state`, which it advances."""

    def __init__(
        self,
        registry: Registry,
        state: ReplayState,
        log_key: str,
        signatures: SignatureChecks | None = None,
    ) -> None:
        self.registry = registry
        self.state = state
        self.log_key = log_key  # the verifier key line the genesis entry must name
        #: Where signatures are checked, in parallel, to be finished by the caller; None: here.
        self.signatures = signatures

    def _signed(self, index: int, der: bytes, envelope: Envelope) -> None:
        if self.signatures is None:
            verify_p256(der, envelope.pae(), envelope.signatures[0].sig)
        else:
            self.signatures.add((index, der, envelope.pae(), envelope.signatures[0].sig))

    def skip(self, index: int, leaf: bytes) -> None:
        self._advance(index, leaf)
        self.state.skipped += 1

    def check(self, index: int, leaf: bytes, data: bytes, payload: PayloadFetch) -> None:
        """Raise BadEntry naming the index unless the entry is what the log's rules accept."""
        state = self.state
        # 1. The bytes are the leaf the (checked) tiles hold.
        if leaf_hash(data) != leaf:
            raise bad_entry(index, "its bytes do not hash to its leaf hash in the level-0 tile")
        try:
            entry = parse_json(data)
            if not isinstance(entry, dict) or canonical_bytes(entry) != data:
                raise bad_entry(index, "it is not an RFC 8785 canonical JSON object")
            # 2. It says where it is, and links to the leaf before it.
            if entry.get("index") != index:
                raise bad_entry(index, f"it holds the entry for index {entry.get('index')}")
            if entry.get("prev") != state.prev:
                raise bad_entry(index, "its prev is not the leaf hash of the entry before it")
            logged_at = str(entry["logged_at"])
            rules = state.profile.rules if state.profile is not None else 1
            if rules >= 2 and logged_at < state.last_at:
                raise bad_entry(index, f"logged_at {logged_at} goes back before {state.last_at}")
            self._statement(index, entry, logged_at, payload)
        except Error as exc:
            if isinstance(exc, BadEntry):
                raise
            raise bad_entry(index, f"{exc.title}: {exc.detail}") from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise bad_entry(index, f"not a well-formed log entry ({exc})") from exc
        state.last_at = max(state.last_at, logged_at)
        self._advance(index, leaf)

    def _statement(
        self, index: int, entry: dict[str, Any], logged_at: str, payload: PayloadFetch
    ) -> None:
        state, registry = self.state, self.registry
        envelope_json = entry["envelope"]
        detached = None
        if isinstance(envelope_json, dict) and "payloadSha256" in envelope_json:
            digest = bytes.fromhex(str(envelope_json["payloadSha256"]))
            detached = payload(digest)
            if detached is None:
                state.unverifiable += 1  # its payload is not for this reader
                return
            if hashlib.sha256(detached).digest() != digest:
                raise bad_entry(index, "its detached payload does not match payloadSha256")
        envelope = parse_envelope(
            envelope_json, payload_types=registry.payload_types, detached_payload=detached
        )
        statement = registry.statement(envelope)
        ctx = entry_context(index, logged_at, state.profile, statement.body)
        # 3. Signed by a key the log knew and allowed, for its kind, at its logging time.
        if index == 0:
            if statement.body.get("log_key") != self.log_key:
                raise bad_entry(index, "the genesis entry names another log key than --vkey")
            changes: list[object] = list(identity.plan_genesis(statement, ctx))
            der = signing_key_der(state.view, statement)
            if der is None:
                raise bad_entry(index, "no key to check the genesis signature with")
            self._signed(index, der, envelope)
            state.profile = genesis_profile(statement.body)
        else:
            try:
                rule, key = registry.check_signer(state.view, statement, ctx)
            except UnknownKey:
                if not state.skipped:
                    raise
                state.unverifiable += 1  # registered, perhaps, by an entry it may not read
                return
            check_audience_and_age(statement, ctx, rule.max_age)
            self._signed(index, key.public_key, envelope)
            try:
                changes = registry.replay_identity(state.view, rule, key, statement, ctx)
            except Conflict:
                if not state.skipped:
                    raise
                # E.g. the authority rotates a person's key this party never saw registered.
                state.unverifiable += 1
                return
        # 4. What it changes in who may sign applies to the entries after it.
        state.view.apply(changes)

    def _advance(self, index: int, leaf: bytes) -> None:
        if index != self.state.next_index:
            raise ValueError(
                f"entry {index} checked out of order (next is {self.state.next_index})"
            )
        self.state.next_index = index + 1
        self.state.prev = leaf.hex()
