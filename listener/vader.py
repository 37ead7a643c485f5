"""VADER's `polarity_scores`: the same algorithm, lexicon and numbers, in a third of the time.

Every item is scored by VADER (`listener.sentiment`) and the verdict reads the lexicon too, so
VADER's cost is most of what a poll pays per item. vaderSentiment 3.3.2 spends it lower-casing
the whole sentence again for every lexicon word (three negation checks and an idiom check each
build a new lower-case list) and walking every character of a non-ASCII text through a regex of
every emoji. This is the same algorithm with each word lower-cased once, only non-ASCII
characters looked up as emoji, and a lexicon word with no booster, negation, special-case or
idiom near it given its lexicon valence at once. It uses vaderSentiment's own lexicon and
constants and keeps its quirks (the `but` rule's `list.index`); a test compares it with
`polarity_scores` on every development text (66,000 tweets).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable
from functools import lru_cache

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
)

_NEGATE = frozenset(NEGATE)
# Every word of a multi-word SPECIAL_CASES or BOOSTER_DICT key: the idiom check can only change a
# valence when one of them is within three words of the lexicon word ...
_IDIOM_KEYS = [key.split() for key in (*SPECIAL_CASES, *BOOSTER_DICT) if " " in key]
_IDIOM_WORDS = frozenset(w for words in _IDIOM_KEYS for w in words)
# ... and then only when two neighbours there are two neighbours of a key: "the", "to" and "of" are
# idiom words ("the bomb", "to die for", "kind of"), and near most lexicon words.
_IDIOM_PAIRS = frozenset(pair for words in _IDIOM_KEYS for pair in zip(words, words[1:]))
_PUNCTUATION = string.punctuation
# The words that can change a lexicon word's valence from up to three words before it: boosters,
# negations and the words of VADER's special cases ("never so", "without doubt", "at least").
# A lexicon word with none of them (nor "n't", nor an idiom word) near keeps its lexicon valence.
_MODIFIERS = frozenset(w for w in BOOSTER_DICT if " " not in w) | _NEGATE | frozenset(
    "no never so this without doubt least".split())


@lru_cache(maxsize=None)
def analyzer() -> SentimentIntensityAnalyzer:
    """The process's one vaderSentiment analyzer (its lexicon and emoji), built on first use."""
    return SentimentIntensityAnalyzer()


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def describe_emoji(text: str) -> str:
    """polarity_scores' emoji walk: each emoji becomes its description, after a space unless one
    (or the start of the text) comes before it. Only the non-ASCII characters are looked at."""
    emojis = analyzer().emojis
    out: list[str] = []
    start = 0
    for m in _NON_ASCII.finditer(text):
        description = emojis.get(ch := m.group())
        if description is None:
            continue
        i = m.start()
        out.append(text[start:i])
        out.append(description if i == 0 or text[i - 1] == " " else " " + description)
        start = i + len(ch)
    if not out:
        return text
    out.append(text[start:])
    return "".join(out)


def polarity(text: str) -> tuple[float, float, float, float]:
    """(compound, pos, neu, neg) exactly as vaderSentiment's `polarity_scores(text)`.

    >>> polarity("The app is NOT working, again!!")
    (-0.4753, 0.0, 0.667, 0.333)
    """
    return polarity_described(text if text.isascii() else describe_emoji(text))


