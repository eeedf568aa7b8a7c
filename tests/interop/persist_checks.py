"""Persistence interop checks: files and payloads exchanged between redis-server and slotkv-server.

- an RDB written by redis-server (SAVE) loads into slotkv-server at start-up with identical
  contents, and an RDB written by slotkv-server (SAVE) loads into redis-server;
- DUMP in one server and RESTORE in the other, both ways;
- an appendonlydir written by redis-server (RDB base from BGREWRITEAOF plus an incremental file)
  loads into slotkv-server, and one written by slotkv-server loads into redis-server.

The data set holds every type in each encoding Redis 7.0 keeps (checked with OBJECT ENCODING on
redis-server), integers, binary strings, expiries and a second database. Contents are compared
through the servers' replies: every key of every database with its type, value and PEXPIRETIME.
Every server is started on a free loopback port in its own temporary directory and stopped by PID.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import redis

REDIS_SERVER = "/usr/bin/redis-server"
# Deadline for keys with an expiry: one hour from now, at a fixed millisecond.
EXPIRE_AT_MS = (int(time.time()) + 3600) * 1000 + 123


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def terminate(proc):
    """Stops a server this suite started: SIGTERM, then SIGKILL after 10 s (by PID only)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


class Process:
    """redis-server or slotkv-server in `workdir`, ready once PING answers PONG (loaded)."""

    def __init__(self, command, workdir, *args):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [command, "--port", str(self.port), "--bind", "127.0.0.1", "--loglevel", "warning",
             "--dir", workdir, *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{command} exited with {self.proc.returncode} in {workdir}")
            try:
                if self.client().ping():
                    return
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{command} did not start")

    def client(self, db=0):
        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=10)

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def stop(self):
        terminate(self.proc)


def texts(prefix, count):
    return [f"{prefix}{i}".encode() for i in range(count)]


# (db, key, type, value, expires?, encoding redis-server 7.0 gives it). Redis 7.0 keeps every
# list as a quicklist (of listpack nodes: one node for a small list) and every non-integer set
# as a hashtable; the listpack list and set encodings came with 7.2.
def data_set():
    return [
        (0, b"str:embstr", "string", b"hello", False, "embstr"),
        (0, b"str:int", "string", b"12345", True, "int"),
        (0, b"str:negative", "string", b"-9000000000", False, "int"),
        (0, b"str:leading-zero", "string", b"007", False, "embstr"),
        (0, b"str:empty", "string", b"", False, "embstr"),
        (0, b"str:binary", "string", bytes(range(256)), False, "raw"),
        (0, b"str:compressible", "string", b"compress me " * 300, True, "raw"),
        (0, b"42", "string", b"an integer key", False, "embstr"),
        (0, b"list:small", "list", [b"a", b"7", b"-70000", b""], False, "quicklist"),
        (0, b"list:large", "list", texts("element-", 5000), True, "quicklist"),
        (0, b"list:big-elements", "list", [b"x" * 9000, b"y" * 100], False, "quicklist"),
        (0, b"set:intset", "set", {str(i).encode() for i in range(-50, 50)}, False, "intset"),
        (0, b"set:many-ints", "set", {str(i).encode() for i in range(0, 2000, 2)}, True, "hashtable"),
        (0, b"set:strings", "set", set(texts("s", 40)), False, "hashtable"),
        (0, b"hash:small", "hash", dict(zip(texts("field-", 10), texts("v", 10))), True, "listpack"),
        (0, b"hash:large", "hash", dict(zip(texts("field-", 1000), texts("v", 1000))), False, "hashtable"),
        (0, b"hash:long-value", "hash", {b"f": b"v" * 100, b"n": b"1"}, False, "hashtable"),
        (0, b"zset:small", "zset", {b"a": 1.0, b"b": -2.5, b"c": 0.1, b"inf": float("inf"),
                                    b"-inf": float("-inf"), b"int": 1234567.0}, False, "listpack"),
        (0, b"zset:large", "zset", {m: i * 1.25 - 100 for i, m in enumerate(texts("member-", 500))}, True,
         "skiplist"),
        (0, b"zset:long-member", "zset", {b"m" * 100: 3.5, b"short": -1.0}, False, "skiplist"),
        (3, b"db3:str", "string", b"in db 3", False, "embstr"),
        (3, b"db3:list", "list", [b"1", b"2", b"3"], True, "quicklist"),
    ]


