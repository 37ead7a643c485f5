"""A report says what it knows of its day: no data is not calm, before listening is not a day."""

from __future__ import annotations

import datetime as dt
import subprocess

from conftest import run_cli, wall_now
from feedgen import Entry, Watchlist, rss

STARTED = wall_now()
DIGEST = "digest:\n  from: listener@quill.example\n  to: [team@quill.example]\n"


def listener(config: str, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, config=config)


def test_a_never_polled_install_mails_no_data_not_calm(tmp_path):
    config = Watchlist(feeds=[], extra=DIGEST).write(tmp_path)
    preview = listener(config, "digest")
    assert preview.returncode == 0, preview.stderr
    assert "no data yet" in preview.stdout and "calm 0/100" not in preview.stdout
    assert "listener has not heard anything yet" in preview.stdout


def test_a_day_before_listening_and_a_silent_day_are_said_as_such(tmp_path, feed_server):
    feed_server.add("/blog.xml", rss([Entry("Quillfeather is broken again", "Lost my notes. Awful.", guid="a",
                                            author="Sam", published=STARTED - dt.timedelta(hours=1))]))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}], extra=DIGEST).write(tmp_path)
    assert listener(config, "poll").returncode == 0
    before = (STARTED - dt.timedelta(days=30)).date().isoformat()
    made = listener(config, "report", "--date", before)
    assert made.returncode == 0, made.stderr
    page = (tmp_path / "reports" / f"{before}.html").read_text(encoding="utf-8")
    assert "listener was not listening yet on this day" in page
    assert '<span class="deg num">–</span>' in page and '<span class="word">no data</span>' in page
    assert "not of that day" in page  # the queues are today's, and the page says so

    text = listener(config, "digest", "--date", before).stdout
    assert "no data yet" in text.splitlines()[0] or "no data yet" in text
    today = listener(config, "digest").stdout
    assert "no data" not in today.split("\n\n")[0] and "/100" in today
