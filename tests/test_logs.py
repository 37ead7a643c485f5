"""Log lines under journald carry a syslog priority and no timestamp of their own (journald adds one);
anywhere else they keep theirs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


def feeds_with_stderr(tmp_path, *, journal: str | None) -> str:
    """Run `listener feeds` on an empty feeds.yaml (it logs one warning) with stderr on a pipe we own."""
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n")
    read_end, write_end = os.pipe()
    stat = os.fstat(write_end)
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    if journal == "this stderr":
        env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
    elif journal:
        env["JOURNAL_STREAM"] = journal
    try:
        subprocess.run([sys.executable, "-m", "listener", "--config", str(config), "feeds"], stdout=subprocess.DEVNULL,
                       stderr=write_end, timeout=60, env=env, check=True)
    finally:
        os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8") as stream:
        return stream.read()


def test_under_journald_a_line_has_its_priority_and_no_timestamp(tmp_path):
    line = feeds_with_stderr(tmp_path, journal="this stderr").splitlines()[0]
    assert re.fullmatch(r"<4>listener\.config: .*lists no feeds and no watch terms.*", line), line


@pytest.mark.parametrize("journal", [None, "1:2", "garbage"])  # not set; set, but stderr was redirected
def test_elsewhere_a_line_keeps_its_timestamp(tmp_path, journal):
    line = feeds_with_stderr(tmp_path, journal=journal).splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ WARNING listener\.config: ", line), line
