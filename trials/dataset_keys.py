"""The natural keys of SDTM domains: the columns that identify a record across versions."""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Natural keys of the SDTM domains whose records are not identified by STUDYID, USUBJID and
#: --SEQ (SDTMIG 3.4, each domain's "natural key"); every other domain uses those three.
KEYS: dict[str, tuple[str, ...]] = {
    "DM": ("STUDYID", "USUBJID"),
    "SV": ("STUDYID", "USUBJID", "VISITNUM"),
    "TA": ("STUDYID", "ARMCD", "TAETORD"),
    "TE": ("STUDYID", "ETCD"),
    "TI": ("STUDYID", "IETESTCD"),
    "TS": ("STUDYID", "TSPARMCD", "TSSEQ"),
    "TV": ("STUDYID", "VISITNUM", "ARMCD"),
    "RELREC": ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "RELID"),
    "SUPP": ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL", "QNAM"),  # SUPP-- domains
}
#: Columns that name the subject when a file has no USUBJID (raw EDC extracts).
SUBJECT_COLUMNS = ("USUBJID", "SUBJID", "SUBJECT")
_SEQ = re.compile(r"[A-Z]{2}SEQ")


def natural_key(domain: str, common: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """The key columns for `domain` among the columns both versions have, and where they came
    from: the domain's key (`domain`; STUDYID may be missing in a one-study file), the subject
    and --SEQ (`seq`), or none (`row-order`: rows matched by content and position)."""
    domain = domain.upper()
    have = set(common)
    table = KEYS.get("SUPP" if domain.startswith("SUPP") else domain)
    keys = table or ("STUDYID", "USUBJID", f"{domain}SEQ")
    if {c for c in keys if c != "STUDYID"} <= have:
        return tuple(c for c in keys if c in have), "domain"
    seq = f"{domain}SEQ" if f"{domain}SEQ" in have else None
    if seq is None:
        found = [c for c in common if _SEQ.fullmatch(c)]
        seq = found[0] if len(found) == 1 else None
    if seq is not None:
        subject = next((c for c in SUBJECT_COLUMNS if c in have), None)
        return (*(c for c in ("STUDYID", subject) if c in have), seq), "seq"
    return (), "row-order"
