"""The verdict's speed shortcuts give what the plain code they replace gives, on any text.

`bench.verdict_snapshot` proves it on the development corpora (every number and verdict); these
check each shortcut against its plain form on hostile text (hypothesis) and on awkward cases.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from listener import sentiment
from listener.vader import lexicon_sum
from listener.verdict import languages, masking, model, regexes, rules

AWKWARD = [
    "", " ", "@", "a@b", "x@y.com", "@united hi", "mail me: j.doe+x@mail.example.org!", "_@x.y", "é@x.y", "٣@x.y",
    "Straße ÜBER naïve", "İstanbul K", "👍🏽 great!!! ...", "why?!?! ‽‽ …", "a.b.c.d", "#Fail :) :-( ;p",
    "tab\tnew\nline", "ÅNGSTRÖM Ångström", "ﬁne ﬂight", "x\u200by",
]
TEXT = st.one_of(st.text(max_size=80), st.sampled_from(AWKWARD),
                 st.text(alphabet="aZ@._+-é1 !?.\u2026#:)(😀", max_size=40))


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_letter_words_are_the_runs_of_a_to_z(text):
    lower = text.lower()
    assert rules.letter_words(lower) == re.findall(r"[a-z]+", lower)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_language_words_are_the_regex_words(text):
    assert languages._words(text) == languages._WORD.findall(text)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_no_email_is_missed_by_the_shortcut(text):
    if masking._EMAIL.search(text):
        assert masking._may_have_email(text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(TEXT, st.text(alphabet="a_1@ .é", max_size=30)))
def test_handles_are_found_as_the_plain_lookbehind_finds_them(text):
    assert [m.span() for m in masking._HANDLE.finditer(text)] == [
        m.span() for m in re.finditer(r"(?<![\w@])@\w{1,40}", text)]


@settings(max_examples=600, deadline=None)
@given(st.one_of(TEXT, st.text(alphabet="ab1'#!?:;-()dp ,.\t\u00e9\U0001F600", max_size=40)))
def test_model_tokens_by_translation_are_the_regex_tokens(text):
    lower = text.lower()
    assert model.tokens(lower) == model._TOKEN.findall(lower)


@settings(max_examples=400, deadline=None)
@given(st.one_of(TEXT, st.text(alphabet="ab1'#!?:;-()dp 😀", max_size=40)))
def test_model_tokens_are_the_optional_hash_regex_tokens(text):
    lower = text.lower()
    assert model._TOKEN.findall(lower) == re.findall(
        r"#?[a-z0-9']+|[!?]|[:;]-?[()dp]|[\u2600-\u27bf\U0001F300-\U0001FAFF]", lower)


NAMES = ("Joy Airlines", "joyair", "Quillfeather", "c++", "#tag", "a b", "Dana Reyes", "x")


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(NAMES), st.sampled_from(["JOY", "airlines", "Joy\tAirlines", "@joyair", "#", "_",
                                                                   "xjoyair", "joyairs", "A B", "é", "C++x"]),
                          st.text(alphabet="aj#@_ .,!-xX+", max_size=6)), max_size=12).map(" ".join))
def test_names_are_masked_in_ascii_text_as_the_case_blind_regex_masks_them(text):
    names = masking._names_pattern(NAMES)
    assert names is not None and names.ascii_lower is not None
    assert masking._sub_names(text, names, "xtarget") == names.pattern.subn("xtarget", text)


def test_a_name_not_in_ascii_is_masked_by_the_case_blind_regex():
    names = masking._names_pattern(("Café Lumen",))
    assert names is not None and names.ascii_lower is None
    assert masking._sub_names("CAFÉ LUMEN and #café  lumen", names, "x") == ("x and x", 2)
    joy = masking._names_pattern(("joy",))
    assert joy is not None and masking._sub_names("Café Joy! JOYful", joy, "x") == ("Café x! JOYful", 1)


@settings(max_examples=800, deadline=None)
@given(st.one_of(TEXT, st.text(alphabet="aZx8 .!?\u2026\"')]:;=<3^_-DP😀\t", max_size=60)).map(lambda t: t.replace("\n", " ")))
def test_a_paragraph_has_at_most_one_sentence_more_than_runs_that_may_end_one(text):
    assert len(sentiment.split_sentences(text)) <= len(sentiment._MAY_END.findall(text)) + 1


def test_the_awkward_addresses_are_found():
    addresses = [c for c in AWKWARD if masking._EMAIL.search(c)]
    assert len(addresses) >= 4 and all(map(masking._may_have_email, addresses))
    assert not masking._may_have_email("@united hi @delta") and not masking._may_have_email("@")


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_removed_valence_is_the_lexicon_sum_of_the_sorted_difference(original, rewritten):
    before, after = set(original.split()), set(rewritten.split())
    plain = 0.0 if original == rewritten else (
        lexicon_sum(" ".join(sorted(before - after))) - lexicon_sum(" ".join(sorted(after - before))))
    assert model.removed_valence(original, rewritten) == plain


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["good", "bad", "@acme", "xhandle", "love,", "Love", "the", ":)", "help!!"]), max_size=10),
       st.lists(st.tuples(st.integers(0, 9), st.sampled_from(["xhandle", "xurl", "good", "!!", "the"])), max_size=4))
def test_removed_valence_of_words_replaced_in_place(words, replacements):
    replaced = list(words)
    for i, word in replacements:
        if i < len(replaced):
            replaced[i] = word
    original, rewritten = " ".join(words), " ".join(replaced)
    before, after = set(original.split()), set(rewritten.split())
    plain = 0.0 if original == rewritten else (
        lexicon_sum(" ".join(sorted(before - after))) - lexicon_sum(" ".join(sorted(after - before))))
    assert model.removed_valence(original, rewritten) == plain


def _plain_top_features(names, rows, cls, k=3):
    neg_w, pos_w = rows
    if cls == 0:
        pushes = [1.5 * a - 0.5 * (a + b) for a, b in zip(neg_w, pos_w)]
    elif cls == 2:
        pushes = [1.5 * b - 0.5 * (a + b) for a, b in zip(neg_w, pos_w)]
    else:
        pushes = [-0.5 * (a + b) for a, b in zip(neg_w, pos_w)]
    best = sorted((i for i, p in enumerate(pushes) if p > 0.1), key=lambda i: -pushes[i])[:k]
    return [f"word:{names[i]}" for i in best if not names[i].startswith("rule:")]


WEIGHT = st.sampled_from([0.0, 0.1, 0.2, -0.3, 0.35, 1.0, -1.0, 0.5])  # few values: ties are common


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(WEIGHT, WEIGHT, st.booleans()), max_size=12), st.integers(0, 2))
def test_top_features_are_the_plain_sorted_ones(weights, cls):
    names = tuple(f"rule:r{i}" if is_rule else f"w{i}" for i, (_, _, is_rule) in enumerate(weights))
    rows = ([a for a, _, _ in weights], [b for _, b, _ in weights])
    assert model.top_features(names, [complex(a, b) for a, b, _ in weights], cls) == _plain_top_features(names, rows, cls)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_the_terminator_count_never_changes_what_is_short(text):
    runs = len(sentiment._MAY_END.findall(text))
    assert sum(map(text.count, sentiment._TERMINATOR_CHARS)) >= runs
    plain = not (len(text) > sentiment.SHORT_MAX_CHARS or runs >= sentiment.SHORT_MAX_SENTENCES) and not (
        "\n" in text and sentiment._PARAGRAPH.search(text)) and 0 < len(
        (text if text.isascii() else sentiment.describe_emoji(text)).split()) <= sentiment.MAX_SENTENCE_WORDS
    assert (sentiment._plainly_short(text) is not None) == plain


def test_the_buckets_are_the_hashes_of_the_names():
    f = model.features("xhandle 3 weeks and no reply, please fix", "@acme 3 weeks and no reply, please fix",
                       (-0.3, 0.0, 0.2, 1))
    assert f.buckets == tuple(model.bucket(n) for n in f.names) and "rule:waited" in f.names


def test_a_cue_searched_in_parts_is_its_alternatives_in_order():
    assert regexes.top_level_alternatives(r"a|(b|c)|[|]|\||[]|]x|[^]|]") == ["a", "(b|c)", "[|]", r"\|", "[]|]x", "[^]|]"]
    for rule in rules.RULES:
        assert "|".join(regexes.top_level_alternatives(rule.pattern.pattern)) == rule.pattern.pattern
    in_order = [*dict.fromkeys(part.rule for part in rules._CUE_PARTS.values())]
    assert in_order == [rule.name for rule in rules.RULES if rules._is_cue(rule)]  # ties go to the first, as in RULES
    split = {part.rule for key, part in rules._CUE_PARTS.items() if "." in key}
    assert {"not_working", "no_response", "never_received"} <= split
    for name in split:
        parts = [part.pattern.pattern for part in rules._CUE_PARTS.values() if part.rule == name]
        assert len(parts) > 1 and "|".join(parts) == regexes.scan_friendly(rules._BY_NAME[name].pattern.pattern)


# Every pattern the rule layer searches, as written: the scan-friendly regexes must match as these do.
SEARCHED = [*(rules._BY_NAME[p.rule].pattern.pattern for p in rules._CUE_PARTS.values()),
            *(rule.pattern.pattern for rule, _ in rules._CONTEXT_RULES), rules.REQUEST_SOURCE, rules.NEGATED_SOURCE]
SEARCHED_WORDS = sorted({w for p in SEARCHED for w in re.findall(r"[a-z']+", p)} | {"x", "1", "3", "é"})
SEARCH_TEXT = st.lists(st.one_of(st.sampled_from(SEARCHED_WORDS), st.sampled_from([" ", "  ", "-", "#", "_", "?", "x"])),
                       max_size=14).map("".join)


@settings(max_examples=1500, deadline=None)
@given(SEARCH_TEXT, st.integers(0, 3), st.data())
def test_scan_friendly_regexes_match_as_the_patterns_written(text, pos, data):
    pattern = data.draw(st.sampled_from(SEARCHED))
    plain, friendly = re.compile(pattern), re.compile(regexes.scan_friendly(pattern))
    assert [m.span() for m in plain.finditer(text)] == [m.span() for m in friendly.finditer(text)]
    found, again = plain.search(text, pos), friendly.search(text, pos)
    assert (found and found.span()) == (again and again.span())
    end = len(text) - pos  # as `unless` is searched: in a window that ends before the cue
    found, again = plain.search(text, pos // 2, end), friendly.search(text, pos // 2, end)
    assert (found and found.span()) == (again and again.span())


def test_scan_friendly_moves_a_leading_boundary_behind_the_word():
    assert regexes.scan_friendly(r"\bstill\b|#x") == r"still(?<!\wstill)\b|#x"
    assert regexes.scan_friendly(r"\b(?:lost|broken?)\b") == r"lost(?<!\wlost)\b|broke(?<!\wbroke)n?\b"
    assert regexes.scan_friendly(r"(?<!x\s)\bword|(?:\bnot|n't)\s") == r"word(?<!\wword)(?<!x\sword)|not(?<!\wnot)\s|n't\s"
    assert regexes.scan_friendly(r"\b(?:would|'d)\s+like") == r"would(?<!\wwould)\s+like|'(?<=\w')d\s+like"
    for kept in (r"\b(?:a|b)?c", r"\b\d+", r"\b(?:a|\d)", r"\?|x"):
        assert regexes.scan_friendly(kept) == kept


def test_trigger_rows_that_miscount_a_cues_alternatives_are_refused(monkeypatch):
    rows = [row for row in rules._CUE_TRIGGER_ROWS if row[0] != "why"]
    too_many = [*rows, ("why", ("why",), "", 9), ("why", ("what",), "")]  # past the end, then "the rest"
    too_few = [*rows, ("why", ("why",), "", 1)]
    for bad in (too_many, too_few):
        monkeypatch.setattr(rules, "_CUE_TRIGGER_ROWS", tuple(bad))
        with pytest.raises(ValueError, match="why"):
            rules._cue_parts()
