"""Where gsm-style key risk indicators (trials.monitoring.kri) enter the site ranking and trends."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pandas as pd

from provenance.reports.model import Params
from trials.monitoring.frames import TrialData

#: The module expected to provide `compute_kris`, and the flag value gsm calls red (|flag|).
KRI_MODULE = "trials.monitoring.kri"
RED = 2
NOT_AVAILABLE = "no KRI module (trials/monitoring/kri.py with compute_kris) is installed"


def _compute(module: Any, data: TrialData, params: Params) -> Any:
    compute = module.compute_kris
    names = set(inspect.signature(compute).parameters)
    keywords: dict[str, Any] = {}
    if "params" in names:
        keywords["params"] = params
    if "as_of" in names:
        keywords["as_of"] = params.as_of
    return compute(data, **keywords)


def kri_tables(data: TrialData, params: Params, module_name: str = KRI_MODULE) -> pd.DataFrame:
    """The KRI table of `compute_kris(data)` (one row per site and KRI, with a gsm flag from
    -2 to 2), normalised to site, kri, flag and any other columns; an empty table with a `note`
    column saying why when there is no such module or it fails on this trial's data."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return pd.DataFrame({"note": [NOT_AVAILABLE]})
    if not hasattr(module, "compute_kris"):
        return pd.DataFrame({"note": [NOT_AVAILABLE]})
    try:
        result = _compute(module, data, params)
    except (ValueError, KeyError, TypeError) as error:
        return pd.DataFrame({"note": [f"compute_kris failed: {type(error).__name__}: {error}"]})
    table = result if isinstance(result, pd.DataFrame) else getattr(result, "table", None)
    if not isinstance(table, pd.DataFrame):
        return pd.DataFrame({"note": ["compute_kris returned no table"]})
    if "level" in table.columns:
        # Country rows are KRIs too, but the combined score ranks sites.
        table = table[table["level"] == "site"]
    skipped = getattr(result, "not_analysed", [])
    if table.empty:
        reasons = "; ".join(f"{k}: {why}" for k, why in skipped) or "no KRI could be computed"
        return pd.DataFrame({"note": [reasons]})
    table = table.rename(columns={"group": "site", "GroupID": "site", "Flag": "flag"})
    if "kri" not in table.columns:
        named = next((c for c in ("KRI", "MetricID", "metric_id", "name") if c in table), None)
        table = table.assign(kri=table[named] if named else "")
    if not {"site", "flag"} <= set(table.columns):
        return pd.DataFrame({"note": ["compute_kris returned no site and flag columns"]})
    table = table.assign(site=table["site"].astype(str))
    return table[["site", "kri", "flag", *[c for c in table if c not in ("site", "kri", "flag")]]]


def kri_trend(
    data: TrialData, cuts: list[pd.Timestamp], module_name: str = KRI_MODULE
) -> pd.DataFrame:
    """The KRI module's `kri_snapshots` at the trend's as-of dates (site level), or an empty
    table with a note when there is none: computed on demand from the dated records."""
    try:
        module = importlib.import_module(module_name)
        snapshots = module.kri_snapshots
    except (ImportError, AttributeError):
        return pd.DataFrame({"note": [NOT_AVAILABLE]})
    if not cuts:
        return pd.DataFrame({"note": ["no dated records to take snapshots of"]})
    try:
        table = snapshots(data, cuts)
    except (ValueError, KeyError, TypeError) as error:
        return pd.DataFrame({"note": [f"kri_snapshots failed: {type(error).__name__}: {error}"]})
    if not isinstance(table, pd.DataFrame):
        return pd.DataFrame({"note": ["kri_snapshots returned no table"]})
    if "level" in table.columns:
        table = table[table["level"] == "site"]
    if "snapshot" in table.columns:
        table = table.assign(snapshot=pd.to_datetime(table["snapshot"]).dt.strftime("%Y-%m-%d"))
    return table.reset_index(drop=True)


def kri_red_flags(table: pd.DataFrame) -> pd.Series:
    """Red KRI flags per site (|flag| = 2), for the combined score; empty without KRIs."""
    if table.empty or "flag" not in table.columns:
        return pd.Series(dtype=float)
    flag = pd.to_numeric(table["flag"], errors="coerce").abs()
    return (flag >= RED).groupby(table["site"].astype(str)).sum().astype(float)
