#!/usr/bin/env python3
"""The size curve (`bash benches/run.sh --curve`): the same load at several
organisation sizes, to show how each cost grows with the number of people.

At each size N (employees) it loads the demo with posts and shares in the
proportions of the full benchmark (5,000 posts and 1,000,000 shares for
100,000 employees: 0.05 posts and 10 shares a person), then, for each
backend, measures:

  the demo's load time and the database's size on disk;
  `chorus serve`: start-up time, RSS when ready and at its peak;
  the kept posts' gauges (/metrics) against their size stated in
  docs/architecture.md;
  GET /queue pages/s and p99 (wrk), GET /admin/reports cold (the first
  build after start-up) and kept (wrk p99), POST share/s, then the
  report's rebuild after the shares (the peak RSS includes it);
  digest planning and delivery rates; `chorus consent verify` time;
  and, on SQLite, the queue's instructions per view (callgrind, via
  benches/instructions.py), which do not care how busy the machine is.

It writes target/bench/curve.json, a section of BENCHMARKS.md between its
own markers (after the notes marker, so a normal run keeps it, and a curve
run leaves the rest of the file as it is) and a log-log chart,
docs/images/size-curve.svg.

  bash benches/run.sh --curve                                   # 10,000 / 100,000 / 1,000,000
  bash benches/run.sh --curve --curve-sizes 2000,10000,20000 --duration 5
"""

import argparse
import datetime
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from bench import ROOT, Database, Server, free_port, log, log_in, request, run_measured, session_line, wrk  # noqa: E402

POSTS_PER_PERSON = 5_000 / 100_000
SHARES_PER_PERSON = 1_000_000 / 100_000

BEGIN = "<!-- size-curve: written by benches/run.sh --curve; kept by a normal run -->"
END = "<!-- /size-curve -->"

# What docs/architecture.md states the kept posts hold ("Memory held by the
# caches"): at most this many bytes per kept post, everything they carry
# and every memo worked out from them included. The curve checks the
# /metrics gauge against it at every size.
LIVE_POST_BYTES_STATED = 4_096

# The server's peak RSS over the whole run, reports included, stays under
# 150 MB at every size up to 1,000,000 employees (issue 26).
PEAK_RSS_TARGET_BYTES = 150 * 10**6


def database_bytes(database):
    if database.backend == "sqlite":
        return sum(os.path.getsize(os.path.join(database.workdir, f))
                   for f in os.listdir(database.workdir) if f.startswith("chorus.db"))
    return int(database.query("SELECT pg_database_size(current_database())")[0][0])


def rss_mib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def gauges(metrics_port):
    values = {}
    for line in request(metrics_port, "GET", "/metrics")[1].splitlines():
        found = re.match(r"(chorus_live_posts(?:_bytes)?) (\d+)$", line)
        if found:
            values[found.group(1)] = int(found.group(2))
    return values


def hub_reads(metrics_port):
    found = re.search(r"^chorus_live_posts_reads_total (\d+)$",
                      request(metrics_port, "GET", "/metrics")[1], re.M)
    return int(found.group(1)) if found else None


# Seconds between two hub changes in the step that makes them under load.
HUB_CHANGE_SECONDS = 2


def queue_while_the_hub_changes(port, args, sessions, metrics_port, database):
    """GET /queue under the same load while a published post is edited
    every HUB_CHANGE_SECONDS (as a publish, it makes every view find the
    kept posts stale at once); counts the changes and the server's reads of
    the posts (one each, however many views wait for it)."""
    stop = threading.Event()
    changes = []

    def change():
        while not stop.wait(HUB_CHANGE_SECONDS):
            database.query("UPDATE posts SET title = title WHERE id = "
                           "(SELECT MAX(id) FROM posts WHERE status = 'published')")
            changes.append(time.monotonic())

    reads_before = hub_reads(metrics_port)
    changer = threading.Thread(target=change)
    changer.start()
    try:
        result = wrk(port, args, {"BENCH_SESSIONS": sessions}, "/queue", metrics_port)
    finally:
        stop.set()
        changer.join()
    # A view after the last change, so that each change has been read.
    with open(sessions) as lines:
        cookie = lines.readline().split("\t")[0]
    request(port, "GET", "/queue", dict(pair.split("=", 1) for pair in cookie.split("; ")))
    result["changes"] = len(changes)
    reads_after = hub_reads(metrics_port)
    result["reads"] = None if reads_before is None else reads_after - reads_before
    return result


