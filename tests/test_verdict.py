"""The verdict: masking, each service-language rule, the model, the language gate, the scorers."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from listener import verdict
from listener.verdict import Verdict, judge, language, load_model
from listener.verdict.masking import mask
from listener.verdict.rules import RULES, apply_rules, shift_compound

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LISTENER_SENTIMENT_DATA", Path(__file__).resolve().parents[2] / "shared" / "sentiment-data"))
VADER = SentimentIntensityAnalyzer()


# --- masking ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected", "kinds"), [
    ("@united lost my bag", "xhandle lost my bag", ("handle", "target")),
    ("@United_Help lost my bag", "xhandle lost my bag", ("handle", "target")),
    ("@AcmeHelpDesk is down", "xhandle is down", ("handle", "target")),
    ("@dana lost my bag", "xhandle lost my bag", ("handle",)),
    ("United lost my bag again", "xtarget lost my bag again", ("target",)),
    ("#united fail", "xtarget fail", ("target",)),
    ("Acme   Cloud is down", "xtarget is down", ("target",)),
    ("Dana Reyes never answered", "xstaff never answered", ("staff",)),
    ("see https://acme.example/status?x=1 now", "see xurl now", ("url",)),
    ("mail joy@acme.example please", "mail xemail please", ("email",)),
    ("unitedly we stand", "unitedly we stand", ()),
])
def test_masking_turns_the_target_into_placeholders(text, expected, kinds):
    masked = mask(text, targets=["united", "acme cloud", "@acmehelp"], staff=["Dana Reyes"])
    assert masked.text == expected
    assert masked.masked == kinds


def test_a_brand_name_is_not_sentiment():
    text = "Joy Airlines flight 12 to Boston"
    assert VADER.polarity_scores(text)["compound"] > 0.3  # "joy" is +2.8 for VADER
    assert mask(text, targets=["joy airlines"]).text == "xtarget flight 12 to Boston"
    assert VADER.polarity_scores(mask(text, targets=["joy airlines"]).text)["compound"] == 0
    assert judge(text, targets=["joy airlines"]).sentiment != "positive"


def test_text_not_about_the_brand_keeps_vaders_judgement():
    """General language (no watched term, no complaint cue): VADER, validated on it, decides."""
    general = judge("Feeling a lot better today, even if I am worrying about the exam. :)", targets=["acme"])
    assert general.sentiment == "positive"
    assert "decided_by:general_text" in general.why
    assert judge("Please, can you help me with my account?", targets=["acme"]).sentiment == "neutral"  # politeness


@pytest.mark.parametrize("text", [
    "Please spread the word about our bake sale",
    "I have a couple of spare cables. Does that help?",
    "Interesting survey. Do you use it? Thank you.",
])
def test_a_friendly_request_that_names_no_one_keeps_vaders_reading_of_its_politeness(text):
    """Not about the brand and no plea for help: "please" and "thank you" read as VADER reads them."""
    verdict = judge(text, targets=["acme"])
    assert VADER.polarity_scores(text)["compound"] >= 0.05
    assert verdict.sentiment == "positive" and "politeness_kept:no_plea" in verdict.why


@pytest.mark.parametrize("text", [
    "Please, can you help me with my account?",
    "pls help, what do I do now?",
    "Could someone please fix the export?",
    "please help, my account is locked",
    "I sent you a DM yesterday, please check it",
    "my headphones turn themselves off at night. Help?",
])
def test_a_plea_for_help_is_service_language_wherever_it_is_written(text):
    verdict = judge(text, targets=["acme"])
    assert verdict.sentiment == "neutral" and "politeness_kept:no_plea" not in verdict.why


def test_complaint_language_is_judged_by_the_model_even_without_the_brand():
    verdict = judge("still broken after 3 weeks and nobody answers", targets=["acme"])
    assert verdict.sentiment == "negative" and verdict.complaint
    assert "decided_by:general_text" not in verdict.why


def test_a_mention_of_the_brand_is_judged_by_the_model():
    about = judge("@AcmeSupport bought it to play games but guess not", targets=["acme"])
    assert "masked:target" in about.why and "decided_by:general_text" not in about.why
    forced = judge("bought it to play games but guess not", about_target=True)
    assert "decided_by:general_text" not in forced.why


def test_placeholders_are_neutral_for_vader():
    for placeholder in ("xtarget", "xhandle", "xstaff", "xurl", "xemail"):
        assert VADER.polarity_scores(placeholder)["compound"] == 0


# --- rules --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "rule"), [
    ("please fix my account", "politeness"),
    ("dear support, kindly help", "politeness"),
    ("can you reset my password? thanks in advance", "courtesy_thanks"),
    ("thanks for nothing", "thanks_for_nothing"),
    ("love how my flight got cancelled again", "sarcastic_praise"),
    ("great job, 3 hours late", "sarcastic_praise"),
    ("3 weeks and nothing", "waited"),
    ("two hours on hold", "on_hold"),
    ("still broken", "still"),
    ("down again", "again"),
    ("not fixed yet", "not_yet"),
    ("no reply to my emails", "no_response"),
    ("I never received my order", "never_received"),
    ("where is my package", "never_received"),
    ("the app is not working", "not_working"),
    ("it doesn't work", "not_working"),
    ("app won\u2019t load", "not_working"),
    ("the site is down", "not_working"),
    ("power is out since noon", "not_working"),
    ("I didn't receive my order", "never_received"),
    ("parts haven't yet arrived", "not_yet"),
    ("they haven't replied", "no_response"),
    ("having issues with checkout", "problem"),
    ("having trouble with my login", "problem"),
    ("thanks so much for wasting my afternoon", "thanks_for_nothing"),
    ("Thanks Acme for ruining my week", "thanks_for_nothing"),
    ("still not resolved", "unresolved"),
    ("your website is a joke", "unresolved"),
    ("we have had no broadband since 9am", "not_working"),
    ("they hung up on me twice", "no_response"),
    ("#WouldNotRecommend", "fail_tag"),
    ("I can't log in", "not_working"),
    ("I want a refund", "refund"),
    ("my flight was cancelled", "cancelled"),
    ("they lost my luggage", "lost"),
    ("why is this so hard", "why"),
    ("#fail", "fail_tag"),
    ("stuck waiting at the gate", "stuck"),
])
def test_each_rule_fires_on_its_language(text, rule):
    assert rule in apply_rules(text).fired


def test_every_rule_is_tested_above():
    tested = {
        "politeness", "courtesy_thanks", "thanks_for_nothing", "sarcastic_praise", "waited", "on_hold", "still",
        "again", "not_yet", "no_response", "never_received", "not_working", "refund", "cancelled", "lost", "why",
        "fail_tag", "stuck", "problem", "unresolved",
    }
    assert {rule.name for rule in RULES} == tested


@pytest.mark.parametrize("text", [
    "Thanks for the quick fix, love it!",
    "I still love this app",
    "my flight was not cancelled, what a relief",
    "no delays today, great crew",
    "The new editor is lovely",
    "heading down to the coast, who's in?",
    "I'm down for it",
    "No issues at all, works great",
    "it was a bit of trial and error, now it sings",
    "they fixed my flat in 45 minutes",
    "worth $200 a day, easily",
    "it saves my work every 15 minutes",
    "replied within 24 hours, lovely",
    "I'd watch it again and again",
    "hopefully that doesn't happen to you",
    "I don't like working out but I feel better after",
    "they can crash on my futon tonight",
    "I don't get to smile often, you know",
    "Ok nobody panic, it is all good",
    "Hello my doodle bugs, the contest is on",
])
def test_no_complaint_cue_fires_on_praise(text):
    ruled = apply_rules(text)
    assert ruled.cue_weight == 0
    assert not set(ruled.fired) - {"politeness", "courtesy_thanks"}


def test_politeness_is_removed_from_what_vader_reads():
    ruled = apply_rules("xhandle help!! 3 weeks and no reply, please fix")
    assert "help" not in ruled.text and "please" not in ruled.text
    assert VADER.polarity_scores("xhandle help please, my order is stuck")["compound"] > 0  # cause 2
    assert apply_rules("xhandle help please, my order is stuck").text.count("help") == 0
    assert shift_compound(VADER.polarity_scores(ruled.text)["compound"], ruled.cue_weight) < -0.5


def test_thanks_stays_positive_outside_a_request_or_complaint():
    ruled = apply_rules("Thanks, the new release is lovely")
    assert "courtesy_thanks" not in ruled.fired and "Thanks" in ruled.text


def test_not_getting_the_point_is_not_a_missing_delivery():
    assert "never_received" not in apply_rules("I don't get why people hate it").fired
    assert "never_received" in apply_rules("I didn't get my refund").fired


def test_an_idiom_that_looks_like_a_cue_is_told_from_the_cue():
    assert "never_received" in apply_rules("the parcel never got to me").fired  # "got to" + where it went
    assert "never_received" not in apply_rules("I didn't get to see the show").fired  # + a verb: a chance missed
    assert "not_working" in apply_rules("the app crashed on my phone").fired
    assert "not_working" not in apply_rules("you can crash at Tom's place").fired  # a bed for the night
    assert "no_response" in apply_rules("nobody replied in a week").fired
    assert "no_response" not in apply_rules("nobody panic").fired  # reassurance
    assert "not_working" in apply_rules("bed bugs in room 12").fired  # a hotel's trouble, not a pet name
    assert "not_working" in apply_rules("the app has bugs").fired


def test_what_was_promised_and_did_not_happen_is_unresolved():
    assert "unresolved" in apply_rules("the callback they promised didn't happen").fired
    assert "unresolved" in apply_rules("the refund has not happened").fired


def test_only_the_writer_asking_is_a_request():
    assert apply_rules("I would like a refund").request and apply_rules("we'd like a callback").request
    assert not apply_rules("Graham would like these 8 stocks for 2010").request


def test_negation_cancels_a_negatable_cue():
    assert "cancelled" in apply_rules("my flight was cancelled").fired
    assert "cancelled" not in apply_rules("my flight was not cancelled").fired
    assert "lost" not in apply_rules("they never lost a bag of mine").fired


def test_in_the_mean_of_sentences_a_cue_counts_in_one_sentence():
    one = shift_compound(0.3, -2.0)
    assert shift_compound(0.3, -2.0, sentences=1) == one
    assert shift_compound(0.3, -2.0, sentences=4) == pytest.approx(0.3 + (one - 0.3) / 4, abs=1e-4)


def test_a_long_text_keeps_vaders_mean_when_one_sentence_has_a_cue():
    from listener.sentiment import score

    text = " ".join(["The new editor is lovely.", "Export is quick.", "Search works well.", "Sync is great.",
                     "I still use the old theme.", "Thanks for the update!"])
    scores = score(text)
    assert scores.sentences == 6 and scores.compound > 0.3
    _, v = verdict.score_item(text, vader=score)
    assert v.sentiment == "positive", v


def test_shift_compound_is_vaders_normalisation():
    assert shift_compound(0.0, 0.0) == 0.0
    assert shift_compound(0.0, -2.0) == pytest.approx(-2 / (4 + 15) ** 0.5, abs=1e-4)
    assert -1 < shift_compound(0.9, -50) < -0.9
    assert shift_compound(0.5, -1) < 0.5


# --- the verdict --------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "@acme help!! 3 weeks and no reply, please fix",
    "@acme thanks for nothing #fail",
    "Still waiting for my refund, 2 hours on hold. Thanks a lot.",
    "@acme my order never arrived and nobody answers the phone",
    "Love how the app crashes every time I open it. Great job @acme",
])
def test_complaints_are_negative_complaints(text):
    v = judge(text, targets=["acme"])
    assert v.sentiment == "negative" and v.complaint, v


@pytest.mark.parametrize("text", [
    "@acme thanks so much, the new editor is wonderful!",
    "Loving the new Acme release, great work team :)",
])
def test_praise_is_positive_and_no_complaint(text):
    v = judge(text, targets=["acme"])
    assert v.sentiment == "positive" and not v.complaint, v


def test_a_verdict_says_why():
    v = judge("@acme help!! 3 weeks and no reply, please fix", targets=["acme"])
    assert isinstance(v, Verdict) and v.language == "en" and 0 <= v.confidence <= 1
    assert "masked:handle" in v.why and "rule:politeness" in v.why and "rule:no_response" in v.why
    assert any(w.startswith("vader_after_rules:") for w in v.why)
    assert verdict.verdict_json(v).startswith('["masked:handle"')


def test_the_vader_scorer_is_todays_behaviour():
    text = "@united help please, thanks!"
    compound = VADER.polarity_scores(text)["compound"]
    v = judge(text, scorer="vader", compound=compound)
    assert v.sentiment == "positive" and v.complaint is False
    assert judge(text, scorer="vader", compound=-0.05).sentiment == "negative"  # the boundary is negative
    assert judge(text, scorer="vader", compound=0.0).sentiment == "neutral"
    assert judge("I hate it", scorer="vader", thresholds=(-0.9, 0.9)).sentiment == "neutral"


def test_an_empty_text_is_neutral():
    assert judge("").sentiment == "neutral"


def test_a_long_text_is_bounded():
    v = judge("The sync is broken again and nobody answers. " * 2_000)
    assert v.sentiment == "negative"


# --- language -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "code"), [
    ("Das ist leider gar nicht gut, die App stürzt ständig ab und keiner antwortet.", "de"),
    ("Je suis très déçu par le service client, personne ne répond.", "fr"),
    ("El vuelo fue cancelado y nadie me ayuda con el reembolso.", "es"),
])
def test_other_languages_are_unknown(text, code):
    v = judge(text)
    assert v.language == code and v.sentiment == "unknown" and not v.complaint
    assert f"language:{code}" in v.why


@pytest.mark.parametrize("text", ["thx", "@acme ok", "lol", "Danke!", "merci"])
def test_very_short_texts_default_to_english(text):
    assert language(mask(text).text)[0] == "en"
    assert judge(text).sentiment != "unknown"


def test_hashtags_do_not_say_the_language():
    assert language("Troops head towards Tal Abta town west of the city #Mosul #ام_الربيعين_تجمعنا xurl")[0] == "en"
    assert language("El vuelo fue cancelado y nadie me ayuda #vuelos #reembolso #ayuda")[0] == "es"


def test_english_skips_the_identifier(monkeypatch):
    def boom() -> None:
        raise AssertionError("the identifier should not be needed")

    monkeypatch.setattr("listener.verdict.languages._identifier", boom)
    assert language("my flight was cancelled and nobody is at the desk")[0] == "en"


# --- the model ----------------------------------------------------------------------------

def test_the_model_is_loaded_once_per_process():
    load_model.cache_clear()
    first = load_model()
    judge("the app is broken again")
    judge("love it")
    assert load_model() is first and load_model.cache_info().misses == 1


def test_each_names_weights_are_its_buckets_relative_to_neutral():
    import numpy as np

    from listener.verdict import model as verdict_model

    m = load_model()
    names = ("refund", "still", "rule:waited", "a-word-never-seen-é", "refund")
    w = m.sparse.astype(np.float64)
    rows = [w[verdict.bucket(n)] for n in names]
    weights = verdict_model.weights_of(m, names)
    assert [x.real for x in weights] == [float(np.float32(r[0] - r[1])) for r in rows]
    assert [x.imag for x in weights] == [float(np.float32(r[2] - r[1])) for r in rows]
    assert sum(1 for x in m.relative if x) < len(m.relative) // 2  # most buckets are empty, and share one 0j


def test_the_weights_are_small_package_data():
    path = ROOT / "listener" / "data" / "verdict.npz"
    assert path.stat().st_size <= 5 * 1024 * 1024
    model = load_model()
    assert model.sparse.shape == (1 << verdict.HASH_BITS, 3)
    assert model.dense.shape == (len(verdict.DENSE), 3)


@pytest.mark.skipif(not (DATA / "semeval2017-task4a").is_dir(), reason=f"no training data at {DATA}")
@pytest.mark.timeout(300)
def test_the_weights_rebuild_byte_for_byte(tmp_path):
    out = tmp_path / "verdict.npz"
    subprocess.run([sys.executable, str(ROOT / "tools" / "train_verdict.py"), "--data", str(DATA), "--out", str(out)],
                   check=True, capture_output=True)
    shipped = (ROOT / "listener" / "data" / "verdict.npz").read_bytes()
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(shipped).hexdigest()


# --- VADER's numbers, faster --------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "The app is NOT working, again!!", "I kind of like it but the delivery was awful", "never so happy :) 😂😂",
    "not the best, at least not bad", "no good no no", "It was the shit!!! ???", "without doubt great",
    "SO GOOD and so bad", "🙂x😡 y", "a\n😂 b", "", "   ", "kind of", "the bomb, bad ass, yeah right",
    "I don't love it", "hardly good", "Cut the mustard? no way", "really really REALLY good",
])
def test_fast_polarity_is_vaders(text):
    from listener.vader import polarity

    d = VADER.polarity_scores(text)
    assert polarity(text) == (d["compound"], d["pos"], d["neu"], d["neg"])


def _corpus_texts() -> list[str]:
    from bench.verdict_snapshot import development_texts

    return development_texts(DATA)


@pytest.mark.skipif(not (DATA / "semeval2017-task4a").is_dir(), reason=f"no development data at {DATA}")
@pytest.mark.timeout(300)
def test_fast_polarity_and_the_cue_shortcut_agree_on_every_development_text():
    from listener.vader import polarity
    from listener.verdict import rules

    every_cue = rules._cue_pattern()  # the alternation of every cue: what the shortcuts must equal

    def all_cues(text: str) -> dict[str, int]:
        hits: dict[str, int] = {}
        lower = rules.lowered(text)
        for m in every_cue.finditer(lower):
            name = m.lastgroup or ""
            unless = rules._BY_NAME[name].unless
            if unless is not None and unless.search(lower, max(0, m.start() - 40), m.start()):
                continue
            hits[name] = hits.get(name, 0) + 1
        return hits

    for text in _corpus_texts():
        d = VADER.polarity_scores(text)
        assert polarity(text) == (d["compound"], d["pos"], d["neu"], d["neg"]), text
        masked = mask(text).text
        assert rules.cue_hits(masked) == all_cues(masked), masked
        lower = rules.lowered(masked)
        if rules.REQUEST.search(lower) and "?" not in lower:
            assert rules._may_request(rules.letter_words(lower)), masked


# --- score_item, the examples, the language shortcut --------------------------------------

def test_score_item_runs_vader_once_and_returns_its_numbers():
    from listener.sentiment import score

    calls = []

    def vader(text):
        calls.append(text)
        return score(text)

    text = "@acme 3 weeks and no reply, please fix"
    scores, v = verdict.score_item(text, vader=vader, targets=["acme"])
    assert calls == [text] and scores == score(text)
    assert v == judge(text, targets=["acme"])
    assert verdict.score_item(text, vader=vader, scorer="vader")[1] == judge(text, scorer="vader", compound=scores.compound)


BATCH_TEXTS = [
    "@acme 3 weeks and no reply, please fix",  # a mention the model decides
    "Thanks @acme, the new notes view is lovely!",
    "Ich warte seit drei Wochen auf eine Antwort, das ist nicht in Ordnung und sehr ärgerlich",  # unknown language
    "",  # nothing to score
    "https://quillfeather.example/notes",  # only a placeholder is left
    "Can anyone recommend a good tea shop in town?",  # general text: VADER's reading stands
    "Sync is down again. Third time this week. Support never answered my ticket. What is going on? Fix it.",
]


@pytest.mark.parametrize("scorer", ["service", "vader"])
def test_score_items_judges_a_batch_as_score_item_judges_each(scorer):
    from listener.sentiment import score

    batch = verdict.score_items(BATCH_TEXTS, vader=score, targets=["acme"], staff=["Dana"], scorer=scorer)
    assert batch == [verdict.score_item(t, vader=score, targets=["acme"], staff=["Dana"], scorer=scorer)
                     for t in BATCH_TEXTS]
    assert [v.sentiment for _, v in batch][2:4] == (["unknown", "neutral"] if scorer == "service" else ["neutral"] * 2)
    assert verdict.score_items([], vader=score) == []

def test_the_service_examples_are_labelled_and_ours():
    sys.path.insert(0, str(ROOT / "tools"))
    import train_verdict

    rows = train_verdict.service_examples()
    assert len(rows) >= 300
    assert {label for label, _ in rows} == {"negative", "neutral", "positive"}
    assert all("bramblebox" in text.lower() for _, text in rows)  # the made-up brand, masked in training


@pytest.mark.parametrize("text", [
    "xhandle self driving cars.", "Persona 5 Take Your Heart edition", "Mike Pence is Trumps permanent bulletproof vest.",
])
def test_english_headlines_skip_the_identifier(monkeypatch, text):
    def boom() -> None:
        raise AssertionError("the identifier should not be needed")

    monkeypatch.setattr("listener.verdict.languages._identifier", boom)
    assert language(text)[0] == "en"


@pytest.mark.parametrize("text", [
    "@bramblebox how do I change the email address on my account?",
    "@bramblebox do you ship to Ireland?",
])
def test_a_plain_question_is_no_complaint(text):
    v = judge(text, targets=["bramblebox"])
    assert v.sentiment != "negative" and not v.complaint, v
