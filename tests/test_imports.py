"""Read commands import only what they use (issue 15): their whole run is mostly Python start-up and
imports, so loading the fetcher, the parser, VADER or Jinja would cost more than their query."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from conftest import modules_loaded, run_cli, wall_now
from feedgen import Entry, Watchlist, rss

from listener import store

HEAVY = ("httpx", "feedparser", "jinja2", "apscheduler", "apprise", "numpy", "vaderSentiment", "pandas")
# What `mentions` and `feeds` need is click, sqlite3 and a few listener modules. sqlite-utils (with
# pluggy, dateutil and its plugin scan), rich, and PyYAML once the config cache holds the file, cost
# more than their query (issue 15); so do socket, email.utils and ctypes, which only a fetch, a date
# header or a worker needs. Neither command reads another table's module or a stage it does not show.
NOT_FOR_QUERIES = (*HEAVY, "sqlite_utils", "rich", "pluggy", "dateutil", "yaml", "socket", "email", "ctypes",
                   "listener.store.threads", "listener.store.alerts", "listener.store.ledger", "listener.store.team",
                   "listener.pipeline.poll", "listener.pipeline.workers", "listener.pipeline.conversations",
                   "listener.pipeline.day", "listener.triage", "listener.parse", "listener.fetch",
                   "listener.cli.daily", "listener.cli.team")


def probe(config: str, command: list[str], modules: tuple[str, ...]) -> dict:
    found = modules_loaded(["--config", config, *command], modules, timeout=60)
    return {"code": found["code"], "heavy": found["loaded"]}


@pytest.fixture(scope="module")
def polled(tmp_path_factory):
    """A feed polled once: a table with rows (plain Latin text, the fast layout's case) to show."""
    root = tmp_path_factory.mktemp("polled")
    now = wall_now()
    entries = [Entry(f"Quillfeather note {n}", f"Quillfeather sync was slow today, n\u00e9e {n} \u2014 sigh",
                     link=f"https://blog.example/{n}", author="Jo", published=now - dt.timedelta(hours=n))
               for n in range(1, 4)]
    (root / "blog.xml").write_text(rss(entries), encoding="utf-8")
    config = Watchlist(feeds=[{"name": "Blog", "url": str(root / "blog.xml")}]).write(root)
    assert run_cli("poll", "--all", config=config, env={"HOME": str(root), "XDG_CACHE_HOME": str(root / "cache")}).returncode == 0
    return config



@pytest.mark.parametrize("command", [["mentions"], ["feeds"], ["threads", "--limit", "5"],
                                     ["mentions", "--format", "json"]])
def test_read_commands_leave_the_heavy_modules_unloaded(tmp_path, command):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - name: Blog\n    url: https://blog.example/feed\nwatch:\n  - name: acme\n    terms: [acme]\n")
    db = store.open_db(tmp_path / "listener.db")
    store.sync_feeds(db, [])
    db.close()
    assert probe(str(config), command, HEAVY) == {"code": 0, "heavy": []}


@pytest.mark.parametrize("command", [["mentions"], ["mentions", "--format", "json"], ["mentions", "--format", "csv"],
                                     ["feeds"], ["feeds", "--format", "json"], ["feeds", "--format", "csv"]])
def test_mentions_and_feeds_load_neither_sqlite_utils_nor_rich(polled, command):
    shown = run_cli(*command, config=polled)  # also fills this test's config cache
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) >= 2, shown.stderr  # rows, not "none found"
    assert probe(polled, command, NOT_FOR_QUERIES) == {"code": 0, "heavy": []}


def test_sqlite_utils_loads_without_numpy_whoever_imports_it_first():
    code = ("import sys, listener.pipeline.upkeep, listener.store.threads; import sqlite_utils;"
            " assert sqlite_utils.Database and 'numpy' not in sys.modules and 'pandas' not in sys.modules;"
            " import numpy; print(numpy.__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "numpy", result.stderr


def test_the_store_still_exports_every_name():
    assert all(getattr(store, name) is not None for name in store.__all__)
    assert set(store._MODULE_OF) <= set(store.__all__)
    with pytest.raises(AttributeError):
        store.no_such_thing  # noqa: B018


def test_the_pipeline_still_exports_every_name():
    import listener.pipeline.poll  # noqa: F401 - the submodule must not hide the function of its name
    import listener.pipeline.upkeep  # noqa: F401
    from listener import pipeline

    assert all(callable(getattr(pipeline, name)) for name in pipeline.__all__)
    with pytest.raises(AttributeError):
        pipeline.no_such_thing  # noqa: B018


def test_every_exported_name_has_one_home():
    from listener import pipeline

    assert sorted(pipeline.__all__) == sorted(pipeline._MODULE_OF)
