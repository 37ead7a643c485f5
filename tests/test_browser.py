"""The report and the digest HTML in a real browser (headless Chromium) with hostile feed text.

Every payload, if it ever ran, would leave a mark in the DOM (an attribute on <html>, or a new
document.title); `--dump-dom` serialises the DOM after the page loaded and its scripts ran, so a
missing mark means nothing ran. (An alert() cannot be observed from outside without a driver,
so the payloads write marks instead.) A control page with the same payloads unescaped proves the
marks do appear when script runs. The report is also loaded with its Content-Security-Policy
removed, so the test shows that escaping alone holds, not only the CSP backstop.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from test_report import World, a_busy_week

from listener import report

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")

MARK = "document.documentElement.setAttribute('data-xss','{n}')"
PAYLOADS = [
    "<script>{m}</script>",
    '<img src=x onerror="{m}">',
    '<svg onload="{m}"></svg>',
    '<details open ontoggle="{m}">',
    '"><script>{m}</script>',
    "'><img src=x onerror=\"{m}\">",
    '<math><mtext><table><mglyph><style><img src=x onerror="{m}">',
    '<body onload="{m}">',
    '<input autofocus onfocus="{m}">',
    "</title><script>{m}</script>",
    "</style></textarea><script>{m}</script>",
    '<object data="javascript:{m}"></object>',
    '<embed src="javascript:{m}">',
    '<meta http-equiv="refresh" content="0;url=javascript:{m}">',
    "<script>document.title='PWNED'</script>",
]


def payloads() -> list[str]:
    return [p.format(m=MARK.format(n=i)) for i, p in enumerate(PAYLOADS)]


def chromium(*args: str, profile: Path) -> subprocess.Popen:
    # Chromium's clock plays no part in what these tests check, and libfaketime (`make test-clock`)
    # hangs it: it runs on the real clock.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("FAKETIME")}
    return subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", f"--user-data-dir={profile}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)


def png_facts(path: Path) -> tuple[int, int, float]:
    """(width, height, share of rows with any change): a blank page's rows filter to all zeros."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    idat, offset = b"", 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            idat += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * (4 if colour == 6 else 3)
    blank = bytes(stride - 1)
    busy = sum(raw[row * stride + 1:(row + 1) * stride] != blank for row in range(1, height))
    return width, height, busy / height


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Render the hostile report and digest once, open them all in parallel, collect the results."""
    root = tmp_path_factory.mktemp("browser")
    world = World(root / "w", feeds=["Quill blog", "Forum", payloads()[1]])
    a_busy_week(world)
    for i, payload in enumerate(payloads()):
        world.mention(f"Quillfeather {payload}", compound=-0.5 - i / 40, author=payload, content=f"says {payload}",
                      feed=payloads()[1] if i % 2 else "Quill blog", url=f"javascript:{MARK.format(n=100 + i)}",
                      thread=f"h{i}")
        world.mention(f"Happy {payload}", compound=0.6, author=payload, feed="Quill blog")
    world.feed_state(payloads()[1], status="error", consecutive_errors=4, error_kind="http", last_error=payloads()[0],
                     failing_since="2026-11-20T00:00:00Z", last_polled_at="2026-11-24T09:00:00Z")
    report_html = world.report()
    report_path = root / "w" / "reports" / "2026-11-24.html"
    no_csp = root / "no-csp.html"
    no_csp.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", report_html), encoding="utf-8")
    assert "Content-Security-Policy" not in no_csp.read_text()
    digest_path = root / "digest.html"
    digest_path.write_text(report.render_digest(world.data(), max_items=50).html, encoding="utf-8")
    control = root / "control.html"
    control.write_text("<html><head><title>control</title></head><body>" + "".join(payloads()) + "</body></html>")
    screenshot = root / "report.png"
    runs = {
        "report": chromium("--dump-dom", report_path.as_uri(), profile=root / "p1"),
        "no_csp": chromium("--dump-dom", no_csp.as_uri(), profile=root / "p2"),
        "digest": chromium("--dump-dom", digest_path.as_uri(), profile=root / "p3"),
        "control": chromium("--dump-dom", control.as_uri(), profile=root / "p4"),
        "shot": chromium(f"--screenshot={screenshot}", "--window-size=1200,2000", report_path.as_uri(),
                         profile=root / "p5"),
    }
    doms = {}
    for name, process in runs.items():
        out, _ = process.communicate(timeout=60)
        doms[name] = out.decode("utf-8", "replace")
    world.db.close()
    return {"doms": doms, "screenshot": screenshot}


def marks(dom: str) -> list[str]:
    return re.findall(r"data-xss=\"(\d+)\"", dom) + (["title"] if "<title>PWNED</title>" in dom else [])


def test_the_control_page_shows_the_marks_when_script_runs(pages):
    control = pages["doms"]["control"]
    assert marks(control), "the detector sees nothing even on an unescaped page"
    assert "<title>PWNED</title>" in control


@pytest.mark.parametrize("page", ["report", "no_csp", "digest"])
def test_no_feed_payload_runs_in_a_browser(pages, page):
    dom = pages["doms"][page]
    assert "Needs a reply" in dom, f"{page}: the page did not render"
    assert marks(dom) == [], f"{page}: a payload ran"
    assert not re.search(r"<[a-z][^<>]*\son[a-z]+=", dom), f"{page}: an event handler attribute survived"
    tags = re.findall(r"<(script|iframe|object|embed|img|input|base|form)\b", dom)
    assert tags == [], f"{page}: {tags}"
    for href in re.findall(r'\shref="([^"]*)"', dom):
        assert re.match(r"^(https?://|#$|index\.html$)", href), f"{page}: href={href!r}"
    assert "Quillfeather &lt;script&gt;" in dom  # shown as text, not dropped


def test_the_report_is_not_blank_and_a_screenshot_is_written(pages):
    dom = pages["doms"]["report"]
    assert re.search(r"<title>Mood 2026-11-24: (calm|mild|warm|hot|boiling) \d+°</title>", dom)
    assert "mentions heard today" in dom and dom.count("<rect") == 3 * 14
    width, height, busy = png_facts(pages["screenshot"])
    assert (width, height) == (1200, 2000)
    assert busy > 0.2, f"only {busy:.0%} of the screenshot's rows show anything"
