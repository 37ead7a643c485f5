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
  Links are resolved here, not by feedparser (see run_feedparser).
* Most feeds never reach feedparser: `fast.fast_parse` replays its strict parser's rules with pyexpat
  for the fields read here, and hands anything it does not model (or any XML error) to feedparser.
  tests/test_parse_fast.py holds both paths to the same Items; FAST_PATH = False forces feedparser.
* Everything here is a pure function of its arguments, so it can run in a worker process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import pyexpat
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from listener.budget import OutOfTime, cpu_budget
from listener.errors import ParseError
from listener.models import Item, ParsedFeed
from listener.parse.fast import fast_parse
from listener.parse.markup import base_url, clean_line, html_to_text, is_local, resolve_url
from listener.parse.prolog import _one_line, prepare, run_feedparser
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
PARSE_BUDGET = 10.0  # seconds of CPU per feed body (issue 14.4)
MAX_COUNT = 2**31 - 1  # comment counts beyond this are garbage (and would overflow SQLite)
MAX_TTL_MINUTES = 366 * 24 * 60
FUTURE_SLACK = dt.timedelta(days=1)
FAST_PATH = True  # False: every body goes through feedparser (the equivalence tests compare the two)
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


# --- after feedparser: the feed ------------------------------------------------------------------

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
    if parsed.get("version") in ("", None) and not parsed["entries"]:
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
        if isinstance(candidate, str) and (url := resolve_url(candidate, ctx.base, schemes)):
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
    base = base_url(url)
    data = prepare(body, lower_headers)
    parsed = (fast_parse(data) if FAST_PATH else None) or run_feedparser(data, base, lower_headers)
    _refuse_non_feed(parsed, url)
    ctx = _Context(base=base, local=is_local(url), now=_utc_now(now),
                   thread_prefixes=_thread_prefixes(parsed))
    items, failed = _items(parsed["entries"], ctx)
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
