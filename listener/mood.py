"""Daily mood: counts, mean compound, the 0-100 temperature, its trend and the spike flag.

Pure functions over plain values; nothing here reads the database or the clock.

A day is a local calendar day in the configured time zone, and an item belongs to the day
listener *first saw* it (`first_seen`), not the day its publisher claims: a bad or future
date cannot move an item out of the report, and every mention lands in exactly one day.

The temperature of a day with `n` mentions of which `k` are negative:

    s = k / (n + PSEUDO)                                  negative share, shrunk toward 0
    T = 100 * (1 - exp(-s / SHARE_SCALE)) * (1/2 + n / (2 * (n + VOLUME_HALF)))

The first factor turns the negative share into heat (a quarter negative is already warm,
half negative is hot); the pseudo-count keeps two angry comments on a quiet day from reading
as a fully negative day. The second factor grows from 1/2 towards 1 with volume, so the same
share on a busier day is hotter. T never leaves [0, 100).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from listener.heat import (  # noqa: F401 - the scale's names are part of mood's vocabulary
    OVERALL,
    PRIOR_RATE,
    PRIOR_WEIGHT,
    WORDS,
    Mention,
    ScopeMood,
    Spike,
    Tallies,
    Tally,
    classify,
    temperature,
    word,
)
from listener.text import stored_terms
from listener.times import local_day, parse_iso

log = logging.getLogger(__name__)

TREND_DAYS = 7  # today is compared with an average day of this many previous days
BASELINE_DAYS = 14  # a term's own recent negativity, for the spike flag
SPIKE_MIN_NEGATIVE = 3  # fewer negative mentions than this is never a spike
SPIKE_MIN_RISE = 0.10  # the day's negative share must exceed the baseline by this much...
SPIKE_MIN_RATIO = 1.5  # ...and be at least this many times the baseline...
SPIKE_P_VALUE = 0.01  # ...and be this unlikely under the baseline rate (binomial upper tail)
# --- days -------------------------------------------------------------------------------------


def day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local day, in UTC: 23 or 25 hours long on DST days."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


# --- tallies ----------------------------------------------------------------------------------


def mentions_of(rows: Iterable[Mapping[str, Any]]) -> list[Mention]:
    """Stored mentions (store.mood_mentions' rows) as Mention, the verdict as the label: the report's mood
    and the alerts' spike count the same way. A row that cannot be read is logged and left out."""
    mentions = []
    for row in rows:
        try:
            first_seen = parse_iso(row["first_seen"])
            if first_seen is None:  # cannot be: the query reads a range of first_seen
                raise ValueError("no first_seen")
            label = "negative" if row.get("complaint") else row.get("sentiment")
            mentions.append(Mention(first_seen, row["compound"], tuple(stored_terms(row["terms"])), label))
        except (TypeError, ValueError, AttributeError):
            log.warning("a mention with unreadable data (first_seen %r) is left out of the mood", row.get("first_seen"))
    return mentions


def tally(mentions: Iterable[Mention], *, timezone: str, negative: float, positive: float,
          terms: Sequence[str] = ()) -> Tallies:
    """Count every mention into its local day, overall and under each watch term it names.

    Terms not in `terms` (a watch entry since removed from the config) are ignored; `terms`
    matches case-insensitively and reports the configured spelling.
    """
    return tally_counts(((m.first_seen, m.label or classify(m.compound, negative=negative, positive=positive),
                         m.terms, 1, m.compound or 0.0, int(m.compound is not None)) for m in mentions),
                       timezone=timezone, terms=terms)


Count = tuple[dt.datetime, str, Sequence[str], int, float, int]  # moment, kind, terms, count, compound sum, scored


def tally_counts(counts: Iterable[Count], *, timezone: str, terms: Sequence[str] = ()) -> Tallies:
    """`tally` of mentions already counted together (the store counts them by the quarter hour:
    `store.mood_counts`); each moment falls in its local day."""
    spelled = {name.casefold(): name for name in terms}
    days: Tallies = {}
    for moment, kind, mention_terms, count, compound_sum, scored in counts:
        if kind == "unknown":
            continue  # a language we cannot score: a mention, but no part of the mood
        scopes = days.setdefault(local_day(moment, timezone), {})
        names = {spelled[t.casefold()] for t in mention_terms if isinstance(t, str) and t.casefold() in spelled}
        for scope in (OVERALL, *sorted(names)):
            scopes[scope] = scopes.get(scope, Tally()).add_many(kind, count, compound_sum, scored)
    return days


def pooled(days: Tallies, scope: str, span: Iterable[dt.date]) -> Tally:
    total = Tally()
    for day in span:
        total = total + days.get(day, {}).get(scope, Tally())
    return total


def previous_days(day: dt.date, count: int) -> list[dt.date]:
    """The `count` days before `day`, oldest first."""
    return [day - dt.timedelta(days=offset) for offset in range(count, 0, -1)]


def trend(days: Tallies, scope: str, day: dt.date, *, span: int = TREND_DAYS) -> float | None:
    """Degrees above (+) or below (-) an average day of the previous `span` days; None without any.

    The average day has the mean daily counts of those days (quiet days count as zero), so a
    term that was quiet most of the week and loud today reads as warming up. With no mention at
    all in those days there is nothing to compare with (a new install, a new term): None.
    """
    before = pooled(days, scope, previous_days(day, span))
    if not before.total:
        return None
    average = temperature(before.negative / span, before.total / span)
    return days.get(day, {}).get(scope, Tally()).temperature - average


# --- spikes -----------------------------------------------------------------------------------


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), computed in log space so large n cannot overflow."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k, n + 1):
        log_term = (math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                    + i * log_p + (n - i) * log_q)
        term = math.exp(log_term)
        total += term
        if term < total * 1e-12 and i > n * p:  # past the mode, terms only shrink
            break
    return min(1.0, total)


