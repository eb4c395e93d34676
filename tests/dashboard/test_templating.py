"""The small formatting helpers every page uses, and the autoescaping of the environment."""

from __future__ import annotations

from datetime import timedelta

from tackbridge.dashboard.templating import TEMPLATES, duration, label, money


def test_money() -> None:
    assert money(125050) == "$1,250.50"
    assert money(0) == "$0.00"
    assert money(-99) == "-$0.99"
    assert money(None) == "—"


def test_duration() -> None:
    assert duration(timedelta(seconds=30)) == "under a minute"
    assert duration(timedelta(minutes=12, seconds=59)) == "12 min"
    assert duration(timedelta(hours=2, minutes=5)) == "2 h 05 min"
    assert duration(timedelta(days=3, hours=1)) == "3 days"


def test_label() -> None:
    assert label("job_complete") == "Job complete"
    assert label(None) == "—"


def test_everything_is_escaped() -> None:
    rendered = TEMPLATES.from_string("{{ x }}").render(x="<script>&")
    assert rendered == "&lt;script&gt;&amp;"
