#!/usr/bin/env python3
"""Side-by-side load test: slotkv-server against Debian's redis-server on the same machine.

Builds slotkv-server in release mode, starts both servers on free loopback ports (both with
persistence off: no snapshots, no AOF), then runs redis-benchmark against each in
alternation, several rounds, and prints per test the median requests/s of each, the ratio
slotkv/redis and the median p99 latency of each. Both servers are stopped (by PID) at the end.

    benches/compare.py [--rounds 3] [--requests 1000000] [--clients 50] [--pipelines 1,16]
                       [--tests set,get] [--io-threads N] [--huge-pages]

`--tests` takes redis-benchmark's test names: for the data types, for example
`--tests lpush,lpop,sadd,hset,zadd,zpopmin,lrange_100,zrange_100`. redis-benchmark has no ZRANGE
test, so `zrange_100` is ours: it fills a sorted set of up to 100,000 members (untimed), then
times `ZRANGE bench:zset 0 99 WITHSCORES`, the top-100 read of a leaderboard.

`--huge-pages` starts slotkv with `_RJEM_MALLOC_CONF=thp:always` (see README, "Huge pages").

Installs redis-server and redis-tools with apt-get when they are missing.
"""

import argparse
import csv
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_redis():
    if shutil.which("redis-server") and shutil.which("redis-benchmark"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "redis-server", "redis-tools"], check=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc):
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def start(name, command, port, workdir, env=None):
    proc = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_ready(port, proc)
    return {"name": name, "port": port, "proc": proc}


def stop(server):
    proc = server["proc"]
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


# Tests redis-benchmark lacks: name -> (untimed fill command, timed command), run as custom commands.
CUSTOM_TESTS = {
    "zrange_100": (["ZADD", "bench:zset", "__rand_int__", "member:__rand_int__"],
                   ["ZRANGE", "bench:zset", "0", "99", "WITHSCORES"]),
}
CUSTOM_FILL_RANGE = 100_000


def run_benchmark(port, args, options, requests, key_range):
    command = [
        "redis-benchmark", "-p", str(port), "-c", str(args.clients), "-n", str(requests),
        "-r", str(key_range), "-P", str(args.pipeline), "--csv",
    ] + options
    out = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True).stdout
    return list(csv.DictReader(io.StringIO(out)))


def benchmark(port, args):
    tests = args.tests.split(",")
    builtin = [t for t in tests if t not in CUSTOM_TESTS]
    rows = {}
    if builtin:
        for row in run_benchmark(port, args, ["-t", ",".join(builtin)], args.requests, args.requests):
            rows[row["test"]] = (float(row["rps"]), float(row["p99_latency_ms"]))
    for name in (t for t in tests if t in CUSTOM_TESTS):
        fill, timed = CUSTOM_TESTS[name]
        run_benchmark(port, args, fill, CUSTOM_FILL_RANGE, CUSTOM_FILL_RANGE)
        for row in run_benchmark(port, args, timed, args.requests, args.requests):
            rows[name.upper()] = (float(row["rps"]), float(row["p99_latency_ms"]))
    return rows


def slotkv_env(huge_pages):
    env = dict(os.environ)
    if huge_pages:
        env["_RJEM_MALLOC_CONF"] = "thp:always,metadata_thp:auto"
    return env


def slotkv_binary():
    """Builds the release server (honouring CARGO_TARGET_DIR) and returns its path."""
    subprocess.run(["cargo", "build", "--release", "-p", "slotkv-net", "--bin", "slotkv-server"],
                   cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "release", "slotkv-server")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--tests", default="set,get")
    parser.add_argument("--io-threads", type=int, default=0,
                        help="slotkv's io-threads (default: the server's own default)")
    parser.add_argument("--huge-pages", action="store_true",
                        help="back slotkv's heap with transparent huge pages (jemalloc thp:always)")
    args = parser.parse_args()
    ensure_redis()
    binary = slotkv_binary()
    workdir = tempfile.mkdtemp(prefix="slotkv-bench-")
    slot_port, redis_port = free_port(), free_port()
    servers = []
    try:
        threads = ["--io-threads", str(args.io_threads)] if args.io_threads else []
        servers.append(start("slotkv", [binary, "--port", str(slot_port), "--bind", "127.0.0.1",
                                        "--save", "", "--appendonly", "no", "--loglevel", "warning",
                                        "--dir", workdir] + threads, slot_port, workdir,
                             slotkv_env(args.huge_pages)))
        servers.append(start("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                       "--save", "", "--appendonly", "no", "--loglevel", "warning",
                                       "--dir", workdir], redis_port, workdir))
        results = {}  # (pipeline, test, server) -> [(rps, p99)]
        for round_index in range(args.rounds):
            for pipeline in [int(p) for p in args.pipelines.split(",")]:
                args.pipeline = pipeline
                order = servers if round_index % 2 == 0 else list(reversed(servers))
                for server in order:
                    for test, figures in benchmark(server["port"], args).items():
                        results.setdefault((pipeline, test, server["name"]), []).append(figures)
                        print(f"round {round_index + 1} -P {pipeline} {server['name']:6} {test}: "
                              f"{figures[0]:.0f} req/s p99 {figures[1]:.3f} ms", flush=True)
        report(results, args)
    finally:
        for server in servers:
            stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


def report(results, args):
    print()
    print(f"redis-benchmark -c {args.clients} -n {args.requests} -r {args.requests}, {args.rounds} rounds, medians")
    print(f"{'test':8} {'-P':>3} {'slotkv req/s':>13} {'redis req/s':>12} {'ratio':>6} {'slotkv p99':>11} {'redis p99':>10}")
    for (pipeline, test, name) in sorted(k for k in results if k[2] == "slotkv"):
        ours = results[(pipeline, test, "slotkv")]
        theirs = results.get((pipeline, test, "redis"), [])
        if not theirs:
            continue
        ours_rps = statistics.median(r for r, _ in ours)
        theirs_rps = statistics.median(r for r, _ in theirs)
        ours_p99 = statistics.median(p for _, p in ours)
        theirs_p99 = statistics.median(p for _, p in theirs)
        print(f"{test:8} {pipeline:>3} {ours_rps:>13.0f} {theirs_rps:>12.0f} {ours_rps / theirs_rps:>6.2f} "
              f"{ours_p99:>9.3f}ms {theirs_p99:>8.3f}ms")


if __name__ == "__main__":
    sys.exit(main())
