"""`listener init`: a commented starter feeds.yaml."""

from __future__ import annotations

import os
from pathlib import Path

from listener.errors import ListenerError

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


def write_starter(directory: Path) -> Path:
    """Create DIRECTORY/feeds.yaml; refuse to overwrite an existing file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "feeds.yaml"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise ListenerError(f"{path} already exists; not overwriting it") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(STARTER)
    return path
