"""The daily report: what it shows, hostile feed text, the template lint, atomic files, the CLI.

`World` builds a config and a database under tmp_path by inserting rows, the way a poll would
leave them; test_digest.py and test_browser.py use it too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
import time_machine

from listener import mood, pipeline, report, store, text
from listener.config import load_config
from listener.errors import ListenerError

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # 09:30 in London
DAY = dt.date(2026, 11, 24)
TEMPLATES = Path(report.__file__).parents[1] / "templates"
GOLDEN = Path(__file__).parent / "data" / "report"


class World:
    """A feeds.yaml and a listener.db under `root`, filled by inserting rows directly."""

    def __init__(self, root: Path, *, feeds: list[str] = ("Quill blog", "Forum"),
                 to: tuple[str, ...] = ("team@quill.example",), smtp_port: int = 25, max_items: int = 50,
                 smtp_extra: str = "", watch: tuple[str, ...] = ("Quillfeather", "Nibs")):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        watch_yaml = "".join(f"  - name: {json.dumps(name)}\n    terms: [{json.dumps(name.lower())}]\n" for name in watch)
        feeds_yaml = "".join(f"  - name: {json.dumps(name)}\n    url: feed{i}.xml\n" for i, name in enumerate(feeds))
        (root / "feeds.yaml").write_text(
            "database: listener.db\nreports_dir: reports\ntimezone: Europe/London\n"
            f"watch:\n{watch_yaml}staff:\n  authors: [\"Dana Reyes\"]\nfeeds:\n{feeds_yaml}"
            "digest:\n  from: listener@quill.example\n"
            f"  to: [{', '.join(to)}]\n  max_items: {max_items}\n"
            f"  smtp: {{host: 127.0.0.1, port: {smtp_port}, timeout: 5{smtp_extra}}}\n",
            encoding="utf-8")
        self.config_path = root / "feeds.yaml"
        self.config = load_config(self.config_path)
        self.db = store.open_db(self.config.database)
        store.sync_feeds(self.db, self.config.feeds)
        self.feed_ids = {row["name"]: row["id"] for row in self.db.query("SELECT id, name FROM feeds")}
        self.count = 0

    def mention(self, title: str, *, compound: float | None, seen: dt.datetime = NOW - dt.timedelta(hours=1),
                terms: tuple[str, ...] = ("Quillfeather",), feed: str = "Forum", url: str | None = "auto",
                author: str | None = "Ana Lopez", content: str = "", thread: str | None = None,
                staff: bool = False, hit: bool = True, published: dt.datetime | None = None,
                raw_terms: str | None = None, first_seen: str | None = None) -> int:
        self.count += 1
        n = self.count
        if url == "auto":
            url = f"https://forum.quill.example/t/{n}"
        thread = thread or f"t{n}"
        with store.write(self.db):
            self.db.execute(
                "INSERT OR IGNORE INTO threads (id, root, url, title, feed_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [thread, url or f"root{n}", url, title, self.feed_ids[feed], store.iso(seen)])
            cursor = self.db.execute(
                "INSERT INTO items (feed_id, key, url, title, author, content, published, first_seen, heard_at, updated_at,"
                " content_hash, is_hit, terms, snippet, compound, thread_id, is_staff)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self.feed_ids[feed], f"key{n}", url, title, author, content or title,
                 store.iso(published or seen), first_seen or store.iso(seen), first_seen or store.iso(seen),
                 store.iso(seen), f"hash{n}", int(hit),
                 raw_terms if raw_terms is not None else json.dumps(list(terms)), content or title, compound, thread,
                 int(staff)])
        return cursor.lastrowid

    def feed_state(self, name: str, **values) -> None:
        columns = ", ".join(f"{key} = ?" for key in values)
        with store.write(self.db):
            self.db.execute(f"UPDATE feeds SET {columns} WHERE name = ?", [*values.values(), name])

    def add_comment_feed(self, name: str, parent: str) -> None:
        with store.write(self.db):
            self.db.execute("INSERT INTO feeds (ident, name, url, kind, parent_id, active, status, consecutive_errors)"
                            " VALUES (?, ?, ?, 'comments', ?, 1, 'error', 4)",
                            [f"comments:{name}", name, "https://blog.quill.example/c/feed", self.feed_ids[parent]])

    # The clock stands at `now` too: day_report passes `now` down, but the feed states come from
    # store.feed_health, which reads the clock itself (see `stale` in test_failing_and_stale...).
    def report(self, day: dt.date = DAY, now: dt.datetime = NOW) -> str:
        with time_machine.travel(now, tick=False):
            path = pipeline.render_report(self.config, day, self.root / "reports", now=now)
        return path.read_text(encoding="utf-8")

    def data(self, day: dt.date = DAY, now: dt.datetime = NOW) -> report.DayReport:
        with time_machine.travel(now, tick=False):
            return pipeline.day_report(self.db, self.config, day, now=now)


@pytest.fixture
def world(tmp_path) -> World:
    made = World(tmp_path / "w")
    yield made
    made.db.close()


def a_busy_week(world: World) -> None:
    """Two weeks of calm (answered by staff), then a heated day: 4 of 6 Quillfeather mentions negative,
    all in one thread."""
    for back in range(1, 15):
        seen = NOW - dt.timedelta(days=back)
        for i in range(5):
            world.mention(f"Nice day {back}-{i}", compound=0.4 if i else -0.3, seen=seen, thread="week")
    world.mention("We are on it", compound=0.5, seen=NOW - dt.timedelta(hours=20), thread="week",
                  author="Dana Reyes", staff=True, hit=False)
    for compound in (-0.8, -0.7, -0.6, -0.5, 0.3, 0.0):
        world.mention(f"Today {compound}", compound=compound, seen=NOW - dt.timedelta(hours=2), thread="today")


# --- hostile text: parse the output like a browser would ---------------------------------------

PAYLOADS = [
    '<script>document.title="PWNED"</script>',
    "<img src=x onerror=\"document.title='PWNED'\">",
    "<svg onload=\"document.title='PWNED'\"></svg>",
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    "<math><style><img src=x onerror=alert(1)></style></math>",
    "<details open ontoggle=alert(1)>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    "<form action=https://evil.example><input name=x></form>",
    "</textarea></style></title><script>alert(1)</script>",
    "{{ 7*7 }} {% raw %}",
]
BAD_URLS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)",
    "&#106;avascript:alert(1)", "jav\tascript:alert(1)", "java\nscript:alert(1)", " javascript:alert(1)",
    "//evil.example/x", 'https://ok.example/"onmouseover="alert(1)', "file:///etc/passwd",
]
OUR_META = {"charset", "viewport", "referrer", "listener-mood", "Content-Security-Policy"}


class Audit(HTMLParser):
    """Every element and attribute of a page, entities decoded as a browser decodes them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []  # what a reader sees: the contents of <style> left out
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self.in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False

    def handle_data(self, data):
        if not self.in_style:
            self.text.append(data)


