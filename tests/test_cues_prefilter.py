"""The cheap look before better-profanity's censor never hides a swear word the library would find."""

from __future__ import annotations

from importlib import resources

import pytest

from listener.triage.cues import _may_swear, _profanity

ENTRIES = [line.strip() for line in resources.files("better_profanity").joinpath("profanity_wordlist.txt")
           .read_text(encoding="utf-8").splitlines() if line.strip()]
SPELLINGS = [str.maketrans("aeios", "43105"), str.maketrans("ilu", "1iv"), str.maketrans("", "")]


@pytest.mark.parametrize("spelling", range(len(SPELLINGS)))
def test_every_listed_word_in_every_spelling_passes_the_look(spelling):
    for entry in ENTRIES:
        text = f"you are such a {entry.translate(SPELLINGS[spelling])}, mate"
        if _profanity().contains_profanity(text):
            assert _may_swear(text.casefold()), text


def test_ordinary_words_skip_the_censor():
    assert not _may_swear("thanks, that fixed my sync. you are great")
