"""A fast path for ordinary feeds: what feedparser's strict parser would make of them, built with
pyexpat directly and only for the fields parse_feed reads.

feedparser spends most of a parse in its generic element machinery (per-element dispatch,
FeedParserDict lookups, deep copies). This module replays the same rules (element naming,
namespaces, xml:base, the title and property depth rules, guid-as-link, author syncing, the text
fix-ups in `pop`) for the elements ordinary RSS 2.0, RSS 1.0 and Atom feeds use, and gives up
(returns None, and feedparser runs) on anything else: a DOCTYPE, an XML error, markup nested in a
text element (inline XHTML), base64 content, or any element feedparser has a handler for that is
not modelled here. tests/test_parse_fast.py holds the result to feedparser's on every real feed,
fixture and fuzzed feed. It runs on bytes `prepare` has already checked (entities refused, C0 gone).
"""

from __future__ import annotations

import pyexpat
import re
from typing import Any

from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from feedparser.util import FeedParserDict

from listener.parse.elements import ENDS, STARTS, Unsupported

# FeedParserDict's aliases, applied where feedparser stores under an element's own name
_KEYMAP = {key: target[0] if isinstance(target, list) else target for key, target in FeedParserDict.keymap.items()}
_MATCH = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
_HANDLED = frozenset(n[7:] for n in dir(_FeedParserMixin) if n.startswith("_start_")) | frozenset(
    n[5:] for n in dir(_FeedParserMixin) if n.startswith("_end_"))
