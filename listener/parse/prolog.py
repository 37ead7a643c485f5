"""Before feedparser: the body decoded to UTF-8 and any DTD with entities refused (RELIABILITY B1-B3)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from typing import Any

import feedparser
from feedparser.encodings import convert_to_utf8

from listener.errors import ParseError
from listener.parse.markup import clean_line

log = logging.getLogger("listener.parse")

MESSAGE_LIMIT = 200
MAX_BODY_BYTES = 32 * 1024 * 1024  # a safety net behind fetch's 15 MiB cap, for local files


def _one_line(exc: object) -> str:
    return clean_line(str(exc), MESSAGE_LIMIT) or type(exc).__name__




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


def prepare(body: bytes, headers: Mapping[str, str]) -> bytes:
    """Checked UTF-8 bytes ready for feedparser, or ParseError (empty, too_large, dtd_forbidden)."""
    if len(body) > MAX_BODY_BYTES:
        raise ParseError("too_large", f"the body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    if _is_blank(body):
        raise ParseError("empty", "the response body is empty")
    data = _to_utf8(body, headers)
    _refuse_entities(data)
    return data


def run_feedparser(data: bytes, base: str, headers: Mapping[str, str]) -> Any:
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


