"""Charts of the trial-checks report: R2's COMPare categories and R6's consent-to-enrolment lag."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from provenance.reports.model import Chart
from trials import checks


def rule_charts(
    results: dict[str, pd.DataFrame], enrolment: pd.DataFrame, consent: pd.DataFrame
) -> dict[str, list[Chart]]:
    """Charts by rule: R2's categories if it has outcomes, R6's consent lag if it has findings
    of missing or late consent."""
    r2, r6 = results["R2"], results["R6"]
    r6 = r6[r6["finding"].isin(["no-consent", "enrolled-before-consent"])]
    return {
        "R2": [compare_chart(r2)] if len(r2) else [],
        "R6": [consent_chart(r6, enrolment, consent)] if len(r6) else [],
    }


def count_rows(frame: pd.DataFrame, column: str, value: str) -> int:
    """How many rows of `frame` have `value` in `column`."""
    return int((frame[column] == value).sum())


def compare_chart(frame: pd.DataFrame) -> Chart:
    counts = [count_rows(frame, "category", c) for c in checks.CATEGORIES]

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        shade = {"correct": "tab:green", "cannot assess": "0.6"}
        colours = [shade.get(c, "tab:red") for c in checks.CATEGORIES]
        ax.barh(list(checks.CATEGORIES), counts, color=colours)
        ax.invert_yaxis()  # in COMPare's order, top down
        ax.set_xlabel("outcomes")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    alt = ", ".join(f"{c}: {n}" for c, n in zip(checks.CATEGORIES, counts, strict=True))
    return Chart("r2_compare_categories", "Reported outcomes by COMPare category", draw, alt)


def consent_chart(found: pd.DataFrame, enrolment: pd.DataFrame, consent: pd.DataFrame) -> Chart:
    """Days from consent to enrolment of every subject at the sites with a consent finding."""
    keys = {(r["trial_id"], r["site"]) for r in checks.records(found)}
    sites = sorted(keys, key=lambda key: (key[0], str(key[1]).zfill(12)))
    first = consent.groupby(["trial_id", "subject"])["consented"].min().reset_index()
    at = enrolment.merge(pd.DataFrame(sites, columns=["trial_id", "site"]))
    at = at.merge(first, how="left", on=["trial_id", "subject"])
    lag = (pd.to_datetime(at["enrolled"]) - pd.to_datetime(at["consented"])).dt.days
    row = {key: y for y, key in enumerate(sites)}
    y = [row[key] for key in zip(at["trial_id"], at["site"], strict=True)]
    # Nearly everyone consents on the day of enrolment, so dates would hide a gap of days.
    plotted = pd.DataFrame({"y": y, "lag": lag, "none": at["consented"].isna()})
    edge = min([0.0, *plotted["lag"].dropna()]) - 10

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        fine = plotted[plotted["lag"] >= 0]
        early = plotted[plotted["lag"] < 0]
        missing = plotted[plotted["none"]]
        ax.scatter(fine["lag"], fine["y"], s=12, color="0.6", label="consented by enrolment")
        ax.scatter(early["lag"], early["y"], marker="x", color="tab:red", label="enrolled first")
        ax.scatter(
            [edge] * len(missing),
            missing["y"],
            marker="^",
            color="tab:red",
            label="no consent (at left)",
        )
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.invert_yaxis()  # sites top down in number order
        ax.set_yticks(range(len(sites)), [f"site {site}" for _, site in sites])
        ax.set_xlabel("days from consent to enrolment (negative: enrolled before consent)")
        ax.legend(loc="best", fontsize="small")
        fig.set_size_inches(8, max(3.0, 0.3 * len(sites) + 1.5))

    alt = (
        f"Days from consent to enrolment at the {len(sites)} sites with consent findings: "
        f"{count_rows(found, 'finding', 'enrolled-before-consent')} enrolled before consent, "
        f"{count_rows(found, 'finding', 'no-consent')} with no consent record."
    )
    return Chart("r6_consent_lag", "Consent against enrolment, by site", draw, alt)
