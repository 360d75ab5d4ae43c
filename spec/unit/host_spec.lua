-- The drhost binary: command line, arg, module search, uncaught errors, SIGINT, REPL (non-tty).
local DRHOST = os.getenv("DRHOST_BIN") or arg[-1] or "build/drhost"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- Runs a shell command; returns stdout+stderr (or stdout only with sep) and the exit code.
local function sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"@rc=$?\""))
  local out = p:read("a")
  p:close()
  local body, rc = out:match("^(.-)@rc=(%d+)%s*$")
  return body, tonumber(rc)
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local function write(path, data)
  os.execute("mkdir -p " .. q(path:match("^(.*)/")))
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

describe("drhost command line", function()
  local dir
  setup(function() dir = tmpdir() end)
  teardown(function() os.execute("rm -rf " .. q(dir)) end)

  it("prints its version", function()
    local out, rc = sh(DRHOST .. " --version")
    assert.are.equal(0, rc)
    assert.matches("^drhost %S+ %(Lua 5%.4", out)
  end)

  it("runs -e chunks in order", function()
    local out, rc = sh(DRHOST .. " -e 'x = 20' -e 'print(x + 22)'")
    assert.are.equal(0, rc)
    assert.are.equal("42\n", out)
  end)

  it("runs a script with arg and ... set like lua", function()
    write(dir .. "/args.lua", "print(arg[0], #arg, arg[1], arg[2], select('#', ...), ...)")
    local out, rc = sh(DRHOST .. " " .. q(dir .. "/args.lua") .. " one 'two words'")
    assert.are.equal(0, rc)
    assert.are.equal(dir .. "/args.lua\t2\tone\ttwo words\t2\tone\ttwo words\n", out)
  end)

  it("passes the script's os.exit status through", function()
    local _, rc = sh(DRHOST .. " -e 'os.exit(7)'")
    assert.are.equal(7, rc)
  end)

  it("rejects unknown options with usage and status 2", function()
    local out, rc = sh(DRHOST .. " --frobnicate")
    assert.are.equal(2, rc)
    assert.matches("unknown option '%-%-frobnicate'", out)
    assert.matches("usage: drhost", out)
    out, rc = sh(DRHOST .. " -e")
    assert.are.equal(2, rc)
    assert.matches("%-e needs an argument", out)
  end)

  it("reports a missing script and a syntax error with status 1", function()
    local out, rc = sh(DRHOST .. " " .. q(dir .. "/missing.lua"))
    assert.are.equal(1, rc)
    assert.matches("cannot run .*missing%.lua", out)
    write(dir .. "/bad.lua", "local x = = 1")
    out, rc = sh(DRHOST .. " " .. q(dir .. "/bad.lua"))
    assert.are.equal(1, rc)
    assert.matches("bad%.lua:1:", out)
  end)

  it("prints uncaught structured errors with their fields and a traceback", function()
    write(dir .. "/fail.lua", table.concat({
      "local errors = require('errors')",
      "local function inner()",
      "  errors.raise{ code = 'NOT_FOUND', message = 'no vault', status = 404,",
      "                target = 'kv-dr', details = { { code = 'X' } } }",
      "end",
      "inner()",
    }, "\n"))
    local out, rc = sh(DRHOST .. " " .. q(dir .. "/fail.lua"))
    assert.are.equal(1, rc)
    assert.matches("drhost: [^\n]*fail%.lua:3: NOT_FOUND: no vault\n", out)
    assert.matches("\n  status: 404\n", out)
    assert.matches('\n  target: "kv%-dr"\n', out)
    assert.matches("\n  details: ", out)
    assert.matches('code = "X"', out)
    assert.matches("stack traceback:", out)
    assert.matches("in local 'inner'", out)
  end)

  it("prints uncaught errors raised by C modules with the Lua caller's line", function()
    write(dir .. "/cfail.lua", "\nrequire('json').decode('{')\n")
    local out, rc = sh(DRHOST .. " " .. q(dir .. "/cfail.lua"))
    assert.are.equal(1, rc)
    assert.matches("drhost: [^\n]*cfail%.lua:2: JSON_DECODE: invalid JSON", out)
  end)

  it("prints uncaught string errors with file:line and a traceback", function()
    local out, rc = sh(DRHOST .. " -e 'error(\"boom\")'")
    assert.are.equal(1, rc)
    assert.matches("^drhost: %(command line%):1: boom\nstack traceback:", out)
  end)

  it("prints a user error as one readable block: no source position, no traceback", function()
    write(dir .. "/user.lua", table.concat({
      "local errors = require('errors')",
      "errors.raise('CONFIG_INVALID', 'env/dr.replication.lua: `parallelism` must be an integer (got \"x\")',",
      "  { file = 'env/dr.replication.lua', key = 'parallelism', expected = 'an integer 1..64' })",
    }, "\n"))
    local out, rc = sh(DRHOST .. " " .. q(dir .. "/user.lua"))
    assert.are.equal(1, rc)
    assert.are.equal("drhost: CONFIG_INVALID: env/dr.replication.lua: `parallelism` must be an integer (got \"x\")\n" ..
      "  expected: an integer 1..64\n", out)
    out = sh(DRHOST .. " -v " .. q(dir .. "/user.lua") .. " 2>&1 | grep -v level=debug")
    assert.matches("user%.lua:2: CONFIG_INVALID", out)
    assert.matches("stack traceback:", out)
  end)

  it("exits 2 for an uncaught USAGE error", function()
    local out, rc = sh(DRHOST .. " -e 'require(\"errors\").raise(\"USAGE\", \"unknown command plna\")'")
    assert.are.equal(2, rc)
    assert.are.equal("drhost: USAGE: unknown command plna\n", out)
  end)

  it("prints deploy.lua's errors through the host (user errors without internals)", function()
    local out, rc = sh("cd " .. q(dir) .. " && mkdir -p env && DRHOST_HOME=" .. q(os.getenv("PWD")) .. " " ..
      (DRHOST:match("^/") and DRHOST or (os.getenv("PWD") .. "/" .. DRHOST)) .. " " ..
      q(os.getenv("PWD") .. "/scripts/deploy.lua") .. " nope validate")
    assert.are.equal(2, rc)
    assert.matches("^drhost: USAGE: [^\n]*nope", out)
    assert.not_matches("traceback", out)
    assert.not_matches("scripts/lib", out)
  end)

  it("searches modules/ and scripts/lib/ under DRHOST_HOME before Lua's defaults", function()
    write(dir .. "/drhome/modules/mymod.lua", "return { name = 'mymod' }")
    write(dir .. "/drhome/scripts/lib/pkg/init.lua", "return { name = 'pkg' }")
    write(dir .. "/drhome/scripts/lib/pkg/sub.lua", "return { name = 'pkg.sub' }")
    local out, rc = sh("DRHOST_HOME=" .. q(dir .. "/drhome") .. " " .. DRHOST ..
      " -e 'print(require(\"mymod\").name, require(\"pkg\").name, require(\"pkg.sub\").name, " ..
      "require(\"drhost\").home, require(\"cjson\") ~= nil, require(\"lpeg\") ~= nil)'")
    assert.are.equal(0, rc)
    assert.are.equal("mymod\tpkg\tpkg.sub\t" .. dir .. "/drhome\ttrue\ttrue\n", out)
  end)

  it("defaults DRHOST_HOME to the parent of build/", function()
    local out = sh("env -u DRHOST_HOME " .. DRHOST .. " -e 'print(require(\"drhost\").home)'")
    local home = out:gsub("\n$", "")
    local f = io.open(home .. "/modules/errors.lua")
    assert.is_not_nil(f, "no modules/errors.lua under " .. home)
    if f then f:close() end
  end)

  it("lists its C modules", function()
    local mods = require("drhost").c_modules
    local set = {}
    for _, m in ipairs(mods) do set[m] = true end
    assert.is_true(set.json and set.crypto and set.log)
  end)
end)

