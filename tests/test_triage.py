"""Reply triage over synthetic thread rows: needs-reply exactly as SPEC says, priority and its reasons."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest
from conftest import NOW
from hypothesis import given, settings
from hypothesis import strategies as st

from listener.text import human_duration
from listener.triage import (
    Ack,
    ThreadItem,
    conversation,
    is_staff,
    rank,
    staff_set,
    summarize_thread,
)

NEG = -0.05
POS = 0.05


def at(hours_ago: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours_ago)


_ids = iter(range(1, 10**9))


def item(hours_ago: float, compound: float | None, *, author: str = "Pat", staff: bool = False,
         arrived_hours_ago: float | None = None, text: str = "", thread: str = "t1") -> ThreadItem:
    return ThreadItem(id=next(_ids), published=at(hours_ago), author=author, staff=staff, compound=compound,
                      title=f"comment by {author}", text=text or f"{author} says something",
                      url=f"https://blog.example/post/#c{hours_ago}",
                      arrived=at(arrived_hours_ago) if arrived_hours_ago is not None else None, thread_id=thread)


def summarize(items, acks=(), **kwargs):
    return summarize_thread(items, list(acks), negative=NEG, positive=POS, now=NOW, **kwargs)


POST = dict(hours_ago=48, compound=0.4, author="Dana Reyes", staff=True)


# --- needs reply ------------------------------------------------------------------------------


def test_a_negative_comment_nobody_answered_needs_a_reply():
    complaint = item(5, -0.7)
    summary = summarize([item(**POST), complaint])
    assert summary.needs_reply and summary.status == "needs_reply"
    assert summary.oldest_unanswered_negative == complaint.published
    assert summary.waiting_seconds == 5 * 3600
    assert summary.unanswered["id"] == complaint.id and summary.unanswered["compound"] == -0.7
    assert summary.negative_items == 1 and summary.items == 2


def test_a_staff_reply_after_the_negative_answers_it():
    summary = summarize([item(**POST), item(5, -0.7), item(4, 0.3, author="Acme Support", staff=True)])
    assert not summary.needs_reply
    assert summary.status == "answered" and summary.staff_replied
    assert summary.priority == 0 and set(summary.why.values()) == {0.0}
    assert summary.oldest_unanswered_negative is None and summary.waiting_seconds is None


def test_a_staff_reply_before_the_negative_does_not_answer_it():
    summary = summarize([item(10, -0.2), item(6, 0.3, author="Acme Support", staff=True), item(5, -0.6)])
    assert summary.needs_reply and summary.staff_replied
    # The first complaint was answered; only the later one waits.
    assert summary.oldest_unanswered_negative == at(5)
    assert summary.negative_items == 2


def test_a_staff_reply_at_the_same_moment_is_not_newer():
    summary = summarize([item(5, -0.6), item(5, 0.4, author="Acme Support", staff=True)])
    assert summary.needs_reply


def test_a_post_by_staff_is_no_staff_reply():
    post = ThreadItem(id=next(_ids), published=at(48), author="Dana Reyes", staff=True, compound=0.4, root=True)
    summary = summarize([post, item(5, -0.7)])
    assert not summary.staff_replied and summary.needs_reply
    assert summarize([post, item(5, -0.7), item(4, 0.2, author="Dana Reyes", staff=True)]).staff_replied


def test_negative_staff_items_never_need_a_reply():
    summary = summarize([item(5, -0.9, author="Dana Reyes", staff=True)])
    assert not summary.needs_reply and summary.status == "quiet" and summary.negative_items == 0


def test_an_ack_closes_the_thread():
    summary = summarize([item(48, 0.4), item(5, -0.7)], acks=[at(1)])
    assert not summary.needs_reply and summary.status == "acked"
    assert summary.acked_at == at(1) and not summary.staff_replied


def test_a_newer_negative_item_after_the_ack_reopens_it():
    first, later = item(5, -0.7), item(0.5, -0.3)
    summary = summarize([item(**POST), first, later], acks=[at(1)])
    assert summary.needs_reply and summary.status == "needs_reply"
    assert summary.oldest_unanswered_negative == later.published  # the acked one no longer counts
    assert summary.unanswered["id"] == later.id


def test_a_newer_positive_item_after_the_ack_does_not_reopen_it():
    summary = summarize([item(5, -0.7), item(0.5, 0.6)], acks=[at(1)])
    assert not summary.needs_reply and summary.status == "acked"


def test_an_ack_covers_what_had_arrived_not_what_was_dated_before_it():
    # Published before the ack, but we only fetched it afterwards: nobody had read it when acking.
    late = item(3, -0.5, arrived_hours_ago=0.5)
    assert summarize([item(5, -0.7), late], acks=[at(1)]).needs_reply
    on_time = item(3, -0.5, arrived_hours_ago=2)
    assert not summarize([item(5, -0.7), on_time], acks=[at(1)]).needs_reply


def test_a_comment_stored_in_the_same_second_as_the_ack_but_after_it_reopens():
    # Timestamps are stored to the second; the ack remembers the newest item id it has seen.
    seen = item(3, -0.5, arrived_hours_ago=1)
    after = item(2, -0.6, arrived_hours_ago=1)
    ack = (at(1), seen.id)
    assert summarize([seen], acks=[ack]).status == "acked"
    reopened = summarize([seen, after], acks=[ack])
    assert reopened.needs_reply and reopened.unanswered["id"] == after.id


def test_the_latest_ack_counts():
    summary = summarize([item(5, -0.7), item(2, -0.4)], acks=[at(6), at(1)])
    assert not summary.needs_reply


@pytest.mark.parametrize("compound, negative", [(NEG, True), (NEG - 1e-9, True), (NEG + 1e-4, False), (None, False)])
def test_the_negative_threshold_is_inclusive(compound, negative):
    summary = summarize([item(2, compound)])
    assert summary.needs_reply is negative
    assert summary.negative_items == int(negative)
    assert summary.status == ("needs_reply" if negative else "quiet")


# --- fan defence and heating up ---------------------------------------------------------------


def test_a_fan_defending_is_flagged_but_the_thread_still_needs_a_reply():
    summary = summarize([item(5, -0.7, author="Pat"), item(4, 0.8, author="Sam")])
    assert summary.defended and summary.needs_reply and summary.status == "needs_reply"


def test_the_complainer_cheering_up_is_not_a_defence():
    assert not summarize([item(5, -0.7, author="Pat"), item(4, 0.8, author=" pat ")]).defended


def test_praise_before_the_complaint_or_from_staff_is_not_a_defence():
    assert not summarize([item(6, 0.8, author="Sam"), item(5, -0.7)]).defended
    assert not summarize([item(5, -0.7), item(4, POS - 0.01, author="Sam")]).defended  # not positive enough
    answered = summarize([item(5, -0.7), item(4, 0.8, author="Sam"), item(3, 0.5, author="Dana", staff=True)])
    assert not answered.defended and not answered.needs_reply


def test_heating_up_when_the_later_half_is_clearly_more_negative():
    calm_then_angry = [item(30, 0.5), item(20, 0.2), item(10, -0.4), item(2, -0.6)]
    assert summarize(calm_then_angry).heating_up


@pytest.mark.parametrize("items", [
    [item(30, 0.5), item(20, 0.2), item(2, -0.6)],  # too few to tell
    [item(30, -0.5), item(20, -0.4), item(10, -0.5), item(2, -0.6)],  # always angry: not heating *up*
    [item(30, 0.5), item(20, 0.6), item(10, 0.1), item(2, 0.2)],  # cooler, but not negative
    [item(300, 0.5), item(200, 0.2), item(100, -0.4), item(60, -0.6)],  # heated, but days ago
])
def test_not_heating_up(items):
    assert not summarize(items).heating_up


def test_staff_items_do_not_count_for_heating_up():
    # Counted, the two negative staff items would make the later half [0.3, -0.8, -0.8] heat up.
    items = [item(30, 0.5), item(25, 0.4), item(20, 0.3), item(10, 0.3),
             item(3, -0.8, author="Dana", staff=True), item(2, -0.8, author="Dana", staff=True)]
    assert not summarize(items).heating_up
    unstaffed = [ThreadItem(i.id, i.published, "Dana", False, i.compound) for i in items]
    assert summarize(unstaffed).heating_up


# --- priority ---------------------------------------------------------------------------------


def test_priority_is_the_documented_formula():
    # One comment at -0.8, 12 hours old, the only item in the last 24 hours.
    summary = summarize([item(**POST), item(12, -0.8)])
    expected = {
        "how_negative": 40 * 0.8,
        "how_many": 20 * (1 - 0.5 ** 1),
        "how_fast": 20 * 1 / (1 + 5),
        "how_long": 20 * (1 - 0.5 ** (12 / 12)),
    }
    assert summary.why == pytest.approx({k: round(v, 1) for k, v in expected.items()})
    assert summary.priority == pytest.approx(round(sum(round(v, 1) for v in expected.values()), 1))
    assert summary.priority == pytest.approx(55.3)


def test_priority_counts_only_unanswered_negatives():
    answered_then_new = summarize([item(20, -0.9), item(19, 0.3, author="Dana", staff=True), item(1, -0.2)])
    assert answered_then_new.why["how_negative"] == pytest.approx(40 * 0.2)
    two = summarize([item(3, -0.5), item(1, -0.5)])
    assert two.why["how_negative"] == pytest.approx(40 * (1 - 0.5 * 0.5))  # a saturating sum
    assert two.why["how_many"] == pytest.approx(20 * (1 - 0.5 ** 2))
    assert answered_then_new.why["how_many"] == pytest.approx(10.0)


def test_priority_order_with_reasons():
    angry = summarize([item(2, -0.95, author="A")], thread_id="angry")
    pileup = summarize([item(3, -0.3, author="B"), item(2.5, -0.3, author="C"), item(2, -0.3, author="D"),
                        item(1.5, -0.3, author="E")], thread_id="pileup")
    stale = summarize([item(72, -0.3, author="F")], thread_id="stale")
    mild_fresh = summarize([item(0.2, -0.1, author="G")], thread_id="mild")
    answered = summarize([item(3, -0.99), item(2, 0.5, author="Dana", staff=True)], thread_id="answered")
    ranked = rank([stale, answered, mild_fresh, angry, pileup])
    assert [s.id for s in ranked] == ["pileup", "angry", "stale", "mild", "answered"]
    # ... and each one's reasons say why.
    assert max(ranked, key=lambda s: s.why["how_negative"]).id == "angry"
    assert max(ranked, key=lambda s: s.why["how_many"]).id == "pileup"
    assert max(ranked, key=lambda s: s.why["how_fast"]).id == "pileup"
    assert max(ranked, key=lambda s: s.why["how_long"]).id == "stale"
    for summary in ranked:
        assert summary.priority == pytest.approx(sum(summary.why.values()), abs=0.051)


def test_threads_that_need_no_reply_rank_by_last_activity():
    older = summarize([item(30, 0.2)], thread_id="older")
    newer = summarize([item(3, 0.2)], thread_id="newer")
    assert [s.id for s in rank([older, newer])] == ["newer", "older"]


@settings(max_examples=60, deadline=None)
@given(compound=st.floats(-1, NEG), hours=st.floats(0, 24 * 6), later=st.floats(0.01, 24 * 7))  # inside the 14-day reply window
def test_priority_grows_with_waiting_and_stays_within_100(compound, hours, later):
    now_summary = summarize([item(hours, compound)])
    later_summary = summarize_thread([item(hours, compound)], [], negative=NEG, positive=POS,
                                     now=NOW + dt.timedelta(hours=later))
    assert 0 < now_summary.priority <= 100 and 0 < later_summary.priority <= 100
    # how_fast may drop as the item leaves the 24 h window; how_long never shrinks.
    assert later_summary.why["how_long"] >= now_summary.why["how_long"]
    assert later_summary.why["how_long"] <= 20


# --- what a person reads ----------------------------------------------------------------------


def test_the_unanswered_quote_is_at_most_500_characters():
    summary = summarize([item(2, -0.5, text="awful " * 400)])
    assert len(summary.unanswered["text"]) <= 500 and summary.unanswered["text"].endswith("…")


def test_json_has_the_spec_fields_in_utc():
    summary = summarize([item(**POST), item(5, -0.7)], thread_id="t1", title="Post", url="https://blog.example/post/",
                        feed="Acme blog")
    data = summary.as_json()
    for name in ("id", "title", "url", "feed", "items", "negative_items", "last_activity",
                 "oldest_unanswered_negative", "staff_replied", "needs_reply", "priority", "status",
                 "why", "heating_up", "defended", "waiting"):
        assert name in data
    assert data["oldest_unanswered_negative"] == "2026-11-25T07:00:00Z"
    assert data["last_activity"] == "2026-11-25T07:00:00Z"
    assert data["waiting"] == "5h" and data["unanswered"]["published"] == "2026-11-25T07:00:00Z"
    assert data["staff_replied"] is True  # the post is by staff


@pytest.mark.parametrize("seconds, text", [(30, "<1m"), (300, "5m"), (3600 * 5 + 600, "5h 10m"),
                                           (86400 * 2 + 3600 * 4, "2d 4h"), (86400, "1d"), (None, None)])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


@pytest.mark.parametrize("author, staff", [
    ("Dana Reyes", True), ("  dana   REYES ", True), ("Dana Reyes <dana@acme.example>", True),
    ("dana@acme.example (Dana Reyes)", True), ("Dana Reyes-Smith", False), (None, False), ("", False),
])
def test_staff_names_compare_folded_and_trimmed(author, staff):
    assert is_staff(author, staff_set(["Dana Reyes", "Acme Support"])) is staff


def test_the_conversation_marks_staff_acks_and_what_waits():
    post, complaint, reply, second = item(**POST), item(5, -0.7), item(4, 0.5, author="Acme Support", staff=True), \
        item(1, -0.4, author="Kim")
    items = [second, reply, post, complaint]
    summary = summarize(items, acks=[at(2)])
    rows = conversation(items, [Ack(at(2), "sam", "called Pat")], summary, negative=NEG, positive=POS)
    assert [r["kind"] for r in rows] == ["item", "item", "item", "ack", "item"]
    assert [r["id"] for r in rows if r["kind"] == "item"] == [post.id, complaint.id, reply.id, second.id]
    assert [r["unanswered"] for r in rows] == [False, False, False, False, True]
    assert rows[2]["staff"] and rows[3]["author"] == "sam" and "called Pat" in rows[3]["title"]
    assert [r["mood"] for r in rows if r["kind"] == "item"] == ["positive", "negative", "positive", "negative"]
    assert math.isclose(rows[1]["compound"], -0.7)


def test_the_transcript_puts_a_comment_stored_after_the_ack_after_it_within_the_same_second():
    seen = item(3, -0.5, arrived_hours_ago=1)
    after = item(3, -0.6, arrived_hours_ago=1)
    same_second = seen.published
    later = dataclasses.replace(after, published=same_second)
    acks = [Ack(same_second, "sam", None, covers=seen.id)]
    summary = summarize([seen, later], acks=[a.mark for a in acks])
    rows = conversation([seen, later], acks, summary, negative=NEG, positive=POS)
    assert [row["kind"] for row in rows] == ["item", "ack", "item"]
    assert rows[2]["id"] == later.id and rows[2]["unanswered"]
