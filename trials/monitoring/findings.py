"""SDTM findings (LB, VS, EG, ...) as one long table of measured values per test code and unit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trials.monitoring.frames import TrialData, dates, memo, records, subject_sites

FINDINGS_COLUMNS = [
    "domain",
    "test",
    "unit",
    "result",
    "text",
    "value",
    "std",
    "std_unit",
    "subject",
    "site",
    "date",
    "order",
    "row",
    "missing",
]
_NUMBER = r"[+-]?(\d+(\.\d*)?|\.\d+)"


def findings_prefix(frame: pd.DataFrame) -> str | None:
    """The variable prefix of a findings dataset (`LB` for LBTESTCD and LBORRES), else None."""
    for column in map(str, frame.columns):
        if column.endswith("TESTCD") and f"{column[:-6]}ORRES" in frame.columns:
            return column[:-6]
    return None


def findings_domains(data: TrialData) -> list[str]:
    return [d for d in sorted(data.datasets) if findings_prefix(data.datasets[d]) is not None]


def findings(data: TrialData) -> pd.DataFrame:
    """One row per findings record: `test` (domain.TESTCD), `unit` (--ORRESU), `result`
    (--ORRES as recorded), `text` (that when it is a number) and `value` (that number), `std`
    and `std_unit` (--STRESN, --STRESU), subject, site, `date` (--DTC), `order` (VISITNUM),
    `row` (1-based) and `missing` (no result, or --STAT NOT DONE).

    Only results are kept: study days, sequence numbers, reference ranges and dates are columns
    of the record, never values of it. Computed once per trial data (frames.memo); callers
    must not change it in place.
    """
    return memo(data, "findings", lambda: _findings(data))


def _findings(data: TrialData) -> pd.DataFrame:
    parts = []
    for domain in findings_domains(data):
        raw = data.datasets[domain]
        p = findings_prefix(raw)
        frame = records(data, domain)

        def column(name: str, frame: pd.DataFrame = frame) -> pd.Series:
            if name in frame.columns:
                return frame[name]
            return pd.Series(None, index=frame.index, dtype=object)

        text = column(f"{p}ORRES").map(lambda v: v.strip() if isinstance(v, str) else None)
        numeric = text.where(text.fillna("").str.fullmatch(_NUMBER), None)
        std = pd.to_numeric(column(f"{p}STRESN"), errors="coerce")
        std = std.fillna(pd.to_numeric(column(f"{p}STRESC"), errors="coerce"))
        status = column(f"{p}STAT").fillna("").astype(str).str.upper()
        parts.append(
            pd.DataFrame(
                {
                    "domain": domain,
                    "test": domain + "." + column(f"{p}TESTCD").fillna("").astype(str),
                    "unit": column(f"{p}ORRESU").fillna("").astype(str),
                    "result": text,
                    "text": numeric,
                    "value": pd.to_numeric(numeric, errors="coerce"),
                    "std": std,
                    "std_unit": column(f"{p}STRESU").fillna("").astype(str),
                    "subject": frame["subject"].astype(str),
                    "site": frame["site"],
                    "date": dates(column(f"{p}DTC")),
                    "order": pd.to_numeric(column("VISITNUM"), errors="coerce"),
                    "row": frame.index + 1,
                    "missing": (text.fillna("") == "") | (status == "NOT DONE"),
                }
            )
        )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FINDINGS_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def subjects(data: TrialData) -> pd.DataFrame:
    """Every subject with a site: the roster's, and DM's where there is no roster."""
    sites = subject_sites(data)
    return pd.DataFrame({"subject": sites.index.astype(str), "site": sites.astype(str).to_numpy()})


def subject_days(data: TrialData) -> pd.Series:
    """Days each subject was observed: DM RFSTDTC to RFENDTC inclusive where both are given,
    else the span of the subject's dated findings and visits; indexed by subject."""
    spans = []
    dm = data.datasets.get("DM")
    if dm is not None and {"RFSTDTC", "RFENDTC"} <= set(dm.columns):
        frame = records(data, "DM")
        days = (dates(frame["RFENDTC"]) - dates(frame["RFSTDTC"])).dt.days + 1
        spans.append(pd.Series(days.to_numpy(), index=frame["subject"].astype(str)))
    dated = findings(data)[["subject", "date"]]
    if "SV" in data.datasets and "SVSTDTC" in data.datasets["SV"].columns:
        sv = records(data, "SV")
        sv_dates = pd.DataFrame(
            {"subject": sv["subject"].astype(str), "date": dates(sv["SVSTDTC"])}
        )
        dated = pd.concat([dated, sv_dates])
    dated = dated.dropna()
    if len(dated):
        grouped = dated.groupby("subject")["date"]
        spans.append((grouped.max() - grouped.min()).dt.days + 1)
    out = pd.Series(dtype=float)
    for span in spans:
        span = span[span.notna() & (span > 0)].astype(float)
        out = out.combine_first(span[~span.index.duplicated()])
    return out.astype(np.float64)
