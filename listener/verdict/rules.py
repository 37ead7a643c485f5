"""The rule and lexicon layer of the verdict: service-language rules over a masked text.

VADER reads a polite request as praise (help 1.7, please 1.3, thanks 1.9), and gives complaint
language ("3 weeks and no reply", "still on hold") no weight at all. This module fixes what VADER
sees, after masking (`masking.mask`) and before it scores: `apply_rules` runs each `Rule`, a named
unit with a pattern, an action and, for complaint cues, a weight in VADER's raw valence units (a
lexicon word is -4..+4; `lost` is -1.3). A rewrite rule takes words away from VADER (politeness,
sarcastic praise); a cue rule adds its weight to VADER's sum. The names of the rules that fired go
into the verdict's `why`.

`shift_compound` adds the cue weights to VADER's compound in VADER's own space: it undoes
VADER's normalisation x / sqrt(x^2 + 15), adds, and normalises again, so a cue counts like a
lexicon word of that valence would.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from listener.verdict.masking import HANDLE
from listener.verdict.regexes import scan_friendly, top_level_alternatives

VADER_ALPHA = 15.0  # VADER's normalisation constant


# --- rules --------------------------------------------------------------------------------

_NEG = r"(?:not|no|never|n't|without|nothing)"
_NOT = r"(?:\bnot|n't)"  # "n't" ends a word ("didn't"): no \b may come before it
_N = r"(?:\d+|(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|few|several|many|couple(?:\s+of)?)(?![a-z]))"
_UNIT = r"(?:hours?|hrs?|days?|weeks?|wks?|months?|mins?|minutes?)"
# What cancels a cue when it ends the text just before it (the 40 characters before, lower case):
# a negation two words back at most ("not cancelled", "no delay", "without any issues") ...
NEGATED_SOURCE = rf"\b{_NEG}\b(?:\s+\w+){{0,2}}\s*$|n't(?:\s+\w+){{0,2}}\s*$"
NEGATED = re.compile(scan_friendly(NEGATED_SOURCE))
# ... and, before a duration, a rate or a quick time: "$200 a day", "every 15 minutes", "fixed in
# 45 minutes", "within 24 hours" say how often or how fast, not how long someone has waited.
RATE_OR_QUICK = re.compile(r"(?:\b(?:every|per|times|twice|once|in|within)|\d)\s*$")


@dataclass(frozen=True)
class Rule:
    """One named rule. `weight` < 0 is a complaint cue added to VADER's sum; `rewrite` words are
    removed from what VADER reads; `needs` is a rule whose firing this one requires."""

    name: str
    pattern: re.Pattern[str]
    weight: float = 0.0
    rewrite: re.Pattern[str] | None = None
    needs: str | None = None  # "request", "complaint": the context in which the rule applies
    unless: re.Pattern[str] | None = None  # found at the end of the text just before a match, it cancels that match
    words: frozenset[str] = frozenset()  # if given, the pattern matches only a text with one of these words


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


REQUEST_SOURCE = (  # read on lower-case text
    r"\?|\b(?:please|pls|plz|kindly|can\s+(?:you|u|someone|i)|could\s+(?:you|u|someone)|would\s+you|"
    r"help\s+(?:me|us)|i\s+need|we\s+need|need\s+help|dm\b|let\s+me\s+know|any\s+(?:update|news|help)|"
    r"i(?:\s+would|'d)\s+like|we(?:\s+would|'d)\s+like|how\s+(?:do|can)\s+i|fix)\b"
)
REQUEST = re.compile(scan_friendly(REQUEST_SOURCE))

# A request that asks for help or a fix is service language wherever it is written ("can you help
# me", "please fix", "any help?", "help!"). Another request ("please spread the word", "does that
# help?") is friendly talk: in text not about the brand, VADER's reading of its politeness stands.
PLEA = re.compile(
    r"\bhelp\s*(?:me|us|please|pls|plz|!)|\b(?:please|pls|plz|kindly|can|could|would|need|needs|any|some|"
    rf"for)\s+(?:\w+\s+)?help\b|^\W*(?:{HANDLE}\W*)*help\b|(?:[.!?,;:]\s*|#)help\b|"
    r"\b(?:fix|fixed|sort\s+out|resolve|reset|unlock|assist)\b|"
    # what a support desk is asked to do: "please check my DM", "can you advise?", "kindly look into this"
    r"\b(?:please|pls|plz|kindly|can\s+you|could\s+you|would\s+you)\s+(?:\w+\s+)?(?:check(?!\s+(?:this|it|us|me|them)\s+out)|"
    r"look\s+into|reply|respond|advise|explain|contact|call|email|dm|refund|cancel|confirm|investigate|escalate)\b"
)

_POLITE = r"\b(?:please|pls|plz|kindly|dear|help)\b"
_THANKS = r"\b(?:thanks|thank\s+you|thank\s+u|thx|ty|appreciated?|hopefully|hope|(?:would|'d)\s+like)\b"
_PRAISE = r"\b(?:great|love|loving|awesome|nice|wonderful|fantastic|amazing|perfect|brilliant|best|good|super|excellent|lovely)\b"

# Order matters only for `why`: it lists the rules in this order.
RULES: tuple[Rule, ...] = (
    # Politeness in a request or a complaint is not evaluation: "please fix", "dear support", "help!"
    # say nothing about mood. Elsewhere the words keep their sense ("ideas to help you relax").
    Rule("politeness", _rx(_POLITE), rewrite=_rx(_POLITE), needs="request|complaint",
         words=_words("please pls plz kindly dear help")),
    # Thanks in a request or a complaint is courtesy ("thanks in advance", "3 hours on hold. thanks").
    Rule("courtesy_thanks", _rx(_THANKS), rewrite=_rx(_THANKS), needs="request|complaint",
         words=_words("thanks thank thx ty appreciated appreciate hopefully hope like")),
    # Sarcasm: "thanks for nothing", "thanks a lot" after a complaint, "love how...", "great job" + a cue.
    Rule("thanks_for_nothing", _rx(
        r"\b(?:thanks|thank\s+you|thx)(?:\s+\w+){0,2}\s+for\s+(?:nothing|(?:the\s+)?(?:no|zero)\b|"
        r"(?:ruin|wast|break|los|ignor|cancel+|screw|mess)ing\b)"),
         weight=-2.5, rewrite=_rx(_THANKS)),
    Rule("sarcastic_praise", _rx(
        r"\b(?:lov(?:e|ing)\s+(?:how|when|that|it\s+when)|(?:great|nice|good|awesome)\s+(?:job|work|service)|"
        r"way\s+to\s+go|so\s+much\s+for|(?:just|oh|so|how|yeah)\s+(?:great|perfect|wonderful|fantastic|awesome|lovely)|"
        r"thanks\s+(?:a\s+lot|a\s+bunch|again)|yeah\s+right)\b"),
        weight=-1.5, rewrite=_rx(_PRAISE + r"|\b(?:thanks|thx)\b"), needs="complaint",
        words=_words("love loving great nice good awesome way so just oh how yeah thanks")),
    # Complaint cues: waiting, not getting, things gone or broken, money back, exasperation.
    Rule("waited", _rx(rf"\b{_N}\s*\+?\s*{_UNIT}\b|\b(?:hours|days|weeks|months)\s+(?:ago|later|now|and|of)\b"), weight=-1.0,
         unless=RATE_OR_QUICK),
    Rule("on_hold", _rx(r"\bon\s+hold\b|\bhold\s+(?:time|music)\b"), weight=-1.5),
    Rule("still", _rx(r"\bstill\b(?!\s+(?:love|like|the\s+best|great|my\s+fav))"), weight=-1.0),
    # "again and again" is how often, as often in praise ("I'd watch it again and again")
    Rule("again", _rx(r"(?<!again\sand\s)\bagain\b(?!\s+and\s+again\b)|\byet\s+again\b|\bonce\s+more\b"), weight=-0.8,
         unless=NEGATED),
    Rule("not_yet", _rx(rf"{_NOT}\s+(?:\w+\s+)?yet\b|\byet\s+to\b"), weight=-1.0),
    Rule("no_response", _rx(
        r"\bno\s+(?:response|reply|replies|answer|update|updates|call\s*back|callback|email|help|info(?:rmation)?|word|contact)\b|"
        # "nobody panic", "no one worry": reassurance, not a desk that never answered
        r"\b(?:no\s+one|no\s+body|nobody|no-one)\b(?!\s+(?:panic|panics|worry|worries|freak))|"
        rf"\b(?:ignor(?:e|ed|ing))\b|\b(?:hung|hangs?|hanging)\s+up\b|(?:{_NOT}|\bnever)\s+(?:\w+\s+)?(?:respond|responded|replied|answered|answering|reply|called\s+back|heard)\b"),
        weight=-1.8),
    Rule("never_received", _rx(
        rf"(?:{_NOT}|\bnever|\byet\s+to)\s+(?:\w+\s+)?(?:received|receive|(?:got|get)(?!\s+(?:why|how|the\s+point)\b|\s+to\s+(?!(?:me|us|you|him|her|them|my|our|your|his|their|the|a|an)\b))|arrived|came|showed|delivered|refunded|credited|shipped)\b|"
        r"\bwhere(?:'s|\s+is|\s+are)\s+(?:my|our|the)\b"),
        weight=-1.8),
    Rule("not_working", _rx(
        rf"(?:{_NOT}|\bstopped|\bnever)\s+(?:\w+\s+)?(?:(?:work|working|works)(?!\s+out\b)|load|loading|open|opening|connect|connecting|sync|syncing|"
        r"update|updating|save|saving|install|installing|start|starting|print|printing|charge|charging|turn\s+on)\b|"
        r"\b(?:can't|cannot|cant|unable\s+to|couldn't|won't\s+let\s+me)\s+(?:\w+\s+)?(?:log|login|sign|access|get|find|check|book|use|pay|open|reach|change|cancel|activate|save)\b|"
        # "down" alone is as often "heading down", "I'm down for it": only a thing that is down
        r"\b(?:is|are|was|were|been|went|goes|still|keeps\s+going)\s+down\b|\bdown(?=\s+again\b)|"
        r"\b(?:site|server|servers|app|website|system|network|service|power|internet|wifi|signal)\s+(?:is\s+|has\s+been\s+|went\s+)?(?:down|out)\b|"
        r"\bno\s+(?:broadband|internet|power|signal|wifi|wi-fi|connection|network|electricity|water|heating)\b|"
        r"\b(?:so|really|very|painfully|extremely|super)\s+slow\b|\bslow\s+(?:performance|speeds?|internet|broadband|connection)\b|"
        r"\b(?:outage|blackout|crash(?:es|ed|ing)?(?!\s+(?:on|at)\s+(?:\w+'s|my|your|his|her|our|their|a|the)\s+(?:\w+\s+)?(?:couch|sofa|futon|floor|place|bed|house|pad)\b)|glitch\w*|(?<!doodle\s)(?<!love\s)(?<!lady\s)(?<!june\s)(?<!stink\s)(?<!cuddle\s)bug(?:gy|s)?|freez(?:es|ing))\b"),
        weight=-1.5),
    # Service trouble named as such, and the verdicts of the unhappy ("not resolved", "a joke").
    Rule("problem", _rx(r"\b(?:issues?|problems?|troubles?|(?<!trial\sand\s)errors?|unavailable|invalid|no\s+longer|"
                        r"doesn't\s+exist)\b"), weight=-1.0, unless=NEGATED),
    Rule("unresolved", _rx(
        rf"{_NOT}\s+(?:\w+\s+)?(?:resolved|fixed|sorted|happened|impressed|acceptable|helpful|good\s+enough)\b|"
        # what was promised and did not happen; "hopefully it doesn't happen", "it wouldn't happen" are no complaint
        r"\bdid(?:n't|\s+not)\s+(?:\w+\s+)?happen\b|"
        r"\b(?:unacceptable|useless|pathetic|disgrace(?:ful)?|shambles|rubbish|unreliable|debacle)\b|\b(?:is|was|what|such)\s+a\s+joke\b"),
        weight=-1.5, rewrite=_rx(r"\bjoke\b")),
    Rule("refund", _rx(r"\brefund(?:s|ed)?\b|\bcompensat\w+|\bmoney\s+back\b|\bcharged?\b|\bovercharg\w+|\bfees?\b"), weight=-1.0),
    Rule("cancelled", _rx(r"\bcancel+(?:ed|ing|lation|lations)?\b|\bdelay(?:s|ed)?\b|\blate\b|\bmissed\b|\bdiverted\b|\bovers?old\b|\boverbook\w*|\bstranded\b"),
         weight=-1.0, unless=NEGATED),
    Rule("lost", _rx(r"\blost\b|\bmissing\b|\bdamaged\b|\bbroken?\b|\bstolen\b|\bwrong\b|\bfaulty\b|\bdefective\b"), weight=-0.8, unless=NEGATED),
    Rule("why", _rx(r"\bwhy\b|\bwhat\s+(?:the|is\s+going\s+on|happened)\b|\bhow\s+(?:come|long|many\s+times|hard)\b|\bseriously\b|\bridiculous\b"), weight=-0.8),
    Rule("fail_tag", _rx(r"#\w*fail\w*|#(?:worst|never\w+|disappointed|badservice|customerservice\w*|(?:would|do)not\w+)\b|\bfail(?:s|ed|ing)?\b"), weight=-1.2),
    Rule("stuck", _rx(r"\bstuck\b|\bwaiting\b|\bwait(?:ed)?\b|\bqueue\b|\bkeeps?\s+\w+ing\b|\bevery\s+(?:time|single)\b"), weight=-0.8),
)


class Ruled(NamedTuple):
    """What the rule layer made of a masked text: the text VADER should read, the cue weight to
    add to VADER's sum, and the names of the rules that fired. (The verdict's per-item records are
    named tuples: a frozen dataclass costs three times as much to build, on every item.)"""

    text: str
    cue_weight: float
    fired: tuple[str, ...]
    request: bool
    complaint: bool  # a complaint cue fired (politeness and courtesy are no cue)
    lower: str  # `lowered(text)`, as the rules read it


def _cue_pattern() -> re.Pattern[str]:
    """Every cue in one regex, one named group each: the reference `_leftmost_cues` must equal
    (a test compiles it; run time never does)."""
    return re.compile("|".join(f"(?P<{r.name}>{r.pattern.pattern})" for r in RULES if _is_cue(r)))


def _is_cue(rule: Rule) -> bool:
    """A complaint cue: it counts wherever it appears, and it makes the text a complaint context."""
    return rule.weight < 0 and rule.needs is None


# as cues: lower case, each alternative starting with a literal where it can (`scan_friendly`)
_CONTEXT_RULES = tuple((rule, re.compile(scan_friendly(rule.pattern.pattern))) for rule in RULES if not _is_cue(rule))
_BY_NAME = {rule.name: rule for rule in RULES}
RULE_TAGS = {rule.name: f"rule:{rule.name}" for rule in RULES}  # as features and in `why`
_RULE_ORDER = {rule.name: i for i, rule in enumerate(RULES)}  # `why` lists fired rules in RULES order


# Per cue, its triggers: clauses of words (runs of letters), each clause one or more sets that must
# all meet the text's words ("work working ... & not t never": a verb and a negation, the "t" of
# "n't"), and stems (substrings) that trigger alone. Every text a cue matches meets one of its clauses
# or has one of its stems. A text is searched only with the cues it triggers, most texts with none: a
# cue regex costs about as much as VADER, and one word alone ("no", "get", "out") would trigger one for
# nothing nine times in ten. Keep them in step with RULES: a test checks the shortcut on every development text.
Clause = tuple[frozenset[str], ...]


def _clause(text: str) -> Clause:
    """"a b & c d": the word sets a text must each meet."""
    return tuple(_words(part) for part in text.split("&"))


# A cue whose regex is a long alternation is searched in parts, each part a run of its top-level
# alternatives with triggers of its own: "not_working" cost 26 us a search on a complaint, and a
# text with "down" needs only the alternatives about "down". A row with a count covers that many
# alternatives, one without the rest; the parts' matches, merged as the cues' are
# (`_leftmost_cues`), are the whole alternation's.
_CUE_TRIGGER_ROWS: tuple[tuple[str, tuple[str, ...], str] | tuple[str, tuple[str, ...], str, int], ...] = (
    ("thanks_for_nothing", ("thanks thank thx & for",), ""),
    ("waited", ("hour hours hr hrs day days week weeks wk wks month months min mins minute minutes",), ""),
    ("on_hold", ("hold",), ""),
    ("still", ("still",), ""),
    ("again", ("again once",), ""),
    ("not_yet", ("yet",), ""),
    ("no_response", ("no & one body response reply replies answer update updates call callback email help info information "
                     "word contact", "nobody"), "", 2),
    ("no_response", ("ignore ignored ignoring",), "", 1),
    ("no_response", ("hung hang hangs hanging & up",), "", 1),
    ("no_response", ("respond responded replied answered answering reply called heard & not t never",), ""),
    ("never_received", ("received receive got get arrived came showed delivered refunded credited shipped & not t never yet",),
     "", 1),
    ("never_received", ("where & my our the",), ""),
    ("not_working", ("work working works load loading open opening connect connecting sync syncing update updating save "
                     "saving install installing start starting print printing charge charging turn & not t never stopped",),
     "", 1),
    ("not_working", ("log login sign access get find check book use pay open reach change cancel activate save "
                     "& can cannot cant unable couldn won",), "", 1),
    ("not_working", ("down", "site server servers app website system network service power internet wifi signal & out"), "", 3),
    ("not_working", ("no & broadband internet power signal wifi wi connection network electricity water heating",), "", 1),
    ("not_working", ("slow",), "", 2),
    ("not_working", ("outage blackout crash crashes crashed crashing bug buggy bugs freezes freezing",), "glitch"),
    ("problem", ("issue issues problem problems trouble troubles error errors unavailable invalid longer exist",), ""),
    ("unresolved", ("resolved fixed sorted happened impressed acceptable helpful enough & not t",), "", 1),
    ("unresolved", ("happen & did didn",), "", 1),
    ("unresolved", ("unacceptable useless pathetic disgrace disgraceful shambles rubbish unreliable debacle joke",), ""),
    ("refund", ("refund refunds refunded money charge charged fee fees",), "compensat overcharg"),
    ("cancelled", ("delay delays delayed late missed diverted oversold overold stranded",), "cancel overbook"),
    ("lost", ("lost missing damaged broke broken stolen wrong faulty defective",), ""),
    ("why", ("why",), "", 1),
    ("why", ("what & the is happened",), "", 1),
    ("why", ("how & come long many hard",), "", 1),
    ("why", ("seriously ridiculous",), ""),
    ("fail_tag", ("worst disappointed badservice",), "fail #customerservice #never #wouldnot #donot"),
    ("stuck", ("stuck waiting wait waited queue keep keeps every",), ""),
)


class CuePart(NamedTuple):
    """A run of a cue's alternatives, searched on lower-case text when its triggers are met."""

    rule: str
    pattern: re.Pattern[str]
    clauses: tuple[Clause, ...]
    stems: tuple[str, ...]


