"""A farm of WordPress-like feeds on disk: N blogs of 20 posts, each post with its comment feed.

The text is made of sentence pools with a known tone, so the farm has mixed sentiment, and some
posts and comments mention Brightmoss, the made-up company the bench watches. The same seed
gives the same farm; `change_feeds` publishes a new post on a share of the blogs (the "10 %
changed" poll).
"""

from __future__ import annotations

import datetime as dt
import os
import random
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

COMPANY = "Brightmoss"
WATCH_TERMS = ("brightmoss", "brightmoss cloud", "@brightmosshelp")
STAFF = ("Ada Brightmoss Team", "Brightmoss Support")
ITEMS_PER_FEED = 20
COMMENTED_SHARE = 0.3  # posts that have comments, hence a comment feed file

POSITIVE = (
    "I love how fast the new editor feels, it is a real joy to use.",
    "Great work by the team, this update is fantastic.",
    "The support people were kind, helpful and quick to answer.",
    "Honestly the best release so far, everything just works.",
    "Brilliant idea, and the docs are clear and friendly.",
    "Thanks for listening to the community, much appreciated!",
)
NEGATIVE = (
    "This is awful, the sync broke again and I lost an afternoon of work.",
    "Terrible experience, the app crashes every time I open a big file.",
    "I am angry and disappointed: nobody answered my ticket in a week.",
    "The price increase is a disgrace and I feel cheated.",
    "Worst update ever, slow, buggy and ugly.",
    "Sadly the export is still broken and the errors make no sense.",
)
NEUTRAL = (
    "The release notes list the changes in the settings page.",
    "We migrated the archive to a new server last weekend.",
    "The meeting covered the roadmap for the next quarter.",
    "Version 4.2 ships on Tuesday for desktop and mobile.",
    "The recipe needs two cups of flour and an hour in the oven.",
    "Our garden club meets on the first Saturday of the month.",
    "The train timetable changes with the winter schedule.",
    "Photos from the conference are in the gallery below.",
)
MENTIONS = (
    f"We moved our notes to {COMPANY} Cloud this month.",
    f"Has anyone else tried {COMPANY} for team wikis?",
    "I asked @brightmosshelp about the outage this morning.",
    f"{COMPANY} pushed an update to the mobile app.",
)
TOPICS = ("Weekly notes", "Release day", "Garden diary", "Travel log", "Kitchen experiments",
          "Team update", "Reading list", "Tooling review", "Open source corner", "Photo walk")
AUTHORS = ("Mira Okonkwo", "Tom Vasquez", "Lena Fischer", "Ravi Menon", "Sofia Laine", "Kwame Boateng",
           "Hana Sato", "Pablo Ortega", "Ingrid Holm", "Yusuf Demir")


@dataclass(frozen=True)
class Farm:
    """Where the farm lives and what is in it. Paths are relative to `root` and to the server's /."""

    root: Path
    start: dt.datetime  # when post 100, the newest at build time, was published
    feeds: tuple[str, ...]
    comment_feeds: int
    items: int
    bytes: int


def _paragraphs(rng: random.Random, mention: bool, tone: float) -> list[str]:
    """3 to 6 paragraphs of 2 to 4 sentences; `tone` -1..1 biases the sentence pools."""
    paragraphs = []
    for _ in range(rng.randint(3, 6)):
        sentences = []
        for _ in range(rng.randint(2, 4)):
            roll = rng.random()
            if roll < 0.5:
                sentences.append(rng.choice(NEUTRAL))
            elif roll < 0.5 + 0.25 * (1 + tone):
                sentences.append(rng.choice(POSITIVE))
            else:
                sentences.append(rng.choice(NEGATIVE))
        paragraphs.append(" ".join(sentences))
    if mention:
        paragraphs.insert(rng.randrange(len(paragraphs)), rng.choice(MENTIONS))
    return paragraphs


