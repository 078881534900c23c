"""Small SDTM-shaped trials under the null, and planted fabrications, for calibrating monitoring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trials.monitoring.frames import TrialData

#: (domain, test code, unit, mean, between-subject SD, within-subject SD, recording step).
TESTS = [
    ("VS", "SYSBP", "mmHg", 128.0, 14.0, 8.0, 1.0),
    ("VS", "DIABP", "mmHg", 80.0, 9.0, 6.0, 1.0),
    ("VS", "PULSE", "beats/min", 72.0, 9.0, 7.0, 1.0),
    ("VS", "TEMP", "C", 36.7, 0.2, 0.25, 0.1),
    ("VS", "WEIGHT", "kg", 76.0, 14.0, 0.8, 0.1),
    ("LB", "ALT", "U/L", 24.0, 7.0, 5.0, 1.0),
    ("LB", "CREAT", "umol/L", 80.0, 14.0, 7.0, 1.0),
    ("LB", "GLUC", "mmol/L", 5.6, 0.7, 0.6, 0.1),
    ("LB", "HGB", "g/dL", 13.8, 1.2, 0.5, 0.1),
    ("LB", "K", "mmol/L", 4.3, 0.3, 0.3, 0.1),
    ("LB", "SODIUM", "mmol/L", 140.0, 2.5, 2.0, 1.0),
]
#: Readers round this share of blood pressures to the nearest 10 mmHg at every site (a real,
#: trial-wide habit: Kirkwood et al. 2013), so honest digits are not uniform.
BP_ZERO_SHARE = 0.3
AE_PER_DAY = 0.03
#: Sites differ in AE rate by a Gamma(AE_SHAPE, 1/AE_SHAPE) factor (SD 14 %): over-dispersion.
AE_SHAPE = 50.0
VISIT_DAYS = 14
TERMS = ["HEADACHE", "NAUSEA", "FATIGUE", "DIZZINESS", "RASH", "COUGH", "DIARRHOEA", "INSOMNIA"]


@dataclass(frozen=True)
class Habits:
    """Legitimate per-site recording habits: a coarser scale, blood pressures read to 2 mmHg,
    glucose reported in mg/dL (converted in LBSTRESN)."""

    half_kg_site: int = 2
    even_bp_site: int = 3
    mg_dl_site: int = 4


def site_name(index: int) -> str:
    return f"{index + 1:02d}"


def _text(values: np.ndarray, step: float) -> list[str]:
    places = 0 if step >= 1 else len(f"{step:g}".split(".")[1])
    return [f"{v:.{places}f}" for v in values]


def simulate_sdtm(
    seed: int, sites: int = 12, subjects: int = 8, visits: int = 10, habits: Habits = Habits()
) -> TrialData:
    """A null trial shaped like SDTM: DM, SV, VS, LB (with study days, sequence numbers and
    reference ranges that are not measurements, and a categorical urine test), AE; small benign
    site effects and the `habits` above."""
    rng = np.random.default_rng(seed)
    n = sites * subjects
    site_of = np.repeat(np.arange(sites), subjects)
    ids = [f"STUDY-{site_name(int(s))}-{i:03d}" for i, s in enumerate(site_of)]
    site_start = pd.Timestamp("2013-01-07") + pd.to_timedelta(rng.integers(0, 90, sites), "D")
    start = site_start[site_of] + pd.to_timedelta(rng.integers(0, 45, n) // 7 * 7, "D")
    end = start + pd.Timedelta(days=VISIT_DAYS * (visits - 1))
    dm = pd.DataFrame(
        {
            "STUDYID": "STUDY",
            "DOMAIN": "DM",
            "USUBJID": ids,
            "SITEID": [site_name(int(s)) for s in site_of],
            "AGE": rng.normal(62, 9, n).round().clip(40, 88).astype(int).astype(str),
            "SEX": rng.choice(["F", "M"], n),
            "ARM": rng.choice(["Placebo", "Drug"], n),
            "RFSTDTC": start.strftime("%Y-%m-%d"),
            "RFENDTC": end.strftime("%Y-%m-%d"),
        }
    )
    day = np.tile(np.arange(visits) * VISIT_DAYS, n)
    subj = np.repeat(np.arange(n), visits)
    visit_date = start[subj] + pd.to_timedelta(day, "D")
    sv = pd.DataFrame(
        {
            "STUDYID": "STUDY",
            "DOMAIN": "SV",
            "USUBJID": np.asarray(ids)[subj],
            "VISITNUM": (np.tile(np.arange(visits), n) + 1).astype(str),
            "VISIT": [f"WEEK {2 * v}" for v in np.tile(np.arange(visits), n)],
            "SVSTDTC": visit_date.strftime("%Y-%m-%d"),
            "SVSTDY": (day + 1).astype(str),
        }
    )
    findings: dict[str, list[pd.DataFrame]] = {"VS": [], "LB": []}
    site_effect = rng.normal(0, 0.15, (sites, len(TESTS)))
    for t, (domain, code, unit, mean, between, within, step) in enumerate(TESTS):
        level = mean + between * (rng.normal(0, 1, n) + site_effect[site_of, t])
        values = level[subj] + rng.normal(0, within, subj.size)
        steps = np.full(subj.size, step)
        if code == "WEIGHT":
            steps[site_of[subj] == habits.half_kg_site] = 0.5
        if code in ("SYSBP", "DIABP"):
            steps[site_of[subj] == habits.even_bp_site] = 2.0
            steps[rng.random(subj.size) < BP_ZERO_SHARE] = 10.0
        recorded = np.round(values / steps) * steps
        text = np.array(_text(recorded, step), dtype=object)
        units = np.full(subj.size, unit, dtype=object)
        std = recorded.copy()
        if code == "GLUC":
            mg = site_of[subj] == habits.mg_dl_site
            text[mg] = [f"{v:.0f}" for v in recorded[mg] * 18.0]
            units[mg] = "mg/dL"
            std[mg] = np.round(np.round(recorded[mg] * 18.0) / 18.0, 2)
        frame = pd.DataFrame(
            {
                "USUBJID": np.asarray(ids)[subj],
                f"{domain}TESTCD": code,
                f"{domain}ORRES": text,
                f"{domain}ORRESU": units,
                f"{domain}STRESN": [f"{v:g}" for v in std],
                f"{domain}STRESU": unit,
                "VISITNUM": sv["VISITNUM"].to_numpy(),
                "VISIT": sv["VISIT"].to_numpy(),
                f"{domain}DTC": sv["SVSTDTC"].to_numpy(),
                f"{domain}DY": sv["SVSTDY"].to_numpy(),
            }
        )
        if domain == "LB":
            frame["LBORNRLO"] = f"{mean - 2 * between:g}"
            frame["LBORNRHI"] = f"{mean + 2 * between:g}"
        findings[domain].append(frame)
    urine = pd.DataFrame(
        {
            "USUBJID": np.asarray(ids)[subj],
            "LBTESTCD": "PROT",
            "LBORRES": rng.choice(
                ["NEGATIVE", "TRACE", "POSITIVE"], subj.size, p=[0.85, 0.1, 0.05]
            ),
            "LBORRESU": "",
            "LBSTRESN": None,
            "LBSTRESU": "",
            "VISITNUM": sv["VISITNUM"].to_numpy(),
            "VISIT": sv["VISIT"].to_numpy(),
            "LBDTC": sv["SVSTDTC"].to_numpy(),
            "LBDY": sv["SVSTDY"].to_numpy(),
        }
    )
    findings["LB"].append(urine)
    datasets = {"DM": dm, "SV": sv}
    for domain, parts in findings.items():
        frame = pd.concat(parts, ignore_index=True).sort_values(["USUBJID", f"{domain}DTC"])
        frame.insert(0, "DOMAIN", domain)
        frame.insert(0, "STUDYID", "STUDY")
        frame[f"{domain}SEQ"] = (frame.groupby("USUBJID").cumcount() + 1).astype(str)
        datasets[domain] = frame.reset_index(drop=True)
    rate = AE_PER_DAY * rng.gamma(AE_SHAPE, 1 / AE_SHAPE, sites)[site_of]
    datasets["AE"] = adverse_events(rng, ids, start, rate, VISIT_DAYS * (visits - 1) + 1)
    roster = pd.DataFrame({"subject": ids, "site": [site_name(int(s)) for s in site_of]})
    consent = pd.DataFrame(
        {"subject": ids, "consented": (start - pd.Timedelta(days=3)).strftime("%Y-%m-%d")}
    )
    return TrialData({k: v.astype(object) for k, v in datasets.items()}, roster, consent)


def adverse_events(
    rng: np.random.Generator, ids: list[str], start: pd.DatetimeIndex, rate: np.ndarray, days: int
) -> pd.DataFrame:
    count = rng.poisson(rate * days)
    subj = np.repeat(np.arange(len(ids)), count)
    onset = start[subj] + pd.to_timedelta(rng.integers(0, days, subj.size), "D")
    term = rng.choice(TERMS, subj.size)
    ae = pd.DataFrame(
        {
            "STUDYID": "STUDY",
            "DOMAIN": "AE",
            "USUBJID": np.asarray(ids)[subj],
            "AETERM": term,
            "AEDECOD": term,
            "AESEV": rng.choice(["MILD", "MODERATE", "SEVERE"], subj.size, p=[0.6, 0.3, 0.1]),
            "AESER": rng.choice(["N", "Y"], subj.size, p=[0.95, 0.05]),
            "AESTDTC": onset.strftime("%Y-%m-%d"),
        }
    )
    ae["AESEQ"] = (ae.groupby("USUBJID").cumcount() + 1).astype(str)
    return ae


# --- planted fabrications ----------------------------------------------------------------------


def _with(data: TrialData, domain: str, frame: pd.DataFrame) -> TrialData:
    datasets = dict(data.datasets)
    datasets[domain] = frame.reset_index(drop=True).astype(object)
    return TrialData(datasets, data.roster, data.consent)


def _at(frame: pd.DataFrame, site: str) -> pd.Series:
    return frame["USUBJID"].str.split("-").str[1] == site


def plant_copied_records(data: TrialData, site: str, copies: int = 3) -> TrialData:
    """Whole records: `copies` subjects of `site` get every VS and LB record of its first
    subject, dates and all (only USUBJID and the sequence number differ)."""
    out = data
    for domain in ("VS", "LB"):
        frame = out.datasets[domain].copy()
        subjects = sorted(frame.loc[_at(frame, site), "USUBJID"].unique())
        source = frame[frame["USUBJID"] == subjects[0]]
        parts = [frame[~frame["USUBJID"].isin(subjects[1 : copies + 1])]]
        parts += [source.assign(USUBJID=target) for target in subjects[1 : copies + 1]]
        out = _with(out, domain, pd.concat(parts, ignore_index=True))
    return out


def plant_copied_vitals(data: TrialData, site: str) -> TrialData:
    """Every other subject of `site` gets the vital-sign values of its first subject, visit by
    visit, but keeps its own dates."""
    vs = data.datasets["VS"].copy()
    at = _at(vs, site)
    first = sorted(vs.loc[at, "USUBJID"].unique())[0]
    source = vs[vs["USUBJID"] == first].set_index(["VSTESTCD", "VISITNUM"])
    for column in ("VSORRES", "VSSTRESN"):
        key = pd.MultiIndex.from_frame(vs.loc[at, ["VSTESTCD", "VISITNUM"]])
        vs.loc[at, column] = source[column].reindex(key).to_numpy()
    return _with(data, "VS", vs)


def plant_uniform_digits(data: TrialData, site: str, seed: int = 0) -> TrialData:
    """`site` invents its blood pressures: every last digit drawn uniformly, with none of the
    rounding to 10 mmHg that the other sites' readers show."""
    rng = np.random.default_rng(seed)
    vs = data.datasets["VS"].copy()
    hit = _at(vs, site) & vs["VSTESTCD"].isin(["SYSBP", "DIABP"])
    values = vs.loc[hit, "VSORRES"].astype(float).to_numpy()
    invented = (values // 10) * 10 + rng.integers(0, 10, values.size)
    vs.loc[hit, "VSORRES"] = [f"{v:.0f}" for v in invented]
    vs.loc[hit, "VSSTRESN"] = [f"{v:.0f}" for v in invented]
    return _with(data, "VS", vs)


def plant_ae_rate(data: TrialData, site: str, factor: float, seed: int = 0) -> TrialData:
    """`site` reports `factor` times its AEs: a thinned (under-reporting) or extended list."""
    rng = np.random.default_rng(seed)
    ae = data.datasets["AE"]
    at = _at(ae, site)
    if factor < 1:
        keep = ~at | (rng.random(len(ae)) < factor)
        return _with(data, "AE", ae[keep])
    extra = ae[at].sample(frac=factor - 1, replace=True, random_state=seed)
    shifted = pd.to_datetime(extra["AESTDTC"]) + pd.to_timedelta(
        rng.integers(1, 20, len(extra)), "D"
    )
    extra = extra.assign(
        AESTDTC=shifted.dt.strftime("%Y-%m-%d"), AETERM=rng.choice(TERMS, len(extra))
    )
    return _with(data, "AE", pd.concat([ae, extra.assign(AEDECOD=extra["AETERM"])]))


def plant_lab_shift(data: TrialData, site: str, factor: float = 1.2) -> TrialData:
    """`site`'s numeric lab results are all `factor` times what they were (a miscalibrated or
    invented series), original and standard values alike."""
    lb = data.datasets["LB"].copy()
    hit = _at(lb, site) & lb["LBSTRESN"].notna()
    for column in ("LBORRES", "LBSTRESN"):
        values = pd.to_numeric(lb.loc[hit, column], errors="coerce") * factor
        lb.loc[hit, column] = [f"{v:.1f}" for v in values]
    return _with(data, "LB", lb)
