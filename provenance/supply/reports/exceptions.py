"""Supply-chain exceptions as pure pandas: conservation, stale and risky stock, alerts, transit."""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import date

import numpy as np
import pandas as pd

from provenance.errors import Error
from provenance.gs1 import keys as gs1

#: A scan that names no known batch writes no custody event, only one of these alerts.
NO_BATCH_KINDS = ("unknown-product", "unknown-batch")
#: EU FMD pack states that say a pack must not reach a patient.
PROBLEM_STATES = ("stolen", "locked", "withdrawn")
#: Below this many scans a party's alert rate is too noisy to single out.
MIN_SCANS = 30
#: The chance, over all ranked parties together, of flagging any whose scans alert no more
#: often than its peers' (the per-party threshold is ALPHA / parties: Bonferroni).
ALPHA = 0.01


def timestamps(values: pd.Series) -> pd.Series:
    """Log timestamps (`2026-01-31T12:00:00.000Z`) as naive UTC datetimes; NaT where absent."""
    # The ISO 8601 parser is C code, some 15x faster than a strptime format here.
    parsed = pd.to_datetime(values, format="ISO8601", utc=True, errors="coerce")
    return parsed.dt.tz_localize(None)


def expiry_dates(expiry: pd.Series, today: date) -> pd.Series:
    """GS1 YYMMDD expiries as datetimes (day 00 = end of month); NaT where unreadable.

    `today` settles the century, as GS1's sliding rule does for the resolver."""
    # Batches share few distinct expiries: parse each once, with the resolver's own parser.
    parsed: dict[object, date | None] = {}
    for text in pd.unique(expiry.dropna()):
        try:
            parsed[text] = gs1.parse_expiry(str(text), today=today)
        except Error:
            parsed[text] = None
    return pd.to_datetime(expiry.map(parsed), errors="coerce")


def batch_balance(
    batches: pd.DataFrame, holdings: pd.DataFrame, shipments: pd.DataFrame
) -> pd.DataFrame:
    """Per batch: commissioned against held + in transit + dispensed + destroyed + written off,
    recomputed.

    batches: gtin, lot, quantity, dispensed, destroyed, written_off? (custody.write-off totals;
    0 when absent); holdings: gtin, lot, quantity; shipments: gtin, lot, quantity, received,
    status (what a short receipt left is in transit).
    """
    key = ["gtin", "lot"]
    if "written_off" not in batches:
        batches = batches.assign(written_off=0)
    held = holdings.groupby(key)["quantity"].sum().rename("held")
    open_ = shipments[shipments["status"] != "received"]
    transit = (open_["quantity"] - open_["received"]).groupby([open_["gtin"], open_["lot"]]).sum()
    out = batches[[*key, "quantity", "dispensed", "destroyed", "written_off"]].rename(
        columns={"quantity": "commissioned"}
    )
    out = out.join(held, on=key).join(transit.rename("in_transit"), on=key)
    out[["held", "in_transit"]] = out[["held", "in_transit"]].fillna(0)
    counts = ["commissioned", "held", "in_transit", "dispensed", "destroyed", "written_off"]
    out[counts] = out[counts].astype("int64")
    out["accounted"] = out[counts[1:]].sum(axis=1)
    out["difference"] = out["commissioned"] - out["accounted"]
    return out[[*key, *counts, "accounted", "difference"]].reset_index(drop=True)


def conservation_breaks(balance: pd.DataFrame) -> pd.DataFrame:
    """Batches whose packs do not add up to what was commissioned."""
    return balance[balance["difference"] != 0].reset_index(drop=True)


def overdue_shipments(shipments: pd.DataFrame, as_of: date, days: int) -> pd.DataFrame:
    """Shipments still in transit on `as_of` at least `days` days after they were shipped.

    A shipment received after `as_of` counts as in transit then, so a report on an earlier
    date reads the same whenever it is run."""
    end = pd.Timestamp(as_of)
    shipped = timestamps(shipments["shipped_at"]).dt.normalize()
    received = timestamps(shipments["received_at"]).dt.normalize()
    age = (end - shipped).dt.days
    late = (shipped <= end) & (received.isna() | (received > end)) & (age >= days)
    columns = ["sender", "recipient", "shipment_id", "gtin", "lot", "quantity", "shipped_at"]
    out: pd.DataFrame = shipments.loc[late, columns].assign(
        days_in_transit=age[late].astype("int64")
    )
    return out.sort_values(
        ["days_in_transit", "sender", "shipment_id"], ascending=[False, True, True]
    ).reset_index(drop=True)


