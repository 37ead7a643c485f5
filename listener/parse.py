"""Feed bytes -> ParsedFeed: feedparser on bytes we have checked first, then normalised Items.

Why it is built this way (RELIABILITY B1-B10, C1-C2, D3, D8):

* feedparser's own DTD handling is not a defence: its entity regex misses one-line DTDs and its
  loose parser expands "safe" entities without limit (B3: 112 KB in, 1.4 GB out). So the body is
  decoded to UTF-8 first, exactly as feedparser would decode it, and any DTD internal subset that
  declares an entity is refused before feedparser sees a byte. Checking the decoded text, not the
  raw bytes, means a UTF-16, UTF-7 or EBCDIC body cannot smuggle `<!ENTITY` past the check.
* Before feedparser, the decoded bytes also lose what makes expat give up on an otherwise good
  feed (C0 controls, blank lines before `<?xml`, char refs to non-characters): a strict parse keeps
  every entry, while feedparser's loose fallback is slower, lossier, and crashes on some of them.
* feedparser gets a BytesIO, never bytes: given bytes it tries `open(body)` as a file name.
* Every text field ends up as plain text (we never keep feed HTML), so feedparser's sanitizer and
  relative-URI rewriting of content are switched off: they cost time and we strip the tags anyway.
  Links are resolved here, not by feedparser (see _run_feedparser).
* Everything here is a pure function of its arguments, so it can run in a worker process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import logging
import os
import pyexpat
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.encodings import convert_to_utf8

from listener.budget import OutOfTime, cpu_budget
from listener.errors import ParseError
from listener.models import Item, ParsedFeed
from listener.text import INVISIBLE as _INVISIBLE
from listener.text import safe_url

log = logging.getLogger(__name__)

TITLE_LIMIT = 1024
AUTHOR_LIMIT = 256
CONTENT_LIMIT = 128 * 1024  # characters of plain text kept per item
HTML_LIMIT = 4 * CONTENT_LIMIT  # characters of HTML looked at per item: bounds the tag-stripping CPU (B10)
KEY_LIMIT = 1024
RAW_DATE_LIMIT = 64
URL_LIMIT = 8192
MESSAGE_LIMIT = 200
PARSE_BUDGET = 10.0  # seconds of CPU per feed body (issue 14.4)
MAX_BODY_BYTES = 32 * 1024 * 1024  # a safety net behind fetch's 15 MiB cap, for local files
MAX_COUNT = 2**31 - 1  # comment counts beyond this are garbage (and would overflow SQLite)
MAX_TTL_MINUTES = 366 * 24 * 60
FUTURE_SLACK = dt.timedelta(days=1)
MIN_DATE = dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc)  # older "dates" are epoch/zero placeholders

THREAD_NS = "http://purl.org/syndication/thread/1.0"
FEED_TYPES = frozenset({
    "application/atom+xml", "application/rss+xml", "application/rdf+xml",
    "application/xml", "text/xml",
})
HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml", "html", "xhtml")
# bozo exceptions that only say the charset or media type was wrong; the entries are fine
HARMLESS_BOZO = ("CharacterEncodingOverride", "NonXMLContentType")

if pyexpat.version_info < (2, 4, 0):  # the amplification guard that stops one-line billion laughs (B2)
    log.warning("libexpat %s is older than 2.4: XML entity amplification is not limited",
                pyexpat.EXPAT_VERSION)


# --- text cleaning ------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template"})
# tags that separate words: "a<br>b" is two words, "a<b>b</b>" is one
_BREAK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "img",
    "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
# HTML that is still there after one pass was escaped twice (Reddit's RSS descriptions do this)
_HTML_ELEMENTS = (
    "a|abbr|address|area|article|aside|audio|b|bdi|bdo|big|blockquote|body|br|button|canvas|caption|"
    "center|cite|code|col|colgroup|dd|del|details|dfn|dialog|div|dl|dt|em|embed|fieldset|figcaption|"
    "figure|font|footer|form|frame|frameset|h[1-6]|head|header|hr|html|i|iframe|img|input|ins|kbd|"
    "label|legend|li|link|main|map|mark|math|meta|nav|noscript|object|ol|optgroup|option|p|param|"
    "picture|pre|q|s|samp|script|section|select|small|source|span|strike|strong|style|sub|summary|"
    "sup|svg|table|tbody|td|template|textarea|tfoot|th|thead|title|tr|track|tt|u|ul|var|video|wbr"
)
_RESIDUAL_HTML = re.compile(rf"<!--|<!doctype|<!\[cdata\[|</?(?:{_HTML_ELEMENTS})(?:\s[^<>]*)?/?>", re.I)
_TAG_FALLBACK = re.compile(r"<[^>]*>?")
_SKIP_FALLBACK = re.compile(r"<(script|style|noscript|template)\b.*?(</\1\s*>|$)", re.I | re.S)


def _fold(text: str) -> str:
    """Drop invisible characters and fold every run of whitespace into one space."""
    return _WHITESPACE.sub(" ", text.translate(_INVISIBLE)).strip()


class _TextExtractor(HTMLParser):
    """Collects text outside script-like elements; attributes (event handlers, URLs) are never read."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _SKIP_TAGS:
            self.skipping += 1  # browsers treat <script/> as an open element too
        elif tag in _BREAK_TAGS:
            self.parts.append(" ")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BREAK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _strip_tags_fallback(markup: str) -> str:
    """Used when HTMLParser gives up (it raises on some marked sections): cruder, never raises."""
    text = _SKIP_FALLBACK.sub(" ", markup)
    return html.unescape(_TAG_FALLBACK.sub(" ", text))