def audit(html: str) -> Audit:
    parser = Audit()
    parser.feed(html)
    parser.close()
    return parser


def assert_nothing_runs(html: str) -> Audit:
    page = audit(html)
    names = [tag for tag, _ in page.tags]
    for forbidden in ("script", "iframe", "object", "embed", "form", "input", "base", "img", "math", "details"):
        assert forbidden not in names, f"<{forbidden}> in the output"
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}=...>"
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                assert re.match(r"^(https?://|#$|index\.html$|\d{4}-\d{2}-\d{2}\.html$)", value or ""), \
                    f"<{tag} {name}={value!r}>"
        if tag == "meta":
            assert (attrs.get("name") or attrs.get("http-equiv") or ("charset" if "charset" in attrs else "")) in OUR_META
    return page


def hostile_world(root: Path) -> World:
    world = World(root, feeds=["Quill blog", '<script>alert("feed")</script>'])
    world.add_comment_feed('Quill blog: <img src=x onerror=alert("comments")>', "Quill blog")
    for i, payload in enumerate(PAYLOADS):
        world.mention(f"Quillfeather {payload}", compound=-0.6 - i / 100, author=payload, content=f"said {payload}",
                      feed='<script>alert("feed")</script>' if i % 2 else "Quill blog",
                      url=BAD_URLS[i % len(BAD_URLS)])
        world.mention(f"Love it {payload}", compound=0.7, author=payload, url="https://ok.example/p", feed="Quill blog")
    for url in BAD_URLS:
        world.mention("Quillfeather bad link", compound=-0.9, url=url, feed="Quill blog")
    world.mention("x\r\nBcc: victim@example.org \u202egnp.exe\u200b zero\x1b[31m red\x00", compound=-0.99, feed="Quill blog")
    world.feed_state('<script>alert("feed")</script>', status="error", consecutive_errors=4, error_kind="http",
                     last_error="<script>alert('error')</script>", failing_since="2026-11-20T00:00:00Z",
                     last_polled_at="2026-11-24T09:00:00Z")
    return world


