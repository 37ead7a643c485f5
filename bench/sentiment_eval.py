"""How well each scorer hears complaints: plain VADER, VADER after masking and rules, the full verdict.

    python -m bench.sentiment_eval [--data ../shared/sentiment-data]

On the SemEval 2017 test set (`twitter-2017test-A.tsv`, 3 classes; the verdict's model never
trained on it) and on the complaint corpus (`complaints2019`, evaluation only; complaint = the
negative class, 2 classes: negative vs not): accuracy, macro-F1, negative precision and recall,
the share of negative messages labelled positive, and scoring throughput (items/s, one core).
"plain VADER" is vaderSentiment's `polarity_scores` alone. The last row is what the pipeline pays
per item (VADER's numbers from listener.sentiment plus the verdict, VADER run once); under each
table, its throughput as a share of plain VADER's, timed interleaved (the target is 2/3), with
the load average of the machine.
Throughput is the best of REPEATS timed runs: the machine is shared, the best run is the least disturbed.
The verdict's texts are judged in batches of BATCH, as the pipeline judges a feed body's new items.
The scoring modules run as installed: compiled (setup.py), or from their source with
LISTENER_SOURCE_ONLY=1 (`bench.pure`); the share line says which.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bench.pure import build
from listener.sentiment import score
from listener.verdict import features, judge, load_model, score_item, score_items, vader_scores
from listener.verdict.masking import mask

# Brands and staff that occur in the corpora: a config's watched terms and staff names to mask
TARGETS = ("united", "amazon", "apple", "delta", "@AmericanAir", "spirit", "joy airlines", "best buy", "xbox")
STAFF = ("Tim Cook", "Sarah", "jeff")

NEGATIVE, POSITIVE = -0.05, 0.05
_VADER = SentimentIntensityAnalyzer()
Scorer = Callable[[str], str]
BatchScorer = Callable[[list[str]], list[str]]


def label(compound: float) -> str:
    return "negative" if compound <= NEGATIVE else "positive" if compound >= POSITIVE else "neutral"


def plain_vader(text: str) -> str:
    """vaderSentiment's own `polarity_scores`, nothing else: the baseline of the throughput target."""
    return label(_VADER.polarity_scores(text)["compound"])


def listener_vader(text: str) -> str:
    """VADER's numbers as the pipeline computes them (listener.sentiment: the same numbers, faster)."""
    return label(score(text).compound)


def vader_masked_rules(text: str) -> str:
    return label(features(mask(text).text, text, vader_scores(text)).rule_compound)


def full_verdict(text: str) -> str:
    """The verdict on a mention: every mention names a watched term, so the model decides."""
    return judge(text, about_target=True).sentiment


def general_verdict(text: str) -> str:
    """The verdict on text that names no watched term (a reply, general language)."""
    return judge(text).sentiment


BATCH = 20  # texts judged together, as a poll judges a feed body's new items and rescore its batches


def vader_and_verdict(texts: list[str]) -> list[str]:
    """The whole per-item cost in the pipeline for mentions: VADER's numbers (listener.sentiment)
    and the verdict, a feed body's texts judged together (`score_items`)."""
    return [v.sentiment for _, v in score_items(texts, vader=score, about_target=True)]


def with_watched_terms(texts: list[str]) -> list[str]:
    """`vader_and_verdict` with watched terms and staff names to mask, as a poll has them."""
    return [v.sentiment for _, v in score_items(texts, vader=score, targets=TARGETS, staff=STAFF, about_target=True)]


def one_by_one(texts: list[str]) -> list[str]:
    """`vader_and_verdict` one text at a time (`score_item`): what judging a single item costs."""
    return [score_item(t, vader=score, about_target=True)[1].sentiment for t in texts]


def each(scorer: Scorer) -> BatchScorer:
    return lambda texts: [scorer(t) for t in texts]


SCORERS: dict[str, BatchScorer] = {
    "plain VADER": each(plain_vader),
    "VADER's numbers, listener.sentiment": each(listener_vader),
    "VADER + masking + rules": each(vader_masked_rules),
    "full verdict (service), as a mention": each(full_verdict),
    "full verdict (service), as general text": each(general_verdict),
    f"VADER + verdict, in batches of {BATCH} (score_items)": vader_and_verdict,
}


def default_data() -> Path:
    return Path(os.environ.get("LISTENER_SENTIMENT_DATA", Path(__file__).resolve().parents[2] / "shared" / "sentiment-data"))


