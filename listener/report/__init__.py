"""The day's report and digest: one Jinja environment (autoescape on) over plain, cleaned view objects.

Everything a feed wrote reaches a template only through the view objects built here, which
clean it first: control, bidi and zero-width characters are removed, lengths are capped, and
a link is kept only when it is http(s). The templates escape every value again (autoescape),
and an `href` is written only through the `href` filter, which checks the scheme once more.
One item that cannot be turned into a view is logged and left out; it never stops the page.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
import jinja2
from markupsafe import Markup

from listener import heat
from listener.report.views import (  # noqa: F401 - the report's API: views, build_report, limits
    CHART_DAYS,
    ERROR_CHARS,
    NAME_CHARS,
    NO_DATA,
    REASONS_SHOWN,
    REPORT_MAX_THREADS,
    TEXT_CHARS,
    TITLE_CHARS,
    TOP_MENTIONS,
    WHY_LABELS,
    Bar,
    Chart,
    DayReport,
    FeedView,
    HeatView,
    MentionView,
    ThreadView,
    _field,
    _percent,
    build_report,
    chart,
    feed_views,
    heat_view,
    mention_view,
    thread_view,
)
from listener.text import human_duration, one_line, safe_url, strip_invisible, url_host

log = logging.getLogger(__name__)


REPORT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.html$")

# --- hostile text -----------------------------------------------------------------------------

def href(value: Any) -> str:
    """The template filter every href goes through: the URL when it is http(s), else a harmless '#'."""
    return safe_url(value) or "#"


def local_href(value: Any) -> str:
    """The index's links: only a report's own file name (YYYY-MM-DD.html), else '#'."""
    return value if isinstance(value, str) and REPORT_NAME.match(value) else "#"


def _finalize(value: Any) -> Any:
    """Every {{ value }} in every template: strip control and bidi characters from plain strings."""
    if value is None:
        return ""
    if isinstance(value, str) and not isinstance(value, Markup):
        return strip_invisible(value)
    return value


# --- the environment --------------------------------------------------------------------------


def _strict_by_default() -> bool:
    return bool(os.environ.get("LISTENER_STRICT_TEMPLATES"))


@functools.lru_cache(maxsize=2)
def _environment(strict: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("listener", "templates"),
        # HTML-escape every template and template string; digest.txt is plain text, where escaping
        # would turn "AT&T" into "AT&amp;T": there _finalize and the view objects keep it clean.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml", "svg"),
                                            disabled_extensions=("txt",),
                                            default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(href=href, local_href=local_href, host=url_host, signed=_signed, percent=_percent,
                       waited=_waited, local_time=_local_time, wrap_text=_wrap_text)
    env.globals.update(words=heat.WORDS)
    return env


def environment(strict: bool | None = None) -> jinja2.Environment:
    """The one Jinja environment; StrictUndefined under tests (or LISTENER_STRICT_TEMPLATES=1)."""
    return _environment(_strict_by_default() if strict is None else strict)


# --- formatting filters -----------------------------------------------------------------------


def _signed(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    text = f"{value:+.{digits}f}"
    return "±0" if text.lstrip("+-").strip("0.") == "" else text.replace("-", "−")


def _waited(seconds: float | None) -> str:
    return human_duration(seconds) or ""


def _local_time(moment: dt.datetime | None, timezone: str, fmt: str = "%H:%M") -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(timezone)).strftime(fmt)


def _wrap_text(text: str, width: int = 76, indent: str = "") -> str:
    import textwrap

    return "\n".join(textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False) or indent.rstrip()
                     for line in str(text).split("\n"))


# --- rendering --------------------------------------------------------------------------------


def render_report(report: DayReport) -> str:
    """The day's HTML page: self-contained, no scripts, no remote resources."""
    return environment().get_template("report.html").render(r=report)


@dataclass(frozen=True)
class IndexEntry:
    day: dt.date
    file: str
    degrees: int | None
    word: str | None


_META = re.compile(r'<meta name="listener-mood" content="(\d{1,3}) (calm|mild|warm|hot|boiling)">')


