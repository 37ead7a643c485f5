"""The verdict, stage by stage: masking, the language gate, VADER's numbers, the rules' features,
then the decision (the model's call, or VADER's judgement for general text). The package's
docstring (`listener.verdict`) says what each stage is for; this module is what runs per item,
compiled with mypyc in an installed package (setup.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from listener.models import Label, Scorer, Verdict
from listener.verdict.languages import language
from listener.verdict.masking import Masked, mask_with, maskers
from listener.verdict.model import (
    CLASSES,
    Features,
    VaderNumbers,
    features,
    load_model,
    probabilities,
    removed_valence,
    top_features,
    vader_scores,
    weights_of,
)
from listener.verdict.rules import PLEA, RULE_TAGS, lowered, shift_compound

SUPPORTED_LANGUAGES = frozenset({"en"})


# --- the verdict --------------------------------------------------------------------------

COMPLAINT_CUE_WEIGHT = -2.5  # cues this strong make a complaint unless the text is positive
UNCUED_NEGATIVE_MIN = 0.75  # the model must be this sure to call a text with no cue and no negative word negative
RULES_NEGATIVE = -0.05  # a cued text whose rule-layer compound is at most this is negative (unless praise)
GENERAL_NEGATIVE, GENERAL_POSITIVE = -0.05, 0.05  # VADER's own thresholds, for text not about the brand


def judge(
    text: str,
    *,
    targets: Sequence[str] = (),
    staff: Sequence[str] = (),
    thresholds: tuple[float, float] = (-0.05, 0.05),
    scorer: Scorer = "service",
    compound: float | None = None,
    about_target: bool | None = None,
) -> Verdict:
    """listener's verdict on an item's text (its `scoring_text`).

    `targets`: every watched term of the config (all watch entries); `staff`: staff.authors;
    `thresholds`: (negative, positive) for the `vader` scorer; `compound`: VADER's compound the
    caller already has (the `vader` scorer uses it instead of scoring again); `about_target`:
    whether the text is about the brand (None: it is when it names a watched term or writes to
    a handle that starts with one). Text that is not, and has no complaint cue with a negative
    rule-layer score, keeps VADER's judgement after masking and the rules (`decided_by:general_text`).

    >>> judge("@acme help!! 3 weeks and no reply, please fix", targets=["acme"]).sentiment
    'negative'
    """
    return _judge_all((text,), targets, staff, thresholds, scorer, (None,), about_target, compound)[0]


def _judge_all(
    texts: Sequence[str], targets: Sequence[str], staff: Sequence[str], thresholds: tuple[float, float], scorer: Scorer,
    numbers: Sequence[VaderNumbers | None], about_target: bool | None, compound: float | None = None,
) -> list[Verdict]:
    """The verdicts on texts, stage by stage: each stage runs over every text before the next starts,
    so its code and tables stay in the CPU's caches (a batch of 20 is about a tenth faster than item
    by item). `numbers`: VADER's numbers of each text the caller has (None: computed here)."""
    found = maskers(tuple(targets), tuple(staff))
    masks = [mask_with(t, found) for t in texts]
    languages = [language(m.text) for m in masks]
    if scorer == "vader":
        return [_vader_verdict(t, lang[0], thresholds, n[0] if n else compound)
                for t, lang, n in zip(texts, languages, numbers)]
    scores = [(vader_scores(t) if n is None else n) if lang[0] in SUPPORTED_LANGUAGES else None
              for t, lang, n in zip(texts, languages, numbers)]
    feats = [None if n is None else features(m.text, t, n) for t, m, n in zip(texts, masks, scores)]
    return [_decide(*args, about_target) for args in zip(texts, masks, languages, scores, feats)]


def _decide(
    text: str, masked: Masked, lang: tuple[str, float, str | None], scores: VaderNumbers | None, f: Features | None,
    about_target: bool | None,
) -> Verdict:
    """The verdict from what the stages found: unknown language, nothing to score, general text or the model's call."""
    code, lang_confidence, lang_note = lang
    why = [*map(_MASKED_TAGS.__getitem__, masked.masked), *([lang_note] if lang_note else [])]
    if scores is None or f is None:
        return Verdict("unknown", False, round(lang_confidence, 3), code, tuple(why))
    if not f.names:
        return Verdict("neutral", False, 1.0, code, tuple(why + ["nothing_to_score"]))
    cued = f.ruled.complaint
    if not (masked.names_target if about_target is None else about_target) and not (
        cued and f.rule_compound <= RULES_NEGATIVE
    ):
        return _general_verdict(f, code, why, text, masked.text, scores)
    model = load_model()
    weights = weights_of(model, f.names)
    p = probabilities(model, f, weights)
    cls = 0 if p[0] >= p[1] and p[0] >= p[2] else 1 if p[1] >= p[2] else 2  # the first most likely
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
    why += map(RULE_TAGS.__getitem__, f.ruled.fired)
    why.append(f"vader_after_rules:{f.rule_compound:+.2f}")
    why += top_features(f.names, weights, cls)
    return Verdict(sentiment, complaint, round(p[cls], 3), code, tuple(why))


