-- Starts and stops the loopback test server (spec/support/testserver.py) for busted specs, and runs
-- child drhost processes.
--   local server = require("spec.support.server")
--   local srv = server.start{ tls = true }   -- srv.port, srv.ca (PEM path), srv.closed_port
--   server.start{ async = true }              -- one asyncio loop (bench: /echo /slow /count /reset)
--   srv:url("/echo") ; srv:stop()
local M = {}

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "spec/support"

local Server = {}
Server.__index = Server

function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local q = M.shell_quote

function M.start(opts)
  opts = opts or {}
  local cmd = "exec python3 " .. q(here .. "/testserver.py") .. (opts.tls and " --tls" or "")
    .. (opts.async and " --async" or "")
  local h = assert(io.popen(cmd, "r"))
  local line = h:read("l")
  if not line then
    h:close()
    error("spec/support/server.lua: the test server printed nothing (is python3 installed?)", 2)
  end
  local port = tonumber(line:match('"port": (%d+)'))
  local pid = tonumber(line:match('"pid": (%d+)'))
  if not port or not pid then
    h:close()
    error("spec/support/server.lua: unexpected first line from the test server: " .. line, 2)
  end
  local self = setmetatable({
    port = port,
    pid = pid,
    ca = line:match('"ca": "([^"]+)"'),
    closed_port = tonumber(line:match('"closed_port": (%d+)')),
    handle = h,
  }, Server)
  self.base = (opts.tls and "https" or "http") .. "://127.0.0.1:" .. port
  return self
end

function Server:url(path)
  return self.base .. path
end

function Server:stop()
  if self.handle then
    os.execute("kill " .. self.pid .. " 2>/dev/null")
    self.handle:close()
    self.handle = nil
  end
end

-- An HTTP/2-only TLS server (spec/support/h2server.js, Node's http2) using the certificate of a
-- `start{ tls = true }` server; returns an object with port and stop().
function M.start_h2(tls_server)
  local dir = assert(tls_server.ca, "start_h2 needs a TLS test server"):match("^(.*)/[^/]+$")
  local h = assert(io.popen("exec node " .. q(here .. "/h2server.js") .. " " .. q(dir), "r"))
  local line = h:read("l") or ""
  local port, pid = tonumber(line:match('"port":(%d+)')), tonumber(line:match('"pid":(%d+)'))
  if not port then
    h:close()
    error("spec/support/server.lua: the HTTP/2 server did not start (is node installed?): " .. line, 2)
  end
  return setmetatable({ port = port, pid = pid, handle = h, base = "https://127.0.0.1:" .. port }, Server)
end

-- Path of the drhost binary running this spec: $DRHOST_BIN, else the interpreter in arg (lowest
-- negative index), else build/drhost.
function M.drhost()
  local env = os.getenv("DRHOST_BIN")
  if env and env ~= "" then return env end
  if arg then
    local i = -1
    while arg[i - 1] do i = i - 1 end
    if arg[i] and arg[i]:match("drhost") then return arg[i] end
  end
  return "build/drhost"
end

-- Runs `drhost -e code` with extra environment variables; returns ok, stdout, stderr.
function M.run_child(code, env)
  local out = os.tmpname()
  local err = os.tmpname()
  local prefix = {}
  for k, v in pairs(env or {}) do
    prefix[#prefix + 1] = k .. "=" .. q(v)
  end
  local cmd = string.format("env %s %s -e %s >%s 2>%s", table.concat(prefix, " "), q(M.drhost()), q(code),
    q(out), q(err))
  local ok = os.execute(cmd)
  local function slurp(p)
    local f = io.open(p, "rb")
    local s = f and f:read("a") or ""
    if f then f:close() end
    os.remove(p)
    return s
  end
  return ok == true, slurp(out), slurp(err)
end

-- Process id of this drhost (the parent of a shell it starts).
function M.pid()
  local p = io.popen("echo $PPID")
  local pid = tonumber(p:read("l"))
  p:close()
  return pid
end

function M.now()
  -- wall-clock with sub-second resolution, from the monotonic-ish os.clock is CPU time, so use date
  local f = io.open("/proc/uptime", "r")
  if f then
    local s = f:read("n")
    f:close()
    if s then return s end
  end
  return os.time()
end

return M
