#!/usr/bin/env python3
"""Interop suite: real Redis tools and clients against a real slotkv-server.

Usage: run.py path/to/slotkv-server

Starts the server on a free loopback port, drives it with redis-cli, redis-py (RESP2 and RESP3)
and a short redis-benchmark run, and kills the server (by PID) at the end; compares the ACL
categories of every command, and the replies to a seeded stream of random commands
(differential.py), with a running redis-server's. Then exchanges RDB
files, DUMP payloads and AOF directories with redis-server (persist_checks.py), runs a cluster
of slotkv servers through redis-cli --cluster and redis-py (cluster_checks.py), and runs
sentinel failovers in every mix of slotkv and Redis sentinels and servers (sentinel_checks.py),
and TLS with redis-cli --tls, redis-py ssl=True and redis-server replicas (tls_checks.py).
Exits non-zero on the first failed check.
"""

import os
import socket
import subprocess
import sys
import time

import redis

import cluster_checks
import differential
import persist_checks
import sentinel_checks
import tls_checks
from persist_checks import free_port


class Server:
    def __init__(self, binary, *args):
        self.port = free_port()
        self.proc = subprocess.Popen(
            # No save points: stopping it must not leave a dump.rdb in the working directory.
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--loglevel", "warning", "--save", "",
             *args],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("slotkv-server did not start")

    def stop(self):
        persist_checks.terminate(self.proc)


def cli(port, *args, stdin=None):
    out = subprocess.run(
        ["redis-cli", "-p", str(port), *args], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def check_redis_cli(port):
    assert cli(port, "PING") == "PONG"
    assert cli(port, "SET", "cli:key", "hello world") == "OK"
    assert cli(port, "GET", "cli:key") == "hello world"
    assert cli(port, "INCRBY", "cli:counter", "5") == "5"
    assert cli(port, "EXPIRE", "cli:key", "100") == "1"
    ttl = int(cli(port, "TTL", "cli:key"))
    assert 0 < ttl <= 100, ttl
    assert cli(port, "TYPE", "cli:key") == "string"
    assert cli(port, "CLUSTER", "KEYSLOT", "a") == "15495"
    # A session as typed at the prompt (commands on stdin).
    session = cli(port, stdin="SET typed 1\nINCR typed\nGET typed\n")
    assert session.splitlines() == ["OK", "2", "2"], session
    # Mass insertion with --pipe, as documented for Redis.
    proto = "".join(
        f"*3\r\n$3\r\nSET\r\n${len(f'pipe:{i}')}\r\npipe:{i}\r\n${len(str(i))}\r\n{i}\r\n" for i in range(1000)
    )
    piped = cli(port, "--pipe", stdin=proto)
    assert "errors: 0, replies: 1000" in piped, piped
    assert cli(port, "GET", "pipe:999") == "999"
    assert "redis_version:" in cli(port, "INFO", "server")
    assert cli(port, "--scan", "--pattern", "pipe:99*").splitlines().__len__() == 11


def check_redis_cli_acl(port):
    """A user made with redis-cli, then used through --user/--pass, REDISCLI_AUTH and redis-py."""
    assert cli(port, "ACL", "SETUSER", "cliuser", "on", ">clipw", "+@read", "+acl|whoami", "~cli:*") == "OK"
    assert cli(port, "--user", "cliuser", "--pass", "clipw", "--no-auth-warning", "ACL", "WHOAMI") == "cliuser"
    env = dict(os.environ, REDISCLI_AUTH="clipw")
    out = subprocess.run(
        ["redis-cli", "-p", str(port), "--user", "cliuser", "SET", "cli:x", "1"],
        capture_output=True, text=True, timeout=30, env=env,
    )
    assert "NOPERM User cliuser has no permissions to run the 'set' command" in out.stdout + out.stderr, out
    r = redis.Redis(host="127.0.0.1", port=port, username="cliuser", password="clipw", decode_responses=True)
    assert r.get("cli:key") is not None
    try:
        r.get("other")
        raise AssertionError("a key outside ~cli:* was readable")
    except redis.exceptions.NoPermissionError as error:
        assert "No permissions to access a key" in str(error), error
    try:
        redis.Redis(host="127.0.0.1", port=port, username="cliuser", password="bad").ping()
        raise AssertionError("a wrong password was accepted")
    except redis.exceptions.AuthenticationError:
        pass
    assert cli(port, "ACL", "DELUSER", "cliuser") == "1"


def check_redis_py(port, protocol):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol, decode_responses=True)
    r.flushall()
    assert r.set("user:1", "ada", ex=60)
    assert r.get("user:1") == "ada"
    assert 0 < r.ttl("user:1") <= 60
    assert r.set("user:1", "bob", nx=True) is None
    assert r.incrbyfloat("price", 10.5) == 10.5
    assert r.mset({"a": "1", "b": "2"})
    assert r.mget("a", "b", "missing") == ["1", "2", None]
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"p:{i}", i)
    pipe.execute()
    assert r.dbsize() == 504
    assert sorted(r.scan_iter(match="p:49?")) == sorted(f"p:{i}" for i in range(490, 500))
    r.client_setname("interop")
    assert r.client_getname() == "interop"
    assert any(c["name"] == "interop" for c in r.client_list())
    info = r.info()
    assert info["role"] == "master" and info["db0"]["keys"] == 504
    assert r.config_get("databases") == {"databases": "16"}
    assert r.command_count() > 50
    r.close()


