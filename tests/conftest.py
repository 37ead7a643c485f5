"""Shared fixtures: every test runs with HOME and LISTENER_* pointed at its own tmp_path.

Time has one source per test. In-process tests build their data from `NOW` and pass `now=`
down; where the code under test reads the clock itself (store.utcnow), the `clock` fixture
stands it still at `NOW`. Tests that drive the CLI or the daemon as a subprocess share no clock
with the child but the wall clock, so they build their data from `wall_now()` at call time and
never from a fixed date. `make test-clock` runs the suite with the wall clock a year either way.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from hypothesis import HealthCheck, settings

pytest_plugins = ["feedserver", "webhookserver"]

# Property tests check what code does, not how fast: a busy or faketime-slowed machine must not
# fail them on Hypothesis's 200 ms deadline per example or its too-slow input generation check.
settings.register_profile("listener", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("listener")

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)


def wall_now() -> dt.datetime:
    """The wall clock, to the second: the one clock a test shares with a subprocess it starts."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture
def clock():
    """The process's wall clock stood still at NOW (monotonic time runs on); yields the traveller."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("LISTENER_CONFIG", "LISTENER_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LISTENER_STRICT_TEMPLATES", "1")  # a missing template variable fails the test
    return home
