"""Which thread an item belongs to: grouping posts, comments and replies while a feed is stored.

Pure (no database, no I/O): `canonical_url`, `thread_id_for` and `assign_threads` decide an
item's thread; `ThreadIndex` is how the caller lets them look up what is already stored.
Which threads need a reply is triage.py's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from listener.models import Item
from listener.text import canonical_url, reply_subject, subject_key

# --- canonical URLs and thread ids ------------------------------------------------------------

def thread_id_for(root: str) -> str:
    """A short stable id for a thread root (a canonical URL or a feed-scoped key).

    http and https spell the same page, so they give the same id.
    """
    if root.startswith("http://"):
        root = "https://" + root[len("http://"):]
    return "t" + hashlib.sha1(root.encode("utf-8")).hexdigest()[:10]


# --- grouping ---------------------------------------------------------------------------------




def is_reply(item: Item) -> bool:
    """Whether an item is (most likely) a comment or reply rather than a post: worth scoring even when it
    does not mention a watch term, since it can make a thread about us need a reply."""
    return bool(item.in_reply_to or item.in_reply_to_url or (item.url and "#" in item.url)
                or reply_subject(item.title))


class ThreadIndex:
    """What is already stored, for items whose parent is not in the batch. The default knows nothing.

    The poll cycle passes a database-backed subclass; every method returns a thread id or None.
    """

    def by_key(self, key: str) -> str | None:
        """The thread of a stored item whose key (guid) is `key`: Atom thr:in-reply-to ref."""
        return None

    def by_url(self, url: str) -> str | None:
        """The thread of a stored item whose link is `url`: Atom thr:in-reply-to href."""
        return None

    def by_subject(self, subject: str) -> str | None:
        """The thread of a stored item of this feed whose subject (see `subject_key`) is `subject`."""
        return None

    def exists(self, thread_id: str) -> bool:
        """Whether a thread with this id is stored."""
        return False


@dataclass(frozen=True)
class ThreadRef:
    """Where one item sits: its thread, the thread's root, and whether the item is that root."""

    thread_id: str
    root: str
    is_root: bool


MAX_CHAIN = 50  # longest chain of replies followed to its root


def subject_root(scope: str, subject: str) -> str:
    """The root of a thread known only by its subject (a mailing list whose first message is gone)."""
    return f"{scope}:subject:{subject}"


def assign_threads(items: Sequence[Item], *, scope: str, comment_thread: ThreadRef | None = None,
                   index: ThreadIndex | None = None) -> dict[str, ThreadRef]:
    """Map each item's key to its thread.

    In order, the first rule that applies wins:

    1. the items of a post's own comment feed join that post (`comment_thread`);
    2. Atom thr:in-reply-to: the parent's thread, following chains of replies to the root through
       this batch (by the parent's id, then its link), then what is stored (`index.by_key`,
       `index.by_url`), then the page the parent's link points at;
    3. a link into a page (`post/#comment-3`, Disqus and WordPress site-wide comment feeds) joins
       that page's thread;
    4. a "Re: subject" title (mailing lists, gmane, forums without threading markup) joins the
       item of this feed with that subject (in the batch, then `index.by_subject`), else the
       thread of that subject in this feed;
    5. anything else is the root of its own thread: its canonical link, or `scope` plus its key
       when it has no link (`scope` keeps keys of different feeds apart). A root whose subject
       already has a subject thread (its replies came first) joins it.
    """
    if comment_thread is not None:
        return {item.key: ThreadRef(comment_thread.thread_id, comment_thread.root, False) for item in items}
    return _Grouper(items, scope, index or ThreadIndex()).run()


class _Grouper:
    def __init__(self, items: Sequence[Item], scope: str, index: ThreadIndex) -> None:
        self.items = items
        self.scope = scope
        self.index = index
        self.by_key = {item.key: item for item in items}
        self.by_url: dict[str, Item] = {}
        self.by_subject: dict[str, Item] = {}
        for item in items:
            if item.url:
                self.by_url.setdefault(canonical_url(item.url), item)
            # Only an item of its own (not a "Re:", not a #fragment into a page) can be what a "Re:" answers.
            if item.title and not reply_subject(item.title) and not (item.url and "#" in item.url):
                self.by_subject.setdefault(subject_key(item.title), item)
        self.refs: dict[str, ThreadRef] = {}
        self.resolving: set[str] = set()
        self.subject_threads: set[str] = set()

    def run(self) -> dict[str, ThreadRef]:
        for item in self.items:
            self.resolve(item, 0)
        return self.refs

    def resolve(self, item: Item, depth: int) -> ThreadRef:
        if item.key in self.refs:
            return self.refs[item.key]
        self.resolving.add(item.key)
        try:
            ref = self._reply_ref(item, depth) or self._page_ref(item) or self._subject_ref(item) \
                or self._own_ref(item)
        finally:
            self.resolving.discard(item.key)
        self.refs[item.key] = ref
        return ref

    def _joined(self, thread_id: str, root: str | None = None) -> ThreadRef:
        return ThreadRef(thread_id, root or thread_id, False)

    def _reply_ref(self, item: Item, depth: int) -> ThreadRef | None:
        if not (item.in_reply_to or item.in_reply_to_url) or depth >= MAX_CHAIN:
            return None
        parent = self.by_key.get(item.in_reply_to) if item.in_reply_to else None
        if parent is None and item.in_reply_to_url:
            parent = self.by_url.get(canonical_url(item.in_reply_to_url))
        if parent is not None and parent.key != item.key and parent.key not in self.resolving:
            return self._joined(self.resolve(parent, depth + 1).thread_id, self.refs[parent.key].root)
        known = (self.index.by_key(item.in_reply_to) if item.in_reply_to else None) or (
            self.index.by_url(item.in_reply_to_url) if item.in_reply_to_url else None)
        if known is not None:
            return self._joined(known)
        if item.in_reply_to_url:
            root = canonical_url(item.in_reply_to_url)
            return ThreadRef(thread_id_for(root), root, False)
        return None

    def _page_ref(self, item: Item) -> ThreadRef | None:
        if not item.url or "#" not in item.url:
            return None
        root = canonical_url(item.url)
        return ThreadRef(thread_id_for(root), root, False)

    def _subject_ref(self, item: Item) -> ThreadRef | None:
        subject = reply_subject(item.title)
        if subject is None:
            return None
        original = self.by_subject.get(subject)
        if original is not None and original.key != item.key and original.key not in self.resolving:
            return self._joined(self.resolve(original, 0).thread_id, self.refs[original.key].root)
        known = self.index.by_subject(subject)
        if known is not None:
            return self._joined(known)
        root = subject_root(self.scope, subject)
        self.subject_threads.add(thread_id_for(root))
        return ThreadRef(thread_id_for(root), root, False)

    def _own_ref(self, item: Item) -> ThreadRef:
        if item.title and subject_key(item.title):
            # Replies that arrived before their original made a subject thread: the original joins it.
            root = subject_root(self.scope, subject_key(item.title))
            if thread_id_for(root) in self.subject_threads or self.index.exists(thread_id_for(root)):
                return ThreadRef(thread_id_for(root), root, True)
        if item.url:
            root = canonical_url(item.url)
            return ThreadRef(thread_id_for(root), root, True)
        root = f"{self.scope}:{item.key}"
        return ThreadRef(thread_id_for(root), root, True)