def timed_get(port, path, cookies):
    started = time.monotonic()
    status, _ = request(port, "GET", path, cookies)
    if status != 200:
        raise RuntimeError(f"{path} answered {status}")
    return round((time.monotonic() - started) * 1000, 1)


def rebuilt_ms(port, cookies):
    """Milliseconds from the first report view after new shares until the
    page shows the newest figures (while the build runs it shows the last
    ones, saying it is counting the newest shares)."""
    started = time.monotonic()
    while True:
        status, body = request(port, "GET", "/admin/reports", cookies)
        if status != 200:
            raise RuntimeError(f"/admin/reports answered {status}")
        if "Counting the newest shares" not in body:
            return round((time.monotonic() - started) * 1000, 1)
        if time.monotonic() - started > 600:
            raise RuntimeError("the report was still being counted after 10 minutes")
        time.sleep(0.2)


def instructions(chorus, workdir, email):
    """The queue's instructions per view and the share's per POST on this
    SQLite database, counted by callgrind (benches/instructions.py)."""
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "benches", "instructions.py"), chorus, workdir,
         str(free_port()), "--endpoints", "queue,share", "--employee", email, "--views", "60"],
        check=True, capture_output=True, text=True,
        # No background jobs: callgrind counts every thread.
        env=dict(os.environ, CHORUS_JOBS_INTERVAL_SECONDS="0")).stdout
    return json.loads(out)


