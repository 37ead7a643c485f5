"""The command line: help for every command, init, config errors, OPML; run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import run_cli

from listener.cli import COMMAND_MODULES, cli, load_commands


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd)


def all_commands() -> list[str]:
    load_commands()
    return sorted(cli.commands)


def test_each_command_is_listed_with_the_module_that_defines_it():
    """A command missing from COMMAND_MODULES still runs (get_command loads every module), but slowly."""
    load_commands()
    listed = {name: module for module, names in COMMAND_MODULES.items() for name in names}
    assert {name: command.callback.__module__.rsplit(".", 1)[1] for name, command in cli.commands.items()} == listed


@pytest.mark.parametrize("name", all_commands())
def test_every_command_has_help_with_an_example(name):
    command = cli.commands[name]
    assert command.help and command.help.strip(), f"{name} has no help"
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output, f"{name} --help shows no example"


def test_init_writes_a_starter_and_never_overwrites(tmp_path):
    first = run("init", str(tmp_path / "watch"))
    assert first.returncode == 0, first.stderr
    written = (tmp_path / "watch" / "feeds.yaml").read_text()
    assert "watch:" in written and "feeds:" in written
    second = run("init", str(tmp_path / "watch"))
    assert second.returncode == 1
    assert "already exists" in second.stderr
    assert (tmp_path / "watch" / "feeds.yaml").read_text() == written


def test_a_config_mistake_is_one_line_and_exit_2(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - name: Blog\n    url: https://blog.example/feed\n    every: soon\n")
    result = run("--config", str(config), "poll")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{config}: feeds[0].every: expected a duration" in result.stderr


def test_missing_config_names_the_file(tmp_path):
    result = run("mentions", cwd=tmp_path)
    assert result.returncode == 2
    assert "feeds.yaml: file not found" in result.stderr


def test_config_comes_from_the_environment(tmp_path):
    config = tmp_path / "elsewhere.yaml"
    config.write_text("feeds: []\n")
    result = subprocess.run([sys.executable, "-m", "listener", "feeds", "--format", "json"], capture_output=True,
                            text=True, cwd=tmp_path, env={**os.environ, "LISTENER_CONFIG": str(config)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert not (tmp_path / "listener.db").exists()  # a read never makes the database


def test_db_option_overrides_the_config(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("database: configured.db\nfeeds: []\n")
    result = run("--config", str(config), "--db", str(tmp_path / "chosen.db"), "poll")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "chosen.db").exists() and not (tmp_path / "configured.db").exists()


def test_a_read_command_on_a_missing_db_is_an_error_naming_it(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n")
    typo = tmp_path / "typo" / "listenr.db"
    for command in (["mentions"], ["threads"], ["feeds"]):
        result = run("--config", str(config), "--db", str(typo), *command)
        assert result.returncode == 2, command
        expected = f"listener: no database at {typo} (run `listener poll` first, or check --db)"
        assert result.stderr.strip().splitlines()[-1] == expected
    assert not typo.parent.exists()


def test_bad_since_is_a_usage_error(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n")
    result = run("--config", str(config), "mentions", "--since", "last tuesday")
    assert result.returncode == 2
    assert "--since" in result.stderr


OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>Reader export</title></head><body>
  <outline text="Community">
    <outline type="rss" text="Forum &amp; friends" xmlUrl="https://forum.quill.example/latest.rss"/>
    <outline type="rss" text="Blog" xmlUrl="https://blog.quill.example/feed/"/>
  </outline>
  <outline type="rss" text="Not a feed" xmlUrl="javascript:alert(1)"/>
</body></opml>
"""


def test_opml_import_keeps_comments_and_export_round_trips(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("# my watchlist\nfeeds:\n  - name: Blog\n    url: https://blog.quill.example/feed/\n"
                      "schedule: {poll: 30m}\n")
    (tmp_path / "reader.opml").write_text(OPML)
    imported = run("--config", str(config), "import-opml", str(tmp_path / "reader.opml"))
    assert imported.returncode == 0, imported.stderr
    assert "added 1 feeds" in imported.stdout and "1 already there" in imported.stdout
    text = config.read_text()
    assert text.startswith("# my watchlist") and "schedule: {poll: 30m}" in text
    exported = run("--config", str(config), "export-opml")
    assert exported.returncode == 0, exported.stderr
    assert 'xmlUrl="https://forum.quill.example/latest.rss"' in exported.stdout
    assert 'text="Forum &amp; friends"' in exported.stdout
    assert "javascript" not in exported.stdout


def test_opml_with_entities_is_refused(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n")
    bomb = tmp_path / "bomb.opml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>')
    result = run("--config", str(config), "import-opml", str(bomb))
    assert result.returncode == 1
    assert "DTD" in result.stderr
    assert config.read_text() == "feeds: []\n"


def test_backup_writes_a_checked_copy(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n")
    assert run("--config", str(config), "feeds").returncode == 0
    (tmp_path / "copies").mkdir()
    result = run("--config", str(config), "backup", str(tmp_path / "copies" / "nightly.db"))
    assert result.returncode == 0, result.stderr
    assert "check ok" in result.stdout
    import sqlite3
    with sqlite3.connect(tmp_path / "copies" / "nightly.db") as conn:
        assert ("feeds",) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()


def test_backup_into_a_missing_folder_names_it_and_creates_nothing(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n")
    missing = tmp_path / "bakcups"  # a typo
    result = run("--config", str(config), "backup", str(missing / "nightly.db"))
    assert result.returncode == 2
    assert f"no folder {missing} to back up into" in result.stderr and result.stderr.count("\n") == 1
    assert not missing.exists()


SKIPPY_OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>Reader export</title></head><body>
  <outline text="Community">
    <outline type="rss" text="Forum" xmlUrl="https://forum.quill.example/latest.rss"/>
    <outline type="rss" text="Forum again" xmlUrl="https://forum.quill.example/latest.rss"/>
  </outline>
  <outline type="rss" text="Not a feed" xmlUrl="javascript:alert(1)"/>
  <outline type="rss" text="Old reader" xmlUrl="feed://old.quill.example/rss"/>
  <outline type="link" text="Homepage" url="https://quill.example/"/>
  <outline text="Empty"/>
</body></opml>
"""


def test_opml_import_says_which_outlines_it_skipped_and_why(tmp_path):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n")
    (tmp_path / "reader.opml").write_text(SKIPPY_OPML)
    imported = run("--config", str(config), "import-opml", str(tmp_path / "reader.opml"))
    assert imported.returncode == 0, imported.stderr
    assert "added 1 feeds" in imported.stdout and "5 skipped" in imported.stdout
    skipped = [line for line in imported.stderr.splitlines() if line.startswith("  skipped ")]
    assert skipped == [
        "  skipped 'Forum again': listed twice in the file",
        "  skipped 'Not a feed': xmlUrl 'javascript:alert(1)' is not an http(s) URL",
        "  skipped 'Old reader': xmlUrl 'feed://old.quill.example/rss' is not an http(s) URL",
        "  skipped 'Homepage': a link to 'https://quill.example/', not a feed (no xmlUrl)",
        "  skipped 'Empty': no xmlUrl: not a feed",
    ]
    assert "Community" not in imported.stderr  # a folder is structure, not a skipped feed