def fill(process):
    """Writes the data set through redis-py (pipelined per database)."""
    for db in sorted({row[0] for row in data_set()}):
        pipe = process.client(db).pipeline(transaction=False)
        for row_db, key, kind, value, expires, _ in data_set():
            if row_db != db:
                continue
            if kind == "string":
                pipe.set(key, value)
            elif kind == "list":
                pipe.rpush(key, *value)
            elif kind == "set":
                pipe.sadd(key, *value)
            elif kind == "hash":
                pipe.hset(key, mapping=value)
            else:
                pipe.zadd(key, value)
            if expires:
                pipe.pexpireat(key, EXPIRE_AT_MS)
        pipe.execute()


def expected():
    return {(db, key): (kind, normalize(kind, value), EXPIRE_AT_MS if expires else -1)
            for db, key, kind, value, expires, _ in data_set()}


def normalize(kind, value):
    if kind == "set":
        return sorted(value)
    if kind == "hash":
        return sorted(value.items())
    if kind == "zset":
        return sorted(value.items(), key=lambda pair: (pair[1], pair[0]))
    return value


def read_value(client, key, kind):
    if kind == "string":
        return client.get(key)
    if kind == "list":
        return client.lrange(key, 0, -1)
    if kind == "set":
        return sorted(client.smembers(key))
    if kind == "hash":
        return sorted(client.hgetall(key).items())
    if kind == "zset":
        return [tuple(pair) for pair in client.zrange(key, 0, -1, withscores=True)]
    raise AssertionError(f"unexpected type {kind} of {key!r}")


def contents(process):
    """Every key of every database: (db, key) -> (type, value, PEXPIRETIME)."""
    found = {}
    keyspace = process.client().info("keyspace")
    for name in keyspace:
        db = int(name[2:])
        client = process.client(db)
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            found[(db, key)] = (kind, read_value(client, key, kind), client.pexpiretime(key))
    return found


def assert_same(found, wanted, what):
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    assert not missing and not extra, f"{what}: missing {missing[:5]}, unexpected {extra[:5]}"
    for place, value in wanted.items():
        assert found[place] == value, f"{what}: {place} differs: {str(found[place])[:200]}"


def check_encodings(process):
    """The data set covers the encodings it claims (on redis-server, the reference)."""
    wrong = []
    for db, key, _, _, _, encoding in data_set():
        actual = process.client(db).object("encoding", key).decode()
        if actual != encoding:
            wrong.append(f"{key!r} is {actual}, not {encoding}")
    assert not wrong, f"redis-server's encodings: {wrong}"


class Dirs:
    """Temporary directories removed at the end."""

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="slotkv-interop-")
        return self

    def make(self, name):
        path = os.path.join(self.root, name)
        os.makedirs(path)
        return path

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)


def run_stopping(process, body):
    try:
        return body(process)
    finally:
        process.stop()


RDB_ONLY = ("--save", "", "--appendonly", "no", "--dbfilename", "dump.rdb")
AOF_ON = ("--save", "", "--appendonly", "yes")


def check_rdb_redis_to_slotkv(binary):
    with Dirs() as dirs:
        theirs, ours = dirs.make("redis"), dirs.make("slotkv")

        def write(redis_server):
            fill(redis_server)
            check_encodings(redis_server)
            assert redis_server.cli("SAVE") == "OK"
        run_stopping(Process(REDIS_SERVER, theirs, *RDB_ONLY), write)
        shutil.copy(os.path.join(theirs, "dump.rdb"), os.path.join(ours, "dump.rdb"))
        found = run_stopping(Process(binary, ours, *RDB_ONLY), contents)
        assert_same(found, expected(), "redis-server's dump.rdb in slotkv")


