#!/usr/bin/env python3
"""Soak and connection-storm checks for Chorus (issue: proof under load).

1. Soak: two `chorus serve` processes on one PostgreSQL database, background
   jobs on, steady bounded load (wrk, a fixed number of connections per
   process, queue pages with one share in five) for --soak-seconds. The
   run is cut into ten rounds; after each, both servers' RSS and the
   database's connections are sampled. Fails on any 5xx or socket error, on
   RSS growing more than --rss-growth-mib after the first round, or on more
   connections than the two pools allow.
2. Storm: 256 connections for --storm-seconds against one `chorus serve` on
   SQLite, the same mix. Fails on any 5xx or socket error.

   python3 benches/soak.py                       # full: 10 min soak, 60 s storm
   python3 benches/soak.py --soak-seconds 60 --storm-seconds 15 --binary target/debug/chorus

Writes a summary to stdout and target/soak/results.json; exit 1 on failure.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ROUNDS = 10


class Args:
    """What bench.wrk needs."""

    def __init__(self, connections, duration, threads=2):
        self.connections = connections
        self.duration = duration
        self.threads = threads


def demo(binary, env, employees):
    bench.run_measured([binary, "demo", "--employees", str(employees), "--posts", "150",
                        "--weeks", "4", "--seed", "3"], env)


def sessions(database, port, workdir, count):
    emails = [r[0] for r in database.query(
        "SELECT u.email FROM users u JOIN consent_state c ON c.user_id = u.id "
        "WHERE c.purpose = 'share_suggestions' AND c.status = 'given' AND u.is_employee "
        f"GROUP BY u.email ORDER BY MIN(u.id) LIMIT {count}")]
    path = os.path.join(workdir, "sessions.tsv")
    with open(path, "w") as out:
        for email in emails:
            out.write(bench.session_line(port, email, "/queue")[0])
    return path


def add(total, result):
    for key in ["requests", "status_2xx", "status_3xx", "status_429", "status_4xx", "status_5xx",
                "socket_errors", "timeouts"]:
        total[key] = total.get(key, 0) + result[key]
    total["worst_p99_ms"] = max(total.get("worst_p99_ms", 0), result["p99_ms"])


def soak(args, binary):
    workdir = tempfile.mkdtemp(prefix="chorus-soak-")
    bench.PG_DATABASE = "chorus_soak"
    database = bench.Database("postgres", workdir)
    servers = []
    try:
        env = database.env()
        demo(binary, env, args.employees)
        for _ in range(2):
            port = bench.free_port()
            serve_env = dict(env)
            serve_env.update({"CHORUS_BIND": f"127.0.0.1:{port}", "CHORUS_DB_POOL_SIZE": str(args.pool),
                              "CHORUS_JOBS_INTERVAL_SECONDS": "2"})
            servers.append(bench.Server([binary, "serve"], serve_env, port))
        session_file = sessions(database, servers[0].port, workdir, 60)
        round_seconds = max(args.soak_seconds // ROUNDS, 1)
        totals, samples = {}, []
        bench.log(f"soak: two servers on PostgreSQL, {args.soak_connections} connections each, "
                  f"{ROUNDS} rounds of {round_seconds} s")
        for round_number in range(ROUNDS):
            with concurrent.futures.ThreadPoolExecutor(len(servers)) as pool:
                results = list(pool.map(
                    lambda server: bench.wrk(server.port, Args(args.soak_connections, round_seconds, 1),
                                             {"BENCH_SESSIONS": session_file, "BENCH_MODE": "mix"},
                                             "/queue"),
                    servers))
            for result in results:
                add(totals, result)
            connections = int(database.query(
                f"SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '{bench.PG_DATABASE}' AND pid <> pg_backend_pid()")[0][0])
            sample = {"round": round_number + 1,
                      "rss_mib": [round(current_rss_mib(s), 1) for s in servers],
                      "db_connections": connections}
            samples.append(sample)
            bench.log(f"soak round {round_number + 1}: RSS {sample['rss_mib']} MiB, "
                      f"{connections} database connections, {totals['requests']} requests so far, "
                      f"{totals['status_5xx']} 5xx")
        growth = max(samples[-1]["rss_mib"][i] - samples[0]["rss_mib"][i] for i in range(2))
        most_connections = max(s["db_connections"] for s in samples)
        problems = []
        if totals["status_5xx"] or totals["socket_errors"] or totals["timeouts"]:
            problems.append(f"{totals['status_5xx']} 5xx, {totals['socket_errors']} socket errors, "
                            f"{totals['timeouts']} timeouts")
        if growth > args.rss_growth_mib:
            problems.append(f"RSS grew {growth:.1f} MiB after the first round (bound {args.rss_growth_mib})")
        if most_connections > 2 * args.pool:
            problems.append(f"{most_connections} database connections for two pools of {args.pool}")
        for server in servers:
            if server.process.poll() is not None:
                problems.append("a server exited during the soak")
        return {"requests": totals, "samples": samples, "rss_growth_mib": round(growth, 1),
                "most_db_connections": most_connections, "problems": problems}
    finally:
        for server in servers:
            server.stop()
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def current_rss_mib(server):
    with open(f"/proc/{server.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def storm(args, binary):
    workdir = tempfile.mkdtemp(prefix="chorus-storm-")
    database = bench.Database("sqlite", workdir)
    server = None
    try:
        env = database.env()
        demo(binary, env, args.employees)
        port = bench.free_port()
        serve_env = dict(env)
        serve_env.update({"CHORUS_BIND": f"127.0.0.1:{port}", "CHORUS_DB_POOL_SIZE": str(args.pool)})
        server = bench.Server([binary, "serve"], serve_env, port)
        session_file = sessions(database, port, workdir, 60)
        bench.log(f"storm: 256 connections for {args.storm_seconds} s on SQLite")
        result = bench.wrk(port, Args(256, args.storm_seconds), {"BENCH_SESSIONS": session_file,
                                                                 "BENCH_MODE": "mix"}, "/queue")
        problems = []
        if result["status_5xx"] or result["socket_errors"] or result["timeouts"]:
            problems.append(f"{result['status_5xx']} 5xx, {result['socket_errors']} socket errors, "
                            f"{result['timeouts']} timeouts")
        if server.process.poll() is not None:
            problems.append("the server exited during the storm")
        return {"result": result, "problems": problems}
    finally:
        if server:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--soak-seconds", type=int, default=600)
    parser.add_argument("--storm-seconds", type=int, default=60)
    parser.add_argument("--soak-connections", type=int, default=8, help="per server")
    parser.add_argument("--employees", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=8, help="CHORUS_DB_POOL_SIZE of each server")
    parser.add_argument("--rss-growth-mib", type=float, default=32.0)
    parser.add_argument("--binary", default=None, help="default: a release build")
    args = parser.parse_args()
    binary = args.binary
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--bin", "chorus"], cwd=bench.ROOT, check=True)
        binary = os.path.join(bench.ROOT, "target", "release", "chorus")
    binary = os.path.abspath(binary)
    report = {"soak": soak(args, binary), "storm": storm(args, binary)}
    os.makedirs(os.path.join(bench.ROOT, "target", "soak"), exist_ok=True)
    with open(os.path.join(bench.ROOT, "target", "soak", "results.json"), "w") as f:
        json.dump(report, f, indent=2)
    s, t = report["soak"], report["storm"]["result"]
    print(f"soak: {s['requests']['requests']} requests in {args.soak_seconds} s on two servers, "
          f"{s['requests']['status_5xx']} 5xx, worst p99 {s['requests']['worst_p99_ms']} ms, "
          f"RSS growth {s['rss_growth_mib']} MiB (bound {args.rss_growth_mib}), "
          f"at most {s['most_db_connections']} database connections (two pools of {args.pool})")
    print(f"storm: {t['requests']} requests over 256 connections in {args.storm_seconds} s, "
          f"{t['status_5xx']} 5xx, {t['socket_errors']} socket errors, p99 {t['p99_ms']} ms")
    problems = report["soak"]["problems"] + report["storm"]["problems"]
    if problems:
        print("FAILED: " + "; ".join(problems))
        sys.exit(1)
    print("soak and storm passed")


if __name__ == "__main__":
    main()