def index_entries(directory: Path) -> list[IndexEntry]:
    """Every YYYY-MM-DD.html report in `directory`, newest first, with the temperature it recorded."""
    entries = []
    for path in directory.iterdir():
        found = REPORT_NAME.match(path.name)
        if not found:
            continue
        try:
            day = dt.date.fromisoformat(found.group(1))
            with path.open("r", encoding="utf-8", errors="replace") as handle:
                meta = _META.search(handle.read(4096))
        except (ValueError, OSError):
            continue
        entries.append(IndexEntry(day, path.name, int(meta.group(1)) if meta else None,
                                  meta.group(2) if meta else None))
    return sorted(entries, key=lambda entry: entry.day, reverse=True)


def render_index(entries: Sequence[IndexEntry], *, generated_at: dt.datetime, timezone: str) -> str:
    return environment().get_template("index.html").render(entries=entries, generated_at=generated_at,
                                                          timezone=timezone)


def write_page(path: Path, text: str) -> Path:
    """Write `text` to `path` through a temp file in the same directory and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return path


@dataclass(frozen=True)
class DigestParts:
    subject: str
    text: str
    html: str
    threads_more: int
    negative_more: int


def summary_line(report: DayReport) -> str:
    """One line for a terminal after `listener report`: the word, the temperature, what needs doing."""
    overall = report.overall
    if report.not_listening_yet:
        mood = "no data yet"
    else:
        mood = f"{overall.word} {overall.out_of_100}" if overall.heard else "nothing heard"
    parts = [f"{report.day.isoformat()}: {mood}", f"{overall.total} mention{'s' if overall.total != 1 else ''}",
             f"{report.threads_total} thread{'s' if report.threads_total != 1 else ''} need a reply"]
    if report.spikes:
        parts.append("spike: " + ", ".join(term.name for term in report.spikes[:3]))
    return " · ".join(parts)


def digest_subject(report: DayReport) -> str:
    """The date, the word and the temperature; then what needs doing. Built from our own strings."""
    overall = report.overall
    if report.not_listening_yet:
        subject = f"Mood {report.day.isoformat()}: no data yet (listener was not listening)"
    else:
        subject = f"Mood {report.day.isoformat()}: " + (f"{overall.word} {overall.out_of_100}" if overall.heard
                                                         else "nothing heard")
    if report.threads_total:
        subject += f" · {report.threads_total} thread{'s' if report.threads_total != 1 else ''} need a reply"
        subject += f" ({report.overdue_total} overdue)" if report.overdue_total else ""
    if report.spikes:
        subject += " · spike: " + ", ".join(term.name for term in report.spikes[:3])
    return one_line(subject, 200)


def render_digest(report: DayReport, *, max_items: int, report_hint: str = "") -> DigestParts:
    """The email's subject, plain text and HTML (CSS inlined: mail clients drop <style> blocks).

    At most `max_items` threads and `max_items` of the most negative mentions (the report
    lists TOP_MENTIONS); the threads left out are counted as "N more in the report" (and those
    past the report's own cap as "N more: listener threads --needs-reply").
    """
    threads = report.threads[:max_items]
    negative = report.most_negative[:max_items]
    positive = report.most_positive[: min(max_items, 5)]
    threads_more = report.threads_total - len(threads)
    negative_more = len(report.most_negative) - len(negative)
    context = dict(r=report, threads=threads, threads_more=threads_more,
                   moderate=report.moderate[:max_items], thank=report.thank[:max_items],
                   in_report_more=len(report.threads) - len(threads),
                   beyond_report=report.threads_total - len(report.threads),
                   most_negative=negative, most_positive=positive,
                   negative_more=negative_more, report_hint=report_hint)
    env = environment()
    text = env.get_template("digest.txt").render(**context)
    html = env.get_template("digest.html").render(**context)
    inliner = css_inline.CSSInliner(keep_style_tags=False, keep_link_tags=False, load_remote_stylesheets=False)
    return DigestParts(subject=digest_subject(report), text=text, html=inliner.inline(html),
                       threads_more=threads_more, negative_more=negative_more)
