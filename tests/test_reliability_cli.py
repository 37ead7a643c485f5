"""Issue 14.7, the "Low" list: one clear line (naming the file) instead of "unexpected error"."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess

import pytest
from conftest import run_cli
from feedgen import Entry, Watchlist, rss


def run(*args: str, preexec_fn=None) -> subprocess.CompletedProcess:
    return run_cli(*args, preexec_fn=preexec_fn)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("watch:\n  - name: quillfeather\n    terms: [quillfeather]\nfeeds: []\n")
    return str(path)


@pytest.mark.parametrize("args", [
    ["mentions", "--since", "99999999999d"], ["mentions", "--since", "0001-01-01"],
    ["threads", "--since", "9999-12-31T23:59:59"], ["report", "--date", "0001-01-01"],
    ["digest", "--date", "9999-12-31"], ["prune", "--older-than", "99999999999999d"],
    ["prune", "--older-than", "999999999d"],
], ids=lambda args: " ".join(args))
def test_out_of_range_dates_and_ages_are_usage_errors_not_unexpected(config, args):
    result = run("--config", config, *args)
    assert result.returncode == 2, result.stderr
    assert ("out of range" in result.stderr or "is more than" in result.stderr) and "unexpected" not in result.stderr


@pytest.mark.parametrize("content", [b"this is not a database\n", os.urandom(4096)], ids=["text", "random"])
def test_a_malformed_database_file_is_one_line_naming_it(tmp_path, config, content):
    bad = tmp_path / "broken.db"
    bad.write_bytes(content)
    for command in (["mentions"], ["poll"], ["feeds"]):
        result = run("--config", config, "--db", str(bad), *command)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and str(bad) in result.stderr, result.stderr
        assert "unexpected" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_database_folder_is_one_line_naming_the_file(tmp_path, config):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = run("--config", config, "--db", str(folder / "listener.db"), "mentions")
    finally:
        folder.chmod(0o755)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert str(folder / "listener.db") in result.stderr and "unexpected" not in result.stderr


def test_opml_dtd_refusal_works_for_utf16(tmp_path, config):
    bomb = tmp_path / "bomb.opml"
    bomb.write_bytes('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE opml [<!ENTITY a "EXPANDED">]>'
                     '<opml version="2.0"><body><outline text="&a;" xmlUrl="https://x.example/feed"/></body></opml>'
                     .encode("utf-16"))
    result = run("--config", config, "import-opml", str(bomb))
    assert result.returncode == 1 and "DTD" in result.stderr
    assert open(config).read().endswith("feeds: []\n")  # unchanged


def test_quiet_poll_on_a_full_disk_prints_one_line(tmp_path, feed_server):
    feeds = []
    for n in range(10):
        feed_server.add(f"/f{n}.xml", rss([Entry(f"Quillfeather {n}", "tiny", guid=f"{n}")]))
        feeds.append({"name": f"Feed {n}", "url": feed_server.url(f"/f{n}.xml")})
    config = Watchlist(feeds=feeds).write(tmp_path)
    assert run("--config", config, "-q", "poll").returncode == 0
    big = rss([Entry(f"Quillfeather post {i}", "Quillfeather is terrible. " * 200, guid=f"big-{i}")
               for i in range(200)])
    for n in range(10):
        feed_server.add(f"/f{n}.xml", big)
    files = [tmp_path / name for name in ("listener.db", "listener.db-wal")]
    limit = max(f.stat().st_size for f in files if f.exists()) + 16 * 1024

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = run("--config", config, "-q", "poll", "--all", preexec_fn=small_disk)
    assert full.returncode == 1
    assert full.stderr.count("\n") == 1 and "could not store" in full.stderr, full.stderr
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 10
