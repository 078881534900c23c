"""What a real browser reports about the Content-Security-Policy of the pages it shows."""

from __future__ import annotations

#: Chromium flags that print the console, where a browser reports each violation, to stderr.
CONSOLE_TO_STDERR = ["--enable-logging=stderr", "--v=0"]
VIOLATION = "Content Security Policy"


def violations_in(stderr: str) -> list[str]:
    """The violations a `chromium --enable-logging=stderr` run printed."""
    return [line for line in stderr.splitlines() if VIOLATION in line]


def csp_violations(browser: object) -> list[str]:
    """The violations a WebDriver browser reported since the last call (its log is read once)."""
    entries = browser.get_log("browser")  # type: ignore[attr-defined]
    return [str(entry["message"]) for entry in entries if VIOLATION in entry["message"]]
