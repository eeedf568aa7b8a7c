#!/usr/bin/env python3
"""Persistence figures of issue 5: slotkv-server against Debian's redis-server, side by side.

Builds slotkv-server in release mode (honouring CARGO_TARGET_DIR), starts it and
/usr/bin/redis-server on free loopback ports, each in its own temporary directory, and prints:

  bgsave  BGSAVE of 1,000,000 keys (`key:NNNNNNNN`, 100-byte incompressible values) while a
          writer process overwrites random existing keys, pipelined, at a steady rate (and once
          without writes). Per server: time to save (BGSAVE until INFO says it ended), load time
          at start-up (process start until DBSIZE answers the full count), and peak memory during
          the save over the memory before it, relative to the dataset (RSS of the loaded server
          minus RSS of the empty one). Memory is sampled from /proc every 10 ms: the server's
          VmRSS plus, for a forked child (redis-server), the child's private pages (Private_Clean
          + Private_Dirty of /proc/<child>/smaps_rollup). Pages the child still shares with the
          parent are counted once, in the parent; the child's private pages are the ones
          copy-on-write duplicated (the figure Redis itself reports as rdb_last_cow_size).
  aof     Write throughput with `appendonly yes` at each appendfsync policy: redis-benchmark
          `-t set -n 200000 -c 50 -P 1` and `-P 16`, a fresh server per policy, ratio slotkv/redis.
  loss    appendfsync everysec: a writer records every acknowledged write (pipelined batches of
          sequential keys), the server is killed with SIGKILL mid-load, restarted on its files,
          and acknowledged writes missing afterwards are counted.

    benches/persistence.py [--quick] [--only bgsave,aof,loss] [--keys 1000000]
                           [--write-rate 20000] [--rounds 2]

`--quick` shrinks every size (a smoke run). Servers are stopped by PID at the end, also on error.
"""

import argparse
import base64
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # importing compare.py must not leave __pycache__ in benches/
from compare import ensure_redis, free_port, slotkv_binary, start, stop  # noqa: E402
from memory import RawClient, ReplyError, encode, info  # noqa: E402

REDIS_SERVER = "/usr/bin/redis-server"
MB = 1024 * 1024
BATCH = 1000
VALUE_BYTES = 100
SAMPLE_PERIOD = 0.01


def key_name(index):
    return b"key:%08d" % index


def value_pool(count=4096):
    """Distinct incompressible 100-byte values (LZF finds nothing to shorten)."""
    rng = random.Random(7)
    return [base64.b64encode(rng.randbytes(75)) for _ in range(count)]


class Servers:
    """Starts servers in their own directories and stops every one it started, by PID."""

    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.running = []

    def command(self, name, port, workdir, directives):
        extra = []
        for key, value in directives.items():
            extra += [f"--{key}", str(value)]
        base = [self.binary] if name == "slotkv" else [REDIS_SERVER]
        return base + ["--port", str(port), "--bind", "127.0.0.1", "--loglevel", "warning",
                       "--dir", workdir] + extra

    def workdir(self, label):
        path = os.path.join(self.root, label)
        os.makedirs(path, exist_ok=True)
        return path

    def start(self, name, workdir, directives):
        """Starts a server and waits until it has loaded its files (PING answers PONG, not
        -LOADING)."""
        port = free_port()
        server = start(name, self.command(name, port, workdir, directives), port, workdir)
        self.running.append(server)
        deadline = time.time() + 120
        while True:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(256)
            if reply == b"+PONG\r\n":
                return server
            if not reply.startswith(b"-LOADING") or time.time() > deadline:
                raise RuntimeError(f"{name} answered PING with {reply!r}")
            time.sleep(0.01)

    def spawn(self, name, workdir, directives):
        """Starts the process without waiting for it (load timing polls it itself)."""
        port = free_port()
        proc = subprocess.Popen(self.command(name, port, workdir, directives), cwd=workdir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = {"name": name, "port": port, "proc": proc}
        self.running.append(server)
        return server

    def stop(self, server):
        stop(server)
        self.running = [s for s in self.running if s is not server]

    def kill(self, server):
        proc = server["proc"]
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        self.running = [s for s in self.running if s is not server]

    def stop_all(self):
        while self.running:
            stop(self.running.pop())


# ---------------------------------------------------------------- memory from /proc

def status_rss(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def private_bytes(pid):
    """Pages only `pid` maps (private clean + dirty): a forked child's copy-on-write copies."""
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1]) * 1024
    return total


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(child) for child in listing.read().split()]
    except OSError:
        return []


