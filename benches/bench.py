#!/usr/bin/env python3
"""Chorus load benchmark (run it through benches/run.sh, which installs wrk).

For each backend (SQLite, PostgreSQL) it loads the demo organisation at the
given size into a fresh database, starts a release `chorus serve`, logs in
random employees and the comms and admin users, and drives the server from
wrk over loopback:

  GET /queue, POST share (with caps), GET /admin/reports, a static asset,

plus the same for a minimal actix-web + askama handler (benches/ceiling.rs),
the ceiling each endpoint is reported against. Then it plans and delivers a
digest for every employee who opted in to one, to an SMTP sink on loopback
(benches/smtp_sink.rs). It writes results as JSON and as the Markdown of
BENCHMARKS.md.
"""

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_PASSWORD = "harbour lantern orchid seven"
PG_ADMIN_URL = os.environ.get("CHORUS_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")
# The database the benchmark creates and drops (CHORUS_BENCH_PG_DATABASE), so
# that two runs on one PostgreSQL need not share it.
PG_DATABASE = os.environ.get("CHORUS_BENCH_PG_DATABASE", "chorus_bench")
# PostgreSQL runs on the same machine: docs/postgresql.md's advice for that case is
# no TLS on loopback (set CHORUS_BENCH_PG_PARAMS="" to measure libpq's
# default, TLS when the server offers it).
PG_PARAMS = os.environ.get("CHORUS_BENCH_PG_PARAMS", "sslmode=disable")


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build():
    log("building release binaries")
    subprocess.run(["cargo", "build", "--release", "--bin", "chorus"], cwd=ROOT, check=True)
    out = subprocess.run(
        ["cargo", "bench", "--no-run", "--bench", "ceiling", "--bench", "smtp_sink",
         "--message-format=json"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    executables = {}
    for line in out.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if message.get("executable") and message.get("target", {}).get("name"):
            executables[message["target"]["name"]] = message["executable"]
    executables["chorus"] = os.path.join(ROOT, "target", "release", "chorus")
    return executables


def run_measured(argv, env):
    """Runs a command; returns (seconds, peak RSS in MiB, stdout)."""
    started = time.monotonic()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = "", ""
    # wait4 gives the child's own peak RSS.
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.monotonic() - started
    out = process.stdout.read()
    err = process.stderr.read()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({process.returncode}): {err}{out}")
    return elapsed, usage.ru_maxrss / 1024, out


def request(port, method, path, cookies=None, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    all_headers = dict(headers or {})
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None:
        body = urllib.parse.urlencode(body)
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    text = response.read().decode("utf-8", "replace")
    if cookies is not None:
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name.strip()] = rest.split(";", 1)[0]
    connection.close()
    return response.status, text


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SHARE = re.compile(r'action="(/queue/\d+/share/[a-z]+)"')


def log_in(port, email):
    cookies = {}
    status, page = request(port, "GET", "/login", cookies)
    token = CSRF.search(page).group(1)
    status, _ = request(port, "POST", "/login", cookies,
                        {"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    if status != 303:
        raise RuntimeError(f"login of {email} answered {status}")
    return cookies


def session_line(port, email, page):
    cookies = log_in(port, email)
    status, html = request(port, "GET", page, cookies)
    if status != 200:
        raise RuntimeError(f"{page} for {email} answered {status}")
    token = CSRF.search(html).group(1)
    shares = " ".join(sorted(set(SHARE.findall(html))))
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return f"{cookie}\t{token}\t{shares}\n", len(html), html.count("<article")


class Database:
    def __init__(self, backend, workdir):
        self.backend = backend
        self.workdir = workdir
        if backend == "sqlite":
            self.url = None
        else:
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            self.url = f"{base}/{PG_DATABASE}" + (f"?{PG_PARAMS}" if PG_PARAMS else "")
            self.psql_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            self.psql_admin(f"CREATE DATABASE {PG_DATABASE}")

    def psql_admin(self, sql):
        subprocess.run(["psql", PG_ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                       check=True, capture_output=True)

    def env(self):
        env = dict(os.environ)
        env["CHORUS_DATA_DIR"] = self.workdir
        env["CHORUS_LOG"] = "warn"
        env.pop("CHORUS_DATABASE_URL", None)
        if self.url:
            env["CHORUS_DATABASE_URL"] = self.url
        return env

    def query(self, sql):
        if self.backend == "sqlite":
            # Closed at once: a connection left open keeps SQLite's locks, and
            # a server run after it on the same file (benches/instructions.py
            # in the size curve) then waits on them.
            with contextlib.closing(sqlite3.connect(os.path.join(self.workdir, "chorus.db"))) as db:
                rows = db.execute(sql).fetchall()
                db.commit()
                return rows
        out = subprocess.run(["psql", self.url, "-v", "ON_ERROR_STOP=1", "-qAtF", "\t", "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("\t")) for line in out.splitlines() if line]

    def drop(self):
        if self.url:
            self.psql_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")


class Server:
    def __init__(self, argv, env, port):
        self.port = port
        started = time.monotonic()
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = started + 60
        while time.monotonic() < deadline:
            try:
                status, _ = request(port, "GET", "/healthz")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.01)
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()}")
        self.startup_seconds = time.monotonic() - started

    def peak_rss_mib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def answered(metrics_port):
    """The server's own count of answers to GET requests so far, by status
    class (from /metrics). GET only: a POST run's last requests may still be
    answered when the next run starts."""
    counts = {}
    for line in request(metrics_port, "GET", "/metrics")[1].splitlines():
        found = re.match(r'chorus_http_requests_total\{method="GET",.*status="(\dxx)".*\} (\d+)$', line)
        if found:
            counts[found.group(1)] = counts.get(found.group(1), 0) + int(found.group(2))
    return counts


def wrk(port, args, env_extra, path="/", metrics_port=None):
    """One wrk run. A GET run (no BENCH_MODE) takes its status classes from
    the server's /metrics at metrics_port, counted before and after."""
    before = answered(metrics_port) if metrics_port else None
    env = dict(os.environ)
    env.update(env_extra)
    env.setdefault("BENCH_PATH", path)
    out = subprocess.run(
        ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
         "--timeout", "10s", "-s", os.path.join(ROOT, "benches", "load.lua"),
         f"http://127.0.0.1:{port}{path}"],
        env=env, check=True, capture_output=True, text=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("BENCH_JSON "))
    result = json.loads(line[len("BENCH_JSON "):])
    seconds = result["duration_us"] / 1e6
    result["rps"] = round(result["requests"] / seconds, 1) if seconds else 0
    result["p50_ms"] = round(result["p50_us"] / 1000, 2)
    result["p99_ms"] = round(result["p99_us"] / 1000, 2)
    if before is not None:
        after = answered(metrics_port)
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in ["2xx", "3xx", "4xx", "5xx"]}
        result.update({"status_2xx": delta["2xx"], "status_3xx": delta["3xx"], "status_429": "—",
                       "status_4xx": delta["4xx"], "status_5xx": delta["5xx"],
                       "status_counted_by": "server /metrics"})
    return result


def ceiling(executables, args):
    port = free_port()
    process = subprocess.Popen([executables["ceiling"], "--listen", f"127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL)
    for _ in range(500):
        try:
            if request(port, "GET", "/")[0] == 200:
                break
        except OSError:
            time.sleep(0.01)
    log("ceiling: minimal actix-web + askama page")
    result = wrk(port, args, {})
    process.terminate()
    process.wait()
    return result


def run_digests(backend, database, executables, env, workdir):
    """Plans a daily digest now for every employee who opted in to one and
    delivers them to an SMTP sink on loopback: counts, times, peak RSS."""
    chorus = executables["chorus"]
    database.query(
        "UPDATE users SET digest_frequency = 'daily', digest_hour = 0, quiet_from = NULL, "
        "quiet_until = NULL, last_digest_at = NULL WHERE id IN (SELECT user_id FROM consent_state "
        "WHERE purpose = 'email_digest' AND status = 'given')")
    sink_port = free_port()
    count_file = os.path.join(workdir, "received")
    sink = subprocess.Popen([executables["smtp_sink"], "--listen", f"127.0.0.1:{sink_port}",
                             "--count-file", count_file])
    time.sleep(0.3)
    mail_env = dict(env)
    mail_env["CHORUS_SMTP_URL"] = f"smtp://127.0.0.1:{sink_port}?tls=none"
    mail_env["CHORUS_BASE_URL"] = "https://chorus.example.com"
    log(f"{backend}: planning digests")
    plan_seconds, plan_rss, plan_out = run_measured([chorus, "digests", "plan", "--once"], mail_env)
    planned = int(database.query("SELECT COUNT(*) FROM outbox WHERE kind = 'digest'")[0][0])
    log(f"{backend}: {planned} digests planned in {plan_seconds:.1f} s; delivering")
    send_seconds, send_rss, send_out = run_measured([chorus, "mail", "deliver", "--once"], mail_env)
    time.sleep(0.5)
    with open(count_file) as f:
        received = int(f.read().strip() or 0)
    sink.terminate()
    sink.wait()
    log(f"{backend}: {received} emails in {send_seconds:.1f} s")
    return {
        "planned": planned,
        "plan_seconds": round(plan_seconds, 2),
        "planned_per_second": round(planned / plan_seconds, 1),
        "plan_peak_rss_mib": round(plan_rss, 1),
        "received_by_smtp": received,
        "deliver_seconds": round(send_seconds, 2),
        "emails_per_second": round(received / send_seconds, 1),
        "deliver_peak_rss_mib": round(send_rss, 1),
        "deliver_output": send_out.strip(),
    }


def run_backend(backend, executables, args, ceiling_rps):
    workdir = tempfile.mkdtemp(prefix=f"chorus-bench-{backend}-")
    database = Database(backend, workdir)
    results = {"backend": backend}
    try:
        env = database.env()
        chorus = executables["chorus"]
        log(f"{backend}: loading the demo ({args.employees} employees, {args.posts} posts, ~{args.shares} shares)")
        seconds, rss, out = run_measured(
            [chorus, "demo", "--employees", str(args.employees), "--posts", str(args.posts),
             "--weeks", str(args.weeks), "--shares", str(args.shares), "--seed", "42"], env)
        results["demo"] = {"seconds": round(seconds, 1), "peak_rss_mib": round(rss, 1),
                           "output": out.strip().splitlines()[0] if out.strip() else ""}
        log(f"{backend}: {results['demo']['output']} ({seconds:.1f} s)")
        counts = database.query("SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM posts), (SELECT COUNT(*) FROM shares)")
        results["rows"] = dict(zip(["users", "posts", "shares"], [int(c) for c in counts[0]]))

        port = free_port()
        serve_env = dict(env)
        serve_env["CHORUS_BIND"] = f"127.0.0.1:{port}"
        serve_env["CHORUS_JOBS_INTERVAL_SECONDS"] = "0"
        metrics_port = free_port()
        serve_env["CHORUS_METRICS_ADDRESS"] = f"127.0.0.1:{metrics_port}"
        if args.pool:
            serve_env["CHORUS_DB_POOL_SIZE"] = str(args.pool)
        else:
            serve_env.pop("CHORUS_DB_POOL_SIZE", None)
        server = Server([chorus, "serve"], serve_env, port)
        results["startup_seconds"] = round(server.startup_seconds, 3)
        log(f"{backend}: serving on {port}, ready in {server.startup_seconds:.3f} s")
        try:
            emails = [r[0] for r in database.query(
                "SELECT u.email FROM users u JOIN consent_state c ON c.user_id = u.id "
                "WHERE c.purpose = 'share_suggestions' AND c.status = 'given' AND u.is_employee "
                f"AND u.active GROUP BY u.email ORDER BY MIN(u.id) LIMIT {args.sessions * 7}")][::7]
            employees = os.path.join(workdir, "employees.tsv")
            queue_bytes = 0
            full_pages = []
            with open(employees, "w") as out:
                for email in emails:
                    line, size, posts = session_line(port, email, "/queue")
                    out.write(line)
                    queue_bytes += size
                    if posts == 20:
                        full_pages.append(size)
            results["queue_page_kib"] = round(queue_bytes / max(len(emails), 1) / 1024, 1)
            # The weight of a full page (20 posts), in kB of HTML: target 30.
            if full_pages:
                results["queue_html_20_posts"] = {
                    "pages": len(full_pages),
                    "mean_kb": round(sum(full_pages) / len(full_pages) / 1000, 1),
                    "max_kb": round(max(full_pages) / 1000, 1),
                }
            staff = os.path.join(workdir, "staff.tsv")
            with open(staff, "w") as out:
                for email in ["admin@demo.example", "comms@demo.example"]:
                    out.write(session_line(port, email, "/admin/reports")[0])
            static = re.search(r'href="(/static/chorus-[0-9a-f]+\.css)"',
                               request(port, "GET", "/login")[1]).group(1)
            log(f"{backend}: {len(emails)} employee sessions, 2 staff sessions")

            endpoints = {}
            log(f"{backend}: GET /queue")
            endpoints["GET /queue"] = wrk(port, args, {"BENCH_SESSIONS": employees}, "/queue", metrics_port)
            before = int(database.query("SELECT COALESCE(MAX(id), 0) FROM shares")[0][0])
            log(f"{backend}: POST share")
            endpoints["POST share"] = wrk(port, args, {"BENCH_SESSIONS": employees, "BENCH_MODE": "share"}, "/queue")
            recorded = int(database.query(f"SELECT COUNT(*) FROM shares WHERE id > {before}")[0][0])
            violations = int(database.query(
                "SELECT COUNT(*) FROM (SELECT s.user_id, s.platform, COUNT(*) AS n FROM shares s "
                f"WHERE s.id > {before} GROUP BY s.user_id, s.platform) t "
                "JOIN share_caps c ON c.platform = t.platform "
                "LEFT JOIN user_caps u ON u.user_id = t.user_id AND u.platform = t.platform "
                "WHERE t.n > COALESCE(u.per_day, c.default_day)")[0][0])
            endpoints["POST share"]["shares_recorded"] = recorded
            endpoints["POST share"]["cap_violations"] = violations
            # The peak before and after the reports run (the staff sessions'
            # first page built them cold; this run rebuilds them after the shares).
            results["serve_peak_rss_before_reports_mib"] = round(server.peak_rss_mib(), 1)
            log(f"{backend}: GET /admin/reports")
            endpoints["GET /admin/reports"] = wrk(port, args, {"BENCH_SESSIONS": staff}, "/admin/reports", metrics_port)
            results["serve_peak_rss_after_reports_mib"] = round(server.peak_rss_mib(), 1)
            log(f"{backend}: GET {static}")
            endpoints["GET static"] = wrk(port, args, {}, static, metrics_port)
            for result in endpoints.values():
                result["of_ceiling"] = round(result["rps"] / ceiling_rps, 3) if ceiling_rps else None
            results["endpoints"] = endpoints
            results["serve_peak_rss_mib"] = round(server.peak_rss_mib(), 1)
        finally:
            server.stop()

        results["digests"] = run_digests(backend, database, executables, env, workdir)
    finally:
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    with open("/proc/meminfo") as f:
        memory = int(f.readline().split()[1]) // 1024 // 1024
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory,
            "os": platform.platform(), "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0]}


NOTES_MARKER = "<!-- notes: kept when benches/run.sh rewrites the figures above -->"

TARGETS = {
    ("sqlite", "GET /queue"): ("rps", 5000), ("postgres", "GET /queue"): ("rps", 3000),
    ("sqlite", "POST share"): ("rps", 2000), ("sqlite", "GET static"): ("rps", 20000),
    ("postgres", "GET static"): ("rps", 20000),
}


QUEUE_HTML_TARGET_KB = 30


def queue_weight(weight):
    """The /queue page of 20 posts, in kB of HTML, against its target."""
    if not weight:
        return "No session had a full /queue page (20 posts) to weigh."
    mark = "✓" if weight["mean_kb"] <= QUEUE_HTML_TARGET_KB else "✗"
    return (f"`/queue` with 20 posts: **{weight['mean_kb']} kB** of HTML on average {mark} "
            f"(target ≤ {QUEUE_HTML_TARGET_KB} kB; heaviest {weight['max_kb']} kB; "
            f"{weight['pages']} sessions' pages).")


def markdown(report):
    m = report["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `benches/run.sh` (figures: run it again; notes at the end are kept). Every figure",
        "is from one run on one machine, with the load generator (wrk) on the same",
        "machine over loopback, so the server had the cores only part of the time.",
        "",
        f"- Run: {report['started']} — `{report['command']}`",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['os']}; {m['wrk']}",
        f"- Load: {report['args']['connections']} connections, {report['args']['threads']} wrk threads, "
        f"{report['args']['duration']} s per endpoint; sessions of random employees who opted in, and of the comms and admin users; "
        f"database pool {report['args']['pool'] or 'the default (10)'}; status classes of GET runs counted by "
        f"the server's /metrics (429 not told apart there: —), of the share run by wrk",
        f"- PostgreSQL: on the same machine, reached at `{PG_ADMIN_URL.rsplit('/', 1)[0]}/{PG_DATABASE}"
        f"{'?' + PG_PARAMS if PG_PARAMS else ''}` (CHORUS_BENCH_PG_PARAMS)",
        f"- Ceiling: a minimal actix-web handler rendering a tiny askama page: "
        f"**{report['ceiling']['rps']:,.0f} requests/s** (p99 {report['ceiling']['p99_ms']} ms)",
        "",
    ]
    for backend in report["backends"]:
        rows = backend["rows"]
        lines += [
            f"## {'SQLite' if backend['backend'] == 'sqlite' else 'PostgreSQL'}",
            "",
            f"Demo data: {rows['users']:,} people, {rows['posts']:,} posts, {rows['shares']:,} shares, "
            f"loaded in {backend['demo']['seconds']} s (peak RSS {backend['demo']['peak_rss_mib']} MiB). "
            f"Start-up with migrations applied: {backend['startup_seconds']} s. "
            f"Server peak RSS over the whole load test: **{backend['serve_peak_rss_mib']} MiB** "
            f"({backend.get('serve_peak_rss_before_reports_mib', '—')} MiB before the reports run, "
            f"{backend.get('serve_peak_rss_after_reports_mib', '—')} MiB after it).",
            "",
            queue_weight(backend.get("queue_html_20_posts")),
            "",
            "| Endpoint | Requests/s | p50 ms | p99 ms | of ceiling | 2xx | 3xx | 429 | other 4xx | 5xx | socket errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, r in backend["endpoints"].items():
            target = TARGETS.get((backend["backend"], name))
            mark = ""
            if target:
                mark = " ✓" if r[target[0]] >= target[1] else f" ✗ (target {target[1]:,})"
            lines.append(
                f"| {name} | {r['rps']:,.0f}{mark} | {r['p50_ms']} | {r['p99_ms']} | {r['of_ceiling']:.0%} | "
                f"{r['status_2xx']} | {r['status_3xx']} | {r['status_429']} | {r['status_4xx']} | {r['status_5xx']} | {r['socket_errors']} |")
        share = backend["endpoints"]["POST share"]
        d = backend["digests"]
        lines += [
            "",
            f"POST share: every request takes the person's lock and checks their caps; "
            f"{share['status_3xx']} were accepted (303 to the platform's dialog), {share['status_429']} refused "
            f"at the cap (429), {share['shares_recorded']} shares recorded, **{share['cap_violations']} cap violations** "
            f"(people with more new shares on a platform than their daily cap).",
            "",
            f"Digests: {d['planned']:,} planned in {d['plan_seconds']} s ({d['planned_per_second']:,.0f}/s, "
            f"peak RSS {d['plan_peak_rss_mib']} MiB); {d['received_by_smtp']:,} delivered to the SMTP sink in "
            f"{d['deliver_seconds']} s: **{d['emails_per_second']:,.0f} emails/s** (peak RSS {d['deliver_peak_rss_mib']} MiB).",
            "",
        ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=5_000)
    parser.add_argument("--shares", type=int, default=1_000_000)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--duration", type=int, default=15, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=200, help="logged-in employees")
    parser.add_argument("--pool", type=int, default=None,
                        help="CHORUS_DB_POOL_SIZE (default: Chorus's own default)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    parser.add_argument("--json", default=os.path.join(ROOT, "target", "bench", "results.json"))
    args = parser.parse_args()

    executables = build()
    report = {
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "bash benches/run.sh " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "args": vars(args),
    }
    report["ceiling"] = ceiling(executables, args)
    report["backends"] = [run_backend(b, executables, args, report["ceiling"]["rps"])
                          for b in args.backends.split(",") if b]
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    # Hand-written notes below the marker survive a new run.
    notes = ""
    if os.path.exists(args.out):
        with open(args.out) as f:
            existing = f.read()
        if NOTES_MARKER in existing:
            notes = existing[existing.index(NOTES_MARKER):]
    with open(args.out, "w") as f:
        f.write(markdown(report) + ("\n" + notes if notes else ""))
    log(f"results: {args.json} and {args.out}")
    failures = [b["backend"] for b in report["backends"]
                if any(r["status_5xx"] for r in b["endpoints"].values())]
    if failures:
        log(f"5xx answers seen on: {', '.join(failures)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
