"""Issue 14.3 / RELIABILITY A14: comment-feed links from feed content go only where the feed lives.

Traffic goes to 127.0.0.1 and 127.0.0.2 only; the policy treats 127.0.0.1 (where the parent
feed lives) as allowed and 127.0.0.2 as another, private host. Metadata and RFC 1918 addresses
are checked by unit tests of the policy with a fake resolver: nothing is ever sent there.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys

import pytest
from feedgen import Entry, Watchlist, rss
from feedserver import FeedServer, redirect_to

from listener.errors import FetchError
from listener.fetch import Fetcher
from listener.netpolicy import LinkPolicy, is_public

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
COMMENTS = rss([Entry(title="By: Ann", body="Quillfeather ate my notes", guid="c1", author="Ann",
                      link="http://127.0.0.1/p/#comment-1", published=NOW - dt.timedelta(minutes=30))])


def fake_dns(table: dict[str, list[str]]):
    return lambda host, port: table.get(host, [host] if host[:1].isdigit() or ":" in host else [])


PUBLIC_PARENT = LinkPolicy.for_feed("https://blog.example.com/feed/", post_urls=["https://www.example.com/p/1"],
                                    allow_hosts=["comments.partner.example", ".cdn.example"],
                                    resolver=fake_dns({"blog.example.com": ["93.184.216.34"],
                                                       "www.example.com": ["93.184.216.34"],
                                                       "rebind.example.com": ["10.0.0.7"]}))


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://100.100.100.200/",
    "http://10.0.0.5/feed", "http://192.168.1.1/feed", "http://172.16.0.1/feed", "http://127.0.0.1/feed",
    "http://[::1]/feed", "http://[fe80::1]/feed", "http://100.64.0.1/feed", "http://0.0.0.0/feed",
    "http://internal.corp/feed", "file:///etc/passwd", "ftp://blog.example.com/x", "gopher://blog.example.com/",
])
def test_policy_refuses_comment_feeds_off_site_or_at_internal_addresses(url):
    assert PUBLIC_PARENT.refusal(url) is not None


@pytest.mark.parametrize("url", [
    "https://blog.example.com/p/1/feed/", "http://BLOG.example.com./feed", "https://www.example.com/p/1/feed",
    "https://comments.partner.example/t/1.rss", "https://a.cdn.example/c.xml",
])
def test_policy_allows_the_feeds_host_its_posts_host_and_allow_hosts(url):
    assert PUBLIC_PARENT.refusal(url) is None


@pytest.mark.parametrize("address", ["169.254.169.254", "10.1.2.3", "192.168.0.1", "172.31.255.255", "127.0.0.2",
                                     "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "100.64.0.1", "224.0.0.1"])
def test_non_public_addresses_are_not_public(address):
    assert not is_public(address)
    assert PUBLIC_PARENT.address_refusal("www.example.com", 443, address) is not None


def test_a_name_that_resolves_to_a_private_address_is_refused_before_connecting():
    policy = LinkPolicy.for_feed("https://blog.example.com/feed/", post_urls=["https://rebind.example.com/p"],
                                 resolver=PUBLIC_PARENT.resolver)
    assert policy.refusal("https://rebind.example.com/c.xml") is None  # the name passes...
    assert "10.0.0.7" in (policy.resolved_refusal("rebind.example.com", 443) or "")  # ...its address does not
    assert is_public("93.184.216.34") and policy.resolved_refusal("blog.example.com", 443) is None


def test_a_parent_on_loopback_may_use_its_own_address_and_port_only():
    policy = LinkPolicy.for_feed("http://127.0.0.1:8080/feed.xml")
    assert policy.refusal("http://127.0.0.1:8080/comments/1.xml") is None
    assert policy.refusal("http://127.0.0.1:8081/admin") is not None  # another service on the same machine
    assert policy.refusal("http://127.0.0.2:8080/comments/1.xml") is not None
    assert policy.refusal("http://localhost:8080/c.xml") is not None  # another host name


@pytest.fixture
def other_host():
    with FeedServer("127.0.0.2") as server:
        yield server


@pytest.fixture
def other_port():
    with FeedServer("127.0.0.1") as server:
        yield server


def _blog(feed_server, other_host, other_port) -> str:
    entries = {
        "same-host": feed_server.url("/comments/1.xml"),
        "other-host": other_host.url("/comments/2.xml"),
        "redirected": feed_server.url("/comments/3.xml"),
        "other-port": other_port.url("/comments/4.xml"),
        "itself": feed_server.url("/blog.xml"),
    }
    feed_server.add("/comments/1.xml", COMMENTS)
    feed_server.route("/comments/3.xml", redirect_to(other_host.url("/comments/3.xml")))
    for server, path in [(other_host, "/comments/2.xml"), (other_host, "/comments/3.xml"),
                         (other_port, "/comments/4.xml")]:
        server.add(path, COMMENTS)
    return rss([Entry(title=f"Quillfeather post {name}", body="Quillfeather news", guid=name,
                      link=feed_server.url(f"/p/{name}/"), comments_feed=url,
                      published=NOW - dt.timedelta(hours=i + 1)) for i, (name, url) in enumerate(entries.items())])


def _poll(config: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "listener", "--config", config, "poll"], capture_output=True,
                          text=True, timeout=120, env=os.environ)


def test_comment_feeds_are_never_fetched_from_another_host_port_or_redirect_target(tmp_path, feed_server,
                                                                                    other_host, other_port):
    feed_server.add("/blog.xml", _blog(feed_server, other_host, other_port))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml"), "comments": True}]).write(tmp_path)
    polled = _poll(config)
    assert polled.returncode == 0, polled.stderr

    assert other_host.requests == [] and other_port.requests == []  # 0 hits: not even the redirect target
    assert feed_server.hits("/comments/1.xml") == 1 and feed_server.hits("/comments/3.xml") == 1
    assert feed_server.hits("/blog.xml") == 1  # a post naming the feed itself as its comments is not followed
    with sqlite3.connect(tmp_path / "listener.db") as conn:
        items = dict(conn.execute("SELECT feeds.name, count(items.id) FROM feeds"
                                  " LEFT JOIN items ON items.feed_id = feeds.id GROUP BY feeds.id"))
        refused = conn.execute("SELECT url, error_kind FROM feeds WHERE kind = 'comments' AND error_kind IS NOT NULL")
        refused = dict(refused.fetchall())
    assert items["Blog"] == 5 and sum(items.values()) == 6  # 5 posts once each, 1 comment from the same host
    assert refused == {feed_server.url("/comments/3.xml"): "refused"}
    assert "127.0.0.2" in polled.stderr and "not following" in polled.stderr


def test_allow_hosts_lets_comment_feeds_live_on_a_listed_host(tmp_path, feed_server, other_host, other_port):
    feed_server.add("/blog.xml", _blog(feed_server, other_host, other_port))
    config = Watchlist(feeds=[{"name": "Blog", "url": feed_server.url("/blog.xml"), "comments": True}],
                       extra="comments:\n  allow_hosts: [127.0.0.2]\n").write(tmp_path)
    assert _poll(config).returncode == 0
    assert other_host.hits("/comments/2.xml") == 1 and other_host.hits("/comments/3.xml") == 1
    assert other_port.requests == []


def test_fetcher_rechecks_the_address_on_every_redirect_hop(feed_server, other_host):
    feed_server.route("/c.xml", redirect_to(other_host.url("/c.xml")))
    other_host.add("/c.xml", COMMENTS)
    policy = LinkPolicy.for_feed(feed_server.url("/feed.xml"))
    with Fetcher() as fetcher:
        with pytest.raises(FetchError) as refused:
            fetcher.fetch(feed_server.url("/c.xml"), policy=policy)
        assert refused.value.kind == "refused" and "127.0.0.2" in str(refused.value)
        assert fetcher.fetch(feed_server.url("/c.xml")).status == 200  # a configured feed's URL is trusted
    assert other_host.hits("/c.xml") == 1
