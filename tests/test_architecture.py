"""The house rules the README's Architecture section states, checked on the code itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "listener"
LEAVES = {"errors", "models", "times", "text", "heat", "lock", "lifeline", "netpolicy", "budget", "vader", "__init__"}
STAGES = {"opml", "match", "sentiment", "schedule", "mood", "mail",
          "threads", "output", "starter", "alerts", "notify"}
TOP = {"cli", "daemon", "__main__", "logs"}
# A stage in a folder: its modules import each other and leaves.
PACKAGED_STAGES = {"verdict", "parse", "triage", "fetch", "config", "report"}
MAX_LINES = 450


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p for p in PACKAGE.rglob("*.py")}


def imported(path: Path) -> set[str]:
    """The listener modules `path` imports, as their first name below `listener` (store, pipeline, text...)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "listener":
            parts = node.module.split(".")
            names |= {a.name for a in node.names} if len(parts) == 1 else {parts[1]}
        elif isinstance(node, ast.Import):
            names |= {a.name.split(".")[1] for a in node.names if a.name.startswith("listener.")}
    return names - {"__version__"}


def test_every_module_has_a_place_in_the_house():
    for name in modules():
        top = name.split(".")[0]
        assert top in LEAVES | STAGES | TOP | PACKAGED_STAGES | {"store", "pipeline"}, f"{name}: add it to the README's house"


@pytest.mark.parametrize("name", sorted(LEAVES - {"__init__"}))
def test_leaves_import_no_listener_module(name):
    allowed = {"errors"} if name == "lock" else set()
    assert imported(PACKAGE / f"{name}.py") <= allowed


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stages_import_only_leaves(name):
    assert imported(PACKAGE / f"{name}.py") <= LEAVES, f"{name} imports a stage"


def test_the_store_imports_only_leaves_and_itself():
    for name, path in modules().items():
        if name.startswith("store"):
            assert imported(path) <= LEAVES | {"store"}, name


def test_a_packaged_stage_imports_only_leaves_and_itself():
    for name, path in modules().items():
        top = name.split(".")[0]
        if top in PACKAGED_STAGES:
            assert imported(path) <= LEAVES | {top}, name


def test_only_the_top_layers_call_the_pipeline():
    for name, path in modules().items():
        if "pipeline" in imported(path):
            assert name.split(".")[0] in TOP | {"pipeline"}, name


def test_rooms_are_small_enough_to_read():
    for name, path in modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= MAX_LINES, f"{name} has {lines} lines"
