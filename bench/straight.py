"""The straightforward pipeline listener is measured against: what a competent script does.

    python -m bench.straight URLS_FILE DATABASE

Two worker processes (one per core) each fetch a feed with urllib, `feedparser.parse` the bytes
and score every entry's title and summary with VADER; the parent inserts the rows into SQLite,
one transaction per feed. Prints "items N".
"""

from __future__ import annotations

import sqlite3
import sys
import urllib.request
from multiprocessing import Pool
from typing import Any

_analyzer: Any = None


def _init() -> None:
    global _analyzer
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    _analyzer = SentimentIntensityAnalyzer()


def _work(url: str) -> tuple[str, list[tuple[str, str, str, float]]]:
    import feedparser

    with urllib.request.urlopen(url, timeout=30) as response:
        parsed = feedparser.parse(response.read())
    rows = []
    for entry in parsed.entries:
        text = f"{entry.get('title', '')}\n{entry.get('summary', '')}"
        rows.append((entry.get("id") or entry.get("link") or text[:100], entry.get("title", ""), text,
                     _analyzer.polarity_scores(text)["compound"]))
    return url, rows


def main(argv: list[str]) -> int:
    urls = [line.strip() for line in open(argv[0]) if line.strip()]
    conn = sqlite3.connect(argv[1])
    conn.execute("CREATE TABLE IF NOT EXISTS items (feed TEXT, id TEXT, title TEXT, text TEXT, compound REAL,"
                 " UNIQUE(feed, id))")
    stored = 0
    with Pool(2, initializer=_init) as pool:
        for url, rows in pool.imap_unordered(_work, urls, chunksize=4):
            with conn:
                conn.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)",
                                 [(url, *row) for row in rows])
            stored += len(rows)
    conn.close()
    print(f"items {stored}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
