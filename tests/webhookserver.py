"""A webhook receiver on 127.0.0.1 for alert tests: records every POST, answers a scripted status per path.

    hooks.status["/flaky"] = [500, 200]   # first 500, then 200 from there on
    url = hooks.url("/flaky", scheme="json")
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    status: int

    def json(self) -> dict:
        return json.loads(self.body)


class WebhookServer:
    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.status: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), 1 << 20)
                body = self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                with receiver._lock:
                    script = receiver.status.get(path, [200])
                    status = script.pop(0) if len(script) > 1 else script[0]
                    receiver.posts.append(Post(path, {k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, *, scheme: str = "json", query: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}{path}" + (f"?{query}" if query else "")

    def accepted(self, path: str | None = None) -> list[Post]:
        return [p for p in self.posts if (path is None or p.path == path) and 200 <= p.status < 300]

    def to(self, path: str) -> list[Post]:
        return [p for p in self.posts if p.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.close()
