-- blobstate against Azurite (DRHOST_BLOB_ENDPOINT / _ACCOUNT / _KEY, exported by tools/with-sim.sh)
-- and the local-file backend. The same behaviour is asserted for both.
local blobstate = require("blobstate")
local server = require("spec.support.server")

local ENDPOINT = os.getenv("DRHOST_BLOB_ENDPOINT")
local ACCOUNT = os.getenv("DRHOST_BLOB_ACCOUNT")
local KEY = os.getenv("DRHOST_BLOB_KEY")
local have_azurite = ENDPOINT and ENDPOINT ~= "" and ACCOUNT and KEY and KEY ~= ""

math.randomseed(os.time() + math.floor(server.now() * 1000))
local RUN = string.format("%08x", math.random(0, 0x7fffffff))

local function raises(code, fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error " .. code)
  assert.are.equal("table", type(err), tostring(err))
  assert.are.equal(code, err.code, tostring(err.message))
  return err
end

local counter = 0
local function fresh(prefix)
  counter = counter + 1
  return string.format("%s/%s-%d.json", RUN, prefix, counter)
end

-- A child drhost that takes the lock with the default holder (in a GitHub Actions run, as the
-- GITHUB_* variables say) and dies by kill -9 while it holds it; -> its pid.
local CI_ENV = { GITHUB_SERVER_URL = "https://github.example", GITHUB_REPOSITORY = "team/estate",
                 GITHUB_RUN_ID = "4242", USER = "ci-runner" }
local function killed_holder(child_open, name)
  local code = child_open .. string.format([[
    local lease = store:lock(%q, { duration = 15 })
    local p = io.popen("echo $PPID")
    local pid = p:read("l")
    p:close()
    print(pid .. " " .. lease.holder)
    io.stdout:flush()
    os.execute("kill -9 " .. pid)
  ]], name)
  local _, out = server.run_child(code, CI_ENV)
  local pid, holder = out:match("^(%d+) ([^\n]+)")
  assert.is_not_nil(pid, out)
  return pid, holder
end

local function assert_default_holder(holder, pid)
  local host = io.popen("hostname"):read("l")
  assert.are.equal("ci-runner@" .. host .. " pid " .. pid .. " run https://github.example/team/estate/actions/runs/4242",
    holder)
end

-- Shared behaviour; `open()` returns a new store on the same backend, `child_open` is Lua code
-- that opens the same store in a child drhost.
local function behaves_like_a_state_store(open, child_open)
  it("reads nil for a missing blob", function()
    assert.is_nil(open():read(fresh("missing")))
  end)

  it("writes and reads back with a stable ETag", function()
    local s, name = open(), fresh("rw")
    local body = '{"v":1,"bin":"\0\1\255"}'
    local etag = s:write(name, body)
    assert.is_string(etag)
    assert.is_true(#etag > 2)
    local got, etag2 = s:read(name)
    assert.are.equal(body, got)
    assert.are.equal(etag, etag2)
    local etag3 = s:write(name, "second")
    assert.are_not.equal(etag, etag3)
    assert.are.equal("second", (open():read(name)))
  end)

  it("refuses a write whose If-Match ETag is stale (CONDITION_NOT_MET, 412)", function()
    local s, name = open(), fresh("ifmatch")
    local e1 = s:write(name, "one")
    local e2 = s:write(name, "two", { if_match = e1 })
    local err = raises("CONDITION_NOT_MET", s.write, s, name, "three", { if_match = e1 })
    assert.are.equal(412, err.status)
    assert.are.equal("two", (s:read(name)))
    s:write(name, "three", { if_match = e2 })
    assert.are.equal("three", (s:read(name)))
  end)

  it("refuses If-None-Match * on an existing blob, accepts it on a new one", function()
    local s, name = open(), fresh("ifnone")
    s:write(name, "first", { if_none_match = "*" })
    local err = raises("CONDITION_NOT_MET", s.write, s, name, "again", { if_none_match = "*" })
    assert.are.equal(412, err.status)
    assert.are.equal("first", (s:read(name)))
    raises("CONDITION_NOT_MET", s.write, s, fresh("absent"), "x", { if_match = '"nope"' })
  end)

  it("keeps every previous version and lists them oldest first", function()
    local s, name = open(), fresh("versions")
    s:write(name, "v1")
    s:write(name, "v2")
    s:write(name, "v3")
    local vs = s:versions(name)
    assert.are.equal(2, #vs)
    assert.are.equal("v1", (s:read(vs[1].name)))
    assert.are.equal("v2", (s:read(vs[2].name)))
    assert.are.equal(2, vs[1].size)
    assert.matches("^" .. name:gsub("%p", "%%%0") .. "%.versions/", vs[1].name)
    assert.is_true(vs[1].time <= vs[2].time)
    assert.are.same({}, s:versions(fresh("never-written")))
  end)

  it("locks and unlocks, refusing a second holder with LOCKED, holder and since", function()
    local a, b, name = open(), open(), fresh("lock")
    local lease = a:lock(name, { holder = "alice", duration = 15 })
    assert.are.equal("alice", lease.holder)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT", lease.since)
    local err = raises("LOCKED", b.lock, b, name, { holder = "bob" })
    assert.are.equal("alice", err.holder)
    assert.are.equal(lease.since, err.since)
    lease:release()
    local l2 = b:lock(name, { holder = "bob", duration = 15 })
    l2:release()
  end)

  it("lets the holder write and refuses other writers while locked", function()
    local a, b, name = open(), open(), fresh("lockwrite")
    a:write(name, "before")
    local lease = a:lock(name, { holder = "writer", duration = 20 })
    a:write(name, "by holder")
    local err = raises("LOCKED", b.write, b, name, "intruder")
    assert.are.equal("writer", err.holder)
    lease:release()
    b:write(name, "after")
    assert.are.equal("after", (a:read(name)))
  end)

  it("locks a blob that does not exist yet without making it readable", function()
    local s, name = open(), fresh("lock-new")
    local lease = s:lock(name, { holder = "creator", duration = 15 })
    assert.is_nil(s:read(name))
    s:write(name, "created", { if_none_match = "*" })
    assert.are.equal("created", (s:read(name)))
    lease:release()
  end)

  it("refuses a lock held by another process (LOCKED with the holder)", function()
    local s, name = open(), fresh("twoproc")
    local lease = s:lock(name, { holder = "parent-process", duration = 30 })
    local code = child_open .. string.format([[
      local ok, err = pcall(store.lock, store, %q, { holder = "child" })
      if ok then print("GOT LOCK") else print("ERR " .. tostring(err.code) .. " " .. tostring(err.holder)) end
    ]], name)
    local ok, out, errout = server.run_child(code)
    assert.is_true(ok, errout)
    assert.matches("ERR LOCKED parent%-process", out)
    lease:release()
    ok, out = server.run_child(code)
    assert.is_true(ok)
    assert.matches("GOT LOCK", out)
  end)

  it("breaks a lock; the old holder then finds it lost", function()
    local a, b, name = open(), open(), fresh("break")
    local lease = a:lock(name, { holder = "stuck", duration = 60 })
    assert.is_true(b:break_lock(name))
    local l2 = b:lock(name, { holder = "rescuer", duration = 15 })
    raises("LEASE_LOST", lease.release, lease)
    l2:release()
    assert.is_false(b:break_lock(fresh("nothing-to-break")))
  end)

  it("rejects bad arguments with specific errors", function()
    local s = open()
    local err = raises("INVALID_ARGUMENT", s.read, s, "../etc/passwd")
    assert.matches("%.%.", err.message)
    raises("INVALID_ARGUMENT", s.read, s, "a b")
    err = raises("INVALID_ARGUMENT", s.lock, s, fresh("bad"), { duration = 10 })
    assert.matches("15..60", err.message, 1, true)
    err = raises("INVALID_ARGUMENT", s.write, s, fresh("bad"), "x", { if_macth = "x" })
    assert.matches("if_macth", err.message)
    raises("INVALID_ARGUMENT", s.write, s, fresh("bad"), "x", { if_none_match = "etag" })
  end)
end

describe("blobstate on Azurite", function()
  if not have_azurite then
    pending("DRHOST_BLOB_ENDPOINT/ACCOUNT/KEY not set (run under tools/with-sim.sh)")
    return
  end
  local container = "drhost-test-" .. RUN
  local function open()
    return blobstate.open{ endpoint = ENDPOINT, container = container, account = ACCOUNT, key = KEY }
  end
  local child_open = string.format([[
    local store = require("blobstate").open{ endpoint = os.getenv("DRHOST_BLOB_ENDPOINT"), container = %q,
      account = os.getenv("DRHOST_BLOB_ACCOUNT"), key = os.getenv("DRHOST_BLOB_KEY") }
  ]], container)

  behaves_like_a_state_store(open, child_open)

  it("renews the lease in the background past its duration", function()
    local a, b, name = open(), open(), fresh("renew")
    local lease = a:lock(name, { holder = "long-runner", duration = 15 })
    os.execute("sleep 20")
    assert.is_true(lease.renewals >= 1, "renewals: " .. lease.renewals .. " " .. tostring(lease.error))
    assert.is_nil(lease.error)
    local err = raises("LOCKED", b.lock, b, name, { holder = "late" })
    assert.are.equal("long-runner", err.holder)
    lease:release()
  end)

  it("stops the renewal thread on release and on garbage collection", function()
    local pid = server.pid()
    local function threads() -- threads of this drhost process
      local d = io.popen("ls /proc/" .. pid .. "/task | wc -l")
      local n = tonumber(d:read("l"))
      d:close()
      return n
    end
    local s = open()
    local before = threads()
    local lease = s:lock(fresh("gc"), { holder = "gc", duration = 15 })
    assert.are.equal(before + 1, threads())
    lease:release()
    assert.are.equal(before, threads())
    lease = s:lock(fresh("gc2"), { holder = "gc", duration = 15 })
    assert.is_true(lease.active)
    assert.are.equal(before + 1, threads())
    lease = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    assert.are.equal(before, threads())
  end)

  it("names the holder of a lease whose run was killed, and says when the lease expires", function()
    local name = fresh("killed")
    local pid, holder = killed_holder(child_open, name)
    assert_default_holder(holder, pid)
    local s = open()
    local err = raises("LOCKED", s.lock, s, name, { holder = "next-run" })
    assert.are.equal(holder, err.holder)
    assert.are.equal(15, err.expires_in)
    assert.matches("if that run is gone, its lease expires within 15 s", err.message, 1, true)
    os.execute("sleep 16")
    s:lock(name, { holder = "next-run" }):release()
  end)

  it("rejects a wrong key with BLOB_ERROR 403", function()
    local s = blobstate.open{ endpoint = ENDPOINT, container = container, account = ACCOUNT,
      key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==" }
    local err = raises("BLOB_ERROR", s.read, s, fresh("forbidden"))
    assert.are.equal(403, err.status)
  end)

  it("refuses plain http to a non-loopback endpoint", function()
    raises("INSECURE_URL", blobstate.open, { endpoint = "http://example.com/acct", container = "state",
      account = "a", key = KEY })
  end)
end)

describe("blobstate bearer-token auth (loopback stand-in)", function()
  local srv
  setup(function()
    srv = server.start()
  end)
  teardown(function()
    srv:stop()
  end)

  it("asks the token function for every request and sends it as a Bearer token", function()
    local calls = 0
    local s = blobstate.open{ endpoint = srv:url("/blob/acct"), container = "state", token = function()
      calls = calls + 1
      return "tok-" .. calls
    end }
    assert.is_nil(s:read("state.json")) -- Create Container, then Get Blob (404)
    assert.are.equal(2, calls)
    local last = require("json").decode(require("http").request{ url = srv:url("/last-auth") }.body)
    assert.are.equal("Bearer tok-2", last.authorization)
    assert.is_true(last.version >= "2017-11-09", last.version)
  end)

  it("rejects a token function that returns no string", function()
    local s = blobstate.open{ endpoint = srv:url("/blob/acct"), container = "state", token = function() return nil end }
    local err = raises("INVALID_ARGUMENT", s.read, s, "x")
    assert.matches("token", err.message)
    raises("INVALID_ARGUMENT", blobstate.open, { endpoint = srv:url("/blob/acct"), container = "state", token = "abc" })
    raises("INVALID_ARGUMENT", blobstate.open, { endpoint = srv:url("/blob/acct"), container = "state" })
  end)
end)

describe("blobstate local backend", function()
  local dir = os.tmpname()
  os.remove(dir)
  local function open()
    return blobstate.open{ path = dir }
  end
  local child_open = string.format([[ local store = require("blobstate").open{ path = %q } ]], dir)

  teardown(function()
    os.execute("rm -rf " .. server.shell_quote(dir))
  end)

  behaves_like_a_state_store(open, child_open)

  it("names the holder (user, host, pid, run URL) and frees the lock of a killed run at once", function()
    local name = fresh("killed")
    local pid, holder = killed_holder(child_open, name)
    assert_default_holder(holder, pid)
    local s = open()
    s:lock(name, { holder = "next-run" }):release()
  end)

  it("rejects mixing path with endpoint options", function()
    raises("INVALID_ARGUMENT", blobstate.open, { path = dir, container = "x" })
    raises("INVALID_ARGUMENT", blobstate.open, { pth = dir })
  end)
end)
