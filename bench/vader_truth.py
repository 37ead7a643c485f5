"""VADER's four published ground-truth sets, polled through the real pipeline and compared with VADER direct.

    python -m bench.vader_truth [--work bench/.work] [--sets tweets,movies,amazon,nyt]

The sets (Hutto & Gilbert, ICWSM 2014: tweets, movie-review, product-review and NYT-editorial
snippets, each with the mean rating of about 20 people, -4..+4) ship in vaderSentiment 3.3.2's
source distribution on PyPI. The first run downloads it with pip into the work folder (gitignored;
the texts never go into the repository) and unpacks the four `*_GroundTruth.txt` files.

Each text becomes an RSS item (its HTML escaped, then the XML: the text that comes back after
feed parsing and HTML-to-text is the text, unless the cleaner changes it: counted and shown),
served from 127.0.0.1; `listener poll` (the real CLI, a subprocess) stores them in a new
database; each item's `compound` and verdict are read back and set beside VADER direct
(`SentimentIntensityAnalyzer().polarity_scores(text)` on the file's text).

Measures per set: Pearson r of compound with the people's mean rating, and 2-class F1: an item
whose people's mean is > 0 is positive, < 0 negative (= 0 is left out); compound >= 0.05 says
positive and <= -0.05 negative (the VADER paper's thresholds), the verdict's `sentiment` says
positive or negative, and anything else (neutral, unknown) says neither, a miss for the item's
class. F1 is the macro mean of the positive and the negative class's F1.
"""

from __future__ import annotations

import argparse
import html
import io
import math
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

REPO = Path(__file__).resolve().parents[1]
SDIST = "vaderSentiment-3.3.2.tar.gz"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
SETS = {
    "tweets": "tweets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}
PER_FEED = 400  # items per feed file (parse keeps at most 500)
TARGET = 0.005  # pipeline vs VADER direct, in r and in F1


@dataclass(frozen=True)
class Rated:
    key: str  # "<set>-<id>"
    mean: float  # the people's mean rating
    text: str


# --- the data ---------------------------------------------------------------------------

def ground_truth(work: Path) -> Path:
    """The folder with the four GroundTruth files: downloaded (pip, the sdist) and unpacked once."""
    folder = work / "hutto_ICWSM_2014"
    if all((folder / name).is_file() for name in SETS.values()):
        return folder
    sdist = work / SDIST
    if not sdist.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
                        "vaderSentiment==3.3.2", "--no-binary", ":all:", "--no-deps", "-d", str(work)], check=True)
    with tarfile.open(sdist) as outer:
        inner_file = outer.extractfile(INNER)
        if inner_file is None:
            raise SystemExit(f"{sdist} has no {INNER}")
        inner_bytes = inner_file.read()
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        wanted = set(SETS.values())
        for member in inner.getmembers():
            name = Path(member.name).name
            if member.isfile() and name in wanted:  # by name only: no path from the archive is used
                data = inner.extractfile(member)
                assert data is not None
                (folder / name).write_bytes(data.read())
    missing = [n for n in SETS.values() if not (folder / n).is_file()]
    if missing:
        raise SystemExit(f"not in the sdist: {missing}")
    return folder


def read_set(folder: Path, name: str) -> list[Rated]:
    rows = []
    for line in (folder / SETS[name]).read_text(encoding="utf-8").splitlines():
        parts = line.split("\t", 2)
        if len(parts) == 3:
            rows.append(Rated(f"{name}-{parts[0].strip()}", float(parts[1]), parts[2]))
    return rows


# --- the feeds and the poll ---------------------------------------------------------------

def feed_xml(rows: Sequence[Rated], title: str) -> str:
    """RSS whose item descriptions are the texts: HTML-escaped (listener reads a description as
    HTML and decodes its entities), then XML-escaped, so "&amp;" in a tweet comes back as "&amp;"."""
    items = "\n".join(
        f'<item><title></title><guid isPermaLink="false">{escape(r.key)}</guid>'
        f"<description>{escape(html.escape(r.text, quote=False))}</description></item>"
        for r in rows
    )
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>{escape(title)}</title><link>https://ground-truth.example/</link>\n{items}\n</channel></rss>\n")


def write_feeds(root: Path, sets: dict[str, list[Rated]]) -> list[str]:
    paths = []
    for name, rows in sets.items():
        for start in range(0, len(rows), PER_FEED):
            path = f"{name}-{start // PER_FEED:03d}.xml"
            (root / path).write_text(feed_xml(rows[start:start + PER_FEED], f"{name} {start}"), encoding="utf-8")
            paths.append(path)
    return paths


