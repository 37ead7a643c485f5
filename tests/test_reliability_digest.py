"""Issue 14.6: a digest run killed after the server accepted its message is resent at once, same Message-ID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from test_digest import DAY, Recorder, SmtpServer, cli, free_port, ledger, make_world

from listener import lifeline


class KillsTheSender(Recorder):
    """Accepts the message, then SIGKILLs the client before it can write "sent" in its ledger."""

    victim: int | None = None

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)
            self.victim = None
        return "250 Message accepted for delivery"


def test_a_digest_killed_after_the_server_accepted_it_is_resent_at_once_not_after_5_minutes(tmp_path):
    server = SmtpServer(free_port())
    server.handler = KillsTheSender()
    server.controller.handler = server.handler
    server.start()
    try:
        world = make_world(tmp_path, server.controller.port)
        killed = subprocess.Popen([sys.executable, "-m", "listener", "--config", str(world.config_path), "digest",
                                   "--date", DAY.isoformat(), "--send"], stderr=subprocess.PIPE, text=True)
        server.handler.victim = killed.pid
        killed.communicate(timeout=60)
        assert killed.returncode == -signal.SIGKILL
        assert set(ledger(world).values()) == {"sending"} and len(server.handler.messages) == 1

        again = cli(world, "--send")  # at once: no exit 75, no five-minute wait
        assert again.returncode == 0, again.stderr
        assert set(ledger(world).values()) == {"sent"}
        assert len(server.handler.messages) == 2
        assert server.handler.parsed(0)["Message-ID"] == server.handler.parsed(1)["Message-ID"]
        assert cli(world, "--send").returncode == 0 and len(server.handler.messages) == 2
    finally:
        server.stop()


def test_a_live_owner_is_never_taken_for_dead_and_a_dead_one_is():
    assert not lifeline.owner_is_dead(lifeline.process_token())
    assert not lifeline.owner_is_dead(None) and not lifeline.owner_is_dead("another-host:1:1")
    gone = subprocess.Popen([sys.executable, "-c", "from listener import lifeline; print(lifeline.process_token())"],
                            stdout=subprocess.PIPE, text=True)
    token = gone.communicate(timeout=60)[0].strip()
    assert lifeline.owner_is_dead(token)
    host, pid, started = token.split(":")
    assert lifeline.owner_is_dead(f"{host}:{os.getpid()}:{started}")  # our pid, another start time: reused
