"""Shared fixtures: every test runs with HOME and LISTENER_* pointed at its own tmp_path.

Time has one source per test. In-process tests build their data from `NOW` and pass `now=`
down; where the code under test reads the clock itself (store.utcnow), the `clock` fixture
stands it still at `NOW`. Tests that drive the CLI or the daemon as a subprocess share no clock
with the child but the wall clock, so they build their data from `wall_now()` at call time and
never from a fixed date. `make test-clock` runs the suite with the wall clock a year either way.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from hypothesis import HealthCheck, settings

pytest_plugins = ["feedserver", "webhookserver"]

# Property tests check what code does, not how fast: a busy or faketime-slowed machine must not
# fail them on Hypothesis's 200 ms deadline per example or its too-slow input generation check.
settings.register_profile("listener", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("listener")

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
ROOT = Path(__file__).resolve().parents[1]


def stale_compiled_modules() -> list[str]:
    """listener's sources changed after they were compiled (setup.py): Python would run the old code."""
    stale = []
    for compiled in (ROOT / "listener").rglob("*.so"):
        source = compiled.with_name(compiled.name.split(".")[0] + ".py")  # "rules.cpython-311-x86_64-linux-gnu.so"
        if source.is_file() and source.stat().st_mtime > compiled.stat().st_mtime:
            stale.append(str(source.relative_to(ROOT)))
    return sorted(stale)


def pytest_configure(config):
    if stale := stale_compiled_modules():
        raise pytest.UsageError(f"{', '.join(stale)} changed after it was compiled: `make test` compiles it again "
                                "(`make pure` runs the source instead)")


def run_cli(*args: str, config: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None,
            cwd: str | os.PathLike[str] | None = None, timeout: float = 120, columns: int | None = None,
            **popen) -> subprocess.CompletedProcess:
    """The one way tests run the real `listener` command: a subprocess, as cron or a person would."""
    command = [sys.executable, "-m", "listener", *(["--config", str(config)] if config else []), *args]
    environment = {**os.environ, **(env or {})}
    if columns:
        environment["COLUMNS"] = str(columns)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=environment,
                          **popen)


_MODULES_PROBE = """
import json, runpy, sys
wanted = json.loads(sys.argv[2])
sys.argv = ["listener", *json.loads(sys.argv[1])]
try:
    runpy.run_module("listener", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": sorted(name for name in wanted if name in sys.modules)}), file=sys.stderr)
"""


def modules_loaded(args: list[str], modules: tuple[str, ...], timeout: float = 120) -> dict:
    """Run the real CLI with `args` in a fresh interpreter: its exit code, its stdout, and which of
    `modules` it imported (a package counts once any of its modules is)."""
    import json

    result = subprocess.run([sys.executable, "-c", _MODULES_PROBE, json.dumps(args), json.dumps(list(modules))],
                            capture_output=True, text=True, timeout=timeout)
    return {**json.loads(result.stderr.strip().splitlines()[-1]), "stdout": result.stdout}


@pytest.fixture
def listener_cli():
    """`listener_cli(*args, config=...)`: the CLI as a subprocess (see run_cli)."""
    return run_cli


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "listener.db"


@pytest.fixture
def db(db_path):
    """A migrated SQLite file under tmp_path, closed after the test."""
    from listener import store

    database = store.open_db(db_path)
    yield database
    database.close()


@pytest.fixture
def config_file(tmp_path) -> str:
    """A feeds.yaml in tmp_path watching Quillfeather, with no feeds yet."""
    from feedgen import Watchlist

    return Watchlist().write(tmp_path)


def wall_now() -> dt.datetime:
    """The wall clock, to the second: the one clock a test shares with a subprocess it starts."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture
def clock():
    """The process's wall clock stood still at NOW (monotonic time runs on); yields the traveller."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(scope="session", autouse=True)
def cache_outside_home(tmp_path_factory):
    """Module-scoped fixtures run before isolated_env: their config cache must not land in the real HOME."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))  # the config cache (config/cache.py)
    for name in ("LISTENER_CONFIG", "LISTENER_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LISTENER_STRICT_TEMPLATES", "1")  # a missing template variable fails the test
    return home
