#!/usr/bin/env python3
"""Old and new chorus serve side by side on copies of the same demo data;
wrk runs against each in turn, A B A B …, so drift in the machine's speed
hits both alike. Prints requests/s per run and the paired ratios.

  python3 benches/wrk_ab.py OLD_BIN OLD_DIR NEW_BIN NEW_DIR ROUNDS SECONDS

Each DIR is a data dir that benches/instructions.py (or `chorus demo
--employees 2000 --posts 200 --seed 1`) filled with that binary."""
import http.cookiejar, os, re, subprocess, sys, time, urllib.parse, urllib.request, statistics

old_bin, old_dir, new_bin, new_dir, rounds, seconds = sys.argv[1:7]
rounds, seconds = int(rounds), int(seconds)

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None

def start(binary, data_dir, port):
    env = dict(os.environ, CHORUS_DATA_DIR=data_dir, CHORUS_BIND=f"127.0.0.1:{port}", CHORUS_LOG="warn")
    env.pop("CHORUS_DATABASE_URL", None)
    p = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2); break
        except Exception:
            time.sleep(0.2)
    jar = http.cookiejar.CookieJar()
    o = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    page = o.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"email": "employee00001@demo.example",
                                   "password": "harbour lantern orchid seven", "csrf_token": token}).encode()
    try:
        o.open(urllib.request.Request(base + "/login", data=data))
    except urllib.error.HTTPError as e:
        assert e.code == 303, e.code
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return p, base, cookie

def run(base, cookie):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-H", f"Cookie: {cookie}", base + "/queue"],
                         capture_output=True, text=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

old = start(old_bin, old_dir, 18201)
new = start(new_bin, new_dir, 18202)
for (_, base, cookie) in (old, new):
    run(base, cookie)  # warm-up
ratios, olds, news = [], [], []
for i in range(rounds):
    a = run(old[1], old[2]); b = run(new[1], new[2])
    olds.append(a); news.append(b); ratios.append(b / a)
    print(f"round {i+1}: old {a:,.0f}/s  new {b:,.0f}/s  new/old {b/a:.3f}", flush=True)
for p, _, _ in (old, new):
    p.terminate(); p.wait()
print(f"median old {statistics.median(olds):,.0f}/s, new {statistics.median(news):,.0f}/s, "
      f"paired new/old median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
