#!/usr/bin/env python3
"""Failover figures of issue 8: slotkv sentinels against Redis sentinels, side by side.

Each run starts a primary, two replicas and three sentinels (quorum 2,
down-after-milliseconds 1000, failover-timeout 10000) on free loopback ports, writes
through redis-py's Sentinel master_for, kills the primary with SIGKILL and measures the time
until master_for's next write is accepted by the new primary (tests/interop/sentinel_checks.py
runs the scenario). Configurations alternate run by run; the table shows the median and
the largest time of each.

    benches/sentinel_failover.py [--runs 5] [--binary path/to/slotkv-server]

Without --binary, slotkv-server is built in release mode (honouring CARGO_TARGET_DIR).
Every process is stopped by PID at the end of its run.
"""

import argparse
import os
import statistics
import sys

sys.dont_write_bytecode = True  # importing must not leave __pycache__ behind
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
from compare import slotkv_binary  # noqa: E402
from sentinel_checks import failover  # noqa: E402
from persist_checks import REDIS_SERVER  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--binary")
    args = parser.parse_args()
    slotkv = args.binary or slotkv_binary()
    setups = [
        ("slotkv sentinels, slotkv servers", slotkv, [slotkv] * 3),
        ("slotkv sentinels, redis-server", REDIS_SERVER, [slotkv] * 3),
        ("Redis sentinels, redis-server", REDIS_SERVER, [REDIS_SERVER] * 3),
    ]
    times = {name: [] for name, _, _ in setups}
    for run in range(args.runs):
        order = setups if run % 2 == 0 else list(reversed(setups))
        for name, server, sentinels in order:
            elapsed = failover(server, sentinels)
            times[name].append(elapsed)
            print(f"run {run + 1}: {name}: {elapsed:.2f} s", flush=True)
    print(f"\n{'setup':<36} {'median s':>9} {'max s':>7}")
    for name, values in times.items():
        print(f"{name:<36} {statistics.median(values):>9.2f} {max(values):>7.2f}")


if __name__ == "__main__":
    main()
