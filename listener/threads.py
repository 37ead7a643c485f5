"""Which thread an item belongs to, and who answered it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from listener.models import Item

_TRACKING_PARAMS = {"fbclid", "gclid", "mc_cid", "mc_eid", "ref", "replytocom"}


def canonical_url(url: str) -> str:
    """One spelling per page: scheme and host lower-cased, fragment and tracking parameters dropped."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k.lower() not in _TRACKING_PARAMS]
    host = (parts.hostname or "").lower()
    if parts.port and not (parts.scheme == "http" and parts.port == 80 or parts.scheme == "https" and parts.port == 443):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), host, path, urlencode(query), ""))


def thread_id_for(root: str) -> str:
    """A short stable id for a thread root (a canonical URL or a feed-scoped key)."""
    return "t" + hashlib.sha1(root.encode("utf-8")).hexdigest()[:10]


def is_staff(author: str | None, staff_authors: frozenset[str]) -> bool:
    return bool(author) and author.strip().casefold() in staff_authors


def staff_set(authors: tuple[str, ...]) -> frozenset[str]:
    return frozenset(a.strip().casefold() for a in authors)


@dataclass(frozen=True)
class ThreadRef:
    """Where one item sits: its thread, the thread's root, and whether the item is that root."""

    thread_id: str
    root: str
    is_root: bool


def assign_threads(items: Sequence[Item], *, scope: str, comment_thread: ThreadRef | None = None,
                   lookup: Callable[[str], str | None] = lambda key: None) -> dict[str, ThreadRef]:
    """Map each item's key to its thread.

    A comment feed's items join the post it belongs to (`comment_thread`). Otherwise an item with
    Atom thr:in-reply-to joins its parent's thread, following chains through this batch, then the
    database (`lookup(parent_key) -> thread_id`), then the parent's link; a link with a fragment
    (`post#comment-3`) joins the page it points into; anything else is the root of its own thread.
    `scope` keeps keys of different feeds apart when an item has no link.
    """
    if comment_thread is not None:
        return {item.key: ThreadRef(comment_thread.thread_id, comment_thread.root, False) for item in items}
    by_key = {item.key: item for item in items}
    refs: dict[str, ThreadRef] = {}

    def resolve(item: Item, depth: int = 0) -> ThreadRef:
        if item.key in refs:
            return refs[item.key]
        ref = _own_thread(item, scope)
        if item.in_reply_to and depth < 50:
            parent = by_key.get(item.in_reply_to)
            if parent is not None and parent.key != item.key:
                parent_ref = resolve(parent, depth + 1)
                ref = ThreadRef(parent_ref.thread_id, parent_ref.root, False)
            elif (known := lookup(item.in_reply_to)) is not None:
                ref = ThreadRef(known, known, False)
            elif item.in_reply_to_url:
                root = canonical_url(item.in_reply_to_url)
                ref = ThreadRef(thread_id_for(root), root, False)
        refs[item.key] = ref
        return ref

    for item in items:
        resolve(item)
    return refs


def _own_thread(item: Item, scope: str) -> ThreadRef:
    if item.url:
        root = canonical_url(item.url)
        return ThreadRef(thread_id_for(root), root, "#" not in item.url)
    root = f"{scope}:{item.key}"
    return ThreadRef(thread_id_for(root), root, True)
