"""Per-test site distributions of labs and vitals: each site's subjects against the others'."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trials.monitoring.findings import findings
from trials.monitoring.frames import MIN_SUBJECTS, TrialData, empty_sites
from trials.monitoring.stats import mann_whitney_z, normal_sf, rank_sites, robust_rescale

EXTRAS = ["site_median", "trial_median", "scale"]
#: A test with this many eligible sites also gets its own robust scale (the larger applies).
MIN_SITES_OWN_SCALE = 10


def per_subject(values: pd.DataFrame) -> pd.DataFrame:
    """Per subject and test: mean of the standard results and, with two or more, their log SD
    (within-subject variability, too small when values are copied or invented smoothly)."""
    grouped = values.groupby(["test", "std_unit", "subject"], sort=True)["std"]
    out = grouped.agg(["mean", "std", "size"]).reset_index()
    out["site"] = out["subject"].map(values.drop_duplicates("subject").set_index("subject")["site"])
    out["log_sd"] = np.log(out["std"].where(out["size"] >= 2))
    return out


def distribution_shifts(data: TrialData) -> pd.DataFrame:
    """Each site against the rest, per test code and standard unit (--STRESN, --STRESU), on
    subject-level summaries: location (subject means) and within-subject variability (log SD).

    Repeated values of one subject are not independent, so the unit of comparison is the
    subject; a site-vs-rest Mann-Whitney z is then re-centred on the median of the sites of
    that test and scaled by 1.4826 MAD (at least 1) of all tests' centred z of that
    statistic, or of the test's own z where it has MIN_SITES_OWN_SCALE sites and that is
    larger, since sites differ for benign reasons (case mix, a local laboratory, a
    thermometer). Two-sided p; Benjamini-Hochberg across sites, tests and both statistics.
    Sites with fewer than MIN_SUBJECTS subjects on a test are not assessed.
    """
    values = findings(data)
    values = values[values["std"].notna() & np.isfinite(values["std"].astype(float))]
    values = values.assign(std=values["std"].astype(float))
    parts = []
    subjects = per_subject(values) if len(values) else pd.DataFrame()
    for (test, unit), frame in (
        subjects.groupby(["test", "std_unit"], sort=True) if len(subjects) else []
    ):
        label = f"{test} [{unit}]" if unit else test
        for statistic, column in (("location", "mean"), ("variability", "log_sd")):
            usable = frame[frame[column].notna() & np.isfinite(frame[column])]
            if usable["site"].nunique() < 3:
                continue
            z_raw = mann_whitney_z(usable[column], usable["site"])["z"]
            size = usable.groupby("site").size().reindex(z_raw.index)
            eligible = (size >= MIN_SUBJECTS).to_numpy()
            centre = float(np.median(z_raw.to_numpy()[eligible])) if eligible.any() else 0.0
            z = z_raw.to_numpy() - centre
            medians = usable.groupby("site")[column].median().reindex(z_raw.index)
            overall = float(usable[column].median())
            parts.append(
                pd.DataFrame(
                    {
                        "variable": label,
                        "test": statistic,
                        "site": z_raw.index.astype(str),
                        "n": size.to_numpy(),
                        "statistic": z_raw.to_numpy(),
                        "effect": medians.to_numpy() - overall,
                        "z": z,
                        "p": np.nan,
                        "eligible": eligible,
                        "site_median": medians.to_numpy(),
                        "trial_median": overall,
                    }
                )
            )
    if not parts:
        return empty_sites(["variable", "test"], EXTRAS)
    table = pd.concat(parts, ignore_index=True)
    # One robust scale per statistic, from every test's centred z: a few sites per test give
    # a MAD too noisy to trust, and benign site differences spread every test alike.
    for _, rows in table.groupby("test").groups.items():
        part = table.loc[rows]
        _, pooled = robust_rescale(part["z"], part["eligible"])
        for _, test_rows in part.groupby("variable").groups.items():
            own = part.loc[test_rows]
            scale = pooled
            if own["eligible"].sum() >= MIN_SITES_OWN_SCALE:
                # Enough sites to see that this test differs between sites more than most.
                scale = max(pooled, robust_rescale(own["z"], own["eligible"])[1])
            table.loc[test_rows, "z"] = own["z"] / scale
            table.loc[test_rows, "scale"] = scale
    table["p"] = 2 * normal_sf(np.abs(table["z"].to_numpy(dtype=np.float64)))
    return rank_sites(table, table["z"].abs(), ascending=False, by=["variable", "test"])
