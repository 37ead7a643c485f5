"""A real HTTP server on loopback for tests, and the `feed_server` fixture.

    def test_poll(feed_server):
        feed_server.add("/feed", RSS, etag='"v1"')
        fetch_feed(feed_server.url("/feed"))
        assert feed_server.hits("/feed") == 1

Static bodies (`add`), scripted status sequences (`script`) and custom behaviour (`route`,
with the handler factories below: hang, drip, endless, half body, redirect). Every request is
recorded. Misbehaving handlers wait on `server.stopping`, so closing the server never waits
for them; handler threads are daemons. Binds 127.0.0.1 port 0 (or another loopback address,
e.g. 127.0.0.2 for the "private address" tests), never anything else.
"""

from __future__ import annotations

import gzip as gzip_codec
import logging
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

log = logging.getLogger(__name__)

Handler = Callable[[BaseHTTPRequestHandler], None]

RSS_TYPE = "application/rss+xml; charset=utf-8"
MINIMAL_RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test feed</title><link>http://127.0.0.1/</link>
<item><title>Hello</title><link>http://127.0.0.1/1</link><guid>1</guid></item>
</channel></rss>
"""


@dataclass(frozen=True)
class Request:
    """One request as the server saw it. `time` is time.monotonic() at arrival."""

    method: str
    path: str  # as sent, query string included
    headers: dict[str, str]  # lower-case names, first value
    time: float


class FeedServer:
    """A ThreadingHTTPServer in a daemon thread; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", *, ssl_context: ssl.SSLContext | None = None):
        self.stopping = threading.Event()
        self.max_concurrent = 0
        self._requests: list[Request] = []
        self._routes: dict[str, Handler] = {}
        self._in_flight = 0
        self._lock = threading.Lock()
        self._httpd = _Server(self, host)
        if ssl_context is not None:  # the handshake happens in the handler thread, not in accept()
            self._httpd.socket = ssl_context.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._scheme = "https" if ssl_context else "http"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str) -> str:
        host = self._httpd.server_address[0]
        return f"{self._scheme}://{host}:{self.port}/{path.lstrip('/')}"

    def add(
        self,
        path: str,
        body: bytes | str,
        *,
        content_type: str = RSS_TYPE,
        status: int = 200,
        headers: dict[str, str] | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        gzip: bool = False,
    ) -> None:
        """Serve `body` at `path`; with etag / last_modified, answer 304 when the request's
        If-None-Match / If-Modified-Since match. `headers` come last and win."""
        data = body.encode() if isinstance(body, str) else body
        validators = {"ETag": etag, "Last-Modified": last_modified}
        validators = {name: value for name, value in validators.items() if value}
        extra = dict(validators)
        if gzip:
            data = gzip_codec.compress(data)
            extra["Content-Encoding"] = "gzip"
        extra.update(headers or {})

        def serve(handler: BaseHTTPRequestHandler) -> None:
            if _not_modified(handler, etag, last_modified):
                respond(handler, 304, headers=validators)
            else:
                respond(handler, status, data, content_type=content_type, headers=extra)

        self.route(path, serve)

    def route(self, path: str, handler: Handler) -> None:
        """Answer `path` (exact, or without its query string) with `handler(request_handler)`."""
        with self._lock:
            self._routes[path] = handler

    def script(
        self,
        path: str,
        statuses: list[int],
        body: bytes | str = MINIMAL_RSS,
        *,
        content_type: str = RSS_TYPE,
    ) -> None:
        """Answer the statuses in order, then the last one forever: [500, 500, 200].
        2xx answers carry `body`; others a short text/plain page."""
        data = body.encode() if isinstance(body, str) else body
        queue = list(statuses)
        lock = threading.Lock()

        def serve(handler: BaseHTTPRequestHandler) -> None:
            with lock:
                status = queue.pop(0) if len(queue) > 1 else queue[0]
            if 200 <= status < 300:
                respond(handler, status, data, content_type=content_type)
            else:
                respond(handler, status, f"status {status}\n", content_type="text/plain")

        self.route(path, serve)

    @property
    def requests(self) -> list[Request]:
        """A snapshot of every request seen so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def hits(self, path: str) -> int:
        """Requests for `path` (matched with or without the query string)."""
        return sum(1 for r in self.requests if path in (r.path, r.path.split("?", 1)[0]))

    def close(self) -> None:
        self.stopping.set()  # releases hanging and dripping handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _dispatch(self, handler: _Handler) -> None:
        headers: dict[str, str] = {}
        for name, value in handler.headers.items():
            headers.setdefault(name.lower(), value)
        request = Request(handler.command, handler.path, headers, time.monotonic())
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self._in_flight)
            route = self._routes.get(handler.path) or self._routes.get(handler.path.split("?")[0])
        try:
            (route or _not_found)(handler)
        finally:
            with self._lock:
                self._in_flight -= 1


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    try:
        yield server
    finally:
        server.close()


# --- Writing responses -----------------------------------------------------------------------


def respond(
    handler: BaseHTTPRequestHandler,
    status: int = 200,
    body: bytes | str = b"",
    *,
    content_type: str = RSS_TYPE,
    headers: dict[str, str] | None = None,
) -> None:
    """Send a complete response (Content-Length set; no body for HEAD, 204 and 304)."""
    data = body.encode() if isinstance(body, str) else body
    handler.send_response(status)
    if status in (204, 304):
        data = b""
    else:
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


def _not_found(handler: BaseHTTPRequestHandler) -> None:
    respond(handler, 404, "not found\n", content_type="text/plain")


def _not_modified(
    handler: BaseHTTPRequestHandler, etag: str | None, last_modified: str | None
) -> bool:
    """RFC 9110: If-None-Match, when sent, decides alone (weak match); else If-Modified-Since."""
    if_none_match = handler.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return etag is not None and ("*" in tags or etag.removeprefix("W/") in tags)
    if_modified_since = handler.headers.get("If-Modified-Since")
    if not (if_modified_since and last_modified):
        return False
    try:
        return parsedate_to_datetime(if_modified_since) >= parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return if_modified_since == last_modified


# --- Handler factories for misbehaving servers -----------------------------------------------


def hang_forever(seconds: float = 30.0) -> Handler:
    """Accept the request and never answer (until `seconds` pass or the server closes)."""

    def hang(handler: BaseHTTPRequestHandler) -> None:
        handler.server.stopping.wait(seconds)  # type: ignore[attr-defined]
        handler.close_connection = True

    return hang


def drip(bytes_per_tick: int = 1, interval: float = 0.5, total_seconds: float = 10.0) -> Handler:
    """Send headers at once, then the body `bytes_per_tick` bytes every `interval` seconds for
    `total_seconds` (Content-Length matches what would be sent in the end)."""
    ticks = max(1, round(total_seconds / interval))

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", RSS_TYPE)
        handler.send_header("Content-Length", str(ticks * bytes_per_tick))
        handler.end_headers()
        for _ in range(ticks):
            handler.wfile.write(b" " * bytes_per_tick)
            if handler.server.stopping.wait(interval):  # type: ignore[attr-defined]
                break
        handler.close_connection = True

    return trickle


def half_body(body: bytes = MINIMAL_RSS, *, reset: bool = False) -> Handler:
    """Announce len(body) bytes, send half, then close the connection (FIN, or RST with
    reset=True): a body truncated mid-stream."""

    def truncate(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", RSS_TYPE)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        connection: socket.socket = handler.connection  # type: ignore[assignment]
        if reset:  # SO_LINGER 0: close() sends RST instead of FIN
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()
        else:
            connection.shutdown(socket.SHUT_RDWR)
        handler.close_connection = True

    return truncate


def redirect_to(path: str, status: int = 302) -> Handler:
    """Redirect to `path` (a path on this server, or any absolute URL), as given in Location."""

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        respond(handler, status, headers={"Location": path})

    return redirect


class Endless:
    """Stream `chunk` forever with chunked encoding and no Content-Length, counting the body
    bytes written; `done` is set when the client goes away or the server closes.

        endless = Endless(); feed_server.route("/huge", endless)
    """

    def __init__(self, chunk: bytes = b"\0" * 65536, *, headers: dict[str, str] | None = None):
        self.chunk = chunk
        self.headers = headers or {}
        self.sent = 0
        self.done = threading.Event()

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        frame = b"%x\r\n%s\r\n" % (len(self.chunk), self.chunk)
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", RSS_TYPE)
            handler.send_header("Transfer-Encoding", "chunked")
            for name, value in self.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            while not handler.server.stopping.is_set():  # type: ignore[attr-defined]
                handler.wfile.write(frame)
                self.sent += len(self.chunk)
        finally:
            handler.close_connection = True
            self.done.set()


# --- Plumbing --------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler must never block teardown
    request_queue_size = 128

    def __init__(self, feed: FeedServer, host: str) -> None:
        self.feed = feed
        self.stopping = feed.stopping
        super().__init__((host, 0), _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-response are the point of many tests; stay quiet about them."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a client's connection pool is exercised
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms ACK stalls
    server: _Server
    _framed = False

    def do_GET(self) -> None:
        self._framed = False
        self.server.feed._dispatch(self)

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() in ("content-length", "transfer-encoding"):
            self._framed = True
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        # Keep-alive needs a framed body. A custom handler that sets neither Content-Length
        # nor chunked gets "Connection: close", so the client reads to EOF instead of waiting.
        if not self._framed and not self.close_connection:
            super().send_header("Connection", "close")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("feedserver: " + format, *args)