def pairs(rows):
    """ZRANGE WITHSCORES rows as tuples: redis-py gives tuples over RESP2 and lists over RESP3."""
    return [tuple(row) for row in rows]


def check_redis_py_types(port, protocol):
    r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol, decode_responses=True)
    keys = [f"types:{name}" for name in ("h", "q", "s", "z", "hll", "tx:h", "tx:l", "tx:s")]
    r.delete(*keys)
    assert r.hset("types:h", mapping={"name": "ada", "lang": "rust"}) == 2
    assert r.hgetall("types:h") == {"name": "ada", "lang": "rust"}
    assert r.hgetall("types:missing") == {}
    assert r.lpush("types:q", "a", "b", "c") == 3
    assert r.lrange("types:q", 0, -1) == ["c", "b", "a"]
    # A non-empty list answers at once, whatever the timeout.
    started = time.time()
    assert tuple(r.blpop(["types:none", "types:q"], timeout=5)) == ("types:q", "c")
    assert time.time() - started < 2
    assert r.blpop(["types:none"], timeout=0.1) is None
    assert r.sadd("types:s", "x", "y", "x") == 2
    assert r.smembers("types:s") == {"x", "y"}
    assert r.zadd("types:z", {"a": 1.5, "b": 2, "c": float("inf")}) == 3
    assert pairs(r.zrange("types:z", 0, -1, withscores=True)) == [("a", 1.5), ("b", 2.0), ("c", float("inf"))]
    assert pairs(r.zrange("types:z", 1, 3, byscore=True, withscores=True)) == [("a", 1.5), ("b", 2.0)]
    assert r.zscore("types:z", "a") == 1.5
    assert r.pfadd("types:hll", *[f"item:{i}" for i in range(1000)]) == 1
    assert abs(r.pfcount("types:hll") - 1000) <= 20, r.pfcount("types:hll")
    check_transaction(r)
    check_pubsub(r)
    r.close()


def check_transaction(r):
    pipe = r.pipeline(transaction=True)
    pipe.hset("types:tx:h", "f", "v").rpush("types:tx:l", "a", "b").sadd("types:tx:s", "m")
    pipe.hget("types:tx:h", "f").llen("types:tx:l").type("types:tx:s")
    assert pipe.execute() == [1, 2, 1, "v", 2, "set"]
    # A command failing inside EXEC does not undo the others (no rollback in Redis).
    pipe = r.pipeline(transaction=True)
    pipe.incr("types:tx:h").rpush("types:tx:l", "c")
    results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], redis.ResponseError) and "WRONGTYPE" in str(results[0]), results
    assert results[1] == 3


