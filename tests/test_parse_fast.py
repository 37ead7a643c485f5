"""The fast path (listener/parse/fast.py) gives exactly the Items feedparser's path gives.

Every body is parsed twice, once with parse.FAST_PATH off (feedparser, the reference), and the two
ParsedFeeds (or ParseError codes) must be equal: on the 53 real feeds in ../shared/realfeeds, the
fixtures in tests/data/parse, feeds built with tests/feedgen.py, the bench farm's blogs and comment
feeds, the fuzz corpus (tests/fuzzfeeds.py), and real feeds with elements spliced in where ordinary
feeds never put them. No deliberate difference exists: a body the fast path does not model goes to
feedparser whole.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
from feedgen import Entry, atom, rss
from fuzzfeeds import feeds, render
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from listener import parse
from listener.errors import ParseError
from listener.models import ParsedFeed
from listener.parse.fast import fast_parse
from listener.parse.prolog import prepare

_FARM = importlib.util.spec_from_file_location("bench_farm", Path(__file__).parents[1] / "bench" / "farm.py")
assert _FARM is not None and _FARM.loader is not None
farm_module = sys.modules.setdefault("bench_farm", importlib.util.module_from_spec(_FARM))
_FARM.loader.exec_module(farm_module)  # bench/ is not an installed package
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone.utc)
DATA = Path(__file__).parent / "data" / "parse"
REALFEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "realfeeds"
REAL_FILES = sorted(p.name for p in REALFEEDS.glob("*") if p.name not in ("MANIFEST.md", "manifest.json")) \
    if REALFEEDS.is_dir() else []
FIXTURES = sorted(p.name for p in DATA.iterdir() if p.suffix != ".json")
EXAMPLES = int(os.environ.get("LISTENER_FUZZ_EXAMPLES", "40"))
# ordinary feeds the fast path must take (not hand to feedparser): the point of having it
FAST_REAL = ("wp_loopinsight_2013.xml", "wp_natasha_2017.xml", "blogger_4fsodonline.atom", "blogger_quiltville.atom",
             "wp_atom_laminas_common.atom", "daringfireball.atom", "hackernews_2022.rss", "youtube_feeddeck.xml",
             "reddit_frontpage.rss", "gmane_mailinglist_2012.rdf", "slashdot_2005.rdf", "medium_emarley.rss",
             "mastodon_tag_hachyderm.rss", "stackoverflow_tag.xml", "wp_techcrunch_2008.xml")


def parse_with(fast: bool, body: bytes, url: str) -> ParsedFeed | str:
    """The ParsedFeed, or the ParseError code."""
    saved = parse.FAST_PATH
    parse.FAST_PATH = fast
    try:
        return parse.parse_feed(body, url=url, now=NOW)
    except ParseError as exc:
        return f"ParseError({exc.kind})"
    finally:
        parse.FAST_PATH = saved


def assert_same(body: bytes, url: str = "https://feeds.example.com/feed") -> None:
    reference = parse_with(False, body, url)
    fast = parse_with(True, body, url)
    if isinstance(reference, ParsedFeed) and isinstance(fast, ParsedFeed):
        for position, (mine, theirs) in enumerate(zip(fast.items, reference.items)):
            assert mine == theirs, f"item {position}"
    assert fast == reference


def takes_fast_path(body: bytes) -> bool:
    return fast_parse(prepare(body, {})) is not None


@pytest.mark.skipif(not REAL_FILES, reason=f"real feed samples not found at {REALFEEDS}")
@pytest.mark.parametrize("name", REAL_FILES or ["-"])
def test_real_feeds_give_the_same_items(name: str) -> None:
    assert_same((REALFEEDS / name).read_bytes(), f"https://feeds.example.com/{name}")


@pytest.mark.skipif(not REAL_FILES, reason=f"real feed samples not found at {REALFEEDS}")
@pytest.mark.parametrize("name", FAST_REAL)
def test_ordinary_real_feeds_take_the_fast_path(name: str) -> None:
    assert takes_fast_path((REALFEEDS / name).read_bytes())


@pytest.mark.parametrize("name", FIXTURES)
def test_fixtures_give_the_same_items(name: str) -> None:
    url = "sample/local_feed.xml" if name.startswith("local_feed") else f"https://blog.example/{name}"
    assert_same((DATA / name).read_bytes(), url)


def test_farm_feeds_give_the_same_items_and_take_the_fast_path(tmp_path: Path) -> None:
    farm = farm_module.build_farm(tmp_path, 6, now=NOW)
    bodies = sorted((tmp_path / "f").iterdir()) + sorted((tmp_path / "c").iterdir())
    assert len(bodies) > 6
    for path in bodies:
        body = path.read_bytes()
        assert takes_fast_path(body), path.name
        assert_same(body, f"http://127.0.0.1:8080/{path.parent.name}/{path.name}")
    assert farm.items == 6 * 20


def test_feedgen_feeds_give_the_same_items() -> None:
    when = dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.timezone.utc)
    entries = [
        Entry("Plain", "Text & more", link="https://blog.example/1", guid="g1", author="Jo <jo@x.example>",
              published=when, comments_feed="/c/1.xml", comment_count=3),
        Entry("<b>Bold</b> &amp; title", "<p>HTML <i>body</i></p><script>x()</script>",
              link="/relative?a=1&b=2", in_reply_to=("urn:parent", "https://blog.example/p")),
        Entry("Ã©tÃ© mojibake \x85 cp1252", "caf\u00e9", guid="https://blog.example/perma"),
        Entry("extra", extra="<comments>https://blog.example/1#c</comments><ttl>60</ttl>"
                             "<feedburner:origLink xmlns:feedburner='http://rssnamespace.org/feedburner/ext/1.0'>"
                             "https://orig.example/1</feedburner:origLink>"),
        Entry("dates", published=dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)),
    ]
    for body in (rss(entries), atom(entries), rss([]), atom([])):
        assert takes_fast_path(body.encode())
        assert_same(body.encode())


THREADED_ATOM = """<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:t="http://purl.org/syndication/thread/1.0"
      xml:base="https://forum.example/base/">
  <title type="html">Forum &amp;lt;b&amp;gt;</title><link href="/home"/><id>urn:f</id>
  <entry><id>urn:1</id><title>One</title><link rel="replies" type="application/atom+xml" href="1.atom"
    t:count="7"/><t:total>4</t:total><author><name>Ann</name><email>ann@x.example</email></author>
    <summary>first</summary><content type="text">a &lt; b</content><published>2026-11-02T10:00:00+02:00</published>
    <updated>2026-11-03</updated></entry>
  <entry xml:base="/other/"><id>2</id><title></title><title>Second title</title><link href="p/2"/>
    <t:in-reply-to ref="urn:1" href="/p/1"/><content type="html">&lt;p&gt;hi&lt;/p&gt;</content>
    <summary>later summary</summary><author><name>Bo</name></author><updated>Tue, 24 Nov 2026 10:00:00 GMT</updated>
  </entry>
