"""bench.verdict_snapshot: what proves a speed-up changed no number and no verdict finds a change."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the bench package lives beside listener

from bench import verdict_snapshot  # noqa: E402

TEXTS = ["@united lost my bag, 3 weeks and no reply. Thanks for nothing", "Great flight, thank you Sarah!",
         "Das ist ein deutscher Satz, bitte sehr", "why is the app down again?? 😡", ""]


def test_a_snapshot_compares_equal_to_itself_and_finds_a_changed_verdict(tmp_path, capsys):
    path = tmp_path / "snap.jsonl.gz"
    assert verdict_snapshot.write(path, TEXTS) == 2 * len(TEXTS)
    assert verdict_snapshot.compare(path, TEXTS) == []
    rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    assert {r["setting"] for r in rows} == {"plain", "targets"}
    assert rows[0]["score_item:service"][4] == "negative"  # VADER's four numbers, then the verdict's fields
    rows[0]["score_item:service"][4] = "positive"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    differences = verdict_snapshot.compare(path, TEXTS)
    assert len(differences) == 1 and TEXTS[0][:20] in differences[0]