def test_feed_text_never_runs_in_the_report(tmp_path):
    world = hostile_world(tmp_path / "w")
    html = world.report()
    page = assert_nothing_runs(html)
    text = "".join(page.text)
    # Shown as text, not dropped: the reader sees what was written.
    assert '<script>document.title="PWNED"</script>' in text
    assert "{{ 7*7 }} {% raw %}" in text and "49" not in text
    assert '<script>alert("feed")</script>' in text  # the failing feed's name, as text
    assert "&lt;script&gt;" in html
    for url in BAD_URLS[:-1]:
        assert f'href="{url}"' not in html
    # Control, bidi and zero-width characters are gone; the link's host is shown beside it.
    assert not re.search("[\x00\x1b\u202e\u200b]", html)
    assert "gnp.exe" in text and "forum.quill.example" in text


def test_feed_text_never_runs_in_the_digest_html(tmp_path):
    world = hostile_world(tmp_path / "w")
    parts = report.render_digest(world.data(), max_items=50)
    assert_nothing_runs(parts.html)
    assert "\r" not in parts.subject and "\n" not in parts.subject and "Bcc" not in parts.subject
    assert not re.search("[\x00\x1b\u202e\u200b]", parts.text + parts.html)


def test_only_http_links_survive(world):
    assert text.safe_url("https://a.example/x?y=1#z") == "https://a.example/x?y=1#z"
    assert text.safe_url("HTTP://A.example") == "HTTP://A.example"
    for url in BAD_URLS + ["https://", "http:///path", "https://exa mple.com", None, 42]:
        assert text.safe_url(url) is None, url
        assert report.href(url) == "#"
    # Hosts are shown in ASCII: a Cyrillic "а" cannot pass for a Latin "a" (RELIABILITY D8).
    assert text.url_host("https://xn--bcher-kva.example/x") == "xn--bcher-kva.example"
    assert text.url_host("https://\u0430pple.example/login") == "xn--pple-43d.example"
    assert text.url_host("https://Forum.Quill.example:8443/t") == "forum.quill.example"


def test_clean_text_strips_controls_bidi_and_caps_length():
    assert text.clean_text("a\x00b\x07c\u202ed\u200be\ufeff") == "abcde"
    assert text.clean_text("one\r\ntwo\tthree") == "one two three"
    assert text.clean_text("one\r\n\r\n\r\ntwo", lines=True) == "one\n\ntwo"
    assert text.one_line("x\r\nBcc: victim@example.org") == "x Bcc: victim@example.org"
    long = text.clean_text("word " * 200, 50)
    assert len(long) <= 50 and long.endswith("…")
    assert text.clean_text("\ud800lone surrogate") == "lone surrogate"


# --- the template lint (RELIABILITY D4) ---------------------------------------------------------

TAG = re.compile(r"<(?!!--)[a-zA-Z/!][^>]*>")
QUOTED = re.compile(r"""\s[\w:-]+\s*=\s*("[^"]*"|'[^']*')""")


def template_files() -> list[Path]:
    return sorted(p for p in TEMPLATES.iterdir() if p.is_file())


def test_every_expression_inside_a_tag_is_in_a_quoted_attribute():
    problems = []
    for path in template_files():
        if path.suffix not in (".html", ".svg", ".xml"):
            continue
        source = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        for tag in TAG.findall(source):
            outside = QUOTED.sub(" ", tag)
            if "{{" in outside or "{%" in outside:
                problems.append(f"{path.name}: {tag}")
            for name, value in re.findall(r"""\s([\w:-]+)\s*=\s*"([^"]*)\"""", tag):
                if name.lower().startswith("on"):
                    problems.append(f"{path.name}: event handler in {tag}")
                if name.lower() in ("href", "src", "action") and "{{" in value \
                        and not re.fullmatch(r"\{\{[^}]*\|(href|local_href) \}\}", value):
                    problems.append(f"{path.name}: {name} without the href filter: {tag}")
    assert not problems, "\n".join(problems)


