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


@lru_cache(maxsize=64)
def _names_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for a set of terms or names: whole words, any whitespace inside a phrase, '#term' too."""
    words = sorted({" ".join(n.split()).casefold() for n in names if n and n.strip()}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in w.split(" ")) for w in words)
    return re.compile(rf"(?<![\w@])#?(?:{alternatives})(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=64)
def _mask_patterns(targets: tuple[str, ...], staff: tuple[str, ...]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """The watched terms' pattern (an @handle among them is masked as a handle) and the staff names'."""
    return _names_pattern(tuple(t for t in targets if not t.lstrip().startswith("@"))), _names_pattern(staff)


def mask(text: str, targets: Sequence[str] = (), staff: Sequence[str] = ()) -> Masked:
    """Replace URLs, e-mail addresses, @handles, watched terms and staff names with placeholders.

    >>> mask("@united lost my bag, see https://x.example/a or mail care@united.com").text
    'xhandle lost my bag, see xurl or mail xemail'
    """
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
    target_pattern, staff_pattern = _mask_patterns(tuple(targets), tuple(staff))
    if target_pattern is not None:
        text, n = target_pattern.subn(TARGET, text)
        if n:
            kinds.append("target")
    if staff_pattern is not None:
        text, n = staff_pattern.subn(STAFF, text)
        if n:
            kinds.append("staff")
    if "@" in text:
        text, n, addressed = _mask_handles(text, _handle_stems(tuple(targets)))
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


@lru_cache(maxsize=64)
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
