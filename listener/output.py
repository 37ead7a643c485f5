"""How the CLI shows results: aligned tables for people, JSON and CSV for programs, transcripts."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import click

TRANSCRIPT_TEXT_CHARS = 2000


# What a person reads above a column, instead of the field's name.
HEADERS = {
    "published": "published", "last_polled_at": "last poll", "next_poll_at": "next poll", "item_count": "items",
    "consecutive_errors": "errors", "http_status": "http", "last_error": "last error", "compound": "VADER",
    "says": "says", "neg": "negative", "last": "last activity", "backoff": "back-off", "created": "when",
    "next_try": "next try", "delivered": "delivered",
}
_SPACES = re.compile(r"\s+")
# Columns that take the room left over, shortened with an ellipsis; the others keep their width.
STRETCH = {"title", "says", "last_error", "name", "error"}


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, *,
         table_columns: Sequence[str] | None = None, empty: str = "nothing found",
         headers: dict[str, str] | None = None) -> None:
    """Print rows as a table (for people), one JSON array, or CSV (for programs)."""
    if fmt == "json":
        click.echo(json.dumps([{c: row.get(c) for c in columns} for row in rows], ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        import csv

        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in columns])
        click.echo(buffer.getvalue(), nl=False)
        return
    if not rows:
        click.echo(empty, err=True)
        return
    click.echo(render_table(rows, table_columns or columns, headers=headers))


def _csv_cell(value: Any) -> Any:
    """A list is its items joined by "; " (terms, reasons); a mapping is JSON; the rest as it is."""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:+.2f}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    text = str(value)
    if text.isprintable() and "  " not in text:  # every other whitespace character is unprintable
        return text
    return _SPACES.sub(" ", text)


# Characters a terminal shows one cell wide, that rich neither strips nor measures otherwise (a test
# checks each against rich): Latin, Greek, Cyrillic, and the punctuation and currency signs beside them.
_NARROW = re.compile("[ -~\u00a0-\u00ac\u00ae-\u02ff\u0370-\u0482\u2010-\u2027\u2030-\u205e\u20a0-\u20c0]*")
RIGHT = {"priority", "items", "item_count", "neg", "errors", "consecutive_errors", "http_status"}


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, headers: dict[str, str] | None = None,
                 width: int | None = None, by_rich: bool = False) -> str:
    """Columns that fit the terminal (COLUMNS when set): text columns give way, with an ellipsis.

    The layout is rich's (a SIMPLE_HEAD table of no-wrap, ellipsis cells), made here: rich's Table
    takes longer than the query (~0.2 s for 500 feeds, its import included). Text of one-cell
    characters is measured by len(); wide ones (emoji, CJK) by rich's cell functions, which measure
    what a terminal shows, so those keep the columns aligned. Characters that join others (ZWJ,
    variation selectors, combining marks, control codes), or a table wider than the terminal, are
    left to rich's Table itself; so is every table with `by_rich` (tests compare the two).
    """
    width = width or shutil.get_terminal_size((120, 24)).columns
    names = {**HEADERS, **(headers or {})}
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    headers_shown = [names.get(c, c.replace("_", " ")) for c in columns]
    texts = [*headers_shown, *(text for row in cells for text in row)]
    measure: Callable[[str], int] = len
    cut: Callable[[str, int], str] = _cut
    alone = True  # every character is a grapheme of its own, which rich measures one by one
    if not all(_NARROW.fullmatch(text) for text in texts):
        from rich.cells import cell_len, get_character_cell_size, set_cell_size

        measure, cut = cell_len, set_cell_size
        alone = not any(c in "\u200d\ufe0f" or not get_character_cell_size(c) for c in set().union(*texts))
    natural = [max([min(measure(h), 9)] + [measure(r[i]) for r in cells]) for i, h in enumerate(headers_shown)]
    # A short column keeps its width (at most 24); the text columns share what is left, at least 8 each.
    fixed = [min(24, n) for n, c in zip(natural, columns) if c not in STRETCH]
    stretching = [n for n, c in zip(natural, columns) if c in STRETCH]
    room = width - sum(fixed) - 2 * (len(columns) - 1) - 1
    share = max(8, room // len(stretching)) if stretching else 0
    sizes = [min(size, share) if column in STRETCH else min(24, size) for column, size in zip(columns, natural)]
    right = [column in RIGHT for column in columns]
    total = sum(sizes) + 2 * (len(sizes) - 1)
    if alone and min(sizes) >= 1 and total <= width and not by_rich:
        lines = [_line(headers_shown, sizes, right, measure, cut), "\u2500" * total]
        lines += [_line(row, sizes, right, measure, cut) for row in cells]
    else:
        lines = _rich_table(headers_shown, cells, sizes, right, width)
    return "\n".join(line.rstrip() for line in lines if line.strip())


def _cut(text: str, size: int) -> str:
    return text[:size]


def _line(texts: Sequence[str], sizes: Sequence[int], right: Sequence[bool], measure: Callable[[str], int],
          cut: Callable[[str, int], str]) -> str:
    """One row as rich shows no-wrap, ellipsis cells (rich.text.Text.truncate), two spaces between them."""
    shown = []
    for text, size, to_right in zip(texts, sizes, right):
        if to_right:
            text = text.rstrip()
        length = measure(text)
        if length > size:
            text, length = cut(text, size - 1) + "\u2026", size
        pad = " " * (size - length)
        shown.append(pad + text if to_right else text + pad)
    return "  ".join(shown)


def _rich_table(headers: Sequence[str], cells: Sequence[Sequence[str]], sizes: Sequence[int],
                right: Sequence[bool], width: int) -> list[str]:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), header_style="",
                  expand=False, collapse_padding=True)
    for header, size, to_right in zip(headers, sizes, right):
        table.add_column(header, no_wrap=True, overflow="ellipsis", width=size, justify="right" if to_right else "left")
    for cell_row in cells:
        table.add_row(*cell_row)
    console = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False, highlight=False,
                      emoji=False, markup=False, soft_wrap=False)
    console.print(table)
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def local_time(moment: dt.datetime | str | None, timezone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment as a person here reads it: local time in the configured zone (the header names it)."""
    if isinstance(moment, str):
        try:
            moment = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return str(moment)
    return moment.astimezone(ZoneInfo(timezone)).strftime(fmt) if moment else ""


