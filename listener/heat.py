"""The mood scale: the temperature formula, its words, and the records mood computes and report shows.

A leaf (it imports nothing of listener's), so mood.py (which counts) and report.py (which shows)
share one vocabulary without importing each other. The formula is explained in mood.py.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

PSEUDO = 4.0  # mentions of "not negative" every day starts with
SHARE_SCALE = 0.3  # negative share at which the share factor reaches 1 - 1/e
VOLUME_HALF = 20.0  # mentions a day at which the volume factor is halfway from 1/2 to 1

WORDS = ("calm", "mild", "warm", "hot", "boiling")  # bands of 20 degrees

PRIOR_RATE, PRIOR_WEIGHT = 0.15, 10.0  # what a term with little history is assumed to run at

OVERALL = ""  # the scope key of "all mentions"



def temperature(negative: float, total: float) -> float:
    """Heat from 0 (calm) to 100 (boiling) of a day with `total` mentions, `negative` of them negative."""
    if total <= 0 or negative <= 0:
        return 0.0
    negative = min(negative, total)
    share = negative / (total + PSEUDO)
    heat = 1.0 - math.exp(-share / SHARE_SCALE)
    volume = 0.5 + 0.5 * total / (total + VOLUME_HALF)
    return 100.0 * heat * volume


def word(degrees: float) -> str:
    """calm below 20, mild below 40, warm below 60, hot below 80, boiling from 80."""
    return WORDS[min(len(WORDS) - 1, max(0, int(degrees // 20)))]


def classify(compound: float | None, *, negative: float, positive: float) -> str:
    """negative when compound <= `negative`, positive when >= `positive`, else (or unscored) neutral."""
    if compound is None:
        return "neutral"
    if compound <= negative:
        return "negative"
    if compound >= positive:
        return "positive"
    return "neutral"


@dataclass(frozen=True)
class Mention:
    """What the mood needs of one mention."""

    first_seen: dt.datetime  # aware
    compound: float | None
    terms: tuple[str, ...] = ()
    label: str | None = None  # the verdict: negative (a complaint counts), neutral, positive, unknown


@dataclass(frozen=True)
class Tally:
    """One scope (overall or one watch term) on one day, or pooled over several days."""

    positive: int = 0
    neutral: int = 0
    negative: int = 0
    compound_sum: float = 0.0
    scored: int = 0  # mentions with a compound score

    @property
    def total(self) -> int:
        return self.positive + self.neutral + self.negative

    @property
    def mean_compound(self) -> float | None:
        return self.compound_sum / self.scored if self.scored else None

    @property
    def negative_share(self) -> float:
        return self.negative / self.total if self.total else 0.0

    @property
    def temperature(self) -> float:
        return temperature(self.negative, self.total)

    def add(self, kind: str, compound: float | None) -> Tally:
        return self.add_many(kind, 1, compound or 0.0, int(compound is not None))

    def add_many(self, kind: str, count: int, compound_sum: float, scored: int) -> Tally:
        """`count` mentions of one kind at once, their compounds summing to `compound_sum`."""
        return Tally(
            positive=self.positive + count * (kind == "positive"),
            neutral=self.neutral + count * (kind == "neutral"),
            negative=self.negative + count * (kind == "negative"),
            compound_sum=self.compound_sum + compound_sum,
            scored=self.scored + scored,
        )

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.positive + other.positive, self.neutral + other.neutral,
                     self.negative + other.negative, self.compound_sum + other.compound_sum,
                     self.scored + other.scored)


Tallies = dict[dt.date, dict[str, Tally]]  # day -> scope (OVERALL or a watch name) -> tally


@dataclass(frozen=True)
class Spike:
    """Whether a day's negativity is well above the scope's own recent baseline, and why."""

    flagged: bool
    share: float  # the day's negative share
    baseline: float  # the smoothed baseline negative share
    p_value: float
    history: int = 0  # mentions the baseline was measured on (0: the prior alone)


@dataclass(frozen=True)
class ScopeMood:
    """Everything the report shows for one scope on one day."""

    name: str  # OVERALL or a watch name
    day: dt.date
    tally: Tally
    degrees: float
    word: str
    trend: float | None  # None: nothing heard in the previous days to compare with
    spike: Spike
    series: tuple[tuple[dt.date, Tally], ...]  # the chart's days, oldest first, `day` last