</feed>"""

RSS_QUIRKS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Q</title><link>https://q.example/</link>
  <atom:link rel="self" href="https://q.example/feed"/><image><title>Logo</title><url>/logo.png</url>
  <link>https://q.example/img</link></image><ttl>30</ttl>
  <item><guid>https://q.example/p/1</guid><description>d1</description><dc:description>d2</dc:description>
    <author>jo@x.example (Jo Bloggs)</author><dc:creator>Later</dc:creator><category>c</category>
    <enclosure url="https://q.example/a.mp3" type="audio/mpeg"/><dc:date>2026-11-01T00:00:00Z</dc:date></item>
  <item><content:encoded>&lt;p&gt;full&lt;/p&gt;</content:encoded><description>short</description>
    <link>https://q.example/p/2?a=1&amp;b=2</link><guid isPermaLink="false">k2</guid>
    <pubDate>Sun, 01 Nov 2026 00:00:00 +0000</pubDate><comments>/p/2#comments</comments></item>
  <item><title>RSS content</title><content>&lt;b&gt;x&lt;/b&gt; &amp;amp;</content><link></link></item>
</channel></rss>"""


@pytest.mark.parametrize("body", [THREADED_ATOM, RSS_QUIRKS], ids=["atom", "rss"])
def test_quirks_give_the_same_items(body: str) -> None:
    assert takes_fast_path(body.encode())
    assert_same(body.encode(), "https://forum.example/feed")


@pytest.mark.parametrize("body", [
    b"<!DOCTYPE rss PUBLIC '-//Netscape Communications//DTD RSS 0.91//EN' 'x.dtd'><rss version='0.91'>"
    b"<channel><item><title>&amp; t</title></item></channel></rss>",
    b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>t</title><content type='xhtml'>"
    b"<div xmlns='http://www.w3.org/1999/xhtml'><p>a &amp; b</p></div></content></entry></feed>",
    b"<rss version='2.0'><channel><item><title>Broken &nbsp; entity</title></item></channel></rss>",
    b"<rss version='0.92'><channel><item><title>old</title></item></channel></rss>",
], ids=["doctype", "xhtml", "not-well-formed", "rss092"])
def test_what_the_fast_path_leaves_to_feedparser(body: bytes) -> None:
    assert not takes_fast_path(body)
    assert_same(body)


def rss_item(inner: str, channel: str = "") -> bytes:
    return (f"<rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/'><channel><title>C</title>{channel}"
            f"<item>{inner}</item></channel></rss>").encode()


