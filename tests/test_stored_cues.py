"""Triage reads an item's words once, when it is stored: the cues go in with the item, and listing
threads reads them back instead of the words (items stored before cues were are read as before)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from conftest import NOW
from feedgen import Entry, Watchlist, atom

from listener import pipeline
from listener.config import load_config

FORUM = "https://forum.quill.example"


def post(n: int, title: str, body: str, author: str, hours: float, parent: int | None = None) -> Entry:
    reply = (f"urn:f:{parent}", f"{FORUM}/t/{parent}") if parent else None
    return Entry(title if not parent else f"Re: {title}", body, link=f"{FORUM}/t/{parent or n}" + (f"#p{n}" if parent else ""),
                 guid=f"urn:f:{n}", author=author, published=NOW - dt.timedelta(hours=hours), in_reply_to=reply)


SPAM = "Cheap pills for everyone at https://a.example https://b.example https://c.example today only"
POSTS = [
    post(1, "How do I export Quillfeather notes?", "Asking for my team.", "Ana", 30),
    post(2, "Quillfeather editor", "The new Quillfeather editor shipped today.", "Bo", 20),
    post(3, "Quillfeather editor", "Bo you are an idiot, nobody asked you", "Troll", 19, parent=2),
    post(4, "Quillfeather editor", SPAM, "Spammer", 18, parent=2),
    post(5, "Quillfeather roadmap", "A calm note on the Quillfeather roadmap.", "Cy", 10),
    *(post(10 + n, f"Quillfeather thread {n}", "Great deals on   GARDEN gnomes, visit our shop now", "Gnome", 5)
      for n in range(3)),
]


@pytest.fixture
def forum(tmp_path, feed_server, clock):
    feed_server.add("/forum.atom", atom(POSTS, title="Quill forum"))
    config = load_config(Watchlist(feeds=[{"name": "Forum", "url": feed_server.url("/forum.atom")}]).write(tmp_path))
    assert pipeline.poll(config).new_items == len(POSTS)
    return config


def rows(config, sql, params=()):
    with sqlite3.connect(config.database) as conn:
        return conn.execute(sql, params).fetchall()


def cues(config, key):
    return rows(config, "SELECT cue_asks, cue_abuse, cue_links, spam_key != '', root_asks, root_abuse FROM items"
                        " WHERE key = ?", [key])[0]


def queues(config) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    return {t.title: (t.queues, t.reasons) for t in pipeline.thread_summaries(config_db(config), config, now=NOW)}


def config_db(config):
    from listener import store

    return store.open_db(config.database)


def test_a_poll_stores_what_each_item_asks_and_whether_it_abuses_or_spams(forum):
    question, abuse, spam, calm = cues(forum, "urn:f:1"), cues(forum, "urn:f:3"), cues(forum, "urn:f:4"), cues(forum, "urn:f:5")
    assert question[4] == 1 and question[5] == 0  # the post is read with its title: "How do I …?"
    assert abuse[:2] == (0, 1) and abuse[4] is None  # a comment: no root reading
    assert spam[2] == 3 and spam[3] == 1
    assert calm == (0, 0, 0, 1, 0, 0)
    repeated = {key for (key,) in rows(forum, "SELECT spam_key FROM items WHERE author = 'Gnome'")}
    assert len(repeated) == 1  # case and spacing do not hide a repeated text


def test_listing_threads_reads_the_stored_cues_not_the_words(forum):
    listed = queues(forum)
    assert listed["How do I export Quillfeather notes?"][0] == ("reply",)
    assert "spam: 3 links (Spammer)" in listed["Quillfeather editor"][1]
    assert "abuse between members by Troll" in listed["Quillfeather editor"][1]
    assert all("the same text in several threads" in r for n in range(3)
               for r in listed[f"Quillfeather thread {n}"][1] if r.startswith("spam"))
    assert "reply" not in listed["Quillfeather roadmap"][0]

    # The stored cue decides: a calm post marked as asking is a question now...
    rows(forum, "UPDATE items SET root_asks = 1 WHERE key = 'urn:f:5'")
    assert queues(forum)["Quillfeather roadmap"][1][-1] == "question by Cy"
    # ...and an item stored before cues existed is read from its words, as it always was.
    rows(forum, "UPDATE items SET cue_asks = NULL, cue_abuse = NULL, cue_links = NULL, spam_key = NULL,"
                " root_asks = NULL, root_abuse = NULL")
    assert queues(forum) == listed