def semeval(path: Path) -> list[tuple[str, str]]:
    """(text, label) of a SemEval task 4A file: id, label, then the tweet (tabs in it kept)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.rstrip("\t").split("\t")
        if len(parts) >= 3:
            rows.append(("\t".join(parts[2:]), parts[1]))
    return rows


def semeval_test(data: Path) -> list[tuple[str, str]]:
    return semeval(data / "semeval2017-task4a" / "twitter-2017test-A.tsv")


def complaints(data: Path, brands_only: bool = False) -> list[tuple[str, str]]:
    """The complaint corpus; `brands_only` leaves out its random tweets and replies (domain
    `random_*`), which are addressed to no brand: what remains is nearer a support stream."""
    with (data / "complaints2019" / "complaints-data.csv").open(encoding="utf-8", newline="") as f:
        return [(row[1], "negative" if row[2] == "1" else "other") for row in csv.reader(f)
                if len(row) >= 4 and not (brands_only and row[3].startswith("random"))]


def metrics(gold: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    def f1(c: str) -> float:
        tp = sum(g == c and p == c for g, p in zip(gold, predicted))
        fp = sum(g != c and p == c for g, p in zip(gold, predicted))
        fn = sum(g == c and p != c for g, p in zip(gold, predicted))
        return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

    tp = sum(g == p == "negative" for g, p in zip(gold, predicted))
    said_negative = sum(p == "negative" for p in predicted)
    negatives = sum(g == "negative" for g in gold)
    return {
        "accuracy": sum(g == p for g, p in zip(gold, predicted)) / len(gold),
        "macro_f1": sum(f1(c) for c in classes) / len(classes),
        "neg_precision": tp / said_negative if said_negative else 0.0,
        "neg_recall": tp / negatives if negatives else 0.0,
        "neg_as_positive": sum(g == "negative" and p == "positive" for g, p in zip(gold, predicted)) / max(negatives, 1),
    }


REPEATS = 3


def batches(texts: list[str]) -> list[list[str]]:
    return [texts[i:i + BATCH] for i in range(0, len(texts), BATCH)]


def evaluate(rows: list[tuple[str, str]], scorer: BatchScorer, classes: Sequence[str]) -> tuple[dict[str, float], float]:
    texts = batches([t for t, _ in rows])
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        predicted = [label for batch in texts for label in scorer(batch)]
        best = min(best, time.perf_counter() - started)
    rate = len(rows) / best
    gold = [g for _, g in rows]
    m = metrics(gold, predicted, ("negative", "neutral", "positive"))
    if "other" in classes:
        as_positive = m["neg_as_positive"]
        m = metrics(gold, [p if p == "negative" else "other" for p in predicted], classes)
        m["neg_as_positive"] = as_positive
    return m, rate


def paired_share(rows: list[tuple[str, str]], rounds: int = 7) -> dict[str, float]:
    """The pipeline's items/s (`score_items` in batches of BATCH; also with watched terms to mask,
    and `score_item` one by one) as shares of plain vaderSentiment's, timed in alternation on the
    same texts (a round of each, `rounds` times; the best of each): load on a shared machine moves
    all alike."""
    texts = batches([t for t, _ in rows])
    runs = {"vader": each(plain_vader), "batched": vader_and_verdict, "with terms": with_watched_terms,
            "one by one": one_by_one}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, scorer in runs.items():
            started = time.perf_counter()
            for batch in texts:
                scorer(batch)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: best["vader"] / t for name, t in best.items() if name != "vader"}


def share_line(shares: dict[str, float]) -> str:
    return (f"{shares['batched']:.2f} of plain VADER's items/s in batches of {BATCH} (target >= 0.67); "
            f"{shares['with terms']:.2f} with {len(TARGETS)} watched terms and {len(STAFF)} staff names to mask, "
            f"{shares['one by one']:.2f} one by one; {build()}; load average {os.getloadavg()[0]:.2f}")


def warm_up() -> None:
    """Load what a poll has loaded before it scores: the weights and the language identifier."""
    load_model()
    judge("warm up the language identifier: das ist ein deutscher Satz, bitte")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--share", action="store_true", help="only the throughput share of each set (quick)")
    args = parser.parse_args(argv)
    warm_up()
    sets = [("SemEval 2017 test (3-class)", semeval_test(args.data), ("negative", "neutral", "positive")),
            ("complaints2019 (complaint vs not)", complaints(args.data), ("negative", "other")),
            ("complaints2019, brand domains only (complaint vs not)", complaints(args.data, brands_only=True),
             ("negative", "other"))]
    for title, rows, classes in sets:
        if args.share:
            print(f"{title}: {share_line(paired_share(rows))}")
            continue
        print(f"\n{title}: {len(rows)} items")
        print("| scorer | accuracy | macro-F1 | neg precision | neg recall | negatives labelled positive | items/s |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        rates = {}
        for name, scorer in SCORERS.items():
            m, rates[name] = evaluate(rows, scorer, classes)
            print(f"| {name} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['neg_precision']:.3f} | "
                  f"{m['neg_recall']:.3f} | {m['neg_as_positive']:.1%} | {rates[name]:,.0f} |")
        print(f"\nper-item cost, VADER + verdict: {share_line(paired_share(rows))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
