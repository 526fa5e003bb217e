#!/usr/bin/env python3
"""Instructions per request of a chorus binary, counted by callgrind
(repeatable whatever else the machine is doing), for comparing two
builds when the machine is too busy for wall-clock figures.

  python3 benches/instructions.py target/release/chorus /tmp/chorus-a 18111

Fills DATA_DIR with `chorus demo` (2,000 employees, 200 posts, seed 1),
starts `chorus serve` under callgrind, signs in, warms up, then for each
endpoint zeroes the counters, makes N requests and dumps the counts.
Prints JSON: instructions per request by endpoint.

  --endpoints queue,share   only these (of queue, reports, static, share)
  --employee EMAIL          whose queue (default employee00001@demo.example)

With a DATA_DIR that already holds chorus.db (benches/curve.py passes its
own, at each size) that database is used as it is."""
import argparse, http.cookiejar, json, os, re, subprocess, sys, time, urllib.parse, urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("data_dir")
parser.add_argument("port", type=int)
parser.add_argument("--endpoints", default="queue,reports,static,share")
parser.add_argument("--employee", default="employee00001@demo.example")
parser.add_argument("--views", type=int, default=200, help="queue views counted (half as many POSTs and reports)")
options = parser.parse_args()
binary, data_dir, port = options.binary, options.data_dir, options.port
wanted = set(options.endpoints.split(","))
base = f"http://127.0.0.1:{port}"
env = dict(os.environ, CHORUS_DATA_DIR=data_dir, CHORUS_BIND=f"127.0.0.1:{port}",
           CHORUS_LOG="warn", CHORUS_BASE_URL=base)
env.pop("CHORUS_DATABASE_URL", None)
if not os.path.exists(os.path.join(data_dir, "chorus.db")):
    subprocess.run([binary, "demo", "--employees", "2000", "--posts", "200", "--seed", "1"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
out = os.path.join(data_dir, "callgrind.out")
for f in os.listdir(data_dir):
    if f.startswith("callgrind.out"):
        os.remove(os.path.join(data_dir, f))
server = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                           "--dump-instr=no", "--collect-atstart=yes", binary, "serve"],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(600):
    try:
        urllib.request.urlopen(base + "/healthz", timeout=5)
        break
    except Exception:
        time.sleep(1)

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None

def client():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())

def get(opener, path):
    try:
        with opener.open(base + path, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def post(opener, path, fields):
    data = urllib.parse.urlencode(fields).encode()
    try:
        with opener.open(urllib.request.Request(base + path, data=data), timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def csrf(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

def login(email):
    c = client()
    _, page = get(c, "/login")
    status, _ = post(c, "/login", {"email": email, "password": "harbour lantern orchid seven",
                                   "csrf_token": csrf(page)})
    assert status == 303, (email, status)
    return c

employee = login(options.employee)
admin = login("admin@demo.example")

def count(label, n, request):
    for _ in range(5):
        request()
    subprocess.run(["callgrind_control", "--zero", str(server.pid)], check=True, stdout=subprocess.DEVNULL)
    for _ in range(n):
        request()
    subprocess.run(["callgrind_control", "--dump=" + label, str(server.pid)], check=True, stdout=subprocess.DEVNULL)
    return n

runs = {}
if "queue" in wanted:
    runs["GET /queue"] = count("queue", options.views, lambda: get(employee, "/queue"))
if "reports" in wanted:
    runs["GET /admin/reports"] = count("reports", options.views // 2, lambda: get(admin, "/admin/reports"))
if "static" in wanted:
    runs["GET /static/chorus.css"] = count("static", options.views, lambda: get(employee, "/static/chorus.css"))
if "share" in wanted:
    _, queue = get(employee, "/queue")
    share = re.search(r'action="(/queue/\d+/share/[a-z]+)"', queue).group(1)
    token = csrf(queue)
    runs["POST share"] = count("share", options.views // 2, lambda: post(employee, share, {"csrf_token": token, "variant": "1"}))
server.terminate()
server.wait(timeout=120)

result = {}
for f in os.listdir(data_dir):
    if not f.startswith("callgrind.out"):
        continue
    text = open(os.path.join(data_dir, f), errors="replace").read()
    trigger = re.search(r"^desc: Trigger: (?:Client Request: |dump )(\S+)", text, re.M)
    summary = re.search(r"^summary: (\d+)", text, re.M) or re.search(r"^totals: (\d+)", text, re.M)
    if trigger and summary:
        label = trigger.group(1)
        for name, n in runs.items():
            key = {"GET /queue": "queue", "GET /admin/reports": "reports",
                   "GET /static/chorus.css": "static", "POST share": "share"}[name]
            if key == label:
                result[name] = int(summary.group(1)) // n
print(json.dumps(result, indent=1))
