"""The alert rules on plain values: once per reason, cooldown with new negatives, quiet hours, the hourly fold."""

from __future__ import annotations

import datetime as dt

import pytest

from listener.alerts import (
    AlertCandidate,
    FeedTransition,
    PastAlert,
    TermSpike,
    clean,
    decide,
    feed_transitions,
    headline,
    message,
    quiet_until,
)
from listener.config import parse_alerts
from listener.errors import ConfigError
from listener.models import AlertsSpec

UTC = dt.timezone.utc
NOON = dt.datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
SPEC = AlertsSpec(urls=("json://127.0.0.1/hook",), quiet_hours=None)


def thread(tid: str = "t1", *, priority: float = 55.0, overdue: bool = False, negative: int = 2,
           queue: str = "reply") -> AlertCandidate:
    return AlertCandidate(tid, f"Title {tid}", f"http://127.0.0.1/{tid}", queue, priority, overdue,
                          ("2 negative items",), "This is broken again", "Sam", negative, NOON)


def past(alert, *, at: dt.datetime, state: str = "sent") -> PastAlert:
    return PastAlert(alert.key, alert.subject_kind, alert.subject_id, alert.reason, alert.window, at, state,
                     alert.negative_items, alert.payload, queued=at if state not in ("held", "folded") else None)


def test_a_thread_in_the_reply_queue_at_min_priority_alerts_once():
    first = decide(SPEC, [thread(priority=40.0), thread("t2", priority=39.9)], [], [], [], now=NOON)
    assert [a.subject_id for a in first.send] == ["t1"]
    assert first.send[0].reasons == ("reply",)
    again = decide(SPEC, [thread(priority=40.0)], [], [], [past(first.send[0], at=NOON)],
                   now=NOON + dt.timedelta(minutes=15))
    assert again.send == () and again.summary is None


def test_overdue_alone_alerts_and_a_new_reason_alerts_again():
    low = decide(SPEC, [thread(priority=10, overdue=True)], [], [], [], now=NOON)
    assert low.send[0].reasons == ("overdue",)
    first = decide(SPEC, [thread()], [], [], [], now=NOON)
    later = NOON + dt.timedelta(minutes=30)
    second = decide(SPEC, [thread(overdue=True)], [], [], [past(first.send[0], at=NOON)], now=later)
    assert [a.reasons for a in second.send] == [("reply", "overdue")]
    assert second.send[0].key != first.send[0].key
    third = decide(SPEC, [thread(overdue=True)], [], [],
                   [past(first.send[0], at=NOON), past(second.send[0], at=later)], now=later + dt.timedelta(hours=1))
    assert third.send == ()


def test_after_cooldown_only_new_negative_items_alert_again():
    first = decide(SPEC, [thread(negative=2)], [], [], [], now=NOON).send[0]
    rows = [past(first, at=NOON)]
    assert decide(SPEC, [thread(negative=2)], [], [], rows, now=NOON + dt.timedelta(hours=7)).send == ()
    assert decide(SPEC, [thread(negative=3)], [], [], rows, now=NOON + dt.timedelta(hours=5)).send == ()
    again = decide(SPEC, [thread(negative=3)], [], [], rows, now=NOON + dt.timedelta(hours=6))
    assert [a.negative_items for a in again.send] == [3]


def test_the_moderate_queue_alerts_and_other_queues_do_not():
    decision = decide(SPEC, [thread("m", queue="moderate"), thread("k", queue="thank", priority=90)], [], [], [],
                      now=NOON)
    assert [(a.subject_id, a.reasons) for a in decision.send] == [("m", ("moderate",))]


def test_quiet_hours_hold_then_release_after():
    spec = AlertsSpec(urls=SPEC.urls, quiet_hours=(dt.time(22), dt.time(7)), timezone="Europe/London")
    night = dt.datetime(2024, 5, 6, 22, 30, tzinfo=UTC)  # 23:30 in London (BST)
    held = decide(spec, [thread()], [], [], [], now=night)
    assert held.send == () and len(held.held) == 1
    assert held.held_until == dt.datetime(2024, 5, 7, 6, 0, tzinfo=UTC)  # 07:00 BST
    rows = [past(held.held[0], at=night, state="held")]
    still = decide(spec, [thread()], [], [], rows, now=night + dt.timedelta(hours=2))
    assert still.held == () and still.send == ()
    morning = decide(spec, [thread()], [], [], rows, now=dt.datetime(2024, 5, 7, 6, 5, tzinfo=UTC))
    assert [a.key for a in morning.send] == [held.held[0].key]
    assert morning.released == (held.held[0].key,)


@pytest.mark.parametrize("clock, inside", [("21:59", False), ("22:00", True), ("03:00", True), ("06:59", True),
                                           ("07:00", False), ("12:00", False)])
def test_quiet_hours_across_midnight(clock, inside):
    spec = AlertsSpec(quiet_hours=(dt.time(22), dt.time(7)))
    hour, minute = map(int, clock.split(":"))
    assert (quiet_until(spec, NOON.replace(hour=hour, minute=minute)) is not None) is inside


def test_same_day_quiet_hours():
    spec = AlertsSpec(quiet_hours=(dt.time(12), dt.time(13)))
    assert quiet_until(spec, NOON) == NOON.replace(hour=13)
    assert quiet_until(spec, NOON.replace(hour=13)) is None