def test_no_script_and_no_expression_inside_style_blocks():
    for path in template_files():
        source = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        assert not re.search(r"<script", source, re.I), path.name
        for block in re.findall(r"<style[^>]*>(.*?)</style>", source, re.S | re.I):
            assert "{{" not in block, path.name
        if path.suffix == ".css":
            assert "{{" not in source and "{%" not in source, path.name


def test_the_lint_catches_what_it_is_for():
    """The lint's own check: each bad pattern is found."""
    for bad in ('<a href={{ url }}>', '<div {{ attrs }}>', '<a href="{{ url }}">', '<p onclick="{{ x }}">'):
        tag = TAG.findall(bad)[0]
        outside = QUOTED.sub(" ", tag)
        unfiltered = re.search(r'href="\{\{ url \}\}"', tag)
        handler = re.search(r"\son\w+=", tag)
        assert "{{" in outside or unfiltered or handler, bad


def test_one_environment_escapes_every_template():
    env = report.environment()
    assert env is report.environment()
    assert env.undefined is jinja2.StrictUndefined  # under tests
    for name in ("report.html", "index.html", "digest.html", "_macros.html"):
        assert env.autoescape(name) is True
    assert env.autoescape("anything.svg") is True and env.autoescape(None) is True
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    # Plain text is not HTML: AT&T stays AT&T, but control characters still go.
    assert env.autoescape("digest.txt") is False
    text = env.from_string("{% autoescape false %}{{ x }}{% endautoescape %}").render(x="AT&T \x1b[31mred\x07")
    assert text == "AT&T [31mred"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing.attribute }}").render()


def test_digest_text_is_plain_and_clean(world):
    world.mention("AT&T <b>loves</b> Quillfeather \x1b[2J", compound=0.8, author="Ben & Jerry")
    parts = report.render_digest(world.data(), max_items=10)
    assert "AT&T <b>loves</b> Quillfeather" in parts.text and "Ben & Jerry" in parts.text
    assert "&amp;" not in parts.text and "\x1b" not in parts.text
    assert "AT&amp;T &lt;b&gt;loves&lt;/b&gt;" in parts.html


# --- what the report shows ---------------------------------------------------------------------


def test_the_report_shows_temperature_counts_terms_and_a_fourteen_day_chart(world):
    a_busy_week(world)
    world.mention("Nibs are lovely", compound=0.9, terms=("Nibs",), seen=NOW - dt.timedelta(hours=3))
    html = world.report()
    expected = mood.temperature(4, 7)
    assert f'<meta name="listener-mood" content="{round(expected)} {mood.word(expected)}">' in html
    page = audit(html)
    text = " ".join("".join(page.text).split())
    assert "7 mentions heard today" in text
    assert "2 positive" in text and "1 neutral" in text and "4 negative" in text
    assert "Tuesday 24 November 2026" in text
    charts = [attrs for tag, attrs in page.tags if tag == "svg"]
    assert len(charts) == 3  # overall, Quillfeather, Nibs
    bars = [attrs for tag, attrs in page.tags if tag == "rect"]
    assert len(bars) == 3 * 14
    assert sum("today" in attrs["class"] for attrs in bars) == 3
    assert "Quillfeather" in text and "Nibs" in text and "▲" in text  # warmer than last week


def test_the_report_lists_threads_needing_a_reply_with_quote_wait_and_why(world):
    world.mention("Quillfeather lost my notes", compound=0.1, thread="tA", url="https://forum.quill.example/t/a",
                  seen=NOW - dt.timedelta(hours=6))
    world.mention("Re: lost notes", compound=-0.8, thread="tA", author="Mira K", content="Still broken after the update!",
                  seen=NOW - dt.timedelta(hours=5), url="https://forum.quill.example/t/a#c2", hit=False)
    world.mention("Quillfeather is fine", compound=-0.3, thread="tB", seen=NOW - dt.timedelta(hours=1))
    world.mention("Re: fine", compound=0.2, thread="tB", author="Dana Reyes", staff=True, seen=NOW - dt.timedelta(minutes=30))
    html = world.report()
    text = " ".join("".join(audit(html).text).split())
    assert "Needs a reply 1" in text
    assert "Quillfeather lost my notes" in text
    assert "“Still broken after the update!”" in text and "— Mira K" in text
    assert "waited 5h" in text and "Ranks here for:" in text and "how negative" in text
    assert 'href="https://forum.quill.example/t/a"' in html
    assert "Quillfeather is fine" not in text.split("Needs a reply")[1].split("Most negative")[0]


