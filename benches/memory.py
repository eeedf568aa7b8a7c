#!/usr/bin/env python3
"""Memory figures of issue 4: slotkv-server against Debian's redis-server, side by side.

Builds slotkv-server in release mode (honouring CARGO_TARGET_DIR), starts it and
/usr/bin/redis-server (`--save "" --appendonly no`) on free loopback ports, runs the same
workload against each in turn, and prints three figures:

  limit  Holding the limit: maxmemory 100mb, allkeys-lru, 500 MB of distinct keys written
         (1000-byte values, pipelined). Per server: errors returned to the writer, peak and final
         used_memory, final RSS, their ratios to the limit, evicted_keys, write throughput.
  hits   Hit ratio: maxmemory 32mb, a key space ten times what fits (32mb / 1000-byte values
         x 10), Zipf-distributed keys (skew 0.99), GET then SET of the misses (a cache), a
         warm-up phase then a measured phase; the same sequence for allkeys-lru and allkeys-lfu.
  bytes  Bytes per key: 1,000,000 keys `key:NNNNNNNN` with 32-byte values, and separately
         100,000 hashes of 10 fields (`field:N`, 16-byte values), each into a fresh server:
         used_memory and RSS over the empty server, bytes per key, slotkv/redis ratios.

    benches/memory.py [--quick] [--only limit|hits|bytes] [--seed 1]

`--quick` shrinks every size (a smoke run well under a minute once the binary is built).
RSS is read from /proc/<pid>/status (VmRSS) for both servers, the figure INFO's
used_memory_rss reports, so that Redis's periodic refresh does not skew it. The load runs
through a small raw RESP client (pre-encoded pipelines of 1000 commands), as redis-py without
hiredis would be the bottleneck. Servers are stopped by PID at the end, also on error.
"""

import argparse
import bisect
import itertools
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # importing compare.py must not leave __pycache__ in benches/
from compare import free_port, slotkv_binary, start, stop  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_SERVER = "/usr/bin/redis-server"
MB = 1024 * 1024
BATCH = 1000

# Sizes of the full run and of --quick.
FULL = {
    "limit_maxmemory_mb": 100, "limit_write_mb": 500, "limit_value": 1000,
    "hits_maxmemory_mb": 32, "hits_value": 1000, "hits_warmup": 600_000, "hits_measured": 1_000_000,
    "bytes_keys": 1_000_000, "bytes_hashes": 100_000,
}
QUICK = {
    "limit_maxmemory_mb": 16, "limit_write_mb": 80, "limit_value": 1000,
    "hits_maxmemory_mb": 8, "hits_value": 1000, "hits_warmup": 60_000, "hits_measured": 100_000,
    "bytes_keys": 100_000, "bytes_hashes": 10_000,
}


class ReplyError(Exception):
    """An error reply (`-ERR ...`) from the server."""


class RawClient:
    """A minimal pipelining RESP client: sends a batch of pre-encoded commands in one write and
    parses exactly as many replies (simple strings, errors, integers, bulk strings)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def _reply(self):
        line = self._line()
        kind = line[:1]
        if kind == b"$":
            length = int(line[1:])
            if length < 0:
                return None
            while len(self.buf) - self.pos < length + 2:
                self._fill()
            data = self.buf[self.pos:self.pos + length]
            self.pos += length + 2
            return data
        if kind == b"-":
            return ReplyError(line[1:].decode(errors="replace"))
        if kind == b":":
            return int(line[1:])
        if kind == b"+":
            return line[1:]
        if kind == b"*":
            count = int(line[1:])
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise ConnectionError(f"unexpected reply line {line[:40]!r}")

    def pipeline(self, payload, count):
        """Sends `payload` (count encoded commands) and returns the count replies."""
        self.sock.sendall(payload)
        return [self._reply() for _ in range(count)]

    def call(self, *args):
        reply = self.pipeline(encode(args), 1)[0]
        if isinstance(reply, ReplyError):
            raise reply
        return reply


def encode(args):
    """One command in RESP (arguments are str, bytes or int)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if not isinstance(arg, bytes):
            arg = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def info(client, section):
    text = client.call("INFO", section).decode()
    fields = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name] = value.strip()
    return fields


