#!/usr/bin/env python3
"""Cluster mode side by side: slotkv-server vs redis-server, same machine, same run.

Usage: benches/cluster.py [--runs 3] [--timeouts 1000,2000] [--keys 1000000] [--requests 1000000]
       benches/cluster.py --only soak [--soak-minutes 10] [--soak-node-timeout 1000] [--burn 0]
                          [--kill-replica-links SECONDS] [--soak-keys 1000000] [--verbose]

Figures (each for slotkv and for Redis, with the ratio):
1. Failover time: a 3-primary/3-replica cluster on loopback; a client writes one key of the
   primary's slots every 10 ms; the primary is killed (SIGKILL); the time until a write to
   that slot succeeds again through the promoted replica (redirects followed as
   redis-py's RedisCluster does). Median and max over --runs for each cluster-node-timeout.
2. Reshard throughput: 3 primaries holding --keys keys; `redis-cli --cluster reshard` moves all
   of one primary's slots to another (--cluster-pipeline 100); keys moved per second.
3. Throughput: `redis-benchmark --cluster -t set,get -P 16` against both 3-primary clusters.
4. A big key: one hash of --fields fields MIGRATEd between primaries while two clients PING
   the source and the target back to back: the longest PING round trip is the longest stall
   other clients see (a stall past cluster-node-timeout would trigger a failover).
5. Soak (only with --only soak): no false failover. A 3-primary/3-replica cluster with a short
   cluster-node-timeout runs --soak-minutes under redis-benchmark --cluster load that keeps
   every core busy (and --burn busy-looping processes, to starve the servers of CPU as a noisy
   neighbour would; and, with --kill-replica-links, every replica's link cut that often, so
   replicas take full syncs of a growing dataset under load); every --sample-period seconds each
   node's CLUSTER NODES is read. Counted: how often a node saw another as possibly failing
   (fail?), as failed (fail), and how many failovers happened (role changes, epoch changes); and
   the longest PING round trip a client of any node saw. No node is killed: every count should
   be 0.

Servers run with persistence off in temporary directories and are stopped by PID.
"""

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ensure_redis, free_port, slotkv_binary, start, stop  # noqa: E402

import redis  # noqa: E402
from redis.cluster import RedisCluster  # noqa: E402


class Cluster:
    """A cluster of one implementation: `primaries` primaries with `replicas` replicas each."""

    def __init__(self, kind, binary, primaries, replicas, node_timeout, workdir):
        self.kind = kind
        self.nodes = []
        for _ in range(primaries * (1 + replicas)):
            port = free_port()
            bus = port + 10000 if port < 55535 else None
            while bus is None or not port_free(bus):
                port = free_port()
                bus = port + 10000 if port < 55535 else None
            directory = tempfile.mkdtemp(dir=workdir)
            command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--cluster-enabled", "yes",
                       "--cluster-node-timeout", str(node_timeout), "--dir", directory,
                       "--loglevel", "warning"]
            self.nodes.append(start(kind, command, port, directory))
        addresses = [f"127.0.0.1:{n['port']}" for n in self.nodes]
        subprocess.run(["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas",
                        str(replicas), "--cluster-yes"], check=True, capture_output=True, timeout=120)
        self.wait_ok()
        self.wait_replicas_synced()

    def wait_replicas_synced(self, timeout=60):
        # A replica that never finished its first sync may not fail over (data age).
        deadline = time.time() + timeout
        while time.time() < deadline:
            links = [self.client(n).info("replication") for n in self.nodes]
            if all(i.get("master_link_status") == "up" for i in links if i.get("role") == "slave"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} replicas never synced")

    def client(self, node):
        return redis.Redis(port=node["port"], decode_responses=True, socket_timeout=5)

    def wait_ok(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if all(self.client(n).cluster("INFO").get("cluster_state") == "ok"
                       for n in self.nodes if n["proc"].poll() is None):
                    return
            except redis.exceptions.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} cluster never reached cluster_state:ok")

    def seed_port(self):
        return next(n["port"] for n in self.nodes if n["proc"].poll() is None)

    def primary_of(self, slot):
        for node in self.nodes:
            if node["proc"].poll() is not None:
                continue
            for start_slot, end_slot, primary, *_ in self.client(node).execute_command("CLUSTER SLOTS"):
                if start_slot <= slot <= end_slot:
                    port = int(primary[1])
                    return next(n for n in self.nodes if n["port"] == port)
        raise RuntimeError("slot not served")

    def stop(self):
        for node in self.nodes:
            stop(node)


