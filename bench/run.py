"""`make bench`: listener against the straightforward pipeline and rss2email on one farm, then the
read commands on a big database; writes bench/RESULTS.md.

Sizes come from the environment (defaults in brackets):

    BENCH_FEEDS [1000]        feeds in the farm (20 items each)
    BENCH_REPEATS [3]         interleaved repeats of every poll measurement
    BENCH_BIG_FEEDS [5000]    feeds of the single memory run (0: skip)
    BENCH_DB_ITEMS [1000000]  items in the generated database (0: skip the read commands)
    BENCH_QUERY_REPEATS [3]   runs of each read command (p50)
    BENCH_SERVER [nginx]      nginx, or python to use the fallback server
    BENCH_HOSTS [1]           loopback ports the farm is spread over (listener fetches <= 2 per host)
    BENCH_COMMENTS [0]        1: listener also follows each post's comment feed
    BENCH_RSS2EMAIL [1]       0: leave rss2email out (no PyPI install)
    BENCH_WORK [bench/.work]  the cache: rss2email's venv, the big databases
    BENCH_RESULTS [bench/RESULTS.md]
    BENCH_SCORING [1]         0: skip issue 10's scoring throughput (needs LISTENER_SENTIMENT_DATA's corpus)
    BENCH_QUICK [0]           1: a smoke run (20 feeds, 2 repeats, 2,000 items, no memory or scoring run)
"""

from __future__ import annotations

import compileall
import os
import re
import shutil
import signal
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import bigdb, farm, peers, report, servers
from bench.proctree import run_measured

REPO = Path(__file__).resolve().parents[1]
QUERIES = {
    "mentions": ["mentions"],
    "feeds": ["feeds"],
    "threads --needs-reply --limit 50": ["threads", "--needs-reply", "--limit", "50"],
    "report": ["report", "--out", "{out}"],
    "digest": ["digest"],
}


@dataclass(frozen=True)
class Settings:
    feeds: int
    repeats: int
    big_feeds: int
    db_items: int
    query_repeats: int
    server: str
    hosts: int
    comments: bool
    rss2email: bool
    work: Path
    results: Path
    scoring: bool
    quick: bool

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        quick = env.get("BENCH_QUICK", "0") not in ("", "0")

        def number(name: str, default: int, quick_default: int) -> int:
            return int(env.get(name) or (quick_default if quick else default))

        return cls(
            feeds=number("BENCH_FEEDS", 1000, 20), repeats=max(1, number("BENCH_REPEATS", 3, 2)),
            big_feeds=number("BENCH_BIG_FEEDS", 5000, 0), db_items=number("BENCH_DB_ITEMS", 1_000_000, 2000),
            query_repeats=max(1, number("BENCH_QUERY_REPEATS", 3, 2)),
            server=env.get("BENCH_SERVER") or "nginx", hosts=max(1, number("BENCH_HOSTS", 1, 1)),
            comments=env.get("BENCH_COMMENTS", "0") not in ("", "0"),
            rss2email=env.get("BENCH_RSS2EMAIL", "1") not in ("", "0"),
            work=Path(env.get("BENCH_WORK") or REPO / "bench" / ".work").resolve(),
            results=Path(env.get("BENCH_RESULTS") or REPO / "bench" / "RESULTS.md").resolve(),
            scoring=bool(number("BENCH_SCORING", 1, 0)), quick=quick)

    def shown(self) -> dict[str, str]:
        names = {"feeds": "BENCH_FEEDS", "repeats": "BENCH_REPEATS", "big_feeds": "BENCH_BIG_FEEDS",
                 "db_items": "BENCH_DB_ITEMS", "query_repeats": "BENCH_QUERY_REPEATS", "server": "BENCH_SERVER",
                 "hosts": "BENCH_HOSTS", "comments": "BENCH_COMMENTS", "rss2email": "BENCH_RSS2EMAIL",
                 "scoring": "BENCH_SCORING", "quick": "BENCH_QUICK"}
        return {env: str(int(v) if isinstance(v, bool) else v) for key, env in names.items()
                for v in [asdict(self)[key]]}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def compile_bytecode() -> bool:
    """Write the bytecode of listener (and of the bench's straightforward pipeline) once, as `pip
    install` does for every installed package, rss2email's included. An editable checkout run with
    PYTHONDONTWRITEBYTECODE=1 (set on this machine) would otherwise compile each of its modules
    again in every measured command: ~0.15 s of each."""
    return all([compileall.compile_dir(REPO / "listener", quiet=1), compileall.compile_dir(REPO / "bench", quiet=1)])