def check_rdb_slotkv_to_redis(binary):
    with Dirs() as dirs:
        ours, theirs = dirs.make("slotkv"), dirs.make("redis")

        def write(slotkv):
            fill(slotkv)
            assert slotkv.cli("SAVE") == "OK"
        run_stopping(Process(binary, ours, *RDB_ONLY), write)
        shutil.copy(os.path.join(ours, "dump.rdb"), os.path.join(theirs, "dump.rdb"))
        found = run_stopping(Process(REDIS_SERVER, theirs, *RDB_ONLY), contents)
        assert_same(found, expected(), "slotkv's dump.rdb in redis-server")


def copy_all(source, target):
    """DUMP every key of `source` and RESTORE it (with its deadline, ABSTTL) into `target`."""
    for db, key, *_ in data_set():
        payload = source.client(db).dump(key)
        assert payload is not None, key
        deadline = source.client(db).pexpiretime(key)
        ttl, absttl = (deadline, True) if deadline > 0 else (0, False)
        assert target.client(db).restore(key, ttl, payload, absttl=absttl) in (True, b"OK")


def check_dump_restore(binary):
    with Dirs() as dirs:
        theirs = Process(REDIS_SERVER, dirs.make("redis"), *RDB_ONLY)
        try:
            ours = Process(binary, dirs.make("slotkv"), *RDB_ONLY)
            try:
                fill(theirs)
                copy_all(theirs, ours)
                assert_same(contents(ours), expected(), "redis-server's DUMP restored in slotkv")
                theirs.client().flushall()
                copy_all(ours, theirs)
                assert_same(contents(theirs), expected(), "slotkv's DUMP restored in redis-server")
                check_encodings(theirs)
            finally:
                ours.stop()
        finally:
            theirs.stop()


def write_around_rewrite(process):
    """The data set before BGREWRITEAOF (into the RDB base), more writes after it (into the
    incremental file, in command form: a deletion, binary bytes, INCRBYFLOAT, ZADD + ZREM)."""
    client = process.client()
    client.set("before:rewrite", "in the base")
    fill(process)
    assert "rewriting" in process.cli("BGREWRITEAOF")
    deadline = time.time() + 10
    while client.info("persistence")["aof_rewrite_in_progress"] and time.time() < deadline:
        time.sleep(0.02)
    client.delete("before:rewrite")
    client.set("after:rewrite", b"\x00binary\r\n")
    client.incrbyfloat("after:float", 10.5)
    client.zadd("zset:small", {b"after": 7.0})
    client.zrem("zset:small", b"after")


def aof_expected():
    wanted = expected()
    wanted[(0, b"after:rewrite")] = ("string", b"\x00binary\r\n", -1)
    wanted[(0, b"after:float")] = ("string", b"10.5", -1)
    return wanted


def check_aof(binary, source, target, what):
    with Dirs() as dirs:
        first, second = dirs.make("first"), dirs.make("second")
        run_stopping(Process(source, first, *AOF_ON), write_around_rewrite)
        aof_dir = os.path.join(first, "appendonlydir")
        names = sorted(os.listdir(aof_dir))
        assert any(name.endswith(".base.rdb") for name in names), names
        shutil.copytree(aof_dir, os.path.join(second, "appendonlydir"))
        found = run_stopping(Process(target, second, *AOF_ON), contents)
        assert_same(found, aof_expected(), what)


def checks(binary):
    """(name, check) pairs for run.py."""
    return [
        ("RDB: redis-server's dump.rdb loads into slotkv", lambda: check_rdb_redis_to_slotkv(binary)),
        ("RDB: slotkv's dump.rdb loads into redis-server", lambda: check_rdb_slotkv_to_redis(binary)),
        ("DUMP/RESTORE both ways", lambda: check_dump_restore(binary)),
        ("AOF: redis-server's appendonlydir loads into slotkv",
         lambda: check_aof(binary, REDIS_SERVER, binary, "redis-server's appendonlydir in slotkv")),
        ("AOF: slotkv's appendonlydir loads into redis-server",
         lambda: check_aof(binary, binary, REDIS_SERVER, "slotkv's appendonlydir in redis-server")),
    ]
