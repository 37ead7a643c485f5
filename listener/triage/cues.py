"""What an item's words ask of us: a question or request, abuse, spam. Plain functions on plain text.

Abuse uses better-profanity's shipped word list (900+ swear words and their leetspeak spellings,
offline, no model): a maintained list catches "m0r0n" and "sh1t", which a list of our own would
miss. Swearing alone is no abuse ("what a f***ing mess" is about a thing); abuse is a swear word
or insult aimed at a person (second person, an @name) or a threat.
"""

from __future__ import annotations

import functools
import re
from functools import lru_cache
from typing import Any

CUE_CHARS = 2000  # the words judged per item: cues sit early, and the word list's check is per word

# Insults the swear-word list leaves out (it is about vulgarity, not contempt).
INSULTS = ("idiot", "idiots", "moron", "morons", "loser", "losers", "clown", "clowns", "stupid", "dumb", "pathetic",
           "imbecile", "troll", "shill", "scum", "clueless", "braindead", "brain-dead", "nobody asked you",
           "shut up", "get lost")
_THREAT = re.compile(
    r"\b(?:i|we)(?:'ll| will| am going to| are going to| gonna)\s+(?:find|hurt|kill|destroy|beat|come for|get)\s+(?:you|u|ya)\b"
    r"|\bkill yoursel(?:f|ves)\b|\bkys\b|\byou(?:'d| had) better watch\b", re.IGNORECASE)
_SECOND_PERSON = re.compile(r"\b(?:you|your|you're|youre|yourself|u|ur|ya)\b|(?<![\w.])@\w", re.IGNORECASE)
_ASKS = re.compile(
    r"\?|\b(?:how (?:do|can|would|should) (?:i|we)|how to|can (?:you|u|i|we|someone|anyone)|could (?:you|someone|anyone)"
    r"|would you|will you|is (?:there|it possible)|are there|any (?:way|chance|idea|update|news)|does anyone know"
    r"|please (?:help|advise|fix|let)|help me|i need help|need (?:some )?help|where (?:can|do) i|what should i)\b",
    re.IGNORECASE)
_LINK = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
LINK_STUFFED = 3  # links in one item that make it spam


@lru_cache(maxsize=1)
def _profanity() -> Any:
    from better_profanity import Profanity  # type: ignore[import-untyped]  # its word list is read once per process, when first needed

    return Profanity(words=None)


# better-profanity's own spellings (CHARS_MAPPING): letters it treats as one, folded to one.
_SAME_LETTER = str.maketrans({"4": "a", "1": "i", "l": "i", "0": "o", "v": "u", "3": "e", "$": "s", "5": "s", "7": "t"})
_TOKEN = re.compile(r"[^\s,;:?()\[\]{}<>]+")  # the list spells words with ! + . - in them


@functools.lru_cache(maxsize=1)
def _swear_list() -> tuple[frozenset[str], tuple[str, ...]]:
    """better-profanity's list, look-alike letters folded: its single words, and its phrases."""
    from importlib import resources

    text = resources.files("better_profanity").joinpath("profanity_wordlist.txt").read_text(encoding="utf-8")
    entries = [" ".join(line.casefold().translate(_SAME_LETTER).split()) for line in text.splitlines() if line.strip()]
    return frozenset(e for e in entries if " " not in e), tuple(e for e in entries if " " in e)


def _may_swear(lowered: str) -> bool:
    """A cheap look before better-profanity's censor, which costs milliseconds a text: only a text
    with a word or phrase from its list (or a wildcard spelling) can contain one."""
    words, phrases = _swear_list()
    folded_text = " ".join(lowered.translate(_SAME_LETTER).split())
    for token in _TOKEN.findall(lowered):
        if "*" in token or "@" in token:
            return True
        folded = token.translate(_SAME_LETTER)
        if folded in words or folded.strip(".!-'\"") in words:
            return True
    return any(phrase in folded_text for phrase in phrases)


@functools.lru_cache(maxsize=4096)
def _contains_profanity(words: str) -> bool:
    """better-profanity's verdict, remembered: a thread is judged again on every command that lists it."""
    return bool(_profanity().contains_profanity(words))


def _words(text: str) -> str:
    return " ".join(text[:CUE_CHARS].split())


def asks(text: str) -> bool:
    """A question or a request: "?", "how do I", "can you", "is there a way", "please help"..."""
    return bool(_ASKS.search(_LINK.sub(" ", _words(text))))


def abusive(text: str) -> bool:
    """A threat, or a swear word or insult aimed at a person."""
    words = _words(text)
    if _THREAT.search(words):
        return True
    if not _SECOND_PERSON.search(words):
        return False
    lowered = words.casefold()
    return any(re.search(rf"\b{re.escape(insult)}\b", lowered) for insult in INSULTS) \
        or (_may_swear(lowered) and _contains_profanity(words))


def links(text: str) -> int:
    return len(_LINK.findall(text[: CUE_CHARS * 4]))


def link_stuffed(text: str) -> bool:
    return links(text) >= LINK_STUFFED


def spam_key(text: str) -> str:
    """The text as repeated spam is compared: case, whitespace and links left out; '' when too short to tell."""
    key = " ".join(_LINK.sub(" ", text[:CUE_CHARS]).casefold().split())
    return key if len(key) >= 24 else ""
