"""Alerts delivered to real receivers on 127.0.0.1: a webhook server, aiosmtpd, a process killed mid-send."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import textwrap
from email import policy
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller

from listener import store
from listener.alerts import AlertCandidate
from listener.models import AlertsSpec
from listener.pipeline.alerts import list_alerts, run_alerts, send_test_alert

UTC = dt.timezone.utc
NOON = dt.datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
SECRET = "s3cret-for-tests"
ENV = {"HOOK_SECRET": SECRET}


def angry(tid: str = "thread-1", *, overdue: bool = False, negative: int = 1, priority: float = 62.0) -> AlertCandidate:
    return AlertCandidate(tid, "Sync ate my notes", f"https://blog.example/{tid}/", "reply", priority, overdue,
                          ("1 negative item", "waiting 2h"), "Acme lost all my notes again. Furious.", "Sam",
                          negative, NOON - dt.timedelta(hours=2))


def spec(*urls: str, **kwargs) -> AlertsSpec:
    base = {"urls": urls, "urls_env": None, "quiet_hours": None, "secret_env": "HOOK_SECRET"}
    return AlertsSpec(**{**base, **kwargs})


@pytest.fixture
def db(tmp_path):
    database = store.open_db(tmp_path / "listener.db")
    yield database
    database.close()


def run(db, alert_spec, candidates, now, **kwargs):
    return run_alerts(db, alert_spec, candidates, [], [], now=now, environ=ENV, **kwargs)


def test_one_signed_post_per_reason_across_cycles(db, hooks):
    alert_spec = spec(hooks.url("/hook"))
    report = "https://reports.example/2024-05-06.html"
    first = run(db, alert_spec, [angry()], NOON, report_url=report)
    run(db, alert_spec, [angry()], NOON + dt.timedelta(minutes=15), report_url=report)
    assert len(hooks.posts) == 1 and first.sent == ["reply needed (priority 62): Sync ate my notes"]
    post = hooks.posts[0]
    assert post.headers["content-type"].startswith("application/json")
    expected = hmac.new(SECRET.encode(), post.body, hashlib.sha256).hexdigest()
    assert post.headers["x-listener-signature"] == expected
    body = post.json()
    assert body["thread"]["id"] == "thread-1" and body["thread"]["title"] == "Sync ate my notes"
    assert body["thread"]["url"] == "https://blog.example/thread-1/" and body["thread"]["priority"] == 62.0
    assert body["reasons"] == ["reply"] and body["report_url"] == report
    assert body["thread"]["quote"] == {"text": "Acme lost all my notes again. Furious.", "author": "Sam"}
    assert body["id"] == post.headers["x-listener-alert"] and "rank" not in body

    run(db, alert_spec, [angry(overdue=True)], NOON + dt.timedelta(minutes=30))
    assert len(hooks.posts) == 2 and hooks.posts[1].json()["reasons"] == ["reply", "overdue"]
    run(db, alert_spec, [angry(overdue=True)], NOON + dt.timedelta(minutes=45))
    assert len(hooks.posts) == 2


def test_a_500_is_retried_with_backoff_and_never_resent_to_a_target_that_accepted(db, hooks):
    hooks.status["/flaky"] = [500, 200]
    alert_spec = spec(hooks.url("/ok"), hooks.url("/flaky"))
    first = run(db, alert_spec, [angry()], NOON)
    assert first.sent == [] and first.retrying == 1
    assert [len(hooks.to("/ok")), len(hooks.to("/flaky"))] == [1, 1]
    [row] = list_alerts(db)
    assert row["state"] == "pending" and row["next_try"] == "2024-05-06T12:01:00Z"
    assert sorted(d["state"] for d in row["deliveries"]) == ["failed", "sent"]
    assert "HTTP 500" in row["last_error"] and row["delivered"] == "1/2"

    run(db, alert_spec, [angry()], NOON + dt.timedelta(seconds=30))  # back-off holds the retry
    assert [len(hooks.to("/ok")), len(hooks.to("/flaky"))] == [1, 1]
    second = run(db, alert_spec, [angry()], NOON + dt.timedelta(minutes=2))
    assert [len(hooks.to("/ok")), len(hooks.to("/flaky"))] == [1, 2]
    assert second.sent and hooks.to("/flaky")[1].body == hooks.to("/ok")[0].body  # the same alert, byte for byte
    [row] = list_alerts(db)
    assert row["state"] == "sent" and [d["state"] for d in row["deliveries"]] == ["sent", "sent"]
    run(db, alert_spec, [angry()], NOON + dt.timedelta(minutes=20))
    assert len(hooks.posts) == 3


def test_back_off_grows_then_gives_up_after_a_day(db, hooks):
    hooks.status["/down"] = [503]
    alert_spec = spec(hooks.url("/down"))
    now = NOON
    waits = []
    for _ in range(5):
        run(db, alert_spec, [angry()], now)
        [row] = list_alerts(db)
        next_try = dt.datetime.fromisoformat(row["next_try"].replace("Z", "+00:00"))
        waits.append(round((next_try - now).total_seconds() / 60))
        now = next_try
    assert waits == [1, 5, 15, 60, 60]
    run(db, alert_spec, [angry()], NOON + dt.timedelta(hours=25))
    [row] = list_alerts(db)
    assert row["state"] == "failed" and row["next_try"] is None


def test_quiet_hours_hold_until_they_end_then_one_post(db, hooks):
    alert_spec = spec(hooks.url("/hook"), quiet_hours=(dt.time(22), dt.time(7)))
    night = dt.datetime(2024, 5, 6, 23, 0, tzinfo=UTC)
    held = run(db, alert_spec, [angry()], night)
    assert held.held == 1 and held.held_until == dt.datetime(2024, 5, 7, 7, 0, tzinfo=UTC)
    run(db, alert_spec, [angry()], night + dt.timedelta(hours=4))
    assert hooks.posts == [] and list_alerts(db)[0]["state"] == "held"
    run(db, alert_spec, [angry()], dt.datetime(2024, 5, 7, 7, 5, tzinfo=UTC))
    run(db, alert_spec, [angry()], dt.datetime(2024, 5, 7, 7, 20, tzinfo=UTC))
    assert len(hooks.posts) == 1 and hooks.posts[0].json()["thread"]["id"] == "thread-1"
    assert list_alerts(db)[0]["state"] == "sent"


def test_past_max_per_hour_the_rest_goes_out_as_one_summary(db, hooks):
    alert_spec = spec(hooks.url("/hook"), max_per_hour=2)
    summary = run(db, alert_spec, [angry(f"t{i}", priority=50 + i) for i in range(5)], NOON)
    bodies = [p.json() for p in hooks.posts]
    assert [b.get("thread", {}).get("id") for b in bodies[:2]] == ["t4", "t3"]
    assert bodies[2]["event"] == "summary" and bodies[2]["count"] == 3 and len(bodies) == 3
    assert summary.folded == 3
    states = {row["subject_id"]: row["state"] for row in list_alerts(db)}
    assert [states[f"t{i}"] for i in range(3)] == ["folded"] * 3


def test_the_signature_verifies_as_the_readme_says(db, hooks):
    run(db, spec(hooks.url("/hook")), [angry()], NOON)
    post = hooks.posts[0]

    def verify(body: bytes, signature: str, secret: str) -> bool:  # the README's snippet
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    assert verify(post.body, post.headers["x-listener-signature"], SECRET)
    assert not verify(post.body + b" ", post.headers["x-listener-signature"], SECRET)


def test_an_unset_secret_env_fails_the_target_rather_than_post_unsigned(db, hooks):
    run_alerts(db, spec(hooks.url("/hook")), [angry()], [], [], now=NOON, environ={})
    assert hooks.posts == []
    assert "HOOK_SECRET is not set" in list_alerts(db)[0]["last_error"]


def test_urls_from_the_environment_and_headers_from_the_url(db, hooks):
    alert_spec = spec(urls_env="ALERT_URLS")
    environ = {**ENV, "ALERT_URLS": hooks.url("/a", query="+X-Team=care") + "\n" + hooks.url("/b")}
    run_alerts(db, alert_spec, [angry()], [], [], now=NOON, environ=environ)
    assert sorted(p.path for p in hooks.posts) == ["/a", "/b"]
    assert hooks.to("/a")[0].headers["x-team"] == "care"


def test_secrets_in_urls_never_reach_the_ledger_or_the_log(db, hooks, tmp_path, caplog):
    hooks.status["/tok-9f8e7d6c5b4a"] = [500]
    leaky = hooks.url("/tok-9f8e7d6c5b4a").replace("json://", "json://bob:pa55word-xyz@")
    closed = free_port()
    mail = f"mailto://mailer:m41lpass-abc@127.0.0.1:{closed}?from=listener@example.com&to=team@example.com"
    with caplog.at_level("DEBUG"):
        run(db, spec(leaky, mail), [angry()], NOON)
    row = list_alerts(db)[0]
    assert row["state"] == "pending" and len(row["deliveries"]) == 2
    db.conn.commit()
    dump = "\n".join(db.conn.iterdump()) + json.dumps(list_alerts(db)) + caplog.text
    for secret in ("pa55word-xyz", "tok-9f8e7d6c5b4a", "m41lpass-abc", leaky, mail):
        assert secret not in dump


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def test_mailto_reaches_an_smtp_server(db, smtp):
    box, port = smtp
    url = f"mailto://127.0.0.1:{port}?from=listener@example.com&to=community@example.com"
    first = run(db, spec(url), [angry()], NOON)
    run(db, spec(url), [angry()], NOON + dt.timedelta(minutes=15))
    assert first.sent and len(box.messages) == 1
    rcpt, raw = box.messages[0]
    assert rcpt == ["community@example.com"]
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert "reply needed (priority 62): Sync ate my notes" in message["Subject"]
    text = message.get_body(("plain", "html")).get_content()
    assert "Acme lost all my notes again. Furious." in text and "https://blog.example/thread-1/" in text


def test_the_test_alert_reports_each_target_and_records_nothing(db, hooks):
    hooks.status["/broken"] = [404]
    results = send_test_alert(spec(hooks.url("/ok"), hooks.url("/broken")), environ=ENV)
    assert [(r.accepted, r.error) for r in results] == [(True, None), (False, "HTTP 404")]
    assert all(r.label.startswith("json://127.0.0.1 #") for r in results)
    assert hooks.to("/ok")[0].json()["event"] == "test"
    pass
    assert list_alerts(db) == []


def test_no_targets_means_nothing_recorded(db):
    summary = run_alerts(db, spec(), [angry()], [], [], now=NOON, environ={})
    assert summary.targets == 0 and list_alerts(db) == []


CRASHING_CYCLE = textwrap.dedent("""
    import datetime as dt, sys
    from listener import store
    from listener.alerts import AlertCandidate
    from listener.models import AlertsSpec
    from listener.pipeline.alerts import run_alerts
    now = dt.datetime(2024, 5, 6, 12, 0, tzinfo=dt.timezone.utc)
    db = store.open_db(sys.argv[1])
    spec = AlertsSpec(urls=tuple(sys.argv[2:]), urls_env=None, quiet_hours=None)
    cand = AlertCandidate("thread-1", "Sync ate my notes", "https://blog.example/t/", "reply", 62.0, False,
                          (), "Furious.", "Sam", 1, now)
    run_alerts(db, spec, [cand], [], [], now=now)
    print("finished")
