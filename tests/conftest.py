"""Shared fixtures: every test runs with HOME and LISTENER_* pointed at its own tmp_path."""

from __future__ import annotations

import pytest

pytest_plugins = ["feedserver", "webhookserver"]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("LISTENER_CONFIG", "LISTENER_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LISTENER_STRICT_TEMPLATES", "1")  # a missing template variable fails the test
    return home