def polarity_described(text: str) -> tuple[float, float, float, float]:
    """`polarity` of a text whose emoji are already described (`describe_emoji`; an ASCII text has none)."""
    lexicon = analyzer().lexicon
    text = text.strip()
    if text.isascii():
        # VADER's words lower-cased: in ASCII, lower-casing changes no length and no punctuation, so
        # stripping the lower-case text's words is the same. `words` is kept only for `isupper`,
        # which no punctuation changes: the words as split do. A word of letters has no punctuation
        # to strip (most words: `isalpha` is cheaper than `strip`).
        words = text.split()
        lower = [t if t.isalpha() else s if len(s := t.strip(_PUNCTUATION)) > 2 else t for t in text.lower().split()]
    else:
        words = [t if t.isalpha() else s if len(s := t.strip(_PUNCTUATION)) > 2 else t for t in text.split()]
        lower = [w.lower() for w in words]
    n = len(words)
    hits = [i for i, low in enumerate(lower) if low in lexicon]
    if not hits:  # every word neutral: VADER's arithmetic gives exactly this
        return (0.0, 0.0, 1.0, 0.0) if n else (0.0, 0.0, 0.0, 0.0)
    caps = sum(map(str.isupper, words))
    cap_diff = 0 < n - caps < n
    sentiments: list[float] = [0] * n
    # The words with "n't" (a negation wherever VADER looks back from a lexicon word), by index
    negated = {j for j, w in enumerate(lower) if "n't" in w} if "'" in text else None
    for i in hits:
        low = lower[i]
        if low not in BOOSTER_DICT and not (low == "kind" and i < n - 1 and lower[i + 1] == "of"):
            if low != "no" and _MODIFIERS.isdisjoint(lower[max(0, i - 3):i]) and (
                not negated or negated.isdisjoint(range(i - 3, i))
            ) and (i < 3 or _IDIOM_WORDS.isdisjoint(window := lower[i - 3:i + 3])
                   or _IDIOM_PAIRS.isdisjoint(zip(window, window[1:]))):
                valence = lexicon[low]
                if cap_diff and words[i].isupper():
                    valence = valence + C_INCR if valence > 0 else valence - C_INCR
                sentiments[i] = valence
            else:
                sentiments[i] = _valence(words, lower, i, lexicon, cap_diff)
    if "but" in lower:
        sentiments = _but_check(lower, sentiments)
    return _score(sentiments, text, hits)


def _valence(words: list[str], lower: list[str], i: int, lexicon: dict[str, float], cap_diff: bool) -> float:
    """sentiment_valence for a lexicon word at i."""
    low = lower[i]
    valence = lexicon[low]
    if low == "no" and i != len(lower) - 1 and lower[i + 1] in lexicon:
        valence = 0.0
    if (i > 0 and lower[i - 1] == "no") or (i > 1 and lower[i - 2] == "no") or (
        i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor")
    ):
        valence = lexicon[low] * N_SCALAR
    if cap_diff and words[i].isupper():
        valence = valence + C_INCR if valence > 0 else valence - C_INCR
    for start_i in range(3):
        if i > start_i and lower[i - (start_i + 1)] not in lexicon:
            s = _scalar(words[i - (start_i + 1)], lower[i - (start_i + 1)], valence, cap_diff)
            if start_i == 1 and s != 0:
                s = s * 0.95
            if start_i == 2 and s != 0:
                s = s * 0.9
            valence = valence + s
            valence = _negation_check(valence, lower, start_i, i)
            if start_i == 2 and _IDIOM_WORDS.intersection(lower[i - 3:i + 3]):
                valence = _special_idioms_check(valence, lower, i)
    if i > 1 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        if lower[i - 2] != "at" and lower[i - 2] != "very":
            valence = valence * N_SCALAR
    elif i > 0 and lower[i - 1] not in lexicon and lower[i - 1] == "least":
        valence = valence * N_SCALAR
    return valence


def _scalar(word: str, low: str, valence: float, cap_diff: bool) -> float:
    scalar = BOOSTER_DICT.get(low)
    if scalar is None:
        return 0.0
    if valence < 0:
        scalar *= -1
    if word.isupper() and cap_diff:
        scalar = scalar + C_INCR if valence > 0 else scalar - C_INCR
    return scalar


def _negated(low: str) -> bool:
    return low in _NEGATE or "n't" in low


