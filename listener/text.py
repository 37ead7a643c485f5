"""Text helpers every stage shares: invisible characters, one duration format, URLs, titles.

A leaf: it imports nothing of listener's, so parse, report, mail and the CLI clean text, show
durations and judge URLs the same way.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

URL_LIMIT = 2048

# --- invisible characters ---------------------------------------------------------------------


def _invisible_table() -> dict[int, None]:
    """Characters that never belong in shown or stored text: C0/C1 controls but tab, newline and
    carriage return (RELIABILITY B6), DEL, bidi embeddings, overrides and isolates, zero-width
    characters, the BOM and the interlinear annotation marks (D8)."""
    drop = [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)]
    drop += [0x7F, *range(0x80, 0xA0)]
    drop += [0x061C, *range(0x200B, 0x2010), *range(0x2060, 0x2065), 0xFEFF, *range(0xFFF9, 0xFFFC)]
    drop += [*range(0x202A, 0x202F), *range(0x2066, 0x2070)]
    return dict.fromkeys(drop)


INVISIBLE = _invisible_table()
_SURROGATES = re.compile("[\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\r\n\x0b\x0c\u0085\u2028\u2029]+")


def strip_invisible(text: str) -> str:
    """`text` without invisible characters or lone surrogates; tab, CR and LF are kept."""
    text = text.translate(INVISIBLE)
    return _SURROGATES.sub("", text) if "\ud800" <= max(text, default="\x00") else text


def clean_text(value: Any, limit: int | None = None, *, lines: bool = False) -> str:
    """Feed text made safe to show: no invisible characters, NFC, whitespace folded.

    `lines` keeps line breaks (folding the rest); `limit` cuts at a word boundary with an ellipsis.
    """
    if value is None:
        return ""
    raw = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", strip_invisible(raw))
    if lines:
        text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
    else:
        text = _SPACES.sub(" ", text).strip()
    return shorten(text, limit) if limit is not None else text


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.6 else cut).rstrip() + "…"


def one_line(value: Any, limit: int = 250) -> str:
    """One line for an email header or a table cell: CR, LF and every control become a space."""
    return clean_text(value, limit)


# --- durations --------------------------------------------------------------------------------


def human_duration(seconds: float | None) -> str | None:
    """The one way a person reads a duration: 45m, 3h 20m, 2d 4h, <1m (None stays None)."""
    if seconds is None or seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    minutes = int(max(0.0, seconds) // 60)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m" if mins else "<1m"


# --- URLs -------------------------------------------------------------------------------------

_URL_DROP = dict.fromkeys([*range(0x21), 0x7F, *INVISIBLE])


def safe_url(value: Any, *, base: str | None = None) -> str | None:
    """An absolute http(s) URL with a host, or None (javascript:, data:, mailto: ... RELIABILITY D3).

    Controls and invisible characters go first, since browsers drop tab and newline inside URLs
    and "jav&#x09;ascript:" must not pass as a relative link (D2); inner spaces are escaped.
    `base` resolves a relative link (a feed's own URL).
    """
    if not isinstance(value, str):
        return None
    cleaned = value.strip().replace(" ", "%20").translate(_URL_DROP)
    if not cleaned or len(cleaned) > URL_LIMIT:
        return None
    try:
        absolute = urljoin(base, cleaned) if base else cleaned
        parts = urlsplit(absolute)
        host = parts.hostname
    except ValueError:  # an unbalanced IPv6 bracket, a bad port
        return None
    if (parts.scheme.lower() not in ("http", "https") or not host or any(c in host for c in " %")
            or any(c in absolute for c in "<>\"`\\")):
        return None
    return absolute


def url_host(value: Any) -> str:
    """The host a link goes to, shown beside it so a lying title cannot hide it (RELIABILITY D8).

    In ASCII (punycode) on purpose: a decoded IDN can imitate another host letter for letter.
    """
    url = safe_url(value)
    if url is None:
        return ""
    host = (urlsplit(url).hostname or "").lower()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host.encode("ascii", "backslashreplace").decode("ascii")


# Query parameters that name the visitor, campaign or comment rather than the page. Compared
# lower-cased; every utm_* parameter is dropped as well.
_TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi",
    "mkt_tok", "ref", "ref_src", "replytocom",  # WordPress "reply to comment" links
    "showcomment",  # Blogger comment permalinks: post.html?showComment=1260320342544#c47886…
    "cpage",  # WordPress paged comments: the same post
}


def canonical_url(url: str) -> str:
    """One spelling per page: scheme and host lower-cased, default port, fragment and tracking parameters dropped.

    >>> canonical_url("HTTPS://Blog.Example.com:443/post/?utm_source=x&b=2&a=1#comment-3")
    'https://blog.example.com/post/?a=1&b=2'
    """
    parts = urlsplit(url.strip())
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the URL's own spelling of it
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    if port and port != default:
        host = f"{host}:{port}"
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


# --- titles -----------------------------------------------------------------------------------

# "Re:", "RE[2]:", "Aw:", "Sv:", "Antw:", "Fwd:" ... the prefixes mail and forum software put on subjects.
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|vs|antw|odp|fwd?)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+", re.IGNORECASE)


def strip_reply_prefix(title: str) -> str:
    return _REPLY_PREFIX.sub("", title).strip()


def subject_key(title: str) -> str:
    """A title without reply prefixes, case and runs of whitespace: what mail threading compares."""
    return " ".join(_REPLY_PREFIX.sub("", title).split()).casefold()


def reply_subject(title: str | None) -> str | None:
    """The subject a "Re: ..." title answers, folded for comparison; None when the title is no reply.

    >>> reply_subject("RE: Re:  New  maintainer")
    'new maintainer'
    """
    if not title or not _REPLY_PREFIX.match(title):
        return None
    return subject_key(title) or None


_BOILERPLATE = re.compile(
    r"""^(?:
        by:\s*\S.*                                   # WordPress: "By: Dana Reyes"
      | comment\s+on\s+.+\s+by\s+.+                  # WordPress: "Comment on <post> by <name>"
      | new\s+comment\s+on\s+.+                      # "New comment on <post>"
      | (?:in\s+)?(?:reply|response)\s+to\b.*       # "Reply to Dana", "In reply to ...", "Response to ..."
      | (?:\S+|(?-i:[A-Z])\S*(?:\s+(?-i:[A-Z])\S*){1,3})\s+commented\s+on\b.*  # "Dana Reyes commented on <post>"
    )$""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)


def is_boilerplate_title(title: str) -> bool:
    """True for titles a comment system generates around a comment, rather than words its author wrote.

    >>> is_boilerplate_title("By: Priya Okafor"), is_boilerplate_title("Re: Sync outage"), is_boilerplate_title("Great app")
    (True, True, False)
    """
    folded = " ".join(title.split())
    return bool(_BOILERPLATE.match(folded) or _REPLY_PREFIX.match(folded))


def display_title(title: str | None, *, thread_title: str | None = None, snippet: str | None = None) -> str:
    """What a person reads for an item: its own title, unless that is comment boilerplate ("By: Jo"):
    then the conversation it is in ("Comment on <post>"), or else the words around the match."""
    own = " ".join((title or "").split())
    if own and not is_boilerplate_title(own):
        return own
    if thread_title:
        return f"Comment on {strip_reply_prefix(thread_title)}"
    return " ".join((snippet or "").split()) or own


def stored_terms(value: str | None) -> list[str]:
    """A stored item's `terms` (JSON); a damaged value (someone edited the file by hand) reads as no
    terms, and only strings count."""
    try:
        terms = json.loads(value or "[]")
    except ValueError:
        return []
    return [t for t in terms if isinstance(t, str)] if isinstance(terms, list) else []
