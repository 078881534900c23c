"""The supply-chain exceptions report: reads the projection and lays out what is wrong in it."""

from __future__ import annotations

from statistics import NormalDist
from typing import TYPE_CHECKING

import pandas as pd

from provenance.reports.charts import chart_axes, ranked_bars
from provenance.reports.model import (
    Chart,
    Metric,
    Params,
    Report,
    Section,
    Step,
    Table,
    report_kind,
)
from provenance.reports.source import Source
from provenance.supply.reports import exceptions as sx

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Routes drawn in the transit-time chart (the busiest); the table holds every route.
CHART_ROUTES = 8


def _count(n: int | float) -> str:
    return f"{int(n):,}"


def _alerts_chart(by_kind: pd.DataFrame) -> Chart:
    return ranked_bars(
        "alerts_by_kind",
        "Alerts per kind",
        by_kind["kind"],
        by_kind["alerts"],
        "alerts",
        colour="#b45309",
        empty="no alerts",
    )


def _transit_chart(transit: pd.DataFrame, routes: pd.DataFrame, names: pd.Series) -> Chart:
    busiest = routes.head(CHART_ROUTES)
    pairs = list(zip(busiest["sender"], busiest["recipient"], strict=True))
    groups = transit.groupby(["sender", "recipient"])["days"]
    samples = [groups.get_group(pair).to_numpy() for pair in pairs]
    labels = [f"{names.get(s, s)} → {names.get(r, r)}" for s, r in pairs]

    def draw(figure: Figure) -> None:
        axes = chart_axes(figure, not samples, "no shipments received")
        if axes is None:
            return
        axes.boxplot(samples[::-1], orientation="horizontal", tick_labels=labels[::-1])
        # Same-day deliveries would otherwise stretch a scale of seconds across the plot.
        longest = max(float(sample.max()) for sample in samples)
        axes.set_xlim(0, max(1.0, longest * 1.05))
        axes.set_xlabel("days from shipped to received")

    alt = "; ".join(
        f"{label}: median {m} days, p90 {p} days"
        for label, m, p in zip(labels, busiest["median_days"], busiest["p90_days"], strict=True)
    )
    title = f"Transit times of the {len(samples)} busiest routes"
    return Chart("transit_times", title, draw, alt or "no shipments received")


def _funnel_chart(rates: pd.DataFrame, names: pd.Series) -> Chart:
    """Rate against volume with the flagging limit: noise fans out where volume is low."""
    scans, alerting = rates["scans"].sum(), rates["alerting_scans"].sum()
    pooled = alerting / scans if scans else 0.0
    # The normal approximation of the exact test's threshold: a guide for the eye only.
    ranked = max(int(rates["eligible"].sum()), 1)
    z_limit = NormalDist().inv_cdf(1 - sx.ALPHA / ranked)

    def draw(figure: Figure) -> None:
        axes = chart_axes(figure, rates.empty, "no scans")
        if axes is None:
            return
        flagged = rates["flagged"]
        axes.scatter(rates["scans"], rates["per_1000_scans"], s=14, color="#64748b", label="party")
        axes.scatter(
            rates.loc[flagged, "scans"],
            rates.loc[flagged, "per_1000_scans"],
            s=24,
            color="#dc2626",
            label="flagged",
        )
        top = float(rates["scans"].max())
        if top > sx.MIN_SCANS:  # below MIN_SCANS nobody is flagged, so no limit is drawn
            step = (top - sx.MIN_SCANS) / 199
            volume = pd.Series([sx.MIN_SCANS + step * i for i in range(200)])
            limit = 1000 * (pooled + z_limit * (pooled * (1 - pooled) / volume) ** 0.5)
            axes.plot(volume, limit.clip(upper=1000), color="#dc2626", linewidth=1, label="limit")
        axes.axhline(1000 * pooled, color="#0f766e", linewidth=1, label="pooled rate")
        axes.set_xscale("log")
        axes.set_ylim(bottom=0)
        axes.set_xlabel("scans")
        axes.set_ylabel("alerting scans per 1,000")
        axes.legend(loc="upper right", fontsize="small")

    top = rates[rates["flagged"]]["party"]
    alt = f"{len(rates)} parties; pooled rate {1000 * pooled:.1f} per 1,000 scans; flagged: " + (
        ", ".join(str(names.get(p, p)) for p in top) or "none"
    )
    return Chart("scan_alert_funnel", "Scan alert rate per party against volume", draw, alt)


