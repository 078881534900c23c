"""The README's access table is the one the running app enforces, route by route."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskCliRunner

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_table() -> set[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- access table: flask --app app access -->")
    end = text.index("<!-- end of access table -->")
    rows = set()
    for line in text[start:end].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`"):
            rows.add((cells[0], cells[1].strip("`"), cells[2]))
    return rows


def test_every_route_of_the_app_is_in_the_readme_with_its_rule(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["access"])
    assert result.exit_code == 0, result.output
    printed = set()
    for line in result.output.splitlines():
        # Split on blanks, not columns: DELETE is wider than the method column.
        methods, route, rule = line.split(maxsplit=2)
        printed.add((methods, route, rule))
    assert len(printed) > 40
    assert printed == readme_table()