def run_size(backend, size, executables, args):
    employees = size
    posts = max(1, round(size * POSTS_PER_PERSON))
    shares = round(size * SHARES_PER_PERSON)
    workdir = tempfile.mkdtemp(prefix=f"chorus-curve-{backend}-")
    database = Database(backend, workdir)
    chorus = executables["chorus"]
    results = {"backend": backend, "employees": employees, "posts": posts, "shares": shares}
    try:
        env = database.env()
        log(f"{backend} at {employees:,}: loading the demo ({posts:,} posts, ~{shares:,} shares)")
        seconds, rss, _ = run_measured(
            [chorus, "demo", "--employees", str(employees), "--posts", str(posts), "--weeks", "12",
             "--shares", str(shares), "--seed", "42"], env)
        results["demo_seconds"] = round(seconds, 1)
        results["demo_peak_rss_mib"] = round(rss, 1)
        counts = database.query("SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM posts), "
                                "(SELECT COUNT(*) FROM shares)")
        results["rows"] = dict(zip(["users", "posts", "shares"], [int(c) for c in counts[0]]))
        results["database_mib"] = round(database_bytes(database) / 2**20, 1)
        log(f"{backend} at {employees:,}: loaded in {seconds:.1f} s, {results['database_mib']} MiB on disk")

        port, metrics_port = free_port(), free_port()
        serve_env = dict(env, CHORUS_BIND=f"127.0.0.1:{port}", CHORUS_JOBS_INTERVAL_SECONDS="0",
                         CHORUS_METRICS_ADDRESS=f"127.0.0.1:{metrics_port}")
        serve_env.pop("CHORUS_DB_POOL_SIZE", None)
        server = Server([chorus, "serve"], serve_env, port)
        results["startup_seconds"] = round(server.startup_seconds, 3)
        results["rss_at_start_mib"] = rss_mib(server.process.pid)
        try:
            emails = [r[0] for r in database.query(
                "SELECT u.email FROM users u JOIN consent_state c ON c.user_id = u.id "
                "WHERE c.purpose = 'share_suggestions' AND c.status = 'given' AND u.is_employee "
                f"AND u.active GROUP BY u.email ORDER BY MIN(u.id) LIMIT {args.sessions * 7}")][::7]
            # The same kind of person at every size: an employee, not the comms user.
            results["instructions_employee"] = next(e for e in emails if e.startswith("employee"))
            sessions = os.path.join(workdir, "employees.tsv")
            started = time.monotonic()
            with open(sessions, "w") as out:
                for email in emails:
                    out.write(session_line(port, email, "/queue")[0])
            # One at a time: a password sign-in (argon2) and the first queue page.
            results["sign_in_ms"] = round((time.monotonic() - started) * 1000 / len(emails), 1)
            kept = gauges(metrics_port)
            results["live_posts"] = kept.get("chorus_live_posts")
            results["live_posts_bytes"] = kept.get("chorus_live_posts_bytes")

            admin = log_in(port, "admin@demo.example")
            results["reports_cold_ms"] = timed_get(port, "/admin/reports", admin)
            results["reports_second_ms"] = timed_get(port, "/admin/reports", admin)
            staff = os.path.join(workdir, "staff.tsv")
            with open(staff, "w") as out:
                out.write("; ".join(f"{k}={v}" for k, v in admin.items()) + "\t\t\n")

            log(f"{backend} at {employees:,}: GET /queue")
            queue = wrk(port, args, {"BENCH_SESSIONS": sessions}, "/queue", metrics_port)
            log(f"{backend} at {employees:,}: GET /admin/reports (kept)")
            reports = wrk(port, args, {"BENCH_SESSIONS": staff}, "/admin/reports", metrics_port)
            log(f"{backend} at {employees:,}: POST share")
            share = wrk(port, args, {"BENCH_SESSIONS": sessions, "BENCH_MODE": "share"}, "/queue")
            # The first report view after the shares rebuilds it: the report's
            # peak, the last figures kept (and shown) while the new are counted.
            log(f"{backend} at {employees:,}: GET /admin/reports (rebuild after the shares)")
            results["reports_rebuild_ms"] = rebuilt_ms(port, admin)
            # Every view finds the kept posts stale at once after a hub
            # change: the peak RSS includes their reads under load.
            log(f"{backend} at {employees:,}: GET /queue while the hub changes")
            changing = queue_while_the_hub_changes(port, args, sessions, metrics_port, database)
            results["queue_changing_rps"] = changing["rps"]
            results["queue_changing_p99_ms"] = changing["p99_ms"]
            results["hub_changes"] = changing["changes"]
            results["hub_reads"] = changing["reads"]
            # The audiences worked out under load are in the gauge now.
            kept = gauges(metrics_port)
            results["live_posts_bytes_after_load"] = kept.get("chorus_live_posts_bytes")
            results["queue_rps"] = queue["rps"]
            results["queue_p99_ms"] = queue["p99_ms"]
            results["reports_kept_p99_ms"] = reports["p99_ms"]
            results["share_rps"] = share["rps"]
            results["status_5xx"] = (queue["status_5xx"] + reports["status_5xx"] + share["status_5xx"]
                                     + changing["status_5xx"])
            results["rss_peak_mib"] = rss_mib(server.process.pid, "VmHWM")
        finally:
            server.stop()

        digests = bench.run_digests(f"{backend} at {employees:,}", database, executables, env, workdir)
        results["digests_planned"] = digests["planned"]
        results["digests_planned_per_second"] = digests["planned_per_second"]
        results["digest_emails_per_second"] = digests["emails_per_second"]
        results["digest_plan_peak_rss_mib"] = digests["plan_peak_rss_mib"]
        results["digest_deliver_peak_rss_mib"] = digests["deliver_peak_rss_mib"]

        seconds, rss, _ = run_measured([chorus, "consent", "verify"], env)
        results["consent_verify_seconds"] = round(seconds, 2)
        results["consent_verify_peak_rss_mib"] = round(rss, 1)
        log(f"{backend} at {employees:,}: consent verified in {seconds:.1f} s")

        if backend == "sqlite" and not args.no_instructions:
            log(f"{backend} at {employees:,}: instructions per request (callgrind)")
            counted = instructions(chorus, workdir, results["instructions_employee"])
            results["queue_instructions"] = counted.get("GET /queue")
            results["share_instructions"] = counted.get("POST share")
    finally:
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


