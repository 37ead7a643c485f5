"""The `listener` command: parse arguments, call one library function, format the result."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import sqlite_utils

from listener import __version__, logs, pipeline, store
from listener.config import config_path, feed_name, load_config, parse_when, watch_name
from listener.errors import ListenerError, UsageError
from listener.models import Config
from listener.output import emit, flags, local_time, transcript, zone_name
from listener.text import display_title

log = logging.getLogger("listener")

FORMATS = click.Choice(["table", "json", "csv"])
MIN_YEAR, MAX_YEAR = 1970, 9000  # dates outside overflow datetime arithmetic somewhere downstream


class ListenerGroup(click.Group):
    """Turns library errors into one line on stderr and the exit status SPEC.md promises."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ListenerError as exc:
            click.echo(f"listener: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("listener: interrupted", err=True)
            ctx.exit(130)
        except sqlite3.Error as exc:  # a read-only folder, a file that is not a database (issue 14.7)
            log.debug("database error", exc_info=True)
            state = ctx.find_object(State)
            where = state.database_path() if state else "the database"
            click.echo(f"listener: cannot use the database {where}: {exc}", err=True)
            ctx.exit(1)
        except Exception as exc:  # noqa: BLE001 - the last resort: one clear line, traceback with -v
            log.debug("unexpected error", exc_info=True)
            click.echo(f"listener: unexpected error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(1)


class State:
    """What the global options chose; the config is read only by commands that need it."""

    def __init__(self, config: str | None, db: str | None) -> None:
        self.config_arg = config
        self.db_arg = db
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            config = load_config(self.config_arg)
            if self.db_arg:
                config = replace(config, database=Path(self.db_arg).resolve())
            self._config = config
        return self._config

    @contextmanager
    def database(self, *, create: bool = False) -> Iterator[sqlite_utils.Database]:
        """The database, closed when the command is done. Read commands (the default) never create
        it: a mistyped --db is an error naming the file, not a new empty database."""
        path = self.config.database
        if not create and not path.exists() and not self.db_arg:
            path = Path(":memory:")  # nothing polled yet: an empty answer, and no file made by a read
        db = store.open_db(path, create=create)
        try:
            yield db
        finally:
            db.close()

    def database_path(self) -> str:
        if self._config is not None:
            return str(self._config.database)
        return self.db_arg or "the database"


pass_state = click.make_pass_decorator(State)


@click.group(cls=ListenerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="listener")
@click.option("--config", "config", envvar="LISTENER_CONFIG", type=click.Path(dir_okay=False),
              help="feeds.yaml to use (default ./feeds.yaml, env LISTENER_CONFIG).")
@click.option("--db", type=click.Path(dir_okay=False), help="SQLite file (overrides `database` in the config).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.pass_context
def cli(ctx: click.Context, config: str | None, db: str | None, verbose: int, quiet: bool) -> None:
    """Listen to blog, forum and comment feeds; find the negative threads that need a reply.

    \b
    Example:
        listener init && listener poll && listener mentions --since 24h
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logs.configure(level)  # no timestamp of our own under journald, which adds one
    ctx.obj = State(config, db)
    ctx.meta["quiet"] = quiet
    ctx.meta["verbose"] = verbose


def parse_since(value: str | None, timezone: str) -> dt.datetime | None:
    """`30m`, `24h`, `7d` (ago), `today`, `yesterday` or an ISO date/time (a date means its midnight in `timezone`)."""
    if value is None:
        return None
    out_of_range = click.BadParameter(f"{value!r} is out of range (years {MIN_YEAR}-{MAX_YEAR})", param_hint="--since")
    try:
        moment = parse_when(value, timezone, store.utcnow())
    except OverflowError:
        raise out_of_range from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise out_of_range
    return moment


def since_option(default: str | None = None) -> Callable:
    return click.option("--since", default=default, metavar="WHEN",
                        help="Only since then: 30m, 24h, 7d, today, yesterday or an ISO date/time.")


def format_option() -> Callable:
    return click.option("--format", "fmt", type=FORMATS, default="table", show_default=True,
                        help="table for people, json (one array) or csv for programs.")


# --- commands ---------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False), default=".")
@click.option("--brand", metavar="NAME", help="Watch NAME on public feeds: Reddit, Hacker News, Mastodon (no API keys).")
def init(directory: str, brand: str | None) -> None:
    """Write a commented starter feeds.yaml into DIRECTORY (never overwrites).

    \b
    Example:
        listener init ~/listening && cd ~/listening && listener poll
        listener init --brand "Quillfeather" ~/listening
    """
    from listener.starter import write_starter

    path = write_starter(Path(directory), brand)
    click.echo(f"wrote {path}: add your watch terms and feeds, then run `listener poll`")


@cli.command()
@click.option("--feed", "names", multiple=True, metavar="NAME", help="Poll this feed now (repeatable).")
@click.option("--all", "force", is_flag=True, help="Poll every feed now, not only the due ones.")
@click.option("--wait", type=float, default=0.0, show_default=True, metavar="SECONDS",
              help="How long to wait for another run's lock before stepping aside (exit 75).")
@click.pass_context
def poll(ctx: click.Context, names: tuple[str, ...], force: bool, wait: float) -> None:
    """Run one polling cycle: fetch due feeds, store, score, match and thread new items.

    Feeds that fail are recorded (see `listener feeds`) and do not change the exit status.

    \b
    Example (crontab, every 15 minutes):
        */15 * * * *  cd ~/listening && listener -q poll
    """
    state: State = ctx.obj
    with _Progress(enabled=sys.stderr.isatty() and not ctx.meta["quiet"]) as progress:
        summary = pipeline.poll(state.config, names=names, force=force, lock_wait=wait,
                                on_outcome=progress.update, on_plan=progress.plan)
    if not ctx.meta["quiet"]:
        click.echo(summary.line())  # each failure was logged once, as it happened
        if summary.alerts is not None and ctx.meta["verbose"]:
            click.echo(f"alerts: {summary.alerts.line()}")
            for headline in summary.alerts.sent:
                click.echo(f"  alerted: {headline}")
    if summary.not_stored:  # a broken feed is the feed's problem; a full disk is ours, and cron should say so
        first = summary.not_stored[0]
        raise ListenerError(f"could not store {len(summary.not_stored)} feeds (first: {first.name}: {first.error}); "
                            "nothing was lost: the next poll fetches them again")


class _Progress:
    """A progress bar with a total on a terminal, log lines printed above it; nothing otherwise
    (cron mails whatever is printed)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.total = 0
        self._bar: Any = None
        self._task: Any = None
        self._handlers: list[logging.Handler] = []

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("polling"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
            self._task = self._bar.add_task("", total=None)
            self._bar.start()
            root = logging.getLogger()
            self._handlers, root.handlers = root.handlers, [_AboveTheBar(self._bar, self._handlers_format(root))]
        return self

    @staticmethod
    def _handlers_format(root: logging.Logger) -> logging.Formatter | None:
        return root.handlers[0].formatter if root.handlers else None

    def plan(self, feeds: int) -> None:
        self.total += feeds
        if self._bar is not None:
            self._bar.update(self._task, total=self.total)

    def update(self, outcome: pipeline.FeedOutcome) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=outcome.name[:40])

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            logging.getLogger().handlers = self._handlers


class _AboveTheBar(logging.Handler):
    """Log lines go through the progress bar's console, which prints them above the bar."""

    def __init__(self, bar: Any, formatter: logging.Formatter | None) -> None:
        super().__init__()
        self.bar = bar
        if formatter is not None:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bar.console.print(self.format(record), markup=False, highlight=False, emoji=False, soft_wrap=True)
        except Exception:  # noqa: BLE001 - logging must never break the poll
            self.handleError(record)


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
    with state.database() as db:
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


FEED_FIELDS = ["name", "kind", "url", "state", "status", "http_status", "last_polled_at", "item_count",
               "consecutive_errors", "error_kind", "last_error", "next_poll_at", "backoff", "last_new_item_at",
               "failing_since"]


@cli.command()
@click.option("--comments", is_flag=True, help="Include the comment feeds followed for each post.")
@format_option()
@pass_state
def feeds(state: State, comments: bool, fmt: str) -> None:
    """Feed health: last poll, HTTP status, items, consecutive errors, next poll.

    \b
    Example:
        listener feeds --format json
    """
    with state.database() as db:
        rows = pipeline.feed_health(db, state.config, include_comment_feeds=comments)
    zone = state.config.timezone
    for row in rows:
        row["shown"] = f"  {row['name']}" if row["kind"] != "feed" else row["name"]  # comment feeds under theirs
        row["polled"] = local_time(row["last_polled_at"], zone, "%m-%d %H:%M")
        row["due"] = local_time(row["next_poll_at"], zone, "%m-%d %H:%M")
    narrow = shutil.get_terminal_size((120, 24)).columns < 100
    emit(rows, FEED_FIELDS, fmt, table_columns=["shown", "state", "http_status", "polled", "item_count",
                                                "consecutive_errors", *([] if narrow else ["due"]), "last_error"],
         headers={"shown": "feed", "polled": f"last poll ({zone_name(zone)})", "due": "next poll"}, empty="no feeds configured")


@cli.command("import-opml")
@click.argument("file", type=click.File("rb"))
@pass_state
def import_opml(state: State, file) -> None:
    """Add the feeds of an OPML file (from any feed reader) to feeds.yaml.

    \b
    Example:
        listener import-opml subscriptions.opml
    """
    imported = pipeline.import_opml(state.config, file.read())
    click.echo(imported.line(state.config.path))
    for skipped in imported.skipped:
        click.echo(f"  skipped {skipped}", err=True)


@cli.command("export-opml")
@pass_state
def export_opml(state: State) -> None:
    """Print the configured feeds as OPML, the format every feed reader speaks.

    \b
    Example:
        listener export-opml > listener.opml
    """
    from listener import opml  # only this command writes OPML

    click.echo(opml.render(state.config.feeds, title=f"listener: {config_path(state.config_arg).name}"), nl=False)


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
                                              term=watch_name(config, term))[:limit]
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


@cli.command()
@click.option("--stop-timeout", type=click.FloatRange(0, 3600), default=30.0, show_default=True, metavar="SECONDS",
              help="After SIGTERM/SIGINT, how long the work in flight may take before it is abandoned.")
@click.pass_context
def run(ctx: click.Context, stop_timeout: float) -> None:
    """Run the daemon: poll each feed on its schedule, send the digest at schedule.digest.

    Logs to stderr (INFO by default here; -q for errors only, -vv for debug). Stops cleanly on
    SIGTERM or SIGINT with exit status 0; exits 75 when another daemon serves the same database.

    \b
    Example (or use deploy/listener.service with systemd):
        listener --config ~/listening/feeds.yaml run
    """
    from listener import daemon

    root = logging.getLogger()
    if not ctx.meta["quiet"] and root.level > logging.INFO:
        root.setLevel(logging.INFO)
    ctx.exit(daemon.run(ctx.obj.config, stop_timeout=stop_timeout))


@cli.command()
@click.option("--older-than", metavar="AGE", help="Prune items untouched for this long: 90d or 12w (default: retention_days).")
@click.option("--dry-run", is_flag=True, help="Only count the items that would lose their text.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask first (it asks only on a terminal).")
@pass_state
def prune(state: State, older_than: str | None, dry_run: bool, yes: bool) -> None:
    """Drop the text of old items, keeping their identities so they never come back as new.

    This cannot be undone: on a terminal it says how many items and asks first (--yes does not).
    The daemon does this daily; run it from cron when you poll from cron.

    \b
    Example:
        listener prune --older-than 90d --dry-run
    """
    from listener.config import parse_age

    try:
        days = state.config.retention_days if older_than is None else parse_age(older_than)
        if (store.utcnow() - dt.timedelta(days=days)).year < MIN_YEAR:
            raise OverflowError
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None
    except OverflowError:
        raise click.BadParameter(f"{older_than!r} is out of range (before {MIN_YEAR})", param_hint="--older-than") from None
    with state.database() as db:
        plan = pipeline.prune_plan(db, days=days, now=store.utcnow())
    if dry_run:
        click.echo(plan.line())
        return
    if plan.items and not yes and sys.stdin.isatty():
        click.confirm(f"{plan.line()}; this cannot be undone. Prune them?", abort=True, err=True)
    pruned = pipeline.prune(state.config, older_than=dt.timedelta(days=days), now=plan.now)
    click.echo(f"pruned the text of {pruned} items")


def parse_day(value: str | None, timezone: str, *, param: str = "--date") -> dt.date | None:
    """`YYYY-MM-DD`, `today` or `yesterday` (in `timezone`); None means today."""
    if value is None:
        return None
    text = value.strip().lower()
    today = store.utcnow().astimezone(ZoneInfo(timezone)).date()
    if text in ("today", "yesterday"):
        return today - dt.timedelta(days=text == "yesterday")
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected a date like {today.isoformat()}, today or yesterday, got {value!r}",
                                 param_hint=param) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise click.BadParameter(f"{value!r} is out of range (years {MIN_YEAR}-{MAX_YEAR})", param_hint=param)
    return day


def date_option() -> Callable:
    return click.option("--date", "day", metavar="DATE",
                        help="The day: YYYY-MM-DD, today or yesterday (default today, in the config's timezone).")


@cli.command()
@date_option()
@click.option("--out", type=click.Path(file_okay=False), metavar="DIR",
              help="Write into DIR instead of the config's reports_dir.")
@click.pass_context
def report(ctx: click.Context, day: str | None, out: str | None) -> None:
    """Render the day's mood-temperature report and refresh the index; print its path.

    Writes reports/YYYY-MM-DD.html (a self-contained page: no scripts, nothing remote) and
    reports/index.html, which links every day.

    \b
    Example:
        listener report --date yesterday && xdg-open reports/index.html
    """
    state: State = ctx.obj
    from listener.report import summary_line

    made: list[str] = []
    path = pipeline.render_report(state.config, parse_day(day, state.config.timezone), out,
                                  on_made=lambda data: made.append(summary_line(data)))
    if not ctx.meta["quiet"]:
        click.echo(str(path))
        click.echo("\n".join(made))


@cli.command()
@date_option()
@click.option("--send", is_flag=True, help="Send it over SMTP (digest.smtp) instead of printing it.")
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Send to ADDR instead of digest.to (repeatable).")
@click.option("--force", is_flag=True, help="Send again to recipients who already got this day's digest.")
@click.option("--raw", is_flag=True, help="Without --send: print the whole MIME message, not a readable preview.")
@click.pass_context
def digest(ctx: click.Context, day: str | None, send: bool, to: tuple[str, ...], force: bool, raw: bool) -> None:
    """Build the day's digest email; print it, or send it with --send.

    Sent at most once per day and recipient (the ledger in the database) unless --force. A
    failed send exits 1 with one line; the next run sends it to whoever did not get it.

    \b
    Example:
        listener digest | less
        listener digest --send --to me@example.com
    """
    from listener import mail

    state: State = ctx.obj
    outcome = pipeline.run_digest(state.config, parse_day(day, state.config.timezone), send=send, to=to or None,
                                  force=force)
    if not send:
        click.echo((mail.printable if raw else mail.preview)(outcome.message), nl=False)
    elif not ctx.meta["quiet"]:
        click.echo(outcome.line())


ALERT_FIELDS = ["id", "created", "subject", "subject_id", "title", "reasons", "window", "state", "delivered",
                "attempts", "next_try", "last_error", "sent_at", "deliveries"]


@cli.command()
@since_option(default="7d")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--test", "test", is_flag=True, help="Send one test alert to every configured target and report each.")
@format_option()
@pass_state
def alerts(state: State, since: str | None, limit: int, test: bool, fmt: str) -> None:
    """Recent alerts and their delivery to each target; --test sends a test alert.

    Alerts are pushed by `poll` and the daemon between digests (see `alerts:` in feeds.yaml).

    \b
    Example:
        listener alerts --since 24h
        listener alerts --test
    """
    from listener.pipeline import alerts as alerting

    config = state.config
    if test:
        if config.alerts is None:
            raise UsageError(f"no alerts: key in {config.path}: nothing to test")
        results = alerting.send_test_alert(config.alerts)
        if not results:
            raise UsageError("alerts has no targets: set alerts.urls or the variable alerts.urls_env names")
        emit([{"target": r.label, "accepted": r.accepted, "error": r.error} for r in results],
             ["target", "accepted", "error"], fmt)
        if not all(r.accepted for r in results):
            raise ListenerError(f"{sum(not r.accepted for r in results)} of {len(results)} targets refused the test alert")
        return
    with state.database() as db:
        rows = alerting.list_alerts(db, since=parse_since(since, config.timezone), limit=limit)
    emit(rows, ALERT_FIELDS, fmt, table_columns=["created", "subject", "title", "reasons", "state", "delivered",
                                                  "next_try", "last_error"], empty="no alerts")


@cli.command()
@click.argument("target", type=click.Path(dir_okay=False))
@pass_state
def backup(state: State, target: str) -> None:
    """Copy the database to TARGET while polls may keep writing, and check the copy.

    Copying listener.db with cp while it is being written can give a corrupt copy; this cannot.

    \b
    Example (crontab, nightly):
        15 3 * * *  listener -q backup /var/backups/listener-$(date +%a).db
    """
    folder = Path(target).absolute().parent
    if not folder.is_dir():
        raise UsageError(f"no folder {folder} to back up into (create it first, e.g. mkdir -p {folder})")
    with state.database() as db:
        path = store.backup(db, target)
    click.echo(f"backed up {state.config.database} to {path} ({path.stat().st_size:,} bytes, check ok)")


from listener import cli_team  # noqa: E402,F401 - registers assign, snooze, mute, mark


def main() -> None:
    cli(prog_name="listener")