def _negation_check(valence: float, lower: list[str], start_i: int, i: int) -> float:
    if start_i == 0:
        if _negated(lower[i - 1]):
            valence = valence * N_SCALAR
    elif start_i == 1:
        if lower[i - 2] == "never" and lower[i - 1] in ("so", "this"):
            valence = valence * 1.25
        elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
            pass
        elif _negated(lower[i - 2]):
            valence = valence * N_SCALAR
    else:
        if (lower[i - 3] == "never" and lower[i - 2] in ("so", "this")) or lower[i - 1] in ("so", "this"):
            valence = valence * 1.25
        elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
            pass
        elif _negated(lower[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check(valence: float, lower: list[str], i: int) -> float:
    onezero = f"{lower[i - 1]} {lower[i]}"
    twoonezero = f"{lower[i - 2]} {lower[i - 1]} {lower[i]}"
    twoone = f"{lower[i - 2]} {lower[i - 1]}"
    threetwoone = f"{lower[i - 3]} {lower[i - 2]} {lower[i - 1]}"
    threetwo = f"{lower[i - 3]} {lower[i - 2]}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(lower) - 1 > i:
        zeroone = f"{lower[i]} {lower[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if len(lower) - 1 > i + 1:
        zeroonetwo = f"{lower[i]} {lower[i + 1]} {lower[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _but_check(lower: list[str], sentiments: list[float]) -> list[float]:
    """VADER's `but` rule as it is, `list.index` and all (it finds the first equal valence)."""
    bi = lower.index("but")
    for sentiment in sentiments:
        si = sentiments.index(sentiment)
        if si < bi:
            sentiments.pop(si)
            sentiments.insert(si, sentiment * 0.5)
        elif si > bi:
            sentiments.pop(si)
            sentiments.insert(si, sentiment * 1.5)
    return sentiments


def _score(sentiments: list[float], text: str, hits: list[int]) -> tuple[float, float, float, float]:
    """score_valence. Only the lexicon words (`hits`, in order) can hold a valence: the `but` rule
    changes a valence in its place, and a zero stays zero."""
    if not sentiments:
        return 0.0, 0.0, 0.0, 0.0
    nonzero = [s for i in hits if (s := sentiments[i])]  # adding a zero changes no sum: the same floats as VADER's
    if not nonzero:
        return 0.0, 0.0, 1.0, 0.0
    sum_s = float(sum(nonzero))
    ep = min(text.count("!"), 4) * 0.292
    qm_count = text.count("?")
    qm = (qm_count * 0.18 if qm_count <= 3 else 0.96) if qm_count > 1 else 0
    emphasis = ep + qm
    if sum_s > 0:
        sum_s += emphasis
    elif sum_s < 0:
        sum_s -= emphasis
    compound = max(-1.0, min(1.0, sum_s / math.sqrt(sum_s * sum_s + 15)))
    pos_sum = neg_sum = 0.0
    neu_count = len(sentiments) - len(nonzero)
    for s in nonzero:
        if s > 0:
            pos_sum += float(s) + 1
        else:
            neg_sum += float(s) - 1
    if pos_sum > math.fabs(neg_sum):
        pos_sum += emphasis
    elif pos_sum < math.fabs(neg_sum):
        neg_sum -= emphasis
    total = pos_sum + math.fabs(neg_sum) + neu_count
    return (round(compound, 4), round(math.fabs(pos_sum / total), 3), round(math.fabs(neu_count / total), 3),
            round(math.fabs(neg_sum / total), 3))


def lexicon_sum(text: str) -> float:
    """The sum of VADER's lexicon valences of text's words, read as VADER reads them (no context)."""
    return words_valence(text.split())


def words_valence(words: Iterable[str]) -> float:
    """`lexicon_sum` of words already split (each as `str.split` gives it), in their order."""
    lexicon = analyzer().lexicon
    total = 0.0
    for t in words:
        total += lexicon.get((s if len(s := t.strip(_PUNCTUATION)) > 2 else t).lower(), 0.0)
    return total