# The figures of the table and the chart: key, label, unit, and what the
# figure is. A "total" is expected to grow with the organisation (linearly
# at worst); a "flat" cost (one request's, or a fixed one) and a "rate"
# (items per second) should stay flat.
FIGURES = [
    ("demo_seconds", "Demo load", "s", "total"),
    ("database_mib", "Database on disk", "MiB", "total"),
    ("startup_seconds", "Start-up", "s", "flat"),
    ("rss_at_start_mib", "RSS when ready", "MiB", "flat"),
    ("rss_peak_mib", "RSS at peak", "MiB", "total"),
    ("live_posts_bytes_after_load", "Kept posts (gauge)", "bytes", "total"),
    ("sign_in_ms", "Sign-in and first queue page, one at a time", "ms", "flat"),
    ("queue_rps", "GET /queue", "pages/s", "rate"),
    ("queue_p99_ms", "GET /queue p99", "ms", "flat"),
    ("queue_instructions", "GET /queue (callgrind)", "instructions/view", "flat"),
    ("queue_changing_p99_ms", f"GET /queue p99, the hub changing every {HUB_CHANGE_SECONDS} s", "ms", "total"),
    ("share_rps", "POST share", "/s", "rate"),
    ("share_instructions", "POST share (callgrind)", "instructions/POST", "flat"),
    ("reports_cold_ms", "Reports, cold (first build)", "ms", "total"),
    ("reports_kept_p99_ms", "Reports, kept p99", "ms", "flat"),
    ("reports_rebuild_ms", "Reports, rebuild after the shares", "ms", "total"),
    ("digests_planned_per_second", "Digest planning", "digests/s", "rate"),
    ("digest_emails_per_second", "Digest delivery", "emails/s", "rate"),
    ("consent_verify_seconds", "consent verify", "s", "total"),
    ("demo_peak_rss_mib", "Demo load, peak RSS", "MiB", "total"),
    ("digest_plan_peak_rss_mib", "Digest planning, peak RSS", "MiB", "flat"),
    ("digest_deliver_peak_rss_mib", "Digest delivery, peak RSS", "MiB", "flat"),
    ("consent_verify_peak_rss_mib", "consent verify, peak RSS", "MiB", "total"),
]

# Chart series: the figures whose growth tells the story.
CHART = ["demo_seconds", "database_mib", "rss_peak_mib", "queue_instructions", "queue_p99_ms",
         "reports_cold_ms", "consent_verify_seconds", "digests_planned_per_second"]


def slope(points):
    """Slopes of log(value) against log(size) between neighbouring sizes."""
    slopes = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if y0 and y1 and y0 > 0 and y1 > 0 and x1 != x0:
            slopes.append(math.log(y1 / y0) / math.log(x1 / x0))
    return slopes


def growth(kind, points):
    """How a figure's cost grows: the slope from the smallest size to the
    largest (steadier than between neighbours on a noisy machine), and the
    steepest between neighbours. For a rate, the cost of one item is its
    inverse."""
    points = [(x, y) for x, y in points if y]
    slopes = slope(points)
    if not slopes:
        return "—", None, None
    overall = slope([points[0], points[-1]])[0]
    sign = -1 if kind == "rate" else 1
    overall, steepest = sign * overall, max(sign * s for s in slopes)
    if overall < 0.15:
        word = "flat"
    elif overall < 0.85:
        word = "sublinear"
    elif overall < 1.15:
        word = "linear"
    else:
        word = "**worse than linear**"
    if kind != "total" and overall >= 0.15:
        word += ": **should be flat**"
    return word, overall, steepest


def number(value):
    if value is None:
        return "—"
    if isinstance(value, float) and value < 100:
        return f"{value:,.3g}" if value < 1 else f"{value:,.1f}"
    return f"{value:,.0f}"


