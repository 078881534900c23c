"""A report as one PDF: its figures, charts and every row of every table, headers on each page."""

from __future__ import annotations

import functools
import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos

from provenance.reports.model import Report, Table
from provenance.reports.render import NO_ROWS, headers, numeric_columns, table_rows

FONT = "DejaVu"
#: Largest and smallest table font sizes (pt): a wide table is set smaller before it wraps.
TABLE_FONT = 7.5
MIN_TABLE_FONT = 5.0
#: Rows whose widths are measured to size a table's columns (the rest wrap if wider).
MEASURED_ROWS = 400
#: Line height as a share of the font size (mm per pt), and a cell's padding left and right (mm).
LINE = 0.45
PAD = 0.8
#: Where a line's baseline sits, as a share of the line height from its top.
BASELINE = 0.78
RED = (207, 34, 46)
RULE = (208, 215, 222)
GREY = (87, 96, 106)
HEADING_FILL = (246, 248, 250)


@functools.cache
def _font_files() -> tuple[Path, Path]:
    """DejaVu Sans (regular, bold) as matplotlib ships it: Unicode text (×, ⁻², names in any
    Latin, Greek or Cyrillic script) without a font file of our own."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"


class _Document(FPDF):
    """A4 landscape (the widest tables have two dozen columns), the report's title on each page."""

    def __init__(self, report: Report) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.report = report
        regular, bold = _font_files()
        self.add_font(FONT, "", str(regular))
        self.add_font(FONT, "B", str(bold))
        self.set_margins(12, 12, 12)
        self.c_margin = PAD
        self.set_auto_page_break(True, margin=12)
        self.set_title(report.title)
        self.set_creator("provenance")
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font(FONT, "", 7)
        self.set_text_color(*GREY)
        where = f"log size {self.report.log_size:,} · page {self.page_no()}/{{nb}}"
        self.cell(0, 4, f"{self.report.title} · {where}", align="R")
        self.set_text_color(0)


def _paragraph(
    pdf: FPDF,
    text: str,
    size: float = 9,
    *,
    style: str = "",
    colour: tuple[int, int, int] = (0, 0, 0),
) -> None:
    pdf.set_font(FONT, style, size)
    pdf.set_text_color(*colour)
    pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)


def _column_widths(pdf: FPDF, labels: list[str], rows: list[list[str]], size: float) -> list[float]:
    """Widths in proportion to each column's widest measured text (headers may wrap by word)."""
    pdf.set_font(FONT, "B", size)  # headings are bold
    words = [max((pdf.get_string_width(w) for w in label.split()), default=0) for label in labels]
    pdf.set_font(FONT, "", size)
    widths = []
    for position, longest_word in enumerate(words):
        cells = (_width(pdf, row[position]) for row in rows[:MEASURED_ROWS])
        widths.append(max(longest_word, max(cells, default=0), 4) + 2.5)
    return widths


def layout(pdf: FPDF, labels: list[str], rows: list[list[str]]) -> tuple[float, list[float]]:
    """The table's font size and column widths: its natural widths at the largest size that
    fits the page; if none does, the widest columns share what the others leave (and wrap)."""
    size = TABLE_FONT
    widths = _column_widths(pdf, labels, rows, size)
    while sum(widths) > pdf.epw and size > MIN_TABLE_FONT:
        size = max(MIN_TABLE_FONT, size - 0.5)
        widths = _column_widths(pdf, labels, rows, size)
    if sum(widths) <= pdf.epw:
        return size, widths
    # The cap at which columns no wider than it keep their width and the rest fill the page.
    low, high = 0.0, max(widths)
    for _ in range(40):
        cap = (low + high) / 2
        low, high = (cap, high) if sum(min(w, cap) for w in widths) <= pdf.epw else (low, cap)
    capped = [min(w, low) for w in widths]
    if sum(capped) < pdf.epw * 0.5:  # so many columns that even a cap cannot help: scale all
        capped = [w * pdf.epw / sum(widths) for w in widths]
    return size, capped


def _heading_row(
    pdf: FPDF, labels: list[str], widths: list[float], align: list[str], size: float
) -> None:
    """The table's header row (drawn again at the top of each page the table runs onto)."""
    pdf.set_font(FONT, "B", size)
    pdf.set_fill_color(*HEADING_FILL)
    lines = [len(_lines(pdf, label, width)) for label, width in zip(labels, widths, strict=True)]
    height = max(lines) * size * LINE
    x, y = pdf.l_margin, pdf.get_y()
    pdf.rect(x, y, sum(widths), height, style="F")
    for label, width, side in zip(labels, widths, align, strict=True):
        pdf.set_xy(x, y)
        pdf.multi_cell(width, size * LINE, label, align=side, new_x=XPos.RIGHT, new_y=YPos.TOP)
        x += width
    pdf.set_xy(pdf.l_margin, y + height)
    pdf.line(pdf.l_margin, y + height, pdf.l_margin + sum(widths), y + height)
    pdf.set_font(FONT, "", size)


