"""Grouping items into threads: canonical URLs, reply chains, site-wide comment feeds, mailing lists.

The real comment-bearing feeds in ../shared/realfeeds are parsed by `parse_feed` and grouped by
`assign_threads`; what each test expects is worked out from the same file read independently
with feedparser, never from this code's output.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import urldefrag

import feedparser
import pytest
from conftest import NOW

from listener import pipeline, store
from listener.errors import NotFoundError
from listener.models import Config, DigestSpec, FeedSpec, Item, ItemPlacement, Match, ScoredItem, Sentiment, WatchSpec
from listener.parse import parse_feed
from listener.pipeline.conversations import StoredThreads
from listener.threads import (
    ThreadIndex,
    ThreadRef,
    assign_threads,
    canonical_url,
    is_reply,
    reply_subject,
    thread_id_for,
)

REALFEEDS = Path(os.environ.get("LISTENER_REALFEEDS", Path(__file__).resolve().parents[2] / "shared" / "realfeeds"))
needs_realfeeds = pytest.mark.skipif(not REALFEEDS.is_dir(), reason="../shared/realfeeds is not here")


def real(name: str):
    """(our items, feedparser's own reading of the same file)."""
    body = (REALFEEDS / name).read_bytes()
    return parse_feed(body, url=str(REALFEEDS / name)).items, feedparser.parse(io.BytesIO(body))


def partition(refs: dict[str, ThreadRef]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = defaultdict(set)
    for key, ref in refs.items():
        groups[ref.thread_id].add(key)
    return {frozenset(g) for g in groups.values()}


def post(url: str, key: str | None = None, title: str = "A post", **kw) -> Item:
    return Item(key=key or url, title=title, content="", url=url, author=kw.pop("author", "Dana"),
                published=kw.pop("published", NOW), **kw)


# --- canonical URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize("url, canonical", [
    ("HTTPS://Blog.Example.COM/Post/", "https://blog.example.com/Post/"),  # the path keeps its case
    ("https://blog.example.com:443/p/", "https://blog.example.com/p/"),
    ("http://blog.example.com:80/p/", "http://blog.example.com/p/"),
    ("http://blog.example.com:8080/p/", "http://blog.example.com:8080/p/"),
    ("https://blog.example.com/p/#comment-42", "https://blog.example.com/p/"),
    ("https://blog.example.com/p/?utm_source=tw&utm_MEDIUM=x&id=3", "https://blog.example.com/p/?id=3"),
    ("https://blog.example.com/p/?fbclid=abc&gclid=1&replytocom=9", "https://blog.example.com/p/"),
    ("https://blog.example.com/p/?b=2&a=1", "https://blog.example.com/p/?a=1&b=2"),
    ("http://x.blogspot.com/2009/10/test-post.html?showComment=1260320342544#c47",
     "http://x.blogspot.com/2009/10/test-post.html"),
    ("https://blog.example.com", "https://blog.example.com/"),
])
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_http_and_https_are_one_thread():
    assert thread_id_for("http://blog.example/p/") == thread_id_for("https://blog.example/p/")
    assert thread_id_for("https://blog.example/p/") != thread_id_for("https://blog.example/q/")
    assert re.fullmatch(r"t[0-9a-f]{10}", thread_id_for("feed1:abc"))


# --- reply chains and fallbacks ---------------------------------------------------------------


def test_atom_reply_chains_go_to_the_root_whatever_the_order():
    root = post("https://forum.example/t/1", key="urn:1", title="Acme sync broken")
    a = post("https://forum.example/p/2", key="urn:2", title="Re", in_reply_to="urn:1")
    b = post("https://forum.example/p/3", key="urn:3", title="Re", in_reply_to="urn:2")
    c = post("https://forum.example/p/4", key="urn:4", title="Re", in_reply_to_url="https://forum.example/p/3")
    refs = assign_threads([c, b, a, root], scope="feed1")
    assert {ref.thread_id for ref in refs.values()} == {thread_id_for(canonical_url(root.url))}
    assert refs["urn:1"].is_root and not refs["urn:4"].is_root


def test_a_reply_whose_parent_is_stored_joins_the_stored_thread():
    class Stored(ThreadIndex):
        def by_key(self, key):
            return "tstoredkey" if key == "urn:old" else None

        def by_url(self, url):
            return "tstoredurl" if url == "https://forum.example/p/9" else None

    by_ref = post("https://forum.example/p/10", key="urn:10", in_reply_to="urn:old")
    by_href = post("https://forum.example/p/11", key="urn:11", in_reply_to="urn:unknown",
                   in_reply_to_url="https://forum.example/p/9")
    refs = assign_threads([by_ref, by_href], scope="feed1", index=Stored())
    assert refs["urn:10"].thread_id == "tstoredkey"
    assert refs["urn:11"].thread_id == "tstoredurl"


