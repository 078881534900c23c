"""Appending: validate → sequence → store entry and tree hashes → sign a checkpoint, atomically."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine

from provenance.errors import Error, TooLarge
from provenance.log import merkle
from provenance.log.appender import AppenderClient, AppenderUnavailable, no_follow_up
from provenance.log.batching import GroupCommit
from provenance.log.canonical import parse_json, sha256
from provenance.log.entries import ZERO_HASH_HEX, entry_bytes
from provenance.log.errors import BadEnvelope, BadSignature, ErasureIncomplete, UnknownKey
from provenance.log.guard import StateGuard
from provenance.log.kinds import GENESIS, signing_key_der
from provenance.log.ledger import SetColumns
from provenance.log.note import Checkpoint, Signer, format_checkpoint
from provenance.log.outside import OutsideRecord
from provenance.log.personality import Registry
from provenance.log.profile import LogProfile, entry_context, genesis_profile, profile_of_genesis
from provenance.log.signing import PAYLOAD_TYPE, Envelope, parse_envelope, verify_p256
from provenance.log.statements import Statement, now_timestamp, statement_from_json
from provenance.log.store import logdb
from provenance.log.store.engine import read_connection, write_transaction
from provenance.log.store.projection import DbView
from provenance.log.store.schema import scrub
from provenance.log.tiles import MAX_ENTRY_SIZE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """A parsed, not yet logged, envelope."""

    envelope: Envelope
    statement: Statement
    digest: bytes  # SHA-256 of the payload: the identity of a statement for deduplication
    #: The payload outgrows a tile entry (an EPCIS document): the entry names it by digest.
    detached: bool = False


@dataclass(frozen=True)
class Appended:
    index: int
    leaf_hash: bytes
    duplicate: bool = False


def parse_submission(
    envelope_json: Any, registry: Registry, *, checked: bool = False
) -> Submission:
    """Envelope → statement, with every structural check that needs no database.

    `checked`: a worker process of this log parsed the envelope and checked its signature, so
    the statement is read from the payload again (and the digest taken again), but the
    payload's canonical form, which the worker checked with the signature over those bytes, is
    not checked a second time."""
    envelope = parse_envelope(envelope_json, payload_types=registry.payload_types)
    if checked and envelope.payload_type == PAYLOAD_TYPE:  # never a plug-in's codec
        statement = statement_from_json(parse_json(envelope.payload))
    else:
        statement = registry.statement(envelope)
    if envelope.signatures[0].keyid != statement.signer:
        raise BadEnvelope("the signature's keyid differs from the statement's signer")
    detached = registry.is_detached(envelope.payload_type)
    return Submission(envelope, statement, sha256(envelope.payload), detached)


def _entry_json(appended: Appended) -> dict[str, Any]:
    return {
        "index": appended.index,
        "leaf_hash": appended.leaf_hash.hex(),
        "duplicate": appended.duplicate,
    }


class Erased(NamedTuple):
    """What a transaction erased: the tables whose bytes to scrub, and the items (positions)
    that erased them."""

    tables: frozenset[str]
    items: frozenset[int]


def _appended(found: tuple[int, bytes]) -> Appended:
    return Appended(found[0], found[1], duplicate=True)


def _at_item(error: Error, position: int, count: int) -> Error:
    """Name the failing item of a multi-statement batch in its problem details."""
    return error.with_context(item=position) if count > 1 else error


class TransparencyLog:
    """Appends statements and signs checkpoints; one instance per process and database.

    `outside`: where the log keeps its checkpoints outside the database; every append checks
    that the database still holds them (and its own right edge) before it signs another.
    """

    def __init__(
        self,
        engine: Engine,
        signer: Signer,
        registry: Registry,
        outside: OutsideRecord | None = None,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.registry = registry
        self.origin = signer.name
        self.guard = StateGuard(signer, outside)
        #: Called with the signed note after a transaction that published a checkpoint has
        #: committed; an exception in one is logged, never fails the append.
        self.after_publish: list[Callable[[str], None]] = []
        if outside is not None:
            self.after_publish.append(outside.record)
        self._lock = threading.Lock()
        # Right edge of the tree as of the last append by this process: the store's must still
        # be the same when the tree has not grown since.
        self._frontier = merkle.Frontier()
        # Key id → DER of every key seen: a key id is the hash of its DER, so an entry never goes
        # stale; whether the key may still sign is decided under the write lock.
        self._keys: dict[str, bytes] = {}
        self._profile: LogProfile | None = None  # from the genesis entry, which never changes
        self._group: GroupCommit[Submission, Appended] = GroupCommit(
            lambda batch: self._commit(batch, isolate=True)
        )
        #: The log's appender process, when this is one of several worker processes: checked
        #: envelopes go there, to share its transactions and checkpoints (see appender.py).
        self.channel: AppenderClient | None = None

    def parse(self, envelope_json: Any) -> Submission:
        """An envelope as this log reads it (its payload types and kinds)."""
        return parse_submission(envelope_json, self.registry)

    def profile(self, conn: Connection) -> LogProfile | None:
        """What the log's genesis declares (None before there is one)."""
        if self._profile is None:
            data = logdb.entry_data(conn, 0)
            if data is not None:
                self._profile = profile_of_genesis(data)
        return self._profile

    def _view(self, conn: Connection) -> DbView:
        return DbView(conn, self.registry.key_columns)

    # --- writing -------------------------------------------------------------------------

    def submit(self, envelope_json: Any, *, verify: bool = True) -> Appended:
        """Log one envelope (a JSON value), or return the index it already has.

        Concurrent callers in one process share a transaction and a checkpoint (group commit),
        and with an appender process, so do those of every worker process; each still gets its
        own result or its own error.
        """
        item = self.parse(envelope_json)
        der = self._keys.get(item.statement.signer)
        if not verify or der is None or item.statement.kind == GENESIS:
            dup = self._precheck([item], verify)[0]
            if dup is not None:
                return dup
            return self._append_checked(item, envelope_json)
        # Known key: verify without a read transaction; duplicates are found under the lock,
        # and a replay whose signature fails (a malleated twin) is answered from the log.
        try:
            self._verify_signature(item, der)
        except BadSignature:
            dup = self._precheck([item], verify=False)[0]
            if dup is not None:
                return dup
            raise
        return self._append_checked(item, envelope_json)

    def _append_checked(self, item: Submission, envelope_json: Any) -> Appended:
        # A detached payload (an EPCIS document) is a transaction of its own, and decoding it
        # again in the one appender process would serialise what the workers do in parallel.
        if self.channel is not None and item.statement.kind != GENESIS and not item.detached:
            try:
                answer = self.channel.append(envelope_json)
            except AppenderUnavailable as exc:
                # Appending here is as correct, only not shared: the write lock serialises,
                # and an envelope the appender did log is found as a duplicate.
                log.warning("appending in this process: the appender is unavailable (%s)", exc)
            else:
                return Appended(
                    int(answer["index"]), bytes.fromhex(answer["leaf_hash"]), answer["duplicate"]
                )
        return self._group.submit(item)

    def append_checked_batch(
        self, envelopes: Sequence[Any]
    ) -> tuple[list[dict[str, Any] | BaseException], Callable[[], None]]:
        """The appender process's side of `submit`, for envelopes whose signatures worker
        processes checked and that arrived together (key validity, the kind's rules and
        duplicates are still decided here, under the write lock): one transaction and one
        checkpoint for all of them, each with its own answer (the entry as the worker reads it
        back, or its error). The callable runs the checkpoint's callbacks (its file, the
        witnesses): the caller runs it once the answers are sent, since the commit made them
        durable already."""
        answers: list[dict[str, Any] | BaseException] = []
        items: list[Submission] = []
        places: list[int] = []
        for envelope_json in envelopes:
            try:
                items.append(parse_submission(envelope_json, self.registry, checked=True))
            except Exception as exc:  # this envelope alone is refused
                answers.append(exc)
            else:
                places.append(len(answers))
                answers.append({})
        if not items:
            return answers, no_follow_up
        outcomes, note = self._commit_unpublished(items, isolate=True)
        for place, outcome in zip(places, outcomes, strict=True):
            answers[place] = outcome if isinstance(outcome, Error) else _entry_json(outcome)
        if note is None:
            return answers, no_follow_up
        return answers, functools.partial(self._published, note)

    def submit_many(self, items: Sequence[Submission], *, verify: bool = True) -> list[Appended]:
        """Log a batch in one transaction with one checkpoint; any bad item rejects the batch."""
        known = self._precheck(items, verify)
        if all(known):
            return [dup for dup in known if dup is not None]
        outcomes = self._commit(items, isolate=False)
        return [o for o in outcomes if isinstance(o, Appended)]

    def _precheck(self, items: Sequence[Submission], verify: bool) -> list[Appended | None]:
        """Duplicates are answered at once; signatures are checked before the write lock."""
        with read_connection(self.engine) as conn:
            logged = logdb.find_duplicates(conn, [item.digest for item in items])
            known = [_appended(logged[i.digest]) if i.digest in logged else None for i in items]
            if verify:
                view = self._view(conn)
                # The expensive check runs outside the write lock so appenders verify in
                # parallel; key validity is checked again under the lock.
                for position, (item, dup) in enumerate(zip(items, known, strict=True)):
                    if dup is None:
                        try:
                            self._verify_signature(item, self._key_der(view, item.statement))
                        except Error as exc:
                            raise _at_item(exc, position, len(items)) from None
        return known

    def _commit(self, items: Sequence[Submission], *, isolate: bool) -> list[Appended | Error]:
        outcomes, note = self._commit_unpublished(items, isolate=isolate)
        if note is not None:
            self._published(note)
        return outcomes

    def _commit_unpublished(
        self, items: Sequence[Submission], *, isolate: bool
    ) -> tuple[list[Appended | Error], str | None]:
        """Commit, and the checkpoint it published (its callbacks not yet run)."""
        with self._lock:
            with write_transaction(self.engine) as conn:
                frontier, outcomes, erased, note = self._append_locked(conn, items, isolate)
            self._frontier = frontier  # once committed
        # An erasure is acknowledged only once its bytes are gone from the database's files.
        try:
            scrub(self.engine, sorted(erased.tables))
        except ErasureIncomplete as exc:
            if not isolate:
                raise
            # Every entry is committed; only the erasures are not acknowledged.
            outcomes = [exc if i in erased.items else o for i, o in enumerate(outcomes)]
        return outcomes, note

    def _published(self, note: str) -> None:
        for callback in self.after_publish:
            try:
                callback(note)
            except Exception:  # the checkpoint is committed: a failing callback cannot undo it
                log.exception("after_publish callback %r failed", callback)

    def _key_der(self, view: DbView, statement: Statement) -> bytes | None:
        if statement.kind == GENESIS:  # genesis names its own key
            return signing_key_der(view, statement)
        der = self._keys.get(statement.signer)
        if der is None:
            der = signing_key_der(view, statement)
            if der is not None:
                self._keys[statement.signer] = der
        return der

    def _verify_signature(self, item: Submission, der: bytes | None) -> None:
        if der is None:
            raise UnknownKey(
                f"key {item.statement.signer} is not registered", key_id=item.statement.signer
            )
        verify_p256(der, item.envelope.pae(), item.envelope.signatures[0].sig)

    def _append_locked(
        self, conn: Connection, items: Sequence[Submission], isolate: bool
    ) -> tuple[merkle.Frontier, list[Appended | Error], Erased, str | None]:
        """Apply and write the items: the frontier, each item's outcome, what they erased, and
        the checkpoint published."""
        size = logdb.tree_size(conn)
        # Nothing is signed over a right edge the stored checkpoints do not vouch for: it is
        # read back from the store (O(log n) hashes), not taken from this process's copy.
        edge = self.guard.edge(conn, size, self._frontier)
        frontier, last_leaf = edge.frontier, edge.last_leaf
        # Times in the log only move forward, whichever process or host appends (hosts' clocks
        # differ), so "before" and "after" in the rules agree with the order of the entries.
        last_at = edge.logged_at
        profile = self.profile(conn)
        view = self._view(conn)
        results: list[Appended | Error] = []
        erasing: set[int] = set()
        entries: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        payloads: list[dict[str, Any]] = []
        seen = {
            digest: _appended(found)
            for digest, found in logdb.find_duplicates(conn, [i.digest for i in items]).items()
        }
        for position, item in enumerate(items):
            dup = seen.get(item.digest)
            if dup is not None:
                results.append(dup)
                continue
            index, logged_at = frontier.size, max(now_timestamp(), last_at)
            prev = last_leaf.hex() if index else ZERO_HASH_HEX
            try:
                ctx = entry_context(index, logged_at, profile, item.statement.body)
                changes = self.registry.evaluate(view, item.statement, ctx)
                data = entry_bytes(index, logged_at, prev, item.envelope, detached=item.detached)
                if len(data) > MAX_ENTRY_SIZE:
                    raise TooLarge(
                        f"the entry would be {len(data)} bytes; tlog-tiles entries are at most "
                        f"{MAX_ENTRY_SIZE} bytes",
                        limit=MAX_ENTRY_SIZE,
                    )
            except Error as exc:
                if not isolate:
                    raise _at_item(exc, position, len(items)) from None
                results.append(exc)  # this item alone is refused; nothing of it was applied
                continue
            view.apply(changes)
            if any(isinstance(change, SetColumns) for change in changes):
                erasing.add(position)
            if index == 0:
                profile = genesis_profile(item.statement.body)
            leaf = merkle.leaf_hash(data)
            for level, idx, digest in frontier.append(leaf):
                nodes.append({"level": level, "idx": idx, "hash": digest})
            if item.detached:
                payloads.append({"digest": item.digest, "data": item.envelope.payload})
            entries.append(
                {
                    "idx": index,
                    "leaf_hash": leaf,
                    "payload_digest": item.digest,
                    "kind": item.statement.kind,
                    "signer": item.statement.signer,
                    "logged_at": logged_at,
                    "data": data,
                }
            )
            last_leaf, last_at = leaf, logged_at
            appended = Appended(index, leaf)
            seen[item.digest] = Appended(index, leaf, duplicate=True)
            results.append(appended)
        note = None
        if entries:
            logdb.insert_rows(conn, "log_entry", entries)
            logdb.insert_rows(conn, "log_node", nodes)
            logdb.insert_rows(conn, "log_payload", payloads)
            note = self._publish_checkpoint(conn, frontier)
        return frontier, results, Erased(frozenset(view.erased), frozenset(erasing)), note

    def _publish_checkpoint(self, conn: Connection, frontier: merkle.Frontier) -> str:
        root = frontier.root()
        note = self.signer.sign(format_checkpoint(Checkpoint(self.origin, frontier.size, root)))
        self.guard.signed(note)
        row = {
            "size": frontier.size,
            "root_hash": root,
            "note": note,
            "created_at": now_timestamp(),
        }
        logdb.insert_rows(conn, "log_checkpoint", [row])
        return note
