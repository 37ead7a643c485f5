"""The verdict's learned part: features of a masked text and a hashed logistic regression over them.

Features are the words of what the rule layer left (hashed with crc32 into 2**HASH_BITS
buckets), the rules that fired, and VADER's scores of the original text (the caller's, so VADER
runs once per item) with the rule layer's correction: the lexicon valence of the words masking
and the rules took away is taken out of VADER's raw sum and the cue weights are added to it
(`rule_compound`, shown in `why` as `vader_after_rules`). Weights live in `listener/data/verdict.npz`, built by
`tools/train_verdict.py`. Scoring one item is a few dozen table look-ups in plain Python: numpy's
per-call overhead costs more than the arithmetic on so few numbers.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import compress
from operator import itemgetter, ne
from typing import Literal, NamedTuple

import numpy as np

from listener.vader import polarity, words_valence
from listener.verdict.rules import RULE_TAGS, Ruled, apply_rules, shift_compound

CLASSES: tuple[Literal["negative", "neutral", "positive"], ...] = ("negative", "neutral", "positive")
HASH_BITS = 18
DENSE = ("rule_compound", "rule_pos", "rule_neg", "cue_weight", "request")

MAX_CHARS = 5_000  # the verdict reads at most this much of a text ...
MAX_PIECES = 40  # ... and at most this many of its sentences
MAX_PIECE_WORDS = 150  # VADER's cost grows with the square of a sentence's length
SHORT_MAX_CHARS = 320  # as listener.sentiment: a tweet-length text is scored whole
SHORT_MAX_SENTENCES = 4

_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+")


def _pieces(text: str) -> list[str]:
    """The text whole when tweet-length, else its sentences (bounded), run-ons cut into pieces."""
    text = text[:MAX_CHARS]
    if len(text) <= SHORT_MAX_CHARS and (
        len(_SENTENCE_END.findall(text)) < SHORT_MAX_SENTENCES
        or sum(1 for s in _SENTENCE_END.split(text) if s.strip()) <= SHORT_MAX_SENTENCES
    ):
        sentences = [text]
    else:
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    pieces: list[str] = []
    for sentence in sentences[:MAX_PIECES]:
        words = sentence.split()
        pieces.extend(" ".join(words[i:i + MAX_PIECE_WORDS]) for i in range(0, len(words), MAX_PIECE_WORDS))
    return pieces[:MAX_PIECES]


VaderNumbers = tuple[float, float, float, int]  # compound, pos, neg, and how many sentences they are the mean of


def vader_scores(text: str) -> VaderNumbers:
    """(compound, pos, neg, sentences) of VADER on text: whole when short (1), the mean of its sentences when long."""
    pieces = _pieces(text)
    if not pieces:
        return 0.0, 0.0, 0.0, 1
    if len(pieces) == 1:
        compound, pos, _, neg = polarity(pieces[0])
        return compound, pos, neg, 1
    scores = [polarity(p) for p in pieces]
    n = len(scores)
    return sum(s[0] for s in scores) / n, sum(s[1] for s in scores) / n, sum(s[3] for s in scores) / n, n


# --- features -----------------------------------------------------------------------------

# A word, a #tag, ! or ?, an emoticon, an emoji. Each alternative starts with a character or a class,
# which the regex engine tests before trying it: "#?[a-z0-9']+" first cost 9 % more on a complaint.
_EMOTICON = re.compile(r"[:;]-?[()dp]")
_TOKEN = re.compile(rf"[a-z0-9']+|#[a-z0-9']+|[!?]|{_EMOTICON.pattern}|[\u2600-\u27bf\U0001F300-\U0001FAFF]")
_MASK = (1 << HASH_BITS) - 1
_NOT_TOKEN = bytes(c if c in b"abcdefghijklmnopqrstuvwxyz0123456789'!?" else 32 for c in range(256))


def tokens(lower: str) -> list[str]:
    """`_TOKEN.findall(lower)`. An ASCII text with no # and no emoticon has only words, ! and ?:
    each ! and ? spaced apart, every other byte that is no word character made a space, split, in
    two thirds of the time (three in four complaints)."""
    if "#" in lower or not lower.isascii() or ((":" in lower or ";" in lower) and _EMOTICON.search(lower)):
        return _TOKEN.findall(lower)
    if "!" in lower:
        lower = lower.replace("!", " ! ")
    if "?" in lower:
        lower = lower.replace("?", " ? ")
    return lower.encode().translate(_NOT_TOKEN).decode().split()


class Features(NamedTuple):
    """What the model reads: hashed sparse features (with their names, for `why`) and dense ones."""

    names: tuple[str, ...]
    dense: tuple[float, ...]  # len(DENSE)
    ruled: Ruled
    rule_compound: float

    @property
    def buckets(self) -> tuple[int, ...]:
        """Indices into the weight table, one per name (for training: scoring hashes as it looks up)."""
        return tuple(map(bucket, self.names))


_crc32 = zlib.crc32


def bucket(name: str) -> int:
    """A stable hash (crc32 of the UTF-8 bytes, not Python's salted hash) of a feature name into the weight table."""
    return _crc32(name.encode()) & _MASK


def features(masked_text: str, original: str, vader: VaderNumbers) -> Features:
    """The model's features: the words of what the rules left (word pairs measured no better:
    macro-F1 0.594 against 0.604 on the model-selection file), the rules that fired, and
    `vader` = (compound, pos, neg, sentences) of the `original` text corrected by the rule layer."""
    ruled = apply_rules(masked_text)
    compound, pos, neg, sentences = vader
    rule_compound = shift_compound(compound, ruled.cue_weight - removed_valence(original, ruled.text), sentences)
    names = [*dict.fromkeys(tokens(ruled.lower))]  # what the rules left: politeness and sarcastic praise are gone
    if ruled.fired:
        names += map(RULE_TAGS.__getitem__, ruled.fired)
    dense = (rule_compound, pos, neg, max(ruled.cue_weight, -5.0) / 5.0, float(ruled.request))
    return Features(tuple(names), dense, ruled, rule_compound)


def removed_valence(original: str, rewritten: str) -> float:
    """The lexicon valence of the words masking and the rules took out of the original (each
    distinct word once, less what they put in): what VADER's raw sum should lose.

    The same sums, in the same order, as `lexicon_sum` of the sorted words joined by spaces (a
    word of `str.split` has no space in it), without joining and splitting them again. When the two
    texts have as many words (nine in ten masked complaints: a handle or a URL became a placeholder),
    a word missing from the other text is at a place where the two differ: only those are looked up."""
    if original == rewritten:
        return 0.0
    before, after = original.split(), rewritten.split()
    if len(before) == len(after):
        differs = list(map(ne, before, after))
        gone = {w for w in compress(before, differs) if w not in after}
        added = {w for w in compress(after, differs) if w not in before}
    else:
        first, last = set(before), set(after)
        gone, added = first - last, last - first
    return (words_valence(sorted(gone)) if gone else 0.0) - (words_valence(sorted(added)) if added else 0.0)


# --- the model ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    """Multinomial logistic regression: sparse (2**HASH_BITS x 3), dense (len(DENSE) x 3), bias,
    and the class prior of a customer-service stream (added to the logits at inference).

    For scoring without numpy, the weights are also kept as logits relative to neutral (softmax
    does not change when one number is taken from all three): `relative` holds each bucket's two
    as one number, negative + positive*1j (C floats' precision), so that a text's two logits are
    one `sum` in C."""

    sparse: np.ndarray
    dense: np.ndarray
    bias: np.ndarray
    prior: np.ndarray
    relative: list[complex] = field(compare=False, repr=False)
    offset: tuple[float, float]  # bias + prior, negative and positive relative to neutral
    dense_rows: tuple[tuple[float, float], ...]


def weights_of(model: Model, names: tuple[str, ...]) -> list[complex]:
    """Each name's relative weights (`Model.relative`) at its bucket (`bucket`, written out: a call a name costs).

    A table of every bucket's, not a memory of the names seen: a running daemon's memory of 20,000
    names missed the CPU's caches on most look-ups (the table shares one 0j among its 217,000 empty
    buckets), and each name not seen yet cost a second pass."""
    table = model.relative
    return [table[_crc32(n.encode()) & _MASK] for n in names]


@lru_cache(maxsize=None)
def load_model() -> Model:
    """The shipped weights, read once per process (a few ms; parse workers reuse them)."""
    with resources.files("listener").joinpath("data/verdict.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as data:
            sparse = data["sparse"]
            dense, bias, prior = (data[k].astype(np.float64) for k in ("dense", "bias", "prior"))
    w = sparse.astype(np.float64)
    o = bias + prior
    zero = 0j
    return Model(
        sparse=sparse, dense=dense, bias=bias, prior=prior,
        relative=[complex(a, c) if a or c else zero for a, c in zip(
            (w[:, 0] - w[:, 1]).astype(np.float32).tolist(), (w[:, 2] - w[:, 1]).astype(np.float32).tolist())],
        offset=(float(o[0] - o[1]), float(o[2] - o[1])),
        dense_rows=tuple((float(r[0] - r[1]), float(r[2] - r[1])) for r in dense),
    )


def probabilities(model: Model, f: Features, weights: list[complex]) -> tuple[float, float, float]:
    """P(negative, neutral, positive) for one item, with the service prior applied; `weights`: the
    names' `weights_of` (the caller keeps them for `top_features`)."""
    words = sum(weights)
    (o0, o2), (x0, x1, x2, x3, x4) = model.offset, f.dense  # DENSE's five, added in order
    (w00, w02), (w10, w12), (w20, w22), (w30, w32), (w40, w42) = model.dense_rows
    l0 = o0 + words.real + x0 * w00 + x1 * w10 + x2 * w20 + x3 * w30 + x4 * w40
    l2 = o2 + words.imag + x0 * w02 + x1 * w12 + x2 * w22 + x3 * w32 + x4 * w42
    top = max(l0, 0.0, l2)
    e0, e1, e2 = math.exp(l0 - top), math.exp(-top), math.exp(l2 - top)
    total = e0 + e1 + e2
    return e0 / total, e1 / total, e2 / total


def top_features(names: tuple[str, ...], weights: list[complex], cls: int, k: int = 3) -> list[str]:
    """The word features that pushed hardest toward the chosen class `cls`, above 0.1. A name's push
    is its logit against the mean of the three (neutral's is 0), from its weights (`weights_of`).

    The names above 0.1 (about four of a complaint's fifteen) in a stable sort by push, largest
    first, keep ties in feature order; the top k are taken, and the rules among them left out
    (`why` lists them already)."""
    if cls == 0:
        above = [(push, i) for i, w in enumerate(weights) if (push := 1.5 * (a := w.real) - 0.5 * (a + w.imag)) > 0.1]
    elif cls == 2:
        above = [(push, i) for i, w in enumerate(weights) if (push := 1.5 * (c := w.imag) - 0.5 * (w.real + c)) > 0.1]
    else:
        above = [(push, i) for i, w in enumerate(weights) if (push := -0.5 * (w.real + w.imag)) > 0.1]
    if len(above) > 1:
        above.sort(key=_first, reverse=True)
    return [f"word:{name}" for name in (names[i] for _, i in above[:k]) if not name.startswith("rule:")]


_first = itemgetter(0)
