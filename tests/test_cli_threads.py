"""Threads end to end: a WordPress blog with per-post comment feeds, an Atom forum with reply chains
and a Disqus-style site-wide comment feed on a local HTTP server; the real CLI as a subprocess."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import subprocess
from pathlib import Path

import feedparser
import pytest
import time_machine
from conftest import run_cli, wall_now
from feedgen import Entry, Watchlist, atom, rss

STARTED = wall_now()  # the CLI runs as a subprocess: the wall clock is the one clock both read
SPEC_THREAD_FIELDS = {"id", "title", "url", "feed", "items", "negative_items", "last_activity",
                      "oldest_unanswered_negative", "staff_replied", "needs_reply", "priority", "status"}
BLOG = "https://blog.quill.example"
PARTNER = "https://partner.example"
FORUM = "https://forum.quill.example"


def ago(hours: float) -> dt.datetime:
    return STARTED - dt.timedelta(hours=hours)


def listener(config: str, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, config=config, env={"USER": "sam"}, columns=200)  # tables: no column shortened


def as_json(config: str, *args: str) -> list[dict]:
    result = listener(config, *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def comment(post: str, n: int, author: str, text: str, hours: float) -> Entry:
    return Entry(title=f"By: {author}", body=text, link=f"{BLOG}/{post}/#comment-{n}", guid=f"{BLOG}/?c={n}",
                 author=author, published=ago(hours))


COMMENTS = {  # post slug -> its comments, oldest first
    "v5": [comment("v5", 1, "Alex", "My notes vanished after the update. This is terrible and I am furious.", 20)],
    "sync": [comment("sync", 2, "Jo", "Sync is broken again, I lost a whole chapter. Awful.", 30),
             comment("sync", 3, "Priya Okafor", "So sorry, Jo! We found the bug and restored your chapter.", 29)],
    "pricing": [comment("pricing", 4, "Max", "The new price is a terrible ripoff, I hate this.", 10),
                comment("pricing", 5, "Rita", "Honestly it is worth it, I love the app and the support is great!", 9)],
    "tips": [comment("tips", 6, "Lou", "Nice tips, thanks!", 5)],
}


def blog(comments: dict[str, list[Entry]]) -> str:
    posts = [("v5", "Quillfeather 5 is out", 40), ("sync", "Quillfeather sync, explained", 50),
             ("pricing", "New Quillfeather pricing", 60), ("quiet", "Quillfeather at the book fair", 70)]
    entries = [Entry(title=title, body=f"{title}. Read all about it.", link=f"{BLOG}/{slug}/", guid=f"{BLOG}/?p={slug}",
                     author="Priya Okafor", published=ago(hours), comments_feed=f"{BLOG}/{slug}/feed/".replace(
                         BLOG, "{base}"), comment_count=len(comments.get(slug, [])))
               for slug, title, hours in posts]
    # A post whose feed gives no comment count: its comment feed is fetched whenever the blog is.
    entries.append(Entry(title="Writing tips with Quillfeather", body="Some tips.", link=f"{BLOG}/tips/",
                         guid=f"{BLOG}/?p=tips", author="Priya Okafor", published=ago(80),
                         comments_feed="{base}/tips/feed/"))
    return rss(entries, title="Quillfeather blog")


def forum() -> str:
    topic = lambda n: f"{FORUM}/t/{n}"  # noqa: E731
    return atom([
        Entry("Quillfeather export is broken?", "Export to PDF crashes every time. Useless and frustrating.",
              link=topic(1), guid="urn:forum:1", author="Ben", published=ago(12)),
        Entry("Re: export", "Same here, it is bad.", link=f"{topic(1)}#p2", guid="urn:forum:2", author="Cy",
              published=ago(11), in_reply_to=("urn:forum:1", topic(1))),
        Entry("Re: export", "Still crashing. Worst release ever, I want a refund.", link=f"{FORUM}/p/3",
              guid="urn:forum:3", author="Ben", published=ago(2), in_reply_to=("urn:forum:2", f"{topic(1)}#p2")),
        Entry("Quillfeather sidebar disappeared", "The sidebar is gone and I hate it.", link=topic(4),
              guid="urn:forum:4", author="Dee", published=ago(30)),
        Entry("Re: sidebar", "Hi Dee, press F9 to bring it back. Sorry for the confusion!", link=f"{FORUM}/p/5",
              guid="urn:forum:5", author="Priya Okafor", published=ago(29), in_reply_to=("urn:forum:4", topic(4))),
        Entry("Re: sidebar", "Thanks, that fixed it!", link=f"{FORUM}/p/6", guid="urn:forum:6", author="Dee",
              published=ago(28), in_reply_to=("urn:forum:5", f"{FORUM}/p/5")),
    ], title="Quillfeather forum")


def partner_posts() -> str:
    return rss([Entry("We switched our team to Quillfeather", "Here is how it went.", link=f"{PARTNER}/switch/",
                      guid="switch", author="Partner", published=ago(26)),
                Entry("Our office cat", "Meow.", link=f"{PARTNER}/cat/", guid="cat", author="Partner",
                      published=ago(25))], title="Partner blog")


def partner_comments() -> str:
    return rss([Entry("Re: switched", "It deleted my drafts twice. Horrible experience.", author="Gus",
                      link=f"{PARTNER}/switch/?utm_source=disqus#comment-11", published=ago(6)),
                Entry("Re: switched", "Worst decision, broken.", author="Hal", link=f"{PARTNER}/switch/#comment-12",
                      published=ago(5)),
                Entry("Re: cat", "This cat is awful.", author="Ivy", link=f"{PARTNER}/cat/#comment-13",
                      published=ago(4))], title="Partner - Latest Comments")


@pytest.fixture
def site(tmp_path, feed_server):
    base = feed_server.url("/").rstrip("/")

    def serve(comments: dict[str, list[Entry]], version: str) -> None:
        feed_server.add("/blog/feed/", blog(comments).replace("{base}", base + "/blog"), etag=f'"blog-{version}"')
        for slug in ("v5", "sync", "pricing", "quiet", "tips"):
            items = comments.get(slug, [])
            digest = f'"{slug}-{len(items)}"'
            feed_server.add(f"/blog/{slug}/feed/", rss(items, title=f"Comments on: {slug}"), etag=digest)

    serve(COMMENTS, "1")
    feed_server.add("/forum.atom", forum(), etag='"forum-1"')
    feed_server.add("/partner/feed/", partner_posts())
    feed_server.add("/partner/comments.rss", partner_comments())
    config = Watchlist(feeds=[
        {"name": "Quill blog", "url": feed_server.url("/blog/feed/"), "comments": True},
        {"name": "Quill forum", "url": feed_server.url("/forum.atom")},
        {"name": "Partner", "url": feed_server.url("/partner/feed/")},
        {"name": "Partner comments", "url": feed_server.url("/partner/comments.rss")},
    ]).write(tmp_path)
    return config, serve, feed_server


def test_threads_ack_reopen_and_conditional_comment_feeds(site):
    config, serve, server = site
    first = listener(config, "poll")
    assert first.returncode == 0, first.stderr
    # Comment feeds: every post with comments, plus "tips" (no count); never "quiet" (count 0).
    assert {slug: server.hits(f"/blog/{slug}/feed/") for slug in ("v5", "sync", "pricing", "quiet", "tips")} == \
        {"v5": 1, "sync": 1, "pricing": 1, "quiet": 0, "tips": 1}
    assert "and 4 comment feeds" in first.stdout

    threads = {t["title"]: t for t in as_json(config, "threads")}
    assert all(SPEC_THREAD_FIELDS | {"why", "heating_up", "defended", "waiting"} <= set(t) for t in threads.values())
    # The cat thread has no mention; "quiet" and "tips" posts are threads with a mention but nothing negative.
    assert set(threads) == {"Quillfeather 5 is out", "Quillfeather sync, explained", "New Quillfeather pricing",
                            "Quillfeather at the book fair", "Writing tips with Quillfeather",
                            "Quillfeather export is broken?", "Quillfeather sidebar disappeared",
                            "We switched our team to Quillfeather"}
    v5, sync, pricing = (threads[t] for t in ("Quillfeather 5 is out", "Quillfeather sync, explained",
                                              "New Quillfeather pricing"))
    # Priya wrote the post, and nobody has replied.
    assert v5["needs_reply"] and not v5["staff_replied"] and v5["items"] == 2
    assert v5["feed"] == "Quill blog" and v5["url"] == f"{BLOG}/v5/"
    assert v5["unanswered"]["author"] == "Alex" and v5["oldest_unanswered_negative"].endswith("Z")
    assert sync["status"] == "answered" and sync["staff_replied"] and not sync["needs_reply"]
    assert pricing["needs_reply"] and pricing["defended"]
    export = threads["Quillfeather export is broken?"]
    assert export["items"] == 3 and export["negative_items"] == 3 and export["needs_reply"]  # the chain, to its root
    assert threads["Quillfeather sidebar disappeared"]["status"] == "answered"
    switched = threads["We switched our team to Quillfeather"]
    assert switched["items"] == 3 and switched["negative_items"] == 2 and switched["feed"] == "Partner"

    needing = as_json(config, "threads", "--needs-reply")
    assert {t["title"] for t in needing} == {"Quillfeather 5 is out", "New Quillfeather pricing",
                                             "Quillfeather export is broken?", "We switched our team to Quillfeather"}
    # Overdue on the first-reply SLA first, then by priority (every one of these waits on a complaint).
    assert needing == sorted(needing, key=lambda t: (not t["overdue"], -t["priority"]))
    for t in needing:
        assert t["priority"] == pytest.approx(sum(t["why"].values()), abs=0.051) and t["priority"] > 0
    assert needing[0]["title"] == "Quillfeather export is broken?"  # three unanswered, the latest 2 h old
    assert [t["title"] for t in as_json(config, "threads", "--needs-reply", "--feed", "Quill forum")] == \
        ["Quillfeather export is broken?"]

    # Ack the v5 thread: it stops needing a reply ...
    acked = listener(config, "ack", v5["id"], "--note", "emailed Alex")
    assert acked.returncode == 0 and f"acked {v5['id']}" in acked.stdout and "by sam" in acked.stdout
    assert v5["id"] not in {t["id"] for t in as_json(config, "threads", "--needs-reply")}
    unknown = listener(config, "ack", "tnosuchthread")
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1 and "no thread" in unknown.stderr

    # ... until Alex comments again. The second poll: the blog changed, only v5's count moved.
    again = comment("v5", 7, "Alex", "Still broken. Horrible, I give up.", 0)
    again.published = wall_now() + dt.timedelta(seconds=1)  # after the ack
    serve({**COMMENTS, "v5": COMMENTS["v5"] + [again]}, "2")
    before = len(server.requests)
    second = listener(config, "poll", "--all")
    assert second.returncode == 0, second.stderr
    cycle = server.requests[before:]
    paths = [r.path for r in cycle]
    assert paths.count("/blog/v5/feed/") == 1 and paths.count("/blog/tips/feed/") == 1
    assert not {"/blog/sync/feed/", "/blog/pricing/feed/", "/blog/quiet/feed/"} & set(paths)  # counts unchanged
    v5_request = next(r for r in cycle if r.path == "/blog/v5/feed/")
    tips_request = next(r for r in cycle if r.path == "/blog/tips/feed/")
    assert v5_request.headers.get("if-none-match") == '"v5-1"'  # conditional; the body changed, so 200
    assert tips_request.headers.get("if-none-match") == '"tips-1"'  # unchanged: the server answered 304
    assert "2 comment feeds" in second.stdout and "2 not modified" in second.stdout  # the forum and "tips"

    reopened = {t["id"]: t for t in as_json(config, "threads", "--needs-reply")}
    assert v5["id"] in reopened and reopened[v5["id"]]["items"] == 3
    assert reopened[v5["id"]]["oldest_unanswered_negative"] > v5["oldest_unanswered_negative"]

    conversation = as_json(config, "thread", v5["id"])
    assert [row["kind"] for row in conversation] == ["item", "item", "ack", "item"]
    assert [row["author"] for row in conversation] == ["Priya Okafor", "Alex", "sam", "Alex"]
    assert conversation[0]["staff"] and conversation[-1]["unanswered"] and not conversation[1]["unanswered"]
    shown = listener(config, "thread", v5["id"][:7])
    assert shown.returncode == 0, shown.stderr
    assert "Priya Okafor [staff]" in shown.stdout and "waiting for a reply" in shown.stdout
    assert "acked: emailed Alex (by sam)" in shown.stdout and "Still broken" in shown.stdout


def test_threads_table_and_csv(site):
    config, _, _ = site
    assert listener(config, "poll").returncode == 0
    table = listener(config, "threads", "--needs-reply", "--limit", "2")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["prio", "queues", "waited"] and len(lines) == 4  # header, rule, 2 rows
    assert "Quillfeather export" in lines[2] and "reply" in lines[2]
    csv_out = listener(config, "threads", "--format", "csv", "--term", "quillfeather", "--since", "45h")
    header, *rows = csv.reader(io.StringIO(csv_out.stdout))
    assert header[:7] == ["id", "title", "url", "feed", "items", "negative_items", "last_activity"]
    titles = {row[1] for row in rows}
    # Last activity within 45 h: the 70 h old post with no comments is out; the 80 h old "tips" post
    # is in, by its 5 h old comment.
    assert "Quillfeather at the book fair" not in titles and "Writing tips with Quillfeather" in titles
    assert len(titles) == 7


# --- the sample watchlist that ships with the repo --------------------------------------------

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (REPO / "feeds.yaml").is_file() or not (REPO / "sample").is_dir(), reason="no sample")
def test_the_sample_shows_each_kind_of_thread(tmp_path):
    """`make run`'s watchlist: a thread that needs a reply, one answered by staff, one defended by a fan.

    The clock is set just after the sample's newest item, so the sample's fixed dates never age
    out of comments.max_post_age; what is expected of grouping is read from the files with feedparser.
    """
    from listener import pipeline, store
    from listener.config import load_config

    config = load_config(REPO / "feeds.yaml")
    config = dataclasses.replace(config, database=tmp_path / "sample.db")
    blog = feedparser.parse((REPO / "sample" / "blog.xml").read_bytes())
    entries = {e.link: e for name in ("blog.xml", "forum.atom", "search.xml")
               for e in feedparser.parse((REPO / "sample" / name).read_bytes()).entries}
    comment_files = {e.link: feedparser.parse((REPO / "sample" / e.wfw_commentrss).read_bytes())
                     for e in blog.entries if e.get("wfw_commentrss") and int(e.get("slash_comments") or 0) > 0}
    dates = [e.published_parsed for e in entries.values() if e.get("published_parsed")]
    dates += [c.published_parsed for f in comment_files.values() for c in f.entries if c.get("published_parsed")]
    now = dt.datetime(*max(dates)[:6], tzinfo=dt.timezone.utc) + dt.timedelta(hours=1)

    with time_machine.travel(now, tick=False):
        summary = pipeline.poll(config)
        db = store.open_db(config.database)
        threads = pipeline.thread_summaries(db, config, now=now)
        needing = pipeline.thread_summaries(db, config, now=now, needs_reply=True)
    assert summary.count("ok", kind="comments") == len(comment_files) and not summary.failed
    by_url = {t.url: t for t in threads}
    for post_url, comments in comment_files.items():
        assert by_url[post_url].items == 1 + len(comments.entries)  # the post and every comment, one thread
    assert needing and all(t.needs_reply for t in needing)
    assert needing == sorted(needing, key=lambda t: (not t.overdue, not t.complaint, -t.priority))
    assert any(t.status == "answered" and t.staff_replied for t in threads)
    assert any(t.defended and t.needs_reply for t in threads)
    assert all(t.why and t.unanswered and t.waiting_seconds > 0 for t in needing)
