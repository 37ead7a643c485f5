"""tests/RELIABILITY_MAP.md names a real test (or a reason) for every row of RELIABILITY.md."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
MAP = TESTS / "RELIABILITY_MAP.md"
ROWS = [f"{group}{n}" for group, count in zip("ABCDEFGH", (17, 11, 6, 8, 7, 8, 8, 4)) for n in range(1, count + 1)]
NODE = re.compile(r"tests/(test_\w+\.py)::(test_\w+)")


@functools.cache
def table() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in MAP.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"[A-H]\d+", cells[0]):
            assert cells[0] not in rows, f"{cells[0]} is listed twice"
            rows[cells[0]] = (cells[1], cells[2])
    return rows


@functools.cache
def functions_in(file: str) -> set[str]:
    tree = ast.parse((TESTS / file).read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")}


def test_every_reliability_row_is_mapped_once():
    assert sorted(table(), key=ROWS.index) == ROWS


@pytest.mark.parametrize("row", ROWS)
def test_each_mapped_test_exists(row):
    test, note = table()[row]
    if test == "out of scope":
        assert note, f"{row}: out of scope needs a reason"
        return
    for file, name in NODE.findall(f"{test} {note}"):
        assert (TESTS / file).exists(), f"{row}: no {file}"
        assert name in functions_in(file), f"{row}: no {name} in {file}"
    assert NODE.fullmatch(test), f"{row}: {test!r} is not a node id"
