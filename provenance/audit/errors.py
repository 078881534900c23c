"""What an audit finds wrong: a log that contradicts itself, a bad entry, a bad bundle."""

from __future__ import annotations

from provenance.log.errors import VerificationError


class Inconsistent(VerificationError):
    """The log contradicts what was seen of it before, or its own signed checkpoint: a split
    view, a rollback, or tiles that do not lead to the signed root."""

    slug, title = "inconsistent-log", "The log is not consistent with what was seen before"


class BadEntry(VerificationError):
    """An entry the log serves is not what its tree, its signature or the log's rules say."""

    slug, title = "bad-entry", "A log entry does not verify"


def bad_entry(index: int, detail: str) -> BadEntry:
    return BadEntry(f"entry {index}: {detail}", index=index)


class BadBundle(VerificationError):
    """A proof bundle that does not verify; the detail names the part."""

    slug, title = "bad-bundle", "The proof bundle does not verify"
