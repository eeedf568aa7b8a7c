#!/usr/bin/env python3
"""TLS throughput: slotkv-server and Debian's redis-server, each over plain TCP and over TLS.

Makes a throwaway CA and server certificate with openssl, starts both servers with a plain port
and a TLS port (`tls-auth-clients no`), then runs redis-benchmark (built with TLS by Debian)
against every (server, transport) pair in alternating order for several short rounds, and
prints the median requests/s of each, the TLS/plain ratio of each server and the slotkv/redis
ratio over TLS. Both servers are stopped (by PID) at the end.

    benches/tls.py [--rounds 3] [--requests 300000] [--clients 50] [--pipelines 16]
                   [--tests set,get]

Installs redis-server and redis-tools with apt-get when they are missing (compare.py's helper).
"""

import argparse
import csv
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def make_certificate(dir_):
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=dir_, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "1", "-subj", "/CN=bench CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=bench server")
    with open(os.path.join(dir_, "san.ext"), "w") as ext:
        ext.write("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "1", "-extfile", "san.ext")
    return {name: os.path.join(dir_, name) for name in ["ca.crt", "server.crt", "server.key"]}


def benchmark(port, args, pipeline, tls_files):
    command = ["redis-benchmark", "-p", str(port), "-t", args.tests, "-c", str(args.clients),
               "-n", str(args.requests), "-r", str(args.requests), "-P", str(pipeline), "--csv"]
    if tls_files:
        command += ["--tls", "--cacert", tls_files["ca.crt"]]
    out = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True).stdout
    return {row["test"]: float(row["rps"]) for row in csv.DictReader(io.StringIO(out))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--pipelines", default="16")
    parser.add_argument("--tests", default="set,get")
    args = parser.parse_args()
    compare.ensure_redis()
    binary = compare.slotkv_binary()
    workdir = tempfile.mkdtemp(prefix="slotkv-tls-bench-")
    files = make_certificate(workdir)
    tls_args = ["--tls-cert-file", files["server.crt"], "--tls-key-file", files["server.key"],
                "--tls-auth-clients", "no"]
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning",
              "--dir", workdir]
    servers = []
    try:
        for name, program in [("slotkv", binary), ("redis", "redis-server")]:
            port, tls_port = compare.free_port(), compare.free_port()
            server = compare.start(name, [program, "--port", str(port), "--tls-port", str(tls_port),
                                          *tls_args, *common], port, workdir)
            server["tls_port"] = tls_port
            servers.append(server)
        results = {}  # (pipeline, test, server, transport) -> [rps]
        for round_index in range(args.rounds):
            for pipeline in [int(p) for p in args.pipelines.split(",")]:
                order = servers if round_index % 2 == 0 else list(reversed(servers))
                for server in order:
                    for transport in ["plain", "tls"]:
                        port = server["tls_port"] if transport == "tls" else server["port"]
                        tls_files = files if transport == "tls" else None
                        for test, rps in benchmark(port, args, pipeline, tls_files).items():
                            results.setdefault((pipeline, test, server["name"], transport), []).append(rps)
                            print(f"round {round_index + 1} -P {pipeline} {server['name']:6} {transport:5} "
                                  f"{test}: {rps:.0f} req/s", flush=True)
        report(results, args)
    finally:
        for server in servers:
            compare.stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


def report(results, args):
    def median(*key):
        return statistics.median(results[key])

    print()
    print(f"redis-benchmark -c {args.clients} -n {args.requests}, {args.rounds} rounds, median req/s")
    print(f"{'test':6} {'-P':>3} {'slotkv plain':>13} {'slotkv tls':>11} {'tls/plain':>9} "
          f"{'redis plain':>12} {'redis tls':>10} {'tls/plain':>9} {'slotkv/redis tls':>17}")
    for (pipeline, test, name, transport) in sorted(k for k in results if k[2] == "slotkv" and k[3] == "tls"):
        sp, st = median(pipeline, test, "slotkv", "plain"), median(pipeline, test, "slotkv", "tls")
        rp, rt = median(pipeline, test, "redis", "plain"), median(pipeline, test, "redis", "tls")
        print(f"{test:6} {pipeline:>3} {sp:>13.0f} {st:>11.0f} {st / sp:>9.2f} {rp:>12.0f} {rt:>10.0f} "
              f"{rt / rp:>9.2f} {st / rt:>17.2f}")


if __name__ == "__main__":
    sys.exit(main())
