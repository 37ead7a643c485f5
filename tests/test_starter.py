"""`listener init --brand NAME`: a starter watchlist of public, key-free feeds for a name, valid as written."""

from __future__ import annotations

import subprocess
import sys

import pytest

from listener.config import load_config


def init(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "listener", "init", *args], capture_output=True, text=True, timeout=60)


def test_init_brand_writes_a_valid_watchlist_of_public_feeds(tmp_path):
    done = init("--brand", "Quill Feather", str(tmp_path / "w"))
    assert done.returncode == 0, done.stderr
    config = load_config(tmp_path / "w" / "feeds.yaml")
    assert [w.name for w in config.watch] == ["Quill Feather"]
    assert config.watch[0].terms == ("Quill Feather", "QuillFeather")
    urls = {feed.name: feed.url for feed in config.feeds}
    assert urls == {
        "Reddit search": "https://www.reddit.com/search.rss?q=%22Quill%20Feather%22&sort=new",
        "Hacker News stories": "https://hnrss.org/newest?q=%22Quill%20Feather%22",
        "Hacker News comments": "https://hnrss.org/newcomments?q=%22Quill%20Feather%22",
        "Mastodon #QuillFeather": "https://mastodon.social/tags/quillfeather.rss",
    }
    text = (tmp_path / "w" / "feeds.yaml").read_text()
    for recipe in ("google.com/alerts", "latest.rss", "/comments/feed/", "youtube.com/feeds/videos.xml"):
        assert recipe in text  # the recipes that need your own address, commented with how to get it


@pytest.mark.parametrize("brand", ['Acme: "Co" #1', "Crème brûlée", "O'Reilly & Sons", "-- {not: yaml} --"])
def test_any_brand_name_gives_a_file_that_loads(tmp_path, brand):
    assert init("--brand", brand, str(tmp_path)).returncode == 0
    config = load_config(tmp_path / "feeds.yaml")
    assert config.watch[0].name == brand
    assert all(feed.url.startswith("https://") for feed in config.feeds)


def test_a_blank_brand_is_a_usage_error(tmp_path):
    done = init("--brand", "  ", str(tmp_path))
    assert done.returncode == 2 and "--brand" in done.stderr
    assert not (tmp_path / "feeds.yaml").exists()