def markdown(report):
    lines = [
        BEGIN,
        "## The size curve",
        "",
        f"Written by `{report['command']}` on {report['started']}. Each size loads the demo with "
        "0.05 posts and 10 shares a person (the full run's proportions), and runs the same load: "
        f"{report['args']['connections']} connections, {report['args']['duration']} s per endpoint, "
        f"{report['args']['sessions']} employees' sessions. Machine: {report['machine']['cpu']}, "
        f"{report['machine']['cores']} cores, shared with other work (load average "
        f"{report['load_before']} before, {report['load_after']} after): wall-clock figures move by "
        "tens of percent from minute to minute; the callgrind counts do not. "
        "Chart: [docs/images/size-curve.svg](docs/images/size-curve.svg). Scale-out worked out from "
        "these figures: [docs/scale-out.md](docs/scale-out.md).",
        "",
    ]
    for backend in report["backends"]:
        runs = [r for r in report["results"] if r["backend"] == backend]
        if not runs:
            continue
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        lines += [f"### {name}", ""]
        substituted = [r for r in runs if r.get("instead_of")]
        for r in substituted:
            lines += [f"At {r['instead_of']:,} employees PostgreSQL ran at {r['employees']:,} instead "
                      "(`--postgres-max`): loading and measuring the full size there takes too long on this "
                      "machine. Its slopes are taken against the size it ran at.", ""]
        header = "| Figure \\ employees | " + " | ".join(f"{r['employees']:,}" for r in runs) + " | slope | grows |"
        lines += [header, "|---|" + "---:|" * len(runs) + "---:|---|"]
        for key, label, unit, kind in FIGURES:
            values = [r.get(key) for r in runs]
            if all(v is None for v in values):
                continue
            word, overall, steepest = growth(kind, [(r["employees"], r.get(key)) for r in runs])
            shown = "—" if overall is None else f"{overall:+.2f} ({steepest:+.2f})"
            lines.append(f"| {label} ({unit}) | " + " | ".join(number(v) for v in values)
                         + f" | {shown} | {word} |")
        lines += [
            "",
            "Rows: " + "; ".join(f"{r['employees']:,}: {r['rows']['users']:,} people, "
                                 f"{r['rows']['posts']:,} posts, {r['rows']['shares']:,} shares"
                                 for r in runs) + ".",
            "",
        ]
        checks = []
        for r in runs:
            if r.get("live_posts"):
                per_post = r["live_posts_bytes_after_load"] / r["live_posts"]
                mark = "✓" if per_post <= LIVE_POST_BYTES_STATED else "✗"
                checks.append(f"{r['employees']:,}: {r['live_posts']:,} posts, "
                              f"{r['live_posts_bytes_after_load'] / 2**20:.1f} MiB, "
                              f"{per_post:,.0f} bytes a post {mark}")
        if checks:
            lines += [f"Kept posts against their stated size (at most {LIVE_POST_BYTES_STATED:,} bytes a "
                      "post, docs/architecture.md; gauge `chorus_live_posts_bytes` after the load): "
                      + "; ".join(checks) + ".", ""]
        peaks = [f"{r['employees']:,}: {r['rss_peak_mib']} MiB "
                 f"({r['rss_peak_mib'] * 2**20 / 1e6:.0f} MB) "
                 f"{'✓' if r['rss_peak_mib'] * 2**20 < PEAK_RSS_TARGET_BYTES else '✗'}"
                 for r in runs if r.get("rss_peak_mib") and "reports_rebuild_ms" in r]
        if peaks:
            lines += [f"Server peak RSS (the report's rebuild after the shares included) against the target of "
                      f"under {PEAK_RSS_TARGET_BYTES // 10**6} MB (issue 26): " + "; ".join(peaks) + ".", ""]
        changing = [f"{r['employees']:,}: {r['hub_changes']} changes, {r['hub_reads']} reads "
                    f"{'✓' if r['hub_reads'] is not None and r['hub_reads'] <= r['hub_changes'] else '✗'}, "
                    f"{number(r['queue_changing_rps'])} pages/s, p99 {number(r['queue_changing_p99_ms'])} ms"
                    for r in runs if "hub_changes" in r]
        if changing:
            lines += [f"GET /queue while a published post is edited every {HUB_CHANGE_SECONDS} s (each change "
                      "makes every view find the kept posts stale at once; they wait for one read of the "
                      "posts, `chorus_live_posts_reads_total`, at most one a change): " + "; ".join(changing)
                      + ".", ""]
        errors = sum(r.get("status_5xx", 0) for r in runs)
        lines += [f"5xx answers over all runs: {errors}.", ""]
    lines += [
        "*slope*: of log(figure) against log(employees) from the smallest size to the largest, "
        "and in brackets the steepest between neighbouring sizes (for a rate, of its inverse: "
        "the cost of one item). The verdict is read from the first: under 0.15 is *flat*, "
        "0.85–1.15 *linear*. A total (load time, size on disk, a full read like the cold report "
        "or `consent verify`) is expected to be linear; a per-request cost or a rate should be "
        "flat. Wall-clock figures of short runs on a busy machine move by tens of percent; "
        "read a *should be flat* there against the callgrind rows, which do not.",
        "",
        END,
    ]
    return "\n".join(lines) + "\n"