def _cue_parts() -> dict[str, CuePart]:
    """Each cue's parts by key: the cue's name when it is searched whole, "name.k" for its k-th part."""
    rows: dict[str, list[tuple[tuple[str, ...], str, int]]] = {}
    for name, clauses, stems, *alternatives_covered in _CUE_TRIGGER_ROWS:
        rows.setdefault(name, []).append((clauses, stems, alternatives_covered[0] if alternatives_covered else 0))
    parts: dict[str, CuePart] = {}
    for name, runs in rows.items():
        alternatives, start = top_level_alternatives(_BY_NAME[name].pattern.pattern), 0
        for k, (clauses, stems, count) in enumerate(runs):
            end = start + count if count else len(alternatives)
            if not start < end <= len(alternatives):  # an empty part would compile to a regex matching anywhere
                raise ValueError(f"trigger row {k} of cue {name!r} covers alternatives {start}..{end} of {len(alternatives)}")
            parts[name if len(runs) == 1 else f"{name}.{k}"] = CuePart(
                name, re.compile(scan_friendly("|".join(alternatives[start:end]))), tuple(map(_clause, clauses)),
                tuple(stems.split()))
            start = end
        if start != len(alternatives):
            raise ValueError(f"trigger rows of cue {name!r} cover {start} of its {len(alternatives)} alternatives")
    return parts


