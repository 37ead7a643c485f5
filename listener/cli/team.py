"""The team's actions on threads and items: `listener assign`, `snooze`, `mute` and `mark`.

Registered on the `listener` group when cli.py is imported; each is a thin command like the rest.
"""

from __future__ import annotations

import datetime as dt

import click

from listener import pipeline, store
from listener.cli import State, cli, pass_state
from listener.errors import UsageError
from listener.text import human_duration
from listener.times import parse_duration


def user_name() -> str | None:
    """Who is acting: $USER, else the login name; None in a bare container without either."""
    import getpass
    import os

    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name anywhere: the action still counts
        return None


def _by_option():
    return click.option("--by", help="Who did it (default: your user name).")


@cli.command()
@click.argument("thread_id")
@click.argument("name", required=False)
@click.option("--clear", is_flag=True, help="Nobody owns the thread any more.")
@_by_option()
@pass_state
def assign(state: State, thread_id: str, name: str | None, clear: bool, by: str | None) -> None:
    """Give a thread an owner: `listener threads --owner NAME` lists what NAME has.

    \b
    Example:
        listener assign t3f9a1c2b7e dana
        listener threads --owner dana
    """
    if clear == bool(name):
        raise UsageError("give a NAME, or --clear")
    with state.database(create=True) as db:
        record = pipeline.set_team(db, thread_id, by=by or user_name(), owner=None if clear else (name or "").strip())
    was = record["before"].get("owner")
    click.echo(f"{record['thread_id']}: " + (f"owned by {name.strip()}" if name else "no owner")
               + (f" (was {was})" if was and was != name else ""))


@cli.command()
@click.argument("thread_id")
@click.option("--for", "duration", metavar="DURATION", help="How long: 2h, 2d (default 1d).")
@click.option("--off", is_flag=True, help="End the snooze now.")
@_by_option()
@pass_state
def snooze(state: State, thread_id: str, duration: str | None, off: bool, by: str | None) -> None:
    """Take a thread out of its queues for a while: it comes back when the time is up or a new item arrives.

    \b
    Example:
        listener snooze t3f9a1c2b7e --for 2d
    """
    if off and duration:
        raise UsageError("--for or --off, not both")
    try:
        seconds = parse_duration(duration or "1d")
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
    if not off and not 0 < seconds <= 365 * 86400:
        raise UsageError("--for: from a minute to a year")
    until = None if off else store.utcnow() + dt.timedelta(seconds=seconds)
    with state.database(create=True) as db:
        record = pipeline.set_team(db, thread_id, by=by or user_name(), snoozed_until=until)
    if until is None:
        click.echo(f"{record['thread_id']}: not snoozed")
    else:
        click.echo(f"{record['thread_id']}: snoozed for {human_duration(seconds)}, until {store.iso(until)}"
                   " (or until a new item arrives)")


@cli.command()
@click.argument("thread_id")
@click.option("--off", is_flag=True, help="Unmute: the thread can enter the queues again.")
@_by_option()
@pass_state
def mute(state: State, thread_id: str, off: bool, by: str | None) -> None:
    """Keep a thread out of every queue for good (a ranter we politely do not engage with).

    \b
    Example:
        listener mute t3f9a1c2b7e
        listener mute t3f9a1c2b7e --off
    """
    with state.database(create=True) as db:
        record = pipeline.set_team(db, thread_id, by=by or user_name(), muted=not off)
    click.echo(f"{record['thread_id']}: {'unmuted' if off else 'muted'}")


MARKS = {"negative": ("sentiment", "negative"), "neutral": ("sentiment", "neutral"),
         "positive": ("sentiment", "positive"), "complaint": ("complaint", "1"), "not_complaint": ("complaint", "0"),
         "abuse": ("abuse", "1"), "not_abuse": ("abuse", "0")}


@cli.command()
@click.argument("item_id", type=click.IntRange(1))
@click.option("--negative", is_flag=True)
@click.option("--neutral", is_flag=True)
@click.option("--positive", is_flag=True)
@click.option("--complaint", is_flag=True)
@click.option("--not-complaint", "not_complaint", is_flag=True)
@click.option("--abuse", is_flag=True)
@click.option("--not-abuse", "not_abuse", is_flag=True)
@_by_option()
@pass_state
def mark(state: State, item_id: int, by: str | None, **flags: bool) -> None:
    """Correct the scorer on one item: a person's mark wins everywhere and survives re-scoring.

    ITEM_ID is an item's `id` (`listener thread ID --format json`, `listener mentions --format json`).
    One sentiment (--negative, --neutral, --positive), and/or --complaint or --not-complaint, and/or
    --abuse or --not-abuse.

    \b
    Example:
        listener mark 4711 --negative --complaint
    """
    chosen = [name for name, on in flags.items() if on]
    fields = [MARKS[name][0] for name in chosen]
    if not chosen:
        raise UsageError("give a mark: --negative, --neutral, --positive, --complaint, --not-complaint, --abuse or --not-abuse")
    if len(fields) != len(set(fields)):
        raise UsageError("one mark of each kind: a sentiment, complaint or not, abuse or not")
    who = by or user_name()
    with state.database(create=True) as db:
        records = [pipeline.mark_item(db, item_id, *MARKS[name], by=who) for name in chosen]
    click.echo(f"item {item_id} (thread {records[0]['thread_id']}): marked "
               + ", ".join(name.replace("_", " ") for name in chosen) + (f" by {who}" if who else ""))