def _width(pdf: FPDF, text: str) -> float:
    """The text's width in the current font (mm): get_string_width without its overhead, which
    counts when a report has tens of thousands of cells."""
    widths: Any = getattr(pdf.current_font, "cw", None)  # TTF fonts key widths by code point
    if widths is None:
        return float(pdf.get_string_width(text))
    return float(sum(widths[ord(c)] for c in text)) * pdf.font_size / 1000


def _lines(pdf: FPDF, text: str, width: float) -> list[str]:
    """The lines a cell's text takes in a column (one, unless it is wider than the column)."""
    if _width(pdf, text) <= width - 2 * PAD:
        return [text]
    found = pdf.multi_cell(width, 1, text, dry_run=True, output=MethodReturnValue.LINES)
    return [str(line) for line in found] if isinstance(found, list) and found else [text]


def _table(pdf: FPDF, table: Table) -> int:
    """Writes the table and answers how many rows it wrote (every one). Rows are never split
    across pages; a cell wider than its column wraps."""
    _paragraph(pdf, table.title, 10.5, style="B")
    count = len(table.frame)
    detail = f"{count:,} row{'' if count == 1 else 's'}" + (
        f" · {table.note}" if table.note else ""
    )
    _paragraph(pdf, detail, 8, colour=GREY)
    if not count:
        _paragraph(pdf, NO_ROWS, 8.5, colour=GREY)
        pdf.ln(2)
        return 0
    labels = headers(table)
    rows = list(table_rows(table))
    align = ["R" if n else "L" for n in numeric_columns(table)]
    size, widths = layout(pdf, labels, rows)
    pdf.set_font(FONT, "", size)
    line = size * LINE
    bottom = pdf.h - pdf.b_margin
    _heading_row(pdf, labels, widths, align, size)
    pdf.set_draw_color(*RULE)
    written = 0
    # Cells repeat (trial ids, sites, kinds): each distinct text is laid out once per column.
    laid: dict[tuple[str, float], list[str]] = {}
    for values in rows:
        wrapped = [
            laid.get((v, w)) or laid.setdefault((v, w), _lines(pdf, v, w))
            for v, w in zip(values, widths, strict=True)
        ]
        height = max(len(lines) for lines in wrapped) * line
        if pdf.get_y() + height > bottom:
            pdf.add_page()
            _heading_row(pdf, labels, widths, align, size)
        x, y = pdf.l_margin, pdf.get_y()
        for lines, width, side in zip(wrapped, widths, align, strict=True):
            for number, text in enumerate(lines):
                if not text:
                    continue
                # text() at a baseline is several times faster than cell() per cell.
                left = x + PAD if side == "L" else x + width - PAD - _width(pdf, text)
                pdf.text(left, y + number * line + line * BASELINE, text)
            x += width
        pdf.line(pdf.l_margin, y + height, pdf.l_margin + sum(widths), y + height)
        pdf.set_xy(pdf.l_margin, y + height)
        written += 1
    pdf.set_draw_color(0)
    pdf.ln(3)
    return written


def report_pdf(report: Report, pngs: dict[str, bytes]) -> bytes:
    """The report as a PDF: each section from a new page, its figures (flagged ones in red and
    marked), its charts, and every row of its tables."""
    pdf = _Document(report)
    try:
        with warnings.catch_warnings():
            # A glyph DejaVu lacks (a name in a script it does not cover) prints as a blank box.
            warnings.filterwarnings("ignore", module=r"fpdf\..*")
            _write(pdf, report, pngs)
            return bytes(pdf.output())
    finally:
        close_fonts(pdf)


def close_fonts(pdf: FPDF) -> None:
    """Close the font files fpdf2 reads lazily (it leaves them open)."""
    for font in pdf.fonts.values():
        close = getattr(font, "close", None)
        if close is not None:
            close()


def _write(pdf: _Document, report: Report, pngs: dict[str, bytes]) -> None:
    params = report.params.to_json()
    pdf.add_page()
    _paragraph(pdf, report.title, 16, style="B")
    _paragraph(
        pdf,
        f"Log size {report.log_size:,} · as of {params['as_of']} · N = {params['days']} days"
        + (f" · trial {params['trial']}" if params["trial"] else "")
        + f" · generated {report.generated_at}",
        8.5,
        colour=GREY,
    )
    for number, section in enumerate(report.sections):
        if number:
            pdf.add_page()
        else:
            pdf.ln(3)
        _paragraph(pdf, section.title, 13, style="B")
        if section.text:
            _paragraph(pdf, section.text, 9)
        pdf.ln(1)
        for metric in section.metrics:
            mark = "  ! flagged" if metric.flag else ""
            colour = RED if metric.flag else (0, 0, 0)
            _paragraph(pdf, f"{metric.label}: {metric.value}{mark}", 9, colour=colour)
        pdf.ln(2)
        for chart in section.charts:
            png = pngs.get(chart.name)
            if png is None:
                continue
            if pdf.will_page_break(110):
                pdf.add_page()
            pdf.image(BytesIO(png), w=160)
            _paragraph(pdf, chart.title, 8, colour=GREY)
            pdf.ln(2)
        for table in section.tables:
            if pdf.will_page_break(25):
                pdf.add_page()
            _table(pdf, table)
