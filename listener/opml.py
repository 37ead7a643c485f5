"""Feed lists in OPML, the format every feed reader imports and exports."""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.parsers import expat

from listener.errors import ListenerError
from listener.models import Config, FeedSpec


def render(feeds: Sequence[FeedSpec], *, title: str = "listener feeds") -> str:
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = title
    body = ET.SubElement(root, "body")
    for feed in feeds:
        ET.SubElement(body, "outline", type="rss", text=feed.name, title=feed.name, xmlUrl=feed.url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


class _Refused(Exception):
    pass


def _refuse(*args: object) -> None:
    raise _Refused()


def _refuse_dtd(data: bytes) -> None:
    """Refuse any DTD or entity declaration, whatever the encoding (expat decodes UTF-16 itself;
    a byte search for b"<!ENTITY" misses it, and ElementTree would expand the entity)."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise ListenerError("OPML file declares a DTD or entities; refusing it")
    checker = expat.ParserCreate()
    checker.StartDoctypeDeclHandler = _refuse
    checker.EntityDeclHandler = _refuse
    try:
        checker.Parse(data, True)
    except _Refused:
        raise ListenerError("OPML file declares a DTD or entities; refusing it") from None
    except expat.ExpatError:
        pass  # not well-formed: ElementTree says so below


@dataclass(frozen=True)
class Skipped:
    """An outline that names no feed we can poll, and why, so an import never drops one without a word."""

    outline: str
    reason: str

    def __str__(self) -> str:
        return f"{self.outline!r}: {self.reason}"


@dataclass(frozen=True)
class Imported:
    """What `listener import-opml` did: feeds added, already configured, and outlines skipped."""

    added: tuple[str, ...]
    already: tuple[str, ...]
    skipped: tuple[Skipped, ...]

    def line(self, path: os.PathLike[str] | str) -> str:
        extra = f", {len(self.skipped)} skipped" if self.skipped else ""
        return f"added {len(self.added)} feeds to {path} ({len(self.already)} already there{extra})"


def _shown(value: str, limit: int = 120) -> str:
    """Outline text for a terminal line: control characters out, whitespace folded, bounded."""
    text = " ".join(re.sub(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", " ", value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read(data: bytes) -> tuple[list[tuple[str, str]], list[Skipped]]:
    """(name, url) of every outline with an http(s) xmlUrl, nested folders included, and the outlines
    skipped with the reason. A folder (an outline holding outlines) is structure, not skipped. DTDs are refused."""
    _refuse_dtd(data)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ListenerError(f"not an OPML file: {exc}") from None
    feeds: list[tuple[str, str]] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        label = (outline.get("title") or outline.get("text") or "").strip()
        name = _shown(label or url or "(untitled outline)")
        if not url:
            if len(outline) == 0:
                page = (outline.get("htmlUrl") or outline.get("url") or "").strip()
                skipped.append(Skipped(name, f"a link to {_shown(page)!r}, not a feed (no xmlUrl)" if page
                                       else "no xmlUrl: not a feed"))
            continue
        if not re.match(r"^https?://", url, re.I):
            skipped.append(Skipped(name, f"xmlUrl {_shown(url)!r} is not an http(s) URL"))
            continue
        if url in seen:
            skipped.append(Skipped(name, "listed twice in the file"))
            continue
        seen.add(url)
        feeds.append((re.sub(r"\s+", " ", label or url)[:200], url))
    return feeds, skipped


def parse(data: bytes) -> list[tuple[str, str]]:
    """(name, url) of every outline with an http(s) xmlUrl; see read() for the ones skipped."""
    return read(data)[0]


def _yaml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def import_into_config(config: Config, data: bytes, *, validate: Callable[[str], object]) -> Imported:
    """Append the OPML's new feeds to feeds.yaml, keeping its comments.

    The file is rewritten atomically and read back through `validate` (the config loader) before
    it replaces the old one.
    """
    found, skipped = read(data)
    urls = {feed.url for feed in config.feeds}
    names = {feed.name for feed in config.feeds}
    new, already = [], []
    for name, url in found:
        if url in urls:
            already.append(name)
            continue
        while name in names:
            name = f"{name} (2)"
        urls.add(url)
        names.add(name)
        new.append((name, url))
    result = Imported(tuple(n for n, _ in new), tuple(already), tuple(skipped))
    if not new:
        return result
    text = config.path.read_text(encoding="utf-8")
    entries = "".join(f"  - name: {_yaml_string(n)}\n    url: {_yaml_string(u)}\n" for n, u in new)
    text = _insert_feeds(text, entries)
    fd, tmp = tempfile.mkstemp(dir=config.path.parent, prefix=".feeds-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        validate(tmp)
        os.replace(tmp, config.path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return result


def _insert_feeds(text: str, entries: str) -> str:
    """Put entries at the end of the top-level `feeds:` list, or add that list."""
    empty = re.search(r"^feeds\s*:\s*\[\s*\]\s*(#.*)?$", text, re.M)
    if empty:  # `feeds: []`, as a new watchlist often starts
        return text[:empty.start()] + "feeds:\n" + entries + text[empty.end():].lstrip("\n")
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(r"^feeds\s*:\s*(#.*)?$", line)), None)
    if start is None:
        if re.search(r"^feeds\s*:", text, re.M):
            raise ListenerError("feeds.yaml writes `feeds:` inline; add the feeds by hand")
        return text.rstrip("\n") + "\n\nfeeds:\n" + entries
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t#-"):
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[:end]) + entries + "".join(lines[end:])
