"""TLS interop: redis-cli --tls and redis-py ssl=True against slotkv's TLS port, mutual TLS, an
encrypted key made by openssl, and replication over TLS in both directions with Debian's
redis-server (which is built with TLS).

The CA, server and client certificates are made with openssl in a temporary directory.
"""

import os
import socket
import subprocess
import tempfile
import time

import redis

import persist_checks
from persist_checks import free_port

REDIS_SERVER = "/usr/bin/redis-server"
KEY_PASS = "interop-key-pass"


def openssl(*args, cwd):
    out = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def make_pki(dir_):
    """ca.crt, server.crt with server.key (plain) and server-enc.key (encrypted PKCS#8), and a
    client.crt / client.key pair, all signed by the CA."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "2", "-subj", "/CN=slotkv interop CA", cwd=dir_)
    for name in ["server", "client"]:
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=dir_)
        with open(os.path.join(dir_, f"{name}.ext"), "w") as ext:
            ext.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=dir_)
    openssl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "server.key", "-out", "server-enc.key",
            "-passout", f"pass:{KEY_PASS}", cwd=dir_)
    return {name: os.path.join(dir_, name) for name in
            ["ca.crt", "server.crt", "server.key", "server-enc.key", "client.crt", "client.key"]}


def wait_port(port, proc):
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


class TlsServer:
    """A server (slotkv or redis-server) with a plain port and a TLS port."""

    def __init__(self, binary, pki, *args, auth_clients="optional", key="server-enc.key"):
        self.port, self.tls_port = free_port(), free_port()
        self.dir = tempfile.TemporaryDirectory()
        extra = (["--appendonly", "no", "--dir", self.dir.name, "--repl-diskless-sync-delay", "0"]
                 if binary == REDIS_SERVER else [])
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--loglevel", "warning", "--save", "",
             "--tls-port", str(self.tls_port), "--tls-cert-file", pki["server.crt"],
             "--tls-key-file", pki[key], "--tls-key-file-pass", KEY_PASS,
             "--tls-ca-cert-file", pki["ca.crt"], "--tls-auth-clients", auth_clients, *extra, *args],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_port(self.tls_port, self.proc)
        except Exception:
            self.stop()
            raise

    def stop(self):
        persist_checks.terminate(self.proc)
        self.dir.cleanup()


def tls_cli(port, pki, *args, env=None, cert=False):
    identity = ["--cert", pki["client.crt"], "--key", pki["client.key"]] if cert else []
    return subprocess.run(
        ["redis-cli", "--tls", "--cacert", pki["ca.crt"], *identity, "-p", str(port), *args],
        capture_output=True, text=True, timeout=30, env={**os.environ, **(env or {})},
    )


class TlsChecks:
    def __init__(self, binary):
        self.binary = binary
        self.tmp = tempfile.TemporaryDirectory()
        self.pki = make_pki(self.tmp.name)

    def redis_cli(self):
        """redis-cli --tls --cacert with REDISCLI_AUTH (default user) and --user (an ACL user);
        the server's key is an encrypted PKCS#8 file made by openssl."""
        server = TlsServer(self.binary, self.pki, "--requirepass", "defaultpw")
        try:
            plain = redis.Redis(port=server.port, password="defaultpw")
            plain.execute_command("ACL", "SETUSER", "alice", "on", ">alicepw", "~app:*", "+@all")
            out = tls_cli(server.tls_port, self.pki, "PING")
            assert "NOAUTH" in out.stdout + out.stderr, out
            out = tls_cli(server.tls_port, self.pki, "SET", "app:k", "over tls", env={"REDISCLI_AUTH": "defaultpw"})
            assert out.returncode == 0 and out.stdout.strip() == "OK", out
            out = tls_cli(server.tls_port, self.pki, "--user", "alice", "ACL", "WHOAMI",
                          env={"REDISCLI_AUTH": "alicepw"})
            assert out.stdout.strip() == "alice", out
            out = tls_cli(server.tls_port, self.pki, "--user", "alice", "GET", "app:k",
                          env={"REDISCLI_AUTH": "alicepw"})
            assert out.stdout.strip() == "over tls", out
            out = tls_cli(server.tls_port, self.pki, "--user", "alice", "GET", "other",
                          env={"REDISCLI_AUTH": "alicepw"})
            assert "NOPERM" in out.stdout, out
            # The client certificate is checked when sent (tls-auth-clients optional).
            out = tls_cli(server.tls_port, self.pki, "PING", cert=True, env={"REDISCLI_AUTH": "defaultpw"})
            assert out.stdout.strip() == "PONG", out
        finally:
            server.stop()

    def mutual_tls(self):
        """tls-auth-clients yes: redis-cli with --cert/--key is served, without them refused."""
        server = TlsServer(self.binary, self.pki, auth_clients="yes")
        try:
            assert tls_cli(server.tls_port, self.pki, "PING", cert=True).stdout.strip() == "PONG"
            refused = tls_cli(server.tls_port, self.pki, "PING")
            assert refused.stdout.strip() != "PONG", refused
        finally:
            server.stop()

    def redis_py(self):
        """redis-py with ssl=True (RESP2 and RESP3), with and without a client certificate."""
        server = TlsServer(self.binary, self.pki)
        try:
            for protocol in (2, 3):
                r = redis.Redis(port=server.tls_port, ssl=True, ssl_ca_certs=self.pki["ca.crt"], protocol=protocol)
                assert r.ping()
                r.set("py:tls", "v" * 100_000)
                assert r.get("py:tls") == b"v" * 100_000
                with r.pipeline() as pipe:
                    for i in range(500):
                        pipe.incr("py:counter")
                    assert pipe.execute()[-1] >= 500
            r = redis.Redis(port=server.tls_port, ssl=True, ssl_ca_certs=self.pki["ca.crt"],
                            ssl_certfile=self.pki["client.crt"], ssl_keyfile=self.pki["client.key"])
            assert r.ping()
        finally:
            server.stop()

    def replication(self, primary_binary, replica_binary):
        """A replica linked to its primary's TLS port with tls-replication yes."""
        primary = TlsServer(primary_binary, self.pki, auth_clients="yes")
        replica = None
        try:
            pr = redis.Redis(port=primary.port)
            pr.set("before", "1")
            replica = TlsServer(replica_binary, self.pki, "--tls-replication", "yes",
                                "--replicaof", "127.0.0.1", str(primary.tls_port))
            rr = redis.Redis(port=replica.port)
            pr.set("after", "2")
            deadline = time.time() + 20
            while time.time() < deadline:
                if rr.info("replication").get("master_link_status") == "up" and rr.get("after") == b"2":
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"no TLS replication: {rr.info('replication')}")
            assert rr.get("before") == b"1"
        finally:
            if replica is not None:
                replica.stop()
            primary.stop()


def checks(binary):
    suite = TlsChecks(binary)
    listed = [
        ("TLS: redis-cli --tls with REDISCLI_AUTH and --user (encrypted key)", suite.redis_cli),
        ("TLS: mutual TLS with redis-cli --cert/--key", suite.mutual_tls),
        ("TLS: redis-py ssl=True RESP2/RESP3", suite.redis_py),
    ]
    if os.path.exists(REDIS_SERVER):
        listed += [
            ("TLS: redis-server replica of slotkv (tls-replication)",
             lambda: suite.replication(binary, REDIS_SERVER)),
            ("TLS: slotkv replica of redis-server (tls-replication)",
             lambda: suite.replication(REDIS_SERVER, binary)),
        ]
    return listed
