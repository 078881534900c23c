"""The tidy tables the KRIs count from: read from clindata or a trial's datasets, cut to a date."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pandas as pd

from trials.monitoring.frames import TrialData, role

_Frame = pd.DataFrame | None


@dataclass(frozen=True)
class KriTables:
    """Per-record tables, None when the trial lacks that data. subjects: subject, site,
    country, start, end (Timestamps), days (on study) of enrolled subjects. ae: subject, serious
    (bool), dated. deviations: subject, important (bool), dated. completion / treatment:
    subject, discontinued (bool), dated, for study and study drug. screening: subject, site,
    country, failed (bool), dated, per screened subject. labs: subject, grade (NaN if none),
    dated. queries: subject, status, created, resolved, age (days). pages: subject, lag (days
    from visit to entry), dated. changes: subject, points (data points), changed (data points
    changed at least once), dated (`kri_inputs`). `dated` is when the record is known; NaT when
    not."""

    subjects: pd.DataFrame
    ae: _Frame = None
    deviations: _Frame = None
    completion: _Frame = None
    treatment: _Frame = None
    screening: _Frame = None
    labs: _Frame = None
    queries: _Frame = None
    pages: _Frame = None
    changes: _Frame = None


def day(values: pd.Series) -> pd.Series:
    """ISO dates or datetimes as day Timestamps; anything else is NaT."""
    text = values.map(lambda v: v[:10] if isinstance(v, str) else None)
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")


def _number(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


def _read(name: str, directories: tuple[Path, ...]) -> _Frame:
    for directory in directories:
        path = directory / f"{name}.csv.gz"
        if path.is_file():
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    return None


def from_clindata(*directories: Path) -> KriTables:
    """Tables from clindata's raw extracts, searched for in `directories` in order. Sites are
    clindata's ``invid`` (gsm's site key; one-to-one with ``siteid``)."""
    dm = _read("rawplus_dm", directories)
    if dm is None:
        raise FileNotFoundError("no rawplus_dm in " + ", ".join(map(str, directories)))
    dm = dm[dm["enrollyn"] == "Y"]
    subjects = pd.DataFrame(
        {
            "subject": dm["subjid"],
            "site": dm["invid"],
            "country": dm["country"],
            "start": day(dm["firstparticipantdate"]),
            "end": day(dm["lastparticipantdate"]),
            "days": _number(dm["timeonstudy"]),
        }
    ).reset_index(drop=True)
    tables: dict[str, _Frame] = {}
    if (ae := _read("rawplus_ae", directories)) is not None:
        tables["ae"] = pd.DataFrame(
            {
                "subject": ae["subjid"],
                "serious": ae["aeser"] == "Y",
                "dated": day(ae["mincreated_dts"]),
            }
        )
    if (pdv := _read("ctms_protdev", directories)) is not None:
        tables["deviations"] = pd.DataFrame(
            {
                "subject": pdv["subjectenrollmentnumber"],
                "important": pdv["deemedimportant"] == "Yes",
                "dated": day(pdv["deviationdate"]),
            }
        )
    if (sc := _read("rawplus_studcomp", directories)) is not None:
        tables["completion"] = pd.DataFrame(
            {
                "subject": sc["subjid"],
                "discontinued": sc["compyn"] == "N",
                "dated": day(sc["mincreated_dts"]),
            }
        )
    if (en := _read("rawplus_enroll", directories)) is not None:
        tables["screening"] = pd.DataFrame(
            {
                "subject": en["subjectid"],
                "site": en["invid"],
                "country": en["country"],
                "failed": en["enrollyn"] == "N",
                "dated": day(en["enroll_dt"]),
            }
        )
    if (sv := _read("rawplus_visdt", directories)) is not None:
        # gsm's kri0010 reads EDC data pages; visit-date pages are the part clindata ships as CSV.
        created = day(sv["mincreated_dts"])
        tables["pages"] = pd.DataFrame(
            {
                "subject": sv["subjid"],
                "lag": (created - day(sv["visit_dt"])).dt.days,
                "dated": created,
            }
        )
    if (qs := _read("edc_queries", directories)) is not None:
        # Queries name the subject as EDC's subject_nsv; DM maps it to subjid, as gsm does.
        lookup = dm.set_index("subject_nsv")["subjid"]
        tables["queries"] = pd.DataFrame(
            {
                "subject": qs["subjectname"].map(lookup),
                "status": qs["querystatus"],
                "created": day(qs["created"]),
                "resolved": day(qs["resolved"]),
                "age": _number(qs["queryage"]),
            }
        )
    return KriTables(subjects, **tables)


# Column roles in a trial's datasets: SDTM names first, then the demo extracts' names.
_START = ("RFSTDTC", "RFICDTC")
_END = ("RFENDTC", "DTHDTC")
_COUNTRY = ("COUNTRY",)
_AE_DATE = ("CREATED", "AESTDTC", "AESTDT")
_IMPORTANT = ("DEEMEDIMPORTANT", "IMPORTANT", "DVIMP")
_DV_DATE = ("CREATED", "DVSTDTC", "DEVIATIONDATE")
_LB_DATE = ("CREATED", "LBDTC")
_DS_DATE = ("CREATED", "DSSTDTC")


def from_trial(data: TrialData) -> KriTables:
    """Tables from a trial's datasets by domain (DM, AE, SV, DV, DS, LB; SDTM or the demo's
    extract names). Time on study is DM's RFSTDTC to RFENDTC, or else each subject's first to
    last visit in SV; domains the trial lacks stay None, so their KRIs are reported unanalysed.
    Data points and their changes (kri0011) come from a `kri_inputs.TrialHistory`'s points."""
    sets = {k.upper(): v for k, v in data.datasets.items()}
    subjects = _subjects(data, sets)
    known = set(subjects["subject"])
    out: dict[str, _Frame] = {}
    if (ae := _domain(sets, "AE", known)) is not None and (col := role(ae, ("AESER",))):
        out["ae"] = pd.DataFrame(
            {"subject": ae["_subject"], "serious": ae[col] == "Y", "dated": _dated(ae, _AE_DATE)}
        )
    dv = _domain(sets, "DV", known)
    dv = _domain(sets, "PD", known) if dv is None else dv
    if dv is not None and (col := role(dv, _IMPORTANT)):
        important = dv[col].astype(str).str.upper().isin(["Y", "YES", "TRUE", "1"])
        out["deviations"] = pd.DataFrame(
            {"subject": dv["_subject"], "important": important, "dated": _dated(dv, _DV_DATE)}
        )
    ds = _domain(sets, "DS", known)
    if ds is not None and (col := role(ds, ("DSDECOD",))):
        # SDTM DS also holds milestones (consent, randomisation); only disposition events count.
        if "DSCAT" in ds.columns:
            ds = ds[ds["DSCAT"].astype(str).str.upper() == "DISPOSITION EVENT"]
        final = ds.drop_duplicates("_subject", keep="last")
        out["completion"] = pd.DataFrame(
            {
                "subject": final["_subject"],
                "discontinued": final[col].astype(str).str.upper() != "COMPLETED",
                "dated": _dated(final, _DS_DATE),
            }
        )
    sc = _domain(sets, "STUDCOMP", known)
    if "completion" not in out and sc is not None and (col := role(sc, ("COMPYN",))):
        done = {"subject": sc["_subject"], "discontinued": sc[col] == "N"}
        out["completion"] = pd.DataFrame({**done, "dated": _dated(sc, _DS_DATE)})
    out.update(_screening_and_queries(sets, data.roster))
    lb = _domain(sets, "LB", known)
    if lb is not None and (col := role(lb, ("LBTOXGR", "TOXGR"))):
        out["labs"] = pd.DataFrame(
            {"subject": lb["_subject"], "grade": _number(lb[col]), "dated": _dated(lb, _LB_DATE)}
        )
    sv = _domain(sets, "SV", known)
    if sv is not None and role(sv, ("CREATED",)):
        visit = day(sv[role(sv, ("VISITDT", "SVSTDTC")) or "CREATED"])
        created = day(sv["CREATED"])
        out["pages"] = pd.DataFrame(
            {"subject": sv["_subject"], "lag": (created - visit).dt.days, "dated": created}
        )
    points = getattr(data, "points", None)  # `kri_inputs.TrialHistory`: read from the log
    if points is not None:
        points = points.assign(subject=points["subject"].astype(str))
        out["changes"] = points[points["subject"].isin(known)].reset_index(drop=True)
    return KriTables(subjects, **out)