describe("drhost SIGINT", function()
  local function interrupt(code)
    -- start, let it run, send SIGINT, collect status and output
    -- (a watchdog kills a process that ignored the cancellation, so a failing spec cannot hang)
    return sh(("%s -e %s > /tmp/drhost-sigint.$$ 2>&1 & pid=$!; sleep 0.5; kill -INT $pid; " ..
      "(sleep 8; kill -9 $pid 2>/dev/null) & dog=$!; wait $pid; rc=$?; kill $dog 2>/dev/null; " ..
      "cat /tmp/drhost-sigint.$$; rm -f /tmp/drhost-sigint.$$; exit $rc"):format(DRHOST, q(code)))
  end

  it("cancels running Lua code with a CANCELLED error and exits 130", function()
    local out, rc = interrupt("while true do end")
    assert.are.equal(130, rc)
    assert.matches("drhost: CANCELLED: interrupted by SIGINT", out)
    assert.not_matches("stack traceback", out)
  end)

  it("cannot be swallowed by pcall: every later step raises CANCELLED again", function()
    local out, rc = interrupt("for i = 1, 3 do pcall(function() while true do end end) print('swallowed', i) end " ..
      "print('carried on')")
    assert.are.equal(130, rc)
    assert.not_matches("carried on", out)
    assert.not_matches("swallowed 2", out)
    assert.matches("CANCELLED", out)
  end)

  it("runs the errors.on_cancel cleanups once the cancellation has unwound", function()
    local out, rc = interrupt("local errors = require('errors') " ..
      "errors.on_cancel(function() print('cleanup ran', require('http').now() > 0) end) " ..
      "local done = errors.on_cancel(function() print('never') end) done() " ..
      "pcall(function() while true do end end) print('after pcall')")
    assert.are.equal(130, rc)
    assert.matches("cleanup ran\ttrue", out)
    assert.not_matches("never", out)
    assert.not_matches("after pcall", out)
  end)

  it("cancels a C wait (http.sleep) and the pcall around it cannot swallow that either", function()
    local out, rc = interrupt("pcall(require('http').sleep, 5) print('carried on')")
    assert.are.equal(130, rc)
    assert.matches("CANCELLED", out)
    assert.not_matches("carried on", out)
  end)
end)