def port_free(port):
    import socket
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def failover_time(cluster, key="{failover}probe"):
    """Kills the primary of `key`'s slot; seconds until a write to it succeeds again."""
    seed = cluster.seed_port()
    slot = cluster.client(cluster.nodes[0]).execute_command("CLUSTER KEYSLOT", key)
    victim = cluster.primary_of(slot)
    rc = RedisCluster(host="127.0.0.1", port=seed, decode_responses=True, socket_timeout=1,
                      cluster_error_retry_attempts=1)
    rc.set(key, "before")
    os.kill(victim["proc"].pid, signal.SIGKILL)
    victim["proc"].wait()
    killed = time.time()
    deadline = killed + 60
    while time.time() < deadline:
        try:
            rc.set(key, "after")
            return time.time() - killed
        except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException, OSError):
            # A fresh client each time, as an application reconnecting after errors would.
            rc.close()
            time.sleep(0.01)
            rc = RedisCluster(host="127.0.0.1", port=cluster.seed_port(), decode_responses=True,
                              socket_timeout=1, cluster_error_retry_attempts=1)
    raise RuntimeError(f"{cluster.kind}: no write accepted within 60 s of the kill")


def figure_failover(binaries, runs, timeouts, workdir):
    print("\n== failover time: SIGKILL of a primary to the next accepted write (s)")
    print(f"{'node timeout':>12} {'server':>8} {'median':>8} {'max':>8}   runs")
    medians = {}
    for timeout in timeouts:
        for kind, binary in binaries:
            times = []
            for _ in range(runs):
                cluster = Cluster(kind, binary, 3, 1, timeout, workdir)
                try:
                    times.append(failover_time(cluster))
                finally:
                    cluster.stop()
            medians[(timeout, kind)] = statistics.median(times)
            print(f"{timeout:>12} {kind:>8} {statistics.median(times):8.2f} {max(times):8.2f}   "
                  + " ".join(f"{t:.2f}" for t in times), flush=True)
        ratio = medians[(timeout, "slotkv")] / medians[(timeout, "redis")]
        print(f"{timeout:>12} slotkv/redis median ratio {ratio:.2f}")


def fill(port, keys):
    """Writes `keys` keys through redis-benchmark --cluster (random keys of 3-byte values)."""
    subprocess.run(["redis-benchmark", "--cluster", "-p", str(port), "-t", "set", "-n", str(keys * 3),
                    "-r", str(keys), "-P", "64", "-d", "3", "-q"], check=True, capture_output=True,
                   timeout=1800)


def figure_reshard(binaries, keys, workdir):
    print(f"\n== reshard: all slots of one primary to another, {keys} keys in the cluster")
    rates = {}
    for kind, binary in binaries:
        cluster = Cluster(kind, binary, 3, 0, 15000, workdir)
        try:
            fill(cluster.nodes[0]["port"], keys)
            source, target = cluster.nodes[0], cluster.nodes[1]
            moving = cluster.client(source).dbsize()
            source_id = cluster.client(source).execute_command("CLUSTER MYID")
            target_id = cluster.client(target).execute_command("CLUSTER MYID")
            slots = sum(e - s + 1 for s, e, p, *_ in cluster.client(source).execute_command("CLUSTER SLOTS")
                        if int(p[1]) == source["port"])
            started = time.time()
            subprocess.run(["redis-cli", "--cluster", "reshard", f"127.0.0.1:{source['port']}",
                            "--cluster-from", source_id, "--cluster-to", target_id,
                            "--cluster-slots", str(slots), "--cluster-yes", "--cluster-pipeline", "100"],
                           check=True, capture_output=True, timeout=3600)
            elapsed = time.time() - started
            assert cluster.client(source).dbsize() == 0, "keys left behind"
            rates[kind] = moving / elapsed
            print(f"{kind:>8}: {moving} keys in {slots} slots moved in {elapsed:.1f} s "
                  f"= {rates[kind]:.0f} keys/s", flush=True)
        finally:
            cluster.stop()
    print(f"slotkv/redis reshard rate ratio {rates['slotkv'] / rates['redis']:.2f}")


def failover_marks(cluster):
    """(current epoch, flags of every node) as the first node sees them."""
    client = cluster.client(cluster.nodes[0])
    epoch = client.cluster("INFO").get("cluster_current_epoch")
    out = subprocess.run(["redis-cli", "-p", str(cluster.nodes[0]["port"]), "CLUSTER", "NODES"],
                         capture_output=True, text=True, check=True).stdout
    return epoch, sorted(line.split()[2] for line in out.splitlines())


