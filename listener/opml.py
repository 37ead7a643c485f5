"""Feed lists in OPML, the format every feed reader imports and exports."""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from xml.parsers import expat
from collections.abc import Sequence

from listener.config import load_config
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


def parse(data: bytes) -> list[tuple[str, str]]:
    """(name, url) of every outline with an xmlUrl, nested folders included. DTDs are refused."""
    _refuse_dtd(data)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ListenerError(f"not an OPML file: {exc}") from None
    feeds = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if re.match(r"^https?://", url):
            name = (outline.get("title") or outline.get("text") or url).strip()
            feeds.append((re.sub(r"\s+", " ", name)[:200], url))
    return feeds


def _yaml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def import_into_config(config: Config, data: bytes) -> tuple[int, int]:
    """Append the OPML's new feeds to feeds.yaml, keeping its comments; returns (added, skipped).

    The file is rewritten atomically and read back through the validator before it replaces the old one.
    """
    urls = {feed.url for feed in config.feeds}
    names = {feed.name for feed in config.feeds}
    new = []
    for name, url in parse(data):
        if url in urls:
            continue
        while name in names:
            name = f"{name} (2)"
        urls.add(url)
        names.add(name)
        new.append((name, url))
    if not new:
        return 0, len(parse(data))
    text = config.path.read_text(encoding="utf-8")
    entries = "".join(f"  - name: {_yaml_string(n)}\n    url: {_yaml_string(u)}\n" for n, u in new)
    text = _insert_feeds(text, entries)
    fd, tmp = tempfile.mkstemp(dir=config.path.parent, prefix=".feeds-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        load_config(tmp)
        os.replace(tmp, config.path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(new), len(parse(data)) - len(new)


def _insert_feeds(text: str, entries: str) -> str:
    """Put entries at the end of the top-level `feeds:` list, or add that list."""
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