_CUE_PARTS = _cue_parts()
_NOT_LETTERS = bytes(c if 97 <= c <= 122 else 32 for c in range(256))  # a-z kept, every other byte a space


def letter_words(lower: str) -> list[str]:
    """The runs of a-z in a lower-case text, as `re.findall(r"[a-z]+", lower)` finds them, in half
    the time: the text as ASCII (any other character a `?`), every byte not a-z made a space, split."""
    return lower.encode("ascii", "replace").translate(_NOT_LETTERS).decode("ascii").split()


# Each clause is looked up by the words of its first set, with the sets it also needs.
_CUE_BY_WORD: dict[str, list[tuple[str, Clause]]] = {}
for _key, _part in _CUE_PARTS.items():
    for _first, *_rest in _part.clauses:
        for _w in _first:
            _CUE_BY_WORD.setdefault(_w, []).append((_key, tuple(_rest)))
_CUE_WORDS = frozenset(_CUE_BY_WORD)  # a set: intersecting with a dict would walk the whole dict
_CUE_STEMS = tuple((stem, key) for key, part in _CUE_PARTS.items() for stem in part.stems if stem[0] != "#")
_TAGGED_STEMS = _CUE_STEMS + tuple((s, key) for key, part in _CUE_PARTS.items() for s in part.stems if s[0] == "#")
_CUE_ORDER = {key: i for i, key in enumerate(_CUE_PARTS)}