def figure_throughput(binaries, requests, workdir):
    print("\n== throughput: redis-benchmark --cluster -t set,get -P 16 -c 50 "
          "(3 primaries + 3 replicas, cluster-node-timeout 1000, no failover expected)")
    results = {}
    for kind, binary in binaries:
        cluster = Cluster(kind, binary, 3, 1, 1000, workdir)
        try:
            before = failover_marks(cluster)
            out = subprocess.run(["redis-benchmark", "--cluster", "-p", str(cluster.nodes[0]["port"]),
                                  "-t", "set,get", "-n", str(requests), "-r", "1000000", "-P", "16",
                                  "-c", "50", "-q"], check=True, capture_output=True, text=True,
                                 timeout=1800).stdout
            for test, rps in re.findall(r"^(SET|GET): ([\d.]+) requests per second", out, re.M):
                results[(kind, test)] = float(rps)
            after = failover_marks(cluster)
            verdict = "none" if before == after else f"{before} -> {after}"
            print(f"{kind:>8}: epochs and roles changed during the run: {verdict}", flush=True)
        finally:
            cluster.stop()
    for test in ("SET", "GET"):
        s, r = results[("slotkv", test)], results[("redis", test)]
        print(f"{test}: slotkv {s:,.0f} rps, redis {r:,.0f} rps, ratio {s / r:.2f}")


def soak_marks(cluster):
    """Per node: (flags of every node as it sees them, its current epoch)."""
    marks = []
    for node in cluster.nodes:
        out = subprocess.run(["redis-cli", "-p", str(node["port"]), "CLUSTER", "NODES"],
                             capture_output=True, text=True, timeout=30).stdout
        epoch = cluster.client(node).cluster("INFO").get("cluster_current_epoch")
        marks.append(([line.split()[2] for line in out.splitlines()], epoch))
    return marks


def roles(cluster):
    """Each node's role ("master" or "slave"), by port."""
    return {n["port"]: cluster.client(n).info("replication")["role"] for n in cluster.nodes}


def figure_soak(binaries, options, workdir):
    kills = (f", every replica link cut every {options.kill_replica_links} s"
             if options.kill_replica_links else "")
    print(f"\n== soak: {options.soak_minutes} min of redis-benchmark --cluster -t set,get -P 16 -c 50 "
          f"-r {options.soak_keys} "
          f"load and {options.burn} busy-looping processes{kills}, cluster-node-timeout "
          f"{options.soak_node_timeout}, CLUSTER NODES read every {options.sample_period} s "
          "(no node is killed: every count should be 0)")
    print(f"{'server':>8} {'samples':>8} {'fail?':>6} {'fail':>6} {'failovers':>9} {'epochs':>10} "
          f"{'longest PING':>13}")
    for kind, binary in binaries:
        cluster = Cluster(kind, binary, 3, 1, options.soak_node_timeout, workdir)
        try:
            print(soak_line(kind, cluster, options), flush=True)
        finally:
            cluster.stop()