_TAG_START = re.compile(r"<[a-zA-Z/!?]")


def _drop_unclosed_tail(markup: str) -> str:
    """A cut-off "<a href=..." at the end would come out as text; drop it."""
    tail = markup.rfind(">") + 1
    start = _TAG_START.search(markup, tail)
    return markup[:start.start()] if start else markup


def _markup_to_text(markup: str) -> str:
    if "<" not in markup:
        return html.unescape(markup) if "&" in markup else markup
    markup = _drop_unclosed_tail(markup)
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
        return "".join(parser.parts)
    except Exception:  # noqa: BLE001 - _markupbase raises AttributeError/AssertionError on odd declarations
        return _strip_tags_fallback(markup)


def html_to_text(html_text: str | None) -> str:
    """Plain text of an HTML fragment: what matching, scoring and the report see (SPEC "Text").

    Tags go, the contents of script/style/noscript/template go, entities are decoded, invisible
    characters go and whitespace folds to single spaces. Sentence punctuation is kept because
    sentiment is scored sentence by sentence. Markup escaped twice gets a second pass; other
    text in angle brackets that the author escaped (code such as `<T: View>`) is kept as text.
    """
    if not html_text:
        return ""
    text = _markup_to_text(html_text)
    if "<" in text and _RESIDUAL_HTML.search(text):
        text = _markup_to_text(text)
        if _RESIDUAL_HTML.search(text):  # e.g. after an unclosed "<!--", HTMLParser hands back the rest raw
            text = _TAG_FALLBACK.sub(" ", _SKIP_FALLBACK.sub(" ", text))  # no unescape: no new tags
    return _fold(text)


def clean_line(text: str | None, limit: int) -> str:
    """One line of plain text for titles, authors and anything that may reach a mail header (D6)."""
    line = html_to_text(text)
    if len(line) > limit:
        line = line[:limit].rstrip()
    return line


# --- URLs -----------------------------------------------------------------------------------------

_URL_DROP = dict.fromkeys([*range(0x20), 0x7F, *_INVISIBLE])


def _clean_url(url: str) -> str:
    """Controls and invisible characters go everywhere (browsers drop tab and newline inside URLs,
    so "jav&#x09;ascript:" must not pass as a relative link: D2/D3); inner spaces are escaped."""
    return url.translate(_URL_DROP).strip().replace(" ", "%20")


def _resolve_url(url: str | None, base: str | None, schemes: Iterable[str]) -> str | None:
    """Absolute URL with one of `schemes` (lower-case), or None."""
    if not url or not isinstance(url, str):
        return None
    cleaned = _clean_url(url)
    if not cleaned or len(cleaned) > URL_LIMIT:
        return None
    try:
        absolute = urljoin(base, cleaned) if base else cleaned
        parts = urlsplit(absolute)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    scheme = parts.scheme.lower()
    if scheme not in schemes or (scheme != "file" and not parts.netloc):
        return None
    return absolute


