"""VADER sentiment for an item's text: one analyzer per process; short texts whole, long ones by sentence.

A short text (tweet-length: at most SHORT_MAX_SENTENCES sentences and SHORT_MAX_CHARS
characters) gets exactly VADER's `polarity_scores` on the whole text, as VADER was designed and
validated (its tweet ground truth is scored whole; averaging a two-sentence tweet by sentence
drifts from people's ratings). A longer text is split into sentences, each is scored by VADER,
and every sentence gets one vote: compound, pos, neu and neg are the plain means over the
sentences (the recipe of VADER's own README and demo for paragraphs). See the README.
"""

from __future__ import annotations

import re
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from listener.models import Sentiment
from listener.text import is_boilerplate_title

MAX_CHARS = 10_000  # score at most this much of a text (about 1,700 words) ...
MAX_SENTENCES = 50  # ... and at most this many of its sentences
MAX_SENTENCE_WORDS = 150  # VADER's cost grows with the square of a sentence's length: run-ons are cut
SHORT_MAX_CHARS = 320  # a tweet (280) with room for a title; VADER scores such a text whole ...
SHORT_MAX_SENTENCES = 4  # ... when it has at most this many sentences

NEUTRAL = Sentiment(compound=0.0, pos=0.0, neu=1.0, neg=0.0)


@lru_cache(maxsize=None)
def analyzer() -> SentimentIntensityAnalyzer:
    """The process's one analyzer: built on first use (it reads two lexicon files), then reused."""
    return SentimentIntensityAnalyzer()


def score(text: str) -> Sentiment:
    """VADER's scores for text: exact for a short text, the mean of its sentences for a long one.

    >>> score("Quillfeather lost my notes. Again!!!").compound < 0
    True
    """
    text = _cap(text)
    vader = analyzer()
    sentences = split_sentences(text)
    pieces = _bounded(sentences, vader.emojis)
    if not pieces:
        return NEUTRAL  # nothing to score (VADER would say 0, 0, 0, 0)
    if is_short(text, sentences) and len(pieces) == len(sentences) and sum(
        len(_describe_emoji(p, vader.emojis).split()) for p in pieces
    ) <= MAX_SENTENCE_WORDS:
        return _sentiment(vader.polarity_scores(text))
    scores = [vader.polarity_scores(piece) for piece in pieces]
    n = len(scores)
    return Sentiment(
        compound=round(sum(s["compound"] for s in scores) / n, 4),
        pos=round(sum(s["pos"] for s in scores) / n, 3),
        neu=round(sum(s["neu"] for s in scores) / n, 3),
        neg=round(sum(s["neg"] for s in scores) / n, 3),
    )


def is_short(text: str, sentences: list[str]) -> bool:
    """Tweet-length: VADER scores it whole (one sentence always is, whatever its length)."""
    return len(sentences) == 1 or (len(text) <= SHORT_MAX_CHARS and len(sentences) <= SHORT_MAX_SENTENCES)


def _bounded(sentences: list[str], emojis: dict[str, str]) -> list[str]:
    """What VADER will score: the first MAX_SENTENCES sentences, run-ons cut into
    MAX_SENTENCE_WORDS-word pieces, counting the words VADER reads for each emoji."""
    pieces: list[str] = []
    for sentence in sentences:
        words = _describe_emoji(sentence, emojis).split()
        if len(words) <= MAX_SENTENCE_WORDS:
            pieces.append(sentence)
        else:
            pieces.extend(" ".join(words[i:i + MAX_SENTENCE_WORDS]) for i in range(0, len(words), MAX_SENTENCE_WORDS))
        if len(pieces) >= MAX_SENTENCES:
            return pieces[:MAX_SENTENCES]
    return pieces


def _describe_emoji(text: str, emojis: dict[str, str]) -> str:
    """Emoji replaced by their descriptions, as VADER's polarity_scores does before it scores.

    VADER gives the result the same scores as the original (descriptions hold no emoji), and
    "😂" x 3,000 in one word turns into 15,000 words: we must count those before VADER sees them.
    """
    if text.isascii():
        return text
    out: list[str] = []
    prev_space = True
    for ch in text:
        description = emojis.get(ch)
        if description is None:
            out.append(ch)
            prev_space = ch == " "
        else:
            if not prev_space:
                out.append(" ")
            out.append(description)
            prev_space = False
    return "".join(out).strip()