def test_a_reply_to_an_unknown_parent_joins_the_parents_page():
    reply = post("https://forum.example/p/12", key="urn:12", in_reply_to="urn:gone",
                 in_reply_to_url="https://forum.example/t/5?utm_source=feed#p3")
    assert assign_threads([reply], scope="s")["urn:12"].thread_id == thread_id_for("https://forum.example/t/5")


def test_a_cycle_of_replies_terminates_in_one_thread():
    a = post("https://f.example/a", key="a", in_reply_to="b")
    b = post("https://f.example/b", key="b", in_reply_to="a")
    refs = assign_threads([a, b], scope="s")
    assert len({r.thread_id for r in refs.values()}) == 1


def test_a_comment_feed_joins_its_post_whatever_the_items_say():
    comment_thread = ThreadRef("tpost", "https://blog.example/p/", False)
    items = [post("https://elsewhere.example/x", key="c1"), post("https://blog.example/p/#comment-2", key="c2")]
    refs = assign_threads(items, scope="s", comment_thread=comment_thread)
    assert {r.thread_id for r in refs.values()} == {"tpost"} and not any(r.is_root for r in refs.values())


def test_an_item_without_a_link_is_its_own_thread_scoped_to_its_feed():
    one = assign_threads([Item(key="x", title="t", content="", url=None, author=None, published=None)], scope="a")
    two = assign_threads([Item(key="x", title="t", content="", url=None, author=None, published=None)], scope="b")
    assert one["x"].thread_id != two["x"].thread_id and one["x"].is_root


def test_replies_that_came_before_their_original_keep_their_subject_thread():
    reply = post("https://list.example/2", key="2", title="Re: Acme outage")
    first = assign_threads([reply], scope="feed7")["2"]

    class Stored(ThreadIndex):
        def exists(self, thread_id):
            return thread_id == first.thread_id

    original = post("https://list.example/1", key="1", title="Acme  outage")
    assert assign_threads([original], scope="feed7", index=Stored())["1"].thread_id == first.thread_id
    assert assign_threads([original], scope="feed8", index=Stored())["1"].thread_id != first.thread_id


@pytest.mark.parametrize("title, subject", [("Re: Hello", "hello"), ("RE: re:  Hello  World", "hello world"),
                                            ("AW: Frage", "frage"), ("Re[2]: x", "x"), ("Hello", None),
                                            ("Regarding: x", None), ("Re:", None)])
def test_reply_subject(title, subject):
    assert reply_subject(title) == subject


def test_what_counts_as_a_reply_for_scoring():
    assert is_reply(post("https://b.example/p/#comment-1"))
    assert is_reply(post("https://b.example/1", title="Re: it"))
    assert is_reply(post("https://b.example/1", in_reply_to="x"))
    assert not is_reply(post("https://b.example/p/", title="A post about Acme"))


# --- the real feeds ---------------------------------------------------------------------------


@needs_realfeeds
def test_a_disqus_site_wide_comment_feed_splits_by_post():
    items, fp = real("disqus_comments_2012.rss")
    expected: dict[str, set[str]] = defaultdict(set)
    for entry in fp.entries:
        expected[urldefrag(entry.link)[0]].add(entry.link)
    refs = assign_threads(items, scope="feed1")
    got = {frozenset(next(i.url for i in items if i.key == key) for key in group) for group in partition(refs)}
    assert got == {frozenset(links) for links in expected.values()}
    assert len(items) == len(fp.entries) and len(got) == len(expected) < len(items)
    assert not any(ref.is_root for ref in refs.values())  # every one is a comment on some page


@needs_realfeeds
def test_disqus_comments_join_the_post_stored_from_the_blog_feed():
    items, fp = real("disqus_comments_2012.rss")
    busiest = max({urldefrag(e.link)[0] for e in fp.entries},
                  key=lambda page: sum(urldefrag(e.link)[0] == page for e in fp.entries))
    blog = assign_threads([post(busiest, key="blog-guid-1", title="Who wants to write a little code?")], scope="feed2")
    comments = assign_threads(items, scope="feed1")
    joined = [key for key, ref in comments.items() if ref.thread_id == blog["blog-guid-1"].thread_id]
    assert len(joined) == sum(urldefrag(e.link)[0] == busiest for e in fp.entries) > 1


