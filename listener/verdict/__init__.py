"""listener's own verdict on an item: sentiment, complaint, confidence, language and why.

VADER's numbers (`listener.sentiment`) stay VADER's; the verdict is what decisions use. The
`service` scorer, built for customer-service language:

1. masking (`verdict_rules.mask`): the watched terms, @handles, staff names, URLs and e-mail
   addresses are the target, never sentiment;
2. the rule layer (`verdict_rules.apply_rules`): politeness made neutral, complaint cues
   weighted, sarcasm; VADER scores what is left and the cues shift its compound;
3. a logistic regression on hashed word 1-2-grams, the rules that fired and the rule-layer
   VADER scores (weights in `listener/data/verdict.npz`, built by `tools/train_verdict.py`);
4. language identification (py3langid): a text not in English is `unknown`.

The `vader` scorer is the old behaviour: sentiment from compound and the thresholds, no complaint.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from listener.models import Label, Scorer, Verdict
from listener.verdict.rules import Ruled, apply_rules, mask, shift_compound

CLASSES: tuple[Label, ...] = ("negative", "neutral", "positive")
SUPPORTED_LANGUAGES = frozenset({"en"})
HASH_BITS = 18
DENSE = ("rule_compound", "rule_pos", "rule_neg", "cue_weight", "request")

MAX_CHARS = 5_000  # the verdict reads at most this much of a text ...
MAX_PIECES = 40  # ... and at most this many of its sentences
MAX_PIECE_WORDS = 150  # VADER's cost grows with the square of a sentence's length
SHORT_MAX_CHARS = 320  # as listener.sentiment: a tweet-length text is scored whole
SHORT_MAX_SENTENCES = 4
SHORT_TEXT_WORDS = 3  # fewer words than this: too little to tell a language, taken for English
LANGUAGE_MIN_CONFIDENCE = 0.5  # below this the language is too unsure to leave a text unscored


# --- VADER on the rule layer's text -------------------------------------------------------

@lru_cache(maxsize=None)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+")


def _pieces(text: str) -> list[str]:
    """The text whole when tweet-length, else its sentences (bounded), run-ons cut into pieces."""
    text = text[:MAX_CHARS]
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    if len(text) <= SHORT_MAX_CHARS and len(sentences) <= SHORT_MAX_SENTENCES:
        sentences = [text]
    pieces: list[str] = []
    for sentence in sentences[:MAX_PIECES]:
        words = sentence.split()
        pieces.extend(" ".join(words[i:i + MAX_PIECE_WORDS]) for i in range(0, len(words), MAX_PIECE_WORDS))
    return pieces[:MAX_PIECES]


def vader_scores(text: str) -> tuple[float, float, float]:
    """(compound, pos, neg) of VADER on text: whole when short, the mean of its sentences when long."""
    pieces = _pieces(text)
    if not pieces:
        return 0.0, 0.0, 0.0
    scores = [_analyzer().polarity_scores(p) for p in pieces]
    n = len(scores)
    return (sum(s["compound"] for s in scores) / n, sum(s["pos"] for s in scores) / n,
            sum(s["neg"] for s in scores) / n)


# --- features -----------------------------------------------------------------------------

_TOKEN = re.compile(r"#?[a-z0-9']+|[!?]|[:;]-?[()dp]|[\u2600-\u27bf\U0001F300-\U0001FAFF]")


@dataclass(frozen=True)
class Features:
    """What the model reads: hashed sparse features (with their names, for `why`) and dense ones."""

    names: tuple[str, ...]
    buckets: np.ndarray  # int64 indices into the weight table, one per name
    dense: np.ndarray  # float64, len(DENSE)
    ruled: Ruled
    rule_compound: float


def bucket(name: str) -> int:
    """A stable hash (crc32, not Python's salted hash) of a feature name into the weight table."""
    return zlib.crc32(name.encode("utf-8")) & ((1 << HASH_BITS) - 1)


def features(masked_text: str) -> Features:
    """The model's features for a masked text: word 1-2-grams, the rules that fired, VADER after the rules."""
    ruled = apply_rules(masked_text)
    compound, pos, neg = vader_scores(ruled.text)
    rule_compound = shift_compound(compound, ruled.cue_weight)
    tokens = _TOKEN.findall(ruled.text.lower())  # what the rules left: politeness and sarcastic praise are gone
    names = list(dict.fromkeys(tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]))
    names += [f"rule:{r}" for r in ruled.fired]
    dense = np.array([rule_compound, pos, neg, max(ruled.cue_weight, -5.0) / 5.0, float(ruled.request)])
    return Features(tuple(names), np.array([bucket(n) for n in names], dtype=np.int64), dense, ruled, rule_compound)


