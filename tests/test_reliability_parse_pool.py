"""Issue 14.1: errors that cross processes survive pickling, and a broken parse pool costs no feed its items."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
from feedgen import Entry, Watchlist, rss

from listener import errors
from listener.match import compile_watchlist
from listener.models import WatchSpec
from listener.pipeline import ParsePool

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

EXAMPLES = {
    errors.ListenerError: lambda: errors.ListenerError("plain"),
    errors.ConfigError: lambda: errors.ConfigError("feeds.yaml: bad key"),
    errors.LockedError: lambda: errors.LockedError("another run holds the lock"),
    errors.FetchError: lambda: errors.FetchError("rate_limited", "429", status=429, retry_after=30.0),
    errors.ParseError: lambda: errors.ParseError("dtd_forbidden", "the feed declares entities"),
    errors.MailError: lambda: errors.MailError("refused", "550 no such user", permanent=True),
    errors.NotFoundError: lambda: errors.NotFoundError("no thread abcd"),
    errors.UsageError: lambda: errors.UsageError("no feed named 'x'"),
    errors.StoreError: lambda: errors.StoreError("cannot open the database x.db: file is not a database"),
}


def _raise(name: str) -> None:
    raise EXAMPLES[getattr(errors, name)]()


def test_every_listener_error_class_has_a_pickling_example():
    classes = {value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, errors.ListenerError)}
    assert classes == set(EXAMPLES)


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda cls: cls.__name__)
def test_listener_error_survives_pickling_across_processes(cls):
    original = EXAMPLES[cls]()
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is cls and str(copy) == str(original) and vars(copy) == vars(original)
    with ProcessPoolExecutor(1) as pool:
        with pytest.raises(cls) as raised:
            pool.submit(_raise, cls.__name__).result(timeout=60)
    assert str(raised.value) == str(original) and vars(raised.value) == vars(original)


def _good_entries(feed: int) -> list[Entry]:
    return [Entry(title=f"Feed {feed} post {i}", body="Quillfeather sync is lovely", guid=f"f{feed}-{i}",
                  link=f"https://blog{feed}.example/p{i}/", published=NOW - dt.timedelta(hours=i + 1))
            for i in range(3)]


BAD_FEEDS = {
    "Login page": ("<html><head><title>Log in</title></head><body><form>Log in</form></body></html>",
                   "text/html", "not_a_feed"),
    "Empty body": ("", "application/rss+xml", "empty"),
    "Entity DTD": ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaa">]><rss version="2.0"><channel>'
                   "<title>&a;</title></channel></rss>", "application/rss+xml", "dtd_forbidden"),
}


def test_one_bad_feed_in_a_big_cycle_no_longer_loses_the_good_feeds_items(tmp_path, feed_server):
    feeds = []
    for n in range(11):
        feed_server.add(f"/good{n}.xml", rss(_good_entries(n)))
        feeds.append({"name": f"Good {n}", "url": feed_server.url(f"/good{n}.xml")})
    for n, (name, (body, content_type, _)) in enumerate(BAD_FEEDS.items()):
        feed_server.add(f"/bad{n}.xml", body, content_type=content_type)
        feeds.append({"name": name, "url": feed_server.url(f"/bad{n}.xml")})
    config = Watchlist(feeds=feeds).write(tmp_path)

    polled = subprocess.run([sys.executable, "-m", "listener", "--config", config, "poll"],
                            capture_output=True, text=True, timeout=120)
    assert polled.returncode == 0, polled.stderr
    assert "BrokenProcessPool" not in polled.stderr
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        counts = dict(conn.execute("SELECT feeds.name, count(items.id) FROM feeds"
                                   " LEFT JOIN items ON items.feed_id = feeds.id GROUP BY feeds.id"))
        kinds = dict(conn.execute("SELECT name, error_kind FROM feeds"))
    assert all(counts[f"Good {n}"] == 3 for n in range(11)), counts
    assert all(kinds[f"Good {n}"] is None for n in range(11)), kinds
    assert {name: kinds[name] for name in BAD_FEEDS} == {name: kind for name, (_, _, kind) in BAD_FEEDS.items()}


def _body(feed: int) -> bytes:
    entries = [Entry(title=f"Feed {feed} post {i}", body="<p>Quillfeather is <b>fine</b></p>" * 40,
                     guid=f"f{feed}-{i}", link=f"https://blog.example/{feed}/{i}") for i in range(300)]
    return rss(entries).encode()


def test_a_worker_killed_mid_cycle_is_replaced_and_the_feeds_in_flight_are_retried():
    watchlist = compile_watchlist([WatchSpec(name="quillfeather", terms=("quillfeather",))])
    with ParsePool(workers=2) as pool:
        pool.start()
        futures = [pool.submit(_body(n), url=f"https://blog.example/{n}.xml", headers={}, known={},
                               watchlist=watchlist, match_all=False, score_all=False) for n in range(12)]
        deadline = time.monotonic() + 60
        while not any(f.done() for f in futures) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not all(f.done() for f in futures), "too fast to kill a worker mid-cycle"
        victim = next(iter(pool._pool._processes))  # type: ignore[union-attr]
        os.kill(victim, signal.SIGKILL)
        results = [f.result(timeout=120) for f in futures]
    assert [len(r.parsed.items) for r in results] == [300] * 12
    assert pool.replaced == 1
