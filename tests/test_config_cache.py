"""The config cache (config/cache.py): the YAML data of the exact bytes last parsed, never stale, never needed."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from listener.config import cache, load_config
from listener.errors import ConfigError

CONFIG = "watch:\n  - name: {name}\n    terms: [{name}]\nfeeds:\n  - name: Blog\n    url: https://blog.example/feed\n"


def entries() -> list[str]:
    folder = cache.cache_folder()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_second_read_of_the_same_bytes_needs_no_yaml(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(CONFIG.format(name="acme"), encoding="utf-8")
    assert load_config(path).watch[0].name == "acme"
    assert len(entries()) == 1
    code = ("import sys; from listener.config import load_config;"
            f" c = load_config({str(path)!r}); print(c.watch[0].name, 'yaml' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    assert shown.stdout.split() == ["acme", "False"], shown.stderr


def test_an_edit_is_seen_however_soon_it_follows(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text(CONFIG.format(name="acme"), encoding="utf-8")
    load_config(path)
    stat = path.stat()
    path.write_text(CONFIG.format(name="brim"), encoding="utf-8")  # same size...
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and the same modification time
    assert load_config(path).watch[0].name == "brim"


def test_a_cached_file_is_still_validated(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("timezone: Mars/Olympus\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(ConfigError, match="timezone"):
            load_config(path)


@pytest.mark.parametrize("parsed", [{"day": dt.date(2026, 1, 2)}, {1: "one"}, {"x": float("nan")}, {"x": {2: True}}])
def test_only_what_json_gives_back_unchanged_is_kept(tmp_path, parsed):
    path = tmp_path / "feeds.yaml"
    cache.remember(path, b"x", parsed)
    assert cache.cached(path, b"x") is cache.MISSING
    cache.remember(path, b"y", {"a": [1, 1.0, True, None, "s"]})
    assert cache.cached(path, b"y") == {"a": [1, 1.0, True, None, "s"]}


def test_a_yaml_date_still_loads_every_time(tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("retention_days: 30\nnote: 2026-01-02\n", encoding="utf-8")
    with pytest.raises(ConfigError):  # `note` is not a key listener knows; the date is why nothing is cached
        load_config(path)
    assert entries() == []


def test_a_broken_or_unwritable_cache_is_no_cache(tmp_path, monkeypatch):
    path = tmp_path / "feeds.yaml"
    path.write_text(CONFIG.format(name="acme"), encoding="utf-8")
    load_config(path)
    for entry in cache.cache_folder().iterdir():
        entry.write_text('{"key": ', encoding="utf-8")
    assert load_config(path).watch[0].name == "acme"
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert load_config(path).watch[0].name == "acme"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert load_config(path).watch[0].name == "acme"
    assert not (tmp_path / "relative").exists()