def _base_url(url: str) -> str:
    """The feed's own URL as an absolute URL, so relative links resolve (plain paths -> file:)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https", "file"):
        return url
    return Path(os.path.abspath(url)).as_uri()


def _is_local(url: str) -> bool:
    return urlsplit(url).scheme.lower() not in ("http", "https")


# --- before feedparser: decoding and the DTD check ------------------------------------------------

_LEADING_SPACE_BEFORE_DECL = re.compile(rb"^[ \t\r\n]+(?=<\?xml)")
_XML_DECLARATION = re.compile(r"^\ufeff?<\?xml[^>]*>")
_CHARREF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_C0_BYTES = bytes(c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D))
_NONCHARS = re.compile(b"\xef\xbf[\xbe\xbf]")  # U+FFFE, U+FFFF: not XML characters
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_ENTITY = re.compile(rb"<!ENTITY", re.I)
_FIRST_ELEMENT = re.compile(rb"<\w")
_DOCTYPE_STOPS = re.compile(rb"[\"'\[>]")  # inside <!DOCTYPE ...> before the subset
_SUBSET_STOPS = re.compile(rb"<!--|<\?|[\"'\]]")  # inside the [internal subset]
_PROLOG_SKIP = re.compile(rb"[ \t\r\n]+")


def _to_utf8(body: bytes, headers: Mapping[str, str]) -> bytes:
    """Decode as feedparser would (BOM, HTTP charset, XML declaration, fallbacks) and re-encode.

    Invalid bytes end up as valid text (B5: feedparser falls back to windows-1252). Leading
    blank lines before the XML declaration, common in WordPress feeds, are dropped so the strict
    parser accepts the document instead of falling back to the loose one.
    """
    body = _LEADING_SPACE_BEFORE_DECL.sub(b"", body, count=1)
    result: dict[str, Any] = {}
    try:
        data = convert_to_utf8(dict(headers), body, result)
    except (UnicodeError, ValueError, LookupError) as exc:
        # feedparser 6.0.14 raises here (so feedparser.parse would too) on an encoding name
        # with a NUL or a non-UTF-8 byte in it: found by test_mutated_feeds_...
        log.debug("feedparser could not sniff the encoding: %s", exc)
        result = {}
    if not result.get("encoding"):
        text = _XML_DECLARATION.sub("", body.decode("utf-8", "replace"), count=1)
        data = ("<?xml version='1.0' encoding='utf-8'?>\n" + text).encode("utf-8")
    if warning := result.get("bozo_exception"):
        log.debug("encoding: %s", warning)
    # NULs and other C0 controls make expat give up on an otherwise fine feed (B6), and a char
    # ref to a surrogate or past U+10FFFF makes feedparser's loose parser crash outright
    data = data.translate(None, _C0_BYTES)
    data = _NONCHARS.sub(b"", data)
    return _CHARREF.sub(_fix_charref, data) if b"&#" in data else data


def _fix_charref(match: re.Match[bytes]) -> bytes:
    """Keep a numeric character reference only if it names a character XML allows."""
    hex_digits, digits = match.groups()
    try:
        code = int(hex_digits, 16) if hex_digits else int(digits)
    except ValueError:
        return b""
    if code in (0x09, 0x0A, 0x0D) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD \
            or 0x10000 <= code <= 0x10FFFF:
        return match.group()
    return b"" if code < 0x20 else b"&#xFFFD;"


def _skip_past(data: bytes, pos: int, closer: bytes) -> int:
    found = data.find(closer, pos)
    return len(data) if found < 0 else found + len(closer)


def _prolog(data: bytes) -> tuple[int, list[tuple[int, int]]]:
    """Walk the XML prolog as expat does: where the root element starts, and the DOCTYPE spans."""
    pos, doctypes = 0, []
    while pos < len(data):
        if space := _PROLOG_SKIP.match(data, pos):
            pos = space.end()
        elif data.startswith(b"<?", pos):
            pos = _skip_past(data, pos + 2, b"?>")
        elif data.startswith(b"<!--", pos):
            pos = _skip_past(data, pos + 4, b"-->")
        elif _DOCTYPE.match(data, pos):
            end = _doctype_end(data, pos + 9)
            doctypes.append((pos, end))
            pos = end
        else:
            break
    return pos, doctypes


def _doctype_end(data: bytes, pos: int) -> int:
    """End of a DOCTYPE declaration: quoted ids and the [internal subset] are skipped whole."""
    while stop := _DOCTYPE_STOPS.search(data, pos):
        char = data[stop.start():stop.start() + 1]
        if char == b">":
            return stop.end()
        if char == b"[":
            pos = _subset_end(data, stop.end())
        else:
            pos = _skip_past(data, stop.end(), char)
    return len(data)


def _subset_end(data: bytes, pos: int) -> int:
    """Just past the "]" closing an internal subset; comments, PIs and literals may hide one."""
    while stop := _SUBSET_STOPS.search(data, pos):
        token = stop.group()
        if token == b"]":
            return stop.end()
        closer = {b"<!--": b"-->", b"<?": b"?>"}.get(token, token)
        pos = _skip_past(data, stop.end(), closer)
    return len(data)


def _refuse_entities(data: bytes) -> None:
    """Refuse any DTD that declares entities (B1-B4): billion laughs, quadratic blowup and XXE
    all need one, and no real feed does.

    Two views are checked. Expat's: every DOCTYPE in the prolog, tokenised the way expat does it
    so that a "]" in a comment cannot end the subset early. feedparser's loose parser's: it takes
    entity declarations from everything before the first "<name", so no "<!ENTITY" may appear there.
    """
    root, doctypes = _prolog(data)
    for start, stop in doctypes:
        if _ENTITY.search(data, start, stop):
            raise ParseError("dtd_forbidden", "the feed's DTD declares entities; refused")
    first = _FIRST_ELEMENT.search(data)
    if _ENTITY.search(data, 0, max(root, first.start() if first else len(data))):
        raise ParseError("dtd_forbidden", "an entity declaration precedes the root element; refused")


def _is_blank(body: bytes) -> bool:
    stripped = body.strip(b" \t\r\n\x00\x0b\x0c")
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if stripped.startswith(bom):
            stripped = stripped[len(bom):].strip(b" \t\r\n\x00\x0b\x0c")
    return not stripped


def _prepare(body: bytes, headers: Mapping[str, str]) -> bytes:
    """Checked UTF-8 bytes ready for feedparser, or ParseError (empty, too_large, dtd_forbidden)."""
    if len(body) > MAX_BODY_BYTES:
        raise ParseError("too_large", f"the body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    if _is_blank(body):
        raise ParseError("empty", "the response body is empty")
    data = _to_utf8(body, headers)
    _refuse_entities(data)
    return data


def _run_feedparser(data: bytes, base: str, headers: Mapping[str, str]) -> Any:
    """feedparser on already-decoded bytes; a BytesIO, because bytes would be opened as a path.

    No Content-Location is given on purpose, and we resolve links ourselves: feedparser would also
    resolve permalink guids against it (so keys would change when a feed moves: RELIABILITY C3),
    and its urljoin turns file:///x into file://x for local sample feeds.
    """
    response_headers = {"content-type": "application/xml; charset=utf-8"}
    if language := headers.get("content-language"):
        response_headers["content-language"] = language
    try:
        return feedparser.parse(io.BytesIO(data), response_headers=response_headers,
                                resolve_relative_uris=False, sanitize_html=False)
    except Exception as exc:  # noqa: BLE001 - a feedparser bug on hostile input is this feed's problem only
        log.warning("feedparser failed on %s", base, exc_info=True)
        raise ParseError("not_a_feed", f"feedparser failed: {_one_line(exc)}") from exc


# --- after feedparser: the feed ------------------------------------------------------------------

def _one_line(exc: object) -> str:
    return clean_line(str(exc), MESSAGE_LIMIT) or type(exc).__name__


def _degraded(parsed: Any) -> str | None:
    """Why this parse may be partial, or None. A wrong charset label alone is not a partial parse."""
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    if type(exc).__name__ in HARMLESS_BOZO:
        return None
    return f"malformed XML: {_one_line(exc)}"


def _refuse_non_feed(parsed: Any, url: str) -> None:
    """An HTML page or a login wall parses to nothing: that is an error, not "the feed is empty" (A9)."""
    if parsed.get("version") in ("", None) and not parsed.entries:
        raise ParseError("not_a_feed", f"{url} is not an RSS or Atom feed")


def _ttl_seconds(value: object) -> int | None:
    minutes = _to_int(value)
    if minutes is None or not 0 < minutes <= MAX_TTL_MINUTES:
        return None
    return minutes * 60


def _to_int(value: object) -> int | None:
    """A non-negative count from feed text; None for anything else ("lots", "-1", "1e9999")."""
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 12:
        number = int(value.strip())
    else:
        return None
    return number if 0 <= number <= MAX_COUNT else None


def _thread_prefixes(parsed: Any) -> tuple[str, ...]:
    """feedparser names Atom threading keys after the document's own prefix (usually "thr")."""
    prefixes = [p for p, uri in (parsed.get("namespaces") or {}).items()
                if p and isinstance(uri, str) and uri.rstrip("/") == THREAD_NS]
    return tuple(dict.fromkeys([*prefixes, "thr"]))


