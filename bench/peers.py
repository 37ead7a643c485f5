"""The commands measured side by side: rss2email 3.14, the straightforward pipeline, and listener.

rss2email lives in its own venv under the bench's work dir (installed from PyPI once). It runs
as `r2e run --no-send`: it fetches (conditionally, with its stored ETag), parses and builds every
entry's email, and sends nothing; its sendmail is a stub that would only write to a file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.farm import STAFF, WATCH_TERMS

RSS2EMAIL = "rss2email==3.14"
REPO = Path(__file__).resolve().parents[1]


def ensure_rss2email(work: Path) -> Path:
    """The r2e executable of a venv under `work`, created and installed the first time."""
    venv = work / "rss2email-venv"
    r2e = venv / "bin" / "r2e"
    stamp = venv / ".installed-3.14"
    if stamp.exists() and r2e.exists():
        return r2e
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", RSS2EMAIL],
                   check=True)
    stamp.touch()
    return r2e


def r2e_setup(directory: Path, urls: Sequence[str]) -> tuple[Path, Path]:
    """A config with one section per feed and mail going nowhere; returns (config, data file)."""
    directory.mkdir(parents=True, exist_ok=True)
    stub = directory / "sendmail-stub"
    stub.write_text(f"#!/bin/sh\ncat >> {directory / 'sent.mbox'}\n")
    stub.chmod(0o755)
    lines = ["[DEFAULT]", "from = bench@localhost", "to = bench@localhost", "email-protocol = sendmail",
             f"sendmail = {stub}", "same-server-fetch-interval = 0", ""]
    for index, url in enumerate(urls):
        lines += [f"[feed.blog{index}]", f"url = {url}", ""]
    config = directory / "rss2email.cfg"
    config.write_text("\n".join(lines))
    return config, directory / "rss2email.json"


def r2e_command(r2e: Path, config: Path, data: Path) -> list[str]:
    return [str(r2e), "-c", str(config), "-d", str(data), "run", "--no-send"]


def straight_command(urls_file: Path, database: Path) -> list[str]:
    return [sys.executable, "-m", "bench.straight", str(urls_file), str(database)]


def listener_config(directory: Path, urls: Sequence[str], *, comments: bool = False,
                    database: Path | None = None, scorer: str | None = None) -> Path:
    """A feeds.yaml watching the farm's company; `comments` also follows each post's comment feed;
    `scorer` sets `sentiment.scorer` (default: listener's default, `service`)."""
    directory.mkdir(parents=True, exist_ok=True)
    terms = ", ".join(f'"{term}"' for term in WATCH_TERMS)
    staff = ", ".join(f'"{name}"' for name in STAFF)
    lines = [f"database: {database or 'listener.db'}", "reports_dir: reports", "timezone: UTC",
             "watch:", "  - name: brightmoss", f"    terms: [{terms}]",
             "staff:", f"  authors: [{staff}]",
             "digest:", "  from: listener@bench.example", "  to: [team@bench.example]",
             *([f"sentiment: {{scorer: {scorer}}}"] if scorer else []),
             "feeds:"]
    for index, url in enumerate(urls):
        lines += [f"  - name: blog{index}", f"    url: {url}"] + (["    comments: true"] if comments else [])
    path = directory / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def listener_command(config: Path, *args: str) -> list[str]:
    """The real CLI, as a user runs it (the console script of the venv the bench runs in)."""
    script = Path(sys.executable).with_name("listener")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "listener"]
    return [*head, "--config", str(config), *args]
