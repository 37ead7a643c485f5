"""What an item's words ask of us: a question or request, abuse, spam. Plain functions on plain text.

Abuse uses better-profanity's shipped word list (900+ swear words and their leetspeak spellings,
offline, no model): a maintained list catches "m0r0n" and "sh1t", which a list of our own would
miss. Swearing alone is no abuse ("what a f***ing mess" is about a thing); abuse is a swear word
or insult aimed at a person (second person, an @name) or a threat.
"""

from __future__ import annotations

import hashlib
import re

from listener.models import TextCues
from listener.triage.swear import contains_swear

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
# How each of _ASKS's phrases begins: a text with none of these (and no "?") asks nothing, unsearched.
_ASK_STARTS = ("how ", "can ", "could ", "would you", "will you", "is there", "is it possible", "are there", "any ",
               "does anyone know", "please ", "help me", "i need help", "need ", "where ", "what should i")
LINK_STUFFED = 3  # links in one item that make it spam
_INSULT = re.compile("|".join(rf"\b{re.escape(insult)}\b" for insult in INSULTS))


def _words(text: str) -> str:
    return " ".join(text[:CUE_CHARS].split())


def asks(text: str) -> bool:
    """A question or a request: "?", "how do I", "can you", "is there a way", "please help"..."""
    return _asks_unlinked(_LINK.sub(" ", _words(text)))


def _asks_unlinked(unlinked: str) -> bool:
    if "?" in unlinked:
        return True
    lowered = unlinked.lower()
    return any(start in lowered for start in _ASK_STARTS) and bool(_ASKS.search(unlinked))


def abusive(text: str) -> bool:
    """A threat, or a swear word or insult aimed at a person."""
    return _abusive_words(_words(text))


def _abusive_words(words: str) -> bool:
    if _THREAT.search(words):
        return True
    if not _SECOND_PERSON.search(words):
        return False
    return bool(_INSULT.search(words.casefold())) or contains_swear(words)


def links(text: str) -> int:
    return len(_LINK.findall(text[: CUE_CHARS * 4]))


def spam_key(text: str) -> str:
    """A digest of the text as repeated spam is compared (case, whitespace and links left out);
    '' when too short to tell."""
    return _spam_digest(" ".join(_LINK.sub(" ", text[:CUE_CHARS]).casefold().split()))


def _spam_digest(key: str) -> str:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest() if len(key) >= 24 else ""


def read_cues(text: str) -> TextCues:
    """Every cue of one text, read once (the words folded and the links taken out once for all of them):
    stored with the item, so listing threads reads no words."""
    words = _words(text)
    unlinked = _LINK.sub(" ", words)
    return TextCues(asks=_asks_unlinked(unlinked), abuse=_abusive_words(words), links=links(text),
                    spam_key=_spam_digest(" ".join(unlinked.casefold().split())))