def _sentiment(scores: dict[str, float]) -> Sentiment:
    return Sentiment(compound=scores["compound"], pos=scores["pos"], neu=scores["neu"], neg=scores["neg"])


def _cap(text: str) -> str:
    """At most MAX_CHARS characters, cut at a space so no word is scored half."""
    if len(text) <= MAX_CHARS:
        return text
    space = text.rfind(" ", MAX_CHARS // 2, MAX_CHARS)
    return text[: space if space > 0 else MAX_CHARS]


# --- sentences ----------------------------------------------------------------------------

_EMOTICON = r"(?:[:;=8xX][-'^o]?[()\[\]DPpOo3/\\|*]+|<3+|\^_*\^|-_-|[:;]'\()"
_EMOJI = r"[\u2600-\u27bf\U0001F000-\U0001FAFF\ufe0f\u200d]"  # one code point: no nested repeats
_TERMINATORS = ".!?\u2026\u203d"
# A sentence ends at a run of terminators ("." "!!!" "?!" "..." "…"), with any closing quotes
# and brackets, and any emoticons or emoji that follow ("Love it! :)" is one sentence), when
# whitespace or the end of the text comes next. "4.2" and "quillfeather.example" never end one.
# The lookbehind starts a run only at its first terminator, which keeps hostile input linear.
_END = re.compile(
    rf"""(?<![{_TERMINATORS}])(?P<term>[{_TERMINATORS}]+)["'\u201d\u2019\u00bb)\]]*(?:\s*(?:{_EMOTICON}|{_EMOJI}))*(?=\s|$)"""
)
_PARAGRAPH = re.compile(r"\n\s*\n")
_NEXT = re.compile(r"\s*(\S)")
_LAST_WORD = re.compile(r"(\S+)\s*$")
_WORD = re.compile(r"\w")
_INITIALISM = re.compile(r"(?:[a-z]\.)+[a-z]")  # e.g, i.e, u.s
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt vs etc approx cf fig inc ltd co corp dept est "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences with a fast regex; good enough for VADER, not a linguist.

    >>> split_sentences("Sync is down again!!! :( Fix it, e.g. by rolling back. Thanks.")
    ['Sync is down again!!! :(', 'Fix it, e.g. by rolling back.', 'Thanks.']
    """
    sentences: list[list[str]] = []
    for paragraph in _PARAGRAPH.split(text):
        start = 0
        for end in _END.finditer(paragraph):
            if _is_boundary(paragraph, end):
                _add(sentences, paragraph[start:end.end()])
                start = end.end()
        _add(sentences, paragraph[start:])
    return [" ".join(parts) for parts in sentences]


def _is_boundary(text: str, end: re.Match[str]) -> bool:
    following = _NEXT.match(text, end.end())
    if following is None:
        return True
    if following.group(1).islower():  # "e.g. this", "and then... it crashed", "lol. ok": one sentence
        return False
    if end.group("term") != ".":
        return True
    before = _LAST_WORD.search(text, max(0, end.start() - 40), end.start())
    word = before.group(1).lstrip("([\"'\u201c\u2018").lower() if before else ""
    return not (word in _ABBREVIATIONS or _INITIALISM.fullmatch(word) or (len(word) == 1 and word.isalpha()))


def _add(sentences: list[list[str]], piece: str) -> None:
    piece = piece.strip()
    if not piece:
        return
    if sentences and not _WORD.search(piece):  # a stray "!!!" or "😡" belongs to the sentence before
        sentences[-1].append(piece)
    else:
        sentences.append([piece])


# --- what gets scored ---------------------------------------------------------------------

def scoring_text(title: str, content: str) -> str:
    """What gets scored for an item: its title as a sentence of its own, then its content.

    Boilerplate comment titles ("By: Name", "Re: <post>") are dropped: they are not the
    commenter's words, and "Re: Worst outage ever" would count the post's anger in every reply.
    So is a title that only repeats the start of the content (forums and microblogs do that).
    """
    title = " ".join((title or "").split())
    content = (content or "").strip()
    if not title or is_boilerplate_title(title) or _repeats_start(title, content):
        return content
    if not content:
        return title
    separator = " " if title[-1] in ".!?\u2026" else ". "
    return f"{title}{separator}{content}"


def _repeats_start(title: str, content: str) -> bool:
    head = title.rstrip(".\u2026 ").casefold()
    return bool(head) and " ".join(content[: len(title) * 2].split()).casefold().startswith(head)
