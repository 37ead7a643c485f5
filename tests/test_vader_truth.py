"""bench.vader_truth's parts: the feed round-trips each text, the real poll reads back VADER's numbers, the measures.

The ground-truth sets themselves are not in the repository (they ship in vaderSentiment's sdist);
these tests use texts written here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the bench package lives beside listener

from bench import vader_truth  # noqa: E402
from bench.servers import serve  # noqa: E402
from listener.parse import parse_feed  # noqa: E402
from listener.sentiment import score  # noqa: E402

TEXTS = [
    "We were 17 deep last night &amp; the love was so strong everybody felt it.",  # an entity, as the tweets have it
    "I <3 this phone :) but not the case >:(",
    'He said "great" & she said \'awful\'; 5 > 3 and 2 < 4.',
    "Cut the mustard? no way!!! 😂😂 ]]>",
    "Fear is the path to the dark side. Fear leads to anger. Anger leads to hate. Hate leads to suffering.",
    "&lt;script&gt;alert(1)&lt;/script&gt; was in the review, and the product is bad",
    "Tab\tand two  spaces",  # whitespace folds to single spaces (VADER splits on whitespace: same numbers)
]
ROWS = [vader_truth.Rated(f"t-{i}", 1.0, text) for i, text in enumerate(TEXTS)]


def _round_trip(texts: list[str]) -> list[str]:
    rows = [vader_truth.Rated(f"t-{i}", 1.0, text) for i, text in enumerate(texts)]
    parsed = parse_feed(vader_truth.feed_xml(rows, "t").encode("utf-8"), url="http://127.0.0.1/t.xml")
    assert len(parsed.items) == len(texts)
    return [item.content for item in parsed.items]


def test_the_feed_gives_back_each_text_as_written_but_for_whitespace():
    assert _round_trip(TEXTS) == [" ".join(t.split()) for t in TEXTS]


def test_a_text_holding_markup_loses_it_as_markup_escaped_twice_does():
    """listener's cleaner reads tags that are still there after entities are decoded as markup
    escaped twice (SPEC "Text"), so a text that holds a tag literally comes back without it. None
    of VADER's 23,703 ground-truth texts does (bench.vader_truth counts them)."""
    assert _round_trip(["I <3 this phone but <b>not</b> the case", "no way ]]> <![CDATA[ x ]]>"]) == [
        "I <3 this phone but not the case", "no way ]]>"]


def test_the_real_poll_stores_vaders_numbers_and_a_verdict(tmp_path):
    root = tmp_path / "feeds"
    root.mkdir()
    paths = vader_truth.write_feeds(root, {"t": ROWS})
    with serve(root, tmp_path, prefer="python") as server:
        stored = vader_truth.poll(paths, server.bases[0], tmp_path)
    assert len(stored) == len(ROWS)
    vader = SentimentIntensityAnalyzer()
    results = set()
    for content, compound, sentiment in stored.values():
        assert compound == score(content).compound
        assert sentiment in ("negative", "neutral", "positive", "unknown")
        results.add(content)
    single = " ".join(TEXTS[1].split())
    assert single in results  # one sentence: exactly VADER's compound on the text as written
    assert score(single).compound == vader.polarity_scores(TEXTS[1])["compound"]


def test_two_class_f1_counts_neutral_as_a_miss_and_leaves_unrated_items_out():
    gold = [2.0, 1.0, -1.5, -0.5, 0.0]
    assert vader_truth.f1_two_class(gold, ["positive", "positive", "negative", "negative", "positive"]) == 1.0
    f1 = vader_truth.f1_two_class(gold, ["positive", "neutral", "negative", "unknown", "negative"])
    assert f1 == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert vader_truth.compound_label(0.05) == "positive" and vader_truth.compound_label(-0.05) == "negative"
    assert vader_truth.compound_label(0.0499) == "neutral"


def test_pearson():
    assert vader_truth.pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert vader_truth.pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