def _leftmost_cues(lower: str, keys: tuple[str, ...]) -> Iterator[tuple[str, re.Match[str]]]:
    """The matches the alternation of just these cue parts (in RULES order) would find, left to right,
    with the rule each is of, without compiling that alternation: at each step the leftmost next match
    of any part, the first in order on a tie, the search going on after it. Compiling a regex for
    each new set of cues cost about 2 ms, and a poll's texts bring hundreds of sets."""
    if len(keys) == 1:  # most texts with a cue: its own matches are the alternation's
        part = _CUE_PARTS[keys[0]]
        for match in part.pattern.finditer(lower):
            yield part.rule, match
        return
    parts = [_CUE_PARTS[k] for k in keys]
    patterns = [part.pattern for part in parts]
    found = [p.search(lower) for p in patterns]
    pos = 0
    while True:
        best: tuple[int, re.Match[str]] | None = None
        for i, m in enumerate(found):
            if m is not None and m.start() < pos:
                m = found[i] = patterns[i].search(lower, pos)
            if m is not None and (best is None or m.start() < best[1].start()):
                best = (i, m)
        if best is None:
            return
        yield parts[best[0]].rule, best[1]
        pos = max(best[1].end(), best[1].start() + 1)


# REQUEST's trigger clauses, as the cues' (`_CUE_TRIGGER_ROWS`): "can you" needs "can" and one of "you u someone i".
_REQUEST_BY_WORD: dict[str, list[Clause]] = {}
for _text in (
    "please pls plz kindly dm fix", "can & you u someone i", "could & you u someone", "would & you", "help & me us",
    "need & i we help", "let & me & know", "any & update news help", "like & i we", "how & do can & i",
):
    _first, *_rest = _clause(_text)
    for _w in _first:
        _REQUEST_BY_WORD.setdefault(_w, []).append(tuple(_rest))
