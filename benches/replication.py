#!/usr/bin/env python3
"""Replication figures of issue 6: slotkv-server against Debian's redis-server, side by side.

Builds slotkv-server in release mode (honouring CARGO_TARGET_DIR), starts every server with
`--save "" --appendonly no` on free loopback ports, and prints two figures:

  writes  Write throughput of a primary with 0, 1 and 2 replicas: redis-benchmark
          `-t set -n 300000 -r 300000 -c 50 -P 16` against the primary. Meanwhile, every 20 ms,
          each replica's lag: the primary's master_repl_offset minus the replica's (bytes of
          the stream not applied yet); the table shows the largest sample during the load, the
          lag right when the load ends, and how long the replicas then take to reach lag 0.
          Each configuration runs `--rounds` times (3), alternating which server goes
          first; the table shows the median of each figure.
  sync    Full sync time: a primary holding 1,000,000 keys (`key:NNNNNNNN`, 32-byte values,
          loaded through pipelines of 1000 SETs; slotkv has no DEBUG POPULATE), an empty
          replica told REPLICAOF; the time until its master_link_status is up and its DBSIZE
          equals the primary's.

    benches/replication.py [--quick] [--only writes|sync] [--rounds 3]

Both servers sync the same way: diskless (`repl-diskless-sync yes`, the default of both);
Redis gets `repl-diskless-sync-delay 0`, as it would otherwise wait 5 s for more replicas
before starting the transfer (slotkv has no such wait). `--quick` shrinks the sizes. Servers
are stopped by PID at the end, also on error or on SIGTERM/SIGINT.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # importing compare.py must not leave __pycache__ in benches/
from compare import free_port, slotkv_binary, start, stop  # noqa: E402
from memory import RawClient, encode, info  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_SERVER = "/usr/bin/redis-server"
FULL = {"requests": 300_000, "sync_keys": 1_000_000}
QUICK = {"requests": 50_000, "sync_keys": 100_000}
SAMPLE_SECONDS = 0.02
CATCH_UP_SECONDS_MAX = 60
BATCH = 1000


class Servers:
    """Starts servers of either kind with the same directives; stops them all by PID."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.running = []

    def start(self, kind):
        port = free_port()
        common = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                  "--loglevel", "warning", "--dir", self.workdir]
        if kind == "slotkv":
            command = [self.binary] + common
        else:
            command = [REDIS_SERVER] + common + ["--repl-diskless-sync-delay", "0",
                                                 "--dbfilename", f"dump-{port}.rdb"]
        server = start(kind, command, port, self.workdir)
        self.running.append(server)
        server["client"] = RawClient(port)
        return server

    def stop_all(self):
        while self.running:
            server = self.running.pop()
            server["client"].close()
            stop(server)


def repl_offset(client):
    return int(info(client, "replication")["master_repl_offset"])


def link_up(client):
    return info(client, "replication").get("master_link_status") == "up"


def follow(replica, primary):
    replica["client"].call("REPLICAOF", "127.0.0.1", primary["port"])


def wait_synced(replica, keys, deadline_seconds=120):
    """Waits until the replica's link is up and it holds `keys` keys."""
    deadline = time.perf_counter() + deadline_seconds
    while time.perf_counter() < deadline:
        if link_up(replica["client"]) and replica["client"].call("DBSIZE") == keys:
            return
        time.sleep(0.005)
    raise RuntimeError(f"{replica['name']} replica on {replica['port']} did not sync")


# ---------------------------------------------------------------- figure 1: writes and lag

def figure_writes(servers, kind, replicas, sizes):
    primary = servers.start(kind)
    followers = [servers.start(kind) for _ in range(replicas)]
    for replica in followers:
        follow(replica, primary)
    for replica in followers:
        wait_synced(replica, 0)
    # Samples the lag from its own connections while redis-benchmark runs.
    samplers = [RawClient(primary["port"])] + [RawClient(r["port"]) for r in followers]
    peak = [0] * replicas
    done = threading.Event()

    def sample():
        while not done.is_set():
            head = repl_offset(samplers[0])
            for i, client in enumerate(samplers[1:]):
                peak[i] = max(peak[i], head - repl_offset(client))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        rps = benchmark(primary["port"], sizes["requests"])
    finally:
        done.set()
        sampler.join()
    head = repl_offset(samplers[0])
    end_lag = [head - repl_offset(client) for client in samplers[1:]]
    began = time.perf_counter()
    while any(head > repl_offset(client) for client in samplers[1:]):
        if time.perf_counter() - began > CATCH_UP_SECONDS_MAX:
            raise RuntimeError("the replicas did not catch up")
        time.sleep(0.001)
    catch_up = time.perf_counter() - began
    keys = primary["client"].call("DBSIZE")
    same = all(r["client"].call("DBSIZE") == keys for r in followers)
    for client in samplers:
        client.close()
    servers.stop_all()
    return {"rps": rps, "peak": max(peak, default=0), "end": max(end_lag, default=0),
            "catch_up_ms": catch_up * 1000, "same": same}