# --- the model ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    """Multinomial logistic regression: sparse (2**HASH_BITS x 3), dense (len(DENSE) x 3), bias,
    and the class prior of a customer-service stream (added to the logits at inference)."""

    sparse: np.ndarray
    dense: np.ndarray
    bias: np.ndarray
    prior: np.ndarray

    @property
    def offset(self) -> np.ndarray:
        return self.bias + self.prior


@lru_cache(maxsize=None)
def load_model() -> Model:
    """The shipped weights, read once per process (about 2 ms; parse workers reuse them)."""
    with resources.files("listener").joinpath("data/verdict.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as data:
            return Model(
                sparse=data["sparse"].astype(np.float64), dense=data["dense"].astype(np.float64),
                bias=data["bias"].astype(np.float64), prior=data["prior"].astype(np.float64),
            )


def probabilities(model: Model, f: Features) -> tuple[np.ndarray, np.ndarray]:
    """P(negative, neutral, positive) for one item, with the service prior applied; and the
    weight rows of its sparse features (for `why`)."""
    rows = model.sparse[f.buckets]
    logits = rows.sum(axis=0) + f.dense @ model.dense + model.offset
    p = np.exp(logits - logits.max())
    return p / p.sum(), rows


def _top_features(names: tuple[str, ...], rows: np.ndarray, cls: int, k: int = 3) -> list[str]:
    """The word features that pushed hardest toward the chosen class (against the other two)."""
    if not names:
        return []
    push = rows[:, cls] * 1.5 - rows.sum(axis=1) / 2
    best = np.argsort(-push, kind="stable")[:k].tolist()
    return [f"word:{names[i]}" for i in best if push[i] > 0.1 and not names[i].startswith("rule:")]


# --- language -----------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+")
_PLACEHOLDERS = frozenset({"xtarget", "xhandle", "xstaff", "xurl", "xemail"})
# Words common in English tweets and rare as words of other languages: a text that is mostly
# these is English without asking the identifier (it is as slow as VADER on a tweet).
_ENGLISH = frozenset(
    "the and to you my is it for of this that was not have with be are but your just can what "
    "they been from why how will when or our has had would there out about if i me we he she "
    "them their is isn't don't can't didn't it's i'm you're get got still again help please thanks "
    "flight service customer hours days never no any now today ever why who where "
    "a an at on in so all do go see one new like love good great day time people think know "
    "going want see up off back after last first tomorrow tonight night may might should could "
    "than then only even very really more much some too here who which also being were".split()
)


@lru_cache(maxsize=None)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language(masked_text: str) -> tuple[str, float, str | None]:
    """(ISO 639-1 code, confidence, a `why` note or None) for a masked text."""
    words = [w for w in _WORD.findall(masked_text.lower()) if w not in _PLACEHOLDERS]
    if len(words) < SHORT_TEXT_WORDS:
        return "en", 1.0, "language:too_short_assumed_en"
    if sum(w in _ENGLISH for w in words) * 5 >= len(words):
        return "en", 1.0, None
    text = " ".join(w for w in masked_text.split() if w.lower().strip(".,!?:;") not in _PLACEHOLDERS)
    code, confidence = _identifier().classify(text)
    if code == "en":
        return "en", float(confidence), None
    if confidence < LANGUAGE_MIN_CONFIDENCE:
        return "en", float(confidence), f"language:unsure({code})_assumed_en"
    return str(code), float(confidence), f"language:{code}"


# --- the verdict --------------------------------------------------------------------------

COMPLAINT_CUE_WEIGHT = -2.5  # cues this strong make a complaint unless the text is positive
UNCUED_NEGATIVE_MIN = 0.75  # the model must be this sure to call a text with no cue and no negative word negative
RULES_NEGATIVE = -0.05  # a cued text whose rule-layer compound is at most this is negative (unless praise)


def judge(
    text: str,
    *,
    targets: Sequence[str] = (),
    staff: Sequence[str] = (),
    thresholds: tuple[float, float] = (-0.05, 0.05),
    scorer: Scorer = "service",
    compound: float | None = None,
) -> Verdict:
    """listener's verdict on an item's text (its `scoring_text`).

    `targets`: every watched term of the config (all watch entries); `staff`: staff.authors;
    `thresholds`: (negative, positive) for the `vader` scorer; `compound`: VADER's compound the
    caller already has (the `vader` scorer uses it instead of scoring again).

    >>> judge("@acme help!! 3 weeks and no reply, please fix", targets=["acme"]).sentiment
    'negative'
    """
    masked = mask(text, targets, staff)
    lang, lang_confidence, lang_note = language(masked.text)
    if scorer == "vader":
        return _vader_verdict(text, lang, thresholds, compound)
    why = [f"masked:{k}" for k in masked.masked] + ([lang_note] if lang_note else [])
    if lang not in SUPPORTED_LANGUAGES:
        return Verdict("unknown", False, round(lang_confidence, 3), lang, tuple(why))
    model = load_model()
    f = features(masked.text)
    if not f.names:
        return Verdict("neutral", False, 1.0, lang, tuple(why + ["nothing_to_score"]))
    p, rows = probabilities(model, f)
    cls = int(p.argmax())
    cued = any(not r.startswith(("politeness", "courtesy")) for r in f.ruled.fired)
    if cls != 0 and cued and f.rule_compound <= RULES_NEGATIVE and p[2] < 0.5:
        cls = 0  # complaint cues and a negative rule-layer score: negative unless the model is sure it is praise
        why.append("decided_by:rules")
    if cls == 0 and not cued and abs(f.rule_compound) < 0.05 and p[0] < UNCUED_NEGATIVE_MIN:
        cls = 1  # no cue, no negative word: the model's lean alone does not make a post a complaint
        why.append("decided_by:no_cue")
    sentiment = CLASSES[cls]
    complaint = (sentiment == "negative" and (cued or p[0] >= 0.6)) or (
        sentiment == "neutral" and f.ruled.cue_weight <= COMPLAINT_CUE_WEIGHT
    )
    why += [f"rule:{r}" for r in f.ruled.fired]
    why.append(f"vader_after_rules:{f.rule_compound:+.2f}")
    why += _top_features(f.names, rows, cls)
    return Verdict(sentiment, complaint, round(float(p[cls]), 3), lang, tuple(why))


def _vader_verdict(text: str, lang: str, thresholds: tuple[float, float], compound: float | None) -> Verdict:
    """Today's behaviour: VADER's compound against the thresholds; language shown, never gating."""
    c = vader_scores(text)[0] if compound is None else compound
    negative, positive = thresholds
    label: Label = "negative" if c <= negative else "positive" if c >= positive else "neutral"
    confidence = abs(c) if label != "neutral" else 1 - abs(c)
    return Verdict(label, False, round(min(1.0, confidence), 3), lang, (f"vader_compound:{c:+.4f}",))


MODEL_VERSION = "1"  # bump with the weights or the rules: `listener rescore` re-judges what an older one made


def verdict_version(scorer: Scorer) -> str:
    return f"{scorer}:{MODEL_VERSION}" if scorer == "service" else "vader"


def verdict_json(verdict: Verdict) -> str:
    """`why` as the JSON text stored in the `why` column."""
    import json

    return json.dumps(list(verdict.why), ensure_ascii=False)
