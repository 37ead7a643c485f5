"""Commands that read what was heard: mentions, explain, rescore, threads, thread, ack."""

from __future__ import annotations

import shutil
import sys

import click

from listener import pipeline, store
from listener.cli import (
    State,
    cli,
    format_option,
    parse_since,
    pass_state,
    since_option,
)
from listener.config import feed_name, watch_name
from listener.errors import UsageError
from listener.output import emit, flags, local_time, transcript, zone_name
from listener.text import display_title

MENTION_FIELDS = ["id", "feed", "title", "url", "author", "published", "terms", "compound", "pos", "neu",
                  "neg", "thread_id", "snippet", "sentiment", "complaint", "confidence", "language", "why"]


@cli.command()
@since_option()
@click.option("--term", help="Only mentions of this watch entry (its name).")
@click.option("--feed", help="Only mentions from this feed (its name).")
@click.option("--negative", is_flag=True, help="Only negative mentions (compound <= thresholds.negative).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--search", metavar="QUERY", help='Only mentions whose title or text match this SQLite FTS5 query'
              ' (sync OR "lost my notes", expens*, title:pricing).')
@format_option()
@pass_state
def mentions(state: State, since: str | None, term: str | None, feed: str | None, negative: bool,
             limit: int, search: str | None, fmt: str) -> None:
    """Recent mentions of what you watch, newest first.

    \b
    Example:
        listener mentions --since 24h --negative --format json
        listener mentions --search '"lost my notes" OR sync'
    """
    config = state.config
    with state.reader() as db:
        rows = store.mentions(db, since=parse_since(since, config.timezone), term=watch_name(config, term),
                              feed=feed_name(config, feed),
                              negative_at_most=config.negative if negative else None, limit=limit,
                              search=search)
    for row in rows:  # a comment's title is "By: Name"; people read the words around the term instead
        row["says"] = display_title(row["title"], snippet=row["snippet"])
        row["when"] = local_time(row["published"], config.timezone, "%m-%d %H:%M")
        row["mood"] = ("complaint" if row.get("complaint") else row.get("sentiment")) or ""
    emit(rows, MENTION_FIELDS, fmt, table_columns=["when", "feed", "mood", "author", "says"],
         headers={"when": f"published ({zone_name(config.timezone)})"}, empty="no mentions found")


@cli.command()
@click.argument("item_id", type=int)
@format_option()
@pass_state
def explain(state: State, item_id: int, fmt: str) -> None:
    """Why listener judged an item as it did: the verdict, the cues behind it, VADER's numbers.

    ITEM_ID is the `id` in `listener mentions --format json`.

    \b
    Example:
        listener explain 4711
    """
    with state.database() as db:
        row = pipeline.explain(db, item_id)
    if fmt != "table":
        emit([row], ["id", "feed", "title", "url", "author", "published", "thread_id", "sentiment", "complaint",
                     "confidence", "language", "why", "compound", "pos", "neu", "neg", "verdict_version"], fmt)
        return
    verdict = row["sentiment"] or "not judged (scored before verdicts: `listener rescore`)"
    if row["complaint"]:
        verdict += ", a complaint"
    lines = [f"{row['title'] or '(untitled)'}  [item {row['id']}]",
             "  ".join(p for p in (row["feed"] and f"feed: {row['feed']}", row["author"] and f"by {row['author']}",
                                   row["url"]) if p),
             f"verdict: {verdict}" + (f" (confidence {row['confidence']:.2f}, language {row['language']})"
                                      if row["confidence"] is not None else ""),
             "why: " + ("; ".join(row["why"]) if row["why"] else "-"),
             f"VADER: compound {row['compound']:+.3f} (pos {row['pos']:.2f}, neu {row['neu']:.2f}, neg {row['neg']:.2f})"
             if row["compound"] is not None else "VADER: not scored (not a mention or a reply)"]
    click.echo("\n".join(lines))


@cli.command()
@click.pass_context
def rescore(ctx: click.Context) -> None:
    """Score and judge stored items again with today's scorer (after an upgrade or a scorer change).

    Batches of 500 items, one transaction each, so polls go on in between; stopped at any point,
    the next run goes on where it stopped. A person's marks always win over the scorer.

    \b
    Example:
        listener rescore
    """
    state: State = ctx.obj
    tty = sys.stderr.isatty() and not ctx.meta["quiet"]

    def show(progress: pipeline.RescoreProgress) -> None:
        if tty:
            click.echo(f"\r\x1b[2Krescored {progress.done:,} of {progress.total:,} items", nl=False, err=True)

    with state.database(create=True) as db:
        done = pipeline.rescore(db, state.config, on_batch=show)
    if tty and done.done:
        click.echo("\r\x1b[2K", nl=False, err=True)
    if not ctx.meta["quiet"]:
        click.echo(f"rescored {done.done:,} items" + ("" if done.done else ": every item is judged by today's scorer"))