def test_the_report_shows_most_negative_and_most_positive_and_leaves_staff_out(world):
    world.mention("Terrible Quillfeather", compound=-0.95)
    world.mention("Meh Quillfeather", compound=-0.2)
    world.mention("Wonderful Quillfeather", compound=0.93)
    world.mention("Staff says sorry", compound=-0.99, author="Dana Reyes", staff=True)
    world.mention("Yesterday's anger", compound=-0.97, seen=NOW - dt.timedelta(days=1))
    data = world.data()
    assert [m.title for m in data.most_negative] == ["Terrible Quillfeather", "Meh Quillfeather"]
    assert [m.title for m in data.most_positive] == ["Wonderful Quillfeather"]
    assert data.overall.total == 3  # staff and yesterday are not today's mood


def test_a_day_is_what_listener_heard_whatever_the_publisher_claims(world):
    """RELIABILITY H4: a future (or ancient) publisher date does not move a mention out of its day."""
    world.mention("From the future", compound=-0.5, published=dt.datetime(2101, 1, 1, tzinfo=UTC))
    world.mention("From the past", compound=-0.5, published=dt.datetime(1970, 1, 1, tzinfo=UTC))
    data = world.data()
    assert data.overall.total == 2
    assert world.data(DAY + dt.timedelta(days=1), NOW + dt.timedelta(days=1)).overall.total == 0


def test_the_local_day_ends_at_local_midnight(tmp_path):
    world = World(tmp_path / "w")
    summer_night = dt.datetime(2026, 7, 1, 23, 30, tzinfo=UTC)  # 00:30 BST on 2 July
    world.mention("late", compound=-0.5, seen=summer_night)
    assert world.data(dt.date(2026, 7, 2), summer_night).overall.total == 1
    assert world.data(dt.date(2026, 7, 1), summer_night).overall.total == 0


def test_failing_and_stale_feeds_are_listed(world):
    world.feed_state("Forum", status="error", consecutive_errors=5, error_kind="timeout", last_error="no answer in 20s",
                     failing_since="2026-11-22T09:30:00Z", last_polled_at="2026-11-24T09:00:00Z")
    world.feed_state("Quill blog", status="ok", last_polled_at="2026-11-24T09:00:00Z",
                     last_new_item_at="2026-11-01T09:00:00Z")
    world.add_comment_feed("Quill blog: a post", "Quill blog")
    data = world.data()
    assert [(f.name, f.state) for f in data.failing] == [("Forum", "failing")]
    assert "timeout: no answer in 20s" in data.failing[0].detail and "2d" in data.failing[0].detail
    assert [(f.name, f.state) for f in data.stale] == [("Quill blog", "stale")]
    assert data.comment_feeds_failing == 1
    text = " ".join("".join(audit(world.report()).text).split())
    assert "failing Forum" in text and "stale Quill blog" in text and "no new items for 23d" in text


def test_a_feed_with_one_error_is_not_failing_yet(world):
    world.feed_state("Forum", status="error", consecutive_errors=2, last_polled_at="2026-11-24T09:00:00Z",
                     last_ok_at="2026-11-24T08:00:00Z")
    assert world.data().failing == ()


def test_one_bad_item_never_stops_the_report(world, caplog):
    world.mention("Good one", compound=-0.5)
    world.mention("Bad terms", compound=-0.7, raw_terms="{not json")
    world.mention("Bad date", compound=-0.6, first_seen="2026-11-24Tnonsense")
    html = world.report()
    text = " ".join("".join(audit(html).text).split())
    assert "Good one" in text
    assert "2 items could not be shown" in text  # both bad rows, from the most negative list
    assert "unreadable data" in caplog.text


