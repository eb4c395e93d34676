"""Auto-reply rules over the operator API: validated on the way in, inherited when unset."""

from __future__ import annotations

from tests.support.tackbridge import RunningServer

RULES = {
    "default": {
        "template": "Hi {{ customer_first_name }}, thanks!",
        "business_hours": {
            "time_zone": "America/Denver",
            "windows": [{"days": ["mon", "tue"], "start": "08:00", "end": "17:00"}],
        },
        "out_of_hours_template": "We are closed; we will call you first thing.",
    }
}


def test_rules_are_saved_read_back_and_reset(server: RunningServer) -> None:
    empty = server.operator.get("/api/businesses/b-1/autoreply").json()
    assert empty == {"businessID": "b-1", "inherited": True, "rules": None}
    saved = server.operator.put("/api/businesses/b-1/autoreply", json=RULES)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["inherited"] is False
    assert body["rules"]["default"]["template"] == RULES["default"]["template"]
    assert server.operator.get("/api/businesses/b-1/autoreply").json() == body
    reset = server.operator.put("/api/businesses/b-1/autoreply", json=None)
    assert reset.json()["inherited"] is True


def test_invalid_rules_are_refused_naming_the_field(server: RunningServer) -> None:
    bad = {"default": {"template": "{{ nope }}", "business_hours": {"time_zone": "Mars/Base"}}}
    answer = server.operator.put("/api/businesses/b-1/autoreply", json=bad)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in answer.json()["errors"]}
    assert any("template" in f for f in fields)
    assert server.operator.get("/api/businesses/b-1/autoreply").json()["inherited"] is True
