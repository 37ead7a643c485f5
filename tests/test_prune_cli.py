"""`listener prune` cannot be undone, so it takes only day-based ages, counts first and asks on a terminal."""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess
import sys

import pytest
from feedgen import Entry, Watchlist, rss

from listener import pipeline
from listener.config import load_config, parse_age


@pytest.fixture
def aged(tmp_path, feed_server):
    """25 items polled now, 10 of them last updated 30 days ago; returns the config."""
    feed_server.add("/blog.xml", rss([Entry(title=f"Quillfeather post {i}", body=f"A note number {i} about quillfeather.",
                                            link=f"https://blog.quill.example/p{i}/", guid=f"post-{i}")
                                      for i in range(25)]))
    config = load_config(Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path))
    assert pipeline.poll(config).new_items == 25
    with sqlite3.connect(config.database) as conn:
        conn.execute("UPDATE items SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-30 days') WHERE id <= 10")
    return config


def with_text(config) -> int:
    with sqlite3.connect(config.database) as conn:
        return conn.execute("SELECT count(*) FROM items WHERE content != ''").fetchone()[0]


def prune(config, *args: str, stdin=None, answer: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "listener", "--config", str(config.path), "prune", *args]
    if answer is None:
        return subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=stdin or subprocess.DEVNULL)
    controller, terminal = pty.openpty()  # stdin a terminal, as when a person types the command
    try:
        os.write(controller, answer.encode())
        return subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


@pytest.mark.parametrize("age, says", [
    ("1m", "'1m' is in minutes (a month is 30d)"),
    ("12h", "'12h' is in hours"),
    ("90s", "'90s' is in seconds"),
    ("0d", "'0d' would drop the text of every item"),
    ("0w", "'0w' would drop the text of every item"),
    ("90", "expected an age in days or weeks like 90d or 12w, got '90'"),
])
def test_an_age_below_a_day_is_a_usage_error_and_prunes_nothing(aged, age, says):
    done = prune(aged, "--older-than", age, "--yes")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--older-than" in done.stderr and says in done.stderr
    assert with_text(aged) == 25


@pytest.mark.parametrize("text, days", [("1d", 1), ("90d", 90), ("12w", 84), (" 2W ", 14)])
def test_ages_are_days_or_weeks(text, days):
    assert parse_age(text) == days


def test_dry_run_counts_and_changes_nothing(aged):
    done = prune(aged, "--older-than", "2w", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "10 items not updated for 14 days" in done.stdout and "would lose their text" in done.stdout
    assert with_text(aged) == 25
    assert "0 items" in prune(aged, "--older-than", "60d", "--dry-run").stdout


def test_on_a_terminal_it_asks_first_and_no_means_no(aged):
    refused = prune(aged, "--older-than", "2w", answer="n\n")
    assert refused.returncode == 1
    assert "10 items not updated for 14 days" in refused.stderr and "cannot be undone" in refused.stderr
    assert with_text(aged) == 25
    agreed = prune(aged, "--older-than", "2w", answer="y\n")
    assert agreed.returncode == 0, agreed.stderr
    assert "pruned the text of 10 items" in agreed.stdout and with_text(aged) == 15


def test_yes_skips_the_question_and_cron_is_never_asked(aged):
    asked = prune(aged, "--older-than", "20d", "--yes", answer="")
    assert asked.returncode == 0 and "Prune them?" not in asked.stderr
    assert "pruned the text of 10 items" in asked.stdout and with_text(aged) == 15
    cron = prune(aged, "--older-than", "1d")  # stdin not a terminal: nobody to ask
    assert cron.returncode == 0 and "pruned the text of 0 items" in cron.stdout
