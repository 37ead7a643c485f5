"""Sentiment: exact VADER for a short text, one vote per sentence for longer texts, bounded cost."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from listener import sentiment
from listener import vader as fast_vader
from listener.models import Sentiment
from listener.sentiment import (
    MAX_SENTENCES,
    NEUTRAL,
    SHORT_MAX_CHARS,
    SHORT_MAX_SENTENCES,
    reference_score,
    score,
    scoring_text,
    split_sentences,
)
from listener.text import is_boilerplate_title

VADER = SentimentIntensityAnalyzer()


def vader(text: str) -> Sentiment:
    s = VADER.polarity_scores(text)
    return Sentiment(compound=s["compound"], pos=s["pos"], neu=s["neu"], neg=s["neg"])


def mean_of(sentences: list[str]) -> Sentiment:
    scores = [VADER.polarity_scores(s) for s in sentences]
    return Sentiment(*(round(sum(s[k] for s in scores) / len(scores), 4 if k == "compound" else 3)
                       for k in ("compound", "pos", "neu", "neg")), sentences=len(scores))


@pytest.mark.parametrize("text", [
    "Quillfeather Notes is great",
    "The sync outage wiped two weeks of my notes and nobody has answered!!!",
    "I do NOT like the new pricing at all :(",
    "Is this the WORST update ever?? 😡😡",
    "Not bad, but the export is kind of slow...",
    "Love it! :)",
    "   leading and trailing space, no full stop   ",
    "Version 4.2 shipped today, see quillfeather.example/changelog for details.",
    "Thanks to Dr. Okafor, e.g. for the quick fix.",
    "the new editor is the bomb and the sync is to die for, yeah right",  # idioms beside lexicon words
    "I don't know the plan but the export is good",  # "n't" further back than VADER looks
    "it isn't good and the app is not great",
])
def test_one_sentence_gets_exactly_vaders_scores(text):
    assert len(split_sentences(text)) == 1
    assert score(text) == vader(text)


@pytest.mark.parametrize("text", [
    "The sync outage wiped my notes. I am furious!!! Thanks for the refund though :)",
    "@acme help!! 3 weeks and no reply. Please fix.",
    "Ugh. Delayed again. Three hours. Thanks a lot.",
    "Great launch! Love the new editor :)",
])
def test_a_short_text_gets_exactly_vaders_scores_whole(text):
    assert 1 < len(split_sentences(text)) <= SHORT_MAX_SENTENCES and len(text) <= SHORT_MAX_CHARS
    assert score(text) == vader(text)


def test_a_long_text_gets_the_mean_of_its_sentences():
    sentences = ["The sync outage wiped my notes.", "I am furious!!!", "Support answered within the hour.",
                 "Still, two days of work are gone.", "Thanks for the refund though :)"]
    text = " ".join(sentences)
    assert split_sentences(text) == sentences
    assert score(text) == mean_of(sentences)
    assert score(text) != vader(text)  # the whole text in one go scores differently


def test_a_few_sentences_over_the_length_cut_are_scored_by_sentence():
    sentences = ["The sync outage on Tuesday wiped every single note I had written for the last two weeks "
                 "of term, including the lecture notes for three exams and a group project we share with "
                 "four other students from the evening course.",
                 "I am furious!!!",
                 "Thanks for the refund though, it arrived quickly and the support person was kind about it :)"]
    text = " ".join(sentences)
    assert len(split_sentences(text)) <= SHORT_MAX_SENTENCES and len(text) > SHORT_MAX_CHARS
    assert score(text) == mean_of(split_sentences(text))


def test_an_angry_comment_with_one_thanks_stays_negative():
    angry = [
        "Thanks for the update.",
        "The sync outage wiped two weeks of my notes.",
        "This is completely unacceptable.",
        "I lost my lecture notes before an exam.",
        "I am furious.",
        "Worst week with this app ever.",
        "Your status page lied to us.",
        "I feel cheated.",
        "Terrible communication, terrible product.",
        "I hate that I trusted you with my work.",
    ]
    result = score(" ".join(angry))
    assert VADER.polarity_scores(angry[0])["compound"] > 0.3  # the thanks really is positive
    assert result.compound < -0.3
    assert result.neg > result.pos


def test_one_swear_in_a_long_neutral_post_does_not_make_it_negative():
    neutral = [
        "Today we shipped version 4.2 of the desktop app.",
        "It includes a new sidebar layout.",
        "Tags can now be nested three levels deep.",
        "Export to Markdown now includes images.",
        "The Windows installer is smaller.",
        "Linux builds are available as a Flatpak.",
        "Keyboard shortcuts are listed in the menu.",
        "The full changelog is on our site.",
        "Updates roll out over the next week.",
        "Mobile apps follow on Monday.",
        "Old versions keep working until March.",
        "Your data format has not changed.",
    ]
    swear = "We finally fixed that damn scrolling bug on tablets."
    assert all(VADER.polarity_scores(s)["compound"] == 0 for s in neutral)
    assert VADER.polarity_scores(swear)["compound"] <= -0.4
    post = " ".join(neutral[:6] + [swear] + neutral[6:])
    result = score(post)
    assert -0.05 < result.compound < 0  # nudged, not negative (thresholds.negative default)
    assert vader(post).compound <= -0.4  # VADER on the whole text would call the post negative
    assert result.neu > 0.9


def test_order_of_sentences_does_not_matter_in_a_long_text():
    sentences = ["Great launch!", "The sync is broken again.", "Support was quick though.", "Meh.", "Fine."]
    scores = {score(" ".join(p)) for p in itertools.permutations(sentences)}
    assert len(scores) == 1


def test_repeating_a_sentence_changes_nothing():
    assert score("I love this app! " * 5).compound == vader("I love this app!").compound


def test_mean_lies_between_its_sentences():
    sentences = ["I love the new editor!", "Sync lost my notes.", "It is Tuesday.", "Hm.", "Ok."]
    compounds = [VADER.polarity_scores(s)["compound"] for s in sentences]
    assert min(compounds) < score(" ".join(sentences)).compound < max(compounds)


def test_only_the_first_sentences_are_scored():
    happy = ["I love it!"] * MAX_SENTENCES
    text = " ".join(happy + ["This is awful."] * 100)
    assert score(text) == vader("I love it!")._replace(sentences=MAX_SENTENCES)


def test_a_huge_text_costs_little():
    bombs = ["😂" * 10_000, "bad " * 20_000, "Terrible! " * 5_000, "!" * 50_000 + "x", "no " * 10_000]
    started = time.perf_counter()
    results = [score(text) for text in bombs]
    assert time.perf_counter() - started < 3  # VADER alone takes minutes on the first one
    assert all(-1 <= r.compound <= 1 for r in results)


@pytest.mark.parametrize("text", ["", "   ", "\n\n"])
def test_nothing_to_score_is_neutral(text):
    assert score(text) == NEUTRAL


def test_one_analyzer_per_process(monkeypatch):
    made = []

    class Counting(SentimentIntensityAnalyzer):
        def __init__(self) -> None:
            made.append(self)
            super().__init__()

    monkeypatch.setattr(fast_vader, "SentimentIntensityAnalyzer", Counting)
    fast_vader.analyzer.cache_clear()
    try:
        assert made == []  # lazily: nothing is built until the first score
        for text in ("Good.", "Bad. Worse.", "Fine"):
            score(text)
        assert len(made) == 1 and sentiment.analyzer() is made[0]
    finally:
        fast_vader.analyzer.cache_clear()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(
    list("abcdefghij .!?,:;()'’\n😂😡👍❤🏻")
    + ["good", "bad", "not", "but", "love", "hate", "no", "very", "LOL", ":)", ":(", "e.g."]
), max_size=80).map("".join) | st.text(max_size=200))
def test_scores_are_always_in_range(text):
    result = score(text)
    assert -1 <= result.compound <= 1
    assert all(0 <= part <= 1 for part in (result.pos, result.neu, result.neg))
    assert abs(result.pos + result.neu + result.neg - 1) <= 0.005


# --- sentences ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
    ("Down again!!! :( Fix it", ["Down again!!! :(", "Fix it"]),
    ("Love it! 😍😍 Next", ["Love it! 😍😍", "Next"]),
    ("Wait... What?! No!", ["Wait...", "What?!", "No!"]),
    ("It costs $3.50 now. Version 4.2 is out.", ["It costs $3.50 now.", "Version 4.2 is out."]),
    ("Ask Dr. Okafor, e.g. on the forum. Or not.", ["Ask Dr. Okafor, e.g. on the forum.", "Or not."]),
    ("U.S. users first. Then the rest.", ["U.S. users first.", "Then the rest."]),
    ("see quillfeather.example. Then log in", ["see quillfeather.example.", "Then log in"]),
    ('He said "never again." Then he left.', ['He said "never again."', "Then he left."]),
    ("it broke. again. lol", ["it broke. again. lol"]),
    ("Lost everything. !!!", ["Lost everything. !!!"]),
    ("First paragraph\n\nSecond paragraph", ["First paragraph", "Second paragraph"]),
    ("", []),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


# --- what gets scored ---------------------------------------------------------------------

@pytest.mark.parametrize(("title", "boilerplate"), [
    ("By: Priya Okafor", True),
    ("by:  Sam", True),
    ("Comment on Sync outage: what happened by Sam Lee", True),
    ("New comment on Pricing changes", True),
    ("Re: Sync outage", True),
    ("RE[2]: Sync outage", True),
    ("Reply to Priya Okafor", True),
    ("In reply to: the pricing post", True),
    ("Response to the pricing post", True),
    ("Dana Reyes commented on Sync outage", True),
    ("quillfan99 commented on Sync outage", True),
    ("Sync outage: what happened", False),
    ("By the way, sync is broken", False),
    ("Comment on pricing", False),
    ("Regarding the outage", False),
    ("Responsive layout is broken", False),
    ("Nobody has replied to my ticket in 3 days", False),
    ("Nobody has commented on my bug", False),
    ("", False),
])
def test_boilerplate_titles(title, boilerplate):
    assert is_boilerplate_title(title) is boilerplate


@pytest.mark.parametrize(("title", "content", "expected"), [
    ("By: Sam Lee", "Lost my notes.", "Lost my notes."),
    ("Re: Worst outage ever", "Mine came back fine.", "Mine came back fine."),
    ("Sync broke", "Lost everything.", "Sync broke. Lost everything."),
    ("Why?!", "Because.", "Why?! Because."),
    ("Sync lost my notes…", "Sync lost my notes on Tuesday.", "Sync lost my notes on Tuesday."),
    ("  Spaced \n title ", "", "Spaced title"),
    ("", "  body  ", "body"),
])
def test_scoring_text(title, content, expected):
    assert scoring_text(title, content) == expected


def test_boilerplate_title_does_not_colour_the_score():
    body = "Mine synced fine after the update."
    assert score(scoring_text("Re: Worst outage ever, I hate this", body)) == vader(body)


# --- VADER's numbers, faster --------------------------------------------------------------

_DATA = Path(os.environ.get("LISTENER_SENTIMENT_DATA", Path(__file__).resolve().parents[2] / "shared" / "sentiment-data"))


def _development_texts() -> list[str]:
    from bench.verdict_snapshot import development_texts

    return development_texts(_DATA)


@pytest.mark.parametrize("text", [
    "Good.", "One. Two. Three. Four.", "One. Two. Three. Four. Five.", "e.g. this. and that... ok! Really?",
    "Great!!! :) Love it 😂😂", "Bad.\n\nWorse.", "a " * 151, "😂 " * 60, "", "  \n ", "x" * 400 + ". Bad.",
])
def test_score_is_vaders_own_polarity_scores_through_the_same_cut(text):
    assert score(text) == reference_score(text)


@pytest.mark.skipif(not (_DATA / "semeval2017-task4a").is_dir(), reason=f"no development data at {_DATA}")
@pytest.mark.timeout(300)
def test_score_is_vaders_own_on_every_development_text():
    """The fast polarity and the short-text shortcut give vaderSentiment's numbers exactly, on each
    text alone and on two texts joined as a title and content (longer, several sentences)."""
    texts = _development_texts()
    for text in texts:
        assert score(text) == reference_score(text), text
    for a, b in zip(texts[::7], texts[3::7]):
        joined = scoring_text(a, b)
        assert score(joined) == reference_score(joined), joined