@pytest.mark.parametrize("body", [
    rss_item("<link>https://a.example/1<enclosure url='https://e.example/x.mp3'/></link>"),
    rss_item("<title>t</title>", "<image><category>c<image/></category></image>"),
    rss_item("<authors>text</authors><author>jo@x.example</author>"),
    rss_item("<date>2026-11-01</date><title></title><title>second</title><title>third</title>"),
    rss_item("<description>one</description><description>two</description><dc:description>3</dc:description>"),
    rss_item("<guid isPermaLink='true'>/relative/guid</guid><link>https://a.example/l</link>"),
    rss_item("<link>https://a.example/l</link><guid>https://a.example/g</guid><comments>/c</comments>"),
    rss_item("<title>x</title><svg><title>no</title></svg>"),
    rss_item("<media:title xmlns:media='http://search.yahoo.com/mrss/'>m</media:title><title>t</title>"),
    b"<feed xmlns='http://www.w3.org/2005/Atom' xml:base='javascript:alert(1)'><entry><link href='x'/>"
    b"<id>i</id></entry><entry xml:base='https://b.example/d/'><link href='../y'/></entry></feed>",
    b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><content type='application/octet-stream'>aGk=</content>"
    b"</entry></feed>",
], ids=["enclosure-in-link", "image-in-category", "authors-text", "date-alias", "descriptions", "permalink",
        "link-then-guid", "svg", "media-title", "xml-base", "base64"])
def test_odd_structures_give_the_same_items(body: bytes) -> None:
    assert_same(body)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds())
def test_fuzzed_feeds_give_the_same_items(feed) -> None:
    assert_same(render(feed))


WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.builds(Entry, title=WORDS, body=WORDS, link=st.none() | WORDS, guid=st.none() | WORDS,
                          author=st.none() | WORDS), max_size=4), st.booleans())
def test_generated_feedgen_feeds_give_the_same_items(entries: list[Entry], as_atom: bool) -> None:
    assert_same((atom(entries) if as_atom else rss(entries)).encode())


# Snippets spliced into real and fixture feeds after a random ">" (a fresh element, or a stray end tag),
# so elements turn up where ordinary feeds never put them: the two paths must still agree.
SNIPPETS = [
    "<title>T &amp; x</title>", "<title/>", "<link>https://m.example/l?a=1&amp;b=2</link>", "<guid>g</guid>",
    "<link href='/r' rel='replies' type='application/atom+xml' t:count='3' "
    "xmlns:t='http://purl.org/syndication/thread/1.0'/>", "<guid isPermaLink='false'>k</guid>", "<id>urn:x</id>",
    "<author>a@b.example (A B)</author>", "<author><name>N</name><email>e@x.example</email></author>",
    "<dc:creator xmlns:dc='http://purl.org/dc/elements/1.1/'>D</dc:creator>", "<summary>s</summary>",
    "<description>&lt;p&gt;d&lt;/p&gt;</description>", "<content type='html'>&lt;b&gt;c&lt;/b&gt;</content>",
    "<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'><![CDATA[<p>e</p>]]></content:encoded>",
    "<pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>", "<updated>2026-11-02T00:00:00Z</updated>",
    "<published>2026-02-30</published>", "<category>c</category>", "<enclosure url='https://e.example/a'/>",
    "<image><title>i</title><url>/i.png</url><link>https://i.example/</link></image>", "<ttl>5</ttl>",
    "<item><title>inner</title></item>", "<entry><title>inner</title></entry>", "<foo>bar</foo>", "<foo a='1'/>",
    "<slash:comments xmlns:slash='http://purl.org/rss/1.0/modules/slash/'>4</slash:comments>", "<date>2026</date>",
    "<thr:in-reply-to xmlns:thr='http://purl.org/syndication/thread/1.0' ref='r' href='/h'/>", "Ã© text",
    "<media:title xmlns:media='http://search.yahoo.com/mrss/'>mt</media:title>", "<webMaster>w@x.example</webMaster>",
    "<textInput><title>ti</title><name>n</name></textInput>", "<channel>", "</channel>", "<source url='x'>s</source>",
]
SPLICE_BASES = [REALFEEDS / name for name in REAL_FILES] or [DATA / name for name in FIXTURES]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SPLICE_BASES), st.lists(st.tuples(st.floats(0, 1), st.sampled_from(SNIPPETS)), min_size=1,
                                                max_size=4))
def test_spliced_feeds_give_the_same_items(path: Path, splices: list[tuple[float, str]]) -> None:
    body = path.read_bytes()
    for where, snippet in splices:
        ends = [m.end() for m in re.finditer(rb">", body)]
        if ends:
            cut = ends[int(where * (len(ends) - 1))]
            body = body[:cut] + snippet.encode() + body[cut:]
    assert_same(body)