def test_a_first_day_has_no_trend_and_says_its_baseline_is_a_guess(world):
    for compound in (-0.9, -0.8, -0.7, -0.6, -0.5, 0.5):
        world.mention("Quillfeather day one", compound=compound)
    data = world.data()
    assert data.overall.trend is None and data.overall.trend_word == "new"
    assert data.terms[0].spike and "against a typical 15% (little history yet)" in data.terms[0].spike_note
    text = " ".join("".join(audit(world.report()).text).split())
    assert "nothing heard last week" in text and "▲" not in text and "warmer" not in text
    assert "nothing heard last week to compare with" in report.render_digest(data, max_items=5).text


def test_an_empty_database_renders_a_calm_page(world):
    html = world.report()
    text = " ".join("".join(audit(html).text).split())
    assert "0 mentions heard today" in text and "calm" in text
    assert "No thread is waiting for a reply." in text


def test_index_links_every_day_newest_first(world):
    a_busy_week(world)
    for back in (2, 0, 1):
        world.report(DAY - dt.timedelta(days=back), NOW - dt.timedelta(days=back))
    (world.root / "reports" / "notes.html").write_text("not a report")
    index = (world.root / "reports" / "index.html").read_text()
    links = [attrs["href"] for tag, attrs in audit(index).tags if tag == "a"]
    assert links == ["2026-11-24.html", "2026-11-23.html", "2026-11-22.html"]
    assert "°" in index and "Tuesday 24 November 2026" in index


def test_reports_are_replaced_atomically(world, monkeypatch):
    path = Path(pipeline.render_report(world.config, DAY, world.root / "reports", now=NOW))
    before = path.read_text()

    def broken_fsync(fd):
        raise OSError(27, "File too large")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    world.mention("New mention", compound=-0.9)
    with pytest.raises(ListenerError, match="cannot write the report .*2026-11-24.html: File too large"):
        pipeline.render_report(world.config, DAY, world.root / "reports", now=NOW)
    assert path.read_text() == before  # the old page stays whole
    assert sorted(p.name for p in path.parent.iterdir()) == ["2026-11-24.html", "index.html"]  # no temp files


