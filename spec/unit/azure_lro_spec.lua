-- azure: long-running operations, paging, errors and api-version, against a scripted fake of the
-- http module (no network). Integration against the simulator is in spec/integration/azure_spec.lua.
local json = require("json")

local EP = "https://management.example.localhost"

-- A fake `http` module: handler(req) returns {status=, headers=, body=}; time only moves when the
-- client sleeps, so Retry-After is observable.
local function fake_http(handler)
  local f = { calls = {}, sleeps = {}, clock = 1000, batches = {} }
  function f.request(req)
    f.calls[#f.calls + 1] = req
    local r = handler(req, f)
    r.headers = r.headers or {}
    if type(r.body) == "table" then r.body = json.encode(r.body) end
    return r
  end
  function f.all(reqs)
    f.batches[#f.batches + 1] = #reqs
    local out = {}
    for i, r in ipairs(reqs) do out[i] = f.request(r) end
    return out
  end
  function f.sleep(s) f.sleeps[#f.sleeps + 1] = s; f.clock = f.clock + s end
  function f.now() return f.clock end
  -- never yields, so tasks using it run one after the other
  function f.cooperate(co) return co end
  function f.in_task() return false end
  return f
end

local function load(handler)
  local f = fake_http(handler)
  package.loaded.http = f
  package.loaded.auth = nil
  package.loaded.azure = nil
  local auth = require("auth")
  local azure = require("azure")
  local arm = azure.client{ credential = auth.credential{ kind = "static", token = "tok" }, endpoint = EP,
                            subscription_id = "00000000-0000-0000-0000-000000000000" }
  return arm, f, azure
end

local function path_of(url) return (url:gsub("^https?://[^/]+", ""):gsub("%?.*$", "")) end

describe("azure ARM client", function()
  local saved_http
  setup(function() saved_http = package.loaded.http end)
  teardown(function()
    package.loaded.http, package.loaded.auth, package.loaded.azure = saved_http, nil, nil
  end)

  it("puts api-version and the bearer token on every call, polls Azure-AsyncOperation, then GETs", function()
    local polls = 0
    local arm, f = load(function(req)
      local p = path_of(req.url)
      if req.method == "PUT" then
        return { status = 201, headers = { ["azure-asyncoperation"] = EP .. "/ops/1?api-version=2024-01-01",
                                           ["retry-after"] = "2" },
                 body = { name = "v", properties = { provisioningState = "Updating" } } }
      elseif p == "/ops/1" then
        polls = polls + 1
        return { status = 200, headers = { ["retry-after"] = "3" },
                 body = { status = polls < 3 and "InProgress" or "Succeeded" } }
      elseif req.method == "GET" and p == "/subscriptions/s/rg/v" then
        return { status = 200, body = { name = "v", properties = { provisioningState = "Succeeded" } } }
      end
      return { status = 500, body = "unexpected " .. req.method .. " " .. req.url }
    end)
    local body = arm:put("/subscriptions/s/rg/v", "2024-05-01", { location = "westeurope" })
    assert.are.equal("Succeeded", body.properties.provisioningState)
    assert.are.equal(3, polls)
    for _, c in ipairs(f.calls) do
      assert.truthy(c.url:find("api-version=", 1, true), c.url)
      assert.are.equal("Bearer tok", c.headers.Authorization)
    end
    assert.are.equal("PUT", f.calls[1].method)
    assert.are.same({ location = "westeurope" }, json.decode(f.calls[1].body))
    assert.are.equal("GET", f.calls[#f.calls].method)
    assert.are.same({ 2, 3, 3 }, f.sleeps) -- Retry-After of the PUT, then of each in-progress poll
  end)

  it("keeps the operation's last Retry-After when a poll answers without one", function()
    local polls = 0
    local arm, f = load(function(req)
      if req.method == "PUT" then
        return { status = 201, headers = { ["azure-asyncoperation"] = EP .. "/ops/7", ["retry-after"] = "1" } }
      elseif req.url:find("/ops/7", 1, true) then
        polls = polls + 1
        return { status = 200, body = { status = polls < 3 and "Running" or "Succeeded" } }
      end
      return { status = 200, body = { properties = { provisioningState = "Succeeded" } } }
    end)
    arm:put("/subscriptions/s/w", "1", {})
    assert.are.same({ 1, 1, 1 }, f.sleeps) -- not the 5 s default
  end)

  it("raises the operation's error when the async operation fails", function()
    local arm = load(function(req)
      if req.method == "PUT" then
        return { status = 202, headers = { ["azure-asyncoperation"] = EP .. "/ops/2", ["retry-after"] = "0" } }
      end
      return { status = 200, body = { status = "Failed",
        error = { code = "SubnetInUse", message = "subnet is in use", target = "subnets/a" } } }
    end)
    local ok, err = pcall(arm.put, arm, "/subscriptions/s/rg/v", "2024-05-01", {})
    assert.is_false(ok)
    assert.are.equal("SubnetInUse", err.code)
    assert.are.equal("subnets/a", err.target)
    assert.truthy(err.message:find("subnet is in use", 1, true))
    assert.are.equal("SubnetInUse: " .. err.message, tostring(err))
  end)

  it("follows a Location header until it stops answering 202", function()
    local n = 0
    local arm, f = load(function(req)
      if req.method == "DELETE" then
        return { status = 202, headers = { location = "/ops/loc?api-version=x", ["retry-after"] = "1" } }
      end
      n = n + 1
      if n < 2 then return { status = 202, headers = { ["retry-after"] = "4" } } end
      return { status = 204, body = "" }
    end)
    assert.is_true(arm:delete("/subscriptions/s/rg/v", "2024-05-01"))
    assert.are.equal(EP .. "/ops/loc?api-version=x", f.calls[2].url) -- relative Location made absolute
    assert.are.same({ 1, 4 }, f.sleeps)
  end)

  it("polls the resource while provisioningState is not terminal", function()
    local gets = 0
    local arm = load(function(req)
      if req.method == "PUT" then
        return { status = 200, body = { properties = { provisioningState = "Accepted" } } }
      end
      gets = gets + 1
      local state = gets < 2 and "Updating" or "Failed"
      return { status = 200, body = { properties = { provisioningState = state,
        error = gets < 2 and nil or { code = "QuotaExceeded", message = "no quota" } } } }
    end)
    local ok, err = pcall(arm.put, arm, "/subscriptions/s/x", "1", {})
    assert.is_false(ok)
    assert.are.equal("QuotaExceeded", err.code)
    assert.are.equal(2, gets)
  end)

  it("returns nil and the decoded error for a 404 GET, raises other statuses", function()
    local arm = load(function(req)
      if req.url:find("missing", 1, true) then
        return { status = 404, body = { error = { code = "ResourceNotFound", message = "not there" } } }
      end
      return { status = 400, headers = { ["x-ms-request-id"] = "r1" },
               body = { error = { code = "InvalidParameter", message = "bad", target = "properties.x",
                                  details = { { code = "D", message = "d" } } } } }
    end)
    local body, err = arm:get("/subscriptions/s/missing", "1")
    assert.is_nil(body)
    assert.are.equal("ResourceNotFound", err.code)
    assert.are.equal(404, err.status)
    local ok, e = pcall(arm.get, arm, "/subscriptions/s/bad", "1")
    assert.is_false(ok)
    assert.are.equal("InvalidParameter", e.code)
    assert.are.equal(400, e.status)
    assert.are.equal("properties.x", e.target)
    assert.are.equal("D", e.details[1].code)
    assert.are.equal("r1", e.request_id)
  end)

  it("decodes a non-JSON error body into HTTP_<status>", function()
    local arm = load(function() return { status = 502, body = "<html>bad gateway</html>" } end)
    local ok, e = pcall(arm.get, arm, "/subscriptions/s/x", "1")
    assert.is_false(ok)
    assert.are.equal("HTTP_502", e.code)
    assert.truthy(e.message:find("bad gateway", 1, true))
  end)

  it("follows nextLink and gathers every item", function()
    local arm, f = load(function(req)
      if req.url:find("page=2", 1, true) then
        return { status = 200, body = { value = { { name = "c" } } } }
      end
      return { status = 200, body = { value = { { name = "a" }, { name = "b" } },
                                      nextLink = EP .. "/subscriptions/s/vnets?api-version=1&page=2" } }
    end)
    local items = arm:list("/subscriptions/s/vnets", "1")
    assert.are.same({ "a", "b", "c" }, { items[1].name, items[2].name, items[3].name })
    assert.are.equal(2, #f.calls)
  end)

  it("refuses to send the token to another host", function()
    local arm = load(function(req)
      if req.method == "PUT" then
        return { status = 202, headers = { ["azure-asyncoperation"] = "https://evil.example.localhost/op" } }
      end
      return { status = 200, body = { status = "Succeeded" } }
    end)
    local ok, e = pcall(arm.put, arm, "/subscriptions/s/x", "1", {})
    assert.is_false(ok)
    assert.are.equal("INVALID_ARGUMENT", e.code)
    assert.truthy(e.message:find("evil.example.localhost", 1, true))
  end)

  it("asks http to retry a busy write (409 AnotherOperationInProgress), not reads; other conflicts raise", function()
    local arm, f = load(function(req)
      if req.method == "GET" then return { status = 200, body = { properties = { provisioningState = "Succeeded" } } } end
      return { status = 409, body = { error = { code = "Conflict", message = "exists" } } }
    end)
    local ok, e = pcall(arm.put, arm, "/subscriptions/s/other", "1", {})
    assert.is_false(ok)
    assert.are.equal("Conflict", e.code)
    local put = f.calls[1]
    assert.are.same({ "AnotherOperationInProgress", "RetryableError", "ConcurrentUpdateError" }, put.retry_codes)
    assert.are.equal(20, put.retries)
    assert.is_true(put.retry_for > 0 and put.max_backoff == 60)
    arm:get("/subscriptions/s/other", "1")
    assert.is_nil(f.calls[2].retry_codes)
  end)

  it("put_many reports failures per item, in request order", function()
    local arm = load(function(req)
      local p = path_of(req.url)
      if p:find("bad", 1, true) then
        return { status = 400, body = { error = { code = "InvalidParameter", message = "no" } } }
      end
      return { status = 200, body = { id = p, properties = { provisioningState = "Succeeded" } } }
    end)
    local list = {}
    for i = 1, 5 do list[i] = { id = "/subscriptions/s/r" .. i, api_version = "1", body = {} } end
    list[3].id = "/subscriptions/s/bad"
    local results = arm:put_many(list, { concurrency = 2 })
    assert.are.equal(5, #results)
    assert.are.equal("/subscriptions/s/r1", results[1].body.id)
    assert.are.equal("InvalidParameter", results[3].error.code)
    assert.are.equal("/subscriptions/s/r5", results[5].body.id)
  end)

  it("a 401 drops the cached token and retries once", function()
    local seen = {}
    local f = fake_http(function(req)
      if req.url:find("oauth2", 1, true) then
        return { status = 200, body = { access_token = "t" .. (#seen + 1), expires_in = 3600 } }
      end
      seen[#seen + 1] = req.headers.Authorization
      if #seen == 1 then
        return { status = 401, body = { error = { code = "ExpiredAuthenticationToken", message = "expired" } } }
      end
      return { status = 200, body = { name = "rg" } }
    end)
    package.loaded.http, package.loaded.auth, package.loaded.azure = f, nil, nil
    local auth, azure = require("auth"), require("azure")
    auth.cache:clear()
    local cred = auth.credential{ kind = "client_secret", tenant_id = "t", client_id = "c", client_secret = "s",
                                  authority_host = "https://login.example.localhost" }
    local arm = azure.client{ credential = cred, endpoint = EP }
    assert.are.equal("rg", arm:get("/subscriptions/s/resourceGroups/rg", "1").name)
    assert.are.equal(2, #seen)
    assert.are_not.equal(seen[1], seen[2])
  end)

  it("insists on an api_version and a table of options", function()
    local arm, _, azure = load(function() return { status = 200, body = {} } end)
    local ok, e = pcall(arm.get, arm, "/subscriptions/s/x", nil)
    assert.is_false(ok)
    assert.truthy(e.message:find("api_version is required", 1, true))
    ok, e = pcall(azure.client, { endpoint = EP })
    assert.is_false(ok)
    assert.truthy(e.message:find("credential", 1, true))
  end)

  it("times out a long-running operation that never ends", function()
    local arm = load(function(req)
      if req.method == "PUT" then
        return { status = 202, headers = { ["azure-asyncoperation"] = EP .. "/ops/9", ["retry-after"] = "30" } }
      end
      return { status = 200, body = { status = "InProgress" } }
    end)
    local ok, e = pcall(arm.put, arm, "/subscriptions/s/x", "1", {}, { timeout = 100 })
    assert.is_false(ok)
    assert.are.equal("LRO_TIMEOUT", e.code)
  end)
end)