def rss_bytes(server):
    with open(f"/proc/{server['proc'].pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def used_memory(client):
    return int(info(client, "memory")["used_memory"])


class Servers:
    """Starts a slotkv-server and a redis-server with the same directives; stops both by PID."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.running = []

    def start_pair(self, directives):
        extra = []
        for name, value in directives.items():
            extra += [f"--{name}", str(value)]
        pair = []
        slot_port, redis_port = free_port(), free_port()
        pair.append(self._start("slotkv", [self.binary, "--port", str(slot_port), "--bind", "127.0.0.1",
                                           "--save", "", "--appendonly", "no", "--loglevel", "warning",
                                           "--dir", self.workdir] + extra, slot_port))
        pair.append(self._start("redis", [REDIS_SERVER, "--port", str(redis_port), "--bind", "127.0.0.1",
                                          "--save", "", "--appendonly", "no", "--loglevel", "warning",
                                          "--dir", self.workdir] + extra, redis_port))
        return pair

    def _start(self, name, command, port):
        server = start(name, command, port, self.workdir)
        self.running.append(server)
        return server

    def stop_all(self):
        while self.running:
            stop(self.running.pop())


# ---------------------------------------------------------------- figure 1: holding the limit

def figure_limit(servers, sizes):
    limit = sizes["limit_maxmemory_mb"] * MB
    value = b"v" * sizes["limit_value"]
    keys = sizes["limit_write_mb"] * MB // len(value)
    pair = servers.start_pair({"maxmemory": f"{sizes['limit_maxmemory_mb']}mb",
                               "maxmemory-policy": "allkeys-lru"})
    rows = []
    try:
        for server in pair:
            rows.append(write_distinct(server, limit, value, keys))
    finally:
        servers.stop_all()
    return {"limit": limit, "keys": keys, "value": len(value), "rows": rows}


def write_distinct(server, limit, value, keys):
    client = RawClient(server["port"])
    errors, first_error, peak = 0, None, 0
    began = time.perf_counter()
    for batch_start in range(0, keys, BATCH):
        batch_end = min(keys, batch_start + BATCH)
        payload = b"".join(encode((b"SET", b"key:%010d" % i, value)) for i in range(batch_start, batch_end))
        for reply in client.pipeline(payload, batch_end - batch_start):
            if isinstance(reply, ReplyError):
                errors += 1
                first_error = first_error or str(reply)
        if (batch_start // BATCH) % 20 == 0:
            peak = max(peak, used_memory(client))
    elapsed = time.perf_counter() - began
    time.sleep(1)
    memory = info(client, "memory")
    stats = info(client, "stats")
    used = int(memory["used_memory"])
    row = {
        "name": server["name"], "errors": errors, "first_error": first_error,
        "peak": max(peak, used), "used": used, "rss": rss_bytes(server),
        "evicted": int(stats.get("evicted_keys", 0)), "dbsize": client.call("DBSIZE"),
        "ops": keys / elapsed, "mb_s": keys * len(value) / MB / elapsed,
    }
    client.close()
    print(f"  {row['name']:6} errors {errors} used {used / MB:.1f} MB ({used / limit:.3f}x) "
          f"peak {row['peak'] / MB:.1f} MB RSS {row['rss'] / MB:.1f} MB ({row['rss'] / limit:.3f}x) "
          f"evicted {row['evicted']} keys left {row['dbsize']} {row['ops']:.0f} SET/s", flush=True)
    return row


# ---------------------------------------------------------------- figure 2: hit ratio

def zipf_sequence(key_space, count, skew, seed):
    """`count` ranks in [0, key_space) drawn with P(rank k) proportional to 1/(k+1)^skew:
    inverse-transform sampling on the precomputed CDF."""
    cdf = list(itertools.accumulate((k + 1) ** -skew for k in range(key_space)))
    total = cdf[-1]
    rng = random.Random(seed)
    draw, search, last = rng.random, bisect.bisect_left, key_space - 1
    return [min(search(cdf, draw() * total), last) for _ in range(count)]


def figure_hits(servers, sizes, seed):
    maxmemory_mb = sizes["hits_maxmemory_mb"]
    value = b"h" * sizes["hits_value"]
    key_space = 10 * maxmemory_mb * MB // len(value)
    warmup, measured = sizes["hits_warmup"], sizes["hits_measured"]
    began = time.perf_counter()
    sequence = zipf_sequence(key_space, warmup + measured, 0.99, seed)
    keys = [b"zipf:%08d" % rank for rank in range(key_space)]
    print(f"  Zipf sequence of {len(sequence)} over {key_space} keys in {time.perf_counter() - began:.1f} s",
          flush=True)
    rows = []
    for policy in ("allkeys-lru", "allkeys-lfu"):
        pair = servers.start_pair({"maxmemory": f"{maxmemory_mb}mb", "maxmemory-policy": policy})
        try:
            for server in pair:
                rows.append(run_cache(server, policy, sequence, keys, value, warmup))
        finally:
            servers.stop_all()
    return {"maxmemory": maxmemory_mb * MB, "key_space": key_space, "value": len(value),
            "warmup": warmup, "measured": measured, "rows": rows}


def run_cache(server, policy, sequence, keys, value, warmup):
    """GET each key of a batch, then SET the distinct missed keys; counts hits after warm-up."""
    client = RawClient(server["port"])
    hits = lookups = errors = 0
    began = time.perf_counter()
    for batch_start in range(0, len(sequence), BATCH):
        batch = [keys[rank] for rank in sequence[batch_start:batch_start + BATCH]]
        replies = client.pipeline(b"".join(encode((b"GET", key)) for key in batch), len(batch))
        missed = {key for key, reply in zip(batch, replies) if reply is None or isinstance(reply, ReplyError)}
        errors += sum(isinstance(reply, ReplyError) for reply in replies)
        if batch_start >= warmup:
            lookups += len(batch)
            hits += len(batch) - sum(reply is None or isinstance(reply, ReplyError) for reply in replies)
        if missed:
            payload = b"".join(encode((b"SET", key, value)) for key in missed)
            errors += sum(isinstance(r, ReplyError) for r in client.pipeline(payload, len(missed)))
    elapsed = time.perf_counter() - began
    used = used_memory(client)
    evicted = int(info(client, "stats").get("evicted_keys", 0))
    keys_held = client.call("DBSIZE")
    client.close()
    row = {"name": server["name"], "policy": policy, "hit_ratio": hits / max(lookups, 1), "errors": errors,
           "used": used, "evicted": evicted, "dbsize": keys_held, "ops": len(sequence) / elapsed}
    print(f"  {policy} {row['name']:6} hit ratio {row['hit_ratio']:.4f} keys held {keys_held} "
          f"used {used / MB:.1f} MB evicted {evicted} errors {errors} {row['ops']:.0f} GET/s", flush=True)
    return row


# ---------------------------------------------------------------- figure 3: bytes per key

def figure_bytes(servers, sizes):
    value = b"x" * 32
    strings = sizes["bytes_keys"]
    hashes = sizes["bytes_hashes"]
    field_value = b"y" * 16

    def string_batches():
        for start_index in range(0, strings, BATCH):
            end = min(strings, start_index + BATCH)
            yield b"".join(encode((b"SET", b"key:%08d" % i, value)) for i in range(start_index, end)), end - start_index

    hash_fields = []
    for field in range(10):
        hash_fields += [b"field:%d" % field, field_value]

    def hash_batches():
        for start_index in range(0, hashes, BATCH):
            end = min(hashes, start_index + BATCH)
            yield b"".join(encode([b"HSET", b"hash:%08d" % i] + hash_fields) for i in range(start_index, end)), end - start_index

    rows = []
    for dataset, count, batches in (("strings", strings, string_batches), ("hashes", hashes, hash_batches)):
        pair = servers.start_pair({})
        try:
            for server in pair:
                rows.append(load_and_measure(server, dataset, count, batches))
        finally:
            servers.stop_all()
    return {"strings": strings, "hashes": hashes, "rows": rows}


def load_and_measure(server, dataset, count, batches):
    client = RawClient(server["port"])
    time.sleep(0.5)
    used_before, rss_before = used_memory(client), rss_bytes(server)
    errors = 0
    for payload, commands in batches():
        errors += sum(isinstance(r, ReplyError) for r in client.pipeline(payload, commands))
    time.sleep(1)
    used_after, rss_after = used_memory(client), rss_bytes(server)
    keys_held = client.call("DBSIZE")
    client.close()
    if errors or keys_held != count:
        raise RuntimeError(f"{server['name']} {dataset}: {errors} errors, {keys_held} keys of {count}")
    row = {"name": server["name"], "dataset": dataset, "keys": count,
           "used": used_after - used_before, "rss": rss_after - rss_before}
    print(f"  {dataset} {row['name']:6} used +{row['used'] / MB:.1f} MB ({row['used'] / count:.1f} B/key) "
          f"RSS +{row['rss'] / MB:.1f} MB ({row['rss'] / count:.1f} B/key)", flush=True)
    return row


# ---------------------------------------------------------------- report

def report(results):
    print()
    if "limit" in results:
        r = results["limit"]
        print(f"1. Holding the limit: maxmemory {r['limit'] // MB}mb allkeys-lru, "
              f"{r['keys']} distinct keys x {r['value']} B (target: 0 errors, used <= 1.05x, RSS <= 1.20x)")
        print(f"   {'server':7} {'errors':>6} {'used MB':>8} {'used/lim':>8} {'peak/lim':>8} {'RSS MB':>7} "
              f"{'RSS/lim':>7} {'evicted':>8} {'SET/s':>8}")
        for row in r["rows"]:
            print(f"   {row['name']:7} {row['errors']:>6} {row['used'] / MB:>8.1f} {row['used'] / r['limit']:>8.3f} "
                  f"{row['peak'] / r['limit']:>8.3f} {row['rss'] / MB:>7.1f} {row['rss'] / r['limit']:>7.3f} "
                  f"{row['evicted']:>8} {row['ops']:>8.0f}")
            if row["first_error"]:
                print(f"   first error: {row['first_error']}")
    if "hits" in results:
        r = results["hits"]
        print(f"2. Hit ratio: maxmemory {r['maxmemory'] // MB}mb, {r['key_space']} keys x {r['value']} B, "
              f"Zipf 0.99, {r['warmup']} warm-up + {r['measured']} measured GETs (target: slotkv >= redis)")
        print(f"   {'policy':12} {'slotkv':>7} {'redis':>7} {'diff':>7} {'slotkv errors':>13} {'redis errors':>12}")
        by = {(row["policy"], row["name"]): row for row in r["rows"]}
        for policy in ("allkeys-lru", "allkeys-lfu"):
            ours, theirs = by[(policy, "slotkv")], by[(policy, "redis")]
            print(f"   {policy:12} {ours['hit_ratio']:>7.4f} {theirs['hit_ratio']:>7.4f} "
                  f"{ours['hit_ratio'] - theirs['hit_ratio']:>+7.4f} {ours['errors']:>13} {theirs['errors']:>12}")
    if "bytes" in results:
        r = results["bytes"]
        print(f"3. Bytes per key over the empty server: {r['strings']} strings key:NNNNNNNN = 32 B, "
              f"{r['hashes']} hashes of 10 fields x 16 B (target: slotkv/redis <= 1.0)")
        print(f"   {'dataset':8} {'slotkv used':>11} {'redis used':>10} {'ratio':>6} "
              f"{'slotkv RSS':>10} {'redis RSS':>9} {'ratio':>6}   (bytes per key)")
        by = {(row["dataset"], row["name"]): row for row in r["rows"]}
        for dataset in ("strings", "hashes"):
            ours, theirs = by[(dataset, "slotkv")], by[(dataset, "redis")]
            count = ours["keys"]
            print(f"   {dataset:8} {ours['used'] / count:>11.1f} {theirs['used'] / count:>10.1f} "
                  f"{ours['used'] / theirs['used']:>6.2f} {ours['rss'] / count:>10.1f} "
                  f"{theirs['rss'] / count:>9.1f} {ours['rss'] / theirs['rss']:>6.2f}")


def interrupted(signum, _frame):
    raise SystemExit(f"interrupted by signal {signum}: stopping the servers")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--only", choices=["limit", "hits", "bytes"], help="run one figure")
    parser.add_argument("--seed", type=int, default=1, help="seed of the Zipf sequence")
    args = parser.parse_args()
    if not os.path.exists(REDIS_SERVER):
        sys.exit(f"{REDIS_SERVER} is missing (apt-get install redis-server)")
    # SIGTERM (and SIGINT, even when started in the background with it ignored) unwinds
    # through the `finally` below, which stops the servers.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, interrupted)
    sizes = QUICK if args.quick else FULL
    binary = slotkv_binary()
    workdir = tempfile.mkdtemp(prefix="slotkv-memory-")
    servers = Servers(binary, workdir)
    results = {}
    began = time.perf_counter()
    try:
        if args.only in (None, "limit"):
            print("1. holding the limit", flush=True)
            results["limit"] = figure_limit(servers, sizes)
        if args.only in (None, "hits"):
            print("2. hit ratio", flush=True)
            results["hits"] = figure_hits(servers, sizes, args.seed)
        if args.only in (None, "bytes"):
            print("3. bytes per key", flush=True)
            results["bytes"] = figure_bytes(servers, sizes)
    finally:
        servers.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    report(results)
    print(f"\n({'quick' if args.quick else 'full'} run, {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
