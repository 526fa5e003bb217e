-- wrk script for benches/bench.py: every request picks a random logged-in
-- session (when BENCH_SESSIONS names a file of "cookie<TAB>csrf<TAB>share
-- paths" lines) and either GETs BENCH_PATH or, with BENCH_MODE=share, POSTs
-- one of that person's share paths (BENCH_MODE=mix: one request in five).
-- In share and mix modes, status classes (with 429 apart) are counted per
-- thread. A GET run leaves them to the server's own counters (benches/bench.py
-- reads /metrics before and after): a `response` function makes wrk copy
-- every body into Lua, which on a 45 KiB page costs the load generator about
-- a sixth more CPU, taken from the server it shares the cores with. wrk's own
-- count of answers of 400 and over is printed either way.

local sessions = {}
local mode = os.getenv("BENCH_MODE") or "get"
local path = os.getenv("BENCH_PATH") or "/"
local threads = {}

s2xx, s3xx, s429, s4xx, s5xx = 0, 0, 0, 0, 0

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    local file = os.getenv("BENCH_SESSIONS")
    if file and file ~= "" then
        for line in io.lines(file) do
            local cookie, csrf, shares = line:match("^([^\t]*)\t([^\t]*)\t?(.*)$")
            if cookie then
                local list = {}
                for share in shares:gmatch("%S+") do
                    table.insert(list, share)
                end
                table.insert(sessions, { cookie = cookie, csrf = csrf, shares = list })
            end
        end
    end
    math.randomseed(os.time() + tonumber(tostring(sessions):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
    if #sessions == 0 then
        return wrk.format("GET", path)
    end
    local s = sessions[math.random(#sessions)]
    local share = mode == "share" or (mode == "mix" and math.random(5) == 1)
    if share and #s.shares > 0 then
        return wrk.format("POST", s.shares[math.random(#s.shares)], {
            ["Cookie"] = s.cookie,
            ["X-CSRF-Token"] = s.csrf,
            ["Content-Type"] = "application/x-www-form-urlencoded",
        }, "")
    end
    return wrk.format("GET", path, { ["Cookie"] = s.cookie })
end

local function count(status)
    if status >= 500 then
        s5xx = s5xx + 1
    elseif status == 429 then
        s429 = s429 + 1
    elseif status >= 400 then
        s4xx = s4xx + 1
    elseif status >= 300 then
        s3xx = s3xx + 1
    else
        s2xx = s2xx + 1
    end
end

if mode ~= "get" then
    function response(status, headers, body)
        count(status)
    end
end

function done(summary, latency, requests)
    local total = { s2xx = 0, s3xx = 0, s429 = 0, s4xx = 0, s5xx = 0 }
    for _, thread in ipairs(threads) do
        for key, _ in pairs(total) do
            total[key] = total[key] + (thread:get(key) or 0)
        end
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,'
            .. '"socket_errors":%d,"timeouts":%d,"status_400_and_over":%d,"status_2xx":%d,"status_3xx":%d,"status_429":%d,'
            .. '"status_4xx":%d,"status_5xx":%d}\n',
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, e.connect + e.read + e.write, e.timeout, e.status,
        total.s2xx, total.s3xx, total.s429, total.s4xx, total.s5xx))
end