_REQUEST_WORDS = frozenset(_REQUEST_BY_WORD)


def _may_request(words: list[str]) -> bool:
    """Whether the words meet one of REQUEST's clauses: only then can it match (a question aside)."""
    return any(all(not need.isdisjoint(words) for need in also)
               for w in _REQUEST_WORDS.intersection(words) for also in _REQUEST_BY_WORD[w])


def _triggered(lower: str, words: list[str]) -> tuple[str, ...]:
    """The cue parts whose trigger clauses the text's words meet or whose stems it has, in RULES order."""
    keys: set[str] = set()
    for w in _CUE_WORDS.intersection(words):
        for key, also in _CUE_BY_WORD[w]:
            if not also or all(not need.isdisjoint(words) for need in also):
                keys.add(key)
    for stem, key in _TAGGED_STEMS if "#" in lower else _CUE_STEMS:  # a # stem needs a # in the text
        if stem in lower:
            keys.add(key)
    return tuple(sorted(keys, key=_CUE_ORDER.__getitem__))


def lowered(text: str) -> str:
    """What the patterns read: lower case (case-insensitive matching is much slower) and the
    typographic apostrophe as the typewriter one ("didn\u2019t" is "didn't"), same length."""
    return text.lower().replace("\u2019", "'")


def cue_hits(text: str) -> dict[str, int]:
    """How many times each cue fires, leaving out a match its `unless` cancels ("not cancelled")."""
    lower = lowered(text)
    return _cue_hits(lower, letter_words(lower))


