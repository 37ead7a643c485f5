"""Issue 11 end to end: the three queues, the reply window on a first poll of an old archive, the SLA,
and the team's actions (snooze, assign, mute, mark, ack twice), through the CLI as a subprocess with a
real SQLite file and a forum served over 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import subprocess

import pytest
from conftest import run_cli, wall_now
from feedgen import Entry, Watchlist, atom

STARTED = wall_now()  # the CLI runs as a subprocess: the wall clock is the one clock both read
FORUM = "https://forum.quill.example"


def ago(hours: float) -> dt.datetime:
    return STARTED - dt.timedelta(hours=hours)


def listener(config: str, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, config=config, env={"USER": "sam"}, columns=200)


def as_json(config: str, *args: str) -> list[dict]:
    result = listener(config, *args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def post(n: int, title: str, body: str, author: str, hours: float, parent: int | None = None) -> Entry:
    reply = (f"urn:f:{parent}", f"{FORUM}/t/{parent}") if parent else None
    return Entry(title if not parent else f"Re: {title}", body, link=f"{FORUM}/t/{parent or n}" + (f"#p{n}" if parent else ""),
                 guid=f"urn:f:{n}", author=author, published=ago(hours), in_reply_to=reply)


def forum(complaint_text: str = "Quillfeather sync lost my whole chapter again. Awful, I want a refund.",
          extra: tuple[Entry, ...] = ()) -> str:
    return atom([
        post(1, "Deleted notes", "Is there a way to get my deleted Quillfeather notes back", "Ana Kowal", 72),
        post(2, "Editor", "The new Quillfeather editor shipped today.", "Bo", 30),
        post(3, "Editor", "Bo you are an idiot, nobody asked you", "Troll", 29, parent=2),
        post(4, "Love it", "Quillfeather is wonderful, the best notes app I have ever used. Thank you!", "Cy", 20),
        # an hour old: inside the 4-hour SLA at any time of day (10 hours held over 4 business hours from 13:00 UTC on)
        post(5, "Sync", complaint_text, "Dee", 1),
        post(6, "Old rant", "Quillfeather crashed and lost everything. Terrible, awful, useless.", "Eve", 24 * 60),
        *extra,
    ], title="Quillfeather forum")


@pytest.fixture
def site(tmp_path, feed_server):
    feed_server.add("/forum.atom", forum())
    config = Watchlist(feeds=[{"name": "Forum", "url": feed_server.url("/forum.atom")}],
                       extra="triage: {reply_window: 14d, first_reply_within: 4h,"
                             ' business_hours: {days: mon-fri, hours: "09:00-17:30"}}\n').write(tmp_path)
    return config, feed_server, tmp_path / "listener.db"


def by_title(threads: list[dict]) -> dict[str, dict]:
    return {t["title"]: t for t in threads}


def test_each_queue_the_window_and_the_team_actions(site):
    config, server, db_path = site
    assert listener(config, "poll").returncode == 0
    everything = by_title(as_json(config, "threads"))
    assert {"queues", "reasons", "overdue", "owner", "snoozed_until", "muted"} <= set(everything["Sync"])

    reply = by_title(as_json(config, "threads", "--queue", "reply"))
    assert set(reply) == {"Deleted notes", "Sync"}
    assert reply["Deleted notes"]["reasons"][0].startswith("overdue: waited")  # 3 days hold a whole working day
    assert "question by Ana Kowal" in reply["Deleted notes"]["reasons"]
    assert "complaint by Dee" in reply["Sync"]["reasons"]
    assert list(reply) == ["Deleted notes", "Sync"]  # overdue first
    assert [t["title"] for t in as_json(config, "threads", "--needs-reply")] == list(reply)
    moderate = by_title(as_json(config, "threads", "--queue", "moderate"))
    assert set(moderate) == {"Editor"} and "abuse between members by Troll" in moderate["Editor"]["reasons"]
    thank = by_title(as_json(config, "threads", "--queue", "thank"))
    assert set(thank) == {"Love it"} and thank["Love it"]["reasons"][0].startswith("fan: Cy")

    # The reply window: the 60-day-old rant came with the first poll; it is history, in no queue, and the
    # mood counts it on the day it was published.
    old = everything["Old rant"]
    assert old["queues"] == [] and not old["needs_reply"] and old["negative_items"] == 1
    import sqlite3
    with sqlite3.connect(db_path) as db:
        heard, published, first_seen = db.execute(
            "SELECT heard_at, published, first_seen FROM items WHERE key = 'urn:f:6'").fetchone()
        assert heard == published != first_seen
        assert db.execute("SELECT count(*) FROM items WHERE heard_at = first_seen").fetchone()[0] == 5

    ids = {title: t["id"] for title, t in everything.items()}
    # snooze: out of the queue until a new item arrives
    snoozed = listener(config, "snooze", ids["Deleted notes"], "--for", "2d")
    assert snoozed.returncode == 0 and "snoozed for 2d" in snoozed.stdout
    assert set(by_title(as_json(config, "threads", "--queue", "reply"))) == {"Sync"}
    # assign and --owner
    assert listener(config, "assign", ids["Sync"], "dana").returncode == 0
    assert [t["title"] for t in as_json(config, "threads", "--owner", "Dana")] == ["Sync"]
    assert as_json(config, "threads", "--owner", "nobody") == []
    # mute
    assert listener(config, "mute", ids["Editor"]).returncode == 0
    assert as_json(config, "threads", "--queue", "moderate") == []
    # mark: a person says Dee's message is no complaint; it leaves the reply queue and says why
    detail = as_json(config, "thread", ids["Sync"])
    dee = next(row for row in detail if row["author"] == "Dee")
    marked = listener(config, "mark", str(dee["id"]), "--neutral", "--not-complaint")
    assert marked.returncode == 0 and "marked neutral, not complaint by sam" in marked.stdout
    assert as_json(config, "threads", "--queue", "reply") == []
    shown = listener(config, "thread", ids["Sync"])
    assert "neutral by sam" in shown.stdout and "not complaint by sam" in shown.stdout and "[marked " in shown.stdout
    assert "assigned to dana" in shown.stdout
    assert "queues: none" in shown.stdout
    assert "muted" in listener(config, "thread", ids["Editor"]).stdout

    # ack twice: the second says so
    first = listener(config, "ack", ids["Love it"])
    assert first.returncode == 0 and first.stdout.startswith("acked")
    again = listener(config, "ack", ids["Love it"])
    assert again.returncode == 0 and "already acked" in again.stdout

    # A new item ends the snooze; Dee's edited message is scored again and the mark still wins.
    server.add("/forum.atom", forum("Quillfeather sync lost my whole chapter again. Awful, useless, I want a refund!!",
                                    extra=(post(7, "Deleted notes", "Same question here, can you help?", "Fay", 1,
                                                parent=1),)))
    assert listener(config, "poll", "--all").returncode == 0
    reply = by_title(as_json(config, "threads", "--queue", "reply"))
    assert set(reply) == {"Deleted notes"} and reply["Deleted notes"]["snoozed_until"] is None
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT complaint FROM items WHERE id = ?", [dee["id"]]).fetchone()[0] == 1  # the scorer's
    assert "Sync" not in reply


def test_bad_team_commands_are_usage_errors(site):
    config, _, _ = site
    assert listener(config, "poll").returncode == 0
    some = as_json(config, "threads")[0]["id"]
    assert listener(config, "mark", "999999", "--negative").returncode != 0
    assert listener(config, "mark", "1", "--negative", "--positive").returncode == 2
    assert listener(config, "mark", "1").returncode == 2
    assert listener(config, "snooze", some, "--for", "soon").returncode == 2
    assert listener(config, "assign", some).returncode == 2
    assert listener(config, "threads", "--queue", "thank", "--needs-reply").returncode == 2