# --- after feedparser: one entry ------------------------------------------------------------------

@dataclass(frozen=True)
class _Context:
    """What every entry of one feed needs to know about the feed."""

    base: str
    local: bool
    now: dt.datetime
    thread_prefixes: tuple[str, ...]


def _key(value: str | None) -> str:
    """An identity string: stripped, invisible characters removed, long ones hashed."""
    key = (value or "").translate(_INVISIBLE).strip()
    if len(key) > KEY_LIMIT:
        key = "sha1:" + hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def _identity(entry: Any, title: str, content: str) -> str:
    """guid, else link, else a hash of title and text (SPEC "Item")."""
    key = _key(entry.get("id")) or _key(entry.get("link"))
    if key:
        return key
    digest = hashlib.sha1(f"{title}\n{content}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha1:{digest}"


def _content_html(entry: Any) -> str:
    """The fullest body: an HTML content element if any, else the first one, else the summary."""
    contents = [c for c in entry.get("content") or () if isinstance(c, Mapping) and c.get("value")]
    for content in contents:
        if str(content.get("type", "")).lower() in HTML_CONTENT_TYPES:
            return content["value"]
    if contents:
        return contents[0]["value"]
    return entry.get("summary") or ""


def _content_text(entry: Any) -> str:
    text = html_to_text(_content_html(entry)[:HTML_LIMIT])
    return text[:CONTENT_LIMIT]


def _author(entry: Any) -> str | None:
    """The author's name; feedparser's `author` may carry an e-mail ("Jo (jo@x)"), so the
    parsed name is preferred: staff detection compares names."""
    detail = entry.get("author_detail") or {}
    for candidate in (detail.get("name"), entry.get("author"), entry.get("dc_creator")):
        if isinstance(candidate, str) and (name := clean_line(candidate, AUTHOR_LIMIT)):
            return name
    return None


def _comments_url(entry: Any, ctx: _Context) -> str | None:
    """The entry's own comment feed: wfw:commentRss, else an Atom rel=replies link to a feed."""
    schemes = ("http", "https", "file") if ctx.local else ("http", "https")
    replies = _replies_links(entry)
    candidates = [entry.get("wfw_commentrss")]
    candidates += [link.get("href") for link in replies if _is_feed_type(link)]
    candidates += [link.get("href") for link in replies if _looks_like_feed(link.get("href"))]
    for candidate in candidates:
        if isinstance(candidate, str) and (url := _resolve_url(candidate, ctx.base, schemes)):
            return url
    return None


_FEEDISH_PATH = re.compile(r"\.(?:atom|rss|rdf|xml)$|(?:^|/)(?:feeds?|rss|atom)(?:/|$)", re.I)


def _is_feed_type(link: Mapping[str, Any]) -> bool:
    return str(link.get("type", "")).lower() in FEED_TYPES


def _looks_like_feed(href: object) -> bool:
    """feedparser types an untyped link text/html, so Sam Ruby's `rel="replies" href="3299.atom"`
    looks like a web page; a feed-shaped path without a #fragment is taken as the comment feed."""
    if not isinstance(href, str):
        return False
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return False
    return not parts.fragment and bool(_FEEDISH_PATH.search(parts.path))


def _replies_links(entry: Any) -> list[Mapping[str, Any]]:
    return [link for link in entry.get("links") or ()
            if isinstance(link, Mapping) and link.get("rel") == "replies"]


def _comment_count(entry: Any, ctx: _Context) -> int | None:
    """slash:comments, else thr:total, else a thr:count on a rel=replies link."""
    candidates = [entry.get("slash_comments")]
    candidates += [entry.get(f"{prefix}_total") for prefix in ctx.thread_prefixes]
    links = sorted(_replies_links(entry), key=lambda link: not _is_feed_type(link))
    candidates += [link.get(f"{prefix}:count") for link in links for prefix in ctx.thread_prefixes]
    for candidate in candidates:
        if candidate is not None and (count := _to_int(candidate)) is not None:
            return count
    return None


def _in_reply_to(entry: Any, ctx: _Context) -> tuple[str | None, str | None]:
    """Atom thr:in-reply-to: feedparser keeps an unknown element's attributes as a dict."""
    for prefix in ctx.thread_prefixes:
        value = entry.get(f"{prefix}_in-reply-to")
        if isinstance(value, Mapping):
            ref = _key(value.get("ref")) or None
            return ref, safe_url(value.get("href"), base=ctx.base)
    return None, None


_ISO_DAY = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})")
_RFC_DAY = re.compile(r"\b(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?,?\s+(\d{4})\b")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


