"""Writes clindata_expected.csv: gsm 2.2.3's site KRIs on clindata, transliterated from its R code.

Independent of trials.monitoring: it follows gsm's workflow YAMLs (inst/workflow/1_mappings and
2_metrics/kri00*.yaml) and R/Input_Rate.R, Transform_Rate.R, Analyze_NormalApprox.R, Flag.R and
Summarize.R line by line. Run from the project root: python tests/vectors/gsm/clindata_reference.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
CLINDATA = HERE.parents[2] / "data" / "clindata"


def read(name: str) -> pd.DataFrame:
    folder = HERE if (HERE / f"{name}.csv.gz").is_file() else CLINDATA
    return pd.read_csv(folder / f"{name}.csv.gz", dtype=str, keep_default_na=False, na_values=[""])


def normal_approx(df: pd.DataFrame, kind: str, cuts: list[float], nmin: int) -> pd.DataFrame:
    df = df[df.den > 0].copy()
    df["metric"] = df.num / df.den
    mu = df.num.sum() / df.den.sum()
    var = mu * (1 - mu) if kind == "binary" else mu
    phi = (((df.metric - mu) / np.sqrt(var / df.den)) ** 2).mean()
    df["score"] = (df.metric - mu) / np.sqrt(phi * var / df.den)
    bins = [-np.inf, *cuts, np.inf]
    df["flag"] = pd.cut(df.score, bins, labels=[-2, -1, 0, 1, 2], right=False).astype(float)
    df.loc[df.den < nmin, ["score", "flag"]] = np.nan
    return df


def rate_input(num: pd.Series, den: pd.Series, subjects: pd.DataFrame, key: str) -> pd.DataFrame:
    g = subjects[[key, "invid"]].rename(columns={key: "s"})
    g["num"] = g.s.map(num).fillna(0)
    g["den"] = g.s.map(den).fillna(0)
    return g.groupby("invid")[["num", "den"]].sum()


def main() -> None:
    dm, ae, pdv = read("rawplus_dm"), read("rawplus_ae"), read("ctms_protdev")
    sc, en, q = read("rawplus_studcomp"), read("rawplus_enroll"), read("edc_queries")
    subj = dm[dm.enrollyn == "Y"]
    days = subj.set_index("subjid").timeonstudy.astype(float)
    count = subj.subjid.value_counts()
    q = q[q.querystatus.isin(["Open", "Answered", "Closed"])].copy()
    q["subjid"] = q.subjectname.map(subj.set_index("subject_nsv").subjid)
    old = q[q.queryage.astype(float) > 30]
    minor = pdv[pdv.deemedimportant == "No"].subjectenrollmentnumber.value_counts()
    major = pdv[pdv.deemedimportant == "Yes"].subjectenrollmentnumber.value_counts()
    ae_cuts, cuts = [-2.0, -1.0, 2.0, 3.0], [-3.0, -2.0, 2.0, 3.0]
    inputs = {
        "kri0001": (ae.subjid.value_counts(), days, "rate", ae_cuts, 30),
        "kri0002": (ae[ae.aeser == "Y"].subjid.value_counts(), days, "rate", ae_cuts, 30),
        "kri0003": (minor, days, "rate", cuts, 30),
        "kri0004": (major, days, "rate", cuts, 30),
        "kri0006": (sc[sc.compyn == "N"].subjid.value_counts(), count, "binary", cuts, 3),
        "kri0009": (old.subjid.value_counts(), q.subjid.value_counts(), "binary", cuts, 30),
    }
    parts = []
    for kri, (num, den, kind, kri_cuts, nmin) in inputs.items():
        out = normal_approx(rate_input(num, den, subj, "subjid"), kind, kri_cuts, nmin)
        parts.append(out.assign(kri=kri))
    screened = en.subjectid.value_counts()
    failed = en[en.enrollyn == "N"].subjectid.value_counts()
    out = normal_approx(rate_input(failed, screened, en, "subjectid"), "binary", cuts, 3)
    parts.append(out.assign(kri="kri0012"))
    table = pd.concat(parts).reset_index()
    sites = pd.concat([dm, en]).drop_duplicates("invid").set_index("invid").siteid
    table["siteid"] = table.invid.map(sites)
    table["score"] = table.score.round(6)
    columns = ["kri", "invid", "siteid", "num", "den", "score", "flag"]
    table[columns].sort_values(["kri", "invid"]).to_csv(HERE / "clindata_expected.csv", index=False)


if __name__ == "__main__":
    main()
