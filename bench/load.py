"""RELIABILITY A17: one poll cycle over 1,000 feeds on 20 loopback servers, 5 % slow and 5 % failing.

    python -m bench.load [--feeds 1000] [--hosts 20]

Prints the cycle's time against the bound the fetch pool allows (the sum of the servers' delays
spread over the workers), the most requests any one server saw at once (the per-host limit is 2),
and the process's threads and file descriptors before and after (nothing may leak).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def feed_body(host: int, number: int) -> bytes:
    items = "".join(
        f"<item><title>Quillfeather note {host}-{number}-{i}</title><guid>{host}-{number}-{i}</guid>"
        f"<link>https://site{host}.example/{number}/{i}</link>"
        f"<description>Quillfeather sync {'broke again, awful' if i % 3 == 0 else 'works fine today'}."
        f"</description></item>" for i in range(5))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Site {host} feed {number}</title>'
            f"<link>https://site{host}.example/</link>{items}</channel></rss>").encode()


class LoadServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: int, plan: dict[str, tuple[float, int]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.host = host
        self.plan = plan  # path -> (delay seconds, status)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client closing a keep-alive connection at the end is not news


class _Handler(BaseHTTPRequestHandler):
    server: LoadServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.in_flight += 1
            self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)
        try:
            delay, status = self.server.plan.get(self.path, (0.0, 404))
            time.sleep(delay)
            number = int(self.path.strip("/").split(".")[0]) if status == 200 else 0
            body = feed_body(self.server.host, number) if status == 200 else b"error"
        finally:
            # Before the response goes out: once the client has it, it may send the next request
            # before this thread gets here again, and that would look like one request too many.
            with self.server.lock:
                self.server.in_flight -= 1
        self.send_response(status)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import logging

    from listener import pipeline
    from listener.config import load_config

    logging.basicConfig(level=logging.ERROR)  # the 50 failing feeds would log a line each
    chance = random.Random(args.seed)
    per_host = args.feeds // args.hosts
    servers, urls, total_delay, failing = [], [], 0.0, 0
    for host in range(args.hosts):
        plan = {}
        for number in range(per_host):
            roll = chance.random()
            delay = chance.uniform(0.5, 1.5) if roll < 0.05 else chance.uniform(0.0, 0.02)
            status = 500 if 0.05 <= roll < 0.10 else 200
            failing += status != 200
            total_delay += delay
            plan[f"/{number}.xml"] = (delay, status)
        server = LoadServer(host, plan)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        urls += [f"http://127.0.0.1:{server.server_address[1]}/{n}.xml" for n in range(per_host)]

    with tempfile.TemporaryDirectory() as tmp:
        lines = ["database: listener.db", "watch:", "  - name: quillfeather", "    terms: [quillfeather]",
                 "fetch: {timeout: 5}", "feeds:"]
        lines += [f"  - name: feed{i}\n    url: {url}" for i, url in enumerate(urls)]
        path = Path(tmp) / "feeds.yaml"
        path.write_text("\n".join(lines) + "\n")
        config = load_config(path)
        threads_before, fds_before = threading.active_count(), open_fds()
        started = time.perf_counter()
        summary = pipeline.poll(config, force=True)
        elapsed = time.perf_counter() - started
        time.sleep(0.5)  # let worker threads wind down before counting
        threads_after, fds_after = threading.active_count(), open_fds()
    for server in servers:
        server.shutdown()

    bound = total_delay / config.fetch.workers
    print(f"{len(urls)} feeds on {args.hosts} loopback servers, {failing} failing, "
          f"sum of server delays {total_delay:.1f}s")
    print(f"cycle: {elapsed:.1f}s against a bound of {bound:.1f}s "
          f"(sum of delays / {config.fetch.workers} workers): {elapsed / bound:.2f}x the bound")
    print(f"stored {summary.new_items} items, {summary.new_hits} mentions; {len(summary.failed)} feeds failed")
    print(f"most requests one server saw at once: {max(s.max_in_flight for s in servers)} "
          f"(limit {config.fetch.per_host})")
    print(f"threads {threads_before} -> {threads_after}, file descriptors {fds_before} -> {fds_after}")
    ok = (len(summary.failed) == failing and max(s.max_in_flight for s in servers) <= config.fetch.per_host
          and fds_after <= fds_before + 2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
