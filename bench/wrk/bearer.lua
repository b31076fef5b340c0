-- wrk script of `make bench`: every request carries `Authorization: Bearer <token>`, the
-- tokens read from one file per wrk thread (`<prefix>.<thread index>`, one token per line)
-- and sent in turn. A pool file is rotated through again and again (warm tokens); a file of
-- fresh tokens is sized so that it never wraps (every request a new token) and `wrapped`
-- in the summary proves it did not.
--
--   wrk -t2 -c32 -d5s -s bearer.lua http://127.0.0.1:PORT/api/v1/zones -- <prefix>
--
-- The summary is one line on stdout: `BENCH_JSON {...}` (latencies in microseconds).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(args[1] .. "." .. id) do
    if #line > 0 then
      tokens[#tokens + 1] = "Bearer " .. line
    end
  end
  if #tokens == 0 then
    error("no tokens in " .. args[1] .. "." .. id)
  end
  next_token = 0
  wrapped = 0
end

function request()
  next_token = next_token + 1
  if next_token > #tokens then
    next_token = 1
    wrapped = wrapped + 1
  end
  return wrk.format(nil, nil, { ["Authorization"] = tokens[next_token] })
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
