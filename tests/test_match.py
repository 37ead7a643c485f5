"""Watch-term matching: whole words, phrases, handles, accents, apostrophes, excludes, match: all, snippets."""

from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from listener.match import ELLIPSIS, SNIPPET_CHARS, Watchlist, compile_watchlist, fold, match_text
from listener.models import Match, WatchSpec

WATCH = (
    WatchSpec("acme", ("acme", "@acmehelp"), ("acme corporation of ohio",)),
    WatchSpec("cloud", ("acme cloud",)),
    WatchSpec("tech", ("c++", "acme.io", "o'reilly", "café")),
)


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return compile_watchlist(WATCH)


@pytest.mark.parametrize(("text", "terms"), [
    # whole words, any case
    ("I love Acme", ("acme",)),
    ("ACME!!!", ("acme",)),
    ("Acme's new release", ("acme",)),
    ("#acme is trending", ("acme",)),
    ("the acme-powered widget", ("acme",)),
    ("(acme)", ("acme",)),
    ("Acmeville county fair", ()),
    ("macme and acmes", ()),
    ("acme_bot says hi", ()),
    ("acme2 is a different thing", ()),
    # phrases: any run of whitespace between the words, nothing else
    ("Acme Cloud is down", ("acme", "cloud")),
    ("acme \n\t  CLOUD", ("acme", "cloud")),
    ("acme clouds gather", ("acme",)),
    ("cloud acme", ("acme",)),
    ("acme-cloud", ("acme",)),
    # handles
    ("ping @AcmeHelp please", ("acme",)),
    ("(cc @acmehelp)", ("acme",)),
    ("write to support@acmehelp.com", ()),
    ("@acmehelpdesk is someone else", ()),
    ("acmehelp without the at", ()),
    # terms with punctuation are whole tokens too
    ("I write C++ daily", ("tech",)),
    ("C++, Rust and Go", ("tech",)),
    ("c++11 is old", ()),
    ("visit acme.io.", ("acme", "tech")),
    ("acmexio is not a domain", ()),
    # accents folded on both sides, composed or decomposed
    ("Acmé launches today", ("acme",)),
    ("ÀCMÈ", ("acme",)),
    ("the CAFE is open", ("tech",)),
    ("un café noir", ("tech",)),
    ("un cafe\u0301 noir", ("tech",)),
    ("cafés", ()),
    # curly and straight apostrophes are the same
    ("O’Reilly books", ("tech",)),
    ("O'Reilly books", ("tech",)),
    ("OReilly books", ()),
    ("Acme’s roadmap", ("acme",)),
])
def test_terms(watchlist, text, terms):
    match = match_text(watchlist, text)
    assert match.terms == terms
    assert match.hit is bool(terms)


@pytest.mark.parametrize(("text", "terms"), [
    # an exclude removes its own entry only
    ("Acme Corporation of Ohio sells anvils to acme fans", ()),
    ("ACME  corporation\nof   Ohio; acme cloud", ("cloud",)),
    ("Acme Corporation of Ohioans love acme", ("acme",)),  # exclude is whole words too
    ("acme.io, not the Acme Corporation of Ohio", ("tech",)),
])
def test_excludes(watchlist, text, terms):
    assert match_text(watchlist, text).terms == terms


@pytest.mark.parametrize(("text", "hit", "terms"), [
    ("A review of note apps, none of them ours", True, ()),
    ("A review that mentions Acme Cloud", True, ("acme", "cloud")),
    ("Acme Corporation of Ohio annual report, acme cloud", False, ()),  # any entry's exclude drops the item
    ("", True, ()),
])
def test_match_all(watchlist, text, hit, terms):
    match = match_text(watchlist, text, match_all=True)
    assert (match.hit, match.terms) == (hit, terms)


def test_no_hit_has_no_snippet(watchlist):
    assert match_text(watchlist, "nothing to see here") == Match(False, (), "")


def test_terms_in_config_order_not_text_order(watchlist):
    assert match_text(watchlist, "C++ then acme").terms == ("acme", "tech")


def test_empty_watchlist():
    assert match_text(compile_watchlist([]), "acme") == Match(False, (), "")
    assert match_text(compile_watchlist([]), "acme", match_all=True).hit


def test_watchlist_pickles(watchlist):
    clone = pickle.loads(pickle.dumps(watchlist))
    assert clone == watchlist
    assert match_text(clone, "Acmé’s C++ SDK") == match_text(watchlist, "Acmé’s C++ SDK")