def _load(source: Source) -> dict[str, pd.DataFrame]:
    return {
        "parties": source.frame("SELECT gln, name FROM party"),
        "batches": source.frame(
            "SELECT gtin, lot, expiry, quantity, dispensed, destroyed, status, recall_reason, "
            "recall_index, (SELECT coalesce(sum(e.quantity), 0) FROM custody_event e "
            "WHERE e.gtin = b.gtin AND e.lot = b.lot AND e.action = 'write-off') AS written_off "
            "FROM batch b"
        ),
        "holdings": source.frame("SELECT gtin, lot, gln, quantity FROM holding"),
        # The serials column is the bulk of a shipment row and no finding needs it.
        "shipments": source.frame(
            "SELECT sender, shipment_id, gtin, lot, recipient, quantity, received, status, "
            "shipped_at, received_at FROM shipment"
        ),
    }


@report_kind(
    "supply-chain",
    "Supply-chain exceptions",
    "Conservation breaks, overdue shipments, recalled or expired stock, alerts per party and "
    "kind, transit times per route, and parties whose scans raise alerts above their peers.",
    steps=6,
)
def supply_chain_report(source: Source, params: Params, step: Step) -> Report:
    data = _load(source)
    names = data["parties"].set_index("gln")["name"]
    batches, holdings, shipments = data["batches"], data["holdings"], data["shipments"]
    step("read batches, holdings and shipments")

    balance = sx.batch_balance(batches, holdings, shipments)
    breaks = sx.conservation_breaks(balance)
    conservation = Section(
        "Conservation",
        "Per batch, packs commissioned must equal packs held + in transit + dispensed + "
        "destroyed + written off, recomputed from the holding, shipment and batch rows and "
        "the write-off events.",
        [
            Metric("Batches", _count(len(balance))),
            Metric("Conservation breaks", _count(len(breaks)), flag=not breaks.empty),
        ],
        [Table("conservation_breaks", "Batches that do not add up", breaks)],
    )
    step("checked conservation")

    overdue = sx.name_parties(
        sx.overdue_shipments(shipments, params.as_of, params.days), names, "sender", "recipient"
    )
    at_risk = sx.name_parties(sx.stock_at_risk(holdings, batches, params.as_of), names, "gln")
    dispenses = source.frame(
        "SELECT c.idx, c.seq, c.gtin, c.lot, c.party, c.quantity, c.at FROM custody_event c "
        "JOIN batch b ON b.gtin = c.gtin AND b.lot = c.lot "
        "WHERE c.action = 'dispense' AND b.recall_index IS NOT NULL"
    )
    late = sx.name_parties(sx.dispensed_after_recall(dispenses, batches), names, "party")
    marks = ", ".join("?" * len(sx.PROBLEM_STATES))
    packs = sx.name_parties(
        sx.problem_packs(
            source.frame(
                "SELECT gtin, lot, serial, holder, state, state_by, state_at FROM pack "
                f"WHERE state IN ({marks})",
                tuple(sx.PROBLEM_STATES),
            )
        ),
        names,
        "holder",
    )
    recalled = at_risk["problem"].str.contains("recalled")
    expired = at_risk["problem"].str.contains("expired")
    transit_section = Section(
        "Shipments overdue",
        f"Shipments still in transit on {params.as_of.isoformat()} at least {params.days} days "
        "after they were shipped.",
        [
            Metric("Overdue shipments", _count(len(overdue)), flag=not overdue.empty),
            Metric("Packs in overdue shipments", _count(overdue["quantity"].sum())),
        ],
        [Table("overdue_shipments", "Shipments not received", overdue)],
    )
    stock = Section(
        "Recalled, expired and barred stock",
        "Packs still held of batches recalled or expired on the report date, dispenses logged "
        f"after a recall, and packs set {', '.join(sx.PROBLEM_STATES)}.",
        [
            Metric(
                "Packs held of recalled batches",
                _count(at_risk.loc[recalled, "quantity"].sum()),
                flag=bool(recalled.any()),
            ),
            Metric(
                "Packs held of expired batches",
                _count(at_risk.loc[expired, "quantity"].sum()),
                flag=bool(expired.any()),
            ),
            Metric("Dispenses after recall", _count(len(late)), flag=not late.empty),
            Metric("Packs stolen, locked or withdrawn", _count(len(packs)), flag=not packs.empty),
        ],
        [
            Table("stock_at_risk", "Holdings of recalled or expired batches", at_risk),
            Table(
                "dispensed_after_recall",
                "Dispenses logged after the batch was recalled",
                late,
                note="The rules refuse these; any row means the projection was written around "
                "them.",
            ),
            Table("problem_packs", "Packs barred from supply", packs),
        ],
    )
    step("found overdue shipments and risky stock")

    events = source.frame(
        "SELECT party, action, count(*) AS events FROM custody_event GROUP BY party, action"
    )
    alerts = source.frame(
        "SELECT idx, seq, kind, gtin, lot, serial, party, raised_at, resolved_index FROM alert"
    )
    scans = source.frame(
        "SELECT DISTINCT a.idx FROM alert a JOIN custody_event c ON c.idx = a.idx "
        "WHERE c.action = 'scan'"
    )
    alerts = sx.mark_scan_alerts(alerts, scans["idx"].tolist())
    by_kind = sx.alerts_by_kind(alerts)
    by_party = sx.name_parties(sx.alerts_by_party(alerts, events), names, "party")
    duplicates = sx.duplicate_serials(alerts)
    total_events = int(events["events"].sum())
    open_alerts = int(alerts["resolved_index"].isna().sum())
    alert_section = Section(
        "Alerts",
        "Alerts raised per kind and per party; a party's rate is per 1,000 of its custody events.",
        [
            Metric("Custody events", _count(total_events)),
            Metric("Alerts", _count(len(alerts))),
            Metric("Open alerts", _count(open_alerts), flag=open_alerts > 0),
            Metric("Duplicate serials", _count(len(duplicates)), flag=not duplicates.empty),
        ],
        [
            Table("alerts_by_kind", "Alerts per kind", by_kind),
            Table("alerts_by_party", "Alerts per party", by_party),
            Table(
                "alerts_party_kind",
                "Alerts per party and kind",
                sx.name_parties(sx.alerts_party_kind(alerts), names, "party"),
            ),
            Table("duplicate_serials", "Serials dispensed or scanned again", duplicates),
        ],
        [_alerts_chart(by_kind)],
    )
    step("counted alerts")

    transit = sx.transit_days(shipments, params.as_of)
    routes = sx.transit_by_route(transit)
    median = transit["days"].median() if not transit.empty else float("nan")
    route_section = Section(
        "Transit times",
        "Days from shipped to received, per route (sender → recipient), for shipments received "
        "by the report date.",
        [
            Metric("Routes", _count(len(routes))),
            Metric("Median transit (days)", "–" if pd.isna(median) else f"{median:.1f}"),
        ],
        [
            Table(
                "transit_by_route",
                "Transit time per route",
                sx.name_parties(routes, names, "sender", "recipient"),
            )
        ],
        [_transit_chart(transit, routes, names)],
    )
    step("measured transit times")

    rates = sx.name_parties(sx.scan_alert_rates(events, alerts), names, "party")
    flagged = rates[rates["flagged"]]
    outlier_section = Section(
        "Parties raising alerts",
        "Each party's share of signed scans that raised an alert, tested against the pooled "
        "share of the other parties (exact one-sided binomial test). Parties with fewer than "
        f"{sx.MIN_SCANS} scans are listed but never ranked; a party is flagged when p < "
        f"{sx.ALPHA:g} / (parties ranked). The chart's limit line approximates that threshold.",
        [
            Metric("Scanning parties", _count(len(rates))),
            Metric("Parties flagged for scan alerts", _count(len(flagged)), flag=not flagged.empty),
        ],
        [Table("scan_alert_rates", "Scan alert rate per party", rates)],
        [_funnel_chart(rates, names)],
    )
    step("compared parties")

    return Report(
        "supply-chain",
        "Supply-chain exceptions",
        params,
        [conservation, transit_section, stock, alert_section, route_section, outlier_section],
    )