@needs_realfeeds
def test_a_blogger_comment_joins_its_post():
    items, fp = real("blogger_comment_feed_2009.xml")
    parent = fp.entries[0]["thr_in-reply-to"]
    the_post = post(parent["href"], key=parent["ref"], title="Test post")
    together = assign_threads([*items, the_post], scope="feed1")
    assert len(items) == len(fp.entries) == 1
    assert together[items[0].key].thread_id == together[parent["ref"]].thread_id
    # Stored earlier from the blog's own feed (another feed): by the parent's id ...
    stored_post = assign_threads([the_post], scope="feed2")[parent["ref"]]

    class Stored(ThreadIndex):
        def by_key(self, key):
            return stored_post.thread_id if key == parent["ref"] else None

    assert assign_threads(items, scope="feed1", index=Stored())[items[0].key].thread_id == stored_post.thread_id
    # ... by the parent's link when nothing is stored ...
    assert assign_threads(items, scope="feed1")[items[0].key].thread_id == stored_post.thread_id
    # ... and by its own ?showComment=...#c... permalink when there is no threading markup at all.
    bare = [Item(key=i.key, title=i.title, content="", url=i.url, author=i.author, published=i.published)
            for i in items]
    assert "showComment" in bare[0].url
    assert assign_threads(bare, scope="feed1")[bare[0].key].thread_id == stored_post.thread_id


@needs_realfeeds
def test_a_mailing_list_threads_by_subject():
    items, fp = real("gmane_mailinglist_2012.rdf")
    expected: dict[str, set[str]] = defaultdict(set)
    for entry in fp.entries:
        expected[re.sub(r"^(re:\s*)+", "", entry.title.strip(), flags=re.I).lower()].add(entry.link)
    refs = assign_threads(items, scope="feed1")
    got = {frozenset(next(i.url for i in items if i.key == key) for key in group) for group in partition(refs)}
    assert got == {frozenset(v) for v in expected.values()}
    assert sorted(len(g) for g in got) == sorted(len(v) for v in expected.values()) and len(got) < len(items)


@needs_realfeeds
@pytest.mark.parametrize("name", ["wp_manton_2015.rss", "wp_natasha_2017.xml", "wp_atom_allthingsrss.atom",
                                  "blogger_quiltville.atom", "wp_atom_laminas_common.atom"])
def test_blog_posts_are_each_their_own_thread_with_their_comment_feed(name):
    items, fp = real(name)
    refs = assign_threads(items, scope="feed1")
    assert len(partition(refs)) == len(fp.entries) == len(items)
    assert all(ref.is_root for ref in refs.values())
    for item, entry in zip(items, fp.entries):
        feeds = [entry.get("wfw_commentrss")] + [link.href for link in entry.links
                                                 if link.rel == "replies" and "xml" in link.get("type", "")]
        assert item.comments_url == next(f for f in feeds if f)


# --- stored threads: queries, filters, acks ---------------------------------------------------


def config_for(db_path: Path, **changes) -> Config:
    fields = dict(
        path=db_path.parent / "feeds.yaml", database=db_path, reports_dir=db_path.parent / "reports",
        timezone="UTC", watch=(WatchSpec("acme", ("acme",)), WatchSpec("widget", ("widget",))),
        staff_authors=("Dana Reyes",), feeds=(FeedSpec("Blog", "https://blog.example/feed", comments=True),
                                              FeedSpec("Forum", "https://forum.example/feed")),
        poll_every=900, min_interval=60, digest_time=dt.time(7, 30), negative=-0.05, positive=0.05,
        digest=DigestSpec())
    fields.update(changes)
    return Config(**fields)


def scored(key: str, *, url: str, hours_ago: float, compound: float | None, author: str = "Pat",
           terms: tuple[str, ...] = (), title: str = "") -> ScoredItem:
    item = Item(key=key, title=title or f"item {key}", content=f"text of {key}", url=url, author=author,
                published=NOW - dt.timedelta(hours=hours_ago))
    sentiment = Sentiment(compound, 0.1, 0.8, 0.1) if compound is not None else None
    return ScoredItem(item, hashlib.sha1(key.encode()).hexdigest(), Match(bool(terms), terms, ""), sentiment)


