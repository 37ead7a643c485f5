"""contains_swear says what better-profanity's censor says, without its cost."""

from __future__ import annotations

import csv
import random
from importlib import resources
from pathlib import Path

import pytest
from better_profanity import Profanity  # type: ignore[import-untyped]

from listener.triage.swear import contains_swear

ENTRIES = [line.strip() for line in resources.files("better_profanity").joinpath("profanity_wordlist.txt")
           .read_text(encoding="utf-8").splitlines() if line.strip()]
SPELLINGS = [str.maketrans("", ""), str.maketrans("aeios", "43105"), str.maketrans("ilu", "1iv"),
             str.maketrans("aeiou", "*@***"), str.maketrans("st", "$7")]
SEMEVAL = Path(__file__).resolve().parents[2] / "shared" / "sentiment-data" / "semeval2017-task4a"


@pytest.fixture(scope="module")
def censor():
    profanity = Profanity()
    profanity.load_censor_words()
    return profanity.contains_profanity


@pytest.mark.parametrize("spelling", range(len(SPELLINGS)))
def test_every_listed_word_in_several_spellings_agrees(censor, spelling):
    for entry in ENTRIES:
        word = entry.translate(SPELLINGS[spelling])
        for text in (f"you are such a {word}, mate", f"{word.upper()}!", word):
            assert contains_swear(text) == censor(text), text


def test_words_glued_to_punctuation_and_phrases_agree(censor):
    rng = random.Random(7)
    pieces = [*rng.sample(ENTRIES, 120), "you", "your", "the", "sync", "@dana", "*", "***", "a", "i", "bull", "shit",
              "!", "?", "-", "'", '"', "—", "é", "ß", "İ", "4ss", "$h1t", "b!tch", "f_u_c_k", "s.o.b.", "2", "girls"]
    for _ in range(1500):
        words = rng.choices(pieces, k=rng.randint(1, 9))
        text = "".join(w + rng.choice(["", " ", "  ", ", ", ".", "-", "\n"]) for w in words)
        assert contains_swear(text) == censor(text), repr(text)


def test_ordinary_messages_agree(censor):
    texts = ["thanks, that fixed my sync. you are great", "Why is the app so slow again?!", "", "a", "  ", "@@@",
             "You're hopeless, support never answers", "shit happens", "what a f***ing mess", "classic assassin",
             "Scunthorpe United", "I'll help you pass the class", "hello\u200bworld", "ÀÉÎÕÜ façade naïve"]
    for text in texts:
        assert contains_swear(text) == censor(text), text


@pytest.mark.skipif(not SEMEVAL.is_dir(), reason="the SemEval tweets are not on this machine")
def test_real_tweets_agree(censor):
    rng = random.Random(3)
    rows = []
    for path in sorted(SEMEVAL.glob("*train*.t*"))[:2]:
        with path.open(encoding="utf-8", errors="replace") as handle:
            rows += [row[-1] for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if row]
    for text in rng.sample(rows, min(600, len(rows))):
        assert contains_swear(text) == censor(text), text
