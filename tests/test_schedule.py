"""schedule.py: intervals, hints, back-off, feed states and the digest time, as pure functions."""

from __future__ import annotations

import datetime as dt
import time
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from apscheduler.triggers.cron import CronTrigger

from listener.schedule import (
    MAX_INTERVAL,
    backoff_seconds,
    clock_skew,
    digest_due,
    digest_fire_time,
    feed_state,
    hinted_interval,
    local_day,
    next_poll_after_failure,
    next_poll_after_success,
    parse_retry_after,
    poll_tick,
)

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc
LONDON = "Europe/London"


def at(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


# --- back-off -----------------------------------------------------------------------------------


def test_backoff_doubles_from_the_interval_and_stops_at_a_day():
    waits = [backoff_seconds(900, errors, floor=300) for errors in range(1, 11)]
    assert waits == [900, 1800, 3600, 7200, 14400, 28800, 57600, 86400, 86400, 86400]


def test_backoff_never_overflows_however_many_errors():
    assert backoff_seconds(900, 10_000, floor=300) == MAX_INTERVAL
    assert next_poll_after_failure(NOW, 900, consecutive_errors=500, floor=300) == at(MAX_INTERVAL)


def test_backoff_and_success_respect_the_floor():
    assert backoff_seconds(10, 1, floor=300) == 300
    assert backoff_seconds(10, 6, floor=300) == 320  # 10 * 2**5 is above the floor: doubling shows
    assert next_poll_after_success(NOW, 10, floor=300) == at(300)
    assert next_poll_after_success(NOW, 3 * 86400, floor=300) == at(MAX_INTERVAL)


def test_retry_after_wins_over_a_shorter_backoff_and_is_capped():
    assert next_poll_after_failure(NOW, 900, consecutive_errors=1, floor=300, retry_after=7200) == at(7200)
    assert next_poll_after_failure(NOW, 900, consecutive_errors=4, floor=300, retry_after=60) == at(7200)
    assert next_poll_after_failure(NOW, 900, consecutive_errors=1, floor=300, retry_after=30 * 86400) == at(MAX_INTERVAL)


@pytest.mark.parametrize("value, expected", [
    ("120", 120.0),
    (" 30 ", 30.0),
    ("0", 0.0),
    (format_datetime(NOW + dt.timedelta(minutes=5), usegmt=True), 300.0),
    ("Tue, 24 Nov 2026 12:10:00 -0000", 600.0),  # parses naive: HTTP-dates are UTC
    (format_datetime(NOW - dt.timedelta(hours=1), usegmt=True), 0.0),  # in the past: now
    ("soon", None),
    ("-5", None),
    ("1.5", None),
    ("", None),
    (None, None),
    ("Tue, 99 Foo 2026 25:61:00 GMT", None),
])
def test_retry_after_seconds_http_date_and_garbage(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


# --- hints --------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers, ttl, expected", [
    ({}, None, None),
    ({}, 60, 60 * 1),  # RSS <ttl> arrives in seconds from the parser
    ({"cache-control": "public, max-age=3600"}, None, 3600),
    ({"cache-control": "no-cache, max-age=3600"}, None, None),
    ({"cache-control": "s-maxage=9999"}, None, None),  # not max-age
    ({"expires": format_datetime(NOW + dt.timedelta(hours=2), usegmt=True)}, None, 7200),
    ({"expires": "0"}, None, None),
    ({"expires": "garbage"}, None, None),
    ({"retry-after": "5400"}, None, 5400),
    ({"cache-control": "max-age=600", "expires": format_datetime(NOW + dt.timedelta(hours=1), usegmt=True)},
     1800, 3600),  # the longest wait asked for
])
def test_hinted_interval(headers, ttl, expected):
    assert hinted_interval(headers, ttl_seconds=ttl, now=NOW) == expected


def test_hints_stretch_but_never_shorten_the_interval_and_never_pass_a_day():
    assert next_poll_after_success(NOW, 900, floor=300, hint=3600) == at(3600)
    assert next_poll_after_success(NOW, 900, floor=300, hint=60) == at(900)
    assert next_poll_after_success(NOW, 900, floor=300, hint=-500) == at(900)  # an Expires in the past
    assert next_poll_after_success(NOW, 900, floor=300, hint=10 * 86400) == at(MAX_INTERVAL)


