"""Small builders for RSS and Atom documents used as test input, with XML escaping done right."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email.utils import format_datetime
from xml.sax.saxutils import escape


@dataclass
class Entry:
    title: str
    body: str = ""
    link: str | None = None
    guid: str | None = None
    author: str | None = None
    published: dt.datetime | None = None
    comments_feed: str | None = None
    comment_count: int | None = None
    in_reply_to: tuple[str, str] | None = None  # (ref, href) for Atom
    extra: str = ""


def rss(entries: list[Entry], *, title: str = "Test feed", link: str = "https://blog.example/") -> str:
    items = []
    for e in entries:
        parts = [f"<title>{escape(e.title)}</title>"]
        if e.link:
            parts.append(f"<link>{escape(e.link)}</link>")
        if e.guid:
            parts.append(f'<guid isPermaLink="false">{escape(e.guid)}</guid>')
        if e.author:
            parts.append(f"<dc:creator>{escape(e.author)}</dc:creator>")
        if e.published:
            parts.append(f"<pubDate>{format_datetime(e.published.astimezone(dt.timezone.utc), usegmt=True)}</pubDate>")
        if e.body:
            parts.append(f"<description>{escape(e.body)}</description>")
        if e.comments_feed:
            parts.append(f"<wfw:commentRss>{escape(e.comments_feed)}</wfw:commentRss>")
        if e.comment_count is not None:
            parts.append(f"<slash:comments>{e.comment_count}</slash:comments>")
        parts.append(e.extra)
        items.append("<item>" + "".join(parts) + "</item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
        f"<channel><title>{escape(title)}</title><link>{escape(link)}</link>"
        + "\n".join(items) + "</channel></rss>\n"
    )


def atom(entries: list[Entry], *, title: str = "Test forum", feed_id: str = "urn:test:forum") -> str:
    out = []
    for e in entries:
        parts = [f"<title>{escape(e.title)}</title>", f"<id>{escape(e.guid or e.link or e.title)}</id>"]
        if e.link:
            parts.append(f'<link rel="alternate" href="{escape(e.link, {chr(34): "&quot;"})}"/>')
        if e.author:
            parts.append(f"<author><name>{escape(e.author)}</name></author>")
        stamp = (e.published or dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts.append(f"<updated>{stamp}</updated><published>{stamp}</published>")
        if e.body:
            parts.append(f'<content type="html">{escape(e.body)}</content>')
        if e.in_reply_to:
            ref, href = e.in_reply_to
            parts.append(f'<thr:in-reply-to ref="{escape(ref)}" href="{escape(href)}"/>')
        parts.append(e.extra)
        out.append("<entry>" + "".join(parts) + "</entry>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:thr="http://purl.org/syndication/thread/1.0">'
        f"<title>{escape(title)}</title><id>{escape(feed_id)}</id><updated>2026-11-24T00:00:00Z</updated>"
        + "\n".join(out) + "</feed>\n"
    )


@dataclass
class Watchlist:
    """A feeds.yaml written into a test's tmp_path."""

    feeds: list[dict] = field(default_factory=list)
    terms: list[str] = field(default_factory=lambda: ["quillfeather", "@quillhelp"])
    staff: list[str] = field(default_factory=lambda: ["Priya Okafor"])
    extra: str = ""

    def text(self) -> str:
        lines = [
            "database: listener.db",
            "timezone: Europe/London",
            "watch:",
            f"  - name: quillfeather\n    terms: {self.terms!r}".replace("'", '"'),
            f"staff:\n  authors: {self.staff!r}".replace("'", '"'),
            "fetch: {timeout: 2, connect_timeout: 1}",
            "schedule: {poll: 15m, min_interval: 1s}",
            # Data in subprocess tests is relative to the wall clock; business hours would make the SLA
            # (and so the rank) depend on the time of day a test runs. Tests of business hours set their own.
            *([] if "triage:" in self.extra else ["triage: {business_hours: off}"]),
            "feeds:",
        ]
        for feed in self.feeds:
            first = True
            for key, value in feed.items():
                rendered = value if isinstance(value, bool) else f'"{value}"'
                if isinstance(value, bool):
                    rendered = "true" if value else "false"
                lines.append(f"  {'- ' if first else '  '}{key}: {rendered}")
                first = False
        return "\n".join(lines) + "\n" + self.extra

    def write(self, directory) -> str:
        path = directory / "feeds.yaml"
        path.write_text(self.text(), encoding="utf-8")
        return str(path)
