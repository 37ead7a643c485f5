"""Commands that listen: init, poll, run, feeds, OPML."""

from __future__ import annotations

import gc
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from listener import pipeline
from listener.cli import (
    State,
    cli,
    format_option,
    pass_state,
)
from listener.config import config_path
from listener.errors import ListenerError
from listener.output import emit, local_time, zone_name


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
    gc.freeze()  # the process ends next: its last collection need not walk every object (~30 ms at 1,000 feeds)
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
    with state.reader() as db:
        rows = pipeline.feed_health(db, state.config, include_comment_feeds=comments)
    zone = state.config.timezone
    for row in rows:
        row["shown"] = f"  {row['name']}" if row["kind"] != "feed" else row["name"]  # comment feeds under theirs
        row["polled"] = local_time(row["last_polled_at"], zone, "%m-%d %H:%M")
        row["due"] = local_time(row["next_poll_at"], zone, "%m-%d %H:%M")
    narrow = shutil.get_terminal_size((120, 24)).columns < 100
    emit(rows, FEED_FIELDS, fmt, table_columns=["shown", "state", *([] if narrow else ["http_status"]), "polled",
                                                "item_count", "consecutive_errors", *([] if narrow else ["due"]),
                                                "backoff", "last_error"],
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