_RELATIVE = _FeedParserMixin.can_be_relative_uri
_looks_like_html = _FeedParserMixin.looks_like_html
_map_type = _FeedParserMixin.map_content_type
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_FIRST_ELEMENT = re.compile(rb"<\w")
_LINK_REF = re.compile("&([A-Za-z0-9_]+);")
_EMAIL = re.compile(r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"""
                    r"""([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?""")
# elements whose feedparser handlers touch only keys parse_feed never reads: what they push, if anything
_QUIET: dict[str, tuple[str, int] | None] = {
    "generator": ("generator", 1), "language": ("language", 1), "dc_language": ("language", 1),
    "width": ("width", 0), "height": ("height", 0),
    "cloud": None, "media_group": None, "media_content": None,
}
# text elements no one reads: the element feedparser pushes for each
_TEXT_ONLY = {"subtitle": "subtitle", "tagline": "subtitle", "itunes_subtitle": "subtitle", "rights": "rights",
              "copyright": "rights", "dc_rights": "rights", "info": "info", "feedburner_browserfriendly": "info"}


class _Replay:
    """feedparser's _FeedParserMixin state and rules, reduced to what parse_feed reads."""

    def __init__(self) -> None:
        self.version = ""
        self.namespaces_in_use: dict[str, str] = {}
        self.namespacemap: dict[str | None, str] = {}
        self.feeddata: dict[str, Any] = {}
        self.entries: list[dict[str, Any]] = []
        self.infeed = self.inentry = self.incontent = self.inimage = self.intextinput = self.inauthor = 0
        self.has_content = self.guidislink = 0
        self.contentparams: dict[str, Any] = {}
        self.summary_key: str | None = None
        self.stack: list[list[Any]] = []
        self.baseuri = ""
        self.basestack: list[str] = []
        self.title_depth = -1
        self.depth = 0
        self.depths: dict[int, dict[str, int]] = {}
        self.names: dict[str, tuple[str, str, bool]] = {}
        self.joins: dict[tuple[str, str], str] = {}

    # --- expat callbacks ---------------------------------------------------------------------

    def start_namespace(self, prefix: str | None, uri: str) -> None:
        if not uri:
            return
        self.names.clear()
        lower = uri.lower()
        if not self.version:
            if (prefix, lower) == (None, "http://my.netscape.com/rdf/simple/0.9/"):
                self.version = "rss090"
            elif lower == "http://purl.org/rss/1.0/":
                self.version = "rss10"
            elif lower == "http://www.w3.org/2005/atom":
                self.version = "atom10"
        if "backend.userland.com/rss" in lower or (prefix and uri == "http://www.w3.org/1999/xlink"):
            raise Unsupported("a namespace feedparser treats specially")
        if lower in _MATCH:
            self.namespacemap[prefix or None] = _MATCH[lower]
            self.namespaces_in_use[_MATCH[lower]] = uri
        else:
            self.namespaces_in_use[prefix or ""] = uri

    def _name(self, raw: str) -> tuple[str, str, bool]:
        """(tag as feedparser's strict parser names it, handler name, unprefixed?)"""
        if (known := self.names.get(raw)) is not None:
            return known
        parts = raw.split(" ")
        namespace, local = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
        prefix = _MATCH.get(namespace.lower())
        local = local.lower()
        if local in ("math", "svg"):
            raise Unsupported("feedparser adds an xmlns attribute to these")
        if prefix:
            local = prefix.lower() + ":" + local
        elif prefix is None and namespace:
            for name, value in self.namespaces_in_use.items():
                if name and value == namespace:
                    local = name + ":" + local
                    break
        tag = local.lower()
        given, suffix = tag.split(":", 1) if ":" in tag else ("", tag)
        mapped = self.namespacemap.get(given, given)
        result = (tag, (mapped + "_" if mapped else "") + suffix, not mapped)
        self.names[raw] = result
        return result

    def _attrs(self, attrs: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        qnames = []
        for raw, value in attrs.items():
            parts = raw.split(" ")
            if len(parts) == 1:
                out[raw.lower()] = value
                qnames.append((raw, value))
                continue
            prefix = _MATCH.get(parts[0].lower(), "")
            out[(prefix + ":" + parts[1] if prefix else parts[1]).lower()] = value
            qnames.append((f"{parts[2]}:{parts[1]}" if len(parts) == 3 else parts[1], value))
        for qname, value in qnames:
            out[qname.lower()] = value
        return {k: (v.lower() if k in ("rel", "type") else v) for k, v in out.items()}

    def start(self, raw: str, raw_attrs: dict[str, str]) -> None:
        if self.incontent:
            raise Unsupported("markup inside a text element")
        tag, name, bare = self._name(raw)
        attrs = self._attrs(raw_attrs) if raw_attrs else {}
        self.depth += 1
        base = attrs.get("xml:base", attrs.get("base")) or self.baseuri
        key = (self.baseuri, base)
        if (joined := self.joins.get(key)) is None:
            joined = (make_safe_absolute_uri(self.baseuri, base) or self.baseuri) if self.baseuri \
                else _urljoin(self.baseuri, base)
            self.joins[key] = joined
        self.baseuri = joined
        self.basestack.append(joined)
        if bare and tag not in ("title", "link", "description", "url", "href", "width", "height"):
            self.inimage = 0
        if bare and tag not in ("title", "link", "description", "name"):
            self.intextinput = 0
        handler = STARTS.get(name)
        if handler is not None:
            handler(self, attrs)
        elif name in _TEXT_ONLY:
            self._push_content(_TEXT_ONLY[name], attrs, "text/plain", 1)
        elif name in _QUIET:
            if (pushed := _QUIET[name]) is not None:
                self.push(*pushed)
        elif name in _HANDLED:
            raise Unsupported(f"element {name}")
        elif attrs:
            self.context()[_KEYMAP.get(name, name)] = attrs
        else:
            self.push(name, 1)

    def end(self, raw: str) -> None:
        _tag, name, _bare = self._name(raw)
        handler = ENDS.get(name)
        if handler is not None:
            handler(self)
        elif name in _TEXT_ONLY:
            self._pop_content(_TEXT_ONLY[name])
        else:
            pushed = _QUIET.get(name)
            self.pop(pushed[0] if pushed else name)
        if self.basestack:
            self.basestack.pop()
            if self.basestack and self.basestack[-1]:
                self.baseuri = self.basestack[-1]
        self.depth -= 1

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1][2].append(text)

    # --- feedparser's push/pop ---------------------------------------------------------------

    def push(self, element: str, expecting_text: int) -> None:
        self.stack.append([element, expecting_text, []])

    def context(self) -> dict[str, Any]:
        if self.inimage and "image" in self.feeddata:
            return self.feeddata["image"]
        if self.intextinput:
            return self.feeddata["textinput"]
        if self.inentry:
            return self.entries[-1]
        return self.feeddata

    def pop(self, element: str) -> Any:
        if not self.stack or self.stack[-1][0] != element:
            return None
        _element, expecting_text, pieces = self.stack.pop()
        output = "".join(pieces).strip()
        if not expecting_text:
            return output
        if element in _RELATIVE and output and (element != "id" or self.guidislink):
            output = _urljoin(self.baseuri or "", output)
        params = self.contentparams
        if element == "content" and not self.version.startswith("atom") \
                and params.get("type") == "text/plain" and _looks_like_html(output):
            params["type"] = "text/html"
        if not output.isascii():
            try:
                output = output.encode("iso-8859-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
            output = output.translate(_cp1252)
        if element == "category" or (element == "title" and -1 < self.title_depth <= self.depth):
            return output
        if self.inentry:
            entry = self.entries[-1]
            if element == "content":
                entry.setdefault("content", []).append({"type": params.get("type"), "value": output})
            elif element == "link":
                if not self.inimage:
                    output = _LINK_REF.sub(r"&\g<1>", output.replace("&amp;", "&"))
                    entry["link"] = output
                    if output:
                        entry["links"][-1]["href"] = output
            else:
                key = "summary" if element == "description" else element
                depths = self.depths.setdefault(id(entry), {})
                old = depths.get(key)
                if old is None or self.depth <= old:
                    depths[key] = self.depth
                    entry[_KEYMAP.get(key, key)] = output
        elif self.infeed:
            context = self.context()
            key = "subtitle" if element == "description" else element
            context[_KEYMAP.get(key, key)] = output
            if key == "link":
                output = _LINK_REF.sub(r"&\g<1>", output)
                context["link"] = output
                context["links"][-1]["href"] = output
        return output

    def _push_content(self, tag: str, attrs: dict[str, str], default_type: str, expecting_text: int) -> None:
        self.incontent += 1
        kind = _map_type(attrs.get("type", default_type))
        if attrs.get("mode", "") == "base64" or not (kind.startswith("text/") or kind.endswith(("+xml", "/xml"))):
            raise Unsupported("base64 content")
        self.contentparams = {"type": kind}
        self.push(tag, expecting_text)

    def _pop_content(self, tag: str) -> Any:
        value = self.pop(tag)
        self.incontent -= 1
        self.contentparams = {}
        return value

    def _save(self, key: str, value: Any, overwrite: bool = False) -> None:
        context = self.context()
        if overwrite:
            context[key] = value
        else:
            context.setdefault(key, value)

    # --- authors -----------------------------------------------------------------------------

    def _save_author(self, key: str, value: Any) -> None:
        context = self.context()
        context.setdefault("author_detail", {})
        context["author_detail"][key] = value
        self._sync_author_detail()
        context.setdefault("authors", [{}])
        context["authors"][-1][key] = value

    def _sync_author_detail(self) -> None:
        context = self.context()
        detail = context.get("authors", [{}])[-1]
        if detail:
            name, email = detail.get("name"), detail.get("email")
            if name and email:
                context["author"] = f"{name} ({email})"
            elif name or email:
                context["author"] = name or email
            return
        author, email = context.get("author"), None
        if not author:
            return
        if match := _EMAIL.search(author):
            email = match.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "").replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        if author or email:
            context.setdefault("author_detail", detail)
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email


def fast_parse(data: bytes) -> dict[str, Any] | None:
    """feedparser's result (version, namespaces, feed, entries) for what parse_feed reads, or None
    when feedparser must parse `data` itself. `data` is UTF-8 that `prepare` has checked."""
    first = _FIRST_ELEMENT.search(data)
    if _DOCTYPE.search(data, 0, first.start() if first else len(data)):
        return None  # feedparser rewrites the DOCTYPE first; not worth copying
    replay = _Replay()
    parser = pyexpat.ParserCreate("utf-8", " ")
    parser.namespace_prefixes = True
    parser.buffer_text = True
    parser.StartNamespaceDeclHandler = replay.start_namespace
    parser.StartElementHandler = replay.start
    parser.EndElementHandler = replay.end
    parser.CharacterDataHandler = replay.data
    try:
        parser.Parse(data, True)
    except Exception:  # noqa: BLE001 - Unsupported, an XML error, or a case feedparser would also trip on
        return None
    if replay.version not in ("rss20", "rss10", "atom10"):
        return None
    return {"bozo": False, "version": replay.version, "namespaces": replay.namespaces_in_use,
            "feed": replay.feeddata, "entries": replay.entries}
