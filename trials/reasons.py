"""How a reason is judged: minimum content for any reason, and what discloses an outcome change."""

from __future__ import annotations

import re
from collections.abc import Iterable

from trials.timeframes import time_points

#: Reasons that explain nothing (compared lower-case, punctuation as spaces).
BOILERPLATE = frozenset(
    {
        *("", "na", "n a", "none", "nil", "null", "update", "updated", "updates"),
        *("amendment", "amended", "change", "changes", "minor changes", "correction"),
        *("corrections", "corrected", "fix", "fixed", "other", "various", "see above"),
        *("as discussed", "tbd", "tba", "todo", "per sponsor", "new version", "revised"),
        *("revision", "data update", "data correction", "administrative", "test", "testing"),
        *("placeholder", "dummy", "asdf", "reason", "no reason", "because", "ok", "yes"),
        *("done", "erase", "erasure", "delete", "deleted", "removed", "request", "x", "xx"),
        *("xxx", "see note", "see notes", "see comment", "as requested", "requested"),
    }
)
#: The fewest letters and digits (spaces counted) a reason needs to explain anything.
MIN_LENGTH = 12


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def reason_problem(reason: object) -> str | None:
    """Why `reason` is not a reason, or None when it has the minimum content.

    A reason must be text that, lower-cased with punctuation as spaces, is not boilerplate or a
    placeholder (`BOILERPLATE`), is at least `MIN_LENGTH` characters long, and holds at least
    two different words of two or more letters ("xxxxxxxxxxxxx" is one word said once)."""
    if not isinstance(reason, str):
        return "no reason was given"
    plain = _plain(reason)
    if plain in BOILERPLATE:
        return "it is boilerplate or a placeholder"
    if len(plain) < MIN_LENGTH:
        return f"it is shorter than {MIN_LENGTH} letters and digits"
    words = {w for w in plain.split() if sum(c.isalpha() for c in w) >= 2}
    if len(words) < 2:
        return "it has fewer than two different words"
    return None


def is_substantive(reason: object) -> bool:
    return reason_problem(reason) is None


# --- disclosure of outcome changes ---------------------------------------------------------

_STOPWORDS = frozenset({"with", "from", "that", "this", "than", "into", "over", "after", "time"})
#: A phrase saying that something did NOT change: the comma-separated part holding it discloses
#: nothing ("endpoints unchanged", "no change to the primary outcome", "remains the same").
_NEGATION = re.compile(
    r"\b(?:un(?:changed|altered|modified|affected|touched)"
    r"|no\s+(?:changes?|modifications?|amendments?|alterations?)"
    r"|no\s+(?:outcomes?|end[- ]?points?)\s+(?:was|were|has|have|is|are)"
    r"|(?:not|never)\s+(?:been\s+)?(?:changed|altered|modified|amended|affected|updated|touched)"
    r"|(?:do|does|did)\s+not\s+(?:change|alter|modify|affect|touch)"
    r"|remain(?:s|ed)?\s+(?:the\s+same|as\s+(?:before|is|planned)|unchanged|identical)"
    r"|(?:the\s+)?same\s+as\s+(?:before|previously|in\s+v)"
    r"|without\s+(?:any\s+)?(?:changes?|modifications?)"
    r"|nothing\s+(?:was\s+|has\s+been\s+|is\s+)?changed"
    r"|none\s+of\s+the\s+(?:outcomes?|end[- ]?points?))",
    re.I,
)
#: Words that say something changed (a verb or "now"/"instead"/"no longer").
_CHANGE = re.compile(
    r"\b(?:chang|switch|promot|demot|add|remov|drop|delet|replac|extend|extens|shorten|lengthen"
    r"|mov|renam|redefin|reclassif|merg|split|swap|modif|revis|amend|increas|reduc|decreas"
    r"|shift|upgrad|downgrad|convert|elevat|narrow|broaden|introduc|discontinu|restat|reword"
    r"|now\b|became|become|instead|no\s+longer)",
    re.I,
)
_GENERIC = re.compile(r"\b(?:outcome|end[- ]?point)s?\b", re.I)
_CLAUSES = re.compile(r"[;!?]|\.(?:\s|$)|\b(?:but|while|whereas|although|however)\b", re.I)


def _words(text: str) -> set[str]:
    return {w.rstrip("s") for w in re.findall(r"[a-z0-9]+", text.lower())}


def _names(text: str, outcome_id: str, titles: Iterable[str]) -> bool:
    """The text names the outcome: its id, or at least half the significant words of a title."""
    if re.search(rf"(?<![A-Za-z0-9]){re.escape(outcome_id)}(?![A-Za-z0-9])", text, re.I):
        return True
    said = _words(text)
    for title in titles:
        significant = {w for w in _words(title) if len(w) >= 4 and w not in _STOPWORDS}
        if significant and 2 * len(significant & said) >= len(significant):
            return True
    return False


def _typed_generic(text: str, types: Iterable[str]) -> bool:
    """A generic word qualified by the outcome's type: "primary endpoint", "secondary outcomes"."""
    return any(
        re.search(
            rf"\b{re.escape(t)}\s+(?:efficacy\s+|safety\s+)?(?:outcome|end[- ]?point)", text, re.I
        )
        for t in types
    )


def _says_change(text: str, new_values: Iterable[str]) -> bool:
    if _CHANGE.search(text):
        return True
    for value in new_values:
        points = time_points(value)
        if points and points <= time_points(text):
            return True
        if value in ("primary", "secondary") and re.search(rf"\b{value}\b", text, re.I):
            return True
    return False


def _affirmed(reason: str) -> list[str]:
    """The reason's clauses with every comma-separated part that negates a change left out."""
    clauses = []
    for clause in _CLAUSES.split(reason):
        parts = [p for p in re.split(r",|\band\b", clause) if not _NEGATION.search(p)]
        if any(p.strip() for p in parts):
            clauses.append(" ".join(parts))
    return clauses


def disclosure(
    reason: object,
    outcome_id: str,
    titles: Iterable[str] = (),
    *,
    types: Iterable[str] = (),
    new_values: Iterable[str] = (),
) -> str:
    """ "disclosed", "vague" or "hidden": does the reason say what changed in this outcome?

    A clause of the reason (split at ; . ! ? and but/while/whereas/although/however, with every
    comma- or "and"-separated part that says something did not change left out) discloses the
    change when it both names the outcome (its id, half the significant words of its title, or
    "outcome"/"endpoint" with the outcome's old or new type) and says that it changed (a change
    word such as promoted, dropped, extended, now, or the new type or time frame). A clause
    that speaks of outcomes or endpoints in general and says they changed is "vague"."""
    if not isinstance(reason, str):
        return "hidden"
    types, new_values, titles = list(types), list(new_values), list(titles)
    vague = False
    for clause in _affirmed(reason):
        if not _says_change(clause, new_values):
            continue
        if _names(clause, outcome_id, titles) or _typed_generic(clause, types):
            return "disclosed"
        vague = vague or bool(_GENERIC.search(clause))
    return "vague" if vague else "hidden"
