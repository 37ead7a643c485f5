"""Regex helpers of the rule layer: a pattern's top-level alternatives, and the same pattern
rewritten so that the regex engine can scan for where a match may start.

The engine (`re`) scans a text in C for a pattern's first characters only when the pattern starts
with a literal, or with an alternation whose alternatives each start with one. A pattern that
starts with a word boundary (`\\bstill`, `\\b(?:please|help)`) is tried at every position of the
text instead: a search for `\\bstill\\b` cost 1.3 us on a complaint, 0.15 as `still(?<!\\wstill)\\b`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator


def _structure(pattern: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, group depth after it) of each character of the pattern from `start` that
    is neither escaped nor in a class."""
    depth, in_class, i = 0, False, start
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1 if pattern[i + 1:i + 2] == "^" else 0
            i += 1 if pattern[i + 1:i + 2] == "]" else 0  # a "]" first in a class is a character
        else:
            depth += (c == "(") - (c == ")")
            yield i, c, depth
        i += 1


def top_level_alternatives(pattern: str) -> list[str]:
    """The pattern's alternatives at the top level (outside groups and classes): `"|".join` of them is the pattern."""
    parts, start = [], 0
    for i, c, depth in _structure(pattern):
        if c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    return [*parts, pattern[start:]]


def _closing(pattern: str, opening: int) -> int | None:
    """The index of the `)` that closes the group opened at `opening`."""
    return next((i for i, c, depth in _structure(pattern, opening) if c == ")" and depth == 0), None)


_LEADING_WORD = re.compile(r"[a-z0-9][a-z0-9']*")
_QUANTIFIERS = ("?", "*", "+", "{")


def scan_friendly(pattern: str) -> str:
    """A regex of the same matches, searched from any position, whose top-level alternatives start
    with a literal where they can: `\\bstill` becomes `still(?<!\\wstill)` (the word, then no word
    character before it), `\\b'd` becomes `'(?<=\\w')d`, `(?<!x\\s)\\bword` becomes
    `word(?<!\\wword)(?<!x\\sword)`, and `\\b(?:a|b)c` becomes `a(?<!\\wa)c|b(?<!\\wb)c` (the same
    alternatives in the same order, groups at the start opened in turn). An alternative that cannot
    be made to start with a literal is kept as it is (then the engine still tries every position)."""
    return "|".join(_open(a, False) or a for a in top_level_alternatives(pattern))


def _open(alternative: str, boundary: bool) -> str | None:
    """`alternative` (after a `\\b` when `boundary`) as alternatives that each start with a literal, or None."""
    if alternative.startswith(r"\b"):
        return _open(alternative[2:], True)
    if alternative.startswith("(?:"):
        close = _closing(alternative, 0)
        if close is None or alternative[close + 1:close + 2] in _QUANTIFIERS:
            return None
        rest = alternative[close + 1:]
        opened = [_open(a + rest, boundary) for a in top_level_alternatives(alternative[3:close])]
        return "|".join(a for a in opened if a) if all(opened) else None
    behind: list[str] = []  # what may not come just before: (?<!x) at the start
    while alternative.startswith("(?<!"):
        close = _closing(alternative, 0)
        if close is None:
            return None
        behind.append(alternative[4:close])
        alternative = alternative[close + 1:]
    if alternative.startswith(r"\b"):
        boundary, alternative = True, alternative[2:]
    if not (boundary or behind) and alternative[:1] in _LITERALS:
        return alternative
    if alternative.startswith("'") and not behind and alternative[1:2] not in _QUANTIFIERS:
        return f"'(?<=\\w'){alternative[1:]}"  # an apostrophe is no word character: a word comes before it
    m = _LEADING_WORD.match(alternative)
    if m is None:
        return None
    word, rest = m.group(), alternative[m.end():]
    if rest[:1] in _QUANTIFIERS:  # it applies to the word's last character
        word, rest = word[:-1], word[-1] + rest
    if not word:
        return None
    return word + (f"(?<!\\w{word})" if boundary else "") + "".join(f"(?<!{b}{word})" for b in behind) + rest


_LITERALS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'#@:;,!%&~<>=/\"")
