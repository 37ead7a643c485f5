"""A real poll brings an angry, unanswered comment: the adapters turn the stored cycle into exactly one alert."""

from __future__ import annotations

import datetime as dt

from feedgen import Entry, Watchlist, rss

from listener import pipeline, store
from listener.config import load_config
from listener.models import AlertsSpec
from listener.pipeline.alerts import candidates_from_threads, feed_states, run_alerts, term_spikes, transitions_between

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
ANGRY = "Quillfeather lost all my notes again. Furious, this is the worst update ever."


def cycle(config, hooks, now):
    """What the poll cycle will do once wired: poll, then alert from what was stored."""
    db = store.open_db(config.database)
    try:
        before = feed_states(db)
    finally:
        db.close()
    pipeline.poll(config, force=True)
    db = store.open_db(config.database)
    try:
        spec = AlertsSpec(urls=(hooks.url("/hook"),), urls_env=None, quiet_hours=None, feed_health=True,
                          timezone=config.timezone)
        threads = pipeline.thread_summaries(db, config, needs_reply=True, now=now)
        candidates = candidates_from_threads(threads, reply_sla=dt.timedelta(hours=4))
        spikes = term_spikes(db, config, now=now, window=spec.spike_window)
        transitions = transitions_between(before, feed_states(db))
        return run_alerts(db, spec, candidates, spikes, transitions, now=now, environ={})
    finally:
        db.close()


def test_an_angry_unanswered_comment_alerts_once_within_its_cycle(tmp_path, feed_server, hooks):
    post = Entry("Quillfeather 4.2 is out", "Quillfeather Notes 4.2 ships today.", link="https://blog.quill.example/p1/",
                 guid="p1", author="Priya Okafor", published=NOW - dt.timedelta(hours=3))
    comment = Entry("Re: Quillfeather 4.2 is out", ANGRY, link="https://blog.quill.example/p1/#comment-1",
                    guid="c1", author="Sam", published=NOW - dt.timedelta(hours=1))
    second = Entry("Re: Quillfeather 4.2 is out", "Same here. Quillfeather deleted my drafts, awful and useless.",
                   link="https://blog.quill.example/p1/#comment-2", guid="c2", author="Ana",
                   published=NOW - dt.timedelta(minutes=30))
    feed_server.add("/blog.xml", rss([post, comment, second]))
    config = load_config(Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path))

    first = cycle(config, hooks, NOW)
    assert len(hooks.posts) == 1 and len(first.sent) == 1
    body = hooks.posts[0].json()
    assert body["reasons"] == ["reply"] and body["thread"]["queue"] == "reply"
    assert body["thread"]["quote"]["author"] == "Sam" and "Furious" in body["thread"]["quote"]["text"]
    assert body["thread"]["negative_items"] == 2
    assert body["thread"]["priority"] >= 40

    cycle(config, hooks, NOW + dt.timedelta(minutes=15))
    assert len(hooks.posts) == 1  # the same thread, the same reason: no second push
    cycle(config, hooks, NOW + dt.timedelta(hours=5))  # past the 4h SLA: overdue is a new reason
    assert [p.json()["reasons"] for p in hooks.posts] == [["reply"], ["reply", "overdue"]]


def test_a_burst_of_negative_mentions_is_a_spike(tmp_path, feed_server, hooks):
    angry = [Entry(f"Quillfeather broke #{i}", ANGRY, link=f"https://blog.quill.example/a{i}/", guid=f"a{i}",
                   author=f"User {i}", published=NOW - dt.timedelta(minutes=10 * i)) for i in range(8)]
    feed_server.add("/blog.xml", rss(angry))
    config = load_config(Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path))
    pipeline.poll(config, force=True)
    db = store.open_db(config.database)
    try:
        [spike] = term_spikes(db, config, now=NOW + dt.timedelta(minutes=1), window=3 * 3600)
        assert spike.term == "quillfeather" and spike.negative == 8 and spike.count == 8
        assert term_spikes(db, config, now=NOW + dt.timedelta(hours=4), window=3 * 3600) == []
    finally:
        db.close()


def test_a_feed_that_starts_failing_alerts_when_feed_health_is_on(tmp_path, feed_server, hooks):
    feed_server.add("/blog.xml", rss([Entry("Hello", "Nothing about us", guid="h")]))
    config = load_config(Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}]).write(tmp_path))
    cycle(config, hooks, NOW)
    assert hooks.posts == []
    feed_server.script("/blog.xml", [500])
    for minutes in (15, 30, 45):
        cycle(config, hooks, NOW + dt.timedelta(minutes=minutes))
    bodies = [p.json() for p in hooks.posts]
    assert [(b["subject"], b["reasons"], b["feed"]["name"]) for b in bodies] == [("feed", ["failing"], "Blog")]