def test_poll_tick_is_the_shortest_effective_interval_between_1_and_60_seconds():
    assert poll_tick([900, 3600], floor=300) == 60
    assert poll_tick([1, 900], floor=1) == 1
    assert poll_tick([20, 900], floor=30) == 30
    assert poll_tick([], floor=300) == 60


# --- feed states --------------------------------------------------------------------------------


def row(**values):
    base = {"status": "ok", "consecutive_errors": 0, "last_polled_at": "2026-11-24T11:00:00Z",
            "last_new_item_at": "2026-11-20T00:00:00Z", "created_at": "2026-01-01T00:00:00Z"}
    return {**base, **values}


@pytest.mark.parametrize("values, state", [
    ({}, "ok"),
    ({"last_polled_at": None, "status": None}, "new"),
    ({"status": "error", "consecutive_errors": 1}, "retrying"),
    ({"status": "error", "consecutive_errors": 2}, "retrying"),
    ({"status": "error", "consecutive_errors": 3}, "failing"),
    ({"status": "gone", "consecutive_errors": 1}, "gone"),
    ({"status": "disabled", "consecutive_errors": 40}, "disabled"),
    ({"last_new_item_at": "2026-11-10T12:00:00Z"}, "stale"),  # exactly 14 days
    ({"last_new_item_at": "2026-11-10T12:00:01Z"}, "ok"),
    ({"last_new_item_at": None, "created_at": "2026-11-01T00:00:00Z"}, "stale"),  # never brought anything
    ({"last_new_item_at": None, "created_at": "2026-11-23T00:00:00Z"}, "ok"),
    ({"status": "not_modified", "last_new_item_at": "2026-10-01T00:00:00Z"}, "stale"),
])
def test_feed_state(values, state):
    assert feed_state(row(**values), NOW) == state


# --- the digest time ----------------------------------------------------------------------------


def test_digest_time_on_an_ordinary_day_is_local_time():
    assert digest_fire_time(dt.date(2026, 6, 1), dt.time(7, 30), LONDON) == dt.datetime(2026, 6, 1, 6, 30, tzinfo=UTC)
    assert digest_fire_time(dt.date(2026, 12, 1), dt.time(7, 30), LONDON) == dt.datetime(2026, 12, 1, 7, 30, tzinfo=UTC)


def test_digest_time_in_the_spring_forward_gap_moves_an_hour_later():
    # 2026-03-29: London clocks jump from 01:00 GMT to 02:00 BST; 01:30 never happens.
    fire = digest_fire_time(dt.date(2026, 3, 29), dt.time(1, 30), LONDON)
    assert fire == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 BST
    assert fire.astimezone(ZoneInfo(LONDON)).strftime("%H:%M %Z") == "02:30 BST"


def test_digest_time_on_the_fall_back_day_is_the_first_occurrence():
    # 2026-10-25: 01:00-02:00 happens twice (BST, then GMT).
    fire = digest_fire_time(dt.date(2026, 10, 25), dt.time(1, 30), LONDON)
    assert fire == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize("day", [dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2026, 7, 1)])
def test_apscheduler_cron_fires_first_at_our_digest_time(day):
    """The daemon's cron trigger and digest_due agree on the day's first fire time."""
    trigger = CronTrigger(hour=1, minute=30, timezone=ZoneInfo(LONDON))
    midnight_before = dt.datetime.combine(day, dt.time(0, 0), tzinfo=ZoneInfo(LONDON)) - dt.timedelta(hours=2)
    first = trigger.get_next_fire_time(None, midnight_before)
    assert first.astimezone(UTC) == digest_fire_time(day, dt.time(1, 30), LONDON)