def stock_at_risk(holdings: pd.DataFrame, batches: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Packs still held (quantity > 0) of batches that are recalled or expired on `as_of`.

    batches: gtin, lot, expiry, status, recall_reason."""
    expires = expiry_dates(batches["expiry"], as_of)
    recalled = batches["status"] == "recalled"
    expired = expires < pd.Timestamp(as_of)
    problem = np.select(
        [recalled & expired, recalled, expired], ["recalled, expired", "recalled", "expired"], ""
    )
    risky = batches.assign(problem=problem, expires=expires.dt.strftime("%Y-%m-%d"))[
        recalled | expired
    ]
    held = holdings[holdings["quantity"] > 0][["gtin", "lot", "gln", "quantity"]]
    out = held.merge(
        risky[["gtin", "lot", "problem", "expiry", "expires", "recall_reason"]],
        on=["gtin", "lot"],
    )
    order = ["gtin", "lot", "quantity", "gln"]
    return out.sort_values(order, ascending=[True, True, False, True]).reset_index(drop=True)


def dispensed_after_recall(dispenses: pd.DataFrame, batches: pd.DataFrame) -> pd.DataFrame:
    """Dispense events logged after their batch's recall (the rules refuse these: any found
    means the projection was written around them)."""
    recalls = batches.loc[batches["recall_index"].notna(), ["gtin", "lot", "recall_index"]]
    out = dispenses.merge(recalls, on=["gtin", "lot"])
    out = out[out["idx"] > out["recall_index"].astype("int64")]
    return out.sort_values(["idx", "seq"]).reset_index(drop=True)


def alerts_by_kind(alerts: pd.DataFrame) -> pd.DataFrame:
    """alerts: kind, party, resolved_index."""
    out = (
        alerts.assign(open=alerts["resolved_index"].isna())
        .groupby("kind")
        .agg(alerts=("kind", "size"), open=("open", "sum"), parties=("party", "nunique"))
        .reset_index()
    )
    total = int(out["alerts"].sum())
    out["share_pct"] = (100 * out["alerts"] / total).round(1) if total else 0.0
    return out.sort_values(["alerts", "kind"], ascending=[False, True]).reset_index(drop=True)


def alerts_by_party(alerts: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Alerts raised at each party per 1,000 of its custody events.

    events: party, action, events (a count per party and action)."""
    per_party = events.groupby("party")["events"].sum().rename("custody_events")
    raised = (
        alerts.assign(open=alerts["resolved_index"].isna())
        .groupby("party")
        .agg(alerts=("party", "size"), open=("open", "sum"))
    )
    out = pd.concat([per_party, raised], axis=1).fillna(0).astype("int64")
    out = out[out["alerts"] > 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = 1000 * out["alerts"] / out["custody_events"].where(out["custody_events"] > 0)
    out["per_1000_events"] = rate.round(1)
    out = out.rename_axis("party").reset_index()
    return out.sort_values(["alerts", "party"], ascending=[False, True]).reset_index(drop=True)


def alerts_party_kind(alerts: pd.DataFrame) -> pd.DataFrame:
    """Alert counts with one row per party and one column per kind."""
    table = pd.crosstab(alerts["party"], alerts["kind"])
    table.columns.name = None
    return table.rename_axis("party").reset_index()


def duplicate_serials(alerts: pd.DataFrame) -> pd.DataFrame:
    """Serials with duplicate-serial alerts: how often, where, first and last time.

    alerts: kind, gtin, lot, serial, party, raised_at, resolved_index."""
    dup = alerts[alerts["kind"] == "duplicate-serial"]
    out = (
        dup.assign(open=dup["resolved_index"].isna())
        .groupby(["gtin", "serial"])
        .agg(
            lot=("lot", "first"),
            alerts=("kind", "size"),
            open=("open", "sum"),
            parties=("party", lambda s: ", ".join(sorted(set(s)))),
            first_raised=("raised_at", "min"),
            last_raised=("raised_at", "max"),
        )
        .reset_index()
    )
    return out.sort_values(["alerts", "gtin", "serial"], ascending=[False, True, True]).reset_index(
        drop=True
    )


def transit_days(shipments: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """sender, recipient and days from shipped to received, for shipments received by `as_of`."""
    shipped = timestamps(shipments["shipped_at"])
    received = timestamps(shipments["received_at"])
    done = received.notna() & (received.dt.normalize() <= pd.Timestamp(as_of))
    days = (received[done] - shipped[done]).dt.total_seconds() / 86400
    return pd.DataFrame(
        {
            "sender": shipments.loc[done, "sender"],
            "recipient": shipments.loc[done, "recipient"],
            "days": days,
        }
    ).reset_index(drop=True)


def transit_by_route(transit: pd.DataFrame) -> pd.DataFrame:
    """Per route (sender → recipient): shipments received and their median, p90, max days."""
    route = transit.groupby(["sender", "recipient"])["days"]
    out = pd.DataFrame(
        {
            "shipments": route.size(),
            "median_days": route.median(),
            "p90_days": route.quantile(0.9),
            "max_days": route.max(),
        }
    )
    stats = ["median_days", "p90_days", "max_days"]
    out[stats] = out[stats].round(2)
    out = out.reset_index()
    return out.sort_values(
        ["shipments", "sender", "recipient"], ascending=[False, True, True]
    ).reset_index(drop=True)


def mark_scan_alerts(alerts: pd.DataFrame, scan_entries: Collection[int]) -> pd.DataFrame:
    """Adds `at_scan`: the alert was raised by a signed scan (its entry wrote a scan event, or
    the scan named no known batch)."""
    at_scan = alerts["idx"].isin(list(scan_entries)) | alerts["kind"].isin(NO_BATCH_KINDS)
    return alerts.assign(at_scan=at_scan)


def binomial_log_tail(x: int, n: int, p: float) -> float:
    """log P(X ≥ x) for X ~ Binomial(n, p), summed in log space so that tiny tails keep
    their size (ranking needs 1e-40 told from 1e-12)."""
    if x <= 0 or p >= 1:
        return 0.0
    if p <= 0 or x > n:
        return -math.inf
    first = (
        math.lgamma(n + 1)
        - math.lgamma(x + 1)
        - math.lgamma(n - x + 1)
        + x * math.log(p)
        + (n - x) * math.log1p(-p)
    )
    k = np.arange(x, n, dtype=float)  # pmf(k + 1) / pmf(k), for k = x … n - 1
    steps = np.log(n - k) - np.log(k + 1) + math.log(p) - math.log1p(-p)
    logs = first + np.concatenate(([0.0], np.cumsum(steps)))
    top = float(logs.max())
    return top + math.log(float(np.exp(logs - top).sum()))


def scan_alert_rates(
    events: pd.DataFrame,
    alerts: pd.DataFrame,
    *,
    min_scans: int = MIN_SCANS,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Each party's share of scans that raised an alert, against the pooled rest.

    events: party, action, events (counts); alerts: idx, party, kind, at_scan. Scans are
    Bernoulli trials (one raising several alerts counts once). A party is flagged when the
    exact one-sided binomial test of its alerting scans at the other parties' rate gives
    p < alpha / (parties ranked); the normal approximation (z, shown) flags far too many
    low-count parties. Only parties with `min_scans` scans (and peers with as many) are ranked
    or flagged, so a handful of bad scans never singles a party out.
    """
    scan_events = events[events["action"] == "scan"].groupby("party")["events"].sum()
    at_scan = alerts[alerts["at_scan"]]
    no_batch = at_scan[at_scan["kind"].isin(NO_BATCH_KINDS)]
    unlogged = no_batch.groupby("party")["idx"].nunique()
    out = pd.concat(
        [
            scan_events.add(unlogged, fill_value=0).rename("scans"),
            at_scan.groupby("party")["idx"].nunique().rename("alerting_scans"),
            at_scan.groupby("party").size().rename("alerts"),
        ],
        axis=1,
    )
    out = out.fillna(0).astype("int64").rename_axis("party").reset_index()
    out = out[out["scans"] > 0]
    n, x = out["scans"].astype(float), out["alerting_scans"].astype(float)
    total_n, total_x = n.sum(), x.sum()
    rest_n, rest_x = total_n - n, total_x - x
    pooled = total_x / total_n if total_n else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rest_rate = rest_x / rest_n
        se = (pooled * (1 - pooled) * (1 / n + 1 / rest_n)) ** 0.5
        z: pd.Series = ((x / n - rest_rate) / se).where(se > 0, 0.0).where(rest_n > 0)
    # One exact test per party (not per event): a few thousand small sums at most.
    log_p = pd.Series(
        [
            binomial_log_tail(int(xi), int(ni), float(pi)) if ri > 0 else math.nan
            for xi, ni, pi, ri in zip(x, n, rest_rate, rest_n, strict=True)
        ],
        index=out.index,
        dtype=float,
    )
    eligible = (n >= min_scans) & (rest_n >= min_scans)
    threshold = math.log(alpha / max(int(eligible.sum()), 1))
    out = out.assign(
        per_1000_scans=(1000 * x / n).round(1),
        others_per_1000_scans=(1000 * rest_rate).round(1),
        z=z.round(2),
        p_value=log_p.map(lambda v: float(f"{math.exp(v):.3g}")),
        eligible=eligible,
        flagged=eligible & (log_p < threshold),
        _log_p=log_p,
    )
    ranked = out[out["eligible"]].sort_values(
        ["_log_p", "z", "party"], ascending=[True, False, True]
    )
    rest = out[~out["eligible"]].sort_values(["scans", "party"], ascending=[False, True])
    out = pd.concat([ranked, rest], ignore_index=True).drop(columns="_log_p")
    # Eligible parties come first, so a running count ranks them.
    out.insert(0, "rank", out["eligible"].cumsum().where(out["eligible"]).astype("Int64"))
    return out


def name_parties(frame: pd.DataFrame, names: pd.Series, *columns: str) -> pd.DataFrame:
    """Adds `<column>_name` beside each GLN column (names: a Series indexed by GLN)."""
    out = frame.copy()
    for column in columns:
        at = out.columns.get_loc(column)
        assert isinstance(at, int)
        out.insert(at + 1, f"{column}_name", out[column].map(names))
    return out


def problem_packs(packs: pd.DataFrame) -> pd.DataFrame:
    """Packs in a state that bars them from patients (stolen, locked, withdrawn), latest first."""
    out = packs[packs["state"].isin(PROBLEM_STATES)]
    return out.sort_values(
        ["state_at", "gtin", "serial"], ascending=[False, True, True]
    ).reset_index(drop=True)