def zone_name(timezone: str) -> str:
    """The zone as a header shows it: its abbreviation now (GMT, CET), else the IANA name."""
    return dt.datetime.now(ZoneInfo(timezone)).tzname() or timezone


def flags(summary: Any) -> str:
    """What a person says of a thread: heating up, a fan answered; "we replied" once nobody waits."""
    said = [name for name, on in (("heating up", summary.heating_up), ("a fan answered", summary.defended),
                                  ("we replied", summary.staff_replied and not summary.needs_reply)) if on]
    return ", ".join(said)


def transcript(detail: Any, timezone: str) -> str:
    """`listener thread` for a person: the thread's state, then each item and ack in time order."""
    import textwrap  # only this command wraps text

    summary = detail.summary
    lines = [f"{summary.title or '(untitled)'}  [{summary.id}]"]
    if summary.url or summary.feed:
        lines.append("  ".join(part for part in (summary.url, f"feed: {summary.feed}" if summary.feed else "") if part))
    state = summary.status.replace("_", " ")
    if summary.needs_reply:
        parts = ", ".join(f"{name} {value:.1f}" for name, value in summary.why.items())
        state += f", priority {summary.priority:.1f} ({parts}), waiting {summary.as_json()['waiting']}"
    if flags(summary):
        state += f"; {flags(summary)}"
    lines.append(state)
    lines += team_lines(detail, timezone)
    lines.append("")
    width = min(100, shutil.get_terminal_size((100, 24)).columns)
    for row in detail.conversation:
        when = local_time(row["at"], timezone)
        if row["kind"] == "ack":
            lines.append(f"{when}  -- {row['title']} (by {row['author'] or 'someone'})")
            continue
        who = (row["author"] or "(anonymous)") + (" [staff]" if row["staff"] else "")
        score = f"{row['compound']:+.2f} {row['mood']}" if row["compound"] is not None else "not scored"
        mark = "  <- waiting for a reply" if row["unanswered"] else ""
        marked = f"  [marked {', '.join(row['marked'])}]" if row.get("marked") else ""
        lines.append(f"{when}  {who}  {score}{mark}{marked}  #{row['id']}")
        text = row["text"] or ""
        # A comment's title is boilerplate ("By: Jo", "Re: ..."); the post's title is worth reading.
        if row["title"] and (row["root"] or not text) and not text.startswith(row["title"]):
            text = f"{row['title']}: {text}" if text else row["title"]
        if len(text) > TRANSCRIPT_TEXT_CHARS:
            text = text[: TRANSCRIPT_TEXT_CHARS - 1] + "…"
        lines += textwrap.wrap(text, width=width, initial_indent="    ", subsequent_indent="    ") or ["    (no text)"]
        if row["url"]:
            lines.append(f"    {row['url']}")
    return "\n".join(lines)


def team_lines(detail: Any, timezone: str) -> list[str]:
    """The queues and reasons, and what the team did: owner, snooze, mute, acks, marks."""
    summary, team = detail.summary, detail.team or {}
    lines = [f"queues: {', '.join(summary.queues) or 'none'}" + (" (OVERDUE)" if summary.overdue else "")]
    lines += [f"  - {reason}" for reason in summary.reasons]
    actions = []
    if summary.owner:
        actions.append(f"assigned to {summary.owner}")
    if summary.snoozed_until:
        actions.append(f"snoozed until {local_time(summary.snoozed_until, timezone)}")
    if summary.muted:
        actions.append("muted")
    if detail.acks:
        last = detail.acks[-1]
        actions.append(f"acked {len(detail.acks)}x, last {last['acked_at']}" + (f" by {last['by']}" if last.get("by") else ""))
    if detail.marks:
        actions.append(f"{sum(len(m) for m in detail.marks.values())} item(s) marked by a person")
    lines.append("team: " + ("; ".join(actions) if actions else "no actions yet")
                 + (f" (last change by {team['by']})" if team.get("by") else ""))
    return lines