@pytest.mark.parametrize("now, status, due", [
    (dt.datetime(2026, 6, 1, 6, 29, tzinfo=UTC), None, False),  # 07:29 BST
    (dt.datetime(2026, 6, 1, 6, 30, tzinfo=UTC), None, True),
    (dt.datetime(2026, 6, 1, 23, 30, tzinfo=UTC), None, False),  # 00:30 BST on 2 June: a new day, not yet time
    (dt.datetime(2026, 6, 1, 8, 5, tzinfo=UTC), "pending", True),
    (dt.datetime(2026, 6, 1, 8, 5, tzinfo=UTC), "sending", True),  # crashed after SMTP: resend, same Message-ID
    (dt.datetime(2026, 6, 1, 8, 5, tzinfo=UTC), "failed", True),
    (dt.datetime(2026, 6, 1, 8, 5, tzinfo=UTC), "sent", False),
    (dt.datetime(2026, 6, 1, 8, 5, tzinfo=UTC), "failed_permanent", False),
])
def test_digest_due(now, status, due):
    assert digest_due(now, status, dt.time(7, 30), LONDON) is due


def test_local_day_follows_the_time_zone():
    late = dt.datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
    assert local_day(late, LONDON) == dt.date(2026, 6, 2)
    assert local_day(late, "UTC") == dt.date(2026, 6, 1)
    assert local_day(late, "America/New_York") == dt.date(2026, 6, 1)


def simulate_day(day: dt.date, at_time: dt.time, tz: str, *, fail_first: int = 0,
                 down: tuple[dt.datetime, dt.datetime] | None = None) -> list[dt.datetime]:
    """Run the daemon's two digest paths over a day by the clock: the cron trigger's fire times and
    an hourly catch-up check, each asking digest_due against a ledger. Returns the send times."""
    zone = ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone).astimezone(UTC)
    trigger = CronTrigger(hour=at_time.hour, minute=at_time.minute, timezone=zone)
    moments, fire = [], trigger.get_next_fire_time(None, start)
    while fire < end:
        moments.append(fire.astimezone(UTC))
        fire = trigger.get_next_fire_time(fire, fire)
    moments += [start + dt.timedelta(minutes=17 + 60 * h) for h in range(25)]  # catch-up, hourly
    ledger: dict[dt.date, str] = {}
    sent, failures = [], fail_first
    for moment in sorted(m for m in moments if m < end):
        if down and down[0] <= moment < down[1]:
            continue
        if digest_due(moment, ledger.get(local_day(moment, tz)), at_time, tz):
            if failures:
                failures -= 1
                ledger[local_day(moment, tz)] = "failed"
                continue
            ledger[local_day(moment, tz)] = "sent"
            sent.append(moment)
    return sent


@pytest.mark.parametrize("day, first", [
    (dt.date(2026, 3, 29), dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),  # spring forward: 02:30 BST
    (dt.date(2026, 10, 25), dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # fall back: first 01:30
    (dt.date(2026, 7, 1), dt.datetime(2026, 7, 1, 0, 30, tzinfo=UTC)),
])
def test_a_dst_day_sends_exactly_once_at_the_first_fire_time(day, first):
    assert simulate_day(day, dt.time(1, 30), LONDON) == [first]


def test_a_daemon_down_at_digest_time_sends_at_the_first_check_after_it():
    day = dt.date(2026, 10, 25)
    down = (dt.datetime(2026, 10, 25, 0, 0, tzinfo=UTC), dt.datetime(2026, 10, 25, 5, 0, tzinfo=UTC))
    assert simulate_day(day, dt.time(1, 30), LONDON, down=down) == [dt.datetime(2026, 10, 25, 5, 17, tzinfo=UTC)]


def test_a_failed_send_is_retried_by_the_next_catch_up_and_sent_once():
    sent = simulate_day(dt.date(2026, 7, 1), dt.time(7, 30), LONDON, fail_first=2)
    assert sent == [dt.datetime(2026, 7, 1, 8, 17, tzinfo=UTC)]  # 06:30 UTC failed, 07:17 failed, 08:17 sent


# --- the wall clock -----------------------------------------------------------------------------


def test_clock_skew_sees_wall_clock_steps_that_monotonic_time_does_not():
    with time_machine.travel(NOW, tick=True) as traveller:
        wall, mono = time.time(), time.monotonic()
        assert abs(clock_skew(wall, mono, time.time(), time.monotonic())) < 1
        traveller.shift(dt.timedelta(hours=-2))
        assert clock_skew(wall, mono, time.time(), time.monotonic()) == pytest.approx(-7200, abs=1)
        traveller.shift(dt.timedelta(hours=5))
        assert clock_skew(wall, mono, time.time(), time.monotonic()) == pytest.approx(3 * 3600, abs=1)
