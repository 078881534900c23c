"""The bounded map of recent values that the report, upload and diff caches share."""

from __future__ import annotations

from provenance.recent import Recent


def test_the_least_recently_used_value_goes_first() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # "a" is now the most recent
    recent.put("c", 3)
    assert recent.get("b") is None
    assert (recent.get("a"), recent.get("c")) == (1, 3)


def test_putting_a_key_again_replaces_and_refreshes_it() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    recent.put("a", 10)
    recent.put("c", 3)
    assert recent.get("b") is None
    assert recent.get("a") == 10
