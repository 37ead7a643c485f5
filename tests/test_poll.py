"""A poll cycle end to end: a real HTTP server on 127.0.0.1, the real CLI as a subprocess, a real SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli, wall_now
from feedgen import Entry, Watchlist, rss
from feedserver import hang_forever

STARTED = wall_now()  # the CLI runs as a subprocess: the wall clock is the one clock both read
SPEC_MENTION_FIELDS = {"id", "feed", "title", "url", "author", "published", "terms", "compound", "pos",
                       "neu", "neg", "thread_id", "snippet"}


def listener(config: str, *args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return run_cli(*args, config=config, env=env, timeout=timeout)


def blog_entries(count: int = 3) -> list[Entry]:
    moods = ["Quillfeather lost all my notes again. Furious and done with it.",
             "Loving the new Quillfeather sync, it is fast and lovely!",
             "Quillfeather Notes 4.2 ships today with a new sidebar."]
    return [Entry(title=f"Post {i}", body=moods[i % 3], link=f"https://blog.quill.example/p{i}/",
                  guid=f"post-{i}", author="Sam Writer", published=STARTED - dt.timedelta(hours=i + 1))
            for i in range(count)]


def db_rows(tmp_path: Path, sql: str, params=()) -> list[tuple]:
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        return conn.execute(sql, params).fetchall()


def test_poll_stores_mentions_with_every_spec_field(tmp_path, feed_server):
    feed_server.add("/blog.xml", rss(blog_entries() + [Entry("Unrelated", "Nothing to see", guid="x")]))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)

    polled = listener(config, "poll")
    assert polled.returncode == 0, polled.stderr
    assert "4 new items, 3 new mentions" in polled.stdout

    shown = listener(config, "mentions", "--since", "7d", "--format", "json")
    mentions = json.loads(shown.stdout)
    assert len(mentions) == 3
    assert all(SPEC_MENTION_FIELDS <= set(m) for m in mentions)
    assert [m["title"] for m in mentions] == ["Post 0", "Post 1", "Post 2"]  # newest first
    angry = mentions[0]
    assert angry["feed"] == "Blog" and angry["terms"] == ["quillfeather"]
    assert angry["compound"] < -0.05 and abs(angry["pos"] + angry["neu"] + angry["neg"] - 1) < 0.01
    assert angry["published"].endswith("Z") and "Quillfeather" in angry["snippet"]
    negative = json.loads(listener(config, "mentions", "--negative", "--format", "json").stdout)
    assert [m["title"] for m in negative] == ["Post 0"]


def test_second_poll_of_unchanged_feeds_is_conditional_and_stores_nothing(tmp_path, feed_server):
    feed_server.add("/blog.xml", rss(blog_entries()), etag='"v1"', last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    assert listener(config, "poll").returncode == 0
    again = listener(config, "poll", "--all")
    assert again.returncode == 0, again.stderr
    second = feed_server.requests[-1]
    assert second.headers.get("if-none-match") == '"v1"'
    assert second.headers.get("if-modified-since") == "Tue, 24 Nov 2026 10:00:00 GMT"
    assert "0 new items" in again.stdout and "1 not modified" in again.stdout
    assert db_rows(tmp_path, "SELECT count(*) FROM items") == [(3,)]


def test_a_poll_within_the_interval_fetches_nothing(tmp_path, feed_server):
    feed_server.add("/blog.xml", rss(blog_entries()))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    listener(config, "poll")
    listener(config, "poll")
    assert feed_server.hits("/blog.xml") == 1


def test_broken_feeds_are_recorded_and_the_cycle_goes_on(tmp_path, feed_server):
    feed_server.add("/good.xml", rss(blog_entries()))
    feed_server.add("/error.xml", "oops", status=500)
    feed_server.add("/login.xml", "<html><body><form>Log in</form></body></html>", content_type="text/html")
    feed_server.route("/hang.xml", hang_forever(30))
    names = ["Good", "Error", "Login", "Hang"]
    config = Watchlist(feeds=[{"name": n, "url": feed_server.url(f"/{n.lower()}.xml")} for n in names]).write(tmp_path)

    started = time.monotonic()
    polled = listener(config, "poll")
    assert time.monotonic() - started < 20
    assert polled.returncode == 0, polled.stderr
    assert "3 new items" in polled.stdout and "3 failed" in polled.stdout

    health = {f["name"]: f for f in json.loads(listener(config, "feeds", "--format", "json").stdout)}
    assert health["Good"]["status"] == "ok" and health["Good"]["item_count"] == 3
    assert (health["Error"]["error_kind"], health["Error"]["http_status"]) == ("http", 500)
    assert health["Login"]["error_kind"] == "not_a_feed"
    assert health["Hang"]["error_kind"] == "timeout"
    assert all(health[n]["consecutive_errors"] == 1 for n in names[1:])


def test_overlapping_polls_never_double_anything(tmp_path, feed_server):
    def slow(handler):
        time.sleep(1.5)
        body = rss(blog_entries()).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    feed_server.route("/slow.xml", slow)
    config = Watchlist(feeds=[{"name": "Slow", "url": feed_server.url("/slow.xml")}]).write(tmp_path)
    runs = [subprocess.Popen([sys.executable, "-m", "listener", "--config", config, "poll", "--all"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(run.wait(60), run.stderr.read()) for run in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 75, 75]
    assert all("stepping aside" in err for code, err in results if code == 75)
    assert feed_server.hits("/slow.xml") == 1
    assert db_rows(tmp_path, "SELECT count(*), count(DISTINCT key) FROM items") == [(3, 3)]


def test_a_poll_killed_mid_transaction_loses_and_doubles_nothing(tmp_path, feed_server):
    feed_server.add("/blog.xml", rss(blog_entries(6)), etag='"v1"')
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    killed = listener(config, "poll", env={"LISTENER_FAULT": "kill_after_items:4"})
    assert killed.returncode == -signal.SIGKILL
    assert db_rows(tmp_path, "SELECT count(*) FROM items") == [(0,)]
    assert db_rows(tmp_path, "SELECT etag FROM feeds") == [(None,)]

    again = listener(config, "poll")
    assert again.returncode == 0, again.stderr
    assert feed_server.requests[-1].headers.get("if-none-match") is None
    assert db_rows(tmp_path, "SELECT count(*), count(DISTINCT key) FROM items") == [(6, 6)]
    assert db_rows(tmp_path, "PRAGMA integrity_check") == [("ok",)]


def test_one_feed_whose_parser_raises_stays_alone(tmp_path, feed_server, monkeypatch):
    from listener import pipeline
    from listener.config import load_config
    from listener.pipeline import workers

    for i in range(10):
        feed_server.add(f"/f{i}.xml", rss([Entry(f"Quillfeather news {i}", guid=f"g{i}")]))
    config = load_config(Watchlist(feeds=[{"name": f"F{i}", "url": feed_server.url(f"/f{i}.xml")}
                                          for i in range(10)]).write(tmp_path))
    real_parse = workers.parse_feed

    def parse_or_explode(body, *, url, headers=None, **kwargs):
        if url.endswith("/f3.xml"):
            raise RuntimeError("parser bug")
        return real_parse(body, url=url, headers=headers, **kwargs)

    monkeypatch.setattr(workers, "parse_feed", parse_or_explode)
    summary = pipeline.poll(config, pool=pipeline.ParsePool(workers=1))  # in-process, so the patch applies
    assert summary.new_items == 9
    assert [(o.name, o.error) for o in summary.failed] == [("F3", "error: RuntimeError: parser bug")]


def test_one_feed_whose_write_fails_stays_alone_in_its_commit_group(tmp_path, feed_server, monkeypatch):
    """Feeds share a transaction (grouped commits), each in its own savepoint: F3's failed write
    rolls back F3 only, and its validators stay unsaved so the next poll fetches it in full."""
    from listener import pipeline
    from listener.config import load_config
    from listener.store import items as store_items

    for i in range(10):
        feed_server.add(f"/f{i}.xml", rss([Entry(f"Quillfeather news {i}", guid=f"g{i}")]), etag=f'"e{i}"')
    config = load_config(Watchlist(feeds=[{"name": f"F{i}", "url": feed_server.url(f"/f{i}.xml")}
                                          for i in range(10)]).write(tmp_path))
    real_upsert = store_items._upsert_item
    announced = []

    def upsert_or_fail(db, feed_id, scored, *args, **kwargs):
        outcome = real_upsert(db, feed_id, scored, *args, **kwargs)  # the row is written, then the write fails
        if scored.item.title.endswith(" 3"):
            raise sqlite3.OperationalError("disk I/O error")
        return outcome

    monkeypatch.setattr(store_items, "_upsert_item", upsert_or_fail)
    summary = pipeline.poll(config, pool=pipeline.ParsePool(workers=1), on_outcome=announced.append)
    assert summary.new_items == 9
    assert [(o.name, o.error_kind) for o in summary.failed] == [("F3", "store")]
    assert sorted(o.name for o in announced) == [f"F{i}" for i in range(10)]
    assert db_rows(tmp_path, "SELECT count(*) FROM items") == [(9,)]
    assert db_rows(tmp_path, "SELECT name, etag, status FROM feeds WHERE name IN ('F2', 'F3')") == [
        ("F2", '"e2"', "ok"), ("F3", None, "error")]


def test_poll_of_an_unknown_feed_name_is_one_clear_line(tmp_path, feed_server):
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    result = listener(config, "poll", "--feed", "Nope")
    assert result.returncode == 2
    assert result.stderr.strip() == f"listener: no feed named 'Nope' in {config}"


def test_duplicate_guids_and_missing_guids_are_stored_once_each(tmp_path, feed_server):
    """RELIABILITY C1 and C2: two items sharing a guid are two rows; an item with no guid is one row on re-poll."""
    entries = [Entry("Quillfeather one", guid="same", link="https://blog.quill.example/one"),
               Entry("Quillfeather two", guid="same", link="https://blog.quill.example/two"),
               Entry("Quillfeather no guid", link="https://blog.quill.example/three"),
               Entry("Quillfeather nothing at all", body="no guid, no link")]
    feed_server.add("/blog.xml", rss(entries))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    assert listener(config, "poll").returncode == 0
    again = listener(config, "poll", "--all")
    assert "0 new items" in again.stdout
    assert db_rows(tmp_path, "SELECT count(*), count(DISTINCT key) FROM items") == [(4, 4)]


@pytest.mark.parametrize("broken_body, kind", [
    ("<html><body><h1>Sign in</h1><form></form></body></html>", "not_a_feed"),
    ("", "empty"),
])
def test_a_feed_that_turns_into_a_page_or_nothing_deletes_nothing(tmp_path, feed_server, broken_body, kind):
    """RELIABILITY A9: an HTML login page or an empty 200 is an error, never 'the feed is now empty'."""
    feed_server.add("/blog.xml", rss(blog_entries()))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    assert listener(config, "poll").returncode == 0
    before = db_rows(tmp_path, "SELECT id, key, title, content_hash FROM items ORDER BY id")

    feed_server.add("/blog.xml", broken_body, content_type="text/html")
    assert listener(config, "poll", "--all").returncode == 0
    assert db_rows(tmp_path, "SELECT id, key, title, content_hash FROM items ORDER BY id") == before
    assert db_rows(tmp_path, "SELECT status, error_kind, item_count FROM feeds") == [("error", kind, 3)]


def test_a_full_disk_fails_the_poll_loudly_and_loses_nothing(tmp_path, feed_server):
    """RELIABILITY E5: the write fails, validators stay old, cron sees exit 1, the next poll stores it all."""
    import resource

    feed_server.add("/blog.xml", rss(blog_entries(3)), etag='"v1"')
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    assert listener(config, "poll").returncode == 0
    big = [Entry(f"Quillfeather post {i}", "Quillfeather is terrible. " * 200, guid=f"big-{i}",
                 link=f"https://blog.quill.example/big/{i}") for i in range(200)]
    feed_server.add("/blog.xml", rss(big), etag='"v2"')
    files = [tmp_path / name for name in ("listener.db", "listener.db-wal")]
    limit = max(f.stat().st_size for f in files if f.exists()) + 64 * 1024

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = subprocess.run([sys.executable, "-m", "listener", "--config", config, "poll", "--all"],
                          capture_output=True, text=True, timeout=60, preexec_fn=small_disk)
    assert full.returncode == 1, full.stderr
    assert "could not store 1 feeds" in full.stderr.splitlines()[-1]
    assert db_rows(tmp_path, "SELECT count(*) FROM items") == [(3,)]
    assert db_rows(tmp_path, "SELECT etag FROM feeds") == [('"v1"',)]
    assert db_rows(tmp_path, "PRAGMA integrity_check") == [("ok",)]

    again = listener(config, "poll", "--all")
    assert again.returncode == 0, again.stderr
    assert db_rows(tmp_path, "SELECT count(*) FROM items") == [(203,)]


def test_a_feed_that_moves_to_https_and_rekeys_everything_brings_no_new_mentions(tmp_path, feed_server):
    """RELIABILITY C3: new guids for the same stories are updates, not a flood of new mentions."""
    def site(scheme: str) -> str:
        return rss([Entry(e.title, e.body, link=e.link.replace("https://", f"{scheme}://"),
                          guid=f"{scheme}://blog.quill.example/?p={i}", author=e.author, published=e.published)
                    for i, e in enumerate(blog_entries(6))])

    feed_server.add("/blog.xml", site("http"))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    assert "6 new items" in listener(config, "poll").stdout
    first_seen = db_rows(tmp_path, "SELECT id, first_seen, thread_id FROM items ORDER BY id")

    feed_server.add("/blog.xml", site("https"))
    moved = listener(config, "poll", "--all")
    assert moved.returncode == 0, moved.stderr
    assert "0 new items, 0 new mentions" in moved.stdout
    assert "re-keyed 6" in moved.stderr
    assert db_rows(tmp_path, "SELECT id, first_seen, thread_id FROM items ORDER BY id") == first_seen
    assert all(key.startswith("https://") for (key,) in db_rows(tmp_path, "SELECT key FROM items"))


def test_a_few_new_items_are_never_taken_for_a_rekey(tmp_path, feed_server):
    feed_server.add("/blog.xml", rss(blog_entries(6)))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path)
    listener(config, "poll")
    reposted = [Entry(e.title, e.body, link=e.link, guid=f"again-{e.guid}", published=e.published)
                for e in blog_entries(2)]
    feed_server.add("/blog.xml", rss(blog_entries(6) + reposted))
    assert "2 new items" in listener(config, "poll", "--all").stdout
