-- wrk script: sends pre-signed requests, each used once (a fresh nonce and channel_order_id every time).
--   [WRK_RATE=<per second>] wrk -t<threads> ... -s bench/signed.lua <url> -- <requests file> <threads>
-- Each line of the file: METHOD \t PATH \t X-Timestamp \t X-Nonce \t X-Signature \t body.
-- With a rate, every connection asks for the next slot of a per-thread schedule before it sends (an open
-- model as long as a connection is free when a slot comes; late slots are counted and reported).

local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } timespec;
  int clock_gettime(int clk_id, timespec *tp);
]]
local ts = ffi.new("timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  -- Each thread has its own Lua state: the thread count comes as an argument, the id from setup().
  -- wrk also calls init and request once in its main state (to check the script): there, no id was set.
  local path, nthreads = args[1], tonumber(args[2])
  local me, limit = id or 0, id and math.huge or 1
  reqs, n, i = {}, 0, 0
  local k = 0
  for line in io.lines(path) do
    if n >= limit then break end
    if k % nthreads == me then
      local method, p, t, nonce, sig, body = line:match("^(%u+)\t([^\t]+)\t(%d+)\t([^\t]+)\t([^\t]+)\t(.*)$")
      n = n + 1
      reqs[n] = wrk.format(method, p, {
        ["Content-Type"] = "application/json", ["X-Channel-Id"] = "demo", ["X-Timestamp"] = t,
        ["X-Nonce"] = nonce, ["X-Signature"] = sig,
      }, body)
    end
    k = k + 1
  end
  interval = RATE > 0 and (1000.0 * nthreads / RATE) or 0
  next_slot, late, exhausted = nil, 0, 0
end

function request()
  i = i + 1
  if i > n then
    exhausted = exhausted + 1
    i = 1  -- reusing a request means a replayed nonce: it is answered 401 and shows as non-2xx
  end
  return reqs[i]
end

-- Defined only for a rate: wrk then schedules every send through a timer, which costs capacity runs nothing.
RATE = tonumber(os.getenv("WRK_RATE") or "0")
if RATE > 0 then
  function delay()
    local t = now_ms()
    if next_slot == nil then next_slot = t end
    next_slot = next_slot + interval
    local d = next_slot - t
    if d < 0 then late = late + 1; return 0 end
    return d
  end
end

function done(summary, latency, requests)
  local total_late, total_exhausted = 0, 0
  for _, thread in ipairs(threads) do
    total_late = total_late + (thread:get("late") or 0)
    total_exhausted = total_exhausted + (thread:get("exhausted") or 0)
  end
  io.write(string.format("BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"errors_status\":%d,"
    .. "\"errors_connect\":%d,\"errors_timeout\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,"
    .. "\"late_slots\":%d,\"reused_requests\":%d}\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    total_late, total_exhausted))
end