def _cue_hits(lower: str, words: list[str]) -> dict[str, int]:
    hits: dict[str, int] = {}
    keys = _triggered(lower, words)
    if not keys:
        return hits
    for name, m in _leftmost_cues(lower, keys):
        unless = _BY_NAME[name].unless
        if unless is not None and unless.search(lower, max(0, m.start() - 40), m.start()):
            continue
        hits[name] = hits.get(name, 0) + 1
    return hits


def apply_rules(text: str) -> Ruled:
    """Run every rule over a masked text: cues first (they decide the complaint context), then rewrites.

    >>> r = apply_rules("xhandle help!! 3 weeks and no reply, please fix")
    >>> r.fired, r.text
    (('politeness', 'waited', 'no_response'), 'xhandle !! 3 weeks and no reply,  fix')
    """
    cue_weight = 0.0
    fired: set[str] = set()
    lower = lowered(text)
    words = letter_words(lower)  # a list: each look-up below takes the few words it needs from it
    for name, hits in _cue_hits(lower, words).items():
        rule = _BY_NAME[name]
        cue_weight += rule.weight * min(hits, 2)
        fired.add(name)
        if rule.rewrite is not None:
            text = rule.rewrite.sub("", text)
            lower = lowered(text)
    complaint = bool(fired)
    request = "?" in text or (_may_request(words) and bool(REQUEST.search(lower)))
    for rule, pattern in _CONTEXT_RULES:
        if rule.needs and not ((complaint and "complaint" in rule.needs) or (request and "request" in rule.needs)):
            continue
        if (rule.words and rule.words.isdisjoint(words)) or not pattern.search(lower):
            continue
        fired.add(rule.name)
        cue_weight += rule.weight
        if rule.rewrite is not None:
            text = rule.rewrite.sub("", text)
            lower = lowered(text)
    order = tuple(sorted(fired, key=_RULE_ORDER.__getitem__)) if len(fired) > 1 else tuple(fired)
    return Ruled(text, cue_weight, order, request, complaint, lower)


def shift_compound(compound: float, weight: float, sentences: int = 1) -> float:
    """VADER's compound with `weight` added to its raw valence sum, normalised as VADER does.

    A compound that is the mean of `sentences` sentences' moves by a 1/sentences share of what the
    one sentence holding the words would move (taken at the mean): a word counts as a lexicon word
    would, in one sentence of a long text, not as if the whole text were that sentence."""
    if not weight:
        return compound
    c = max(-0.9999, min(0.9999, compound))
    raw = c * math.sqrt(VADER_ALPHA / (1 - c * c))
    raw += weight
    shifted = raw / math.sqrt(raw * raw + VADER_ALPHA)
    if sentences > 1:
        shifted = compound + (shifted - c) / sentences
    return round(shifted, 4)