THREAD_FIELDS = ["id", "title", "url", "feed", "items", "negative_items", "last_activity",
                 "oldest_unanswered_negative", "staff_replied", "needs_reply", "priority", "status", "why",
                 "heating_up", "defended", "waiting", "waiting_seconds", "unanswered", "acked_at", "terms",
                 "queues", "reasons", "overdue", "owner", "snoozed_until", "muted"]


@cli.command()
@click.option("--queue", type=click.Choice(["reply", "moderate", "thank"]),
              help="Only the threads in this queue (see the README's Triage section).")
@click.option("--needs-reply", is_flag=True, help="The same as --queue reply.")
@click.option("--owner", metavar="NAME", help="Only threads assigned to NAME (`listener assign`).")
@since_option()
@click.option("--feed", help="Only threads with an item from this feed (its name; its comment feeds count).")
@click.option("--term", help="Only threads that mention this watch entry (its name).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@format_option()
@pass_state
def threads(state: State, queue: str | None, needs_reply: bool, owner: str | None, since: str | None,
            feed: str | None, term: str | None, limit: int, fmt: str) -> None:
    """Threads that mention what you watch: overdue first, then complaints, then by reply priority.

    Three queues: `reply` (a complaint or negative item, or a question to us, unanswered),
    `moderate` (abuse between members, spam), `thank` (strong praise, fans who defended us).
    `reasons` in the JSON says why a thread is in its queues, `why` shows the parts of the priority.

    \b
    Example:
        listener threads --queue reply --since 7d
        listener threads --queue moderate --format json | jq '.[0].reasons'
    """
    config = state.config
    if needs_reply and queue not in (None, "reply"):
        raise UsageError("--needs-reply is --queue reply: give one queue")
    queue = queue or ("reply" if needs_reply else None)
    with state.database() as db:
        summaries = pipeline.thread_summaries(db, config, since=parse_since(since, config.timezone),
                                              queue=queue, owner=owner, feed=feed_name(config, feed),
                                              term=watch_name(config, term), limit=limit)
    if fmt != "table":
        emit([s.as_json() for s in summaries], THREAD_FIELDS, fmt)
        return
    rows = [{"priority": f"{s.priority:.0f}", "status": s.status.replace("_", " "), "waiting": s.as_json()["waiting"],
             "items": s.items, "neg": s.negative_items, "last": local_time(s.last_activity, config.timezone, "%m-%d %H:%M"),
             "queues": ",".join(s.queues), "flags": flags(s), "owner": s.owner, "feed": s.feed, "title": s.title,
             "id": s.id} for s in summaries]
    wide = shutil.get_terminal_size((120, 24)).columns >= 120
    columns = ["priority", "queues", "waiting", "neg", "title", "id"]
    if wide:
        columns[4:4] = ["status", "last", "flags", "owner", "feed"]
    emit(rows, columns, fmt, headers={"last": f"last activity ({zone_name(config.timezone)})", "waiting": "waited",
                                      "neg": "neg", "priority": "prio"},
         empty=f"no threads in the {queue} queue" if queue else "no threads found")


CONVERSATION_FIELDS = ["at", "kind", "id", "author", "staff", "compound", "mood", "marked", "unanswered", "root",
                       "title", "text", "url"]


@cli.command()
@click.argument("thread_id")
@format_option()
@pass_state
def thread(state: State, thread_id: str, fmt: str) -> None:
    """Show one thread as a conversation, oldest first: what to read before replying.

    Each item has its time, author ([staff] marks ours), sentiment and text; acks are shown where
    they happened, and the items still waiting for a reply are marked. THREAD_ID comes from
    `listener threads` (a unique prefix of 4 or more characters is enough).

    \b
    Example:
        listener thread t3f9a1c2b7e
    """
    config = state.config
    with state.database() as db:
        detail = pipeline.thread_detail(db, config, thread_id)
    if fmt != "table":
        rows = [{**row, "at": store.iso(row["at"])} for row in detail.conversation]
        emit(rows, CONVERSATION_FIELDS, fmt)
        return
    click.echo(transcript(detail, config.timezone))


@cli.command()
@click.argument("thread_id")
@click.option("--note", help="Why it is handled: what you did, where you replied.")
@click.option("--by", help="Who handled it (default: your user name).")
@pass_state
def ack(state: State, thread_id: str, note: str | None, by: str | None) -> None:
    """Mark a thread handled: it needs a reply again only when a newer negative item arrives.

    The ack is kept with who made it, when, and the note; `listener thread` shows it.

    \b
    Example:
        listener ack t3f9a1c2b7e --note "replied on the blog, ticket 4711"
    """
    import getpass
    import os

    if by is None:
        try:
            by = os.environ.get("USER") or getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name anywhere (a bare container): the ack still counts
            by = None
    with state.database(create=True) as db:
        record = pipeline.ack_thread(db, thread_id, by=by, note=note)
    if record["already"]:
        click.echo(f"{record['thread_id']} is already acked: at {record['acked_at']}"
                   + (f" by {record['by']}" if record.get("by") else "") + ", and nothing new has arrived since")
        return
    click.echo(f"acked {record['thread_id']} at {record['acked_at']}" + (f" by {by}" if by else ""))