def benchmark(port, requests):
    command = ["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(requests),
               "-r", str(requests), "-c", "50", "-P", "16", "--csv"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True).stdout
    for line in out.splitlines():
        fields = [f.strip('"') for f in line.split(",")]
        if fields and fields[0] == "SET":
            return float(fields[1])
    raise RuntimeError(f"no SET figure in redis-benchmark's output: {out!r}")


# ---------------------------------------------------------------- figure 2: full sync

def figure_sync(servers, kind, sizes):
    primary = servers.start(kind)
    keys = sizes["sync_keys"]
    value = b"v" * 32
    client = primary["client"]
    for first in range(0, keys, BATCH):
        count = min(BATCH, keys - first)
        payload = b"".join(encode(("SET", b"key:%08d" % n, value)) for n in range(first, first + count))
        client.pipeline(payload, count)
    if client.call("DBSIZE") != keys:
        raise RuntimeError("the primary did not take every key")
    replica = servers.start(kind)
    began = time.perf_counter()
    follow(replica, primary)
    wait_synced(replica, keys)
    seconds = time.perf_counter() - began
    servers.stop_all()
    return {"seconds": seconds, "keys": keys}


# ---------------------------------------------------------------- report

def medians(rows):
    """The median of each figure over the rounds; `same` holds if it held in every round."""
    merged = {name: statistics.median(row[name] for row in rows)
              for name in ("rps", "peak", "end", "catch_up_ms")}
    merged["same"] = all(row["same"] for row in rows)
    return merged


def report(results, sizes):
    if "writes" in results:
        print(f"\nwrites: SET -n {sizes['requests']} -c 50 -P 16 on the primary; lag in bytes "
              "(worst replica); medians of the rounds")
        print(f"{'server':8} {'replicas':>8} {'SET/s':>10} {'vs 0':>6} {'peak lag':>10} "
              f"{'end lag':>10} {'catch-up ms':>12} {'same':>5}")
        for kind, replicas in sorted(results["writes"], key=lambda k: (k[0] != "slotkv", k[1])):
            row = results["writes"][(kind, replicas)]
            base = results["writes"][(kind, 0)]["rps"]
            print(f"{kind:8} {replicas:>8} {row['rps']:>10.0f} {row['rps'] / base:>6.2f} "
                  f"{row['peak']:>10.0f} {row['end']:>10.0f} {row['catch_up_ms']:>12.1f} "
                  f"{'yes' if row['same'] else 'NO':>5}")
    if "sync" in results:
        print(f"\nsync: REPLICAOF to link up with DBSIZE equal, {sizes['sync_keys']:,} keys")
        print(f"{'server':8} {'seconds':>8} {'keys/s':>12}")
        for kind, row in results["sync"].items():
            print(f"{kind:8} {row['seconds']:>8.2f} {row['keys'] / row['seconds']:>12.0f}")
        if len(results["sync"]) == 2:
            ratio = results["sync"]["slotkv"]["seconds"] / results["sync"]["redis"]["seconds"]
            print(f"slotkv/redis time ratio {ratio:.2f}")


def interrupted(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}: stopping the servers")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", choices=["writes", "sync"], help="run one figure")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each write configuration")
    args = parser.parse_args()
    if not os.path.exists(REDIS_SERVER) or not shutil.which("redis-benchmark"):
        sys.exit("redis-server / redis-benchmark are missing (apt-get install redis-server redis-tools)")
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, interrupted)
    sizes = QUICK if args.quick else FULL
    binary = slotkv_binary()
    workdir = tempfile.mkdtemp(prefix="slotkv-replication-")
    servers = Servers(binary, workdir)
    results = {}
    began = time.perf_counter()
    try:
        if args.only in (None, "writes"):
            runs = {}
            for round_index in range(args.rounds):
                for replicas in (0, 1, 2):
                    kinds = ("slotkv", "redis") if round_index % 2 == 0 else ("redis", "slotkv")
                    for kind in kinds:
                        print(f"writes: round {round_index + 1}, {kind} with {replicas} replicas", flush=True)
                        runs.setdefault((kind, replicas), []).append(
                            figure_writes(servers, kind, replicas, sizes))
            results["writes"] = {key: medians(rows) for key, rows in runs.items()}
        if args.only in (None, "sync"):
            results["sync"] = {}
            for kind in ("slotkv", "redis"):
                print(f"sync: {kind}", flush=True)
                results["sync"][kind] = figure_sync(servers, kind, sizes)
    finally:
        servers.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    report(results, sizes)
    print(f"\n({'quick' if args.quick else 'full'} run, {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
