"""Masking, the verdict's first layer: the target is never sentiment.

VADER reads a brand as a word (`@united` +1.8, `joy` 2.8, `best` 3.2). `mask` turns watched terms,
@handles, staff names, URLs and e-mail addresses into placeholders, words VADER does not know, and
says what it masked; a handle that starts with a watched term's stem counts as naming the target.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

# Placeholders are lower-case words VADER does not know, so they score 0 and are not SHOUTING.
TARGET, HANDLE, STAFF, URL, EMAIL = "xtarget", "xhandle", "xstaff", "xurl", "xemail"

_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# An @ not after a word character or another @. The regex starts with the @ itself, the lookbehind
# after it: a pattern that starts with a literal is scanned for it in C, one that starts with a
# lookbehind is tried at every position (six times slower on a tweet).
_HANDLE = re.compile(r"@(?<![\w@]@)\w{1,40}")


class Masked(NamedTuple):
    """The text with the target taken out, and what was taken (for `why`)."""

    text: str
    masked: tuple[str, ...]  # "target", "handle", "staff", "url", "email": the kinds that were masked

    @property
    def names_target(self) -> bool:
        """The text names a watched term or writes to a handle of it: it is about the brand."""
        return "target" in self.masked


class Names(NamedTuple):
    """A set of terms or names as regexes of the same matches: `pattern` for any text (case ignored),
    and `ascii_lower` for lower-case ASCII text (None when a name is not ASCII). In the second each
    alternative starts with its first character and the look-behind comes after it, so the engine
    scans for those characters; the first is tried at every position (masking a complaint with four
    watched terms and a staff name: 10.9 us with the first, 5.8 with the second)."""

    pattern: re.Pattern[str]
    ascii_lower: re.Pattern[str] | None


def _spaced(word: str) -> str:
    return r"\s+".join(re.escape(part) for part in word.split(" "))


def _names_pattern(names: tuple[str, ...]) -> Names | None:
    """The regexes for a set of terms or names: whole words, any whitespace inside a phrase, '#term' too."""
    words = sorted({" ".join(n.split()).casefold() for n in names if n and n.strip()}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(map(_spaced, words))
    pattern = re.compile(rf"(?<![\w@])#?(?:{alternatives})(?!\w)", re.IGNORECASE)
    if not all(w.isascii() for w in words):
        return Names(pattern, None)
    firsts = "|".join(rf"{re.escape(w[0])}(?<![\w@].){_spaced(w[1:])}(?!\w)" for w in words)
    return Names(pattern, re.compile(rf"#(?<![\w@]#)(?:{alternatives})(?!\w)|{firsts}"))


def _sub_names(text: str, names: Names, placeholder: str) -> tuple[str, int]:
    """`names.pattern.subn(placeholder, text)`; an ASCII text is searched lower-cased (the same
    length, so the same places) with `names.ascii_lower`."""
    if names.ascii_lower is None or not text.isascii():
        return names.pattern.subn(placeholder, text)
    pieces: list[str] = []
    start = 0
    for m in names.ascii_lower.finditer(text.lower()):
        pieces += (text[start:m.start()], placeholder)
        start = m.end()
    if not pieces:
        return text, 0
    pieces.append(text[start:])
    return "".join(pieces), len(pieces) // 2


class Maskers(NamedTuple):
    """What masking looks for, for one config: the watched terms' and the staff names' regexes and
    the stems of the brand's handles (`maskers` builds it once per config, not once per text)."""

    targets: Names | None
    staff: Names | None
    handle_stems: tuple[str, ...]


@lru_cache(maxsize=64)
def maskers(targets: tuple[str, ...], staff: tuple[str, ...]) -> Maskers:
    """The watched terms' regexes (an @handle among them is masked as a handle), the staff names'
    and the handle stems of the watched terms."""
    return Maskers(_names_pattern(tuple(t for t in targets if not t.lstrip().startswith("@"))), _names_pattern(staff),
                   _handle_stems(targets))


def mask(text: str, targets: Sequence[str] = (), staff: Sequence[str] = ()) -> Masked:
    """Replace URLs, e-mail addresses, @handles, watched terms and staff names with placeholders.

    >>> mask("@united lost my bag, see https://x.example/a or mail care@united.com").text
    'xhandle lost my bag, see xurl or mail xemail'
    """
    return mask_with(text, maskers(tuple(targets), tuple(staff)))


def mask_with(text: str, found: Maskers) -> Masked:
    """`mask` with what to look for already built (a batch of texts masks with one `maskers`)."""
    kinds: list[str] = []
    n = 0
    if "://" in text or "www." in text.lower():
        text, n = _URL.subn(URL, text)
        if n:
            kinds.append("url")
    if "@" in text and _may_have_email(text):
        text, n = _EMAIL.subn(EMAIL, text)
        if n:
            kinds.append("email")
    if found.targets is not None:
        text, n = _sub_names(text, found.targets, TARGET)
        if n:
            kinds.append("target")
    if found.staff is not None:
        text, n = _sub_names(text, found.staff, STAFF)
        if n:
            kinds.append("staff")
    if "@" in text:
        text, n, addressed = _mask_handles(text, found.handle_stems)
        if n:
            kinds.append("handle")
        if addressed and "target" not in kinds:
            kinds.append("target")  # "@acme", "@AcmeSupport": the text is addressed to the watched brand
    return Masked(text, tuple(kinds))


def _mask_handles(text: str, stems: tuple[str, ...]) -> tuple[str, int, bool]:
    """The text with its @handles masked, how many, and whether one is the brand's (starts with a stem)."""
    if not stems:
        text, n = _HANDLE.subn(HANDLE, text)
        return text, n, False
    addressed = False

    def handle(m: re.Match[str]) -> str:
        nonlocal addressed
        addressed = addressed or m.group()[1:].replace("_", "").lower().startswith(stems)
        return HANDLE

    text, n = _HANDLE.subn(handle, text)
    return text, n, addressed


def _handle_stems(targets: tuple[str, ...]) -> tuple[str, ...]:
    """The watched terms as a handle would spell them ("Joy Airlines" -> "joyairlines"): a handle
    that starts with one is the brand's. Shorter than 3 letters, a stem would match any handle."""
    stems = ("".join(ch for ch in t.casefold() if ch.isalnum()) for t in targets)
    return tuple(sorted({s for s in stems if len(s) >= 3}))


def _may_have_email(text: str) -> bool:
    """Whether some `@` has a word character (`str.isalnum`, as the regex's `\\w`, or `_`) or one of
    `.+-` just before it, as every address `_EMAIL` matches does: an @handle after a space needs no scan."""
    i = text.find("@", 1)
    while i > 0:
        c = text[i - 1]
        if c.isalnum() or c in "_.+-":
            return True
        i = text.find("@", i + 1)
    return False
