"""The shared text helpers: one duration format, one cleaner, one URL check, titles a person can read."""

from __future__ import annotations

import pytest

from listener.text import display_title, human_duration, is_boilerplate_title, one_line, safe_url, strip_invisible


@pytest.mark.parametrize("seconds, text", [
    (0, "<1m"), (45, "<1m"), (90, "1m"), (300, "5m"), (7200, "2h"), (3600 * 5 + 600, "5h 10m"),
    (86_400, "1d"), (93_600, "1d 2h"), (86_400 * 2 + 3600 * 4, "2d 4h"), (-5, "<1m"), (None, None),
    (float("inf"), None), (float("nan"), None),
])
def test_one_duration_format_everywhere(seconds, text):
    assert human_duration(seconds) == text


def test_invisible_characters_go_but_line_breaks_stay():
    assert strip_invisible("a\x00b\x07c\u202ed\u200be\ufeff\tf\ng") == "abcde\tf\ng"
    assert strip_invisible("\ud800lone") == "lone"


def test_one_line_is_safe_for_a_mail_header():
    assert one_line("x\r\nBcc: victim@example.org") == "x Bcc: victim@example.org"
    assert one_line("word " * 100, 20).endswith("…") and len(one_line("word " * 100, 20)) <= 20


@pytest.mark.parametrize("url, expected", [
    ("https://a.example/x?y=1#z", "https://a.example/x?y=1#z"),
    ("/post/1", "https://blog.example/post/1"),
    ("jav\tascript:alert(1)", None),
    ("javascript:alert(1)", None),
    ("data:text/html,hi", None),
    ("https://exa mple.com/", None),
    ('https://a.example/"><script>', None),
    ("https://a.example/with space", "https://a.example/with%20space"),
])
def test_safe_url_keeps_only_http_links(url, expected):
    assert safe_url(url, base="https://blog.example/feed/") == expected


def test_a_link_without_a_host_is_refused():
    assert safe_url("https:///nohost") is None and safe_url("http://") is None


def test_a_comment_is_named_by_its_conversation():
    assert is_boilerplate_title("By: Priya Okafor") and is_boilerplate_title("Re: Sync outage")
    assert not is_boilerplate_title("Great app")
    assert display_title("By: Jo", thread_title="Sync outage") == "Comment on Sync outage"
    assert display_title("By: Jo", snippet="the sync is  broken") == "the sync is broken"
    assert display_title("Pricing for 2027") == "Pricing for 2027"
