"""`listener init`: a commented starter feeds.yaml."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

from listener.errors import ListenerError, UsageError

STARTER = """\
# listener watchlist. Every key is explained in the README; relative paths are relative to this file.
database: listener.db
reports_dir: reports
timezone: Europe/London          # "today", report dates and the digest time are in this zone

watch:                           # what counts as a mention ("hit")
  - name: mycompany
    terms: [mycompany, "mycompany cloud", "@mycompanyhelp"]   # case-insensitive whole words; "a b" is a phrase
    exclude: ["mycompany of ohio"]                            # an item matching any exclude is not a hit

staff:                           # our own people: their replies answer a thread
  authors: ["Your Name", "MyCompany Support"]

feeds:
  - name: Company blog
    url: https://blog.example.com/feed/
    comments: true               # also follow each post's comment feed
    every: 15m                   # poll interval (default: schedule.poll)
  # - name: Brand search
  #   url: https://search.example.com/rss?q=mycompany
  #   match: all                 # every item is a hit unless it matches an exclude

schedule:
  poll: 15m
  digest: "07:30"                # local time in `timezone`

thresholds:
  negative: -0.05                # compound <= this is negative
  positive: 0.05                 # compound >= this is positive

digest:
  from: listener@example.com
  to: [community@example.com]
  smtp: {host: localhost, port: 25, starttls: false, username: null, password_env: LISTENER_SMTP_PASSWORD}
"""


def brand_starter(brand: str) -> str:
    """A starter feeds.yaml that watches BRAND on public feeds needing no API key (README: Feed recipes)."""
    name = " ".join(brand.split())
    if not name or len(name) > 100 or re.search(r"[\x00-\x1f\x7f]", name):
        raise UsageError(f"--brand: expected a name of 1 to 100 characters, got {brand!r}")
    joined = re.sub(r"\s+", "", name)
    terms = [name] + ([joined] if joined.lower() != name.lower() else [])
    query = quote(f'"{name}"')
    tag = re.sub(r"[^0-9A-Za-z_]", "", name)
    tag_feed = (f"  - name: {json.dumps('Mastodon #' + tag)}\n"
                f"    url: https://mastodon.social/tags/{tag.lower()}.rss\n    every: 30m\n"
                if tag else f"  # - name: Mastodon tag (no hashtag can be made from {json.dumps(name)})\n")
    return f"""\
# listener watchlist for {name}, written by `listener init --brand`. Every feed below is public and
# needs no API key; see the README's "Feed recipes" for more. Relative paths are relative to this file.
database: listener.db
reports_dir: reports
timezone: Europe/London          # "today", report dates and the digest time are in this zone

watch:
  - name: {json.dumps(name)}
    terms: {json.dumps(terms, ensure_ascii=False)}   # case-insensitive whole words
    exclude: []                  # e.g. another company with the same name

staff:                           # your own people: their replies answer a thread
  authors: ["Your Name", {json.dumps(name + " Support")}]

feeds:
  - name: Reddit search
    url: https://www.reddit.com/search.rss?q={query}&sort=new
    every: 30m
  - name: Hacker News stories
    url: https://hnrss.org/newest?q={query}
    every: 30m
  - name: Hacker News comments
    url: https://hnrss.org/newcomments?q={query}
    every: 30m
{tag_feed}  # Google Alerts: create an alert for {json.dumps(name)} at https://www.google.com/alerts, choose
  # "Deliver to: RSS feed", and paste the feed's address here:
  # - name: Google Alerts
  #   url: https://www.google.com/alerts/feeds/USER_ID/ALERT_ID
  # Your community forum, if it runs Discourse:
  # - name: Forum
  #   url: https://forum.example.com/latest.rss
  # Your blog, with each post's comments (WordPress: /feed/ and /comments/feed/):
  # - name: Blog
  #   url: https://blog.example.com/feed/
  #   comments: true
  # Your YouTube channel (the id starts with UC; it is in the channel page's source as "channelId"):
  # - name: YouTube
  #   url: https://www.youtube.com/feeds/videos.xml?channel_id=UCxxxxxxxxxxxxxxxxxxxxxx

schedule:
  poll: 30m                      # be gentle with public search feeds
  digest: "07:30"                # local time in `timezone`

digest:
  from: listener@example.com
  to: [community@example.com]
  smtp: {{host: localhost, port: 25, starttls: false, username: null, password_env: LISTENER_SMTP_PASSWORD}}
"""


def write_starter(directory: Path, brand: str | None = None) -> Path:
    """Create DIRECTORY/feeds.yaml (for BRAND when given); refuse to overwrite an existing file."""
    text = STARTER if brand is None else brand_starter(brand)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "feeds.yaml"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise ListenerError(f"{path} already exists; not overwriting it") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
