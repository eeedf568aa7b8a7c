"""Cluster mode against the tools people use: redis-cli --cluster (create, check, info,
reshard, rebalance, add-node, add-node --cluster-slave, del-node, fix), redis-cli -c and
redis-py's RedisCluster, on six (then eight) slotkv-server processes on loopback.

checks(binary) returns (name, function) pairs run in order; they share one cluster, stopped
(by PID) by the last check or at exit.
"""

import atexit
import os
import re
import subprocess
import tempfile
import time

import redis
from redis.cluster import RedisCluster

from persist_checks import free_port, terminate


class Node:
    def __init__(self, binary, workdir):
        self.port = free_port()
        self.dir = os.path.join(workdir, str(self.port))
        os.makedirs(self.dir)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--loglevel", "warning",
             "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
             "--cluster-port", str(free_port()), *self.log_options()],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("slotkv-server (cluster) did not start")

    def log_options(self):
        """With SLOTKV_CLUSTER_LOG set, each node logs (verbose) to log in its directory."""
        if not os.environ.get("SLOTKV_CLUSTER_LOG"):
            return []
        return ["--loglevel", "verbose", "--logfile", os.path.join(self.dir, "log")]

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def client(self):
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=10)

    def nodes_lines(self):
        """CLUSTER NODES as text lines (redis-py would parse it into a dict)."""
        out = subprocess.run(["redis-cli", "-p", str(self.port), "CLUSTER", "NODES"],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip().splitlines()

    def myid(self):
        return self.client().execute_command("CLUSTER MYID")

    def stop(self):
        terminate(self.proc)


def cluster_cli(*args, stdin=None):
    out = subprocess.run(
        ["redis-cli", "--cluster", *args], input=stdin, capture_output=True, text=True, timeout=120
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    return text


def wait_for(what, done, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if done():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def cluster_ok(nodes):
    def ok():
        for node in nodes:
            if node.client().cluster("INFO").get("cluster_state") != "ok":
                return False
        return True
    return ok


def check_ok(text):
    assert "[OK] All nodes agree about slots configuration." in text, text
    assert "[OK] All 16384 slots covered." in text, text
    assert "[ERR]" not in text, text


class ClusterChecks:
    def __init__(self, binary):
        self.binary = binary
        self.workdir = tempfile.mkdtemp(prefix="slotkv-cluster-")
        self.nodes = []
        atexit.register(self.stop)

    def stop(self):
        for node in self.nodes:
            node.stop()
        self.nodes = []

    def start_node(self):
        node = Node(self.binary, self.workdir)
        self.nodes.append(node)
        return node

    def create(self):
        nodes = [self.start_node() for _ in range(6)]
        out = cluster_cli("create", *[n.addr for n in nodes], "--cluster-replicas", "1",
                          "--cluster-yes")
        check_ok(out)
        wait_for("cluster_state:ok", cluster_ok(nodes))

    def redirects(self):
        seed = self.nodes[0]
        expected = {"a": ("737", 15495), "b": ("767", 3300), "c": ("777", 7365), "d": ("787", 11298)}
        for key, (value, slot) in expected.items():
            out = subprocess.run(["redis-cli", "-c", "-p", str(seed.port), "SET", key, value],
                                 capture_output=True, text=True, timeout=30)
            assert out.stdout.strip() == "OK", out
            assert seed.client().execute_command("CLUSTER KEYSLOT", key) == slot
        for key, (value, _) in expected.items():
            out = subprocess.run(["redis-cli", "-c", "-p", str(seed.port), "GET", key],
                                 capture_output=True, text=True, timeout=30)
            assert out.stdout.strip() == value, out
        out = subprocess.run(["redis-cli", "-c", "-p", str(seed.port), "INCR", "d"],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "788", out

    def redis_py(self):
        rc = RedisCluster(host="127.0.0.1", port=self.nodes[0].port, decode_responses=True)
        for i in range(2000):
            rc.set(f"py:{i}", i)
        assert all(rc.get(f"py:{i}") == str(i) for i in range(0, 2000, 97))
        assert rc.mget("{tag}x", "{tag}y") == [None, None]
        rc.mset({"{tag}x": "1", "{tag}y": "2"})
        assert rc.mget("{tag}x", "{tag}y") == ["1", "2"]
        try:
            rc.execute_command("MSET", "k1", "v", "k2", "v")
        except redis.exceptions.RedisClusterException:
            pass  # redis-py refuses cross-slot commands itself
        assert len(rc.cluster_nodes()) == 6
        rc.close()

    def check_and_info(self):
        check_ok(cluster_cli("check", self.nodes[0].addr))
        info = cluster_cli("info", self.nodes[0].addr)
        keys = sum(int(n) for n in re.findall(r"-> (\d+) keys", info))
        assert keys >= 2006, info

    def reshard(self):
        first, second = self.primaries()[:2]
        before = first.client().dbsize()
        cluster_cli("reshard", first.addr, "--cluster-from", first.myid(), "--cluster-to",
                    second.myid(), "--cluster-slots", "100", "--cluster-yes")
        wait_for("agreement after reshard", self.agreed)
        assert first.client().dbsize() < before
        self.assert_all_keys()

    def add_nodes_and_rebalance(self):
        primary = self.start_node()
        cluster_cli("add-node", primary.addr, self.nodes[0].addr)
        # redis-cli's next add-node checks that every node, the new one included, has the
        # same view of the slots: the new node learns them from each primary's first ping.
        wait_for("agreement after add-node", self.agreed)
        replica = self.start_node()
        # Entering through its primary: redis-cli's CLUSTER REPLICATE follows the MEET at once,
        # and a node entering elsewhere may not have heard of the new primary yet (gossip
        # names a few random nodes per message, in Redis as here).
        cluster_cli("add-node", replica.addr, primary.addr, "--cluster-slave",
                    "--cluster-master-id", primary.myid())
        wait_for("the new nodes to join", lambda: all(
            len(n.nodes_lines()) == 8 for n in self.nodes))
        wait_for("the new replica to replicate", lambda: replica.client().execute_command("ROLE")[0] == "slave")
        # As with Redis, a node that just joined serves (and imports) once it sees the cluster ok.
        wait_for("cluster_state:ok on the new nodes", cluster_ok(self.nodes))
        cluster_cli("rebalance", self.nodes[0].addr, "--cluster-use-empty-masters")
        wait_for("agreement after rebalance", self.agreed)
        assert primary.client().execute_command("CLUSTER COUNTKEYSINSLOT", self.first_slot_of(primary)) >= 0
        assert len(self.slots_of(primary)) > 3000, self.slots_of(primary)[:5]
        self.assert_all_keys()

    def fix(self):
        owner = self.primaries()[0]
        other = self.primaries()[1]
        slot = self.first_slot_of(owner)
        owner.client().execute_command("CLUSTER SETSLOT", slot, "MIGRATING", other.myid())
        other.client().execute_command("CLUSTER SETSLOT", slot, "IMPORTING", owner.myid())
        out = subprocess.run(["redis-cli", "--cluster", "check", owner.addr], capture_output=True, text=True)
        assert "open slot" in (out.stdout + out.stderr).lower() or out.returncode != 0, out.stdout
        cluster_cli("fix", owner.addr, "--cluster-yes")
        wait_for("agreement after fix", self.agreed)
        check_ok(cluster_cli("check", owner.addr))
        self.assert_all_keys()

    def del_node(self):
        replica = next(n for n in self.nodes if n.client().execute_command("ROLE")[0] == "slave")
        cluster_cli("del-node", self.nodes[0].addr if self.nodes[0] is not replica else self.nodes[1].addr,
                    replica.myid())
        self.nodes.remove(replica)
        replica.stop()
        wait_for("the node to be forgotten", lambda: all(
            len(n.nodes_lines()) == len(self.nodes)
            for n in self.nodes))
        check_ok(cluster_cli("check", self.nodes[0].addr))
        self.stop()

    # ----- helpers -----

    def primaries(self):
        return [n for n in self.nodes if n.client().execute_command("ROLE")[0] == "master"
                and self.slots_of(n)]

    def slots_of(self, node):
        line = next(l for l in node.nodes_lines() if "myself" in l)
        slots = []
        for part in line.split()[8:]:
            if part.startswith("["):
                continue
            start, _, end = part.partition("-")
            slots.extend(range(int(start), int(end or start) + 1))
        return slots

    def first_slot_of(self, node):
        return self.slots_of(node)[0]

    def agreed(self):
        out = subprocess.run(["redis-cli", "--cluster", "check", self.nodes[0].addr],
                             capture_output=True, text=True, timeout=60)
        return "[OK] All nodes agree" in out.stdout and "[ERR]" not in out.stdout

    def assert_all_keys(self):
        rc = RedisCluster(host="127.0.0.1", port=self.nodes[0].port, decode_responses=True)
        values = [rc.get(f"py:{i}") for i in range(2000)]
        rc.close()
        missing = [i for i, v in enumerate(values) if v != str(i)]
        assert not missing, f"{len(missing)} keys lost, e.g. {missing[:5]}"


def checks(binary):
    suite = ClusterChecks(binary)
    return [
        ("redis-cli --cluster create (3 primaries, 3 replicas)", suite.create),
        ("redis-cli -c SET/GET/INCR through redirects", suite.redirects),
        ("redis-py RedisCluster", suite.redis_py),
        ("redis-cli --cluster check / info", suite.check_and_info),
        ("redis-cli --cluster reshard (100 slots with keys)", suite.reshard),
        ("redis-cli --cluster add-node (+ --cluster-slave) and rebalance", suite.add_nodes_and_rebalance),
        ("redis-cli --cluster fix (an open slot)", suite.fix),
        ("redis-cli --cluster del-node", suite.del_node),
    ]