def _screening_and_queries(
    sets: Mapping[str, pd.DataFrame], roster: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """A screening log (ENROLL: subject, site, ENROLLYN) and EDC queries (QUERY: subject,
    QUERYSTATUS, CREATED, RESOLVED), when the trial submits them."""
    out = {}
    log = sets.get("ENROLL")
    if (
        log is not None
        and (yn := role(log, ("ENROLLYN",)))
        and (site := role(log, ("SITEID", "SITE")))
    ):
        subject = role(log, ("SUBJECTID", "USUBJID", "SUBJECT")) or yn
        out["screening"] = pd.DataFrame(
            {
                "subject": log[subject].astype(str) + "#" + log.index.astype(str),
                "site": log[site],
                "country": log[country] if (country := role(log, _COUNTRY)) else None,
                "failed": log[yn] == "N",
                "dated": _dated(log, ("ENROLLDT", "ENROLL_DT", "CREATED")),
            }
        )
    known = set(roster["subject"].astype(str))
    queries = _domain(sets, "QUERY", known)
    if queries is not None and (status := role(queries, ("QUERYSTATUS",))):
        created, resolved = _dated(queries, ("CREATED",)), _dated(queries, ("RESOLVED",))
        # An open query's age runs to the latest date the extract knows of, as a stand-in for
        # its extraction date; a resolved one's age counts both ends (clindata's queryage).
        latest = pd.concat([created, resolved]).max()
        age = (resolved.fillna(latest) - created).dt.days + 1
        if column := role(queries, ("QUERYAGE",)):
            age = _number(queries[column]).fillna(age)
        out["queries"] = pd.DataFrame(
            {"subject": queries["_subject"], "status": queries[status], "created": created,
             "resolved": resolved, "age": age}
        )  # fmt: skip
    return out


def _domain(sets: Mapping[str, pd.DataFrame], name: str, known: set[str]) -> _Frame:
    frame = sets.get(name)
    if frame is None or (subject := role(frame, ("USUBJID", "SUBJECT", "SUBJID"))) is None:
        return None
    frame = frame.assign(_subject=frame[subject].astype(str))
    return frame[frame["_subject"].isin(known)]


def _dated(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.Series:
    column = role(frame, names)
    return day(frame[column]) if column else pd.Series(pd.NaT, index=frame.index)


def _subjects(data: TrialData, sets: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    roster = data.roster[["subject", "site"]].dropna().astype(str).drop_duplicates("subject")
    dm = sets.get("DM")
    index = roster.set_index("subject").index
    country = pd.Series(None, index=index, dtype=object)
    start = end = pd.Series(pd.NaT, index=index)
    if dm is not None and (subject := role(dm, ("USUBJID", "SUBJECT", "SUBJID"))):
        dm = dm.drop_duplicates(subject).set_index(dm[subject].astype(str).rename("subject"))
        if col := role(dm, _COUNTRY):
            country = dm[col].reindex(index)
        if first := role(dm, _START):
            # No end date: still on study, so it counts in snapshots up to their date only.
            start = day(dm[first]).reindex(index)
            end = day(dm[last]).reindex(index) if (last := role(dm, _END)) else end
    sv = sets.get("SV")
    if start.isna().all() and sv is not None and (subject := role(sv, ("USUBJID", "SUBJECT"))):
        when = day(sv[role(sv, ("VISITDT", "SVSTDTC")) or subject])
        span = when.groupby(sv[subject].astype(str)).agg(["min", "max"])
        start, end = span["min"].reindex(index), span["max"].reindex(index)
    frame = pd.DataFrame(
        {"subject": index, "site": roster["site"].to_numpy(), "country": country.to_numpy()}
    )
    frame["start"], frame["end"] = start.to_numpy(), end.to_numpy()
    frame["days"] = (frame["end"] - frame["start"]).dt.days + 1
    return frame


def restrict(tables: KriTables, date: pd.Timestamp) -> tuple[KriTables, dict[str, int]]:
    """`tables` as they stood on `date`: subjects who had started, their days on study up to
    it, and only records dated on or before it. Also how many undated records each table lost:
    a snapshot cannot place them, so they count only in the full analysis."""
    s = tables.subjects
    s = s[s["start"].notna() & (s["start"] <= date)].copy()
    s["end"] = s["end"].where(s["end"].notna() & (s["end"] <= date), date)
    s["days"] = (s["end"] - s["start"]).dt.days + 1
    changed: dict[str, pd.DataFrame] = {"subjects": s.reset_index(drop=True)}
    dropped: dict[str, int] = {}
    for f in fields(tables):
        table = getattr(tables, f.name)
        if f.name == "subjects" or table is None:
            continue
        column = "created" if f.name == "queries" else "dated"
        dropped[f.name] = int(table[column].isna().sum())
        kept = table[table[column].notna() & (table[column] <= date)].copy()
        if f.name == "queries":
            open_ = kept["resolved"].isna() | (kept["resolved"] > date)
            kept["status"] = kept["status"].where(~open_, "Open")
            # clindata's queryage counts both ends: a query resolved the day it was raised is 1.
            until = kept["resolved"].where(~open_, date)
            kept["age"] = (until - kept["created"]).dt.days + 1
        changed[f.name] = kept.reset_index(drop=True)
    return replace(tables, **changed), dropped