def write_section(path, section):
    """Puts the curve section after the notes marker, replacing an earlier
    one: bench.py keeps everything from the notes marker on."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if BEGIN in text and END in text:
        before = text[:text.index(BEGIN)]
        after = text[text.index(END) + len(END):].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        if bench.NOTES_MARKER not in text:
            text = text.rstrip("\n") + "\n\n" + bench.NOTES_MARKER + "\n"
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text)


COLOURS = ["#1b6ca8", "#d1495b", "#2e933c", "#8f5db7", "#e39b17", "#00798c", "#6b4226", "#555555"]


def svg_chart(report, path):
    """A log-log chart of how the figures grow: each series relative to its
    value at the smallest size, against reference lines for flat and
    linear growth. Plain SVG, no libraries."""
    runs = [r for r in report["results"] if r["backend"] == "sqlite"] or report["results"]
    backend = runs[0]["backend"] if runs else "sqlite"
    sizes = [r["employees"] for r in runs]
    width, height = 780, 460
    left, right, top, bottom = 70, 270, 40, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    x_min, x_max = min(sizes), max(sizes)
    if x_max == x_min:
        x_max = x_min * 10
    ratio = x_max / x_min
    y_min, y_max = 1 / ratio ** 0.5, ratio * 1.5
    series = []
    for key in CHART:
        label, unit, kind = next((l, u, k) for f, l, u, k in FIGURES if f == key)
        points = [(r["employees"], r.get(key)) for r in runs if r.get(key)]
        if len(points) < 2:
            continue
        base = points[0][1]
        series.append((label if kind != "rate" else f"{label} (time per item)",
                       [(x, (y / base) if kind != "rate" else (base / y)) for x, y in points]))
        for _, y in series[-1][1]:
            y_min, y_max = min(y_min, y / 1.2), max(y_max, y * 1.2)

    def px(x):
        return left + plot_w * math.log(x / x_min) / math.log(x_max / x_min)

    def py(y):
        return top + plot_h * (1 - math.log(y / y_min) / math.log(y_max / y_min))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<title>How Chorus\'s costs grow with the number of employees ({backend})</title>',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="22" font-size="15" font-weight="bold">Cost against organisation size '
           f'({"SQLite" if backend == "sqlite" else "PostgreSQL"}, log-log)</text>']
    # Grid: decades on y, the sizes run on x.
    decade = 10 ** math.floor(math.log10(y_min))
    while decade <= y_max:
        for step in (1, 2, 5):
            y = decade * step
            if y_min <= y <= y_max:
                label = f"{y:g}×"
                out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(y):.1f}" y2="{py(y):.1f}" '
                           f'stroke="{"#cccccc" if step == 1 else "#eeeeee"}"/>')
                out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{label}</text>')
        decade *= 10
    for x in sizes:
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{top}" y2="{top + plot_h}" stroke="#eeeeee"/>')
        out.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{x:,}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888888"/>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 18}" text-anchor="middle">'
               'employees (log scale)</text>')
    out.append(f'<text transform="translate(18 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
               f'times the figure at {x_min:,} employees (log scale)</text>')
    # Reference lines: flat (slope 0) and linear (slope 1).
    for slope_, name in ((0, "flat"), (1, "linear")):
        y1 = ratio ** slope_
        out.append(f'<line x1="{px(x_min):.1f}" y1="{py(1):.1f}" x2="{px(x_max):.1f}" y2="{py(y1):.1f}" '
                   'stroke="#999999" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{px(x_max) - 4:.1f}" y="{py(y1) - 6:.1f}" text-anchor="end" fill="#777777">'
                   f'{name}</text>')
    for n, (label, points) in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        dash = ' stroke-dasharray="2 3"' if n >= len(COLOURS) else ""
        path_d = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(points))
        out.append(f'<path d="{path_d}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/>')
        for x, y in points:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>')
        legend_y = top + 10 + n * 22
        out.append(f'<line x1="{left + plot_w + 16}" x2="{left + plot_w + 40}" y1="{legend_y}" y2="{legend_y}" '
                   f'stroke="{colour}" stroke-width="2.5"{dash}/>')
        last = points[-1][1]
        out.append(f'<text x="{left + plot_w + 46}" y="{legend_y + 4}">{label} ({last:.3g}×)</text>')
    out.append("</svg>")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def load_average():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--curve-sizes", default="10000,100000,1000000",
                        help="employees at each size, comma-separated")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres-max", type=int, default=300_000,
                        help="PostgreSQL runs a larger size at this one instead (loading takes long)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=200, help="logged-in employees")
    parser.add_argument("--no-instructions", action="store_true", help="skip the callgrind counts")
    parser.add_argument("--from-json", action="store_true",
                        help="only write the section and the chart again from the last curve (--json)")
    parser.add_argument("--add", action="store_true",
                        help="keep the results of the last curve (--json) for the sizes and backends not run now")
    parser.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    parser.add_argument("--chart", default=os.path.join(ROOT, "docs", "images", "size-curve.svg"))
    parser.add_argument("--json", default=os.path.join(ROOT, "target", "bench", "curve.json"))
    args = parser.parse_args()
    if "CHORUS_BENCH_PG_DATABASE" not in os.environ:
        bench.PG_DATABASE = "chorus_curve"
    if args.from_json:
        with open(args.json) as f:
            report = json.load(f)
        write_section(args.out, markdown(report))
        svg_chart(report, args.chart)
        return
    sizes = sorted(int(s) for s in args.curve_sizes.split(",") if s)
    backends = [b for b in args.backends.split(",") if b]

    executables = bench.build()
    report = {
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "bash benches/run.sh --curve " + " ".join(sys.argv[1:]),
        "machine": bench.machine(),
        "args": vars(args),
        "backends": backends,
        "load_before": load_average(),
        "results": [],
    }
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    if args.add and os.path.exists(args.json):
        with open(args.json) as f:
            earlier = json.load(f)
        planned = {(b, min(n, args.postgres_max) if b == "postgres" else n) for b in backends for n in sizes}
        report["results"] = [r for r in earlier["results"] if (r["backend"], r["employees"]) not in planned]
        report["backends"] = earlier["backends"] + [b for b in backends if b not in earlier["backends"]]
        report["command"] = earlier["command"] + "; then " + report["command"]
        report["load_before"] = earlier["load_before"] + ", " + report["load_before"]
        report["earlier_load_after"] = earlier["load_after"] + ", "
    for backend in backends:
        for size in sizes:
            run_at = min(size, args.postgres_max) if backend == "postgres" else size
            if any(r["backend"] == backend and r["employees"] == run_at for r in report["results"]):
                continue
            results = run_size(backend, run_at, executables, args)
            if run_at != size:
                results["instead_of"] = size
            report["results"].append(results)
            report["results"].sort(key=lambda r: (r["backend"], r["employees"]))
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
    report["load_after"] = report.pop("earlier_load_after", "") + load_average()
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
    write_section(args.out, markdown(report))
    svg_chart(report, args.chart)
    log(f"results: {args.json}, {args.out} and {args.chart}")
    if any(r.get("status_5xx") for r in report["results"]):
        log("5xx answers seen")
        sys.exit(1)


if __name__ == "__main__":
    main()