def test_over_max_per_hour_the_rest_folds_into_one_summary_highest_priority_first():
    spec = AlertsSpec(urls=SPEC.urls, quiet_hours=None, max_per_hour=3)
    candidates = [thread(f"t{i}", priority=40 + i) for i in range(6)]
    decision = decide(spec, candidates, [], [], [], now=NOON)
    assert [a.subject_id for a in decision.send] == ["t5", "t4", "t3"]
    assert [a.subject_id for a in decision.folded] == ["t2", "t1", "t0"]
    assert decision.summary is not None and decision.summary.payload["count"] == 3
    assert "3 more alerts" in headline(decision.summary.payload)
    assert "Title t0" in message(decision.summary.payload)
    sent = [past(a, at=NOON) for a in decision.send]
    later = decide(spec, [thread("t9")], [], [], sent, now=NOON + dt.timedelta(minutes=30))
    assert later.send == () and [a.subject_id for a in later.folded] == ["t9"]
    hour_on = decide(spec, [thread("t9")], [], [], sent, now=NOON + dt.timedelta(minutes=61))
    assert [a.subject_id for a in hour_on.send] == ["t9"]


def test_a_spike_alerts_once_then_again_after_cooldown():
    spike = TermSpike("acme", NOON - dt.timedelta(hours=3), NOON, 10, 7, 0.7, 0.1)
    first = decide(SPEC, [], [spike], [], [], now=NOON)
    assert [(a.subject_kind, a.subject_id, a.reasons) for a in first.send] == [("term", "acme", ("spike",))]
    rows = [past(first.send[0], at=NOON)]
    assert decide(SPEC, [], [spike], [], rows, now=NOON + dt.timedelta(hours=2)).send == ()
    assert len(decide(SPEC, [], [spike], [], rows, now=NOON + dt.timedelta(hours=6)).send) == 1


def test_feed_health_is_opt_in():
    change = FeedTransition("Acme blog", "ok", "failing", "HTTP 500")
    assert decide(SPEC, [], [], [change], [], now=NOON).send == ()
    spec = AlertsSpec(urls=SPEC.urls, quiet_hours=None, feed_health=True)
    decision = decide(spec, [], [], [change], [], now=NOON)
    assert [a.reasons for a in decision.send] == [("failing",)]
    assert headline(decision.send[0].payload) == "feed failing: Acme blog"


def test_feed_transitions_are_healthy_to_failing_or_gone_only():
    before = {"a": "ok", "b": "failing", "c": "retrying", "d": "ok"}
    after = {"a": ("failing", "HTTP 500"), "b": ("failing", "x"), "c": ("gone", "410"), "d": ("ok", None),
             "e": ("failing", "new and broken")}
    assert [(t.feed, t.before, t.after) for t in feed_transitions(before, after)] == [
        ("a", "ok", "failing"), ("c", "retrying", "gone"), ("e", "new", "failing")]


def test_the_thread_payload_carries_what_a_webhook_needs():
    alert = decide(SPEC, [thread()], [], [], [], now=NOON, report_url="http://127.0.0.1/r/2024-05-06.html").send[0]
    body = alert.payload
    assert body["thread"]["id"] == "t1" and body["thread"]["priority"] == 55.0
    assert body["thread"]["quote"] == {"text": "This is broken again", "author": "Sam"}
    assert body["report_url"] == "http://127.0.0.1/r/2024-05-06.html" and body["reasons"] == ["reply"]
    assert "“This is broken again” (by Sam)" in message(body)


def test_feed_text_cannot_ping_a_channel_or_inject_markup():
    assert clean("<!channel> hi @here\x00\x07 there", 100) == "‹!channel› hi @\u200bhere there"
    assert clean("x" * 600, 500) == "x" * 499 + "…"


def test_parse_alerts_defaults_and_values():
    spec = parse_alerts({"urls": ["slack://a/b/c"], "cooldown": "2h", "quiet_hours": "23:30-06:00",
                         "min_priority": 50, "feed_health": True, "secret_env": "HOOK_SECRET"},
                        "feeds.yaml", timezone="Europe/London")
    assert spec.urls == ("slack://a/b/c",) and spec.cooldown == 7200 and spec.min_priority == 50
    assert spec.quiet_hours == (dt.time(23, 30), dt.time(6)) and spec.timezone == "Europe/London"
    assert spec.urls_env == "LISTENER_ALERT_URLS" and spec.secret_env == "HOOK_SECRET"
    defaults = parse_alerts({}, "feeds.yaml")
    assert defaults.quiet_hours == (dt.time(22), dt.time(7)) and defaults.max_per_hour == 10
    assert defaults.spike_window == 3 * 3600 and defaults.feed_health is False
    assert parse_alerts({"quiet_hours": "off"}, "f").quiet_hours is None


@pytest.mark.parametrize("raw, key", [
    ({"colour": 1}, "alerts.colour"),
    ({"secret": "hunter2"}, "alerts.secret"),
    ({"cooldown": "soon"}, "alerts.cooldown"),
    ({"quiet_hours": "22-7"}, "alerts.quiet_hours"),
    ({"urls": ["not a url"]}, "alerts.urls"),
    ({"min_priority": 101}, "alerts.min_priority"),
    ({"max_per_hour": 0}, "alerts.max_per_hour"),
    ({"secret_env": "has space"}, "alerts.secret_env"),
    ({"report_url": "ftp://x"}, "alerts.report_url"),
])
def test_parse_alerts_errors_name_the_key(raw, key):
    with pytest.raises(ConfigError) as caught:
        parse_alerts(raw, "feeds.yaml")
    assert str(caught.value).startswith(f"feeds.yaml: {key}:")
    assert "\n" not in str(caught.value)