def memory_sample(pid):
    """(parent RSS + children's private bytes, children's private bytes); a child that exits
    between listing and reading counts as nothing."""
    parent = status_rss(pid)
    private = 0
    for child in children(pid):
        try:
            private += private_bytes(child)
        except OSError:
            pass
    return parent + private, private


# ---------------------------------------------------------------- loading the data set

def fill(port, keys, values):
    client = RawClient(port)
    for start_index in range(0, keys, BATCH):
        end = min(keys, start_index + BATCH)
        payload = b"".join(encode((b"SET", key_name(i), values[i % len(values)]))
                           for i in range(start_index, end))
        for reply in client.pipeline(payload, end - start_index):
            if isinstance(reply, ReplyError):
                raise reply
    client.close()


def set_command(key, value):
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)


def overwrite_load(port, keys, rate, values, stop_flag, written):
    """Writer process: overwrites random existing keys at `rate` SETs per second, in pipelined
    batches of 100, until `stop_flag` is set; counts acknowledged writes in `written`."""
    batch = 100
    period = batch / rate
    rng = random.Random(11)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    expected = b"+OK\r\n" * batch
    next_send = time.perf_counter()
    while not stop_flag.is_set():
        payload = b"".join(set_command(key_name(rng.randrange(keys)), values[rng.randrange(len(values))])
                           for _ in range(batch))
        sock.sendall(payload)
        received = b""
        while len(received) < len(expected):
            chunk = sock.recv(len(expected) - len(received))
            if not chunk:
                return
            received += chunk
        if received != expected:
            raise RuntimeError(f"writer got {received[:60]!r}")
        with written.get_lock():
            written.value += batch
        next_send += period
        delay = next_send - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    sock.close()


