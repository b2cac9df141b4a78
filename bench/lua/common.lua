-- Shared by read.lua and create.lua: load one item per line, report figures in done().
-- done() prints one machine-readable line that bench/core_bench.py parses:
-- BENCH requests=N duration_us=N p50_us=N p95_us=N p99_us=N max_us=N errors_status=N errors_other=N

local common = {}

function common.load_lines(path)
  local items = {}
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in file:lines() do
    if #line > 0 then items[#items + 1] = line end
  end
  file:close()
  assert(#items > 0, "no lines in " .. path)
  return items
end

function common.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d errors_status=%d errors_other=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end

return common
