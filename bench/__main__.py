"""Poll the 53 real-world feeds served on 127.0.0.1, and compare with a naive poller measured in the same run.

The baseline is what a straightforward feed-to-sentiment script does: fetch each feed in turn,
`feedparser.parse` it, score every entry with VADER, insert every row. `listener poll` should beat
it by fetching concurrently, parsing on both cores, and skipping work whose output is thrown away.

    python -m bench [--repeat N] [--feeds DIR]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REALFEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "realfeeds"


class _Files(BaseHTTPRequestHandler):
    root: Path
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        etag = f'"{path.stat().st_mtime_ns:x}-{len(body):x}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(root: Path) -> ThreadingHTTPServer:
    handler = type("Files", (_Files,), {"root": root})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def naive_poll(urls: list[str], database: Path) -> int:
    """The baseline: sequential fetch, feedparser, VADER on every entry, one insert per row."""
    import feedparser
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    conn = sqlite3.connect(database)
    conn.execute("CREATE TABLE IF NOT EXISTS items (feed TEXT, id TEXT, title TEXT, text TEXT, compound REAL,"
                 " UNIQUE(feed, id))")
    stored = 0
    for url in urls:
        with urllib.request.urlopen(url, timeout=20) as response:
            parsed = feedparser.parse(response.read())
        for entry in parsed.entries:
            text = f"{entry.get('title', '')}\n{entry.get('summary', '')}"
            scores = analyzer.polarity_scores(text)
            conn.execute("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?)",
                         (url, entry.get("id") or entry.get("link") or text[:100], entry.get("title"), text,
                          scores["compound"]))
            stored += 1
        conn.commit()
    conn.close()
    return stored


def write_config(directory: Path, urls: list[str], *, match: str) -> Path:
    lines = ["database: listener.db", "watch:", "  - name: web", "    terms: [python, wordpress, google, apple]",
             "feeds:"]
    for index, url in enumerate(urls):
        lines += [f"  - name: feed{index}", f"    url: {url}", f"    match: {match}"]
    path = directory / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--feeds", type=Path, default=REALFEEDS)
    args = parser.parse_args()
    if not args.feeds.is_dir():
        print(f"bench: no feeds at {args.feeds}", file=sys.stderr)
        return 1

    from listener import pipeline
    from listener.config import load_config

    files = sorted(p.name for p in args.feeds.iterdir() if p.suffix in {".xml", ".rss", ".atom", ".rdf"})
    size = sum((args.feeds / f).stat().st_size for f in files)
    server = serve(args.feeds)
    urls = [f"http://127.0.0.1:{server.server_address[1]}/{name}" for name in files]
    print(f"{len(files)} feeds, {size / 1e6:.1f} MB, served on 127.0.0.1; best of {args.repeat}")

    rows: dict[str, list[float]] = {"baseline": [], "terms": [], "all": [], "again": []}
    items = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, items["baseline"] = timed(naive_poll, urls, Path(tmp) / "naive.db")
            rows["baseline"].append(seconds)
        for match in ("terms", "all"):
            with tempfile.TemporaryDirectory() as tmp:
                config = load_config(write_config(Path(tmp), urls, match=match))
                seconds, summary = timed(pipeline.poll, config, force=True)
                rows[match].append(seconds)
                items[match] = summary.new_items
                if match == "all":
                    seconds, again = timed(pipeline.poll, config, force=True)
                    rows["again"].append(seconds)
                    items["again"] = again.new_items
    server.shutdown()

    base = min(rows["baseline"])
    labels = {
        "baseline": "naive: sequential, feedparser, VADER on every entry",
        "terms": "listener poll, watch terms (scores hits only)",
        "all": "listener poll, match: all (scores every item)",
        "again": "listener poll again, unchanged feeds (304s)",
    }
    print(f"{'run':<55} {'best s':>7} {'median s':>9} {'items':>6} {'items/s':>8} {'vs naive':>9}")
    for key, label in labels.items():
        best = min(rows[key])
        rate = items[key] / best if items[key] else 0
        print(f"{label:<55} {best:7.2f} {statistics.median(rows[key]):9.2f} {items[key]:6d} {rate:8.0f} "
              f"{base / best:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
