-- databricks: URLs, paging, error decoding and error_code-level retries against a scripted fake of
-- the http module (no network). Against the simulator: spec/integration/databricks_spec.lua.
local json = require("json")

local function fake_http(handler)
  local f = { calls = {}, sleeps = {}, clock = 100 }
  function f.request(req)
    f.calls[#f.calls + 1] = req
    local r = handler(req, f)
    r.headers = r.headers or {}
    if type(r.body) == "table" then r.body = json.encode(r.body) end
    return r
  end
  function f.all(reqs)
    local out = {}
    for i, r in ipairs(reqs) do out[i] = f.request(r) end
    return out
  end
  function f.sleep(s) f.sleeps[#f.sleeps + 1] = s; f.clock = f.clock + s end
  function f.now() return f.clock end
  return f
end

local function load(handler)
  local f = fake_http(handler)
  package.loaded.http = f
  package.loaded.auth, package.loaded.databricks = nil, nil
  local auth = require("auth")
  local databricks = require("databricks")
  local cred = auth.credential{ kind = "static", token = "tok" }
  return databricks, cred, f
end

describe("databricks clients", function()
  local saved
  setup(function() saved = package.loaded.http end)
  teardown(function() package.loaded.http, package.loaded.auth, package.loaded.databricks = saved, nil, nil end)

  it("account paths are relative to /api/2.0/accounts/{id}; /api/ paths are kept", function()
    local databricks, cred, f = load(function() return { status = 200, body = {} } end)
    local acct = databricks.account{ host = "https://accounts.example.localhost/", account_id = "a-1",
                                     credential = cred }
    acct:get("/workspaces")
    acct:get("/api/2.1/accounts/{account_id}/x", { flag = true, n = 2 })
    assert.are.equal("https://accounts.example.localhost/api/2.0/accounts/a-1/workspaces", f.calls[1].url)
    assert.are.equal("https://accounts.example.localhost/api/2.1/accounts/a-1/x?flag=true&n=2", f.calls[2].url)
    assert.are.equal("Bearer tok", f.calls[1].headers.Authorization)
  end)

  it("list follows next_page_token and keeps the query", function()
    local databricks, cred, f = load(function(req)
      if not req.url:find("page_token", 1, true) then
        return { status = 200, body = { catalogs = { { name = "a" } }, next_page_token = "p2" } }
      elseif req.url:find("page_token=p2", 1, true) then
        -- an empty page that still has a token: keep going
        return { status = 200, body = { catalogs = json.array({}), next_page_token = "p3" } }
      end
      return { status = 200, body = { catalogs = { { name = "b" } } } }
    end)
    local ws = databricks.workspace{ host = "https://adb-1.example.localhost", credential = cred }
    local items = ws:list("/api/2.1/unity-catalog/catalogs", { max_results = 1 }, "catalogs")
    assert.are.same({ "a", "b" }, { items[1].name, items[2].name })
    assert.are.equal(3, #f.calls)
    assert.truthy(f.calls[3].url:find("max_results=1", 1, true))
    assert.truthy(f.calls[3].url:find("page_token=p3", 1, true))
  end)

  it("decodes error_code, returns nil for a 404 GET and raises other errors", function()
    local databricks, cred = load(function(req)
      if req.method == "GET" then
        return { status = 404, body = { error_code = "CATALOG_DOES_NOT_EXIST",
                                        message = "Catalog 'x' does not exist." } }
      end
      return { status = 400, body = { error_code = "INVALID_PARAMETER_VALUE", message = "bad name",
                                      details = { { reason = "r" } } } }
    end)
    local ws = databricks.workspace{ host = "https://adb-1.example.localhost", credential = cred }
    local body, err = ws:get("/api/2.1/unity-catalog/catalogs/x")
    assert.is_nil(body)
    assert.are.equal("CATALOG_DOES_NOT_EXIST", err.code)
    assert.are.equal(404, err.status)
    local ok, e = pcall(ws.post, ws, "/api/2.1/unity-catalog/catalogs", { name = "x y" })
    assert.is_false(ok)
    assert.are.equal("INVALID_PARAMETER_VALUE", e.code)
    assert.are.equal("r", e.details[1].reason)
    assert.truthy(e.message:find("POST /api/2.1/unity-catalog/catalogs", 1, true))
  end)

  it("asks http to retry a TEMPORARILY_UNAVAILABLE body; once retries run out it is raised", function()
    local databricks, cred, f = load(function()
      return { status = 200, body = { error_code = "TEMPORARILY_UNAVAILABLE", message = "later" } }
    end)
    local ws = databricks.workspace{ host = "https://adb-1.example.localhost", credential = cred }
    local ok, e = pcall(ws.get, ws, "/api/2.0/x")
    assert.is_false(ok)
    assert.are.equal("TEMPORARILY_UNAVAILABLE", e.code)
    assert.are.same({ "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED" }, f.calls[#f.calls].retry_codes)
    assert.are.equal(5, f.calls[#f.calls].retries)
  end)

  it("a 401 drops the cached token and retries once with a new one", function()
    local tokens, n = {}, 0
    local databricks = load(function(req)
      if req.url:find("/oidc/", 1, true) then
        n = n + 1
        return { status = 200, body = { access_token = "tok" .. n, expires_in = 3600 } }
      end
      tokens[#tokens + 1] = req.headers.Authorization
      if req.headers.Authorization == "Bearer tok1" then
        return { status = 401, body = { error_code = "UNAUTHENTICATED", message = "expired" } }
      end
      return { status = 200, body = { ok = true } }
    end)
    local auth = require("auth")
    auth.cache:clear()
    local cred = auth.credential{ kind = "databricks_m2m", client_id = "c", client_secret = "s" }
    local ws = databricks.workspace{ host = "https://adb-1.example.localhost", credential = cred }
    assert.is_true(ws:get("/api/2.0/x").ok)
    assert.are.same({ "Bearer tok1", "Bearer tok2" }, tokens)
    -- a credential that keeps failing is reported, not retried forever
    local bad = databricks.workspace{ host = "https://adb-1.example.localhost",
                                      credential = auth.credential{ kind = "static", token = "tok1" } }
    local ok, e = pcall(bad.get, bad, "/api/2.0/x")
    assert.is_false(ok)
    assert.are.equal(401, e.status)
  end)

  it("all: per-request results, transport errors included, nothing raised", function()
    local databricks, cred = load(function(req)
      if req.url:find("/boom", 1, true) then return { status = 500, body = "oops" } end
      return { status = 200, body = { path = req.url } }
    end)
    local ws = databricks.workspace{ host = "https://adb-1.example.localhost", credential = cred }
    local res = ws:all({ { path = "/api/2.0/a" }, { path = "/api/2.0/boom" },
                         { method = "POST", path = "/api/2.0/c", body = { x = 1 } } })
    assert.are.equal("https://adb-1.example.localhost/api/2.0/a", res[1].body.path)
    assert.are.equal("HTTP_500", res[2].error.code)
    assert.are.equal(200, res[3].status)
  end)

  it("refuses absolute URLs on another host and bad options", function()
    local databricks, cred = load(function() return { status = 200, body = {} } end)
    local ws = databricks.workspace{ host = "https://adb-1.example.localhost", credential = cred }
    local ok, e = pcall(ws.get, ws, "https://evil.example.localhost/api/2.0/x")
    assert.is_false(ok)
    assert.are.equal("INVALID_ARGUMENT", e.code)
    ok, e = pcall(databricks.workspace, { host = "adb-1", credential = cred })
    assert.is_false(ok)
    assert.truthy(e.message:find("host must be an http(s) URL", 1, true))
    ok, e = pcall(databricks.account, { host = "https://a.example.localhost", credential = cred })
    assert.is_false(ok)
    assert.truthy(e.message:find("account_id", 1, true))
  end)
end)
