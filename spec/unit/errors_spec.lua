-- errors module and the structured errors raised from C
local errors = require("errors")

describe("errors", function()
  it("builds errors with code, message, fields and where", function()
    local e = errors.new({ code = "NOT_FOUND", message = "no such thing", status = 404, target = "x" })
    assert.are.equal("NOT_FOUND", e.code)
    assert.are.equal(404, e.status)
    assert.are.equal("x", e.target)
    assert.matches("errors_spec.lua:%d+$", e.where)
    assert.are.equal("NOT_FOUND: no such thing", tostring(e))
    assert.is_true(errors.is(e))
    assert.is_true(errors.is(e, "NOT_FOUND"))
    assert.is_false(errors.is(e, "OTHER"))
    assert.is_false(errors.is({ code = "NOT_FOUND" }))
    assert.is_false(errors.is("NOT_FOUND"))
  end)

  it("checks its own arguments", function()
    assert.has_error(function() errors.new("x") end)
    assert.has_error(function() errors.new({ message = "no code" }) end)
  end)

  it("raises with a table or with code and message, pointing at the caller", function()
    local ok, e = pcall(function() errors.raise({ code = "A", message = "a" }) end)
    assert.is_false(ok)
    assert.are.equal("A", e.code)
    assert.matches("errors_spec.lua:%d+$", e.where)
    local line = debug.getinfo(1, "l").currentline + 1
    ok, e = pcall(function() errors.raise("B", "b", { details = { 1 } }) end)
    assert.is_false(ok)
    assert.are.equal("B", e.code)
    assert.are.equal("b", e.message)
    assert.are.same({ 1 }, e.details)
    assert.matches("errors_spec.lua:" .. line .. "$", e.where)
  end)

  it("shares its metatable with errors raised from C", function()
    local ok, e = pcall(require("json").decode, "{")
    assert.is_false(ok)
    assert.is_true(errors.is(e, "JSON_DECODE"))
    assert.are.equal(errors.mt, getmetatable(e))
    assert.matches("^JSON_DECODE: invalid JSON", tostring(e))
    assert.matches("errors_spec.lua:%d+$", e.where)
  end)

  it("wraps plain Lua errors", function()
    local ok, e = errors.pcall(function() error("boom") end)
    assert.is_false(ok)
    assert.are.equal("LUA_ERROR", e.code)
    assert.are.equal("boom", e.message)
    assert.matches("errors_spec.lua:%d+$", e.where)
    local ok2, a, b = errors.pcall(function(x) return x, 2 end, 1)
    assert.is_true(ok2)
    assert.are.equal(1, a)
    assert.are.equal(2, b)
    assert.are.equal(e, errors.wrap(e))
  end)

  it("check raises BAD_INPUT by default and returns the value otherwise", function()
    assert.are.equal(5, errors.check(5, nil, "unused"))
    local ok, e = pcall(errors.check, false, nil, "env/dr.lua: key 'region' must be a string")
    assert.is_false(ok)
    assert.are.equal("BAD_INPUT", e.code)
    assert.matches("region", e.message)
  end)

  it("reports bad arguments to C functions as structured BAD_ARGUMENT errors", function()
    local crypto, json = require("crypto"), require("json")
    local cases = {
      { crypto.sha256, {}, "bad argument #1 to 'crypto.sha256' (a string expected, got no value)" },
      { json.decode, { {} }, "bad argument #1 to 'json.decode' (a string expected, got table)" },
      { crypto.random_bytes, { "x" }, "bad argument #1 to 'crypto.random_bytes' (an integer expected, got string)" },
      { crypto.hmac_sha256, { "k" }, "bad argument #2 to 'crypto.hmac_sha256' (a string expected, got no value)" },
      { json.array, { 5 }, "bad argument #1 to 'json.array' (a table expected, got number)" },
    }
    for _, c in ipairs(cases) do
      local ok, e = pcall(c[1], table.unpack(c[2]))
      assert.is_false(ok)
      assert.is_true(errors.is(e, "BAD_ARGUMENT"))
      assert.are.equal(c[3], e.message)
      assert.are.equal("number", type(e.argument))
    end
  end)

  it("raises a structured error table for bad arguments to every C function", function()
    local http, blobstate, log, json, crypto = require("http"), require("blobstate"), require("log"),
      require("json"), require("crypto")
    local dir = os.tmpname()
    os.remove(dir)
    local store = blobstate.open{ path = dir }
    local lease = store:lock("lk", { holder = "spec" })
    local cases = {
      { "http.request()", http.request, {}, "BAD_ARGUMENT", "bad argument #1 to 'http.request' %(a table" },
      { "http.request(1)", http.request, { 1 }, "BAD_ARGUMENT", "got number" },
      { "http.all()", http.all, {}, "BAD_ARGUMENT", "bad argument #1 to 'http.all'" },
      { "http.all({}, 5)", http.all, { {}, 5 }, "BAD_ARGUMENT", "bad argument #2 to 'http.all'" },
      { "http.sleep('x')", http.sleep, { "x" }, "BAD_ARGUMENT", "bad argument #1 to 'http.sleep' %(a number" },
      { "http.sleep(-1)", http.sleep, { -1 }, "INVALID_ARGUMENT", "0..3600" },
      { "http.request{url=1}", http.request, { { url = 1 } }, "INVALID_ARGUMENT", "url" },
      { "blobstate.open()", blobstate.open, {}, "BAD_ARGUMENT", "bad argument #1 to 'blobstate.open' %(a table" },
      { "blobstate.open{}", blobstate.open, { {} }, "INVALID_ARGUMENT", "endpoint" },
      { "store.read(nil)", store.read, { nil, "x" }, "BAD_ARGUMENT", "a blobstate store expected", n = 2 },
      { "store:read()", store.read, { store }, "BAD_ARGUMENT", "bad argument #2" },
      { "store:write('a')", store.write, { store, "a" }, "BAD_ARGUMENT", "bad argument #3" },
      { "store:write('a','b',1)", store.write, { store, "a", "b", 1 }, "BAD_ARGUMENT", "bad argument #4" },
      { "store:lock()", store.lock, { store }, "BAD_ARGUMENT", "bad argument #2" },
      { "store:lock('a', 1)", store.lock, { store, "a", 1 }, "BAD_ARGUMENT", "bad argument #3" },
      { "store:versions()", store.versions, { store }, "BAD_ARGUMENT", "bad argument #2" },
      { "store:break_lock()", store.break_lock, { store }, "BAD_ARGUMENT", "bad argument #2" },
      { "lease.release(store)", lease.release, { store }, "BAD_ARGUMENT", "a blobstate lease expected" },
      { "log.info(1, 2)", log.info, { "m", 2 }, "BAD_ARGUMENT", "fields must be a table" },
      { "log.set_level(1)", log.set_level, { {} }, "BAD_ARGUMENT", "a string expected" },
      { "json.decode()", json.decode, {}, "BAD_ARGUMENT", "bad argument #1 to 'json.decode'" },
      { "json.encode()", json.encode, {}, "BAD_ARGUMENT", "bad argument #1 to 'json.encode'" },
      { "json.encode(1, 2)", json.encode, { 1, 2 }, "BAD_ARGUMENT", "opts must be a table" },
      { "crypto.base64url_encode()", crypto.base64url_encode, {}, "BAD_ARGUMENT", "a string expected" },
      { "crypto.jwt_rs256()", crypto.jwt_rs256, {}, "BAD_ARGUMENT", "header must be a table" },
      { "crypto.random_bytes(-1)", crypto.random_bytes, { -1 }, "BAD_ARGUMENT", "0..1048576" },
    }
    for _, c in ipairs(cases) do
      local ok, e = pcall(c[2], table.unpack(c[3], 1, c.n or #c[3]))
      assert.is_false(ok, c[1])
      assert.are.equal("table", type(e), c[1] .. ": " .. tostring(e))
      assert.is_true(errors.is(e, c[4]), c[1] .. ": " .. tostring(e))
      assert.matches(c[5], e.message, 1, false, c[1])
      assert.are.equal("string", type(e.where), c[1])
    end
    lease:release()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("formats any message, with every printf conversion, at any length", function()
    local ok, e = pcall(require("http").request, { url = "http://127.0.0.1:1/" .. ("x"):rep(3000), method = "get" })
    assert.is_false(ok)
    assert.is_true(errors.is(e, "INVALID_ARGUMENT"))
    assert.matches("upper%-case HTTP method, got 'get'", e.message)
  end)
end)

