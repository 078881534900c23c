"""Whether a stored verification state may be resumed from: it must agree with what the log
signed and stores at its size; otherwise the verification checks everything."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from provenance.errors import Error
from provenance.log import merkle
from provenance.log.canonical import parse_json
from provenance.log.damage import blob
from provenance.log.note import Verifier, open_checkpoint
from provenance.log.personality import Registry
from provenance.log.store import logdb, verification
from provenance.log.verify_state import VerifiedState, decode, registry_fingerprint

Refusal = tuple[None, str]


def _stored_state(conn: Connection, registry: Registry) -> VerifiedState | str:
    row = verification.latest(conn)
    if row is None:
        return "no earlier verification is stored"
    try:
        state = decode(str(row[2]), registry.key_columns)
    except (Error, ValueError, KeyError, TypeError) as exc:
        return f"the stored verification state is unreadable ({exc})"
    if state.point.size != row[0] or state.root != blob(row[1]):
        return "the stored verification state contradicts its own row"
    return state


def _signed(conn: Connection, state: VerifiedState, verifier: Verifier, origin: str) -> str:
    """Why the checkpoint signed at the state's size does not vouch for it ("" if it does)."""
    size = state.point.size
    row = logdb.raw_checkpoint(conn, size)
    if row is None:
        return f"no checkpoint of size {size} is stored"
    try:
        checkpoint = open_checkpoint(str(row[2]), verifier, origin)
    except Error as exc:
        return f"the checkpoint of size {size} does not verify: {exc.detail}"
    if (checkpoint.size, checkpoint.root_hash) != (size, state.root) or blob(row[1]) != state.root:
        return f"the checkpoint of size {size} signs another root"
    try:
        frontier = merkle.Frontier(size, state.point.frontier)
    except ValueError as exc:
        return f"the stored frontier is malformed ({exc})"
    if frontier.root() != state.root:
        return "the stored frontier does not fold to the signed root"
    return ""


def _edge(conn: Connection, state: VerifiedState) -> str:
    """Why the stored entry and tree hashes at the state's edge disagree with it ("" if not)."""
    point = state.point
    size = point.size
    if logdb.tree_size(conn) < size:
        return f"the log holds fewer than the {size} entries verified before"
    last = logdb.raw_entries(conn, size - 2, 1)
    data = blob(last[0][2]) if last and last[0][0] == size - 1 else None
    if data is None:
        return f"entry {size - 1} is not stored as bytes"
    leaf = merkle.leaf_hash(data)
    if leaf.hex() != point.prev or blob(last[0][1]) != leaf:
        return f"entry {size - 1} is not the one verified before"
    try:
        logged_at = parse_json(data).get("logged_at")
    except (Error, AttributeError):
        logged_at = None
    if logged_at != point.last_at:
        return f"entry {size - 1} was logged at another time than verified before"
    addrs = merkle.frontier_addrs(size)
    spans = [(level, idx, idx) for level, idx in addrs]
    stored = {(lv, ix): blob(h) for lv, ix, h in logdb.raw_nodes(conn, spans)}
    if [stored.get(addr) for addr in addrs] != point.frontier:
        return "the stored tree hashes at the right edge differ from those verified before"
    return ""


def resume_state(
    conn: Connection,
    registry: Registry,
    verifier: Verifier,
    origin: str,
    kept: Sequence[tuple[int, bytes]] = (),
) -> tuple[VerifiedState, str] | Refusal:
    """The stored state to resume from and "", or None and why the run must check everything.

    `kept` are (size, root) of checkpoints kept outside: one older than the state could only be
    checked against entries the resumed run skips."""
    state = _stored_state(conn, registry)
    if isinstance(state, str):
        return None, state
    if state.origin != origin:
        return None, f"the stored verification is of log {state.origin!r}"
    if state.registry != registry_fingerprint(registry):
        return None, "the stored verification replayed other statement kinds"
    size = state.point.size
    for kept_size, root in kept:
        if kept_size < size or (kept_size == size and root != state.root):
            return None, f"a checkpoint kept outside (size {kept_size}) needs the entries before"
    why = _signed(conn, state, verifier, origin) or _edge(conn, state)
    if why:
        return None, why
    return state, ""
