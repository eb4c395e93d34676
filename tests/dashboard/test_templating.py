"""The small formatting helpers every page uses, and the autoescaping of the environment."""

from __future__ import annotations

from datetime import timedelta

from tackbridge.dashboard.templating import TEMPLATES, duration, label, labelled, money


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


def test_select_field_shows_each_choice_and_selects_the_chosen_one() -> None:
    assert labelled(["job_complete"]) == [("job_complete", "Job complete")]
    page = TEMPLATES.from_string(
        '{% import "_macros.html" as ui %}'
        '{{ ui.select_field("f-s", "status", "Status", "Any", choices, "b") }}'
    ).render(choices=[("a", None), ("b", "Bee <b>"), "c"])
    assert '<label for="f-s">Status</label>' in page
    assert '<select id="f-s" name="status">' in page
    assert '<option value="">Any</option>' in page
    assert '<option value="a">a</option>' in page  # no text: the value shows
    assert '<option value="b" selected>Bee &lt;b&gt;</option>' in page
    assert '<option value="c">c</option>' in page


def test_table_heads_its_columns() -> None:
    page = TEMPLATES.from_string(
        '{% import "_macros.html" as ui %}'
        '{% call ui.table("Cap", ["Day", ("Sum", "num"), ("Do", "hidden"), "All"], id="t",'
        " numbers_from=3) %}<tr><td>row</td></tr>{% endcall %}"
    ).render()
    assert '<table id="t">' in page
    assert "<caption>Cap</caption>" in page
    assert (
        '<thead><tr><th scope="col">Day</th><th scope="col" class="num">Sum</th>'
        '<th scope="col"><span class="sr-only">Do</span></th><th scope="col" class="num">All</th>'
        "</tr></thead>"
    ) in page
    assert "<tr><td>row</td></tr>" in page
