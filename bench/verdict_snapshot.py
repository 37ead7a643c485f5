"""Every number and verdict the scorers give on the development sets, to prove a speed-up changed none.

    python -m bench.verdict_snapshot write bench/.work/verdicts-before.jsonl.gz
    python -m bench.verdict_snapshot compare bench/.work/verdicts-before.jsonl.gz

One line per text and setting: VADER's numbers from `listener.sentiment.score`, the verdict of
`score_items` (the pipeline's path, texts in batches) and of `judge` (each field, `why` included), for the `service`
and `vader` scorers, without and with watched terms and staff names (so masking is exercised).
The texts are those of ../shared/sentiment-data (SemEval 2013-2017 and the complaint corpus);
the snapshot holds them, so it lives under bench/.work (gitignored), never in the repository.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.sentiment_eval import STAFF, TARGETS, default_data, semeval  # terms that occur in the corpora: the masks fire often
from listener.sentiment import score
from listener.verdict import judge, score_items

SETTINGS = (("plain", (), ()), ("targets", TARGETS, STAFF))


def development_texts(data: Path) -> list[str]:
    texts = [text for path in sorted((data / "semeval2017-task4a").glob("*.tsv")) for text, _ in semeval(path)]
    with (data / "complaints2019" / "complaints-data.csv").open(encoding="utf-8", newline="") as f:
        texts += [row[1] for row in csv.reader(f) if len(row) >= 3]
    return list(dict.fromkeys(texts))


BATCH = 20  # `score_items` is the pipeline's path: the snapshot judges the texts in batches, as a poll does


def snapshot(texts: list[str]) -> Iterator[dict[str, object]]:
    for start in range(0, len(texts), BATCH):
        batch = texts[start:start + BATCH]
        judged = {(setting, scorer): score_items(batch, vader=score, targets=targets, staff=staff, scorer=scorer)
                  for setting, targets, staff in SETTINGS for scorer in ("service", "vader")}
        for i, text in enumerate(batch, start):
            for setting, targets, staff in SETTINGS:
                row: dict[str, object] = {"i": i, "setting": setting}
                for scorer in ("service", "vader"):
                    s, v = judged[setting, scorer][i - start]
                    row[f"score_item:{scorer}"] = [s.compound, s.pos, s.neu, s.neg, *_verdict(v)]
                row["judge:service"] = _verdict(judge(text, targets=targets, staff=staff))
                yield row


def _verdict(v: object) -> list[object]:
    return [getattr(v, k) for k in ("sentiment", "complaint", "confidence", "language")] + [list(v.why)]


def write(path: Path, texts: list[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for row in snapshot(texts):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def compare(path: Path, texts: list[str]) -> list[str]:
    """The differences (at most 20 shown) between the snapshot at path and the scorers now."""
    differences: list[str] = []
    n = 0
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line, row in zip(f, snapshot(texts), strict=True):
            n += 1
            before = json.loads(line)
            if before != json.loads(json.dumps(row, ensure_ascii=False)):
                differences.append(f"{texts[row['i']]!r} [{row['setting']}]: {before} != {row}")  # type: ignore[index]
    print(f"{n} rows compared, {len(differences)} differ", file=sys.stderr)
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("write", "compare"))
    parser.add_argument("path", type=Path)
    parser.add_argument("--data", type=Path, default=default_data())
    parser.add_argument("--limit", type=int, default=0, help="only the first N texts (a quick check)")
    args = parser.parse_args(argv)
    texts = development_texts(args.data)
    if args.limit:
        texts = texts[:args.limit]
    if args.mode == "write":
        print(f"{write(args.path, texts)} rows written to {args.path}", file=sys.stderr)
        return 0
    differences = compare(args.path, texts)
    for d in differences[:20]:
        print(d)
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
