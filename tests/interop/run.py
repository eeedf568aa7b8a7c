#!/usr/bin/env python3
"""Interop suite: real Redis tools and clients against a real slotkv-server.

Usage: run.py path/to/slotkv-server

Starts the server on a free loopback port, drives it with redis-cli, redis-py (RESP2 and RESP3)
and a short redis-benchmark run, and kills the server (by PID) at the end. Exits non-zero on the
first failed check.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, *args):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--loglevel", "warning", *args],
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
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


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


def check_redis_benchmark(port):
    out = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-t", "set,get,incr,mset", "-n", "20000", "-q", "-P", "8"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    for test in ["SET", "GET", "INCR", "MSET"]:
        assert any(line.startswith(test) and "requests per second" in line for line in out.stdout.splitlines()), out.stdout


def main():
    binary = sys.argv[1]
    server = Server(binary)
    checks = [
        ("redis-cli", lambda: check_redis_cli(server.port)),
        ("redis-py RESP2", lambda: check_redis_py(server.port, 2)),
        ("redis-py RESP3", lambda: check_redis_py(server.port, 3)),
        ("redis-benchmark", lambda: check_redis_benchmark(server.port)),
    ]
    try:
        for name, check in checks:
            check()
            print(f"ok   {name}")
    finally:
        server.stop()
    print(f"interop: {len(checks)} checks passed")


if __name__ == "__main__":
    main()