def child_env() -> dict[str, str]:
    """The environment of every measured command: ours, minus what would leak our paths into theirs."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LISTENER_CONFIG", "VIRTUAL_ENV")}


def measure(runs: report.Runs, command: list[str], **kwargs: Any) -> None:
    measured = run_measured(command, env=child_env(), **kwargs)
    runs.measured.append(measured)
    state = "" if measured.returncode == 0 else f" EXIT {measured.returncode}: {measured.stderr.strip()[-400:]}"
    log(f"  {runs.label}: {measured.seconds:.2f}s, peak {measured.peak_rss_mb:.0f} MB{state}")


def _listener_items(runs: report.Runs) -> int | None:
    found = re.search(r"(\d+) new items", runs.measured[-1].stdout) if runs.measured else None
    return int(found.group(1)) if found else None


def poll_repeats(settings: Settings, results: report.Results, the_farm: farm.Farm, urls: list[str],
                 scratch: Path, r2e: Path | None) -> None:
    """Every repeat: each system's first poll and re-poll, on fresh state; the order rotates."""
    poll = results.poll
    items, feeds = the_farm.items, len(urls)
    poll.update(straight=report.Runs("straightforward", items, "items"),
                first=report.Runs("listener first poll", items, "items"),
                again=report.Runs("listener all-304 re-poll", feeds, "feeds"),
                changed=report.Runs("listener 10%-changed poll", feeds, "feeds"))
    if r2e:
        poll.update(r2e_first=report.Runs("rss2email first run", items, "items"),
                    r2e_again=report.Runs("rss2email re-run", feeds, "feeds"))
    urls_file = scratch / "urls.txt"
    urls_file.write_text("\n".join(urls) + "\n")

    def straight(repeat: int) -> None:
        measure(poll["straight"], peers.straight_command(urls_file, scratch / f"straight-{repeat}.db"), cwd=REPO)

    def rss2email(repeat: int) -> None:
        assert r2e is not None
        config, data = peers.r2e_setup(scratch / f"r2e-{repeat}", urls)
        measure(poll["r2e_first"], peers.r2e_command(r2e, config, data))
        measure(poll["r2e_again"], peers.r2e_command(r2e, config, data))

    def listener(repeat: int) -> None:
        config = peers.listener_config(scratch / f"listener-{repeat}", urls, comments=settings.comments)
        measure(poll["first"], peers.listener_command(config, "poll", "--all"))
        stored = _listener_items(poll["first"])
        if stored is not None and stored != items and not settings.comments:
            results.notes.append(f"repeat {repeat + 1}: listener's first poll stored {stored:,} items of {items:,}")
        measure(poll["again"], peers.listener_command(config, "poll", "--all"))
        changed = farm.change_feeds(the_farm, 0.1, repeat + 1)
        measure(poll["changed"], peers.listener_command(config, "poll", "--all"))
        if repeat == 0:
            results.notes.append(f"the 10%-changed poll: {changed:,} of {feeds:,} feeds publish one new post "
                                 "(the oldest drops off), the others answer 304")

    systems = [straight, listener] + ([rss2email] if r2e else [])
    for repeat in range(settings.repeats):
        log(f"bench: repeat {repeat + 1} of {settings.repeats}")
        for system in systems[repeat % len(systems):] + systems[:repeat % len(systems)]:
            system(repeat)


def spread(the_farm: farm.Farm, bases: tuple[str, ...]) -> list[str]:
    return [bases[index % len(bases)] + path for index, path in enumerate(the_farm.feeds)]


def big_poll(settings: Settings, results: report.Results, scratch: Path) -> None:
    """One listener first poll of a big farm, for its memory."""
    log(f"bench: building a {settings.big_feeds:,}-feed farm for the memory run")
    big = farm.build_farm(scratch / "farm-big", settings.big_feeds)
    with servers.serve(big.root, scratch / "server-big", ports=settings.hosts, prefer=settings.server) as server:
        results.server = results.server or server.kind
        config = peers.listener_config(scratch / "listener-big", spread(big, server.bases), comments=settings.comments)
        results.big = report.Runs(f"listener first poll, {settings.big_feeds:,} feeds", big.items, "items")
        measure(results.big, peers.listener_command(config, "poll", "--all"))
        # The same poll deciding by VADER alone (`scorer: vader`, as before the verdict): what the verdict adds
        plain = peers.listener_config(scratch / "listener-big-vader", spread(big, server.bases),
                                      comments=settings.comments, scorer="vader")
        results.big_vader = report.Runs(f"listener first poll, {settings.big_feeds:,} feeds, scorer: vader",
                                        big.items, "items")
        measure(results.big_vader, peers.listener_command(plain, "poll", "--all"))
    shutil.rmtree(big.root, ignore_errors=True)


