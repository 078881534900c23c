"""Report tables read as words and numbers: headers, Yes/No, separators, p-values, empty-table
notes; bars on a log scale where the values span orders of magnitude."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from provenance.reports.charts import ranked_bars, spans_orders
from provenance.reports.formatting import cell, header, power_of_ten, probability
from provenance.reports.model import Metric, Params, Report, Section, Table
from provenance.reports.render import NO_ROWS, report_html


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("gln_name", "GLN name"),
        ("gtin", "GTIN"),
        ("trial_id", "Trial ID"),
        ("ae_rate", "AE rate"),
        ("sae_count", "SAE count"),
        ("per_1000_scans", "Per 1000 scans"),
        ("z_unadjusted", "z unadjusted"),
        ("p", "p"),
        ("p_value", "p-value"),
        ("min_q", "Min q"),
        ("idx", "Entry"),
        ("receipt-discrepancy", "Receipt discrepancy"),
        ("first_enrolment_index", "First enrolment index"),
    ],
)
def test_headers_read_as_words(name: str, shown: str) -> None:
    assert header(name) == shown


def test_a_tables_own_label_wins() -> None:
    assert header("gln", {"gln": "Party (GLN)"}) == "Party (GLN)"


@pytest.mark.parametrize(
    ("value", "column", "shown"),
    [
        (np.True_, "flagged", "Yes"),
        (np.False_, "eligible", "No"),
        (False, "locked_before", "No"),
        (np.int64(2608), "entries", "2,608"),
        (1234567.0, "custody_events", "1,234,567"),
        (17.623892072758338, "expected", "17.62"),
        (0.00543478260869565, "early", "0.005435"),
        (1.5317278448933927e-22, "min_q", "1.5 × 10⁻²²"),
        (0.0107585670499183, "q", "0.0108"),
        (0.5, "p", "0.5"),
        (2e-5, "p_value", "2 × 10⁻⁵"),
        (2629.0, "recall_index", "2629"),  # identifiers without separators
        (np.int64(12345), "idx", "12345"),
        (float("nan"), "z", ""),
        (None, "reason", ""),
        (pd.NaT, "at", ""),
        (pd.NA, "rank", ""),
        ("S-00717104dcd6", "subject", "S-00717104dcd6"),
    ],
)
def test_cells_read_as_numbers_and_words(value: object, column: str, shown: str) -> None:
    assert cell(value, column) == shown


def test_powers_of_ten() -> None:
    assert power_of_ten(9.99e-5) == "1 × 10⁻⁴"
    assert power_of_ten(3.2e-10) == "3.2 × 10⁻¹⁰"
    assert probability(0.001) == "0.001"
    assert probability(0.00099) == "9.9 × 10⁻⁴"
    assert probability(0.0) == "0"


def _toy() -> Report:
    frame = pd.DataFrame(
        {
            "site_id": ["01", "02"],
            "ae_rate": [1234.5678, 0.25],
            "p": [1.532e-22, 0.04],
            "flagged": [True, False],
            "gln": ["5412345000013", "5412345000020"],
        }
    )
    empty = pd.DataFrame({"gtin": pd.Series([], dtype=object)})
    section = Section(
        "Sites",
        "",
        [Metric("flagged", "1", flag=True)],
        [Table("rates", "Rates", frame), Table("nothing", "Nothing", empty)],
    )
    return Report("toy", "Toy", Params(), [section], log_size=12345)


def test_the_page_shows_readable_tables_and_says_when_one_is_empty() -> None:
    page = report_html(_toy(), {})
    head = re.search(r"<thead>(.*?)</thead>", page, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r">([^<>]+)</th>", head) == ["Site ID", "AE rate", "p", "Flagged", "GLN"]
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)  # type: ignore[union-attr]
    cells = re.findall(r">([^<>]*)</td>", body)
    assert cells[:5] == ["01", "1,234.6", "1.5 × 10⁻²²", "Yes", "5412345000013"]
    assert cells[5:] == ["02", "0.25", "0.04", "No", "5412345000020"]
    assert "True" not in body and "False" not in body and "e-22" not in body
    assert NO_ROWS in page
    assert "Log size 12,345" in page
    assert 'href="report.pdf"' in page


def test_every_row_is_on_the_page() -> None:
    frame = pd.DataFrame({"n": range(255)})
    section = Section("All", "", [], [Table("many", "Many", frame)])
    page = report_html(Report("many", "Many", Params(), [section]), {})
    assert page.count("<tr><td") == 255


def test_bars_go_logarithmic_when_values_span_orders_of_magnitude() -> None:
    assert spans_orders([1301, 1297, 6, 1])
    assert not spans_orders([40, 30, 1])
    assert not spans_orders([0, 0])
    kinds = pd.Series([f"kind {n}" for n in range(18)])
    counts = pd.Series([1301, 1297, *([2] * 8), *([1] * 8)])
    for values, scale in ((counts, "log"), (pd.Series([5] * 18), "linear")):
        figure = Figure()
        ranked_bars("k", "Kinds", kinds, values, "entries", colour="blue", empty="none").draw(
            figure
        )
        axes = figure.axes[0]
        assert axes.get_xscale() == scale
        lengths = [patch.get_width() for patch in axes.patches]
        assert len(lengths) == 18
        # Every bar is visible: on the drawn axis even the smallest is a tenth of the widest.
        left, right = axes.get_xlim()
        if scale == "log":
            shares = [np.log10(v / left) / np.log10(right / left) for v in lengths]
        else:
            shares = [(v - left) / (right - left) for v in lengths]
        assert min(shares) > 0.05
