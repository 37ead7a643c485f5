"""SMTP set up wrong is a configuration error (exit 2, one line saying what to change), never a
temporary failure retried forever: a username without a password, or a login over plain text."""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import AuthResult
from test_digest import SmtpServer, cli, free_port, ledger, make_world

from listener import mail
from listener.config import load_config
from listener.errors import ConfigError
from listener.models import SmtpSpec


def accept(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)


def test_a_username_without_a_password_is_a_configuration_error(tmp_path):
    server = SmtpServer(free_port(), authenticator=accept, auth_require_tls=False).start()
    try:
        world = make_world(tmp_path, server.port, smtp_extra=", username: bot, password_env: QUILL_SMTP_SECRET")
        for env in ({}, {"QUILL_SMTP_SECRET": ""}):
            failed = cli(world, "--send", env=env)
            assert failed.returncode == 2, failed.stderr
            assert "environment variable QUILL_SMTP_SECRET is empty or unset" in failed.stderr
            assert len(failed.stderr.strip().splitlines()) == 1
        sent = cli(world, "--send", env={"QUILL_SMTP_SECRET": "s3cret"})  # fixed: the next run sends
        assert sent.returncode == 0, sent.stderr
    finally:
        server.stop()
    assert len(server.handler.messages) == 1


def test_a_missing_password_leaves_the_ledger_alone_and_promises_no_retry(tmp_path):
    world = make_world(tmp_path, free_port(), smtp_extra=", username: bot, password_env: QUILL_SMTP_SECRET")
    failed = cli(world, "--send")
    assert failed.returncode == 2 and "will retry" not in failed.stderr
    assert ledger(world) == {}


def test_smtp_password_reads_the_named_variable():
    spec = SmtpSpec(username="bot", password_env="QUILL_SMTP_SECRET")
    assert mail.smtp_password(spec, {"QUILL_SMTP_SECRET": "pw"}) == "pw"
    assert mail.smtp_password(SmtpSpec(), {}) is None  # no username: no login
    with pytest.raises(ConfigError, match="QUILL_SMTP_SECRET is empty") as missing:
        mail.smtp_password(spec, {"QUILL_SMTP_SECRET": ""})
    assert missing.value.exit_code == 2


def smtp_config(tmp_path, smtp: str):
    path = tmp_path / "feeds.yaml"
    path.write_text(f"digest:\n  to: [team@quill.example]\n  smtp: {{{smtp}}}\n", encoding="utf-8")
    return load_config(path)


def test_a_login_over_plain_text_to_another_host_is_refused_unless_allowed(tmp_path):
    with pytest.raises(ConfigError) as refused:
        smtp_config(tmp_path, "host: smtp.quill.example, port: 25, username: bot")
    message = str(refused.value)
    assert "digest.smtp.username" in message and "plain text" in message and "starttls: true" in message
    assert refused.value.exit_code == 2
    for fine in ("host: smtp.quill.example, port: 587, starttls: true, username: bot",
                 "host: smtp.quill.example, port: 465, ssl: true, username: bot",
                 "host: smtp.quill.example, username: bot, allow_plaintext_auth: true",
                 "host: localhost, username: bot", "host: 127.0.0.1, username: bot", "host: '::1', username: bot",
                 "host: smtp.quill.example"):
        assert smtp_config(tmp_path, fine).digest.smtp.host


def test_a_server_that_offers_no_login_without_tls_says_to_turn_starttls_on(tmp_path):
    server = SmtpServer(free_port(), authenticator=accept).start()  # aiosmtpd: AUTH only after STARTTLS
    try:
        world = make_world(tmp_path, server.port, smtp_extra=", username: bot, password_env: QUILL_SMTP_SECRET")
        failed = cli(world, "--send", env={"QUILL_SMTP_SECRET": "s3cret"})
    finally:
        server.stop()
    assert failed.returncode == 2, failed.stderr
    assert "offers no login (AUTH) on a plain-text connection" in failed.stderr
    assert "set digest.smtp.starttls: true" in failed.stderr and "does not offer STARTTLS" not in failed.stderr
    assert server.handler.messages == []
