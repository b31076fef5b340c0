-- The summary every `make bench` wrk run prints: one line on stdout, `BENCH_JSON {...}`
-- (latencies in microseconds). Alone, with the token in a header, this keeps wrk's request
-- static (built once, no Lua call per request):
--
--   wrk -t2 -c8 -d3s -H 'Authorization: Bearer <token>' -s summary.lua http://127.0.0.1:PORT/path
--
-- `bearer.lua` is appended to it for token rotation (a Lua call per request).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do
    w = w + (t:get("wrapped") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"wrapped":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, w))
end