def _stated_day(raw: str) -> dt.date | None | Literal[False]:
    """The calendar day written in `raw` (ISO or RFC 822 style): a date, False when the day
    cannot exist (2024-02-30), None when no day is recognisable."""
    for match, order in ((_ISO_DAY.search(raw), "ymd"), (_RFC_DAY.search(raw), "dmy")):
        if not match:
            continue
        parts = dict(zip(order, match.groups()))
        month = _MONTHS.get(parts["m"].lower()) if order == "dmy" else int(parts["m"])
        if month is None:
            continue
        try:
            return dt.date(int(parts["y"]), month, int(parts["d"]))
        except ValueError:
            return False
    return None


def _agrees_with_raw(when: dt.datetime, raw: str | None) -> bool:
    """feedparser quietly turns 2024-02-30 into 1 March and "-0001-11-30" into 2000-01-01;
    a parsed date more than a day (time zones) from the day written in the string is no date."""
    stated = _stated_day(raw) if raw else None
    if stated is None:
        return True
    return stated is not False and abs((when.date() - stated).days) <= 1


def _published(entry: Any, now: dt.datetime) -> tuple[dt.datetime | None, str | None]:
    """(aware UTC datetime or None, raw string). Never raises: year 0, -1, Feb 30, 2101 -> None."""
    # dict.get: FeedParserDict maps a missing "updated" to "published" with a DeprecationWarning
    name = next((n for n in ("published", "updated") if dict.get(entry, f"{n}_parsed")), None)
    raw = dict.get(entry, name) if name else (dict.get(entry, "published") or dict.get(entry, "updated"))
    raw_text = (clean_line(raw, RAW_DATE_LIMIT) if isinstance(raw, str) else "") or None
    if name is None:
        return None, raw_text
    try:
        fields = tuple(dict.get(entry, f"{name}_parsed") or ())  # set: that is how `name` was chosen
        when = dt.datetime(*fields[:6]).replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None, raw_text
    if not MIN_DATE <= when <= now + FUTURE_SLACK or not _agrees_with_raw(when, raw_text):
        return None, raw_text
    return when, raw_text