def _rfc822(moment: dt.datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _comment_feed(rng: random.Random, host: str, post_url: str, title: str, count: int,
                  posted: dt.datetime) -> str:
    items = []
    for number in range(count):
        author = rng.choice(STAFF) if rng.random() < 0.1 else rng.choice(AUTHORS)
        when = posted + dt.timedelta(minutes=37 * (number + 1))
        text = " ".join(_paragraphs(rng, rng.random() < 0.3, rng.uniform(-1, 1))[:2])
        link = f"{post_url}#comment-{number + 1}"
        items.append(
            f"<item><title>By: {escape(author)}</title><link>{link}</link>"
            f"<dc:creator><![CDATA[{author}]]></dc:creator><pubDate>{_rfc822(when)}</pubDate>"
            f'<guid isPermaLink="false">{link}</guid>'
            f"<description><![CDATA[{text}]]></description>"
            f"<content:encoded><![CDATA[<p>{text}</p>]]></content:encoded></item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Comments on: {escape(title)}</title><link>{post_url}</link>"
        f"<description>Comments</description>{''.join(items)}</channel></rss>\n")


def _post(rng: random.Random, host: str, blog: int, number: int, posted: dt.datetime,
          comment_dir: Path | None) -> tuple[str, int]:
    """One <item>, and how many comment feed files it wrote (0 or 1)."""
    mention = rng.random() < 0.15
    tone = rng.uniform(-1, 1)
    title = f"{rng.choice(TOPICS)} #{number}" + (f": thoughts on {COMPANY}" if mention and rng.random() < 0.5 else "")
    slug = f"{posted:%Y/%m}/post-{number}"
    url = f"https://{host}/{slug}/"
    author = rng.choice(AUTHORS)
    paragraphs = _paragraphs(rng, mention, tone)
    html = "".join(f"<p>{p}</p>" for p in paragraphs)
    comments = rng.randint(2, 12) if rng.random() < COMMENTED_SHARE else 0
    written = 0
    comment_tags = f"<comments>{url}#comments</comments><slash:comments>{comments}</slash:comments>"
    if comments and comment_dir is not None:
        name = f"comments-{blog}-{number}.xml"
        (comment_dir / name).write_text(_comment_feed(rng, host, url, title, comments, posted))
        comment_tags += f"<wfw:commentRss>/c/{name}</wfw:commentRss>"
        written = 1
    item = (
        f"<item><title>{escape(title)}</title><link>{url}</link>"
        f"<dc:creator><![CDATA[{author}]]></dc:creator><pubDate>{_rfc822(posted)}</pubDate>"
        f"<category><![CDATA[{rng.choice(TOPICS)}]]></category>"
        f'<guid isPermaLink="false">https://{host}/?p={number}</guid>'
        f"<description><![CDATA[{paragraphs[0][:300]} [&#8230;]]]></description>"
        f"<content:encoded><![CDATA[{html}]]></content:encoded>{comment_tags}</item>")
    return item, written


def _blog(title: str, host: str, items: list[str], built: dt.datetime) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:wfw="http://wellformedweb.org/CommentAPI/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel>'
        f"<title>{escape(title)}</title><link>https://{host}/</link>"
        f"<description>Just another WordPress site</description>"
        f"<lastBuildDate>{_rfc822(built)}</lastBuildDate>"
        "<generator>https://wordpress.org/?v=6.7.1</generator>\n"
        + "\n".join(items) + "\n</channel></rss>\n")


def _write_blog(root: Path, blog: int, newest: int, start: dt.datetime, seed: int) -> tuple[int, int]:
    """Write blog `blog` with posts newest..newest-19; returns (bytes, comment feeds written).

    A post's text and date depend only on its number, so a re-written blog changes only in its new post.
    """
    rng = random.Random(seed * 1_000_003 + blog)
    host = f"blog{blog}.example"
    items, comment_files = [], 0
    for offset in range(ITEMS_PER_FEED):
        number = newest - offset
        posted = start + dt.timedelta(hours=6 * (number - 100) - blog % 6)
        item, written = _post(random.Random(f"{seed}-{blog}-{number}"), host, blog, number, posted,
                              root / "c")
        items.append(item)
        comment_files += written
    built = start + dt.timedelta(hours=6 * (newest - 100))
    text = _blog(f"{rng.choice(TOPICS)} by {rng.choice(AUTHORS)}", host, items, built)
    path = root / "f" / f"blog{blog}.xml"
    partial = path.with_suffix(".partial")
    partial.write_text(text)
    os.replace(partial, path)  # the server never serves a half-written file
    return len(text), comment_files


def build_farm(root: Path, feeds: int, *, seed: int = 15, now: dt.datetime | None = None) -> Farm:
    """Write `feeds` blogs under root/f and their comment feeds under root/c."""
    now = (now or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0)
    start = now - dt.timedelta(days=2)  # room for a few published revisions before "now"
    (root / "f").mkdir(parents=True, exist_ok=True)
    (root / "c").mkdir(exist_ok=True)
    total = comment_files = 0
    for blog in range(feeds):
        size, written = _write_blog(root, blog, 100, start, seed)
        total += size
        comment_files += written
    _world_readable(root)
    return Farm(root, start, tuple(f"/f/blog{blog}.xml" for blog in range(feeds)), comment_files,
                feeds * ITEMS_PER_FEED, total)


def change_feeds(farm: Farm, share: float, revision: int, *, seed: int = 15) -> int:
    """Publish one new post on every 1/share-th blog (the oldest drops off); returns blogs changed."""
    step = max(1, round(1 / share))
    changed = 0
    for blog in range(0, len(farm.feeds), step):
        _write_blog(farm.root, blog, 100 + revision, farm.start, seed)
        changed += 1
    _world_readable(farm.root)
    return changed


def _world_readable(root: Path) -> None:
    """nginx workers run as an unprivileged user: they must be able to read the farm."""
    for directory in (root, root / "f", root / "c"):
        directory.chmod(0o755)
