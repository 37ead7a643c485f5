"""Issue 11's queues over synthetic threads: reply, moderate, thank, with reasons; the reply window;
the first-reply SLA in business hours; snooze and mute; the rank."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import NOW

from listener.models import BusinessHours
from listener.times import business_seconds, parse_opening, parse_weekdays
from listener.triage import TeamState, ThreadItem, TriageContext, rank, summarize_thread
from listener.triage.cues import spam_key

NEG, POS = -0.05, 0.05
_ids = iter(range(1, 10**9))
OFFICE = BusinessHours(frozenset(range(5)), dt.time(9), dt.time(17, 30), "Europe/London")


def at(hours_ago: float) -> dt.datetime:
    return NOW - dt.timedelta(hours=hours_ago)


def item(hours_ago: float, text: str, *, author: str = "Pat", compound: float | None = 0.0,
         sentiment: str | None = "neutral", staff: bool = False, hit: bool = True, root: bool = False,
         complaint: bool = False, **kw) -> ThreadItem:
    return ThreadItem(id=next(_ids), published=at(hours_ago), author=author, staff=staff, compound=compound,
                      sentiment=sentiment, complaint=complaint, text=text, hit=hit, root=root, thread_id="t", **kw)


def summarize(items, *, now=NOW, context=None, team=None, acks=()):
    return summarize_thread(items, list(acks), negative=NEG, positive=POS, now=now,
                            context=context or TriageContext(), team=team)


def test_a_question_to_us_that_vader_calls_neutral_needs_a_reply():
    summary = summarize([item(2, "Is there a way to get my deleted Quillfeather notes back")])
    assert summary.queues == ("reply",) and summary.needs_reply
    assert summary.reasons == ("question by Pat",) and not summary.complaint


def test_a_question_not_addressed_to_us_needs_nothing():
    assert summarize([item(2, "How do I make sourdough?", hit=False)]).queues == ()


def test_a_complaint_is_in_reply_and_ranks_above_a_question_of_higher_priority():
    question = summarize([item(30, "can you add dark mode?"), item(1, "please help, how do I sync?", author="Jo")])
    complaint = summarize([item(1, "sync lost my notes", compound=-0.4, sentiment="negative", complaint=True)])
    assert complaint.reasons == ("complaint by Pat",)
    assert question.priority > complaint.priority
    assert [s is complaint for s in rank([question, complaint])] == [True, False]


def test_abuse_between_members_goes_to_moderate_not_reply():
    thread = [item(5, "I like the new editor", author="Ana Kowal", compound=0.4, sentiment="positive"),
              item(4, "Ana you are an idiot, nobody asked you", author="Troll Guy", compound=-0.6,
                   sentiment="negative", hit=False)]
    summary = summarize(thread)
    assert "moderate" in summary.queues and "reply" not in summary.queues
    assert "abuse between members by Troll Guy" in summary.reasons


def test_abuse_aimed_at_us_stays_in_reply():
    summary = summarize([item(3, "Quillfeather devs you are morons", compound=-0.7, sentiment="negative")])
    assert summary.queues == ("reply",) and summary.reasons == ("abuse aimed at us by Pat",)


def test_link_stuffed_and_repeated_texts_are_spam():
    stuffed = summarize([item(1, "cheap pills http://a.example http://b.example http://c.example")])
    assert stuffed.queues == ("moderate",) and stuffed.reasons[0].startswith("spam: 3 links")
    text = "Earn 5000 a week from home with Quillfeather tricks, ask me how"
    repeated = summarize([item(1, text)], context=TriageContext(repeated=frozenset({spam_key(text)})))
    assert repeated.queues == ("moderate",) and "same text in several threads" in repeated.reasons[0]


def test_strong_praise_and_a_fan_who_defended_us_go_to_thank():
    fan = summarize([item(2, "Quillfeather is wonderful, I love it", compound=0.85, sentiment="positive")])
    assert fan.queues == ("thank",) and fan.reasons == ("fan: Pat (+0.85)",)
    mild = summarize([item(2, "Quillfeather is ok I guess, nice", compound=0.2, sentiment="positive")])
    assert mild.queues == ()
    defended = summarize([item(3, "sync broke again", compound=-0.5, sentiment="negative"),
                          item(2, "works fine for me, it is great", author="Fan", compound=0.3, sentiment="positive")])
    assert defended.queues == ("reply", "thank") and "defended us: Fan" in defended.reasons


def test_only_items_inside_the_reply_window_can_be_in_a_queue():
    old = summarize([item(24 * 15, "everything is broken", compound=-0.8, sentiment="negative")])
    assert old.queues == () and not old.needs_reply and old.negative_items == 1
    narrow = TriageContext(reply_window=dt.timedelta(days=1))
    assert summarize([item(30, "is there a way to export?")], context=narrow).queues == ()


def test_a_staff_reply_or_an_ack_empties_the_queues():
    question = item(3, "can you help me export?")
    assert summarize([question, item(2, "Sure, see the docs", staff=True)]).queues == ()
    assert summarize([question], acks=[at(1)]).queues == ()


def test_snooze_holds_until_its_time_or_a_new_item_and_mute_holds_for_good():
    question = item(3, "can you help me export?")
    snoozed = TeamState(snoozed_until=NOW + dt.timedelta(days=2), snoozed_covers=question.id)
    summary = summarize([question], team=snoozed)
    assert summary.queues == () and summary.status == "snoozed" and summary.snoozed_until == snoozed.snoozed_until
    assert summarize([question], team=snoozed, now=NOW + dt.timedelta(days=3)).queues == ("reply",)
    assert summarize([question, item(1, "hello? anyone?")], team=snoozed).queues == ("reply",)
    muted = summarize([question, item(1, "hello? anyone?")], team=TeamState(muted=True, owner="dana"))
    assert muted.queues == () and muted.muted and muted.status == "muted" and muted.owner == "dana"


def test_a_persons_mark_wins_and_is_listed_as_such():
    marked = item(2, "fine, whatever", sentiment="negative", complaint=True, marked=("complaint by dana",))
    summary = summarize([marked])
    assert "complaint by Pat" in summary.reasons and "marked complaint by dana (a person)" in summary.reasons
    not_abuse = item(2, "@ana you idiot, that was the joke", author="Ben", abuse=False, hit=False)
    assert summarize([item(3, "hi", author="Ana"), not_abuse]).queues == ()


def test_frequent_critics_get_a_badge():
    context = TriageContext(critics={"pat": 4})
    summary = summarize([item(1, "broken again", compound=-0.5, sentiment="negative")], context=context)
    assert "frequent critic: Pat (4 negative items in a week)" in summary.reasons


# --- the SLA in business hours --------------------------------------------------------------


def test_business_seconds_count_only_opening_hours_in_local_time():
    # NOW is Wednesday 25 November 2026 12:00 UTC = 12:00 in London (GMT).
    wednesday_morning = NOW.replace(hour=8)
    assert business_seconds(wednesday_morning, NOW, **_hours()) == 3 * 3600
    friday_evening = dt.datetime(2026, 11, 27, 17, 0, tzinfo=dt.timezone.utc)
    monday_ten = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.timezone.utc)
    assert business_seconds(friday_evening, monday_ten, **_hours()) == 30 * 60 + 3600
    # Summer time: 09:00 in London is 08:00 UTC.
    june = dt.datetime(2026, 6, 3, 7, 0, tzinfo=dt.timezone.utc)
    assert business_seconds(june, june.replace(hour=9), **_hours()) == 3600
    assert business_seconds(NOW, wednesday_morning, **_hours()) == 0


def _hours() -> dict:
    return dict(days=OFFICE.days, opens=OFFICE.opens, closes=OFFICE.closes, timezone=OFFICE.timezone)


def test_days_and_hours_parse_as_people_write_them():
    assert parse_weekdays("mon-fri") == frozenset(range(5))
    assert parse_weekdays("sat-mon") == frozenset({5, 6, 0}) and parse_weekdays("mon,wed") == frozenset({0, 2})
    assert parse_opening("09:00-17:30") == (dt.time(9), dt.time(17, 30))
    for bad in ("funday", "mon-fri-sat"):
        with pytest.raises(ValueError):
            parse_weekdays(bad)
    with pytest.raises(ValueError):
        parse_opening("9-5")


def test_a_thread_past_its_sla_in_business_time_is_overdue_and_ranks_first():
    sla = TriageContext(sla=dt.timedelta(hours=4), hours=OFFICE)
    # Asked Friday 16:00; on Monday 11:00 it has waited 1.5 + 2 = 3.5 business hours: not yet overdue.
    friday = dt.datetime(2026, 11, 27, 16, 0, tzinfo=dt.timezone.utc)
    asked = ThreadItem(id=next(_ids), published=friday, author="Pat", sentiment="neutral", compound=0.0,
                       text="how do I restore a backup?", hit=True)
    monday = dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.timezone.utc)
    assert not summarize([asked], now=monday, context=sla).overdue
    late = summarize([asked], now=monday + dt.timedelta(hours=1), context=sla)
    assert late.overdue and late.reasons[0].startswith("overdue: waited 4h 30m of business time")
    angry = summarize([ThreadItem(id=next(_ids), published=monday, author="Jo", sentiment="negative", compound=-0.9,
                                  complaint=True, text="lost everything", hit=True)],
                      now=monday + dt.timedelta(hours=1), context=sla)
    assert angry.priority > late.priority and rank([angry, late])[0] is late