def _item(entry: Any, ctx: _Context) -> Item:
    title = clean_line(entry.get("title"), TITLE_LIMIT)
    content = _content_text(entry)
    published, published_raw = _published(entry, ctx.now)
    in_reply_to, in_reply_to_url = _in_reply_to(entry, ctx)
    return Item(
        key=_identity(entry, title, content),
        title=title,
        content=content,
        # FeedBurner links go through its redirector; the original link is what comments point to.
        url=safe_url(entry.get("feedburner_origlink"), base=ctx.base) or safe_url(entry.get("link"), base=ctx.base),
        author=_author(entry),
        published=published,
        published_raw=published_raw,
        comments_url=_comments_url(entry, ctx),
        comment_count=_comment_count(entry, ctx),
        in_reply_to=in_reply_to,
        in_reply_to_url=in_reply_to_url,
    )


def _unique_keys(items: list[Item]) -> list[Item]:
    """Duplicate guids within one document (C1): the first keeps its key, later ones get
    "key|link" or "key|#position", so both are stored and a re-poll maps to the same rows."""
    seen: set[str] = set()
    unique = []
    for position, item in enumerate(items):
        key = item.key
        if key in seen:
            key = _key(f"{item.key}|{item.url}") if item.url else key
            if key in seen:
                key = _key(f"{item.key}|#{position}")
            item = replace(item, key=key)
        seen.add(key)
        unique.append(item)
    return unique


