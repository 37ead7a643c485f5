"""Hypothesis strategies that build hostile feeds: RSS and Atom, odd encodings, broken markup."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from hypothesis import strategies as st

MARKUP = ["<b>", "</b>", "<p>", "</p>", "<br/>", "<i>x</i>", "<script>alert(1)</script>", "<style>p{x:y}</style>",
          "<a href='javascript:alert(1)'>link</a>", "<img src=x onerror=alert(1)>", "<div><div><div>", "<!--",
          "-->", "<![CDATA[", "]]>", "&amp;", "&nbsp;", "&lt;b&gt;", "&#0;", "&#x1F600;", "&bogus;", "<", ">", "&",
          "</", "<<b", "<svg onload=x>", "<table><tr><td>cell", "\u202e", "\x00", "\x07", "\r\n"]
WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
FRAGMENT = st.one_of(WORDS, st.sampled_from(MARKUP), st.sampled_from(["Quillfeather", "great", "awful", " "]))
HTML = st.lists(FRAGMENT, max_size=12).map("".join)
DATES = st.sampled_from([None, "Tue, 24 Nov 2026 10:00:00 GMT", "2026-11-24T10:00:00Z", "0000-00-00", "garbage",
                         "2101-01-01T00:00:00Z", "Mon, 30 Feb 2026 25:61:00 +9999", ""])
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "iso-8859-1", "windows-1252", "mislabelled"])


@dataclass(frozen=True)
class FuzzEntry:
    title: str
    body: str
    guid: str | None
    link: str | None
    date: str | None
    cdata: bool


@dataclass(frozen=True)
class FuzzFeed:
    kind: str
    entries: tuple[FuzzEntry, ...]
    encoding: str
    cut: int | None  # truncate the bytes here: a broken document

    @property
    def well_formed(self) -> bool:
        return self.cut is None and self.encoding != "mislabelled"


def _text(value: str) -> str:
    """XML 1.0 cannot carry most C0 controls even escaped; they arrive as raw bytes in the wild."""
    return escape(value)


def _content(entry: FuzzEntry) -> str:
    if entry.cdata and "]]>" not in entry.body:
        return f"<![CDATA[{entry.body}]]>"
    return _text(entry.body)


def _rss(entries: tuple[FuzzEntry, ...]) -> str:
    items = []
    for e in entries:
        parts = [f"<title>{_text(e.title)}</title>", f"<description>{_content(e)}</description>"]
        if e.guid is not None:
            parts.append(f'<guid isPermaLink="false">{_text(e.guid)}</guid>')
        if e.link is not None:
            parts.append(f"<link>{_text(e.link)}</link>")
        if e.date is not None:
            parts.append(f"<pubDate>{_text(e.date)}</pubDate>")
        items.append("<item>" + "".join(parts) + "</item>")
    return ('<rss version="2.0"><channel><title>Fuzz</title><link>https://fuzz.example/</link>'
            + "".join(items) + "</channel></rss>")


def _atom(entries: tuple[FuzzEntry, ...]) -> str:
    out = []
    for n, e in enumerate(entries):
        parts = [f"<title type='html'>{_text(e.title)}</title>",
                 f"<id>{_text(e.guid if e.guid is not None else f'urn:fuzz:{n}')}</id>",
                 f"<content type='html'>{_content(e)}</content>"]
        if e.link is not None:
            parts.append(f"<link rel='alternate' href=\"{_text(e.link)}\"/>")
        if e.date is not None:
            parts.append(f"<updated>{_text(e.date)}</updated>")
        out.append("<entry>" + "".join(parts) + "</entry>")
    return ('<feed xmlns="http://www.w3.org/2005/Atom"><title>Fuzz</title><id>urn:fuzz</id>'
            "<updated>2026-11-24T00:00:00Z</updated>" + "".join(out) + "</feed>")


def render(feed: FuzzFeed) -> bytes:
    document = _rss(feed.entries) if feed.kind == "rss" else _atom(feed.entries)
    if feed.encoding == "mislabelled":  # says UTF-8, is windows-1252
        data = ('<?xml version="1.0" encoding="utf-8"?>' + document).encode("windows-1252", "replace")
    else:
        label = "utf-8" if feed.encoding == "utf-8-sig" else feed.encoding
        data = (f'<?xml version="1.0" encoding="{label}"?>' + document).encode(feed.encoding, "replace")
    return data[:feed.cut] if feed.cut is not None else data


@st.composite
def feeds(draw) -> FuzzFeed:
    entries = draw(st.lists(st.builds(
        FuzzEntry, title=st.text(min_size=1, max_size=30).filter(str.strip) | HTML.filter(str.strip), body=HTML,
        guid=st.none() | st.text(min_size=1, max_size=20), link=st.none() | st.sampled_from(
            ["https://fuzz.example/p/1", "javascript:alert(1)", "/relative", "http://[broken", "https://fuzz.example/p/1#c"]),
        date=DATES, cdata=st.booleans()), max_size=6))
    kind = draw(st.sampled_from(["rss", "atom"]))
    encoding = draw(ENCODINGS)
    feed = FuzzFeed(kind, tuple(entries), encoding, None)
    if draw(st.booleans()):
        size = len(render(feed))
        feed = FuzzFeed(kind, tuple(entries), encoding, draw(st.integers(0, max(0, size - 1))))
    return feed
