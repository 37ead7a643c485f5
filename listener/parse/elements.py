"""The elements the fast path models, each doing what feedparser's handler of the same name does
(feedparser/namespaces/_base.py and dc.py) to the keys parse_feed reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from feedparser.datetimes import _parse_date
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin

if TYPE_CHECKING:
    from listener.parse.fast import _Replay

_HTML_TYPES = _FeedParserMixin.html_types
_map_type = _FeedParserMixin.map_content_type
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
_ATOM_VERSIONS = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}


class Unsupported(Exception):
    """The document uses something the fast path does not model: feedparser must parse it."""


def _start_rss(p: _Replay, attrs: dict[str, str]) -> None:
    if not p.version or not p.version.startswith("rss"):
        given = attrs.get("version", "")
        p.version = _RSS_VERSIONS.get(given) or ("rss20" if given.startswith("2.") else "rss")


def _start_feed(p: _Replay, attrs: dict[str, str]) -> None:
    p.infeed = 1
    if not p.version:
        p.version = _ATOM_VERSIONS.get(attrs.get("version", ""), "atom")


def _start_channel(p: _Replay, attrs: dict[str, str]) -> None:
    p.infeed = 1
    _cdf_common(attrs)


def _cdf_common(attrs: dict[str, str]) -> None:
    if "lastmod" in attrs or "href" in attrs:
        raise Unsupported("CDF attributes")


def _end_channel(p: _Replay) -> None:
    p.infeed = 0


def _start_image(p: _Replay, attrs: dict[str, str]) -> None:
    if p.inentry:
        raise Unsupported("image in an entry")
    p.context().setdefault("image", {})
    p.inimage = 1
    p.title_depth = -1
    p.push("image", 0)


def _end_image(p: _Replay) -> None:
    p.pop("image")
    p.inimage = 0


def _start_item(p: _Replay, attrs: dict[str, str]) -> None:
    p.entries.append({})
    p.push("item", 0)
    p.inentry = 1
    p.guidislink = 0
    p.title_depth = -1
    if about := attrs.get(p.namespacemap.get("rdf", "rdf") + ":about"):
        p.context()["id"] = about
    _cdf_common(attrs)


def _end_item(p: _Replay) -> None:
    p.pop("item")
    p.inentry = 0
    p.has_content = 0


def _start_author(p: _Replay, attrs: dict[str, str]) -> None:
    p.inauthor = 1
    p.push("author", 1)
    p.context().setdefault("authors", []).append({})


def _end_author(p: _Replay) -> None:
    p.pop("author")
    p.inauthor = 0
    p._sync_author_detail()


def _end_name(p: _Replay) -> None:
    value = p.pop("name")
    if p.inauthor:
        p._save_author("name", value)
    elif p.intextinput:
        p.context()["name"] = value


def _start_textinput(p: _Replay, attrs: dict[str, str]) -> None:
    p.context().setdefault("textinput", {})
    p.intextinput = 1
    p.title_depth = -1
    p.push("textinput", 0)


def _end_textinput(p: _Replay) -> None:
    p.pop("textinput")
    p.intextinput = 0


def _enforce_href(attrs: dict[str, str]) -> None:
    if href := attrs.get("url", attrs.get("uri", attrs.get("href", None))):
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href


def _start_category(p: _Replay, attrs: dict[str, str]) -> None:
    p.context().setdefault("tags", [])
    p.push("category", 1)


def _end_category(p: _Replay) -> None:
    if p.pop("category"):
        p.context()["tags"]  # noqa: B018 - feedparser reads it here, and fails when the context moved


def _start_enclosure(p: _Replay, attrs: dict[str, str]) -> None:
    """An enclosure is a link too: it moves links[-1], which a later <link> fills."""
    _enforce_href(attrs)
    attrs["rel"] = "enclosure"
    p.context().setdefault("links", []).append(dict(attrs))


def _start_media_thumbnail(p: _Replay, attrs: dict[str, str]) -> None:
    context = p.context()
    context.setdefault("media_thumbnail", [])
    p.push("url", 1)
    context["media_thumbnail"].append(attrs)


def _end_media_thumbnail(p: _Replay) -> None:
    url = p.pop("url")
    thumbnail = p.context()["media_thumbnail"][-1]
    if url is not None and url.strip() and "url" not in thumbnail:
        thumbnail["url"] = url


def _end_media_title(p: _Replay) -> None:
    depth = p.title_depth
    _end_title(p)
    p.title_depth = depth


def _start_media_rating(p: _Replay, attrs: dict[str, str]) -> None:
    p.context().setdefault("media_rating", attrs)
    p.push("rating", 1)


def _end_media_rating(p: _Replay) -> None:
    rating = p.pop("rating")
    if rating is not None and rating.strip():
        p.context()["media_rating"]["content"] = rating


def _end_license(p: _Replay) -> None:
    """creativeCommons:license: a rel=license link (it moves links[-1], which a later <link> fills)."""
    value = p.pop("license")
    context = p.context()
    link = {"rel": "license", **({"href": value} if value else {})}
    context.setdefault("links", []).append(link)
    if "license" not in context:
        raise Unsupported("feedparser raises KeyError here")
    del context["license"]


def _end_email(p: _Replay) -> None:
    value = p.pop("email")
    if p.inauthor:
        p._save_author("email", value)


def _end_url(p: _Replay) -> None:
    value = p.pop("href")
    if p.inauthor:
        p._save_author("href", value)


def _start_published(p: _Replay, attrs: dict[str, str]) -> None:
    p.push("published", 1)


def _end_published(p: _Replay) -> None:
    p._save("published_parsed", _parse_date(p.pop("published")), overwrite=True)


def _start_updated(p: _Replay, attrs: dict[str, str]) -> None:
    p.push("updated", 1)


def _end_updated(p: _Replay) -> None:
    p._save("updated_parsed", _parse_date(p.pop("updated")), overwrite=True)


def _start_link(p: _Replay, attrs: dict[str, str]) -> None:
    attrs.setdefault("rel", "alternate")
    attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
    context = p.context()
    _enforce_href(attrs)
    if "href" in attrs:
        attrs["href"] = _urljoin(p.baseuri or "", attrs["href"])
    context.setdefault("links", [])
    if not (p.inentry and p.inimage):
        context["links"].append(dict(attrs))
    if "href" in attrs:
        if attrs.get("rel") == "alternate" and _map_type(attrs.get("type")) in _HTML_TYPES:
            context["link"] = attrs["href"]
    else:
        p.push("link", p.infeed or p.inentry)


def _start_guid(p: _Replay, attrs: dict[str, str]) -> None:
    p.guidislink = attrs.get("ispermalink", "true") == "true"
    p.push("id", 1)


def _end_guid(p: _Replay) -> None:
    value = p.pop("id")
    p._save("guidislink", p.guidislink and "link" not in p.context())
    if p.guidislink:
        p._save("link", value)


def _start_title(p: _Replay, attrs: dict[str, str]) -> None:
    p._push_content("title", attrs, "text/plain", p.infeed or p.inentry)


def _end_title(p: _Replay) -> None:
    if p._pop_content("title"):
        p.title_depth = p.depth


def _start_description(p: _Replay, attrs: dict[str, str]) -> None:
    if "summary" in p.context() and not p.has_content:
        p.summary_key = "content"
        _start_content(p, attrs)
    else:
        p._push_content("description", attrs, "text/html", p.infeed or p.inentry)


def _end_description(p: _Replay) -> None:
    if p.summary_key == "content":
        _end_content(p)
    else:
        p._pop_content("description")
    p.summary_key = None


def _start_summary(p: _Replay, attrs: dict[str, str]) -> None:
    if "summary" in p.context() and not p.has_content:
        p.summary_key = "content"
        _start_content(p, attrs)
    else:
        p.summary_key = "summary"
        p._push_content("summary", attrs, "text/plain", 1)


def _end_summary(p: _Replay) -> None:
    if p.summary_key == "content":
        _end_content(p)
    else:
        p._pop_content(p.summary_key or "summary")
    p.summary_key = None


def _start_content(p: _Replay, attrs: dict[str, str]) -> None:
    p.has_content = 1
    p._push_content("content", attrs, "text/plain", 1)
    p.push("content", 1)  # feedparser pushes twice; the stray entry stays on its stack


def _start_content_encoded(p: _Replay, attrs: dict[str, str]) -> None:
    p.has_content = 1
    p._push_content("content", attrs, "text/html", 1)


def _end_content(p: _Replay) -> None:
    if (kind := p.contentparams.get("type")) is None:
        raise Unsupported("feedparser raises AttributeError here and pops instead")
    copy_to_summary = _map_type(kind) in ({"text/plain"} | _HTML_TYPES)
    value = p._pop_content("content")
    if copy_to_summary:
        p._save("summary", value)


def _push(element: str, expecting_text: int) -> Any:
    return lambda p, attrs: p.push(element, expecting_text)


STARTS = {
    "rss": _start_rss, "feed": _start_feed, "channel": _start_channel, "image": _start_image,
    "item": _start_item, "entry": _start_item, "author": _start_author, "managingeditor": _start_author,
    "dc_creator": _start_author, "dc_author": _start_author, "name": _push("name", 0),
    "email": _push("email", 0), "url": _push("href", 1), "uri": _push("href", 1), "homepage": _push("href", 1),
    "published": _start_published, "pubdate": _start_published, "issued": _start_published,
    "dcterms_issued": _start_published, "updated": _start_updated, "modified": _start_updated,
    "lastbuilddate": _start_updated, "dc_date": _start_updated, "dcterms_modified": _start_updated,
    "link": _start_link, "guid": _start_guid, "id": _start_guid, "title": _start_title,
    "dc_title": _start_title, "description": _start_description, "dc_description": _start_description,
    "summary": _start_summary, "content": _start_content, "content_encoded": _start_content_encoded,
    "fullitem": _start_content_encoded, "textinput": _start_textinput, "media_thumbnail": _start_media_thumbnail,
    "media_title": _start_title, "media_description": _start_description, "media_rating": _start_media_rating,
    "webmaster": _push("publisher", 1), "dc_publisher": _push("publisher", 1), "itunes_summary": _start_summary,
    "creativecommons_license": _push("license", 1), "category": _start_category, "keywords": _start_category,
    "dc_subject": _start_category, "enclosure": _start_enclosure,
}
ENDS = {
    "channel": _end_channel, "feed": _end_channel, "image": _end_image, "item": _end_item, "entry": _end_item,
    "author": _end_author, "managingeditor": _end_author, "dc_creator": _end_author, "dc_author": _end_author,
    "name": _end_name, "email": _end_email, "url": _end_url, "uri": _end_url, "homepage": _end_url,
    "published": _end_published, "pubdate": _end_published, "issued": _end_published,
    "dcterms_issued": _end_published, "updated": _end_updated, "modified": _end_updated,
    "lastbuilddate": _end_updated, "dc_date": _end_updated, "dcterms_modified": _end_updated,
    "link": lambda p: p.pop("link"), "guid": _end_guid, "id": _end_guid, "title": _end_title,
    "dc_title": _end_title, "description": _end_description, "dc_description": _end_description,
    "summary": _end_summary, "content": _end_content, "content_encoded": _end_content, "fullitem": _end_content,
    "textinput": _end_textinput, "media_thumbnail": _end_media_thumbnail, "media_title": _end_media_title,
    "media_description": _end_description, "media_rating": _end_media_rating,
    "webmaster": lambda p: p.pop("publisher"), "dc_publisher": lambda p: p.pop("publisher"),
    "itunes_summary": _end_summary, "creativecommons_license": _end_license, "category": _end_category,
    "keywords": _end_category, "dc_subject": _end_category,
}