def test_report_cli_prints_the_path_and_rejects_a_bad_date(world):
    out = world.root / "elsewhere"
    env = {**os.environ, "LISTENER_CONFIG": str(world.config_path)}
    done = subprocess.run([sys.executable, "-m", "listener", "report", "--date", "2026-11-20", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == str(out / "2026-11-20.html")
    assert done.stdout.splitlines()[1].startswith("2026-11-20: ")  # the word, the temperature, what to do
    assert (out / "index.html").exists()
    bad = subprocess.run([sys.executable, "-m", "listener", "report", "--date", "24/11/2026"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "--date" in bad.stderr


# --- the digest's plain text, against a reviewed golden file ----------------------------------


def golden_report() -> report.DayReport:
    """A fixed day built by hand (no database, no thread triage), so only our rendering can change it."""
    mentions = [mood.Mention(NOW - dt.timedelta(days=back, hours=1), 0.4 if i else -0.3, ("Quillfeather",))
                for back in range(1, 15) for i in range(5)]
    mentions += [mood.Mention(NOW - dt.timedelta(hours=2), c, ("Quillfeather",)) for c in (-0.8, -0.7, -0.6, 0.3, 0.0)]
    days = mood.tally(mentions, timezone="Europe/London", negative=-0.05, positive=0.05, terms=["Quillfeather", "Nibs"])
    threads = [{
        "id": f"g{i}", "title": f"Thread {i}: Quillfeather ate my drafts", "url": f"https://forum.quill.example/g/{i}",
        "feed": "Forum", "items": 3 - i, "negative_items": 1, "needs_reply": True, "priority": 60.4 - 10 * i,
        "why": {"how_negative": 36.0, "how_long": 14.2 - i, "how_many": 10.0, "how_fast": 0.0},
        "heating_up": i == 0, "defended": i == 1, "staff_replied": False, "waiting_seconds": 3600 * (7 - 2 * i),
        "unanswered": {"author": f"Reader {i}", "text": f"Lost everything & more, answer please ({i}) " * (3 - i),
                       "url": f"https://forum.quill.example/g/{i}#c1", "compound": -0.9 + i / 10},
    } for i in range(3)]
    row = {"feed": "Forum", "author": "Ana Lopez", "first_seen": "2026-11-24T07:30:00Z", "terms": ["Quillfeather"]}
    negative = [{**row, "title": f"Angry {i}", "url": f"https://forum.quill.example/n/{i}", "compound": -0.8 + i / 10,
                 "snippet": "it broke"} for i in range(3)]
    positive = [{**row, "title": "Glad", "url": None, "compound": 0.3, "snippet": "works <b>fine</b>"}]
    feeds = [{"name": "Forum", "kind": "feed", "url": "https://forum.quill.example/feed", "status": "error",
              "state": "failing", "consecutive_errors": 3, "error_kind": "http", "last_error": "HTTP 503",
              "failing_since": "2026-11-23T09:30:00Z", "last_polled_at": "2026-11-24T09:00:00Z"}]
    return report.build_report(
        day=DAY, timezone="Europe/London", generated_at=NOW,
        overall=mood.scope_mood(days, mood.OVERALL, DAY),
        terms=[mood.scope_mood(days, name, DAY) for name in ("Quillfeather", "Nibs")],
        threads=threads, negative_rows=negative, positive_rows=positive, feed_rows=feeds, negative=-0.05, positive=0.05)


def test_digest_text_matches_the_reviewed_golden_file():
    """Regenerate only on request: LISTENER_REGEN_GOLDEN=1, then review the diff before committing."""
    parts = report.render_digest(golden_report(), max_items=2, report_hint=" (listener report --date 2026-11-24)")
    golden = GOLDEN / "digest.txt"
    if os.environ.get("LISTENER_REGEN_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(parts.text, encoding="utf-8")
    assert parts.text == golden.read_text(encoding="utf-8")
    assert parts.threads_more == 1 and "1 more in the report (listener report --date 2026-11-24)." in parts.text
    assert parts.negative_more == 1


def test_feed_views_follow_the_state_listener_feeds_shows():
    rows = [
        {"name": "A", "kind": "feed", "state": "disabled", "status": "disabled", "consecutive_errors": 40,
         "error_kind": "timeout", "last_error": "no answer", "failing_since": "2026-11-10T00:00:00Z"},
        {"name": "B", "kind": "feed", "state": "retrying", "consecutive_errors": 1},
        {"name": "C", "kind": "feed", "state": "stale", "last_new_item_at": None},
        {"name": "D", "kind": "comments", "state": "gone"},
        {"name": "E", "kind": "feed", "state": "failing", "failing_since": "garbage"},
    ]
    failing, stale, comments = report.feed_views(rows, now=NOW)
    assert [(f.name, f.state) for f in failing] == [("A", "disabled")]
    assert "failing for 14d" in failing[0].detail and "no longer polled" in failing[0].detail
    assert [(f.name, f.detail) for f in stale] == [("C", "no items since it was added")]
    assert comments == 1  # and E, whose row is broken, is left out without stopping the others


def sample_report(tmp_path: Path) -> str:
    """Today's report over the repo's Quillfeather sample, polled into tmp_path."""
    import shutil

    from listener import pipeline as wiring
    from listener.config import load_config

    repo = Path(__file__).resolve().parents[1]
    shutil.copytree(repo / "sample", tmp_path / "sample")
    shutil.copy(repo / "feeds.yaml", tmp_path / "feeds.yaml")
    config = load_config(tmp_path / "feeds.yaml")
    wiring.poll(config, force=True)
    return wiring.render_report(config, None, None).read_text(encoding="utf-8")


def test_a_comment_in_the_mention_lists_is_named_by_its_conversation(tmp_path):
    """WordPress comment titles are "By: Name"; the lists say which thread the comment is in instead."""
    page = sample_report(tmp_path)
    lists = page[page.index("Most negative"):]
    assert "Comment on Sync outage on 22 November" in lists
    assert "By: Hannah Whitfield" not in lists


def test_the_quote_link_says_post_or_comment(tmp_path):
    page = sample_report(tmp_path)
    leaving = page[page.index("Why I’m leaving Quillfeather"):]
    assert leaving.index("open the post") < leaving.index("</blockquote>")  # nobody commented: the post waits
    outage = page[page.index("Sync outage on 22 November"):]
    assert outage.index("open the comment") < outage.index("</blockquote>")
