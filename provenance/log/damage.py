"""What a verification finds: problems, each naming the entry index where it starts, totals, and
what a stored value is when it is not what it should be."""

from __future__ import annotations

from dataclasses import dataclass, field

#: When several problems start at one index, the one named first explains the others.
KINDS_OF_DAMAGE = (
    "missing entry",
    "extra entry",
    "moved entry",
    "edited entry",
    "broken link",
    "bad signature",
    "bad statement",
    "bad checkpoint",
    "root mismatch",
    "edited tree hash",
    "missing tree hash",
    "extra tree hash",
)


@dataclass(frozen=True)
class Problem:
    index: int
    what: str  # one of KINDS_OF_DAMAGE
    detail: str

    def sort_key(self) -> tuple[int, int]:
        return self.index, KINDS_OF_DAMAGE.index(self.what)


@dataclass
class VerifyReport:
    """Totals of one verification run; `problems` is empty when the log is intact."""

    entries: int = 0  # checked in this run
    signatures: int = 0
    checkpoints: int = 0
    nodes: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    #: Entries the log holds (as read): everything below is verified when the report is ok.
    size: int = 0
    #: The size this run resumed from (its earlier entries were verified before), 0 if none.
    resumed_from: int = 0
    #: Why a resumable run checked everything after all ("" when it resumed or was not asked to).
    resume_refused: str = ""
    #: The last run that checked every entry: its size and when (from the stored state).
    full_size: int = 0
    full_at: str = ""
    #: When this run finished, and whether its state was stored for the next run to resume.
    verified_at: str = ""
    saved: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems, key=Problem.sort_key) if self.problems else None

    def add(self, index: int, what: str, detail: str) -> None:
        self.problems.append(Problem(index, what, detail))

    def scope(self) -> str:
        """What this run covered: everything, or the entries after an earlier verification."""
        if not self.resumed_from:
            refused = f" ({self.resume_refused})" if self.resume_refused else ""
            return f"every entry checked{refused}"
        full = f"; checked in full at size {self.full_size:,} at {self.full_at}"
        if self.resumed_from == self.size:
            return f"nothing was appended since entry {self.size - 1:,} was verified{full}"
        return (
            f"resumed after entry {self.resumed_from - 1:,} (verified earlier{full}); "
            f"checked entries {self.resumed_from:,}..{self.size - 1:,}"
        )

    def summary(self) -> str:
        counts = (
            f"{self.entries} entries, {self.signatures} signatures, {self.checkpoints} "
            f"checkpoints, {self.nodes} tree hashes in {self.seconds:.1f}s"
        )
        first = self.first
        if first is None:
            return f"log intact: {counts}\n{self.scope()}"
        return (
            f"LOG DAMAGED: first bad index {first.index}: {first.what}: {first.detail}\n"
            f"{len(self.problems)} problem(s) found; checked {counts}\n{self.scope()}"
        )


def blob(value: object) -> bytes | None:
    """Stored bytes as bytes; None for anything else a column may hold (SQLite types loosely)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    return None


def described(value: object) -> str:
    """What a stored value is, for a finding: its type, and its length if it has bytes."""
    found = blob(value)
    if found is not None:
        return f"{len(found)} bytes"
    return "NULL" if value is None else f"a value of type {type(value).__name__}"