describe("drhost REPL (stdin not a terminal)", function()
  local dir
  setup(function() dir = tmpdir() end)
  teardown(function() os.execute("rm -rf " .. q(dir)) end)

  local function repl(input, env)
    write(dir .. "/input", input)
    return sh((env or "") .. " " .. DRHOST .. " < " .. q(dir .. "/input"))
  end

  it("evaluates expressions and statements and prints values", function()
    local out, rc = repl("1 + 1\n=2 * 3\nx = 5\nx\nreturn 'a', 'b'\n")
    assert.are.equal(0, rc)
    assert.are.equal('2\n6\n5\n"a"\n"b"\n', out)
  end)

  it("reads multi-line chunks", function()
    local out = repl("local t = {\n  1,\n  2,\n}\nfunction f(a)\n  return a * 2\nend\nf(21)\n")
    assert.are.equal("42\n", out)
  end)

  it("pretty-prints nested tables with sorted keys and cycles", function()
    local out = repl("t = { b = 1, a = { 1, 2 }, [\"x y\"] = true }\nt\nc = {}\nc.self = c\nc\n")
    assert.are.equal('{\n  a = { 1, 2 },\n  b = 1,\n  ["x y"] = true,\n}\n{\n  self = <cycle>,\n}\n', out)
  end)

  it("prints a list of rows as an aligned table", function()
    local out = repl("{ { id = 1, name = 'alpha' }, { id = 22, name = 'b' } }\n")
    assert.are.equal("id | name\n---+------\n1  | alpha\n22 | b\n(2 rows)\n", out)
  end)

  it("prints a structured error (a SQL error) as one line and keeps going", function()
    local out, rc = repl("require('errors').raise('SQL_ERROR', 'TABLE_OR_VIEW_NOT_FOUND: t', { status = 400 })\n" ..
      "print('after')\n")
    assert.are.equal(0, rc)
    assert.are.equal("drhost: SQL_ERROR: TABLE_OR_VIEW_NOT_FOUND: t (HTTP 400)\nafter\n", out)
  end)

  it("reports errors and keeps going", function()
    local out, rc = repl("error('first')\n1 +* 2\nprint('after')\n")
    assert.are.equal(0, rc)
    assert.matches("first", out)
    assert.matches("stack traceback", out)
    assert.matches("after\n$", out)
  end)

  it("installs the embedded REPL helpers and passes :commands to them", function()
    local out = repl("type(uc.ls)\ntype(api.get)\ntype(sql.ident)\n:status\n:nope\nprint('after')\n")
    assert.matches('^"function"\n"function"\n"function"\n', out)
    assert.matches('env = "%-"', out)
    assert.matches("drhost: BAD_INPUT: unknown command :nope %(:help lists them%)\nafter\n$", out)
  end)

  it("quits on :q", function()
    local out, rc = repl("1\n:q\n2\n")
    assert.are.equal(0, rc)
    assert.are.equal("1\n", out)
  end)
end)

describe("drhost REPL on a terminal (pty driven by python3)", function()
  local dir
  setup(function() dir = tmpdir() end)
  teardown(function() os.execute("rm -rf " .. q(dir)) end)

  it("prompts, continues incomplete chunks, survives Ctrl-C and keeps history", function()
    local py = [==[
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.environ["DRHOST_HISTORY"] = sys.argv[2]
    os.execv(sys.argv[1], [sys.argv[1]])
def rd(t):
    out = b""; end = time.time() + t
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try: out += os.read(fd, 4096)
            except OSError: break
    return out.decode(errors="replace")
out = rd(1.5)
for keys, t in ((b"t = {\r", 0.4), (b"n = 42 }\r", 0.4), (b"t.n\r", 0.4), (b"junk", 0.3), (b"\x03", 0.4),
                (b"while true do end\r", 0.6), (b"\x03", 0.8), (b"t.n + 1\r", 0.5), (b"\x04", 0.5)):
    os.write(fd, keys); out += rd(t)
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.replace("\r", "") + "\nEXIT=%d\n" % os.WEXITSTATUS(st))
]==]
    write(dir .. "/drive_repl.py", py)
    local bin = DRHOST:match("^/") and DRHOST or (os.getenv("PWD") .. "/" .. DRHOST)
    local out = sh("python3 " .. q(dir .. "/drive_repl.py") .. " " .. q(bin) .. " " .. q(dir .. "/history"))
    assert.matches("drhost> ", out)
    assert.matches("%.%.%.> ", out)
    assert.matches("\n42\n", out)
    assert.matches("CANCELLED: interrupted by SIGINT", out)
    assert.matches("\n43\n", out)
    assert.matches("EXIT=0", out)
    local f = assert(io.open(dir .. "/history"))
    local hist = f:read("a")
    f:close()
    assert.matches("t%.n", hist)
    assert.not_matches("junk", hist)
  end)
end)

