"""The fallback static server when nginx is missing: files with ETag and Last-Modified, 304s.

    python -m bench.fileserver ROOT PORT [PORT ...]

Runs until SIGTERM. Prints "ready" once every port listens.
"""

from __future__ import annotations

import signal
import sys
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class StaticServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.root = root.resolve()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client closing a keep-alive connection is not news


class _Handler(BaseHTTPRequestHandler):
    server: StaticServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def do_GET(self) -> None:
        path = (self.server.root / self.path.split("?")[0].lstrip("/")).resolve()
        if self.server.root not in path.parents or not path.is_file():
            return self._reply(404, b"not found", {})
        stat = path.stat()
        etag = f'"{stat.st_mtime_ns // 1_000_000_000:x}-{stat.st_size:x}"'
        modified = formatdate(stat.st_mtime, usegmt=True)
        validators = {"ETag": etag, "Last-Modified": modified}
        if self.headers.get("If-None-Match") == etag or (
                "If-None-Match" not in self.headers and self.headers.get("If-Modified-Since") == modified):
            return self._reply(304, b"", validators)
        self._reply(200, path.read_bytes(), {**validators, "Content-Type": "application/rss+xml"})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main(argv: list[str]) -> int:
    root, ports = Path(argv[0]), [int(p) for p in argv[1:]]
    servers = [StaticServer(root, port) for port in ports]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.wait(0.5):
        pass
    for server in servers:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
