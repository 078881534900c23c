"""Replaying entries in order, from any source: chain links, content, signers, tree, roots.

The database verify and the verify over HTTP feed the same `Replay`; each says where its
entries, stored tree hashes and signed checkpoints come from. Memory stays O(page + log n):
the tree is a frontier, and each node it completes is compared with the stored one as the
page that completes it is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from provenance.errors import Error
from provenance.log import identity, merkle
from provenance.log.canonical import canonical_bytes, parse_json
from provenance.log.damage import VerifyReport, blob, described
from provenance.log.entries import ZERO_HASH_HEX, PayloadFetch, open_entry_with
from provenance.log.errors import BadStatement
from provenance.log.kinds import GENESIS, check_audience_and_age, signing_key_der
from provenance.log.personality import Registry
from provenance.log.profile import LogProfile, entry_context, genesis_profile
from provenance.log.sigcheck import SignatureChecks
from provenance.log.store.projection import MemoryView
from provenance.log.tree_check import CheckpointRoots, Completed


@dataclass
class ResumePoint:
    """Everything a replay needs to go on after its first `size` entries."""

    size: int = 0
    frontier: list[bytes] = field(default_factory=list)
    prev: str = ZERO_HASH_HEX  # leaf hash (hex) of entry size - 1
    last_at: str = ""  # the latest logged_at so far
    profile: LogProfile | None = None  # what the genesis entry declares
    view: MemoryView = field(default_factory=MemoryView)  # who may sign


class Replay:
    """Walks entries in order, keeping the chain, the tree and who may sign.

    `stored_leaves`: the source keeps a leaf hash beside each entry (the database does; tiles
    carry leaf hashes in the level-0 tile instead). `opener` decodes an entry, fetching a
    detached payload."""

    def __init__(
        self,
        report: VerifyReport,
        roots: CheckpointRoots,
        sigs: SignatureChecks,
        registry: Registry,
        fetch: PayloadFetch,
        start: ResumePoint | None = None,
        *,
        stored_leaves: bool = True,
    ) -> None:
        start = start if start is not None else ResumePoint(view=MemoryView(registry.key_columns))
        self.report = report
        self.roots = roots
        self.sigs = sigs
        self.registry = registry
        self.fetch = fetch
        self.stored_leaves = stored_leaves
        self.view = start.view
        self.frontier = merkle.Frontier(start.size, start.frontier)
        self.prev = start.prev
        self.last_at = start.last_at
        self.profile = start.profile
        self.next_index = start.size
        self.tree_intact = True
        #: Nodes completed since the driver last took them, in the order they completed.
        self.completed: list[Completed] = []

    def take_completed(self) -> list[Completed]:
        completed, self.completed = self.completed, []
        return completed

    def entry(self, idx: int, stored_leaf: object, data: object) -> None:
        expected = self.next_index
        if idx != expected:
            self.report.add(expected, "missing entry", f"entries {expected}..{idx - 1} are missing")
            self.tree_intact = False
        self.next_index = idx + 1
        raw = blob(data)
        stored = blob(stored_leaf)
        leaf: bytes | None
        if raw is None:
            self.report.add(idx, "edited entry", f"the stored entry is {described(data)}")
            # The tree goes on from the stored leaf hash, so only this entry is named.
            leaf = stored if stored is not None and len(stored) == merkle.HASH_SIZE else None
        else:
            leaf = merkle.leaf_hash(raw)
            if self.stored_leaves and leaf != stored:
                whole = stored is not None and len(stored) == merkle.HASH_SIZE
                odd = "" if whole else f" (it is {described(stored_leaf)})"
                self.report.add(
                    idx, "edited entry", f"entry bytes do not hash to the stored leaf hash{odd}"
                )
            self._content(idx, raw)
        self.prev = leaf.hex() if leaf is not None else ""
        if leaf is None:
            self.tree_intact = False
        if not self.tree_intact or leaf is None:
            return
        self.completed += self.frontier.append(leaf)
        roots = self.roots.at(self.frontier.size)
        if roots:
            root = self.frontier.root()
            size = self.frontier.size
            if len({signed for signed, _ in roots}) > 1:
                self.report.add(
                    idx, "bad checkpoint", f"signed checkpoints disagree at size {size}"
                )
            for signed, source in roots:
                if signed != root:
                    self.report.add(
                        idx, "root mismatch", f"tree root at size {size} differs from {source}"
                    )

    def _content(self, idx: int, data: bytes) -> None:
        try:
            entry = parse_json(data)
            if not isinstance(entry, dict):
                raise TypeError("an entry is a JSON object")
            if canonical_bytes(entry) != data:
                raise ValueError("entry is not RFC 8785 canonical")
            logged_at = entry["logged_at"]
            if not isinstance(logged_at, str):
                raise TypeError("logged_at is not a string")
        except (Error, ValueError, KeyError, TypeError) as exc:
            detail = exc.detail if isinstance(exc, Error) else str(exc)
            self.report.add(idx, "edited entry", f"entry is not a well-formed log entry ({detail})")
            return
        if entry.get("index") != idx:
            self.report.add(
                idx, "moved entry", f"row {idx} holds the entry for index {entry.get('index')}"
            )
        if entry.get("prev") != self.prev:
            self.report.add(
                idx,
                "broken link",
                f"prev {str(entry.get('prev'))[:16]}… is not the leaf hash of entry "
                f"{idx - 1} ({self.prev[:16]}…)",
            )
        if self.profile is not None and self.profile.rules >= 2 and logged_at < self.last_at:
            self.report.add(
                idx,
                "edited entry",
                f"logged_at {logged_at} is before entry {idx - 1}'s ({self.last_at}); "
                "the log's time never goes back",
            )
        self.last_at = max(self.last_at, logged_at)
        try:
            self._statement(idx, logged_at, entry)
        except Error as exc:
            self.report.add(idx, "bad statement", f"{exc.title}: {exc.detail}")
        except Exception as exc:
            # Stored bytes are untrusted: whatever they make a decoder raise is a finding about
            # this entry, never the end of the verification.
            self.report.add(
                idx, "edited entry", f"entry is not a well-formed log entry ({type(exc).__name__})"
            )

    def _statement(self, idx: int, logged_at: str, entry: dict[str, Any]) -> None:
        envelope, statement = open_entry_with(self.fetch, entry, self.registry)
        ctx = entry_context(idx, logged_at, self.profile, statement.body)
        if idx == 0:
            if statement.kind != GENESIS:
                raise BadStatement("the first entry of a log must be its log.genesis statement")
            changes: list[object] = list(identity.plan_genesis(statement, ctx))
            self.profile = genesis_profile(statement.body)
            der = signing_key_der(self.view, statement)
        else:
            rule, key = self.registry.check_signer(self.view, statement, ctx)
            check_audience_and_age(statement, ctx, rule.max_age)
            der = key.public_key
            changes = self.registry.replay_identity(self.view, rule, key, statement, ctx)
        if der is None:
            raise BadStatement("no key to check the genesis signature with")
        self.sigs.add((idx, der, envelope.pae(), envelope.signatures[0].sig))
        self.view.apply(changes)

    def finish(self) -> None:
        """After the last entry: the log must hold exactly what its checkpoints signed."""
        size = self.next_index
        self.roots.drain()
        largest = self.roots.largest
        if largest > size:
            self.report.add(
                size,
                "missing entry",
                f"the log holds {size} entries; a checkpoint of size {largest} was signed",
            )
        elif size > max(largest, self.roots.stored_largest):
            # Every append signs a checkpoint in its own transaction: entries beyond the last
            # one were put there by something else (a checkpoint that does not verify is
            # reported as such instead).
            self.report.add(
                largest,
                "extra entry",
                f"entries {largest}..{size - 1} follow the latest signed checkpoint "
                f"(size {largest})",
            )

    def resume_point(self) -> ResumePoint:
        return ResumePoint(
            self.frontier.size,
            self.frontier.hashes(),
            self.prev,
            self.last_at,
            self.profile,
            self.view,
        )