def check_pubsub(r):
    pubsub = r.pubsub()
    pubsub.subscribe("types:news")
    confirmation = pubsub.get_message(timeout=5)
    assert confirmation["type"] == "subscribe" and confirmation["channel"] == "types:news", confirmation
    assert r.publish("types:news", "hello") == 1
    message = pubsub.get_message(timeout=5)
    assert message is not None, "no message within the timeout"
    assert (message["type"], message["channel"], message["data"]) == ("message", "types:news", "hello"), message
    assert pubsub.get_message(timeout=0.1) is None
    pubsub.close()


def check_redis_cli_encodings(port):
    cli(port, "DEL", "enc:h", "enc:big")
    assert cli(port, "HSET", "enc:h", "f", "v") == "1"
    assert cli(port, "OBJECT", "ENCODING", "enc:h") == "listpack"
    assert cli(port, "HSET", "enc:big", "f", "v" * 65) == "1"
    assert cli(port, "OBJECT", "ENCODING", "enc:big") == "hashtable"


def check_redis_benchmark(port):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set,get,incr,mset", "-n", "20000", "-q", "-P", "8"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for test in ["SET", "GET", "INCR", "MSET"]:
        assert any(line.startswith(test) and "requests per second" in line for line in out.stdout.splitlines()), out.stdout


REDIS_SERVER = "/usr/bin/redis-server"


def snapshot_of(r):
    """Every key of databases 0..3: type, value (as redis-py reads it) and whether it expires."""
    data = {}
    for db in range(4):
        r.execute_command("SELECT", db)
        for key in sorted(r.keys("*")):
            kind = r.type(key)
            value = {
                b"string": lambda: r.get(key),
                b"list": lambda: r.lrange(key, 0, -1),
                b"set": lambda: sorted(r.smembers(key)),
                b"zset": lambda: r.zrange(key, 0, -1, withscores=True),
                b"hash": lambda: sorted(r.hgetall(key).items()),
            }[kind]()
            data[(db, key)] = (kind, value, r.pttl(key) > 0)
    r.execute_command("SELECT", 0)
    return data


def write_mix(r, round_):
    for i in range(30):
        r.execute_command("SELECT", i % 3)
        k = f"r{round_}:{i}"
        r.set(f"{k}:s", i)
        r.incrby(f"{k}:s", 3)
        r.rpush(f"{k}:l", "a", "b")
        r.sadd(f"{k}:set", "x", "y")
        r.zadd(f"{k}:z", {"m": 1.5})
        r.hset(f"{k}:h", "f", i)
        r.expire(f"{k}:h", 1000)
    r.execute_command("SELECT", 0)
    with r.pipeline(transaction=True) as tx:
        tx.set(f"tx{round_}", 1).delete(f"r{round_}:0:s").execute()


def wait_caught_up(primary, replica):
    deadline = time.time() + 20
    while time.time() < deadline:
        p, r = primary.info("replication"), replica.info("replication")
        if r.get("master_link_status") == "up" and r.get("slave_repl_offset") == p["master_repl_offset"]:
            return
        time.sleep(0.05)
    raise AssertionError("the replica did not catch up")


def command_table(port):
    """{command or subcommand: (sorted ACL categories, sorted flags)} from COMMAND, unparsed."""
    client = redis.Redis(port=port)
    for name in [k for k in client.response_callbacks if k.upper().startswith("COMMAND")]:
        client.response_callbacks.pop(name)
    table = {}

    def add(entry):
        text = [part.decode() for part in entry[6]], [part.decode() for part in entry[2]]
        table[entry[0].decode()] = tuple(sorted(part) for part in text)
        for sub in entry[9]:
            add(sub)

    for entry in client.execute_command("COMMAND"):
        add(entry)
    return table


