"""Commands of the day and of the file: report, digest, alerts, prune, backup."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from listener import pipeline, store
from listener.cli import (
    MIN_YEAR,
    State,
    cli,
    date_option,
    format_option,
    parse_day,
    parse_since,
    pass_state,
    since_option,
)
from listener.errors import ListenerError, UsageError
from listener.output import emit


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