class Writer:
    """The overwrite load in its own process (the sampler in this one must not wait on it)."""

    def __init__(self, port, keys, rate, values):
        self.stop_flag = multiprocessing.Event()
        self.written = multiprocessing.Value("q", 0)
        self.proc = multiprocessing.Process(
            target=overwrite_load, args=(port, keys, rate, values, self.stop_flag, self.written), daemon=True)

    def __enter__(self):
        self.proc.start()
        return self

    def count(self):
        with self.written.get_lock():
            return self.written.value

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.proc.join(timeout=10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


# ---------------------------------------------------------------- figure 1: BGSAVE

def bgsave_and_sample(server):
    """Runs BGSAVE and samples memory until the save ends: (seconds, peak bytes, samples)."""
    client = RawClient(server["port"])
    pid = server["proc"].pid
    peak, peak_private, samples = 0, 0, 0
    began = time.perf_counter()
    reply = client.call("BGSAVE")
    if b"started" not in reply:
        raise RuntimeError(f"BGSAVE: {reply!r}")
    while True:
        total, private = memory_sample(pid)
        peak, peak_private = max(peak, total), max(peak_private, private)
        samples += 1
        fields = info(client, "persistence")
        if fields["rdb_bgsave_in_progress"] == "0":
            elapsed = time.perf_counter() - began
            if fields["rdb_last_bgsave_status"] != "ok":
                raise RuntimeError(f"{server['name']}: background save failed")
            break
        time.sleep(SAMPLE_PERIOD)
    cow = int(fields.get("rdb_last_cow_size", 0))
    client.close()
    return elapsed, peak, peak_private, samples, cow


def time_load(servers, name, workdir, directives, keys):
    """Starts a server on its saved file: seconds until DBSIZE answers `keys`."""
    began = time.perf_counter()
    server = servers.spawn(name, workdir, directives)
    deadline = began + 120
    while time.perf_counter() < deadline:
        if server["proc"].poll() is not None:
            raise RuntimeError(f"{name} exited with {server['proc'].returncode} while loading")
        try:
            with socket.create_connection(("127.0.0.1", server["port"]), timeout=1) as sock:
                sock.sendall(b"DBSIZE\r\n")
                reply = sock.recv(256)
        except OSError:
            time.sleep(0.005)
            continue
        if reply == b":%d\r\n" % keys:
            return time.perf_counter() - began, server
        if not reply.startswith(b"-LOADING"):
            raise RuntimeError(f"{name} answered DBSIZE with {reply!r}")
        time.sleep(0.005)
    raise RuntimeError(f"{name} did not load within 120 s")


def figure_bgsave(servers, sizes, write_rate):
    keys = sizes["keys"]
    values = value_pool()
    directives = {"save": "", "appendonly": "no", "dbfilename": "dump.rdb"}
    rows = []
    for name in ("slotkv", "redis"):
        workdir = servers.workdir(f"bgsave-{name}")
        server = servers.start(name, workdir, directives)
        pid = server["proc"].pid
        time.sleep(0.5)
        rss_empty = status_rss(pid)
        fill(server["port"], keys, values)
        time.sleep(1)
        rss_loaded = status_rss(pid)
        dataset = rss_loaded - rss_empty
        for rate in (0, write_rate):
            rss_before = status_rss(pid)
            if rate:
                with Writer(server["port"], keys, rate, values) as writer:
                    time.sleep(1)  # the load reaches its steady rate before the save starts
                    rss_before = status_rss(pid)
                    written_before = writer.count()
                    save_secs, peak, peak_private, samples, cow = bgsave_and_sample(server)
                    written = writer.count() - written_before
            else:
                save_secs, peak, peak_private, samples, cow = bgsave_and_sample(server)
                written = 0
            row = {
                "name": name, "rate": rate, "achieved": written / save_secs if save_secs else 0,
                "save": save_secs, "extra": peak - rss_before, "dataset": dataset,
                "rss_before": rss_before, "peak": peak, "child_private": peak_private,
                "samples": samples, "cow": cow,
                "file": os.path.getsize(os.path.join(workdir, "dump.rdb")),
            }
            rows.append(row)
            print(f"  {name:6} writes {row['achieved']:7.0f}/s save {save_secs:6.3f} s "
                  f"RSS before {rss_before / MB:6.1f} MB peak {peak / MB:6.1f} MB "
                  f"extra {row['extra'] / MB:6.1f} MB ({row['extra'] / dataset:5.1%} of dataset "
                  f"{dataset / MB:.1f} MB) child private {peak_private / MB:.1f} MB "
                  f"[{samples} samples]", flush=True)
        servers.stop(server)
        load_secs, loaded = time_load(servers, name, workdir, directives, keys)
        servers.stop(loaded)
        for row in rows:
            if row["name"] == name:
                row["load"] = load_secs
        print(f"  {name:6} load at start-up {load_secs:.3f} s (file {rows[-1]['file'] / MB:.1f} MB)", flush=True)
    return {"keys": keys, "rate": write_rate, "rows": rows}


def report_bgsave(result):
    print()
    print(f"BGSAVE of {result['keys']} keys ({VALUE_BYTES}-byte values); writer overwriting random keys "
          f"at a target of {result['rate']}/s, pipelined")
    print(f"{'server':7} {'writes/s':>9} {'save s':>7} {'load s':>7} {'dataset MB':>11} "
          f"{'extra MB':>9} {'extra %':>8} {'file MB':>8}")
    for row in result["rows"]:
        print(f"{row['name']:7} {row['achieved']:>9.0f} {row['save']:>7.3f} {row['load']:>7.3f} "
              f"{row['dataset'] / MB:>11.1f} {row['extra'] / MB:>9.1f} {row['extra'] / row['dataset']:>8.1%} "
              f"{row['file'] / MB:>8.1f}")
    by = {(row["name"], row["rate"]): row for row in result["rows"]}
    for rate in sorted({row["rate"] for row in result["rows"]}):
        ours, theirs = by.get(("slotkv", rate)), by.get(("redis", rate))
        if ours and theirs:
            print(f"writes {rate}/s: save time slotkv/redis {ours['save'] / theirs['save']:.2f}, "
                  f"load time slotkv/redis {ours['load'] / theirs['load']:.2f}, "
                  f"extra memory slotkv {ours['extra'] / ours['dataset']:.1%} vs redis "
                  f"{theirs['extra'] / theirs['dataset']:.1%} of the dataset "
                  f"(redis rdb_last_cow_size {theirs['cow'] / MB:.1f} MB)")


# ---------------------------------------------------------------- figure 2: AOF throughput

def redis_benchmark(port, requests, pipeline):
    command = ["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(requests), "-c", "50",
               "-P", str(pipeline), "--csv"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True).stdout
    for line in out.splitlines()[1:]:
        fields = [f.strip('"') for f in line.split(",")]
        if fields and fields[0] == "SET":
            return float(fields[1])
    raise RuntimeError(f"no SET row in {out!r}")


def figure_aof(servers, sizes, rounds):
    results = {}  # (policy, pipeline, name) -> [rps]
    for policy in ("always", "everysec", "no"):
        directives = {"save": "", "appendonly": "yes", "appendfsync": policy}
        pair = [servers.start(name, servers.workdir(f"aof-{policy}-{name}"), directives)
                for name in ("slotkv", "redis")]
        for round_index in range(rounds):
            for pipeline in (1, 16):
                order = pair if round_index % 2 == 0 else list(reversed(pair))
                for server in order:
                    rps = redis_benchmark(server["port"], sizes["aof_requests"], pipeline)
                    results.setdefault((policy, pipeline, server["name"]), []).append(rps)
                    print(f"  appendfsync {policy:8} -P {pipeline:2} {server['name']:6} {rps:9.0f} SET/s",
                          flush=True)
        for server in pair:
            servers.stop(server)
    return {"requests": sizes["aof_requests"], "rounds": rounds, "results": results}


def report_aof(result):
    print()
    print(f"appendonly yes: redis-benchmark -t set -n {result['requests']} -c 50, "
          f"median of {result['rounds']} rounds")
    print(f"{'appendfsync':11} {'-P':>3} {'slotkv SET/s':>13} {'redis SET/s':>12} {'ratio':>6}")
    results = result["results"]
    for policy in ("always", "everysec", "no"):
        for pipeline in (1, 16):
            ours = results.get((policy, pipeline, "slotkv"))
            theirs = results.get((policy, pipeline, "redis"))
            if ours and theirs:
                ours_rps, theirs_rps = statistics.median(ours), statistics.median(theirs)
                print(f"{policy:11} {pipeline:>3} {ours_rps:>13.0f} {theirs_rps:>12.0f} "
                      f"{ours_rps / theirs_rps:>6.2f}")


# ---------------------------------------------------------------- figure 3: loss after SIGKILL

def write_until_killed(port, kill_after, kill):
    """Writes `SET seq:N N` in pipelined batches of 100 while a timer kills the server after
    `kill_after` seconds, wherever the writer is: returns (highest acknowledged N, seconds)."""
    client = RawClient(port)
    acknowledged, batch = 0, 100
    began = time.perf_counter()
    timer = threading.Timer(kill_after, kill)
    timer.start()
    try:
        while True:
            payload = b"".join(encode((b"SET", b"seq:%d" % i, b"%d" % i))
                               for i in range(acknowledged + 1, acknowledged + batch + 1))
            replies = client.pipeline(payload, batch)
            if any(isinstance(reply, ReplyError) for reply in replies):
                raise RuntimeError(f"write refused: {replies[0]}")
            acknowledged += batch
    except OSError:
        pass
    finally:
        timer.join()
        client.close()
    return acknowledged, time.perf_counter() - began


def missing_of(port, acknowledged):
    client = RawClient(port)
    missing = 0
    for start_index in range(1, acknowledged + 1, BATCH):
        end = min(acknowledged + 1, start_index + BATCH)
        payload = encode([b"MGET"] + [b"seq:%d" % i for i in range(start_index, end)])
        values = client.pipeline(payload, 1)[0]
        missing += sum(1 for value in values if value is None)
    client.close()
    return missing


def figure_loss(servers, sizes, rounds):
    rows = []
    directives = {"save": "", "appendonly": "yes", "appendfsync": "everysec"}
    for name in ("slotkv", "redis"):
        for round_index in range(rounds):
            workdir = servers.workdir(f"loss-{name}-{round_index}")
            server = servers.start(name, workdir, directives)
            acknowledged, secs = write_until_killed(server["port"], sizes["loss_secs"],
                                                    lambda: servers.kill(server))
            restarted = servers.start(name, workdir, directives)
            missing = missing_of(restarted["port"], acknowledged)
            servers.stop(restarted)
            rate = acknowledged / secs
            rows.append({"name": name, "acknowledged": acknowledged, "missing": missing, "rate": rate})
            print(f"  {name:6} round {round_index + 1}: {acknowledged} acknowledged ({rate:.0f}/s), "
                  f"{missing} missing after SIGKILL and restart", flush=True)
    return {"rows": rows}


def report_loss(result):
    print()
    print("appendfsync everysec, SIGKILL mid-load, acknowledged writes missing after restart")
    for name in ("slotkv", "redis"):
        rows = [row for row in result["rows"] if row["name"] == name]
        if rows:
            missing = [row["missing"] for row in rows]
            acked = [row["acknowledged"] for row in rows]
            worst = max(row["missing"] / row["rate"] for row in rows)
            print(f"{name:7} rounds {len(rows)} acknowledged {acked} missing {missing} "
                  f"(worst: {worst:.3f} s of writes)")


# ---------------------------------------------------------------- main

FULL = {"keys": 1_000_000, "aof_requests": 200_000, "loss_secs": 3}
QUICK = {"keys": 100_000, "aof_requests": 20_000, "loss_secs": 1}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="bgsave,aof,loss")
    parser.add_argument("--keys", type=int)
    parser.add_argument("--write-rate", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    if args.keys:
        sizes["keys"] = args.keys
    only = set(args.only.split(","))
    ensure_redis()
    binary = slotkv_binary()
    root = tempfile.mkdtemp(prefix="slotkv-persist-bench-")
    servers = Servers(binary, root)
    reports = []
    try:
        if "bgsave" in only:
            print("figure 1: BGSAVE under a write load", flush=True)
            reports.append((report_bgsave, figure_bgsave(servers, sizes, args.write_rate)))
        if "aof" in only:
            print("figure 2: appendonly yes throughput", flush=True)
            reports.append((report_aof, figure_aof(servers, sizes, args.rounds)))
        if "loss" in only:
            print("figure 3: everysec, acknowledged writes lost after SIGKILL", flush=True)
            reports.append((report_loss, figure_loss(servers, sizes, args.rounds)))
    finally:
        servers.stop_all()
        shutil.rmtree(root, ignore_errors=True)
    for report, result in reports:
        report(result)


if __name__ == "__main__":
    sys.exit(main())
