"""Read commands import only what they use (issue 15): their whole run is mostly Python start-up and
imports, so loading the fetcher, the parser, VADER or Jinja would cost more than their query."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from listener import store

HEAVY = ("httpx", "feedparser", "jinja2", "apscheduler", "apprise", "numpy", "vaderSentiment", "pandas")
PROBE = """
import json, runpy, sys
sys.argv = ["listener", *json.loads(sys.argv[1])]
try:
    runpy.run_module("listener", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


@pytest.mark.parametrize("command", [["mentions"], ["feeds"], ["threads", "--limit", "5"],
                                     ["mentions", "--format", "json"]])
def test_read_commands_leave_the_heavy_modules_unloaded(tmp_path, command):
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - name: Blog\n    url: https://blog.example/feed\nwatch:\n  - name: acme\n    terms: [acme]\n")
    db = store.open_db(tmp_path / "listener.db")
    store.sync_feeds(db, [])
    db.close()
    args = ["--config", str(config), *command]
    result = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,), json.dumps(args)],
                            capture_output=True, text=True, timeout=60)
    probe = json.loads(result.stderr.strip().splitlines()[-1])
    assert probe == {"code": 0, "heavy": []}, result.stderr


def test_the_pipeline_still_exports_every_name():
    import listener.pipeline.poll  # noqa: F401 - the submodule must not hide the function of its name
    import listener.pipeline.upkeep  # noqa: F401
    from listener import pipeline

    assert all(callable(getattr(pipeline, name)) for name in pipeline.__all__)
    with pytest.raises(AttributeError):
        pipeline.no_such_thing  # noqa: B018


def test_every_exported_name_has_one_home():
    from listener import pipeline

    assert sorted(pipeline.__all__) == sorted(pipeline._MODULE_OF)
