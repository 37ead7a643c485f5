"""feeds.yaml: SPEC's format loads; every mistake is one line naming the file and the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from listener.config import load_config, parse_duration
from listener.errors import ConfigError
from listener.starter import STARTER

SPEC_EXAMPLE = """
database: listener.db
reports_dir: reports
timezone: Europe/London
watch:
  - name: acme
    terms: [acme, "acme cloud", "@acmehelp"]
    exclude: ["acme corporation of ohio"]
staff:
  authors: ["Dana Reyes", "Acme Support"]
feeds:
  - name: Acme blog
    url: https://blog.example.com/feed/
    comments: true
    every: 15m
  - name: Brand search
    url: https://search.example.com/rss?q=acme
    match: all
schedule:
  poll: 15m
  digest: "07:30"
thresholds:
  negative: -0.05
  positive: 0.05
digest:
  from: listener@example.com
  to: [community@example.com]
  smtp: {host: localhost, port: 25, starttls: false, username: null, password_env: LISTENER_SMTP_PASSWORD}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_spec_example_loads(tmp_path):
    config = load_config(write(tmp_path, SPEC_EXAMPLE))
    assert config.database == tmp_path / "listener.db"
    assert config.reports_dir == tmp_path / "reports"
    assert [w.name for w in config.watch] == ["acme"]
    assert config.watch[0].terms == ("acme", "acme cloud", "@acmehelp")
    assert config.watch[0].exclude == ("acme corporation of ohio",)
    assert config.staff_authors == ("Dana Reyes", "Acme Support")
    blog, search = config.feeds
    assert (blog.comments, blog.every, blog.match) == (True, 900, "terms")
    assert (search.comments, search.every, search.match) == (False, None, "all")
    assert config.poll_every == 900
    assert config.digest_time == dt.time(7, 30)
    assert config.digest.to == ("community@example.com",)
    assert config.digest.smtp.password_env == "LISTENER_SMTP_PASSWORD"


def test_starter_file_is_valid(tmp_path):
    config = load_config(write(tmp_path, STARTER))
    assert config.feeds[0].name == "Company blog"


def test_unquoted_digest_time_survives_yaml_sexagesimal(tmp_path):
    config = load_config(write(tmp_path, "schedule: {digest: 07:30}"))
    assert config.digest_time == dt.time(7, 30)


def test_local_path_is_resolved_from_the_config_folder(tmp_path):
    config = load_config(write(tmp_path, "feeds: [{name: local, url: sample/blog.xml}]"))
    assert config.feeds[0].url == str(tmp_path / "sample" / "blog.xml")


@pytest.mark.parametrize("text, key, expected", [
    ("feeds: [{name: a, url: 'https://x.example/', every: 15q}]", "feeds[0].every", "duration"),
    ("colour: blue", "colour", "unknown key"),
    ("watch: [{name: a}]", "watch[0].terms", "at least one term"),
    ("watch: [{name: a, terms: [x], excludes: [y]}]", "watch[0].excludes", "unknown key"),
    ("timezone: Mars/Olympus", "timezone", "IANA"),
    ("thresholds: {negative: high}", "thresholds.negative", "number"),
    ("feeds: [{name: a, url: 'ftp://x.example/f'}]", "feeds[0].url", "http(s) URL"),
    ("feeds: [{name: a, url: 'https://x.example/', match: some}]", "feeds[0].match", "terms or all"),
    ("digest: {smtp: {password: hunter2}}", "digest.smtp.password", "environment variable"),
    ("digest: {to: [not-an-address]}", "digest.to", "email address"),
    ("schedule: {digest: '25:00'}", "schedule.digest", "local time"),
    ("feeds: {name: a}", "feeds", "list"),
])
def test_mistakes_name_the_file_and_key(tmp_path, text, key, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {key}:")
    assert expected in message
    assert "\n" not in message
    assert raised.value.exit_code == 2


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="listener init"):
        load_config(tmp_path / "nope.yaml")


def test_broken_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match=r"feeds.yaml: line \d+: expected"):
        load_config(write(tmp_path, "watch:\n  - [unclosed\n"))


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