class Stored:
    """A file DB with two feeds, filled through the same calls the poll cycle makes."""

    def __init__(self, tmp_path: Path) -> None:
        self.config = config_for(tmp_path / "listener.db")
        self.db = store.open_db(self.config.database)
        store.sync_feeds(self.db, self.config.feeds)
        self.feed_ids = dict(self.db.execute("SELECT name, id FROM feeds").fetchall())

    def add(self, feed: str, *items: ScoredItem, arrived: dt.datetime = NOW) -> None:
        feed_id = self.feed_ids[feed]
        refs = assign_threads([s.item for s in items], scope=f"feed{feed_id}",
                              index=StoredThreads(self.db, feed_id))
        update = store.FeedUpdate(status="ok", http_status=200, etag=None, last_modified=None,
                                  next_poll_at=NOW)
        placements = {s.item.key: ItemPlacement(refs[s.item.key].thread_id, refs[s.item.key].root,
                                                url=s.item.url if refs[s.item.key].is_root else None,
                                                title=s.item.title if refs[s.item.key].is_root else None)
                      for s in items}
        store.save_poll(self.db, feed_id, update, items, placements=placements, now=arrived)

    def summaries(self, **kw):
        return pipeline.thread_summaries(self.db, self.config, now=NOW, **kw)


@pytest.fixture
def stored(tmp_path):
    s = Stored(tmp_path)
    P = "https://blog.example/acme-launch/"
    s.add("Blog", scored("p1", url=P, hours_ago=50, compound=0.5, author="Dana Reyes", terms=("acme",),
                         title="Acme launch"),
          scored("p2", url="https://blog.example/cats/", hours_ago=40, compound=None, title="Cats"))
    s.add("Forum",
          scored("c1", url=P + "#comment-1", hours_ago=30, compound=-0.6, author="Pat"),
          scored("c2", url=P + "#comment-2", hours_ago=20, compound=0.4, author="Dana Reyes"),
          scored("c3", url=P + "#comment-3", hours_ago=3, compound=-0.4, author="Kim"),
          scored("w1", url="https://forum.example/t/widget", hours_ago=100, compound=-0.9, author="Lee",
                 terms=("widget",), title="Widget broken"),
          scored("n1", url="https://forum.example/t/nothing", hours_ago=1, compound=-0.9, author="Lee",
                 title="Not about us"))
    yield s
    s.db.close()


def test_threads_with_a_mention_only_and_needs_reply_as_spec(stored):
    summaries = stored.summaries()
    by_title = {s.title: s for s in summaries}
    assert set(by_title) == {"Acme launch", "Widget broken"}  # "Cats" and "Not about us" mention nothing
    launch = by_title["Acme launch"]
    assert launch.items == 4 and launch.negative_items == 2 and launch.staff_replied and launch.needs_reply
    assert launch.oldest_unanswered_negative == NOW - dt.timedelta(hours=3)  # Kim's, after Dana's reply
    assert launch.feed == "Blog" and launch.url == "https://blog.example/acme-launch/"
    assert launch.terms == ("acme",)
    assert [s.title for s in summaries] == [s.title for s in sorted(summaries, key=lambda s: -s.priority)]


def test_filters_since_feed_term_and_needs_reply(stored):
    titles = lambda **kw: {s.title for s in stored.summaries(**kw)}  # noqa: E731
    assert titles(since=NOW - dt.timedelta(hours=24)) == {"Acme launch"}  # last activity, not the post's date
    assert titles(term="widget") == {"Widget broken"}
    assert titles(term="ACME") == {"Acme launch"}
    assert titles(feed="Blog") == {"Acme launch"}
    assert titles(feed="Forum") == {"Acme launch", "Widget broken"}
    assert titles(needs_reply=True) == {"Acme launch", "Widget broken"}
    with pytest.raises(NotFoundError, match="no feed named 'Nope'"):
        stored.summaries(feed="Nope")


def test_ack_closes_and_a_newer_negative_reopens(stored):
    launch = next(s for s in stored.summaries() if s.title == "Acme launch")
    record = pipeline.ack_thread(stored.db, launch.id[:6], by="sam", note="called Kim", now=NOW)
    assert record["thread_id"] == launch.id and record["by"] == "sam"
    assert {s.title for s in stored.summaries(needs_reply=True)} == {"Widget broken"}
    stored.add("Forum", scored("c4", url="https://blog.example/acme-launch/#comment-4", hours_ago=0.5,
                               compound=-0.3, author="Kim"), arrived=NOW + dt.timedelta(minutes=5))
    reopened = next(s for s in stored.summaries(needs_reply=True) if s.title == "Acme launch")
    assert reopened.oldest_unanswered_negative == NOW - dt.timedelta(hours=0.5)
    detail = pipeline.thread_detail(stored.db, stored.config, launch.id, now=NOW)
    assert [row["kind"] for row in detail.conversation].count("ack") == 1
    assert detail.acks[0]["note"] == "called Kim"


