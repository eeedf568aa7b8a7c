"""Sentinel interop checks: a primary, two replicas and three sentinels (quorum 2,
down-after-milliseconds 1000) in every mix of implementations:

- slotkv sentinels managing slotkv servers, driven through redis-py's Sentinel
  (master_for / slave_for follow the failover);
- slotkv sentinels managing redis-server instances;
- Redis sentinels (redis-server --sentinel) managing slotkv servers;
- a sentinel group mixing slotkv and Redis sentinels;

and compares redis-cli's output from a slotkv sentinel and a Redis sentinel watching the
same group, command by command.

Each check writes through the primary, reads on a replica, kills the primary (by PID),
waits until every sentinel names another primary, writes there through master_for,
checks that the sentinels' CONFIG REWRITEs reached the servers' configuration files (the
promoted replica's has no replicaof line, the other replica's names the new primary) and
reports the failover time (kill to the first accepted write). Every process runs on a free
loopback port in a temporary directory and is stopped by PID.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time

import redis
import redis.sentinel

from persist_checks import REDIS_SERVER, free_port, terminate

MASTER = "mymaster"


def wait_port(port, proc, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def start_server(binary, workdir, *args, conf_lines=()):
    """Starts a server from a configuration file of its own in `workdir` (so the CONFIG
    REWRITE of Redis Sentinel's reconfigurations has a file to write), options after it."""
    port = free_port()
    conf = os.path.join(workdir, "server.conf")
    with open(conf, "w") as f:
        f.write("# written by sentinel_checks.py\n" + "".join(line + "\n" for line in conf_lines))
    proc = subprocess.Popen(
        [binary, conf, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    return port, proc


def start_sentinel(binary, workdir, index, primary_port):
    port = free_port()
    conf = os.path.join(workdir, f"sentinel-{index}.conf")
    with open(conf, "w") as f:
        f.write(
            f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 10000\n"
        )
    proc = subprocess.Popen([binary, conf, "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return port, proc


def until(what, timeout, check):
    deadline = time.time() + timeout
    while True:
        try:
            if check():
                return
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            pass
        if time.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


def failover(server_binary, sentinel_binaries):
    """Runs the scenario; returns the failover time in seconds."""
    procs = []
    with tempfile.TemporaryDirectory() as workdir:
        try:
            primary_port, primary = start_server(server_binary, workdir + "/")
            procs.append(primary)
            replica_ports = []
            replica_confs = {}
            for i in range(2):
                rdir = os.path.join(workdir, f"r{i}")
                os.mkdir(rdir)
                port, proc = start_server(server_binary, rdir,
                                          conf_lines=[f"replicaof 127.0.0.1 {primary_port}"])
                procs.append(proc)
                replica_ports.append(port)
                replica_confs[port] = os.path.join(rdir, "server.conf")
            sentinel_ports = []
            for i, binary in enumerate(sentinel_binaries):
                port, proc = start_sentinel(binary, workdir, i, primary_port)
                procs.append(proc)
                sentinel_ports.append(port)

            def discovered():
                for port in sentinel_ports:
                    state = redis.Redis(port=port, decode_responses=True, protocol=2).sentinel_master(MASTER)
                    if state["num-slaves"] != 2 or state["num-other-sentinels"] != 2:
                        return False
                return True

            until("discovery", 40, discovered)
            sentinel = redis.sentinel.Sentinel(
                [("127.0.0.1", p) for p in sentinel_ports], socket_timeout=1, sentinel_kwargs={"protocol": 3}
            )
            assert sentinel.discover_master(MASTER) == ("127.0.0.1", primary_port)
            master = sentinel.master_for(MASTER, socket_timeout=1, decode_responses=True, protocol=2)
            replica = sentinel.slave_for(MASTER, socket_timeout=1, decode_responses=True, protocol=2)
            master.set("scott", "tiger")
            until("both replicas acknowledge the write", 20, lambda: master.wait(2, 500) == 2)
            until("the write reaches a replica", 10, lambda: replica.get("scott") == "tiger")

            killed = time.time()
            os.kill(primary.pid, signal.SIGKILL)
            primary.wait()

            def moved():
                addrs = {redis.Redis(port=p, protocol=2).sentinel_get_master_addr_by_name(MASTER) for p in sentinel_ports}
                return len(addrs) == 1 and addrs.pop()[1] != primary_port

            until("every sentinel names a new primary", 60, moved)

            def written():
                master.set("after", "failover")
                return True

            until("master_for writes to the new primary", 20, written)
            elapsed = time.time() - killed
            new_port = sentinel.discover_master(MASTER)[1]
            assert new_port in replica_ports, new_port
            assert master.get("scott") == "tiger", "acknowledged data survives"
            # The sentinels' reconfigurations end with CONFIG REWRITE: the promoted server's
            # file loses its replicaof line, the other replica's names the new primary.
            with open(replica_confs[new_port]) as f:
                promoted = f.read()
            assert "replicaof" not in promoted, f"promoted server's file:\n{promoted}"
            other = next(p for p in replica_ports if p != new_port)

            def follows_new_primary():
                with open(replica_confs[other]) as f:
                    return f"replicaof 127.0.0.1 {new_port}\n" in f.read()

            until("the other replica's file names the new primary", 30, follows_new_primary)
            return elapsed
        finally:
            for proc in procs:
                terminate(proc)


# Commands whose redis-cli output must be the same from a slotkv and a Redis sentinel
# watching the same group (values that depend on timing or identity are not compared).
SAME_OUTPUT = [
    ["SENTINEL", "MASTER", "nope"],
    ["SENTINEL", "FOO"],
    ["SENTINEL", "MASTERS", "x"],
    ["SENTINEL", "MYID", "x"],
    ["SENTINEL", "CKQUORUM", MASTER],
    ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER],
    ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope"],
    ["SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"],
    ["SENTINEL", "SET", MASTER, "quorum", "x"],
    ["SENTINEL", "SET", MASTER, "foo", "1"],
    ["SENTINEL", "MONITOR", "x", "127.0.0.1", "1", "0"],
    ["SENTINEL", "MONITOR", "x", "127.0.0.1", "abc", "1"],
    ["SENTINEL", "MONITOR", "x", "foo.invalid", "1", "1"],
    ["SENTINEL", "FAILOVER", "nope"],
    ["SENTINEL", "REMOVE", "nope"],
    ["SENTINEL", "RESET", "nomatch"],
    ["SENTINEL", "INFO-CACHE", "nope"],
    ["SENTINEL", "CONFIG", "GET", "*"],
    ["SENTINEL", "CONFIG", "SET", "foo", "bar"],
    ["SENTINEL", "CONFIG", "GET"],
    ["SENTINEL", "PENDING-SCRIPTS"],
    ["SENTINEL", "HELP"],
    ["SENTINEL", "SIMULATE-FAILURE"],
    ["SENTINEL", "SIMULATE-FAILURE", "HELP"],
    ["SENTINEL", "SIMULATE-FAILURE", "bogus"],
    ["ROLE"],
    ["INFO", "sentinel"],
    ["PING"],
    ["SET", "a", "b"],
]


def field_names(port, *command):
    """The field names of each instance SENTINEL MASTER/REPLICAS/SENTINELS lists."""
    reply = redis.Redis(port=port, protocol=2).execute_command(*command)
    rows = reply if isinstance(reply, list) and reply and isinstance(reply[0], list) else [reply]
    return [[name for name in row[::2]] for row in rows]


def check_same_answers(slotkv):
    """redis-cli shows the same answers from a slotkv sentinel as from a Redis sentinel."""
    procs = []
    with tempfile.TemporaryDirectory() as workdir:
        try:
            primary_port, primary = start_server(REDIS_SERVER, workdir)
            procs.append(primary)
            rdir = os.path.join(workdir, "r")
            os.mkdir(rdir)
            _, replica = start_server(REDIS_SERVER, rdir, "--replicaof", "127.0.0.1", str(primary_port))
            procs.append(replica)
            ports = []
            for i, binary in enumerate([REDIS_SERVER, slotkv]):
                port, proc = start_sentinel(binary, workdir, i, primary_port)
                procs.append(proc)
                ports.append(port)

            def discovered():
                return all(
                    redis.Redis(port=p, decode_responses=True, protocol=2).sentinel_master(MASTER)["num-other-sentinels"] == 1
                    and redis.Redis(port=p, decode_responses=True, protocol=2).sentinel_master(MASTER)["num-slaves"] == 1
                    for p in ports
                )

            until("discovery", 40, discovered)
            for command in SAME_OUTPUT:
                redis_out, slotkv_out = (cli_output(port, command) for port in ports)
                assert redis_out == slotkv_out, f"{' '.join(command)}:\nredis:  {redis_out!r}\nslotkv: {slotkv_out!r}"
            for command in (["SENTINEL", "MASTER", MASTER], ["SENTINEL", "REPLICAS", MASTER],
                            ["SENTINEL", "SENTINELS", MASTER]):
                redis_fields, slotkv_fields = (field_names(port, *command) for port in ports)
                assert redis_fields == slotkv_fields, f"{' '.join(command)}: {redis_fields} != {slotkv_fields}"
        finally:
            for proc in procs:
                terminate(proc)


def cli_output(port, command):
    out = subprocess.run(["redis-cli", "-p", str(port), *command], capture_output=True, text=True, timeout=10)
    return out.stdout


def supports_config_rewrite(binary):
    """Redis Sentinel promotes a replica with MULTI, SLAVEOF NO ONE, CONFIG REWRITE, CLIENT
    KILL, EXEC: a server without CONFIG REWRITE aborts the whole transaction."""
    with tempfile.TemporaryDirectory() as workdir:
        port, proc = start_server(binary, workdir)
        try:
            redis.Redis(port=port, protocol=2).config_rewrite()
            return True
        except redis.ResponseError as error:
            return "unknown subcommand" not in str(error)
        finally:
            terminate(proc)


def checks(slotkv):
    mixes = [("slotkv sentinels + slotkv servers (redis-py Sentinel)", slotkv, [slotkv] * 3)]
    extra = []
    if os.path.exists(REDIS_SERVER):
        mixes += [
            ("slotkv sentinels + redis-server instances", REDIS_SERVER, [slotkv] * 3),
            ("mixed sentinel group (slotkv, Redis, slotkv) + redis-server instances", REDIS_SERVER,
             [slotkv, REDIS_SERVER, slotkv]),
            ("Redis sentinels + redis-server instances (reference)", REDIS_SERVER, [REDIS_SERVER] * 3),
        ]
        if supports_config_rewrite(slotkv):
            mixes.append(("Redis sentinels + slotkv servers", slotkv, [REDIS_SERVER] * 3))
        else:
            print("note: slotkv-server has no CONFIG REWRITE, so Redis Sentinel's promotion "
                  "transaction aborts; the Redis-sentinels-manage-slotkv check is skipped")
        extra.append(("sentinel: redis-cli shows the same answers as from Redis Sentinel",
                      lambda: check_same_answers(slotkv)))
    else:
        print(f"note: {REDIS_SERVER} is missing; mixed sentinel checks skipped")
    result = extra
    for name, server, sentinels in mixes:
        def check(server=server, sentinels=sentinels):
            elapsed = failover(server, sentinels)
            print(f"     failover in {elapsed:.2f} s")
        result.append((f"sentinel: {name}", check))
    return result


if __name__ == "__main__":
    import sys

    for name, check in checks(sys.argv[1]):
        check()
        print(f"ok   {name}")
