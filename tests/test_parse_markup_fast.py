"""html_to_text's shortcut for plain markup gives what HTMLParser (_TextExtractor) gives.

markup._simple_markup_to_text reads text, plain start/end tags and plain comments itself and
returns None for anything else; wherever it answers, the answer must be _parsed_markup_to_text's.
Held on every HTML string of the real feeds, on generated tag soup, and on hand-picked edges.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import feedparser
import pytest
from fuzzfeeds import MARKUP
from hypothesis import given, settings
from hypothesis import strategies as st

from listener.parse import markup

REALFEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "realfeeds"


def assert_same(text: str) -> None:
    simple = markup._simple_markup_to_text(text)
    if simple is not None:
        assert simple == markup._parsed_markup_to_text(text), text


def real_strings() -> list[str]:
    strings = []
    for path in sorted(REALFEEDS.glob("*")):
        if path.name in ("MANIFEST.md", "manifest.json"):
            continue
        parsed = feedparser.parse(io.BytesIO(path.read_bytes()), sanitize_html=False, resolve_relative_uris=False)
        for entry in parsed.entries:
            strings += [c.get("value") or "" for c in entry.get("content") or ()]
            strings += [entry.get("summary") or "", entry.get("title") or ""]
    return [s for s in strings if "<" in s]


@pytest.mark.skipif(not REALFEEDS.is_dir(), reason=f"real feed samples not found at {REALFEEDS}")
def test_real_feed_markup_reads_the_same_and_mostly_takes_the_shortcut() -> None:
    strings = real_strings()
    simple = [s for s in strings if markup._simple_markup_to_text(s) is not None]
    assert len(simple) > 0.9 * len(strings)
    for text in strings:
        assert_same(text)


EDGES = [
    "<p>a</p>b", "<P CLASS=x>a</P >b", "<br/>x<br />y", "a<img src='x.png' alt=\"a > b\">b", "<a href=x/>t</a>",
    "<a href=\"x\"title=y>t</a>", "<!-- c -->a<!---->b<!--->c-->", "<!-- a -- b -->c", "<!-- a --->b",
    "a &amp; b &lt;c&gt; &#x26; &nbsp;&bogus; &amp", "<p>a &am</p>p;", "<div\xa0>a</div>", "<o:p>x</o:p>",
    "<script>x</script>y", "<td>a<td>b", "a < b", "<3", "<p>unclosed", "x <a href='y", "</p>", "<a\tb\n=\r'c'>x</a>",
    "<h1>T</h1><h2>U</h2>", "<br\x0b>x", "<p data-x='1' data-y>z</p>", "<span>a</span><span>b</span>",
]


@pytest.mark.parametrize("text", EDGES)
def test_edges_read_the_same(text: str) -> None:
    assert_same(text)


TAG_NAMES = st.sampled_from(["p", "P", "br", "b", "a", "div", "img", "span", "td", "h1", "li", "x1", "script"])
ATTR = st.tuples(st.sampled_from(["href", "src", "class", "data-x", "alt", "on:click"]),
                 st.sampled_from(["", "=x", "='a b'", '="a\'b"', "= y", "=\"a>b\"", "=a/b", "=&amp;"]))
TAGS = st.builds(lambda close, name, attrs, space, slash: (
    f"</{name}{space}>" if close else f"<{name}{''.join(f' {k}{v}' for k, v in attrs)}{space}{slash}>"),
    st.booleans(), TAG_NAMES, st.lists(ATTR, max_size=3), st.sampled_from(["", " ", "\n", "\t"]),
    st.sampled_from(["", "/"]))
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
SOUP = st.lists(st.one_of(TEXT, TAGS, st.sampled_from(MARKUP), st.sampled_from(["&amp;", "&#60;", "<!-- c -->"])),
                max_size=14).map("".join)


@settings(max_examples=400, deadline=None)
@given(SOUP)
def test_tag_soup_reads_the_same(text: str) -> None:
    assert_same(text)


def test_folding_whitespace_is_the_regex_whitespace() -> None:
    """_fold uses str.split(); it replaced re.sub(r"\\s+", " ", ...).strip()."""
    space = re.compile(r"\s")
    assert [c for c in range(sys.maxunicode + 1) if bool(space.match(chr(c))) != chr(c).isspace()] == []
