"""A/B two listener installs on one farm, interleaved: `python -m bench.ab BASE_LISTENER NEW_LISTENER`.

Each argument is a `listener` console script (e.g. another checkout's .venv/bin/listener). Every
repeat runs, for each install in alternating order, a first poll and three all-304 re-polls on
fresh state; prints min and median seconds, all-304 feeds/s, and the first poll's peak tree RSS.
AB_FEEDS [300] and AB_REPEATS [3] set the sizes. A shared machine slows both alike: compare them
within one run.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench import farm, peers, servers
from bench.proctree import run_measured
from bench.run import child_env, compile_bytecode


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    systems = {"base": argv[0], "new": argv[1]}
    feeds, repeats = int(os.environ.get("AB_FEEDS", "300")), int(os.environ.get("AB_REPEATS", "3"))
    compile_bytecode()  # this checkout's; an install given as BASE has its own, as pip wrote it
    scratch = Path(tempfile.mkdtemp(prefix="listener-ab-"))
    the_farm = farm.build_farm(scratch / "farm", feeds)
    seconds: dict[tuple[str, str], list[float]] = {(s, k): [] for s in systems for k in ("first", "304")}
    rss: dict[str, list[float]] = {s: [] for s in systems}
    with servers.serve(the_farm.root, scratch / "server", ports=1) as server:
        urls = [server.bases[0] + path for path in the_farm.feeds]
        for repeat in range(repeats):
            for name in (list(systems) if repeat % 2 == 0 else list(systems)[::-1]):
                config = peers.listener_config(scratch / f"{name}-{repeat}", urls)
                for kind in ("first", "304", "304", "304"):
                    measured = run_measured([systems[name], "--config", str(config), "poll", "--all"], env=child_env())
                    if measured.returncode != 0:
                        print(f"{name}: exit {measured.returncode}: {measured.stderr[-400:]}", file=sys.stderr)
                        return 1
                    seconds[name, kind].append(measured.seconds)
                    if kind == "first":
                        rss[name].append(measured.peak_rss_mb)
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{feeds} feeds, {repeats} repeats, load average after {load}")
    for kind in ("first", "304"):
        print(f"{kind:>5}: " + "   ".join(
            f"{name} min {min(seconds[name, kind]):.2f} s, median {statistics.median(seconds[name, kind]):.2f} s"
            for name in systems))
    print("  304: " + "   ".join(f"{name} {feeds / min(seconds[name, '304']):,.0f} feeds/s" for name in systems))
    print("  RSS: " + "   ".join(f"{name} {max(rss[name]):.0f} MB" for name in systems))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
