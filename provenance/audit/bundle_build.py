"""Making a proof bundle in the server: a subject's entries the requester may read, the identity
entries behind their signers, and inclusion proofs against one checkpoint."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from provenance.access.principal import EntryReaders, Principal
from provenance.audit.bundle import IDENTITY, SUBJECT, BundleEntry
from provenance.log import cosignatures, merkle
from provenance.log.canonical import parse_json
from provenance.log.entries import open_entry
from provenance.log.errors import IntegrityError
from provenance.log.identity import IdentityView
from provenance.log.note import parse_checkpoint, parse_note
from provenance.log.personality import Registry
from provenance.log.store import logdb
from provenance.log.store.logdb import StoredCheckpoint

#: Body members of identity statements that name another key or a party whose registration the
#: statement's replay needs (a rotation's old key, a revocation's target, a person's party).
_NAMED_KEYS = ("old_key", "key_id")


@dataclass(frozen=True)
class Built:
    checkpoint: str  # the signed note the proofs are against
    entries: tuple[BundleEntry, ...]
    omitted: int  # subject entries left out: the requester may not read them or their signers


class _Closure:
    """The identity entries a signature's check needs, back to the genesis entry."""

    def __init__(self, conn: Connection, registry: Registry, view: IdentityView) -> None:
        self.conn = conn
        self.registry = registry
        self.view = view
        self._direct: dict[int, frozenset[int]] = {}

    def of_entry(self, index: int) -> frozenset[int]:
        """Entry `index` and every identity entry its check needs, transitively."""
        found, pending = {index}, [index]
        while pending:
            for needed in self._needs(pending.pop()):
                if needed not in found:
                    found.add(needed)
                    pending.append(needed)
        return frozenset(found)

    def _needs(self, index: int) -> frozenset[int]:
        """The entries replaying entry `index` needs first: the genesis entry, those behind its
        signer's key, and for an identity entry those behind the keys and party it names."""
        found = self._direct.get(index)
        if found is not None:
            return found
        data = logdb.entry_data(self.conn, index)
        if data is None:
            raise IntegrityError(f"entry {index}, which a projection row names, is not stored")
        _, statement = open_entry(self.conn, parse_json(data), self.registry)
        needed = {0, *self._of_key(statement.signer)}
        rule = self.registry.kinds.get(statement.kind)
        if index != 0 and rule is not None and rule.identity:
            body = statement.body
            for member in _NAMED_KEYS:
                if isinstance(body.get(member), str):
                    needed |= self._of_key(body[member])
            party = self.view.party(str(body.get("gln")))
            if party is not None:
                needed.add(party.registered_index)
        needed.discard(index)
        self._direct[index] = frozenset(needed)
        return self._direct[index]

    def _of_key(self, key_id: str) -> set[int]:
        """The entries that registered, rotated or revoked a key, its person and its party."""
        key = self.view.key(key_id)
        if key is None:
            return set()
        person = self.view.person_of(key_id)
        party = self.view.party(key.gln)
        indices = {key.added_index, key.retired_index, key.revoked_index}
        if person is not None:
            indices |= {person.registered_index, person.suspended_index}
        if party is not None:
            indices.add(party.registered_index)
        return {index for index in indices if index is not None}


def pick_checkpoint(conn: Connection, latest: StoredCheckpoint, indices: Iterable[int]) -> str:
    """The latest checkpoint with the witnesses' cosignatures of it; if none has cosigned it yet,
    the largest checkpoint a witness cosigned that holds every entry of the bundle (as receipts
    choose); else the latest alone."""
    current = cosignatures.cosigned(conn, latest)
    if current.note != latest.note:
        return current.note
    found = cosignatures.latest_cosigned(conn, 1, covering=max(indices))
    return found.note if found is not None else latest.note


def build_bundle(
    conn: Connection,
    registry: Registry,
    readers: EntryReaders,
    who: Principal,
    subject: Sequence[int],
    latest: StoredCheckpoint,
) -> Built:
    """The bundle of the subject entries `who` may read whose signers' identity entries it may
    read too; subject entries beyond the latest checkpoint are not provable yet and left out."""
    closure = _Closure(conn, registry, readers.view)
    chosen: set[int] = set()
    picked: set[int] = set()
    omitted = 0
    for index in sorted(set(subject)):
        if index >= latest.size:
            continue
        needed = closure.of_entry(index)
        if all(readers.may_read(who, i) for i in needed):
            chosen.add(index)
            picked |= needed
        else:
            omitted += 1
    if not chosen:
        return Built(latest.note, (), omitted)
    note = pick_checkpoint(conn, latest, picked)
    size = parse_checkpoint(parse_note(note).text).size
    plans = {i: merkle.inclusion_proof_addrs(i, size) for i in sorted(picked)}
    nodes = logdb.fetch_nodes(conn, (a for plan in plans.values() for step in plan for a in step))
    entries = []
    for index, plan in plans.items():
        data = logdb.entry_data(conn, index)
        if data is None:
            raise IntegrityError(f"entry {index} is below the checkpoint's size but not stored")
        envelope = parse_json(data)["envelope"]
        payload = None
        if "payloadSha256" in envelope:  # a detached payload: its bytes travel in the bundle
            payload = logdb.payload_data(conn, bytes.fromhex(envelope["payloadSha256"]))
        role = SUBJECT if index in chosen else IDENTITY
        entries.append(BundleEntry(index, role, data, tuple(merkle.assemble(plan, nodes)), payload))
    return Built(note, tuple(entries), omitted)