def spike(today: Tally, baseline: Tally) -> Spike:
    """Flag a day whose negative share is well above its baseline: all of three tests must pass.

    - at least SPIKE_MIN_NEGATIVE negative mentions (two angry comments are not a spike);
    - a real rise: share >= baseline + SPIKE_MIN_RISE and >= SPIKE_MIN_RATIO x baseline
      (on thousands of mentions a one-point rise is "significant" but means nothing);
    - unlikely by chance: P(X >= k) <= SPIKE_P_VALUE for X ~ Binomial(n, baseline).

    The baseline is the pooled negative share of the previous days, shrunk toward
    PRIOR_RATE with PRIOR_WEIGHT pseudo-mentions so a term with little history still has one.
    """
    rate = (baseline.negative + PRIOR_RATE * PRIOR_WEIGHT) / (baseline.total + PRIOR_WEIGHT)
    share = today.negative_share
    p_value = binomial_upper_tail(today.negative, today.total, rate)
    flagged = (today.negative >= SPIKE_MIN_NEGATIVE
               and share >= rate + SPIKE_MIN_RISE
               and share >= SPIKE_MIN_RATIO * rate
               and p_value <= SPIKE_P_VALUE)
    return Spike(flagged, share, rate, p_value, baseline.total)


# --- one scope's day, as the report shows it ----------------------------------------------------


def scope_mood(days: Tallies, scope: str, day: dt.date, *, chart_days: int = 14) -> ScopeMood:
    today = days.get(day, {}).get(scope, Tally())
    degrees = today.temperature
    series = tuple((d, days.get(d, {}).get(scope, Tally())) for d in [*previous_days(day, chart_days - 1), day])
    return ScopeMood(
        name=scope, day=day, tally=today, degrees=degrees, word=word(degrees),
        trend=trend(days, scope, day),
        spike=spike(today, pooled(days, scope, previous_days(day, BASELINE_DAYS))),
        series=series,
    )


def history_start(day: dt.date, *, chart_days: int = 14) -> dt.date:
    """The first day whose mentions the moods of `day` depend on (chart, trend and baseline)."""
    return day - dt.timedelta(days=max(chart_days - 1, TREND_DAYS, BASELINE_DAYS))