def _items(entries: Iterable[Any], ctx: _Context) -> tuple[list[Item], int]:
    """Items for the entries; an entry our code cannot read is skipped, not the whole feed."""
    items, failed = [], 0
    for entry in entries:
        try:
            items.append(_item(entry, ctx))
        except Exception:  # noqa: BLE001 - one bad entry must not cost the others
            failed += 1
            log.warning("skipped an unreadable entry in %s", ctx.base, exc_info=True)
    return _unique_keys(items), failed


def _cap(items: list[Item], max_items: int) -> tuple[list[Item], int]:
    """Keep the newest `max_items` (B9); undated items rank after dated ones, in feed order.
    The kept items stay in feed order."""
    if len(items) <= max_items:
        return items, 0

    def rank(i: int) -> tuple[bool, float]:  # sorted() is stable: ties keep feed order
        published = items[i].published
        return published is None, -published.timestamp() if published else 0.0

    keep = set(sorted(range(len(items)), key=rank)[:max_items])
    return [item for i, item in enumerate(items) if i in keep], len(items) - max_items


def _utc_now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.timezone.utc)
    return now.replace(tzinfo=dt.timezone.utc) if now.tzinfo is None else now.astimezone(dt.timezone.utc)


# --- the entry point ----------------------------------------------------------------------------

def parse_feed(body: bytes, *, url: str, headers: Mapping[str, str] | None = None,
               max_items: int = 500, now: dt.datetime | None = None,
               budget: float | None = PARSE_BUDGET) -> ParsedFeed:
    """Parse one fetched body into a ParsedFeed; raises ParseError when it is not a usable feed.

    `url` is the feed's final URL (or local path): relative links resolve against it.
    `headers` are the response headers (any case). `now` bounds future dates (default: now).
    `budget`: seconds of CPU the parse may use (in a process's main thread), else
    ParseError("parse_timeout"): malformed markup can make feedparser superlinear.

        >>> parse_feed(b"<rss version='2.0'><channel><item><title>Hi</title></item></channel></rss>",
        ...            url="https://example.com/feed").items[0].title
        'Hi'
    """
    if max_items < 0:
        raise ValueError("max_items must be >= 0")
    try:
        with cpu_budget(budget):
            return _parse_feed(body, url=url, headers=headers, max_items=max_items, now=now)
    except OutOfTime:
        raise ParseError("parse_timeout", f"parsing took more than {budget:g} s of CPU: malformed markup?") from None


def _parse_feed(body: bytes, *, url: str, headers: Mapping[str, str] | None, max_items: int,
                now: dt.datetime | None) -> ParsedFeed:
    lower_headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    base = _base_url(url)
    data = _prepare(body, lower_headers)
    parsed = _run_feedparser(data, base, lower_headers)
    _refuse_non_feed(parsed, url)
    ctx = _Context(base=base, local=_is_local(url), now=_utc_now(now),
                   thread_prefixes=_thread_prefixes(parsed))
    items, failed = _items(parsed.entries, ctx)
    items, dropped = _cap(items, max_items)
    if dropped:
        log.info("%s: kept the newest %d items, dropped %d", url, max_items, dropped)
    degraded = _degraded(parsed)
    if failed and not degraded:
        degraded = f"{failed} unreadable entries skipped"
    feed = parsed.get("feed") or {}
    return ParsedFeed(
        title=clean_line(feed.get("title"), TITLE_LIMIT) or None,
        link=safe_url(feed.get("link"), base=base),
        items=tuple(items),
        degraded=degraded,
        ttl_seconds=_ttl_seconds(feed.get("ttl")),
        dropped=dropped,
    )
