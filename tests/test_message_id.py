"""The digest's Message-ID: one per installation, day and recipient list (a resend reuses it), and two
installations mailing one inbox on the same day never share one (mail clients would hide the second)."""

from __future__ import annotations

import datetime as dt
import re
import socket
import subprocess
import sys

import pytest
from test_report import DAY, World

from listener import mail

TEAM = ["team@quill.example"]


def digest_id(database, *, from_addr="listener@quill.example", recipients=TEAM, day=DAY, resend=0) -> str:
    return mail.message_id(day, recipients, resend=resend, installation=mail.installation_id(database),
                           domain=mail.id_domain(from_addr))


def test_two_installations_mailing_one_inbox_send_different_ids(tmp_path, monkeypatch):
    first, second = digest_id(tmp_path / "a" / "listener.db"), digest_id(tmp_path / "b" / "listener.db")
    assert first != second
    here = digest_id("/var/lib/listener/listener.db")
    monkeypatch.setattr(socket, "gethostname", lambda: "another-host")
    assert digest_id("/var/lib/listener/listener.db") != here  # the same path on another machine


def test_the_id_is_deterministic_per_installation_day_and_recipients(tmp_path):
    database = tmp_path / "listener.db"
    assert digest_id(database) == digest_id(database)
    assert (digest_id(database, recipients=["B@x.example", "a@x.example"])
            == digest_id(database, recipients=["a@x.example", "b@x.example"]))
    assert digest_id(database, day=DAY + dt.timedelta(days=1)) != digest_id(database)
    assert digest_id(database, resend=2) != digest_id(database) and digest_id(database, resend=2).endswith("-r2@quill.example>")


@pytest.mark.parametrize("from_addr, domain", [
    ("listener@quill.example", "quill.example"),
    ("Listener@Mail.Quill.Example", "mail.quill.example"),
    ("bot@bücher.example", "xn--bcher-kva.example"),
    ("bot@localhost", "localhost"),
])
def test_the_right_hand_side_is_the_from_domain(tmp_path, from_addr, domain):
    found = digest_id(tmp_path / "listener.db", from_addr=from_addr)
    assert re.fullmatch(rf"<digest-20261124-[0-9a-f]{{12}}-[0-9a-f]{{10}}@{re.escape(domain)}>", found), found


def test_the_digest_the_cli_builds_carries_an_installation_id(tmp_path):
    world = World(tmp_path / "w")
    shown = subprocess.run([sys.executable, "-m", "listener", "--config", str(world.config_path), "digest",
                            "--date", DAY.isoformat()], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    expected = digest_id(world.config.database, recipients=["team@quill.example"])
    assert f"Message-ID: {expected}" in shown.stdout
