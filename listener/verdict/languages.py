"""The language gate: an item not in a supported language gets `sentiment: unknown`.

The identifier (py3langid, which ships its model) costs about as much as VADER on a tweet, so
it is asked only when a text is not plainly English. Plainly English: none of its ordinary words
(not names: a capitalised word that is not all capitals tells nothing about the language, and
tweets are full of them) is a common word of another language that English does not share ("und",
"pas", "que"), and at least a quarter of them are common English words (an eighth; or any
share in a short text of plain ASCII words).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

SHORT_TEXT_WORDS = 3  # fewer words than this: too little to tell a language, taken for English
LANGUAGE_MIN_CONFIDENCE = 0.5  # below this the language is too unsure to leave a text unscored

_WORD = re.compile(r"[^\W\d_]+")
_NOT_ASCII_LETTERS = bytes(c if 65 <= c <= 90 or 97 <= c <= 122 else 32 for c in range(256))


def _words(text: str) -> list[str]:
    """`_WORD.findall(text)`: in an ASCII text a letter is A-Z or a-z, so translating every other
    byte to a space and splitting finds the same words in half the time."""
    if text.isascii():
        return text.encode("ascii").translate(_NOT_ASCII_LETTERS).decode("ascii").split()
    return _WORD.findall(text)
_PLACEHOLDERS = frozenset({"xtarget", "xhandle", "xstaff", "xurl", "xemail"})
_ENGLISH = frozenset(
    "the and to you my is it for of this that was not have with be are but your just can what "
    "they been from why how will when or our has had would there out about if i me we he she "
    "them their is isn't don't can't didn't it's i'm you're get got still again help please thanks "
    "flight service customer hours days never no any now today ever why who where "
    "a an at on in so all do go see one new like love good great day time people think know "
    "going want see up off back after last first tomorrow tonight night may might should could "
    "than then only even very really more much some too here who which also being were "
    "s t m ve ll re d am his her him its did does doing done make made say said tell told take took "
    "come came give gave find found keep let put seem need feel try call ask work use way year week "
    "month hour minute thing man woman world life home order account app phone email money refund "
    "issue problem payment card bag delivery package support team store help fix update reply "
    "wait waiting hold thank thx pls please plz u ur im dont cant wont lol omg yes yeah ok okay "
    "not nothing every each other another same such own most many few both well still just right "
    "wrong bad best better worst happy sad hate miss lost broken down late since until while because "
    "before over under again never always sometimes usually next ago tonight watch show game".split()
)
# Common words of other languages that are rare as English words: one of them sends a text to
# the identifier even when it is full of English-looking words ("also", "was", "in").
_FOREIGN = frozenset(
    "und ist nicht ich der das ein eine mit auf für sie wir aber noch schon kein keine bitte danke sehr "
    "habe wird sind oder auch wie nach bei "
    "les est pas une je nous vous avec pour sur mais très merci qui dans personne ne pourquoi "
    "los las que por para una del muy pero gracias nadie fue esta está todo porque como "
    "não muito obrigado você uma mas isso "
    "il che sono grazie della questo "
    "het een niet ik zijn ook maar".split()
)


@lru_cache(maxsize=None)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def plainly_english(words: list[str]) -> bool:
    """Enough common English words among the ordinary ones, and no common word of another language."""
    ordinary = [w.lower() for w in words if not w[0].isupper() or w.isupper()]
    if not _FOREIGN.isdisjoint(ordinary):
        return False
    hits = sum(map(_ENGLISH.__contains__, ordinary))
    if hits * 4 >= len(ordinary) > 0:
        return True
    # Headlines and tag lists ("Persona 5 Take Your Heart edition") have few common words; in plain
    # ASCII letters and without another language's common words they are English often enough.
    return all(w.isascii() for w in words) and (hits * 8 >= len(ordinary) or len(ordinary) <= 8)


_HASHTAG = re.compile(r"#\w+")


def language(masked_text: str) -> tuple[str, float, str | None]:
    """(ISO 639-1 code, confidence, a `why` note or None) for a masked text.

    Hashtags are tags, not prose: "#laliga #fcblive" says nothing of the language a headline is
    written in, and Arabic tags under an English report made it Egyptian Arabic. They are left out."""
    if "#" in masked_text:
        masked_text = _HASHTAG.sub(" ", masked_text)
    words = _words(masked_text)
    if not _PLACEHOLDERS.isdisjoint(words):
        words = [w for w in words if w not in _PLACEHOLDERS]
    if len(words) < SHORT_TEXT_WORDS:
        return "en", 1.0, "language:too_short_assumed_en"
    if plainly_english(words):
        return "en", 1.0, None
    text = " ".join(w for w in masked_text.split() if w.lower().strip(".,!?:;") not in _PLACEHOLDERS)
    code, confidence = _identifier().classify(text)
    if code == "en":
        return "en", float(confidence), None
    if confidence < LANGUAGE_MIN_CONFIDENCE:
        return "en", float(confidence), f"language:unsure({code})_assumed_en"
    return str(code), float(confidence), f"language:{code}"