def test_one_compiled_regex_per_entry(watchlist):
    assert watchlist.names == ("acme", "cloud", "tech")
    assert all(isinstance(entry.terms, re.Pattern) for entry in watchlist.entries)
    assert watchlist.entries[0].exclude is not None and watchlist.entries[2].exclude is None


@given(st.text())
def test_folding_character_by_character_agrees_with_folding_the_text(text):
    # Snippets map match positions back through per-character folding; the two must agree.
    assert "".join(fold(ch) for ch in text) == fold(text)


def test_fold():
    assert fold("Acmé’s  ÇLOUD") == "acme's  cloud"
    assert fold("Straße") == "strasse"
    assert fold("O´Reilly ʼn ＇x") == "o'reilly 'n 'x"
    assert fold("ac\u0301me\U0001D165 😍") == "acme 😍"  # combining marks in and beyond the BMP


# --- snippets -----------------------------------------------------------------------------

WORDS = " ".join(f"word{i}" for i in range(200))


def _assert_whole_words(snippet: str, text: str) -> None:
    words = set(text.split())
    assert all(word in words for word in snippet.strip(ELLIPSIS).split()), snippet


@pytest.mark.parametrize(("text", "expected"), [
    ("Acme is great", "Acme is great"),
    ("  Acme\n\n is   great  ", "Acme is great"),
    (f"ÀCMÉ rocks. {WORDS}", None),
    (f"{WORDS} Acmé rocks {WORDS}", None),
    (f"{WORDS} the end, acme", None),
])
def test_snippet_around_first_term(watchlist, text, expected):
    snippet = match_text(watchlist, text).snippet
    if expected is not None:
        assert snippet == expected
        return
    assert len(snippet) <= SNIPPET_CHARS + 2
    assert len(snippet) >= SNIPPET_CHARS - 30  # uses its budget
    assert re.search(r"(?i)acm[eé]|ÀCMÉ", snippet)
    assert snippet.startswith(ELLIPSIS) is not text.startswith("ÀCMÉ")
    assert snippet.endswith(ELLIPSIS) is not text.endswith("acme")
    _assert_whole_words(snippet, text.replace("\n", " "))


def test_snippet_centres_on_the_earliest_match(watchlist):
    text = f"{WORDS} C++ here {WORDS} acme later"
    snippet = match_text(watchlist, text).snippet
    assert "C++ here" in snippet and "acme" not in snippet
    before, after = snippet.split("C++", 1)
    assert abs(len(before) - len(after)) < 40


def test_snippet_keeps_original_accents_and_case(watchlist):
    text = f"{WORDS} Straße ÀCMÈ’s café {WORDS}"
    assert "Straße ÀCMÈ’s café" in match_text(watchlist, text).snippet


def test_snippet_finds_the_term_when_folding_changes_lengths(watchlist):
    text = "Straße " * 100 + "ﬁne ÀCMÈ’s café " + "Straße " * 100  # "ß" folds to "ss", "ﬁ" to "fi"
    snippet = match_text(watchlist, text).snippet
    before, after = snippet.split("ÀCMÈ’s", 1)
    assert abs(len(before) - len(after)) < 20


def test_match_all_snippet_is_the_start(watchlist):
    snippet = match_text(watchlist, WORDS, match_all=True).snippet
    assert snippet.startswith("word0 word1 ") and snippet.endswith(ELLIPSIS)
    assert len(snippet) <= SNIPPET_CHARS + 1
    _assert_whole_words(snippet, WORDS)


def test_snippet_of_a_term_longer_than_the_budget():
    term = " ".join(["long"] * 80)
    wl = compile_watchlist([WatchSpec("long", (term,))])
    snippet = match_text(wl, f"start {term} end").snippet
    assert snippet.startswith(f"{ELLIPSIS}long") and len(snippet) <= SNIPPET_CHARS + 2


_filler = st.lists(st.text(alphabet="abcdéxyz’'.,!? \n", min_size=1, max_size=12), max_size=60).map(" ".join)


@given(before=_filler, after=_filler)
def test_snippet_always_holds_the_term_and_fits(before, after):
    wl = compile_watchlist([WatchSpec("acme", ("@acmehelp",))])
    match = match_text(wl, f"{before} @AcmeHelp {after}")
    assert match.hit and "@AcmeHelp" in match.snippet
    assert len(match.snippet) <= SNIPPET_CHARS + 2
