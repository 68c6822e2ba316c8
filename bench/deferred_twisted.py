# SPDX-License-Identifier: MIT
"""The Twisted side of the deferred_chain benchmark (see deferred_chain.c).

ITERS times: make a Deferred, add CHAIN callbacks that each add one to the
value, fire it with 0, drop it. Prints nanoseconds per callback, the best of
REPS repetitions. Run with /usr/bin/python3 (Debian's python3-twisted).

Usage: deferred_twisted.py [ITERS [REPS]]
"""
import sys
import time

from twisted.internet.defer import Deferred

CHAIN = 10


def add_one(value):
    return value + 1


def run_once(iters):
    t0 = time.perf_counter_ns()  # CLOCK_MONOTONIC on Linux
    d = None
    for _ in range(iters):
        d = Deferred()
        for _ in range(CHAIN):
            d.addCallback(add_one)
        d.callback(0)
    elapsed = time.perf_counter_ns() - t0
    if d.result != CHAIN:
        raise SystemExit("deferred_twisted: the chain did not run through")
    return elapsed


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    best = min(run_once(iters) for _ in range(reps))
    print("%.1f" % (best / (iters * CHAIN)))


if __name__ == "__main__":
    main()
