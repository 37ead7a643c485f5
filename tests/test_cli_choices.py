"""What a person types on day one: `--since yesterday` like `--date`, an unknown `--term`/`--feed` named
with the choices (never "no mentions found"), and an empty feeds.yaml said out loud."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from conftest import run_cli
from test_report import NOW, World

from listener.config import parse_when

UTC = dt.timezone.utc


def run(world: World, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, config=world.config_path)


@pytest.mark.parametrize("text, now, expected", [
    ("yesterday", NOW, dt.datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),  # London is on GMT in November
    ("today", NOW, dt.datetime(2026, 11, 24, 0, 0, tzinfo=UTC)),
    (" Yesterday ", dt.datetime(2026, 6, 15, 9, 0, tzinfo=UTC), dt.datetime(2026, 6, 13, 23, 0, tzinfo=UTC)),  # BST
    ("24h", NOW, NOW - dt.timedelta(hours=24)),
    ("2026-11-20", NOW, dt.datetime(2026, 11, 20, 0, 0, tzinfo=UTC)),
])
def test_since_reads_days_like_date_does(text, now, expected):
    assert parse_when(text, "Europe/London", now) == expected


def test_since_yesterday_is_accepted_by_the_listing_commands(tmp_path):
    world = World(tmp_path / "w")
    world.mention("Quillfeather again", compound=-0.5, seen=dt.datetime.now(UTC) - dt.timedelta(minutes=5))
    for command in ("mentions", "threads"):
        done = run(world, command, "--since", "yesterday", "--format", "json")
        assert done.returncode == 0, done.stderr
        assert "Quillfeather again" in done.stdout
    bad = run(world, "mentions", "--since", "last tuesday")
    assert bad.returncode == 2 and "today, yesterday" in bad.stderr


@pytest.mark.parametrize("command", ["mentions", "threads"])
def test_an_unknown_term_or_feed_is_a_usage_error_naming_the_choices(tmp_path, command):
    world = World(tmp_path / "w")
    term = run(world, command, "--term", "Quilfeather")
    assert term.returncode == 2, term.stdout + term.stderr
    assert "--term: no watch entry named 'Quilfeather'" in term.stderr
    assert "choose from: 'Quillfeather', 'Nibs'" in term.stderr and term.stderr.count("\n") == 1
    feed = run(world, command, "--feed", "Quill blgo")
    assert feed.returncode == 2
    assert "--feed: no feed named 'Quill blgo'" in feed.stderr and "choose from: 'Quill blog', 'Forum'" in feed.stderr


def test_a_known_term_or_feed_in_any_case_still_filters(tmp_path):
    world = World(tmp_path / "w")
    world.mention("Quillfeather is down", compound=-0.6, feed="Forum", seen=dt.datetime.now(UTC) - dt.timedelta(minutes=5))
    done = run(world, "mentions", "--term", "quillfeather", "--feed", "forum", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "Quillfeather is down" in done.stdout


@pytest.mark.parametrize("text", ["", "feeds: []\n", "# nothing yet\nwatch: []\nfeeds: []\n"])
def test_an_empty_feeds_yaml_is_said_out_loud(tmp_path, text):
    config = tmp_path / "feeds.yaml"
    config.write_text(text)
    done = subprocess.run([sys.executable, "-m", "listener", "--config", str(config), "feeds"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "lists no feeds and no watch terms: listener will hear nothing" in done.stderr
    assert "listener init --brand NAME" in done.stderr
