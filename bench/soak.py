"""A soak run of the daemon: the sample feeds served on 127.0.0.1, a real SMTP server, N minutes.

    python -m bench.soak [--minutes 10]

Serves sample/ over HTTP with ETags (plus one feed that always answers 503), runs `listener run`
as a subprocess with short intervals, publishes a new angry comment half-way through, then
sends SIGTERM. Prints cycles, requests, 304s, back-off of the broken feed, digests received,
and the daemon's memory and file descriptors sampled every 10 s.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

NEW_COMMENT = """
	<item>
		<title>By: Late Reader</title>
		<link>https://blog.quillfeather.example/2026/11/sync-outage/#comment-999</link>
		<dc:creator><![CDATA[Late Reader]]></dc:creator>
		<pubDate>Wed, 25 Nov 2026 12:00:00 +0000</pubDate>
		<guid isPermaLink="false">https://blog.quillfeather.example/?p=999</guid>
		<description><![CDATA[Still broken for me. Quillfeather, this is unacceptable.]]></description>
	</item>
"""


class SoakServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.log: list[tuple[float, str, int]] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: SoakServer
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/broken.xml":
            return self._reply(503, b"maintenance", {"Retry-After": "5"})
        file = self.server.root / path.lstrip("/")
        if not file.is_file():
            return self._reply(404, b"")
        body = file.read_bytes()
        etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
        if self.headers.get("If-None-Match") == etag:
            return self._reply(304, b"", {"ETag": etag})
        self._reply(200, body, {"ETag": etag, "Content-Type": "application/xml"})

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        with self.server.lock:
            self.server.log.append((time.monotonic(), self.path, status))
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def start_smtp():
    from aiosmtpd.controller import Controller

    class Inbox:
        messages: list[bytes] = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope.content)
            return "250 OK"

    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd's start-up check cannot use port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


def write_config(directory: Path, base: str, smtp_port: int) -> Path:
    text = (REPO / "feeds.yaml").read_text()
    text = text.replace("url: sample/blog.xml", f"url: {base}/blog.xml")
    text = text.replace("url: sample/forum.atom", f"url: {base}/forum.atom")
    text = text.replace("url: sample/search.xml", f"url: {base}/search.xml")
    text = re.sub(r"every: 15m", "every: 30s", text)
    text = re.sub(r"every: 30m", "every: 1m", text)
    text = re.sub(r"every: 1h", "every: 2m", text)
    text = text.replace("feeds:\n", f"feeds:\n  - name: Broken\n    url: {base}/broken.xml\n    every: 30s\n", 1)
    text = text.replace("  poll: 15m", "  poll: 30s\n  min_interval: 10s")
    text = re.sub(r"smtp: \{[^}]*\}", f"smtp: {{host: 127.0.0.1, port: {smtp_port}}}", text)
    path = directory / "feeds.yaml"
    path.write_text(text)
    return path


def sample_process(pid: int) -> tuple[float, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="listener-soak-"))
    shutil.copytree(REPO / "sample", work / "site")
    server = SoakServer(work / "site")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    controller, inbox = start_smtp()
    config = write_config(work, f"http://127.0.0.1:{server.server_address[1]}", controller.port)
    log_path = work / "daemon.log"
    with open(log_path, "w") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "listener", "--config", str(config), "run"],
                                  stderr=log, stdout=log)
    started = time.monotonic()
    samples: list[tuple[float, float, int]] = []
    published = False
    try:
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            if daemon.poll() is not None:
                print(f"daemon exited early with {daemon.returncode}; see {log_path}")
                return 1
            samples.append((elapsed, *sample_process(daemon.pid)))
            if not published and elapsed > args.minutes * 30:
                comments = work / "site" / "comments" / "sync-outage.xml"
                comments.write_text(comments.read_text().replace("</channel>", NEW_COMMENT + "</channel>", 1))
                blog = work / "site" / "blog.xml"
                blog.write_text(blog.read_text().replace("<slash:comments>8</slash:comments>",
                                                         "<slash:comments>9</slash:comments>", 1))
                published = True
            time.sleep(10)
    finally:
        stop = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(60)
        stopped_in = time.monotonic() - stop
        controller.stop()
        server.shutdown()

    log_text = log_path.read_text()
    statuses = Counter(status for _, _, status in server.log)
    broken = [t - started for t, path, _ in server.log if path == "/broken.xml"]
    gaps = [round(b - a) for a, b in zip(broken, broken[1:])]
    print(f"ran {args.minutes:g} min; stopped by SIGTERM in {stopped_in:.1f}s with exit {code}")
    cycles = len(re.findall(r"polled \d+ feeds", log_text))
    mentions = sum(int(n) for n in re.findall(r"(\d+) new mentions", log_text))
    print(f"cycles: {cycles} (new comment published at {args.minutes * 30:.0f}s)")
    print(f"requests: {len(server.log)}  200: {statuses[200]}  304: {statuses[304]}  503: {statuses[503]}")
    print(f"broken feed retried after (s): {gaps}")
    print(f"digests received: {len(inbox.messages)}")
    print(f"new mentions logged: {mentions}")
    settled = [s for s in samples if s[0] >= 20] or samples  # after start-up and the first cycle
    rss = [s[1] for s in settled]
    fds = [s[2] for s in settled]
    print(f"RSS MB after the first cycle: {rss[0]:.1f}, max {max(rss):.1f}, end {rss[-1]:.1f}; "
          f"fds: {min(fds)}..{max(fds)}")
    print(f"job errors in log: {log_text.count('job failed')}; log: {log_path}")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