_MASKED_TAGS = {kind: f"masked:{kind}" for kind in ("target", "handle", "staff", "url", "email")}


def _general_verdict(f: Features, lang: str, why: list[str], text: str, masked_text: str, vader: VaderNumbers) -> Verdict:
    """A text not about the brand and with no complaint language: VADER's judgement after masking
    and the politeness rules stands (the model, trained for service language, is not asked). A
    polite request that is no plea for help keeps its politeness, as VADER reads it (`rules.PLEA`)."""
    c = f.rule_compound
    if f.ruled.fired and not f.ruled.cue_weight and not PLEA.search(lowered(masked_text)):
        c = shift_compound(vader[0], -removed_valence(text, masked_text), vader[3])
        why.append("politeness_kept:no_plea")
    why += ["decided_by:general_text", *map(RULE_TAGS.__getitem__, f.ruled.fired), f"vader_after_rules:{c:+.2f}"]
    return _thresholded(c, (GENERAL_NEGATIVE, GENERAL_POSITIVE), lang, tuple(why))


def _vader_verdict(text: str, lang: str, thresholds: tuple[float, float], compound: float | None) -> Verdict:
    """Today's behaviour: VADER's compound against the thresholds; language shown, never gating."""
    c = vader_scores(text)[0] if compound is None else compound
    return _thresholded(c, thresholds, lang, (f"vader_compound:{c:+.4f}",))


def _thresholded(c: float, thresholds: tuple[float, float], lang: str, why: tuple[str, ...]) -> Verdict:
    """A compound against (negative, positive) thresholds; the confidence is how far it leans (or does not)."""
    negative, positive = thresholds
    label: Label = "negative" if c <= negative else "positive" if c >= positive else "neutral"
    confidence = abs(c) if label != "neutral" else 1 - abs(c)
    return Verdict(label, False, round(min(1.0, confidence), 3), lang, why)


MODEL_VERSION = "5"  # bump with the weights or the rules: `listener rescore` re-judges what an older one made


def verdict_version(scorer: Scorer) -> str:
    return f"{scorer}:{MODEL_VERSION}" if scorer == "service" else "vader"


def verdict_json(verdict: Verdict) -> str:
    """`why` as the JSON text stored in the `why` column."""
    import json

    return json.dumps(list(verdict.why), ensure_ascii=False)


class VaderScores(Protocol):
    """What `listener.sentiment.score` returns (listener.models.Sentiment), as far as the verdict reads
    it; its `sentences` (how many sentences the numbers are the mean of) is read when it has one, else 1."""

    @property
    def compound(self) -> float: ...
    @property
    def pos(self) -> float: ...
    @property
    def neg(self) -> float: ...


S = TypeVar("S", bound=VaderScores)


def score_item(
    text: str,
    *,
    vader: Callable[[str], S],
    targets: Sequence[str] = (),
    staff: Sequence[str] = (),
    thresholds: tuple[float, float] = (-0.05, 0.05),
    scorer: Scorer = "service",
    about_target: bool | None = None,
) -> tuple[S, Verdict]:
    """VADER's scores of an item's text and the verdict on it, VADER run once.

    `vader` is `listener.sentiment.score` (its result is returned as it is: VADER's numbers). The
    verdict reads those numbers instead of scoring the text again; `judge(text)` computes the same
    ones itself (equal for a tweet-length text; for a long one, its own sentence split).

    >>> from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    >>> from types import SimpleNamespace
    >>> vader = lambda t: SimpleNamespace(**SentimentIntensityAnalyzer().polarity_scores(t))
    >>> scores, verdict = score_item("@acme 3 weeks and no reply", vader=vader, targets=["acme"])
    >>> scores.compound, verdict.sentiment
    (-0.296, 'negative')
    """
    return score_items((text,), vader=vader, targets=targets, staff=staff, thresholds=thresholds, scorer=scorer,
                       about_target=about_target)[0]


def score_items(
    texts: Sequence[str],
    *,
    vader: Callable[[str], S],
    targets: Sequence[str] = (),
    staff: Sequence[str] = (),
    thresholds: tuple[float, float] = (-0.05, 0.05),
    scorer: Scorer = "service",
    about_target: bool | None = None,
) -> list[tuple[S, Verdict]]:
    """`score_item` of each text, stage by stage over all of them (a feed body's items, a rescore
    batch): the same numbers and verdicts, in less time than one by one."""
    scores = [vader(t) for t in texts]
    numbers = [(s.compound, s.pos, s.neg, getattr(s, "sentences", 1)) for s in scores]
    return list(zip(scores, _judge_all(texts, targets, staff, thresholds, scorer, numbers, about_target)))
