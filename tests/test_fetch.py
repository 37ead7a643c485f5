"""fetch.py against a real loopback server (RELIABILITY section A): deadlines, size caps,
redirects, conditional GET, status and error mapping, per-host politeness, local files."""

from __future__ import annotations

import email.utils
import gzip
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from feedserver import (
    MINIMAL_RSS,
    Endless,
    FeedServer,
    drip,
    half_body,
    hang_forever,
    redirect_to,
    respond,
)

from listener.errors import FetchError
from listener.fetch import ACCEPT, USER_AGENT, Fetcher, FetchJob, fetch_feed
from listener.models import FetchLimits, FetchResult

FAST = FetchLimits(timeout=1.0, connect_timeout=1.0)
LAST_MODIFIED = "Mon, 03 Mar 2025 10:00:00 GMT"
MiB = 1024 * 1024


def fetch_error(url: str, **kwargs: object) -> FetchError:
    with pytest.raises(FetchError) as info:
        fetch_feed(url, **kwargs)  # type: ignore[arg-type]
    return info.value


def timed_error(url: str, **kwargs: object) -> tuple[FetchError, float]:
    started = time.monotonic()
    error = fetch_error(url, **kwargs)
    return error, time.monotonic() - started


def slow(seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    def handler(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        respond(h, 200, MINIMAL_RSS)

    return handler


def respond_headers(h: BaseHTTPRequestHandler, *, content_length: int) -> None:
    """Status line and headers only: the test's handler writes (or withholds) the body."""
    h.send_response(200)
    h.send_header("Content-Type", "application/rss+xml")
    h.send_header("Content-Length", str(content_length))
    h.end_headers()


# --- A successful fetch ------------------------------------------------------------------------


def test_ok_returns_body_validators_and_lowercase_headers(feed_server):
    feed_server.add(
        "/feed", MINIMAL_RSS, etag='"v1"', last_modified=LAST_MODIFIED, headers={"X-Custom": "yes"}
    )
    result = fetch_feed(feed_server.url("/feed"), limits=FAST)
    assert (result.status, result.body) == (200, MINIMAL_RSS)
    assert (result.etag, result.last_modified) == ('"v1"', LAST_MODIFIED)
    assert result.headers["x-custom"] == "yes"
    assert result.headers["content-type"].startswith("application/rss+xml")
    assert result.url == feed_server.url("/feed")
    assert result.permanent_redirect is None and not result.not_modified
    assert 0 < result.elapsed < 1


def test_request_names_listener_and_asks_for_feeds(feed_server):
    feed_server.add("/feed", MINIMAL_RSS)
    fetch_feed(feed_server.url("/feed"), limits=FAST)
    [request] = feed_server.requests
    assert USER_AGENT.startswith("listener/0.1.0 (+https://")
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["accept"] == ACCEPT
    assert ACCEPT.startswith("application/rss+xml, application/atom+xml, application/xml;q=0.9")
    assert request.headers["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in request.headers and "if-modified-since" not in request.headers


# --- A6: conditional GET -----------------------------------------------------------------------


def test_second_fetch_is_conditional_and_304_keeps_validators(feed_server):
    feed_server.add("/feed", MINIMAL_RSS, etag='"v1"', last_modified=LAST_MODIFIED)
    first = fetch_feed(feed_server.url("/feed"), limits=FAST)
    second = fetch_feed(
        feed_server.url("/feed"), etag=first.etag, last_modified=first.last_modified, limits=FAST
    )
    assert second.status == 304 and second.not_modified and second.body is None
    assert (second.etag, second.last_modified) == ('"v1"', LAST_MODIFIED)
    sent = feed_server.requests[1].headers
    assert (sent["if-none-match"], sent["if-modified-since"]) == ('"v1"', LAST_MODIFIED)


def test_304_with_new_validators_returns_them(feed_server):
    feed_server.route("/feed", lambda h: respond(h, 304, headers={"ETag": '"v2"'}))
    result = fetch_feed(
        feed_server.url("/feed"), etag='"v1"', last_modified=LAST_MODIFIED, limits=FAST
    )
    assert (result.status, result.etag, result.last_modified) == (304, '"v2"', LAST_MODIFIED)


@pytest.mark.parametrize("header", [{"Cache-Control": "private, no-store"}, {"Expires": "0"}])
def test_validators_of_a_no_store_response_are_not_returned(feed_server, header):
    feed_server.add(
        "/feed", MINIMAL_RSS, etag='"v1"', last_modified=LAST_MODIFIED, headers=header
    )
    result = fetch_feed(feed_server.url("/feed"), limits=FAST)
    assert result.body == MINIMAL_RSS
    assert (result.etag, result.last_modified) == (None, None)


# --- A1, A2: one deadline for the whole fetch --------------------------------------------------


def test_server_that_never_answers_is_cut_at_the_deadline(feed_server):
    feed_server.route("/hang", hang_forever(30))
    error, took = timed_error(feed_server.url("/hang"), limits=FAST)
    assert error.kind == "timeout"
    assert 0.9 < took < 1.5


def test_slow_drip_is_aborted_at_the_deadline(feed_server):
    feed_server.route("/drip", drip(bytes_per_tick=1, interval=0.5, total_seconds=10))
    error, took = timed_error(feed_server.url("/drip"), limits=FAST)
    assert error.kind == "timeout"
    assert 0.9 < took < 1.5


def test_stall_after_part_of_the_body_is_cut_at_the_deadline(feed_server):
    """httpx's read timeout restarts at every read: bytes at 0.7 s then silence would last
    until 1.7 s without the deadline-aware socket layer."""

    def stall(h: BaseHTTPRequestHandler) -> None:
        respond_headers(h, content_length=1000)
        h.wfile.write(b"<rss>")
        if not h.server.stopping.wait(0.7):
            h.wfile.write(b"<channel>")
            h.server.stopping.wait(30)
        h.close_connection = True

    feed_server.route("/stall", stall)
    error, took = timed_error(feed_server.url("/stall"), limits=FAST)
    assert error.kind == "timeout"
    assert took < 1.3


def test_a_callers_own_client_still_gets_the_deadline(feed_server):
    feed_server.route("/drip", drip(bytes_per_tick=1, interval=0.25, total_seconds=10))
    with httpx.Client() as client:
        error, took = timed_error(feed_server.url("/drip"), limits=FAST, client=client)
    assert error.kind == "timeout"
    assert took < 1.5


# --- A3, A15: network and TLS errors -----------------------------------------------------------


def test_connection_refused_is_a_network_error():
    with socket.socket() as sock:  # a port that was just free, so nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = fetch_error(f"http://127.0.0.1:{port}/feed", limits=FAST)
    assert error.kind == "network"


def test_dns_failure_is_a_network_error(monkeypatch):
    def no_such_name(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    error = fetch_error("http://feeds.example.invalid/rss", limits=FAST)
    assert error.kind == "network"
    assert "DNS" in str(error)


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
def test_body_cut_short_is_a_network_error_never_a_partial_result(feed_server, reset):
    feed_server.route("/half", half_body(MINIMAL_RSS * 50, reset=reset))
    error = fetch_error(feed_server.url("/half"), limits=FAST)
    assert error.kind == "network"


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory) -> ssl.SSLContext:
    openssl = shutil.which("openssl") or pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def test_self_signed_certificate_is_a_tls_error_unless_the_feed_opts_out(self_signed):
    with FeedServer(ssl_context=self_signed) as server, Fetcher(FAST) as fetcher:
        server.add("/feed", MINIMAL_RSS)
        assert fetch_error(server.url("/feed"), limits=FAST).kind == "tls"
        assert fetch_feed(server.url("/feed"), limits=FAST, verify_tls=False).body == MINIMAL_RSS
        assert fetcher.fetch(server.url("/feed"), verify_tls=False).body == MINIMAL_RSS
        with pytest.raises(FetchError, match="TLS"):
            fetcher.fetch(server.url("/feed"))


# --- A5, A8, A9: statuses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, headers, kind",
    [
        (401, {}, "auth"),
        (403, {}, "auth"),
        (403, {"cf-mitigated": "challenge"}, "blocked"),
        (404, {}, "not_found"),
        (410, {}, "gone"),
        (418, {}, "http"),
        (500, {}, "http"),
        (502, {}, "http"),
        (302, {}, "http"),  # a redirect without Location
    ],
)
def test_error_statuses_map_to_kinds_and_the_page_is_not_returned(
    feed_server, status, headers, kind
):
    page = "<html><form>secret login page</form></html>"
    feed_server.add("/x", page, content_type="text/html", status=status, headers=headers)
    error = fetch_error(feed_server.url("/x"), limits=FAST)
    assert (error.kind, error.status, error.retry_after) == (kind, status, None)
    assert "secret" not in str(error)


def test_scripted_failures_then_success(feed_server):
    feed_server.script("/feed", [500, 503, 200])
    outcomes = []
    for _ in range(4):
        try:
            outcomes.append(fetch_feed(feed_server.url("/feed"), limits=FAST).status)
        except FetchError as error:
            outcomes.append(error.status)
    assert outcomes == [500, 503, 200, 200]


@pytest.mark.parametrize(
    "body, content_type",
    [(b"<html><form>login</form></html>", "text/html"), (b"", "application/rss+xml")],
    ids=["html", "empty"],
)
def test_200_with_html_or_empty_body_is_returned_for_the_parser_to_judge(
    feed_server, body, content_type
):
    feed_server.add("/feed", body, content_type=content_type)
    result = fetch_feed(feed_server.url("/feed"), limits=FAST)
    assert (result.status, result.body) == (200, body)


@pytest.mark.parametrize(
    "value, expected",
    [("120", 120.0), ("999999", 86400.0), ("soon", None), ("-5", None), ("", None)],
)
def test_429_is_rate_limited_with_retry_after_seconds_capped_and_garbage_ignored(
    feed_server, value, expected
):
    feed_server.add("/feed", "slow down", status=429, headers={"Retry-After": value})
    error = fetch_error(feed_server.url("/feed"), limits=FAST)
    assert (error.kind, error.status, error.retry_after) == ("rate_limited", 429, expected)


def test_retry_after_as_an_http_date(feed_server):
    in_90_seconds = email.utils.formatdate(time.time() + 90, usegmt=True)
    feed_server.add("/feed", "slow down", status=429, headers={"Retry-After": in_90_seconds})
    error = fetch_error(feed_server.url("/feed"), limits=FAST)
    assert 85 <= error.retry_after <= 90


def test_503_is_an_http_error_that_carries_retry_after(feed_server):
    feed_server.add("/feed", "maintenance", status=503, headers={"Retry-After": "30"})
    error = fetch_error(feed_server.url("/feed"), limits=FAST)
    assert (error.kind, error.status, error.retry_after) == ("http", 503, 30.0)


# --- A10, A11: size caps and decoding ----------------------------------------------------------


def test_declared_length_over_the_cap_is_refused_before_reading(feed_server):
    def huge(h: BaseHTTPRequestHandler) -> None:
        respond_headers(h, content_length=10**10)
        h.server.stopping.wait(5)
        h.close_connection = True

    feed_server.route("/huge", huge)
    error, took = timed_error(feed_server.url("/huge"), limits=FetchLimits(max_bytes=MiB))
    assert error.kind == "too_large"
    assert took < 0.5


def test_endless_chunked_body_stops_near_the_cap(feed_server):
    endless = Endless()
    feed_server.route("/endless", endless)
    error = fetch_error(feed_server.url("/endless"), limits=FetchLimits(max_bytes=2 * MiB))
    assert error.kind == "too_large"
    assert endless.done.wait(5), "the server should see the client hang up"
    assert 2 * MiB <= endless.sent < 2 * MiB + 16 * MiB  # the rest sat in socket buffers


@pytest.mark.parametrize(
    "max_bytes, ok", [(2000, True), (1999, False)], ids=["at-cap", "one-over"]
)
def test_cap_counts_decoded_bytes(feed_server, max_bytes, ok):
    feed_server.add("/feed", b"\0" * 2000, gzip=True)  # about 30 bytes on the wire
    limits = FetchLimits(timeout=1.0, max_bytes=max_bytes)
    if ok:
        assert fetch_feed(feed_server.url("/feed"), limits=limits).body == b"\0" * 2000
    else:
        assert fetch_error(feed_server.url("/feed"), limits=limits).kind == "too_large"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """200 MiB of zeros, gzipped to about 200 KiB, built without holding 200 MiB."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MiB)
    return b"".join([compressor.compress(zeros) for _ in range(200)] + [compressor.flush()])


@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip"])
def test_compression_bomb_is_aborted_at_the_decoded_cap(feed_server, bomb, encoding):
    body = bomb if encoding == "gzip" else gzip.compress(bomb)
    feed_server.add("/bomb", body, headers={"Content-Encoding": encoding})
    error, took = timed_error(feed_server.url("/bomb"), limits=FetchLimits(timeout=5))
    assert error.kind == "too_large"
    assert took < 2


# Peak RSS comes from /proc's VmHWM, not getrusage(): ru_maxrss survives fork and exec, so a
# child started by a big pytest process reports the parent's peak and hides its own growth.
PEAK_MEMORY_PROBE = """
import sys
from listener.errors import FetchError
from listener.fetch import Fetcher

def status_mib(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024

with Fetcher() as fetcher:
    fetcher.fetch(sys.argv[1])  # warm up: imports, client, pool
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset the peak to the current RSS
    except OSError:
        pass
    before = status_mib("VmRSS")
    kinds = []
    for url in sys.argv[2:]:
        try:
            fetcher.fetch(url)
            kinds.append("ok")
        except FetchError as exc:
            kinds.append(exc.kind)
print(*kinds, round(status_mib("VmHWM") - before))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc")
def test_bombs_and_endless_bodies_keep_peak_memory_small(feed_server, bomb):
    """Default 15 MiB cap; RELIABILITY asks < 50 MB growth (A10) and < 100 MB (A11)."""
    feed_server.add("/feed", MINIMAL_RSS)
    feed_server.add("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    feed_server.add("/bomb2", gzip.compress(bomb), headers={"Content-Encoding": "gzip, gzip"})
    feed_server.route("/endless", Endless())
    paths = ["/feed", "/bomb", "/bomb2", "/endless"]
    probe = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_PROBE, *map(feed_server.url, paths)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    *kinds, growth_mib = probe.stdout.split()
    assert kinds == ["too_large"] * 3
    assert int(growth_mib) < 50


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        ("identity", lambda data: data),
    ],
    ids=["gzip", "deflate", "raw-deflate", "identity"],
)
def test_compressed_bodies_are_decoded(feed_server, encoding, encode):
    feed_server.add("/feed", encode(MINIMAL_RSS), headers={"Content-Encoding": encoding})
    assert fetch_feed(feed_server.url("/feed"), limits=FAST).body == MINIMAL_RSS


def test_compressed_body_cut_short_is_a_network_error(feed_server):
    """Content-Length matches what was sent, but the gzip stream has no end: a transfer cut
    short behind a proxy or a close-delimited body. Never a partial result."""
    cut = gzip.compress(MINIMAL_RSS * 20)[:-30]
    feed_server.add("/feed", cut, headers={"Content-Encoding": "gzip"})
    assert fetch_error(feed_server.url("/feed"), limits=FAST).kind == "network"


def test_empty_body_labelled_gzip_is_just_empty(feed_server):
    feed_server.add("/feed", b"", headers={"Content-Encoding": "gzip"})
    assert fetch_feed(feed_server.url("/feed"), limits=FAST).body == b""


@pytest.mark.parametrize(
    "encoding, body", [("br", b"\x1b\x00"), ("compress", b"\x1f\x9d"), ("gzip", b"not gzip")]
)
def test_unknown_encoding_or_corrupt_body_is_an_encoding_error(feed_server, encoding, body):
    feed_server.add("/feed", body, headers={"Content-Encoding": encoding})
    assert fetch_error(feed_server.url("/feed"), limits=FAST).kind == "encoding"


# --- A12, A13: redirects -----------------------------------------------------------------------


def redirect_chain(server: FeedServer, hops: int, status: int = 302) -> str:
    """/r{hops} -> ... -> /r1 -> /r0, which serves the feed; returns the first URL."""
    server.add("/r0", MINIMAL_RSS)
    for n in range(1, hops + 1):
        server.route(f"/r{n}", redirect_to(f"/r{n - 1}", status))
    return server.url(f"/r{hops}")


def test_redirect_loop_is_refused(feed_server):
    feed_server.route("/a", redirect_to("/b"))
    feed_server.route("/b", redirect_to(feed_server.url("/a")))
    error = fetch_error(feed_server.url("/a"), limits=FAST)
    assert error.kind == "redirects" and "loop" in str(error)
    assert (feed_server.hits("/a"), feed_server.hits("/b")) == (1, 1)


def test_chain_of_six_redirects_is_refused(feed_server):
    error = fetch_error(redirect_chain(feed_server, 6), limits=FAST)
    assert error.kind == "redirects"
    assert feed_server.hits("/r0") == 0


def test_chain_of_five_permanent_redirects_reports_the_final_url(feed_server):
    result = fetch_feed(redirect_chain(feed_server, 5, status=301), etag='"v1"', limits=FAST)
    assert result.body == MINIMAL_RSS
    assert result.url == result.permanent_redirect == feed_server.url("/r0")
    assert feed_server.requests[-1].headers["if-none-match"] == '"v1"'  # validators follow


def test_a_temporary_hop_means_no_permanent_redirect(feed_server):
    feed_server.route("/old", redirect_to("/moved", 301))
    feed_server.route("/moved", redirect_to("/feed", 307))
    feed_server.add("/feed", MINIMAL_RSS)
    result = fetch_feed(feed_server.url("/old"), limits=FAST)
    assert result.url == feed_server.url("/feed")
    assert result.permanent_redirect is None


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed"])
def test_redirect_to_another_scheme_is_refused(feed_server, target):
    feed_server.route("/feed", redirect_to(target))
    assert fetch_error(feed_server.url("/feed"), limits=FAST).kind == "redirects"


# --- A16: per-host concurrency, fetch_many -----------------------------------------------------


def test_fetch_many_keeps_two_requests_per_host_and_finishes_every_job(feed_server):
    feed_server.route("/slow", slow(0.1))
    jobs = [FetchJob(key=n, url=feed_server.url(f"/slow?feed={n}")) for n in range(20)]
    with Fetcher(FetchLimits(timeout=5, workers=8, per_host=2)) as fetcher:
        outcomes = {job.key: outcome for job, outcome in fetcher.fetch_many(jobs)}
    assert sorted(outcomes) == list(range(20))
    assert all(isinstance(o, FetchResult) and o.body == MINIMAL_RSS for o in outcomes.values())
    assert feed_server.max_concurrent == 2


def test_concurrent_fetch_calls_share_the_per_host_limit(feed_server):
    feed_server.route("/slow", slow(0.1))
    with Fetcher(FetchLimits(timeout=5, per_host=2)) as fetcher:
        threads = [
            threading.Thread(target=fetcher.fetch, args=(feed_server.url("/slow"),))
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert feed_server.hits("/slow") == 6
    assert feed_server.max_concurrent == 2


def test_a_busy_host_does_not_hold_up_other_hosts(feed_server):
    feed_server.route("/slow", slow(0.15))
    with FeedServer() as other, Fetcher(FetchLimits(timeout=5, workers=2, per_host=1)) as fetcher:
        other.add("/fast", MINIMAL_RSS)
        jobs = [FetchJob(f"slow{n}", feed_server.url("/slow")) for n in range(4)]
        jobs += [FetchJob(f"fast{n}", other.url("/fast")) for n in range(2)]
        order = [job.key for job, _ in fetcher.fetch_many(jobs)]
    assert order[:2] == ["fast0", "fast1"]
    assert sorted(order[2:]) == ["slow0", "slow1", "slow2", "slow3"]


def test_fetch_many_yields_each_failure_instead_of_raising(feed_server, tmp_path, monkeypatch):
    feed_server.add("/ok", MINIMAL_RSS, etag='"v1"')
    fetcher = Fetcher(FetchLimits())  # nothing here hangs: the default deadlines, room for a busy machine
    real_fetch = fetcher.fetch

    def buggy(url: str, **kwargs: object) -> FetchResult:
        if url.endswith("/bug"):
            raise RuntimeError("a bug, not a network problem")
        return real_fetch(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fetcher, "fetch", buggy)
    jobs = [
        FetchJob("ok", feed_server.url("/ok")),
        FetchJob("unchanged", feed_server.url("/ok"), etag='"v1"'),
        FetchJob("missing", feed_server.url("/missing")),
        FetchJob("ftp", "ftp://127.0.0.1/feed"),
        FetchJob("no-file", str(tmp_path / "nope.xml")),
        FetchJob("bug", feed_server.url("/bug")),
    ]
    with fetcher:
        outcomes = {job.key: outcome for job, outcome in fetcher.fetch_many(jobs)}
    assert outcomes["ok"].status == 200
    assert outcomes["unchanged"].status == 304
    kinds = {key: o.kind for key, o in outcomes.items() if isinstance(o, FetchError)}
    assert kinds == {
        "missing": "not_found", "ftp": "bad_url", "no-file": "not_found", "bug": "error"
    }


# --- Local files and bad URLs ------------------------------------------------------------------


def test_local_file_is_read_then_not_modified_by_mtime(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(MINIMAL_RSS)
    first = fetch_feed(str(path))
    assert (first.status, first.body) == (200, MINIMAL_RSS)
    assert first.last_modified == email.utils.formatdate(path.stat().st_mtime, usegmt=True)

    second = fetch_feed(path.as_uri(), last_modified=first.last_modified)
    assert (second.status, second.body) == (304, None)

    later = path.stat().st_mtime + 60
    os.utime(path, (later, later))
    assert fetch_feed(str(path), last_modified=first.last_modified).status == 200


def test_local_file_over_the_cap_is_too_large(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(b"x" * 11)
    assert fetch_error(str(path), limits=FetchLimits(max_bytes=10)).kind == "too_large"


@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-url"])
def test_missing_local_file_is_not_found(tmp_path, as_uri):
    path = tmp_path / "missing.xml"
    assert fetch_error(path.as_uri() if as_uri else str(path)).kind == "not_found"


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/feed", "javascript:alert(1)", "feed.xml", "http://", "file://host/f.xml"],
)
def test_bad_url_or_scheme(url):
    assert fetch_error(url, limits=FAST).kind == "bad_url"


def test_fetch_many_keeps_fetching_while_the_caller_is_busy_with_results(feed_server):
    """The next fetch starts when a worker frees up, not when the caller asks for the next result:
    a poll cycle storing one feed never leaves the network idle (while fewer than `ahead` wait)."""
    for n in range(12):
        feed_server.add(f"/f{n}.xml", MINIMAL_RSS)
    jobs = [FetchJob(n, feed_server.url(f"/f{n}.xml")) for n in range(12)]
    with Fetcher(FetchLimits(timeout=5, workers=4, per_host=4)) as fetcher:
        results = fetcher.fetch_many(jobs, ahead=8)
        first = next(results)
        deadline = time.monotonic() + 5
        while len(feed_server.requests) < 12 and time.monotonic() < deadline:
            time.sleep(0.01)  # the caller is "busy" and asks for nothing more
        assert len(feed_server.requests) == 12
        rest = list(results)
    assert sorted(job.key for job, _ in [first, *rest]) == list(range(12))
    assert all(isinstance(result, FetchResult) for _, result in [first, *rest])


def conditional(ports: list[int]) -> Callable[[BaseHTTPRequestHandler], None]:
    """200 with an ETag, then 304 to a request that sends it back; records each request's client port."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        ports.append(handler.client_address[1])
        if handler.headers.get("If-None-Match") == '"v1"':
            handler.send_response(304)
            handler.send_header("ETag", '"v1"')
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("ETag", '"v1"')
        handler.send_header("Content-Length", str(len(MINIMAL_RSS)))
        handler.end_headers()
        handler.wfile.write(MINIMAL_RSS)
    return answer


def test_fetches_reuse_their_connections_and_304s_do_too(feed_server):
    """Keep-alive per host (issue 15): a 304 is read to its end so its connection goes back to the pool."""
    ports: list[int] = []
    feed_server.route("/f", conditional(ports))
    jobs = [FetchJob(key=n, url=feed_server.url(f"/f?feed={n}")) for n in range(12)]
    with Fetcher(FetchLimits(timeout=5, workers=4, per_host=2)) as fetcher:
        first = dict(fetcher.fetch_many(jobs))
        again = dict(fetcher.fetch_many([FetchJob(j.key, j.url, etag='"v1"') for j in jobs]))
    assert all(isinstance(o, FetchResult) and o.body == MINIMAL_RSS for o in first.values())
    assert all(isinstance(o, FetchResult) and o.not_modified and o.etag == '"v1"' for o in again.values())
    assert len(ports) == 24 and len(set(ports)) <= 2  # per_host=2: at most two connections, ever


def test_a_reused_connection_still_ends_at_the_fetch_deadline(feed_server):
    ports: list[int] = []
    feed_server.route("/f", conditional(ports))
    feed_server.route("/drip", drip(1, 0.3))
    with Fetcher(FetchLimits(timeout=1, workers=1, per_host=1)) as fetcher:
        fetcher.fetch(feed_server.url("/f"))
        started = time.monotonic()
        with pytest.raises(FetchError) as error:
            fetcher.fetch(feed_server.url("/drip"))
        took = time.monotonic() - started
        assert fetcher.fetch(feed_server.url("/f"), etag='"v1"').not_modified
    assert error.value.kind == "timeout" and took < 5  # generous: the deadline is 1 s, the drip 10 s


def test_fetch_many_pauses_while_outcomes_wait_for_the_caller(feed_server):
    """The bounded hand-off (issue 15): a caller that falls behind (the parse workers are busy)
    holds at most workers + ahead bodies, however many feeds there are."""
    for n in range(30):
        feed_server.add(f"/f{n}.xml", MINIMAL_RSS)
    jobs = [FetchJob(n, feed_server.url(f"/f{n}.xml")) for n in range(30)]
    with Fetcher(FetchLimits(timeout=5, workers=4, per_host=4)) as fetcher:
        results = fetcher.fetch_many(jobs, ahead=2)
        first = next(results)
        deadline = time.monotonic() + 5
        while len(feed_server.requests) < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # room for any fetch that should not start
        assert len(feed_server.requests) == 7  # 1 taken + 4 running or done + 2 waiting
        rest = list(results)
    assert sorted(job.key for job, _ in [first, *rest]) == list(range(30))


def test_a_fetcher_keeps_no_cookies_between_feeds_and_sends_its_own_headers(feed_server):
    """Fetches go through the transport, not httpx.Client (a third of a 304's CPU, issue 15): no
    cookie jar, so a cookie one feed sets never reaches another feed; each request still says who
    we are, what we accept, its host, and its validators."""
    feed_server.add("/a.xml", MINIMAL_RSS, headers={"Set-Cookie": "session=feed-a; Path=/"})
    feed_server.add("/b.xml", MINIMAL_RSS, etag='"b1"')
    with Fetcher(FetchLimits(timeout=5, workers=1, per_host=1)) as fetcher:
        assert fetcher.fetch(feed_server.url("/a.xml")).body == MINIMAL_RSS
        assert fetcher.fetch(feed_server.url("/b.xml"), etag='"b1"').not_modified
    sent = feed_server.requests[-1].headers
    assert "cookie" not in sent
    assert sent["user-agent"] == USER_AGENT and sent["accept"] == ACCEPT
    assert sent["accept-encoding"] == "gzip, deflate" and sent["if-none-match"] == '"b1"'
    assert sent["host"] == feed_server.url("/").split("/")[2]
