"""read_cues reads each cue as the single-cue functions do, and the quick look before the question
regex never hides a question."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from bench.farm import MENTIONS, NEGATIVE, NEUTRAL, POSITIVE
from listener.models import TextCues
from listener.triage import cues

SEMEVAL = Path(__file__).resolve().parents[2] / "shared" / "sentiment-data" / "semeval2017-task4a"
ASKING = ["How do I export?", "how to sync", "Can you help", "could someone look", "Would you fix it", "is there a way",
          "IS IT POSSIBLE to", "are there plans", "any update on this", "Does anyone know why", "please help me",
          "help me please", "I need help", "need some help", "where can i find", "what should i do", "HOW CAN WE"]


def texts() -> list[str]:
    rng = random.Random(5)
    pool = [*NEGATIVE, *POSITIVE, *NEUTRAL, *MENTIONS, *ASKING, "you idiot", "see https://a.example/x?y=1 now"]
    made = [" ".join(rng.choice(pool) for _ in range(rng.randint(1, 9))) for _ in range(1500)]
    if SEMEVAL.is_dir():
        with (SEMEVAL / "twitter-2016test-A.tsv").open(encoding="utf-8", errors="replace") as handle:
            made += [row[-1] for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if row][:3000]
    return made


@pytest.fixture(scope="module")
def sample() -> list[str]:
    return texts()


def test_read_cues_reads_each_cue_as_its_own_function_does(sample):
    for text in sample:
        assert cues.read_cues(text) == TextCues(asks=cues.asks(text), abuse=cues.abusive(text),
                                                links=cues.links(text), spam_key=cues.spam_key(text)), text


def test_the_quick_look_never_hides_a_question(sample):
    for text in [*sample, *ASKING]:
        unlinked = cues._LINK.sub(" ", cues._words(text))
        assert cues._asks_unlinked(unlinked) == bool(cues._ASKS.search(unlinked)), text
    assert all(cues.asks(text) for text in ASKING)