def scoring_share(results: report.Results) -> None:
    """Issue 10: what VADER's numbers plus the verdict score a second against vaderSentiment alone, on
    the complaint corpus in batches of 20, timed in alternation in this process (`bench.sentiment_eval`),
    with the scoring modules as make builds them. The corpus lives outside the repository."""
    from bench import sentiment_eval
    from bench.pure import build

    data = sentiment_eval.default_data()
    if not (data / "complaints2019" / "complaints-data.csv").is_file():
        results.notes.append(f"scoring throughput not measured: no complaint corpus under {data} (LISTENER_SENTIMENT_DATA)")
        return
    log("bench: scoring throughput on the complaint corpus")
    sentiment_eval.warm_up()
    results.scoring_share = sentiment_eval.paired_share(sentiment_eval.complaints(data))["batched"]
    results.scoring_build = build()


def read_commands(settings: Settings, results: report.Results, scratch: Path) -> None:
    path, made_in = bigdb.ensure_bigdb(settings.work, settings.db_items, log=log)
    facts = bigdb.describe(path)
    results.db_items = settings.db_items
    results.db_facts = (f"Database: {facts} ({'generated in ' + format(made_in, '.0f') + ' s' if made_in else 'cached'}"
                        f", {path.name}). `listener feeds` runs once untimed first (pending migrations).")
    urls = [f"http://127.0.0.1:9/f/blog{blog}.xml" for blog in range(bigdb.BLOGS)]
    config = peers.listener_config(scratch / "listener-read", urls, database=path)
    out = scratch / "reports"
    commands = {name: [part.replace("{out}", str(out)) for part in args] for name, args in QUERIES.items()}
    run_measured(peers.listener_command(config, "feeds"), env=child_env())  # migrations; p50 absorbs a cold first run
    for name in commands:
        results.queries[name] = report.Runs(f"listener {name}", 1, "runs")
    for repeat in range(settings.query_repeats):
        log(f"bench: read commands, run {repeat + 1} of {settings.query_repeats}")
        for name, args in commands.items():
            measure(results.queries[name], peers.listener_command(config, *args))


def _stop_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds the `with serve(...)` blocks: nginx stops with us


def main() -> int:
    settings = Settings.from_env(dict(os.environ))
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop_on_signal)
    os.umask(0o022)  # the farm must be readable by nginx's workers
    command = " ".join([*(f"{k}={v}" for k, v in os.environ.items() if k.startswith("BENCH_")), "make bench"])
    scratch = Path(tempfile.mkdtemp(prefix="listener-bench-"))
    scratch.chmod(0o711)
    try:
        compiled = compile_bytecode()
        r2e = peers.ensure_rss2email(settings.work) if settings.rss2email and settings.feeds else None
        results = report.Results(command=command, server="", feeds=settings.feeds, repeats=settings.repeats,
                                 settings=settings.shown())
        results.notes.append("listener's and the bench's bytecode written up front, as `pip install` writes"
                             " every package's" if compiled else "bytecode could not be written: each command compiled it")
        if not r2e:
            results.notes.append("rss2email left out (BENCH_RSS2EMAIL=0): its ratios are not judged")
        if settings.comments:
            results.notes.append("BENCH_COMMENTS=1: listener also fetched comment feeds, the peers did not")
        if settings.feeds:
            log(f"bench: building a {settings.feeds:,}-feed farm")
            the_farm = farm.build_farm(scratch / "farm", settings.feeds)
            results.notes.append(f"farm: {the_farm.bytes / 1e6:.1f} MB of feeds, {the_farm.comment_feeds:,} "
                                 "comment feeds (wfw:commentRss) beside them")
            with servers.serve(the_farm.root, scratch / "server", ports=settings.hosts,
                               prefer=settings.server) as server:
                results.server = server.kind
                log(f"bench: serving with {server.kind} at {', '.join(server.bases)}")
                poll_repeats(settings, results, the_farm, spread(the_farm, server.bases), scratch, r2e)
            report.write(results, settings.results)  # each phase's figures survive a later interruption
        if settings.big_feeds:
            big_poll(settings, results, scratch)
            report.write(results, settings.results)
        if settings.scoring:
            scoring_share(results)
            report.write(results, settings.results)
        if settings.db_items:
            read_commands(settings, results, scratch)
        report.write(results, settings.results)
        print(report.summary(results))
        return 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
