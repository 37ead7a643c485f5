"""The `listener` command: parse arguments, call one library function, format the result."""

from __future__ import annotations

import datetime as dt
import gc
import importlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from listener import __version__, logs, store
from listener.config import load_config, parse_when
from listener.errors import ListenerError
from listener.models import Config

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger("listener")

FORMATS = click.Choice(["table", "json", "csv"])
MIN_YEAR, MAX_YEAR = 1970, 9000  # dates outside overflow datetime arithmetic somewhere downstream


# The commands live by theme, each module imported when one of its commands runs: `listener
# mentions` then never compiles or loads the daily, team and polling commands.
COMMAND_MODULES = {
    "daily": ("prune", "report", "digest", "alerts", "backup"),
    "polling": ("init", "poll", "feeds", "import-opml", "export-opml", "run"),
    "reading": ("mentions", "explain", "rescore", "threads", "thread", "ack"),
    "team": ("assign", "snooze", "mute", "mark"),
}
_MODULE_OF_COMMAND = {name: module for module, names in COMMAND_MODULES.items() for name in names}


def load_commands() -> None:
    """Register every command (help, suggestions for a mistyped name)."""
    for module in COMMAND_MODULES:
        importlib.import_module(f"listener.cli.{module}")


class ListenerGroup(click.Group):
    """Turns library errors into one line on stderr and the exit status SPEC.md promises."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = _MODULE_OF_COMMAND.get(cmd_name)
            if module:
                importlib.import_module(f"listener.cli.{module}")
            else:
                load_commands()  # a command COMMAND_MODULES does not list yet still works
        return super().get_command(ctx, cmd_name)

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
        db = store.open_db(self._path(create), create=create)
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def reader(self) -> Iterator[store.Queries]:
        """The database for a command that only queries it (mentions, feeds): no sqlite-utils,
        which costs more than their query; migrated first when a migration is pending."""
        db = store.open_reader(self._path(create=False))
        try:
            yield db
        finally:
            db.close()

    def _path(self, create: bool) -> Path:
        path = self.config.database
        if not create and not path.exists() and not self.db_arg:
            return Path(":memory:")  # nothing polled yet: an empty answer, and no file made by a read
        return path

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


def main() -> None:
    # What is loaded by now lives as long as the process: the collector, and its last pass at exit,
    # can skip it (~7 ms of a read command's ~85 ms). Objects made later are collected as usual.
    gc.freeze()
    cli(prog_name="listener")
