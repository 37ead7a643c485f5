"""bench/RESULTS.md: every figure with its ratio against the baselines and the issue-15 target beside it."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.proctree import Measured

QUERY_TARGETS_MS = {"mentions": 120, "feeds": 120, "threads --needs-reply --limit 50": 300,
                    "report": 1500, "digest": 1500}
FIRST_VS_STRAIGHT, FIRST_VS_R2E = 2.5, 4.0
REPOLL_FEEDS_PER_S, REPOLL_VS_R2E = 1000, 3.0
BIG_POLL_RSS_MB = 300
VERDICT_RSS_MB = 100  # issue 10: peak memory of a poll up by at most this with the verdict
SCORING_SHARE = 2 / 3  # issue 10: VADER + verdict at least this share of vaderSentiment's items/s


@dataclass
class Runs:
    """The repeats of one measured command."""

    label: str
    work: int  # items (first polls) or feeds (re-polls) the rate counts
    unit: str  # "items" or "feeds"
    measured: list[Measured] = field(default_factory=list)

    @property
    def seconds(self) -> list[float]:
        return [m.seconds for m in self.measured]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        return self.work / self.best if self.best else 0.0

    @property
    def peak_mb(self) -> float:
        return max(m.peak_rss_mb for m in self.measured)

    @property
    def ok(self) -> bool:
        return bool(self.measured) and all(m.returncode == 0 for m in self.measured)


@dataclass
class Results:
    command: str
    server: str
    feeds: int
    repeats: int
    settings: dict[str, str]
    poll: dict[str, Runs] = field(default_factory=dict)  # straight, r2e_first, r2e_again, first, again, changed
    notes: list[str] = field(default_factory=list)
    big: Runs | None = None  # the 5,000-feed first poll
    big_vader: Runs | None = None  # the same with `sentiment: {scorer: vader}`: the verdict's memory is the difference
    db_items: int = 0
    db_facts: str = ""
    queries: dict[str, Runs] = field(default_factory=dict)
    scoring_share: float | None = None  # VADER + verdict's items/s over vaderSentiment's, complaints, batches of 20
    scoring_build: str = ""  # "compiled" or "pure Python"
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    load_before: str = field(default_factory=lambda: load_average())


def load_average() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def machine() -> str:
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {memory} RAM, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}, "
            f"SQLite {__import__('sqlite3').sqlite_version}")


def _x(value: float | None) -> str:
    return f"{value:.2f}x" if value else "–"


def _holds(ok: bool | None) -> str:
    return "not judged" if ok is None else ("**holds**" if ok else "**misses**")


def _ratio(ours: Runs | None, theirs: Runs | None) -> tuple[float | None, float | None]:
    """(best vs best, median vs median) as speed-ups: their time over ours."""
    if not ours or not theirs or not ours.ok or not theirs.ok:
        return None, None
    return theirs.best / ours.best, theirs.median / ours.median


def target_lines(results: Results) -> list[tuple[str, str, bool | None]]:
    """(target, measured, holds) for every issue-15 target this run could judge."""
    poll = results.poll
    first, again = poll.get("first"), poll.get("again")
    lines: list[tuple[str, str, bool | None]] = []
    best, median = _ratio(first, poll.get("straight"))
    lines.append((f"first poll >= {FIRST_VS_STRAIGHT}x the straightforward pipeline (items/s)",
                  f"{_x(best)} (median {_x(median)})", None if best is None else best >= FIRST_VS_STRAIGHT))
    best, median = _ratio(first, poll.get("r2e_first"))
    lines.append((f"first poll >= {FIRST_VS_R2E:g}x rss2email (items/s)", f"{_x(best)} (median {_x(median)})",
                  None if best is None else best >= FIRST_VS_R2E))
    if again and again.ok:
        at = "" if results.feeds == 1000 else f" (measured at {results.feeds:,} feeds; the target is at 1,000)"
        lines.append((f"all-304 re-poll >= {REPOLL_FEEDS_PER_S:,} feeds/s at 1,000 feeds",
                      f"{again.rate:,.0f} feeds/s{at}", again.rate >= REPOLL_FEEDS_PER_S if not at else None))
    best, median = _ratio(again, poll.get("r2e_again"))
    lines.append((f"all-304 re-poll >= {REPOLL_VS_R2E:g}x rss2email's re-run", f"{_x(best)} (median {_x(median)})",
                  None if best is None else best >= REPOLL_VS_R2E))
    for name, limit in QUERY_TARGETS_MS.items():
        runs = results.queries.get(name)
        if runs and runs.ok:
            p50 = runs.median * 1000
            at = "" if results.db_items >= 1_000_000 else f" (on {results.db_items:,} items; the target is on 1M)"
            lines.append((f"`{name}` p50 <= {limit:,} ms on 1M items", f"{p50:,.0f} ms{at}",
                          p50 <= limit if not at else None))
    big = results.big
    if big and big.ok:
        at = "" if big.work >= 100_000 else f" (at {big.work // 20:,} feeds; the target is at 5,000)"
        lines.append((f"5,000-feed first poll peak RSS (whole tree) <= {BIG_POLL_RSS_MB} MB",
                      f"{big.peak_mb:,.0f} MB{at}", big.peak_mb <= BIG_POLL_RSS_MB if not at else None))
        plain = results.big_vader
        if plain and plain.ok:
            added = big.peak_mb - plain.peak_mb
            lines.append((f"issue 10: the verdict adds <= {VERDICT_RSS_MB} MB to a poll's peak RSS (vs `scorer: vader`)",
                          f"{added:+,.0f} MB ({big.peak_mb:,.0f} vs {plain.peak_mb:,.0f}){at}",
                          added <= VERDICT_RSS_MB if not at else None))
    if results.scoring_share is not None:
        lines.append(("issue 10: VADER + verdict >= 2/3 of vaderSentiment's items/s (complaints, batches of 20)",
                      f"{results.scoring_share:.2f} ({results.scoring_build})", results.scoring_share >= SCORING_SHARE))
    return lines


POLL_ROWS = (
    ("straight", "straightforward: fetch + feedparser + VADER on every item, 2 processes"),
    ("r2e_first", "rss2email 3.14, first run (`r2e run --no-send`)"),
    ("r2e_again", "rss2email 3.14, re-run (all 304)"),
    ("first", "listener, first poll (`listener poll --all`)"),
    ("again", "listener, re-poll, all 304"),
    ("changed", "listener, re-poll, 10 % of feeds changed"),
)


def render(results: Results) -> str:
    poll = results.poll
    out = [
        "# Benchmark results (issue 15)", "",
        f"- date: {results.started:%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        f"- command: `{results.command}`",
        "- settings: " + ", ".join(f"{k}={v}" for k, v in results.settings.items()),
        f"- farm server: {results.server}",
        f"- {results.feeds:,} WordPress-like feeds x 20 items; {results.repeats} interleaved repeats; "
        f"load average {results.load_before} before, {load_average()} after (other work on the machine "
        "slows every system alike; ratios are steadier than seconds); "
        "every figure is a whole command (process start-up included), min and median of the repeats; "
        "rates and ratios from the min. Peak RSS: the most the whole process tree held at once "
        "(sampled every 20 ms), the max over repeats.",
        "", "## Targets", "",
        "| target | measured | |", "| --- | ---: | --- |",
    ]
    out += [f"| {target} | {value} | {_holds(ok)} |" for target, value, ok in target_lines(results)]
    out += ["", f"## Polling {results.feeds:,} feeds", "",
            "| run | min s | median s | rate (min) | peak RSS MB | vs straightforward | vs rss2email |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, label in POLL_ROWS:
        runs = poll.get(key)
        if runs is None:
            continue
        if not runs.ok:
            out.append(f"| {label} | failed (exit {[m.returncode for m in runs.measured]}) | | | | | |")
            continue
        baseline = "straight" if key == "first" else None
        peer = {"first": "r2e_first", "again": "r2e_again"}.get(key)
        vs_straight = _ratio(runs, poll.get(baseline))[0] if baseline and key == "first" else None
        vs_peer = _ratio(runs, poll.get(peer))[0] if peer else None
        out.append(f"| {label} | {runs.best:.2f} | {runs.median:.2f} | {runs.rate:,.0f} {runs.unit}/s | "
                   f"{runs.peak_mb:,.0f} | {_x(vs_straight)} | {_x(vs_peer)} |")
    if results.big is not None:
        big = results.big
        out += ["", f"## First poll at {big.work // 20:,} feeds (memory)", ""]
        if big.ok:
            out.append(f"listener first poll: {big.best:.1f} s, {big.rate:,.0f} items/s, "
                       f"peak RSS of the whole tree {big.peak_mb:,.0f} MB (target <= {BIG_POLL_RSS_MB} MB).")
            plain = results.big_vader
            if plain is not None and plain.ok:
                out.append(f"The same poll with `sentiment: {{scorer: vader}}` (no model, no verdict rules): "
                           f"{plain.best:.1f} s, peak RSS {plain.peak_mb:,.0f} MB; the verdict adds "
                           f"{big.peak_mb - plain.peak_mb:+,.0f} MB (issue 10: at most {VERDICT_RSS_MB} MB).")
        else:
            out.append(f"failed: exit {[m.returncode for m in big.measured]}")
    if results.queries:
        out += ["", f"## Read commands on {results.db_items:,} items", "", results.db_facts, "",
                "| command | p50 ms | min ms | max ms | peak RSS MB | target ms | |",
                "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
        for name, runs in results.queries.items():
            limit = QUERY_TARGETS_MS.get(name)
            if not runs.ok:
                out.append(f"| `listener {name}` | failed (exit {[m.returncode for m in runs.measured]}) | | | | | |")
                continue
            p50 = runs.median * 1000
            out.append(f"| `listener {name}` | {p50:,.0f} | {runs.best * 1000:,.0f} | "
                       f"{max(runs.seconds) * 1000:,.0f} | {runs.peak_mb:,.0f} | {limit or '–'} | "
                       f"{_holds(p50 <= limit if limit else None)} |")
    if results.notes:
        out += ["", "## Notes", ""] + [f"- {note}" for note in results.notes]
    return "\n".join(out) + "\n"


def summary(results: Results) -> str:
    """The targets, for the terminal."""
    return "\n".join(f"  {'OK  ' if ok else 'MISS' if ok is not None else '  - '} {target}: {value}"
                     for target, value, ok in target_lines(results))


def write(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(render(results))
    os.replace(partial, path)
    print(f"bench: wrote {path}", file=sys.stderr)
