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
from collections.abc import Callable

from listener.models import Sentiment
from listener.text import is_boilerplate_title
from listener.vader import analyzer, describe_emoji, polarity, polarity_described

MAX_CHARS = 10_000  # score at most this much of a text (about 1,700 words) ...
MAX_SENTENCES = 50  # ... and at most this many of its sentences
MAX_SENTENCE_WORDS = 150  # VADER's cost grows with the square of a sentence's length: run-ons are cut
SHORT_MAX_CHARS = 320  # a tweet (280) with room for a title; VADER scores such a text whole ...
SHORT_MAX_SENTENCES = 4  # ... when it has at most this many sentences

NEUTRAL = Sentiment(compound=0.0, pos=0.0, neu=1.0, neg=0.0)


Polarity = Callable[[str], tuple[float, float, float, float]]


def score(text: str) -> Sentiment:
    """VADER's scores for text: exact for a short text, the mean of its sentences for a long one.

    The numbers are vaderSentiment's `polarity_scores` (`listener.vader.polarity`, the same
    algorithm, lexicon and numbers, faster; a test compares the two on every development text).

    >>> score("Quillfeather lost my notes. Again!!!").compound < 0
    True
    """
    text = _cap(text)
    described = _plainly_short(text)  # as VADER reads it: described once, for the shortcut and for VADER
    if described is not None:
        return Sentiment(*polarity_described(described))
    return _score(text, polarity)


def reference_score(text: str) -> Sentiment:
    """`score` as vaderSentiment itself gives it: its `polarity_scores`, and no shortcut."""

    def vader(piece: str) -> tuple[float, float, float, float]:
        d = analyzer().polarity_scores(piece)
        return d["compound"], d["pos"], d["neu"], d["neg"]

    return _score(_cap(text), vader)


_TERMINATOR_CHARS = ".!?\u2026\u203d"


def _plainly_short(text: str) -> str | None:
    """The text as VADER reads it (its emoji described) when it is short by a cheap look, else None:
    tweet-length, fewer than SHORT_MAX_SENTENCES terminator runs that may end a sentence
    (`_MAY_END`: so at most that many sentences), one paragraph, and few enough words to be scored
    whole. The emoji are described only for a text that passes the other looks."""
    ascii_text = text.isascii()
    if len(text) > SHORT_MAX_CHARS or (
        sum(map(text.count, ".!?" if ascii_text else _TERMINATOR_CHARS)) >= SHORT_MAX_SENTENCES  # fewer: fewer runs
        and len(_MAY_END.findall(text)) >= SHORT_MAX_SENTENCES
    ):
        return None
    if "\n" in text and _PARAGRAPH.search(text):
        return None
    if ascii_text and len(text) < 2 * MAX_SENTENCE_WORDS + 1:  # too short to hold more words than that
        return text if not text.isspace() and text else None
    described = text if ascii_text else describe_emoji(text)
    return described if 0 < len(described.split()) <= MAX_SENTENCE_WORDS else None


def _score(text: str, vader: Polarity) -> Sentiment:
    sentences = split_sentences(text)
    if not sentences:
        return NEUTRAL  # nothing to score (VADER would say 0, 0, 0, 0)
    # Sentences end only before whitespace, so the text's words are its sentences' words: a short
    # text of at most MAX_SENTENCE_WORDS words (as VADER reads its emoji) is scored whole.
    if is_short(text, sentences) and len(describe_emoji(text).split()) <= MAX_SENTENCE_WORDS:
        return Sentiment(*vader(text))
    pieces = _bounded(sentences)
    scores = [vader(piece) for piece in pieces]
    n = len(scores)
    return Sentiment(
        compound=round(sum(s[0] for s in scores) / n, 4),
        pos=round(sum(s[1] for s in scores) / n, 3),
        neu=round(sum(s[2] for s in scores) / n, 3),
        neg=round(sum(s[3] for s in scores) / n, 3),
        sentences=n,
    )


def is_short(text: str, sentences: list[str]) -> bool:
    """Tweet-length: VADER scores it whole (one sentence always is, whatever its length)."""
    return len(sentences) == 1 or (len(text) <= SHORT_MAX_CHARS and len(sentences) <= SHORT_MAX_SENTENCES)


def _bounded(sentences: list[str]) -> list[str]:
    """What VADER will score: the first MAX_SENTENCES sentences, run-ons cut into
    MAX_SENTENCE_WORDS-word pieces, counting the words VADER reads for each emoji (VADER gives
    the described text the same scores, and "😂" x 3,000 in one word turns into 15,000 words)."""
    pieces: list[str] = []
    for sentence in sentences:
        words = describe_emoji(sentence).split()
        if len(words) <= MAX_SENTENCE_WORDS:
            pieces.append(sentence)
        else:
            pieces.extend(" ".join(words[i:i + MAX_SENTENCE_WORDS]) for i in range(0, len(words), MAX_SENTENCE_WORDS))
        if len(pieces) >= MAX_SENTENCES:
            return pieces[:MAX_SENTENCES]
    return pieces


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
# A run can end a sentence only when what follows it may follow one in _END (whitespace, a closing
# quote or bracket, the first character of an emoticon or an emoji) or nothing does: counting such
# runs bounds the sentences without splitting ("4.2", "U.S." and "...and" end none).
_MAY_END = re.compile(rf"""[{_TERMINATORS}]+(?![^\s"'\u201d\u2019\u00bb)\]:;=8xX<^\-{_EMOJI[1:-1]}])""")
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
