"""`listener poll` pushes one alert per reason to a real webhook; `listener alerts` lists and tests targets."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import subprocess

from conftest import run_cli
from feedgen import Entry, Watchlist, rss

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
ANGRY = "Quillfeather lost all my notes again. Furious, this is the worst update ever."


def listener(config: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, config=config, env=env)


def angry_thread(feed_server) -> None:
    post = Entry("Quillfeather 4.2 is out", "Quillfeather Notes 4.2 ships today.", link="https://blog.quill.example/p1/",
                 guid="p1", author="Priya Okafor", published=NOW - dt.timedelta(hours=3))
    comments = [Entry("Re: Quillfeather 4.2 is out", text, link=f"https://blog.quill.example/p1/#comment-{n}",
                      guid=f"c{n}", author=who, published=NOW - dt.timedelta(minutes=60 - 20 * n))
                for n, (who, text) in enumerate([("Sam", ANGRY), ("Ana", "Quillfeather deleted my drafts. Awful.")], 1)]
    feed_server.add("/blog.xml", rss([post, *comments]))


def test_a_poll_with_an_angry_unanswered_comment_alerts_each_target_once(tmp_path, feed_server, hooks):
    angry_thread(feed_server)
    extra = ("alerts:\n"
             f"  urls: [\"{hooks.url('/team')}\"]\n"
             "  urls_env: LISTENER_TEST_ALERT_URLS\n"
             "  secret_env: LISTENER_TEST_ALERT_SECRET\n"
             "  quiet_hours: off\n")
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}], extra=extra).write(tmp_path)
    env = {"LISTENER_TEST_ALERT_URLS": hooks.url("/oncall"), "LISTENER_TEST_ALERT_SECRET": "s3cret"}

    first = listener(config, "-v", "poll", env=env)
    assert first.returncode == 0, first.stderr
    assert "alerts: 1 sent" in first.stdout and "alerted:" in first.stdout
    assert [len(hooks.to("/team")), len(hooks.to("/oncall"))] == [1, 1]
    post = hooks.to("/team")[0]
    expected = hmac.new(b"s3cret", post.body, hashlib.sha256).hexdigest()
    assert post.headers["x-listener-signature"].endswith(expected)
    assert post.json()["reasons"] == ["reply"] and "Furious" in post.json()["thread"]["quote"]["text"]
    assert "s3cret" not in first.stdout + first.stderr

    again = listener(config, "-v", "poll", "--all", env=env)
    assert again.returncode == 0, again.stderr
    assert [len(hooks.to("/team")), len(hooks.to("/oncall"))] == [1, 1]  # the same reason: no second push

    listed = listener(config, "alerts", "--format", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and rows[0]["state"] == "sent" and rows[0]["delivered"] == "2/2"
    assert hooks.url("/team") not in listed.stdout  # targets are stored as hashes, never URLs


def test_alerts_test_reports_each_target_and_fails_when_one_refuses(tmp_path, feed_server, hooks):
    hooks.status["/broken"] = [404]
    extra = f"alerts:\n  urls: [\"{hooks.url('/ok')}\", \"{hooks.url('/broken')}\"]\n  urls_env: null\n"
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml")}], extra=extra).write(tmp_path)
    result = listener(config, "alerts", "--test", "--format", "json")
    assert result.returncode == 1
    assert [r["accepted"] for r in json.loads(result.stdout)] == [True, False]
    assert result.stderr.strip().splitlines()[-1] == "listener: 1 of 2 targets refused the test alert"


def test_alerts_test_without_an_alerts_key_is_a_usage_error(tmp_path):
    config = Watchlist(feeds=[]).write(tmp_path)
    result = listener(config, "alerts", "--test")
    assert result.returncode == 2 and "no alerts: key" in result.stderr
