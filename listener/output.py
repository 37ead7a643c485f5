"""How the CLI shows results: aligned tables for people, JSON and CSV for programs, transcripts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import textwrap
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import click

TRANSCRIPT_TEXT_CHARS = 2000


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, *,
         table_columns: Sequence[str] | None = None, empty: str = "nothing found") -> None:
    """Print rows as a table (for people), one JSON array, or CSV (for programs)."""
    if fmt == "json":
        click.echo(json.dumps([{c: row.get(c) for c in columns} for row in rows], ensure_ascii=False, indent=2))
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([json.dumps(v) if isinstance(v, (list, dict)) else v for v in (row.get(c) for c in columns)])
        click.echo(buffer.getvalue(), nl=False)
        return
    if not rows:
        click.echo(empty, err=True)
        return
    click.echo(render_table(rows, table_columns or columns))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, float):
        return f"{value:+.2f}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return re.sub(r"\s+", " ", str(value))


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Aligned columns; the widest column is shortened so a line fits the terminal."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    room = shutil.get_terminal_size((120, 24)).columns
    while sum(widths) + 2 * (len(widths) - 1) > room and max(widths) > 12:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    def line(values: Sequence[str]) -> str:
        return "  ".join((v if len(v) <= w else v[: w - 1] + "…").ljust(w) for v, w in zip(values, widths)).rstrip()
    return "\n".join([line(columns)] + [line(r) for r in cells])


def local_time(moment: dt.datetime | None, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M") if moment else ""


def flags(summary: Any) -> str:
    flags = [name for name, on in (("heating up", summary.heating_up), ("defended", summary.defended),
                                   ("staff replied", summary.staff_replied)) if on]
    return ", ".join(flags)


def transcript(detail: Any, timezone: str) -> str:
    """`listener thread` for a person: the thread's state, then each item and ack in time order."""
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
