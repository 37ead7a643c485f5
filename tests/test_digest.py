"""The digest email against a real SMTP server (aiosmtpd on 127.0.0.1): parts, headers, inline
styles, links, escaping, and the ledger through refusals, outages, crashes and resends."""

from __future__ import annotations

import datetime as dt
import email.policy
import os
import re
import socket
import subprocess
import threading
import time
from dataclasses import replace
from email.parser import BytesParser
from html.parser import HTMLParser

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import run_cli
from test_report import DAY, NOW, World, a_busy_week, assert_nothing_runs

from listener import mail, mood, pipeline, store
from listener.errors import LockedError, MailError, UsageError

TEAM = ("team@quill.example", "lead@quill.example")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Recorder:
    """An aiosmtpd handler that keeps every message and refuses what a test tells it to."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.rcpt_reply: dict[str, str] = {}
        self.data_reply: str | None = None
        self.rcpt_seen: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_seen.append(address)
        if address in self.rcpt_reply:
            return self.rcpt_reply[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def parsed(self, index: int = -1):
        return BytesParser(policy=email.policy.default).parsebytes(self.messages[index][1])


class SmtpServer:
    def __init__(self, port: int, **kwargs) -> None:
        self.port = port
        self.handler = Recorder()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port, **kwargs)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def make_world(tmp_path, smtp_port: int, **kwargs) -> World:
    kwargs.setdefault("to", TEAM)
    world = World(tmp_path / "w", smtp_port=smtp_port, **kwargs)
    a_busy_week(world)
    return world


def digest(world: World, *, now: dt.datetime = NOW, **kwargs) -> mail.DigestOutcome:
    kwargs.setdefault("send", True)
    return pipeline.run_digest(world.config, DAY, now=now, **kwargs)


def ledger(world: World) -> dict[str, str]:
    return {row["recipient"]: row["status"] for row in world.db.query("SELECT * FROM digests WHERE day = ?", [DAY.isoformat()])}


def cli(world: World, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli("digest", "--date", DAY.isoformat(), *args, config=world.config_path, env=env)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.styled = 0
        self.elements = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements += 1
        self.styled += "style" in attrs
        if "href" in attrs:
            self.hrefs.append(attrs["href"])


# --- one well-formed message, once --------------------------------------------------------------


def test_send_delivers_one_well_formed_message_and_a_second_run_none(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    world.mention('<script>alert("x")</script> Quillfeather & co', compound=-0.9, url="javascript:alert(1)")
    sent = cli(world, "--send")
    assert sent.returncode == 0, sent.stderr
    assert "sent to team@quill.example, lead@quill.example" in sent.stdout
    assert len(smtp.handler.messages) == 1
    rcpts, raw = smtp.handler.messages[0]
    assert sorted(rcpts) == sorted(TEAM)

    message = smtp.handler.parsed()
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in message.iter_parts())
    degrees = mood.temperature(5, 7)  # the busy day's 4 of 6, and the script one
    assert message["Subject"].startswith(f"Mood 2026-11-24: {mood.word(degrees)} {round(degrees)}/100")
    assert message["From"] == "listener@quill.example"
    assert message["To"] == "team@quill.example, lead@quill.example"
    assert re.fullmatch(r"<digest-20261124-[0-9a-f]{12}-[0-9a-f]{10}@quill\.example>", message["Message-ID"])
    assert message["Message-ID"] == mail.message_id(DAY, TEAM, installation=mail.installation_id(world.config.database),
                                                    domain="quill.example")
    assert message["Date"] and message["Auto-Submitted"] == "auto-generated"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998

    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert '<script>alert("x")</script> Quillfeather & co' in text
    assert '&lt;script&gt;alert("x")&lt;/script&gt; Quillfeather &amp; co' in html
    assert_nothing_runs(html)
    assert "<style" not in html.lower()  # mail clients drop style blocks: everything is inline
    links = Links()
    links.feed(html)
    assert links.styled > links.elements / 2
    assert links.hrefs and all(h.startswith(("https://", "http://")) for h in links.hrefs)
    assert "javascript:" not in html

    again = cli(world, "--send")
    assert again.returncode == 0, again.stderr
    assert "already sent to team@quill.example, lead@quill.example (--force to resend)" in again.stdout
    assert len(smtp.handler.messages) == 1
    assert set(ledger(world).values()) == {"sent"}


def test_force_resends_under_a_new_message_id(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    digest(world)
    forced = cli(world, "--send", "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(smtp.handler.messages) == 2
    first, second = smtp.handler.parsed(0)["Message-ID"], smtp.handler.parsed(1)["Message-ID"]
    assert first != second and second.startswith(first[:-len("@quill.example>")])  # <...-r2@...>: clients keep it


def test_without_send_it_prints_the_message_and_records_nothing(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    world.mention("Quillfeather crème brûlée", compound=-0.4)
    shown = cli(world)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Subject: Mood 2026-11-24: ")
    assert "Quillfeather crème brûlée" in shown.stdout and "NEEDS A REPLY" in shown.stdout  # readable, not encoded
    raw = cli(world, "--raw")
    message = BytesParser(policy=email.policy.default).parsebytes(raw.stdout.encode())
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == shown.stdout.splitlines()[0].removeprefix("Subject: ")
    assert "Quillfeather crème brûlée" in message.get_body(("plain",)).get_content()
    assert smtp.handler.messages == [] and ledger(world) == {}


def test_to_overrides_the_recipients_and_must_be_an_address(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    outcome = digest(world, to=["me@quill.example"])
    assert outcome.sent == ["me@quill.example"] and smtp.handler.messages[0][0] == ["me@quill.example"]
    bad = cli(world, "--send", "--to", "me@quill.example\r\nBcc: victim@example.org")
    assert bad.returncode == 2 and "not an email address" in bad.stderr
    assert len(smtp.handler.messages) == 1


# --- failures: one clear line, the ledger says what to retry ------------------------------------


def test_smtp_down_exits_1_and_the_next_run_sends(tmp_path):
    port = free_port()  # nothing listens here yet
    world = make_world(tmp_path, port)
    down = cli(world, "--send")
    assert down.returncode == 1
    assert down.stderr.count("\n") == 1 and "connection refused" in down.stderr and f"127.0.0.1:{port}" in down.stderr
    assert set(ledger(world).values()) == {"pending"}
    server = SmtpServer(port).start()
    try:
        up = cli(world, "--send")
        assert up.returncode == 0, up.stderr
        assert len(server.handler.messages) == 1
        assert server.handler.parsed()["Message-ID"] == mail.message_id(
            DAY, TEAM, installation=mail.installation_id(world.config.database), domain="quill.example")
    finally:
        server.stop()
    assert set(ledger(world).values()) == {"sent"}


def test_a_451_is_retried_by_the_next_run(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    smtp.handler.data_reply = "451 4.3.0 Try again later"
    with pytest.raises(MailError) as failed:
        digest(world)
    assert not failed.value.permanent and "451" in str(failed.value)
    assert set(ledger(world).values()) == {"pending"} and smtp.handler.messages == []
    smtp.handler.data_reply = None
    assert sorted(digest(world).sent) == sorted(TEAM)
    assert len(smtp.handler.messages) == 1


def test_a_554_on_data_is_permanent_and_not_retried(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    smtp.handler.data_reply = "554 5.7.1 Message rejected"
    with pytest.raises(MailError) as failed:
        digest(world)
    assert failed.value.permanent
    assert set(ledger(world).values()) == {"failed_permanent"}
    smtp.handler.data_reply = None
    outcome = digest(world)
    assert outcome.sent == [] and sorted(outcome.permanent) == sorted(TEAM)
    assert smtp.handler.messages == []


def test_550_for_one_recipient_sends_to_the_others_and_never_retries_it(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    smtp.handler.rcpt_reply["lead@quill.example"] = "550 5.1.1 No such user"
    with pytest.raises(MailError) as failed:
        digest(world)
    assert "lead@quill.example: 550" in str(failed.value) and failed.value.permanent
    assert [rcpts for rcpts, _ in smtp.handler.messages] == [["team@quill.example"]]
    assert ledger(world) == {"team@quill.example": "sent", "lead@quill.example": "failed_permanent"}
    again = cli(world, "--send")
    assert again.returncode == 0 and "refused for good earlier" in again.stdout
    assert len(smtp.handler.messages) == 1


def test_a_temporary_refusal_retries_only_that_recipient_with_the_same_message_id(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    smtp.handler.rcpt_reply["lead@quill.example"] = "450 4.2.1 Mailbox busy"
    with pytest.raises(MailError):
        digest(world)
    assert ledger(world) == {"team@quill.example": "sent", "lead@quill.example": "pending"}
    del smtp.handler.rcpt_reply["lead@quill.example"]
    smtp.handler.rcpt_seen.clear()
    assert digest(world).sent == ["lead@quill.example"]
    assert smtp.handler.rcpt_seen == ["lead@quill.example"]
    assert smtp.handler.parsed(0)["Message-ID"] == smtp.handler.parsed(1)["Message-ID"]
    assert set(ledger(world).values()) == {"sent"}


def test_a_crash_after_the_server_accepted_resends_once_with_the_same_message_id(tmp_path, smtp, monkeypatch):
    """RELIABILITY F6: at-least-once, and the duplicate carries the same Message-ID."""
    world = make_world(tmp_path, smtp.port)
    real_finish = store.finish_digest

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed between the 250 and the ledger")

    monkeypatch.setattr(store, "finish_digest", crash)
    with pytest.raises(KeyboardInterrupt):
        digest(world)
    monkeypatch.setattr(store, "finish_digest", real_finish)
    assert set(ledger(world).values()) == {"sending"}
    with pytest.raises(LockedError):  # so soon, it may be another run that is still sending
        digest(world, now=NOW + dt.timedelta(minutes=1))
    assert len(smtp.handler.messages) == 1
    outcome = digest(world, now=NOW + dt.timedelta(minutes=10))
    assert sorted(outcome.sent) == sorted(TEAM)
    assert len(smtp.handler.messages) == 2
    assert smtp.handler.parsed(0)["Message-ID"] == smtp.handler.parsed(1)["Message-ID"]
    assert digest(world, now=NOW + dt.timedelta(minutes=11)).already_sent == list(TEAM)


def test_a_server_that_never_answers_times_out(tmp_path):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)  # the kernel accepts the connection; nobody ever says 220
        world = make_world(tmp_path, silent.getsockname()[1])
        smtp_spec = replace(world.config.digest.smtp, timeout=1.0)
        world.config = replace(world.config, digest=replace(world.config.digest, smtp=smtp_spec))
        started = time.monotonic()
        with pytest.raises(MailError) as failed:
            digest(world)
        assert time.monotonic() - started < 3
    assert failed.value.kind == "timeout" and "did not answer within 1s" in str(failed.value)
    assert set(ledger(world).values()) == {"pending"}


def test_starttls_that_the_server_does_not_offer_is_an_error(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port, smtp_extra=", starttls: true")
    with pytest.raises(MailError) as failed:
        digest(world)
    assert failed.value.kind == "tls" and smtp.handler.messages == []


def test_a_refused_login_is_one_line_without_the_password(tmp_path):
    def refuse(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False)

    server = SmtpServer(free_port(), authenticator=refuse, auth_require_tls=False).start()
    try:
        world = make_world(tmp_path, server.port, smtp_extra=", username: bot, password_env: QUILL_SMTP_SECRET")
        secret = "hunter2-s3cr3t"
        failed = cli(world, "--send", env={"QUILL_SMTP_SECRET": secret})
        assert failed.returncode == 1
        assert "refused the login of 'bot'" in failed.stderr and "535" in failed.stderr
        assert secret not in failed.stderr + failed.stdout
        missing = cli(world, "--send")
        assert missing.returncode == 2 and "environment variable QUILL_SMTP_SECRET is empty" in missing.stderr
    finally:
        server.stop()
    assert server.handler.messages == []


# --- hostile text and size ------------------------------------------------------------------------


def test_crlf_in_a_title_cannot_add_a_header_or_a_recipient(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    world.mention("x\r\nBcc: victim@example.org\r\nSubject: owned", compound=-0.9, author="y\r\nBcc: victim@example.org")
    digest(world)
    assert len(smtp.handler.messages) == 1
    assert sorted(smtp.handler.messages[0][0]) == sorted(TEAM)
    assert "victim@example.org" not in smtp.handler.rcpt_seen
    message = smtp.handler.parsed()
    assert message["Bcc"] is None and len(message.get_all("Subject")) == 1
    header_block = smtp.handler.messages[0][1].split(b"\r\n\r\n", 1)[0]
    assert b"victim" not in header_block
    assert "x Bcc: victim@example.org Subject: owned" in message.get_body(("plain",)).get_content()


def test_a_non_ascii_subject_round_trips(tmp_path, smtp):
    world = World(tmp_path / "w", smtp_port=smtp.port, to=TEAM, watch=("Crème brûlée", "Quillfeather"))
    for compound in (-0.9, -0.8, -0.7, -0.6, -0.5):
        world.mention("La crème brûlée est ratée", compound=compound, terms=("Crème brûlée",))
    digest(world)
    subject = smtp.handler.parsed()["Subject"]
    assert subject.endswith("· spike: Crème brûlée")
    header_block = smtp.handler.messages[0][1].split(b"\r\n\r\n", 1)[0]
    header_block.decode("ascii")  # encoded words on the wire, not raw UTF-8
    assert b"=?utf-8?" in header_block.lower()


def test_a_long_day_is_capped_with_n_more_in_the_report(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port, max_items=3)
    for i in range(10):
        # Each its own text: one text in ten threads is spam.
        world.mention(f"Complaint number {i}", compound=-0.5 - i / 50, thread=f"c{i}", content=f"{i} " + "x" * 5000)
    outcome = digest(world)
    text = smtp.handler.parsed().get_body(("plain",)).get_content()
    listed = re.findall(r"^\d+\. (.*)$", text.split("MOST NEGATIVE")[0], re.M)
    assert len(listed) == 3 and sum(title.startswith("Complaint number") for title in listed) >= 2
    assert "8 more in the report (listener report --date 2026-11-24)." in text  # 11 threads: 10 + the busy day's
    assert len(smtp.handler.messages[0][1]) < 200_000
    assert outcome.report_path and os.path.exists(outcome.report_path)


def test_message_ids_are_deterministic_per_day_and_recipient_list():
    assert mail.message_id(DAY, ["b@x.example", "A@x.example"]) == mail.message_id(DAY, ["a@x.example", "b@x.example"])
    assert mail.message_id(DAY, ["a@x.example"]) != mail.message_id(DAY, ["b@x.example"])
    assert mail.message_id(DAY + dt.timedelta(days=1), ["a@x.example"]) != mail.message_id(DAY, ["a@x.example"])
    assert mail.message_id(DAY, ["a@x.example"], resend=2).endswith("-r2@listener>")


def test_no_recipients_is_a_usage_error(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port, to=())
    with pytest.raises(UsageError):
        digest(world)
    assert digest(world, send=False).message["To"] is None


def test_two_runs_at_once_send_one_message(tmp_path, smtp):
    world = make_world(tmp_path, smtp.port)
    results: list[object] = []

    def run() -> None:
        try:
            results.append(pipeline.run_digest(world.config, DAY, send=True, now=NOW))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(smtp.handler.messages) == 1
    assert sum(isinstance(r, mail.DigestOutcome) and bool(r.sent) for r in results) == 1