def test_unknown_or_ambiguous_thread_ids_are_not_found(stored):
    with pytest.raises(NotFoundError, match="no thread"):
        pipeline.ack_thread(stored.db, "tdoesnotexist", by="sam")
    with pytest.raises(NotFoundError, match="no thread"):
        pipeline.thread_detail(stored.db, stored.config, "t")  # too short to be a prefix
    assert stored.db.execute("SELECT count(*) FROM acks").fetchone()[0] == 0


def test_staff_are_todays_staff_authors(stored):
    launch = lambda: next(s for s in stored.summaries() if s.title == "Acme launch")  # noqa: E731
    assert launch().needs_reply
    stored.config = config_for(stored.config.database, staff_authors=("Dana Reyes", "kim"))
    assert not launch().needs_reply  # Kim's item is now a staff item: Pat's complaint was answered


def test_needs_reply_never_scans_every_item(stored):
    statements: list[str] = []
    stored.db.conn.set_trace_callback(statements.append)
    try:
        store.thread_ids(stored.db, negative_at_most=-0.05, since=NOW - dt.timedelta(days=7), term="acme")
        store.thread_ids(stored.db, negative_at_most=-0.05, feed="Blog")
        store.thread_items(stored.db, ["tx"])
    finally:
        stored.db.conn.set_trace_callback(None)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 3
    for sql in selects:
        plan = [row[3] for row in stored.db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()]
        full_scans = [step for step in plan if re.fullmatch(r"SCAN items( AS \w+)?", step)]
        assert not full_scans, (sql, plan)


# --- which comment feeds a cycle follows ------------------------------------------------------


def blog_post(slug: str, *, days_ago: float, count: int | None) -> ScoredItem:
    item = Item(key=slug, title=f"Acme {slug}", content="", url=f"https://blog.example/{slug}/", author="Dana Reyes",
                published=NOW - dt.timedelta(days=days_ago), comments_url=f"https://blog.example/{slug}/feed/",
                comment_count=count)
    return ScoredItem(item, hashlib.sha1(f"{slug}{count}".encode()).hexdigest(), Match(True, ("acme",), ""),
                      Sentiment(0.0, 0, 1, 0))


def chosen(cycle, db) -> list[str]:
    parents = store.feed_rows(db, "name = 'Blog'")
    return sorted(row.url.split("/")[-3] for row in cycle.comment_feeds_due(parents, force=False))


def test_comment_feeds_follow_recent_posts_with_moving_counts_up_to_the_cap(tmp_path, clock):
    from listener.models import CommentLimits

    s = Stored(tmp_path)
    s.config = config_for(s.config.database, comments=CommentLimits(max_post_age_days=14, max_feeds_per_cycle=3))
    s.add("Blog", blog_post("new", days_ago=1, count=2), blog_post("newer", days_ago=0.5, count=1),
          blog_post("none", days_ago=2, count=0), blog_post("nocount", days_ago=3, count=None),
          blog_post("third", days_ago=4, count=5), blog_post("old", days_ago=20, count=9))
    cycle = pipeline.PollCycle(s.config, s.db, None, None)
    # Newest first, capped at 3: "third" waits; "old" is past max_post_age; "none" has no comments.
    assert chosen(cycle, s.db) == ["new", "newer", "nocount"]
    # Once their fetch is stored, the counted ones are skipped until the count moves.
    for feed in store.feed_rows(s.db, "kind = 'comments'"):
        update = store.FeedUpdate(status="ok", http_status=200, etag='"e"', last_modified=None,
                                  next_poll_at=NOW + dt.timedelta(hours=1))
        store.save_poll(s.db, feed.id, update, [], placements={}, now=NOW)
        cycle._stored_comment_count(feed)
    assert chosen(cycle, s.db) == ["third"]
    s.add("Blog", blog_post("new", days_ago=1, count=3))
    assert chosen(cycle, s.db) == ["new", "third"]
    # Their fetch was never stored (a cycle killed here): the next cycle must not skip them as seen.
    assert chosen(pipeline.PollCycle(s.config, s.db, None, None), s.db) == ["new", "third"]
    s.db.close()
