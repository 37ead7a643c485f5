"""better-profanity's verdict on a text, reached without its censor.

better-profanity 0.7.0 keeps its 900-odd words as look-alike patterns in a list and compares every
word of a text (and each run of up to five following words) with every pattern: milliseconds a
text, which on a large database made `listener threads` take minutes. This module reads the same
word list and the same look-alike table and walks the text the same way its censor does, but looks
each word up: a cheap fold (every letter the table lets stand for another is one letter) finds
the few patterns that could match, and only those are checked letter by letter.
`tests/test_swear.py` holds `contains_swear` to `Profanity.contains_profanity` on every listed word
in several spellings and on thousands of texts.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Iterator
from importlib import resources

# better_profanity.Profanity().CHARS_MAPPING: the spellings it accepts for each letter.
SPELLINGS = {"a": "a@*4", "i": "i*l1", "o": "o*0@", "u": "u*v", "v": "v*u", "l": "l1", "e": "e*3", "s": "s$5",
             "t": "t7"}
PRODUCT_CAP = 256  # spellings tried by lookup; past it, the word is compared with each pattern of its length


@functools.lru_cache(maxsize=1)
def _table() -> _Table:
    return _Table()


class _Table:
    """The word list, indexed: exact lowercase entries, their folds, and the folds' prefixes."""

    def __init__(self) -> None:
        package = resources.files("better_profanity")
        allowed = set(json.loads(package.joinpath("alphabetic_unicode.json").read_text(encoding="utf-8")))
        allowed |= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@$*\"'")
        self.token = re.compile(f"[{_char_class(allowed)}]+")
        entries = {line.strip().lower() for line in package.joinpath("profanity_wordlist.txt")
                   .read_text(encoding="utf-8").splitlines() if line.strip()}
        self.entries = frozenset(entries)
        self.by_length: dict[int, list[str]] = {}
        for entry in entries:
            self.by_length.setdefault(len(entry), []).append(entry)
        # Which entry letters each written character can stand for (its own letter included).
        self.stands_for: dict[str, str] = {}
        for letter, spellings in SPELLINGS.items():
            for char in spellings:
                self.stands_for[char] = self.stands_for.get(char, "") + letter
        for char in self.stands_for:
            if char not in SPELLINGS:  # a written "1" is also the "1" of "2 girls 1 cup"
                self.stands_for[char] += char
        classes = "".join(sorted({c for s in SPELLINGS.values() for c in s} | set(SPELLINGS)))
        self.fold_table = str.maketrans({c: "~" if c not in "s$5t7" else ("s" if c in "s$5" else "t")
                                         for c in classes})
        self.folds = frozenset(self.fold(e) for e in entries)
        self.prefixes = frozenset(f[:n] for f in self.folds for n in range(1, len(f) + 1))
        # Without the wildcards "*" and "@" (which stand for any vowel), far fewer letters are alike:
        # a 4; i l 1; o 0; u v; e 3; s $ 5; t 7. Most words of a text start no entry even loosely.
        self.fine_table = str.maketrans({"4": "a", "l": "i", "1": "i", "0": "o", "v": "u", "3": "e", "$": "s",
                                         "5": "s", "7": "t"})
        self.fine_prefixes = frozenset(f[:n] for e in entries for f in [e.translate(self.fine_table)]
                                       for n in range(1, len(f) + 1))
        self.longest = max(map(len, entries))

    def fold(self, text: str) -> str:
        return text.translate(self.fold_table)

    def may_start(self, text: str) -> bool:
        """Some entry, in some allowed spelling, could begin with `text` (lowercase)."""
        if "*" in text or "@" in text:
            return self.fold(text) in self.prefixes
        return text.translate(self.fine_table) in self.fine_prefixes

    def matches(self, word: str) -> bool:
        """`word` (lowercase) is a listed entry in one of the spellings the table allows."""
        if len(word) > self.longest or self.fold(word) not in self.folds:
            return False
        choices = [self.stands_for.get(char, char) for char in word]
        count = 1
        for letters in choices:
            count *= len(letters)
        if count <= PRODUCT_CAP:
            return any("".join(spelled) in self.entries for spelled in itertools.product(*choices))
        return any(all(c == e or c in SPELLINGS.get(e, e) for c, e in zip(word, entry, strict=True))
                   for entry in self.by_length.get(len(word), ()))


def _char_class(chars: set[str]) -> str:
    """A regex character class of exactly `chars`, as ranges."""
    points = sorted(map(ord, chars))
    parts = []
    for _, run in itertools.groupby(enumerate(points), key=lambda pair: pair[1] - pair[0]):
        block = [point for _, point in run]
        first, last = re.escape(chr(block[0])), re.escape(chr(block[-1]))
        parts.append(first if block[0] == block[-1] else f"{first}-{last}")
    return "".join(parts)


def _words(text: str, table: _Table) -> list[tuple[int, int]]:
    return [match.span() for match in table.token.finditer(text)]


def _following(text: str, spans: list[tuple[int, int]], index: int, start: int, count: int) -> Iterator[tuple[str, str]]:
    """The next `count` words after the word at `index` (which ends at `start`), each alone and with
    the separators before it, as better-profanity's `_get_next_words` reads them."""
    last = len(text) - 1
    for begin, end in spans[index + 1: index + 1 + count]:
        if begin >= last:
            return
        yield text[begin:end], text[start:begin] + text[begin:end]
        start = end if end <= last else last


def contains_swear(text: str) -> bool:
    """What `better_profanity.Profanity().contains_profanity(text)` says, for its default word list."""
    table = _table()
    spans = _words(text, table)
    if not spans or spans[0][0] >= len(text) - 1:
        return False
    for index, (begin, end) in enumerate(spans):
        word = text[begin:end].lower()
        if not table.may_start(word):
            continue  # no entry, alone or as a phrase, starts like this word: most words of a text
        if end >= len(text):  # the text's last word: better-profanity checks it alone
            return table.matches(word)
        joined = spaced = word
        for single, with_separators in _following(text, spans, index, end, 5):
            joined += single.lower()
            spaced += with_separators.lower()
            if not table.may_start(joined) and not table.may_start(spaced):
                break
            if table.matches(joined) or table.matches(spaced):
                return True
        if table.matches(word):
            return True
    return False
