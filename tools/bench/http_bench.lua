-- Driven by tools/bench/10-http.sh: serial vs concurrent small GETs against the loopback test server
-- (asyncio mode, one event loop, keep-alive). Two workloads: /echo answered at once, and /slow?ms=5,
-- a stand-in for the latency of a remote API.
-- Then TLS: one child drhost per level of concurrency (1, 8, 32 in flight, as many connections) runs
-- http.all against the TLS test server with its CA in DRHOST_CA_BUNDLE and reports its peak RSS, so
-- the memory each TLS connection costs shows (the CA store must be built once, not per connection).
local http = require("http")
local server = require("spec.support.server")

local function status_kb(field)
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  for line in f:lines() do
    local v = line:match("^" .. field .. ":%s+(%d+) kB")
    if v then
      f:close()
      return tonumber(v)
    end
  end
  f:close()
  return nil
end

-- Child mode: http_bench.lua --tls-child URL N C -> one line "c=C peak_kb=P".
if arg and arg[1] == "--tls-child" then
  local url, count, c = arg[2], math.tointeger(tonumber(arg[3])), math.tointeger(tonumber(arg[4]))
  local reqs = {}
  for i = 1, count do reqs[i] = { url = url } end
  local rs = http.all(reqs, { concurrency = c })
  for i = 1, count do assert(rs[i].status == 200, "TLS GET " .. i .. " failed") end
  print(string.format("c=%d peak_kb=%d", c, status_kb("VmHWM")))
  os.exit(0)
end

local n = math.tointeger(tonumber(arg and arg[1] or "1000")) or 1000

local function now()
  local p = assert(io.popen("date +%s.%N"))
  local s = tonumber(p:read("l"))
  p:close()
  return s
end

local srv = server.start{ async = true }
local function connections()
  return tonumber(http.request{ url = srv:url("/count") }.body:match('"connections": (%d+)'))
end

local function measure(path)
  local url = srv:url(path)
  http.request{ url = srv:url("/reset") }
  local t0 = now()
  for _ = 1, n do
    local r = http.request{ url = url }
    assert(r.status == 200, "serial GET failed: " .. r.status)
  end
  local serial = now() - t0
  local serial_conns = connections()
  http.request{ url = srv:url("/reset") }
  local reqs = {}
  for i = 1, n do reqs[i] = { url = url } end
  t0 = now()
  local rs = http.all(reqs, { concurrency = 16 })
  local conc = now() - t0
  for i = 1, n do assert(rs[i].status == 200, "concurrent GET " .. i .. " failed") end
  return serial, serial_conns, conc, connections()
end

for _ = 1, 50 do http.request{ url = srv:url("/echo") } end -- warm-up

local rows = {}
for _, w in ipairs{ { "/echo", "echo (no latency)" }, { "/slow?ms=5", "5 ms server latency" } } do
  local s, sc, c, cc = measure(w[1])
  rows[#rows + 1] = { w[2], s, sc, c, cc }
end
srv:stop()

local function rps(t) return t > 0 and n / t or 0 end
print(string.format("%-20s %-10s %8s %9s %9s  %s", "workload", "mode", "requests", "seconds", "req/s", "new connections"))
for _, r in ipairs(rows) do
  print(string.format("%-20s %-10s %8d %9.3f %9.0f %6d", r[1], "serial", n, r[2], rps(r[2]), r[3]))
  print(string.format("%-20s %-10s %8d %9.3f %9.0f %6d", r[1], "all(16)", n, r[4], rps(r[4]), r[5]))
  print(string.format("%-20s ratio all(16)/serial: %.2fx", r[1], rps(r[4]) / math.max(rps(r[2]), 1e-9)))
end
print(string.format("drhost RSS at end: %s kB (peak %s kB)", tostring(status_kb("VmRSS")), tostring(status_kb("VmHWM"))))

-- TLS: peak RSS of a fresh process against the number of connections it holds open at once.
local tls = server.start{ tls = true }
local self_path = debug.getinfo(1, "S").source:match("^@(.*)$")
local drhost = arg[-1] or "build/drhost"
local peaks = {}
for _, c in ipairs{ 1, 8, 32 } do
  local cmd = "DRHOST_CA_BUNDLE=" .. server.shell_quote(tls.ca) .. " " .. server.shell_quote(drhost) .. " "
    .. server.shell_quote(self_path) .. " --tls-child " .. server.shell_quote(tls:url("/echo")) .. " "
    .. (8 * c) .. " " .. c
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("a")
  p:close()
  local kb = tonumber(out:match("peak_kb=(%d+)"))
  assert(kb, "TLS child failed: " .. out)
  peaks[#peaks + 1] = { c, kb }
end
tls:stop()
for i, r in ipairs(peaks) do
  local per = i > 1 and string.format("  (+%.0f kB per extra connection)", (r[2] - peaks[1][2]) / (r[1] - 1)) or ""
  print(string.format("TLS http.all, %2d in flight: peak RSS %6d kB%s", r[1], r[2], per))
end
