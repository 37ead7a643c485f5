"""`python -m bench` (what `make bench` runs): see bench/run.py for what it measures and its settings.

The other benches: `python -m bench.load` (1,000 feeds on 20 loopback servers, RELIABILITY A17) and
`python -m bench.soak` (the daemon for N minutes against the sample served on loopback).
"""

import sys

from bench.run import main

if __name__ == "__main__":
    sys.exit(main())