def check_same_acl_categories(binary):
    """Every command both servers have is in the same ACL categories (COMMAND, ACL CAT)."""
    ours, theirs = Server(binary), Server(REDIS_SERVER, "--appendonly", "no")
    try:
        mine, reference = command_table(ours.port), command_table(theirs.port)
        shared = set(mine) & set(reference)
        assert len(shared) > 200, len(shared)
        for name in sorted(shared):
            assert mine[name][0] == reference[name][0], f"{name}: {mine[name][0]} != {reference[name][0]}"
        for category in cli(theirs.port, "ACL", "CAT").split():
            listed = [set(cli(server.port, "ACL", "CAT", category).split()) & shared for server in (ours, theirs)]
            assert listed[0] == listed[1], f"@{category}: {sorted(listed[0] ^ listed[1])}"
    finally:
        ours.stop()
        theirs.stop()


def check_replication(binary, primary_binary, replica_binary):
    """A replica (of either implementation) of a primary reaches identical contents."""
    import tempfile

    with tempfile.TemporaryDirectory() as dir_:
        redis_args = ["--save", "", "--appendonly", "no", "--dir", dir_, "--repl-diskless-sync-delay", "0"]
        p_args = redis_args if primary_binary == REDIS_SERVER else ["--save", ""]
        primary = Server(primary_binary, *p_args)
        replica = None
        try:
            pr = redis.Redis(port=primary.port)
            write_mix(pr, 0)
            r_args = redis_args if replica_binary == REDIS_SERVER else ["--save", ""]
            replica = Server(replica_binary, *r_args, "--replicaof", "127.0.0.1", str(primary.port))
            rr = redis.Redis(port=replica.port)
            wait_caught_up(pr, rr)
            assert snapshot_of(rr) == snapshot_of(pr), "after the full sync"
            write_mix(pr, 1)
            wait_caught_up(pr, rr)
            assert snapshot_of(rr) == snapshot_of(pr), "after streaming"
        finally:
            if replica is not None:
                replica.stop()
            primary.stop()


def main():
    binary = sys.argv[1]
    server = Server(binary)
    checks = [
        ("redis-cli", lambda: check_redis_cli(server.port)),
        ("redis-cli and redis-py ACL users", lambda: check_redis_cli_acl(server.port)),
        ("redis-py RESP2", lambda: check_redis_py(server.port, 2)),
        ("redis-py RESP3", lambda: check_redis_py(server.port, 3)),
        ("redis-py data types RESP2", lambda: check_redis_py_types(server.port, 2)),
        ("redis-py data types RESP3", lambda: check_redis_py_types(server.port, 3)),
        ("redis-cli OBJECT ENCODING", lambda: check_redis_cli_encodings(server.port)),
        ("redis-benchmark", lambda: check_redis_benchmark(server.port)),
    ]
    if os.path.exists(REDIS_SERVER):
        checks += [
            ("redis-server replica of slotkv", lambda: check_replication(binary, binary, REDIS_SERVER)),
            ("slotkv replica of redis-server", lambda: check_replication(binary, REDIS_SERVER, binary)),
            ("ACL categories as redis-server's", lambda: check_same_acl_categories(binary)),
            ("the same replies as redis-server to 20,000 random commands in RESP2 and in RESP3",
             lambda: differential.check(binary)),
        ]
    else:
        print(f"note: {REDIS_SERVER} is missing; replication interop skipped")
    try:
        for name, check in checks:
            check()
            print(f"ok   {name}")
    finally:
        server.stop()
    timed = (
        persist_checks.checks(binary)
        + cluster_checks.checks(binary)
        + sentinel_checks.checks(binary)
        + tls_checks.checks(binary)
    )
    for name, check in timed:
        started = time.time()
        check()
        print(f"ok   {name} ({time.time() - started:.1f} s)")
    print(f"interop: {len(checks) + len(timed)} checks passed")


if __name__ == "__main__":
    main()