""")


@pytest.mark.parametrize("kill_after", [1, 2])
def test_killed_between_send_and_ledger_write_at_most_one_duplicate_never_lost(tmp_path, hooks, kill_after):
    path = tmp_path / "listener.db"
    urls = [hooks.url("/first"), hooks.url("/second")]
    env = {**os.environ, "LISTENER_FAULT": f"kill_after_alert_send:{kill_after}"}
    env.pop("HOOK_SECRET", None)
    crashed = subprocess.run([sys.executable, "-c", CRASHING_CYCLE, str(path), *urls], env=env,
                             capture_output=True, text=True, timeout=60)
    assert crashed.returncode == -9 and "finished" not in crashed.stdout
    assert len(hooks.posts) == kill_after

    db = store.open_db(path)
    try:
        alert_spec = AlertsSpec(urls=tuple(urls), urls_env=None, quiet_hours=None)
        later = NOON + dt.timedelta(minutes=5)
        run_alerts(db, alert_spec, [angry()], [], [], now=later, environ={})
        run_alerts(db, alert_spec, [angry()], [], [], now=later + dt.timedelta(minutes=15), environ={})
        counts = [len(hooks.to("/first")), len(hooks.to("/second"))]
        # The target in flight when the process died gets the alert twice; the other exactly once.
        assert counts == ([2, 1] if kill_after == 1 else [1, 2])
        assert len({p.headers["x-listener-alert"] for p in hooks.posts}) == 1  # a receiver can drop the copy
        [row] = list_alerts(db)
        assert row["state"] == "sent" and [d["state"] for d in row["deliveries"]] == ["sent", "sent"]
    finally:
        db.close()