def soak_line(kind, cluster, options):
    """Runs one soak on `cluster`; its line of the table."""
    roles_before = roles(cluster)
    epochs_before = {epoch for _, epoch in soak_marks(cluster)}
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
               for _ in range(options.burn)]
    load = subprocess.Popen(["redis-benchmark", "--cluster", "-p", str(cluster.nodes[0]["port"]),
                             "-t", "set,get", "-n", "1000000000", "-r", str(options.soak_keys), "-P", "16",
                             "-c", "50", "--csv", "-l"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop_pings, longest = threading.Event(), []
    pingers = [threading.Thread(target=longest_stall, args=(n["port"], stop_pings, longest))
               for n in cluster.nodes]
    for pinger in pingers:
        pinger.start()
    samples = suspected = failed = 0
    started = time.time()
    deadline, next_cut = started + options.soak_minutes * 60, started
    try:
        while time.time() < deadline:
            time.sleep(options.sample_period)
            if options.kill_replica_links and time.time() >= next_cut:
                cut_replica_links(cluster)
                next_cut = time.time() + options.kill_replica_links
            for flags, _ in soak_marks(cluster):
                samples += 1
                suspected += sum("fail?" in f for f in flags)
                failed += sum("fail" in f.split(",") for f in flags)
                if options.verbose and any("fail" in f for f in flags):
                    print(f"{time.strftime('%H:%M:%S')} {kind}: {' '.join(flags)}", flush=True)
    finally:
        stop_pings.set()
        for pinger in pingers:
            pinger.join()
        for process in (load, *burners):
            os.kill(process.pid, signal.SIGTERM)
            process.wait()
    roles_after = roles(cluster)
    failovers = sum(roles_before[port] != roles_after[port] for port in roles_before) // 2
    epochs_after = {epoch for _, epoch in soak_marks(cluster)}
    epochs = f"{max(epochs_before)}->{max(epochs_after)}"
    return (f"{kind:>8} {samples:>8} {suspected:>6} {failed:>6} {failovers:>9} {epochs:>10} "
            f"{max(longest):>12.2f}s")


def cut_replica_links(cluster):
    """CLIENT KILL TYPE replica on every primary: its replica reconnects, and under load its
    backlog has moved on, so it takes a full sync."""
    for node in cluster.nodes:
        client = cluster.client(node)
        if client.info("replication")["role"] == "master":
            client.execute_command("CLIENT", "KILL", "TYPE", "replica")


def longest_stall(port, stop, result):
    """Pings `port` back to back until `stop` is set; records the longest round trip (s)."""
    client = redis.Redis(port=port, socket_timeout=60)
    longest = 0.0
    while not stop.is_set():
        started = time.time()
        client.ping()
        longest = max(longest, time.time() - started)
    result.append(longest)


def figure_big_key(binaries, fields, workdir):
    print(f"\n== moving one hash of {fields} fields between two primaries (MIGRATE)")
    for kind, binary in binaries:
        cluster = Cluster(kind, binary, 3, 0, 15000, workdir)
        try:
            key = "{bigkey}hash"
            source = cluster.primary_of(cluster.client(cluster.nodes[0]).execute_command("CLUSTER KEYSLOT", key))
            target = next(n for n in cluster.nodes if n is not source)
            src, dst = cluster.client(source), cluster.client(target)
            pipe = src.pipeline(transaction=False)
            for start_field in range(0, fields, 1000):
                pipe.hset(key, mapping={f"f{i}": "v" for i in range(start_field, min(fields, start_field + 1000))})
                if start_field % 100_000 == 0:
                    pipe.execute()
            pipe.execute()
            slot = src.execute_command("CLUSTER KEYSLOT", key)
            source_id, target_id = src.execute_command("CLUSTER MYID"), dst.execute_command("CLUSTER MYID")
            dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", source_id)
            src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", target_id)
            stop, stalls = threading.Event(), {}
            probes = []
            for name, node in (("source", source), ("target", target)):
                stalls[name] = []
                thread = threading.Thread(target=longest_stall, args=(node["port"], stop, stalls[name]))
                thread.start()
                probes.append(thread)
            time.sleep(0.2)
            started = time.time()
            src.execute_command("MIGRATE", "127.0.0.1", target["port"], key, 0, 60000)
            elapsed = time.time() - started
            time.sleep(0.2)
            stop.set()
            for thread in probes:
                thread.join()
            for node in cluster.nodes:
                cluster.client(node).execute_command("CLUSTER SETSLOT", slot, "NODE", target_id)
            assert dst.hlen(key) == fields
            print(f"{kind:>8}: MIGRATE {elapsed:.2f} s; longest PING round trip during it: "
                  f"source {stalls['source'][0] * 1000:.0f} ms, target {stalls['target'][0] * 1000:.0f} ms",
                  flush=True)
        finally:
            cluster.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeouts", default="1000,2000")
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--fields", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["failover", "reshard", "throughput", "bigkey", "soak"])
    parser.add_argument("--soak-minutes", type=float, default=10)
    parser.add_argument("--soak-node-timeout", type=int, default=1000)
    parser.add_argument("--sample-period", type=float, default=1.0)
    parser.add_argument("--soak-keys", type=int, default=1_000_000,
                        help="soak: redis-benchmark's key range (-r): how far the dataset grows")
    parser.add_argument("--burn", type=int, default=0,
                        help="soak: busy-looping processes competing for the cores")
    parser.add_argument("--kill-replica-links", type=float, default=0, metavar="SECONDS",
                        help="soak: cut every replica's link this often (a full sync follows)")
    parser.add_argument("--verbose", action="store_true", help="soak: print every fail sighting")
    args = parser.parse_args()
    ensure_redis()
    binaries = [("slotkv", slotkv_binary()), ("redis", "redis-server")]
    with tempfile.TemporaryDirectory(prefix="slotkv-cluster-bench-") as workdir:
        if args.only in (None, "failover"):
            figure_failover(binaries, args.runs, [int(t) for t in args.timeouts.split(",")], workdir)
        if args.only in (None, "reshard"):
            figure_reshard(binaries, args.keys, workdir)
        if args.only in (None, "throughput"):
            figure_throughput(binaries, args.requests, workdir)
        if args.only in (None, "bigkey"):
            figure_big_key(binaries, args.fields, workdir)
        if args.only == "soak":
            figure_soak(binaries, args, workdir)


if __name__ == "__main__":
    main()
