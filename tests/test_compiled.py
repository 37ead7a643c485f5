"""The modules every item runs through are compiled (setup.py, mypyc) and give what their source gives.

mypyc compiles the typed source as written; where its semantics could differ (a float held as an
int, a type checked at run time), the compiled code would give another number or fail. The
source's own results, from a process that imports listener from its .py files (`bench.pure`), are
the reference: every VADER number and every field of every verdict, with and without watched terms
and staff names (`bench.verdict_snapshot`), on awkward written texts, the sample feeds and, where
they are at hand, the real-world feeds.
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from bench import verdict_snapshot
from bench.pure import is_compiled


def compiled_sources() -> list[str]:
    """setup.py's COMPILED list, read without running the build."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COMPILED" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no COMPILED list")


def module_name(source: str) -> str:
    return source.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


COMPILED = [module_name(s) for s in compiled_sources()]


def test_the_build_names_modules_that_exist():
    assert "listener.vader" in COMPILED and "listener.verdict.judging" in COMPILED
    for source in compiled_sources():
        assert (ROOT / source).is_file(), source


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="a development checkout may run the source (make pure)")
def test_in_ci_every_module_of_the_build_runs_compiled():
    assert [name for name in COMPILED if not is_compiled(name)] == []


WRITTEN = [
    "", " ", "@united lost my bag, 3 weeks and no reply. Thanks for nothing", "Great flight, thank you Sarah!",
    "Das ist ein deutscher Satz, bitte sehr", "why is the app down again?? 😡", "@acme help!! 3 weeks and no reply, please fix",
    "Still on hold after 2 hours. Never received my refund #fail", "I don't hate it, but it isn't great either...",
    "NOT working AGAIN!!! :( ", "kind of the bomb, to die for", "Straße ÜBER naïve 👍🏽 great!!! ...", "x\u200by",
    "Quillfeather sync is slow today. Sigh. Jo, can you look into it? mail jo@quill.example or see https://q.example/x",
    "Love how my order was cancelled yet again. Great job.", "no one panic, the site is back up", "tab\tnew\nline\n\npara",
    "It's 4.2 stars. U.S. shipping? e.g. slow.", "la la la " * 60, "Thanks a lot for ruining my weekend @Acme_Help",
]
WORDS = sorted({w for text in WRITTEN for w in re.split(r"\s+", text) if w}) + [
    "never", "no", "not", "didn't", "won't", "so", "very", "extremely", "but", "at", "least", "without", "doubt",
    "hours", "days", "ago", "delayed", "broken", "refund", "waiting", "why", "seriously", "love", "hate", "best",
    "@quillfeather", "#customerservice", "xtarget", "😀", "😡", "!!!", "???", ":)", ":-(", "ÅNGSTRÖM",
]


def generated_texts(n: int = 1500, seed: int = 7) -> list[str]:
    """Texts put together from WORDS, of every length up to a long post: the same ones on every run."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.choice((1, 3, 8, 20, 40, 120)))]
        words = [w.upper() if rng.random() < 0.05 else w for w in words]
        texts.append(rng.choice((" ", " ", " ", ". ", "! ", "\n")).join(words))
    return texts


def feed_texts(folder: Path) -> list[str]:
    import feedparser

    texts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".xml", ".atom", ".rss", "")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            texts.append(f"{entry.get('title', '')}\n\n{entry.get('summary', '')}"[:6000])
    return texts


def corpus() -> list[str]:
    texts = WRITTEN + generated_texts() + feed_texts(ROOT / "sample")
    realfeeds = ROOT.parent / "shared" / "realfeeds"
    if realfeeds.is_dir():
        texts += feed_texts(realfeeds)
    return list(dict.fromkeys(texts))


@pytest.mark.skipif(not all(map(is_compiled, COMPILED)), reason="the scoring modules are not compiled (make test)")
def test_the_compiled_modules_give_every_number_and_verdict_their_source_gives(tmp_path):
    texts = corpus()
    (tmp_path / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    reference = tmp_path / "source.jsonl.gz"
    run = subprocess.run([sys.executable, "-c", f"""
import json, sys
from bench.pure import build, source_only
source_only()
from bench import verdict_snapshot
from bench.pure import is_compiled
assert build() == "pure Python", build()
texts = json.loads(open({str(tmp_path / "texts.json")!r}, encoding="utf-8").read())
verdict_snapshot.write(__import__("pathlib").Path({str(reference)!r}), texts)
"""], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert len(texts) > 1500
    assert verdict_snapshot.compare(reference, texts) == []
