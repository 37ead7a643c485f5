"""The mood: temperature bounds and monotonicity (property tests), words, local days, trend and spikes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listener import mood
from listener.mood import Mention, Tally, spike, temperature, word

UTC = dt.timezone.utc
counts = st.integers(min_value=0, max_value=5000)


def day_of(negative: int, total: int) -> Tally:
    return Tally(negative=negative, neutral=total - negative)


# --- the temperature ---------------------------------------------------------------------------


@given(counts, counts)
def test_temperature_is_bounded(a, b):
    negative, total = min(a, b), max(a, b)
    assert 0.0 <= temperature(negative, total) < 100.0


@given(st.integers(1, 5000), st.data())
def test_more_negative_share_is_hotter(total, data):
    negative = data.draw(st.integers(0, total - 1))
    assert temperature(negative + 1, total) > temperature(negative, total)


@given(st.integers(1, 500), st.integers(1, 500), st.integers(2, 50))
def test_more_volume_at_the_same_share_is_hotter(a, b, scale):
    negative, total = min(a, b), max(a, b)
    assert temperature(negative * scale, total * scale) > temperature(negative, total)


@given(st.floats(0, 1), st.floats(1, 10_000), st.floats(1.0001, 100))
def test_volume_monotonicity_holds_for_average_days_too(share, total, scale):
    """The trend compares with an "average day": fractional counts must behave the same way."""
    assert temperature(share * total * scale, total * scale) >= temperature(share * total, total)


@settings(max_examples=50)
@given(st.integers(0, 3), st.integers(0, 3))
def test_a_tiny_day_is_never_hot_let_alone_boiling(a, b):
    negative, total = min(a, b), max(a, b)
    assert word(temperature(negative, total)) in ("calm", "mild", "warm")


def test_reference_days():
    """The numbers the README quotes; a change to the constants shows up here."""
    assert temperature(0, 40) == 0.0 and word(0) == "calm"
    assert word(temperature(2, 2)) == "mild"  # two angry comments on a quiet day
    assert word(temperature(5, 100)) == "calm"  # 5 % negative on a busy day
    assert word(temperature(3, 20)) == "mild"  # an ordinary day
    assert word(temperature(10, 20)) == "warm"
    assert word(temperature(40, 100)) == "hot"
    assert word(temperature(50, 50)) == "boiling"
    assert round(temperature(2, 2)) == 37 and round(temperature(40, 100)) == 66


@pytest.mark.parametrize("degrees, expected", [
    (0, "calm"), (19.99, "calm"), (20, "mild"), (39.9, "mild"), (40, "warm"), (60, "hot"), (79.9, "hot"),
    (80, "boiling"), (100, "boiling"), (-1, "calm"), (250, "boiling"),
])
def test_words_are_bands_of_twenty(degrees, expected):
    assert word(degrees) == expected


@pytest.mark.parametrize("compound, expected", [
    (-0.05, "negative"), (-0.049, "neutral"), (0.0, "neutral"), (0.05, "positive"), (None, "neutral"),
])
def test_thresholds_are_inclusive(compound, expected):
    assert mood.classify(compound, negative=-0.05, positive=0.05) == expected


# --- days in the configured time zone ----------------------------------------------------------


def test_a_day_is_the_local_day_of_first_seen_across_the_spring_forward():
    tz = "Europe/London"  # 2026-03-29: clocks go from 01:00 GMT to 02:00 BST
    start, end = mood.day_bounds(dt.date(2026, 3, 29), tz)
    assert start == dt.datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert end - start == dt.timedelta(hours=23)
    mentions = [
        Mention(dt.datetime(2026, 3, 28, 23, 30, tzinfo=UTC), -0.5),  # 23:30 GMT, the 28th
        Mention(dt.datetime(2026, 3, 29, 22, 59, tzinfo=UTC), 0.5),  # 23:59 BST, the 29th
        Mention(dt.datetime(2026, 3, 29, 23, 0, tzinfo=UTC), 0.0),  # 00:00 BST, the 30th
    ]
    days = mood.tally(mentions, timezone=tz, negative=-0.05, positive=0.05)
    assert sorted(days) == [dt.date(2026, 3, 28), dt.date(2026, 3, 29), dt.date(2026, 3, 30)]
    assert days[dt.date(2026, 3, 28)][mood.OVERALL].negative == 1
    assert days[dt.date(2026, 3, 29)][mood.OVERALL].positive == 1


def test_tally_counts_each_term_and_ignores_terms_no_longer_watched():
    at = dt.datetime(2026, 11, 24, 12, tzinfo=UTC)
    mentions = [Mention(at, -0.6, ("Quillfeather",)), Mention(at, 0.4, ("quillfeather", "Nibs")),
                Mention(at, 0.0, ("Removed",)), Mention(at, None, ())]
    day = mood.tally(mentions, timezone="UTC", negative=-0.05, positive=0.05, terms=["Quillfeather", "Nibs"])[at.date()]
    assert set(day) == {mood.OVERALL, "Quillfeather", "Nibs"}
    overall = day[mood.OVERALL]
    assert (overall.positive, overall.neutral, overall.negative, overall.total) == (1, 2, 1, 4)
    assert overall.mean_compound == pytest.approx((-0.6 + 0.4 + 0.0) / 3)  # unscored items are not averaged
    assert (day["Quillfeather"].negative, day["Quillfeather"].positive) == (1, 1)
    assert day["Nibs"].total == 1


# --- trend and spikes --------------------------------------------------------------------------


def test_trend_compares_with_an_average_day_of_last_week():
    today = dt.date(2026, 11, 24)
    days = {today - dt.timedelta(days=n): {mood.OVERALL: day_of(2, 20)} for n in range(1, 8)}
    days[today] = {mood.OVERALL: day_of(10, 20)}
    assert mood.trend(days, mood.OVERALL, today) == pytest.approx(temperature(10, 20) - temperature(2, 20))
    days[today] = {mood.OVERALL: day_of(2, 20)}
    assert mood.trend(days, mood.OVERALL, today) == pytest.approx(0.0)


def test_no_trend_without_anything_heard_before():
    today = dt.date(2026, 11, 24)
    days = {today: {mood.OVERALL: day_of(3, 5)}, today - dt.timedelta(days=8): {mood.OVERALL: day_of(1, 5)}}
    assert mood.trend(days, mood.OVERALL, today) is None  # the only earlier day is outside the week
    days[today - dt.timedelta(days=7)] = {mood.OVERALL: day_of(0, 1)}
    assert mood.trend(days, mood.OVERALL, today) == pytest.approx(temperature(3, 5))


def test_a_real_rise_on_a_small_day_is_a_spike():
    assert spike(day_of(3, 4), Tally(negative=14, neutral=126)).flagged


def test_two_angry_comments_are_not_a_spike():
    result = spike(day_of(2, 2), Tally(negative=1, neutral=60))
    assert result.p_value < 0.01  # unlikely by chance, but too few to call
    assert not result.flagged


def test_a_tiny_rise_on_a_huge_volume_is_not_a_spike():
    result = spike(day_of(1600, 10_000), Tally(negative=15_000, neutral=85_000))
    assert result.p_value < 0.01  # "significant" at this volume...
    assert not result.flagged  # ...but 16 % against 15 % is not news


def test_a_term_with_no_history_needs_a_lot_to_spike():
    assert not spike(day_of(3, 10), Tally()).flagged  # 30 % against a 15 % prior: could be chance
    assert spike(day_of(8, 10), Tally()).flagged


def test_scope_mood_builds_a_fourteen_day_series_ending_today():
    today = dt.date(2026, 11, 24)
    days = {today - dt.timedelta(days=n): {"Nibs": day_of(n % 3, 10)} for n in range(0, 20)}
    scope = mood.scope_mood(days, "Nibs", today)
    assert len(scope.series) == 14 and scope.series[-1][0] == today and scope.series[0][0] == today - dt.timedelta(13)
    assert scope.word == word(scope.degrees) and scope.tally == days[today]["Nibs"]
    assert mood.history_start(today) == today - dt.timedelta(days=14)


@given(st.integers(0, 60), st.integers(0, 60), st.floats(0.001, 0.999))
def test_binomial_tail_matches_the_definition(k, n, p):
    from math import comb

    expected = sum(comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1)) if k <= n else 0.0
    assert mood.binomial_upper_tail(k, n, p) == pytest.approx(min(1.0, expected), rel=1e-6, abs=1e-12)


def test_stored_mentions_carry_the_verdict_for_the_report_and_the_alert_spike_alike():
    from listener.mood import mentions_of

    rows = [{"first_seen": "2026-11-24T09:00:00Z", "compound": 0.6, "terms": '["Quillfeather"]',
             "sentiment": "positive", "complaint": 1},  # polite words, but a complaint
            {"first_seen": "2026-11-24T09:05:00Z", "compound": -0.2, "terms": "[]", "sentiment": None,
             "complaint": None},  # judged before verdicts: the compound decides later
            {"first_seen": "not a time", "compound": 0.1, "terms": "[]", "sentiment": None, "complaint": None}]
    complaint, older = mentions_of(rows)
    assert (complaint.label, complaint.terms) == ("negative", ("Quillfeather",))
    assert older.label is None and older.compound == -0.2