def poll(paths: list[str], base: str, tmp: Path) -> dict[str, tuple[str, float, str | None]]:
    """`listener poll` over the feeds; {item key: (stored content, compound, verdict sentiment)}."""
    lines = [f"database: {tmp / 'truth.db'}", "watch:", "  - name: nothing",
             "    terms: [zzqxnotawordatall]", "fetch: {timeout: 30}", "feeds:"]
    lines += [f"  - name: {p}\n    url: {base}/{p}\n    match: all" for p in paths]
    config = tmp / "feeds.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("LISTENER_CONFIG", "PYTHONPATH")}
    subprocess.run([sys.executable, "-m", "listener", "--config", str(config), "-q", "poll"],
                   check=True, cwd=tmp, env=env, timeout=1800)
    with sqlite3.connect(tmp / "truth.db") as db:
        return {key: (content or "", compound, sentiment) for key, content, compound, sentiment in
                db.execute("SELECT key, content, compound, sentiment FROM items")}


# --- the measures -------------------------------------------------------------------------

def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy)


def compound_label(compound: float) -> str:
    return "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"


def f1_two_class(gold: Sequence[float], said: Sequence[str | None]) -> float:
    """Macro F1 of positive and negative over the items people rated non-zero; any other
    prediction (neutral, unknown) is a miss."""
    pairs = [("positive" if g > 0 else "negative", s) for g, s in zip(gold, said) if g != 0]
    scores = []
    for c in ("positive", "negative"):
        tp = sum(g == c and s == c for g, s in pairs)
        fp = sum(g != c and s == c for g, s in pairs)
        fn = sum(g == c and s != c for g, s in pairs)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / 2


@dataclass(frozen=True)
class Result:
    name: str
    items: int
    changed: int  # texts that came back from feed parsing and cleaning not equal to the file's
    r_direct: float
    r_pipeline: float
    f1_direct: float
    f1_pipeline: float
    f1_verdict: float
    changed_beyond_whitespace: int  # VADER splits on whitespace: folding it changes none of its numbers
    verdict_undecided: float  # share of the rated items the verdict calls neutral or unknown
    vader_undecided: float  # the same for VADER direct's compound
    examples: tuple[str, ...]  # a few changed texts, (file's, stored) repr, for the reader

    @property
    def compound_ok(self) -> bool:
        return abs(self.r_pipeline - self.r_direct) <= TARGET and abs(self.f1_pipeline - self.f1_direct) <= TARGET

    @property
    def verdict_ok(self) -> bool:
        return self.f1_verdict >= self.f1_direct


def measure(name: str, rows: list[Rated], stored: dict[str, tuple[str, float, str | None]]) -> Result:
    vader = SentimentIntensityAnalyzer()
    missing = [r.key for r in rows if r.key not in stored]
    if missing:
        raise SystemExit(f"{name}: {len(missing)} items not stored, e.g. {missing[:3]}")
    gold = [r.mean for r in rows]
    direct = [vader.polarity_scores(r.text)["compound"] for r in rows]
    pipeline = [stored[r.key][1] for r in rows]
    changed = [(r.text, stored[r.key][0]) for r in rows if stored[r.key][0] != r.text]
    rated = [(r, d) for r, d in zip(rows, direct) if r.mean != 0]
    return Result(
        name, len(rows), len(changed),
        pearson(direct, gold), pearson(pipeline, gold),
        f1_two_class(gold, [compound_label(c) for c in direct]),
        f1_two_class(gold, [compound_label(c) for c in pipeline]),
        f1_two_class(gold, [stored[r.key][2] for r in rows]),
        sum(a.split() != b.split() for a, b in changed),
        sum(stored[r.key][2] in ("neutral", "unknown") for r, _ in rated) / len(rated),
        sum(compound_label(d) == "neutral" for _, d in rated) / len(rated),
        tuple(f"{a!r} -> {b!r}" for a, b in changed[:3]),
    )


def table(results: Sequence[Result]) -> str:
    out = ["| set | items | texts changed by parsing (beyond whitespace) | r, VADER direct | r, pipeline compound | "
           "F1, VADER direct | F1, pipeline compound | F1, verdict | neutral/unknown: VADER, verdict | "
           "compound within 0.005 | verdict F1 >= VADER's |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    out += [f"| {r.name} | {r.items:,} | {r.changed} ({r.changed_beyond_whitespace}) | {r.r_direct:.4f} | "
            f"{r.r_pipeline:.4f} | {r.f1_direct:.4f} | {r.f1_pipeline:.4f} | {r.f1_verdict:.4f} | "
            f"{r.vader_undecided:.1%}, {r.verdict_undecided:.1%} | {'yes' if r.compound_ok else 'no'} | "
            f"{'yes' if r.verdict_ok else 'no'} |" for r in results]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("BENCH_WORK") or REPO / "bench" / ".work"))
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args(argv)
    from bench.servers import serve

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    folder = ground_truth(work)
    sets = {name: read_set(folder, name) for name in args.sets.split(",")}
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "feeds"
        root.mkdir()
        paths = write_feeds(root, sets)
        os.chmod(tmp, 0o755)
        with serve(root, tmp, prefer="python") as server:
            stored = poll(paths, server.bases[0], tmp)
    results = [measure(name, rows, stored) for name, rows in sets.items()]
    print(table(results))
    for r in results:
        for example in r.examples:
            print(f"  {r.name}, changed: {example}")
    return 0 if all(r.compound_ok and r.verdict_ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
