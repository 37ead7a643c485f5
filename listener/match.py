"""Watch terms -> which watch entries an item hits, and the text around the first hit.

Matching is done on a *folded* copy of the text: case folded, accents dropped (NFKD, combining
marks removed), curly apostrophes made straight. Terms are folded the same way when the
watchlist is compiled, so "Acmé’s" in a feed hits the term "acme's" and "ACME" hits "acme".

A term matches as a whole token: the characters either side of it must not be letters, digits
or "_". That one rule covers plain words ("acme" hits "Acme's" and "#acme", not "acmeville"),
phrases (words joined by any run of whitespace), handles ("@acmehelp" does not hit
"support@acmehelp"), and terms with punctuation ("c++", "acme.io").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from listener.models import Match, WatchSpec

SNIPPET_CHARS = 200
ELLIPSIS = "…"

# Apostrophe look-alikes that people (and word processors) type for "'".
_APOSTROPHES = "\u2019\u2018\u201b\u02bc\u02bb\u2032\uff07\u00b4"
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_WHITESPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """The form both terms and texts are compared in: 'Acmé’s  Cloud' -> "acme's  cloud"."""
    if text.isascii():
        return text.lower()
    for apostrophe in _APOSTROPHES:
        if apostrophe in text:
            text = text.replace(apostrophe, "'")
    text = _bmp_marks().sub("", unicodedata.normalize("NFKD", text.casefold()))
    if _ASTRAL.search(text):  # emoji mostly; the few combining marks up there are dropped one by one
        text = _ASTRAL.sub(_drop_if_combining, text)
    return text


@lru_cache(maxsize=None)
def _bmp_marks() -> re.Pattern[str]:
    """A class of every combining mark in the Basic Multilingual Plane: a regex drops them at C speed."""
    ranges: list[list[int]] = []
    for code in range(0x10000):
        if unicodedata.combining(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]+")


def _drop_if_combining(found: re.Match[str]) -> str:
    return "" if unicodedata.combining(found.group()) else found.group()


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    return fold(ch)


def _offsets(text: str) -> list[int]:
    """For each character of fold(text), the index in text of the character it came from."""
    offsets: list[int] = []
    for index, ch in enumerate(text):
        offsets.extend([index] * len(_fold_char(ch)))
    return offsets


def _term_pattern(term: str) -> str | None:
    """One term as a regex fragment: folded, escaped, words joined by any whitespace."""
    term = term.strip()
    if len(term) >= 2 and term[0] == term[-1] == '"':  # a phrase quoted inside the YAML string
        term = term[1:-1]
    words = fold(term).split()
    if not words:
        return None
    return r"\s+".join(re.escape(word) for word in words)


def _alternation(terms: Sequence[str]) -> re.Pattern[str] | None:
    fragments = {p for p in map(_term_pattern, terms) if p}
    if not fragments:
        return None
    # Longest first, so at any one position the longest term is the one reported.
    body = "|".join(sorted(fragments, key=lambda p: (-len(p), p)))
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)")


@dataclass(frozen=True)
class CompiledWatch:
    """One watch entry, compiled: one alternation regex for its terms, one for its excludes."""

    name: str
    terms: re.Pattern[str] | None
    exclude: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Watchlist:
    """The compiled watch entries, in config order. Picklable: compiled patterns pickle by source."""

    entries: tuple[CompiledWatch, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(entry.name for entry in self.entries)


def compile_watchlist(watch: Sequence[WatchSpec]) -> Watchlist:
    """Compile the watch entries once; reuse the result for every item.

    >>> wl = compile_watchlist([WatchSpec("acme", ("acme", "@acmehelp"), ("acme of ohio",))])
    >>> match_text(wl, "Thanks @AcmeHelp!").terms
    ('acme',)
    """
    return Watchlist(tuple(
        CompiledWatch(spec.name, _alternation(spec.terms), _alternation(spec.exclude))
        for spec in watch
    ))


def match_text(watchlist: Watchlist, text: str, *, match_all: bool = False) -> Match:
    """Which watch entries `text` hits, and ~200 characters around the first matched term.

    With match_all (a `match: all` search feed) the text is a hit unless it matches an exclude
    of any entry; `terms` still lists the entries whose terms it contains, possibly none.
    """
    folded = fold(text)
    entries = watchlist.entries
    if match_all and any(e.exclude is not None and e.exclude.search(folded) for e in entries):
        return Match(False, (), "")
    names: list[str] = []
    first: re.Match[str] | None = None
    for entry in entries:
        found = entry.terms.search(folded) if entry.terms is not None else None
        if found is None:
            continue
        if entry.exclude is not None and entry.exclude.search(folded):
            continue  # "an item matching any exclude is not a hit" (for this entry)
        names.append(entry.name)
        if first is None or found.start() < first.start():
            first = found
    if first is None:
        return Match(True, (), snippet_at(text, 0, 0)) if match_all else Match(False, (), "")
    start, end = _original_span(text, folded, first.start(), first.end())
    return Match(True, tuple(names), snippet_at(text, start, end))


def _original_span(text: str, folded: str, start: int, end: int) -> tuple[int, int]:
    """Map a span of fold(text) back onto text."""
    if len(folded) == len(text):  # one folded character per original one (by far the usual case)
        return start, end
    offsets = _offsets(text)
    if not offsets:
        return 0, 0
    begin = offsets[min(start, len(offsets) - 1)]
    finish = offsets[end - 1] + 1 if end > 0 else begin
    # Combining marks that followed the last matched character belong to it.
    while finish < len(text) and unicodedata.combining(text[finish]):
        finish += 1
    return begin, finish


def snippet_at(text: str, start: int, end: int, width: int = SNIPPET_CHARS) -> str:
    """About `width` characters of text around text[start:end], cut at word boundaries.

    Whitespace is folded to single spaces and "…" marks each end that was cut, so the result
    is at most width + 2 characters long.
    """
    if end - start >= width:
        left, right = start, start + width
    else:
        left = max(0, start - (width - (end - start)) // 2)
        right = min(len(text), left + width)
        left = max(0, right - width)  # near the end of the text, take more from before the match
    cut_left, cut_right = left > 0, right < len(text)
    if cut_left and not text[left - 1].isspace() and not text[left].isspace():
        space = _WHITESPACE.search(text, left, max(start, left))  # never cut into the match
        if space:
            left = space.start()
    if cut_right and not text[right - 1].isspace() and not text[right].isspace():
        floor = end if end <= right else start + 1  # a match longer than the budget is cut too
        right = next((i for i in range(right - 1, floor - 1, -1) if text[i].isspace()), right)
    body = _WHITESPACE.sub(" ", text[left:right]).strip()
    if not body:
        return ""
    return f"{ELLIPSIS if cut_left else ''}{body}{ELLIPSIS if cut_right else ''}"
