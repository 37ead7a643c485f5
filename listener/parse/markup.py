"""HTML in feed text -> the plain text listener stores, matches and scores; links made absolute and safe."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from listener.text import INVISIBLE as _INVISIBLE

URL_LIMIT = 8192


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
    """Drop invisible characters and fold every run of whitespace into one space (str.split's
    whitespace is the regex's \\s: test_parse_fast checks every code point)."""
    return " ".join(text.translate(_INVISIBLE).split())


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


_SPACE = "[ \t\n\r]"
# a start tag, end tag or comment in the plainest form, which HTMLParser reads the same way
_SIMPLE_TAG = re.compile(
    rf"<(?:([a-zA-Z][a-zA-Z0-9]*)(?:{_SPACE}+[a-zA-Z_:][-a-zA-Z0-9_:.]*"
    rf"(?:{_SPACE}*={_SPACE}*(?:\"[^\"<>]*\"|'[^'<>]*'|[^ \t\n\r\"'<>=`/]+))?)*{_SPACE}*/?"
    rf"|/([a-zA-Z][a-zA-Z0-9]*){_SPACE}*|!--(?:[^<>-]|-(?!-))*--)>")


def _simple_markup_to_text(markup: str) -> str | None:
    """What _TextExtractor makes of markup made only of text and plain tags, without HTMLParser
    (a third of a feed's parse time); None for anything else: declarations, a stray
    "<", script-like elements, odd attribute syntax."""
    pieces = _SIMPLE_TAG.split(markup)
    out = []
    for index in range(0, len(pieces), 3):
        text = pieces[index]
        if "<" in text:
            return None
        out.append(html.unescape(text) if "&" in text else text)
        if index + 1 < len(pieces) and (tag := (pieces[index + 1] or pieces[index + 2] or "").lower()):
            if tag in _SKIP_TAGS:
                return None
            if tag in _BREAK_TAGS:
                out.append(" ")
    return "".join(out)


def _markup_to_text(markup: str) -> str:
    if "<" not in markup:
        return html.unescape(markup) if "&" in markup else markup
    simple = _simple_markup_to_text(markup)
    return simple if simple is not None else _parsed_markup_to_text(markup)


def _parsed_markup_to_text(markup: str) -> str:
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


def resolve_url(url: str | None, base: str | None, schemes: Iterable[str]) -> str | None:
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


def base_url(url: str) -> str:
    """The feed's own URL as an absolute URL, so relative links resolve (plain paths -> file:)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https", "file"):
        return url
    return Path(os.path.abspath(url)).as_uri()


def is_local(url: str) -> bool:
    return urlsplit(url).scheme.lower() not in ("http", "https")


