-- databricks (account and workspace clients) against the simulator: account metastores and
-- workspaces, Unity Catalog CRUD, paging, error decoding, throttling and TEMPORARILY_UNAVAILABLE
-- retries, OAuth M2M tokens on both hosts. Run under tools/with-sim.sh.
local http = require("http")
local json = require("json")
local auth = require("auth")
local databricks = require("databricks")

local ADMIN = os.getenv("DRHOST_SIM_ADMIN")

local function admin(method, path, body)
  local resp = http.request{ method = method, url = ADMIN .. path, body = body and json.encode(body) or nil,
                             headers = { ["Content-Type"] = "application/json" } }
  assert(resp.status < 300, path .. ": " .. resp.status .. " " .. resp.body)
  return resp.body ~= "" and json.decode(resp.body) or nil
end

local UC = "/api/2.1/unity-catalog"

describe("databricks clients (simulator)", function()
  if not ADMIN then
    it("needs the simulator (tools/with-sim.sh)", function() pending("DRHOST_SIM_ADMIN not set") end)
    return
  end

  local estate, w
  setup(function()
    estate = dofile("spec/integration/cloud_estate.lua")
    w = estate.workspace("h3-dbx", "westeurope")
  end)
  after_each(function() admin("DELETE", "/faults") end)

  it("account: the workspace made through ARM and its metastore assignment", function()
    local acct = estate.account()
    local found
    for _, x in ipairs(acct:list("/workspaces", nil, nil)) do
      if tostring(x.workspace_id) == w.id then found = x end
    end
    assert.is_not_nil(found, "workspace " .. w.id .. " listed by the account")
    local a = acct:get("/workspaces/" .. w.id .. "/metastore")
    assert.are.equal(w.metastore_id, (a.metastore_assignment or a).metastore_id)
    local missing, err = acct:get("/metastores/00000000-0000-0000-0000-00000000dead")
    assert.is_nil(missing)
    assert.are.equal(404, err.status)
  end)

  it("workspace: catalog and schemas, paging past the server's page size", function()
    local ws = w.ws
    ws:post(UC .. "/catalogs", { name = "h3_paging", comment = "spec" })
    local reqs = {}
    for i = 1, 60 do reqs[i] = { method = "POST", path = UC .. "/schemas",
                                 body = { catalog_name = "h3_paging", name = string.format("s%02d", i) } } end
    local res = ws:all(reqs, { concurrency = 8 })
    for i = 1, 60 do assert.is_nil(res[i].error, res[i].error and tostring(res[i].error)) end
    local schemas = ws:list(UC .. "/schemas", { catalog_name = "h3_paging", max_results = 25 }, "schemas")
    local names = {}
    for _, s in ipairs(schemas) do names[s.name] = true end
    for i = 1, 60 do assert.is_true(names[string.format("s%02d", i)], "schema " .. i) end
    assert.are.equal("spec", ws:get(UC .. "/catalogs/h3_paging").comment)
  end)

  it("decodes error_code and message; a GET of something absent is nil + error", function()
    local ws = w.ws
    local cat, err = ws:get(UC .. "/catalogs/h3_does_not_exist")
    assert.is_nil(cat)
    assert.are.equal(404, err.status)
    assert.truthy(err.code:match("^[A-Z_]+$"), err.code)
    assert.truthy(err.message:find("h3_does_not_exist", 1, true), err.message)
    ws:post(UC .. "/catalogs", { name = "h3_dup" })
    local ok, e = pcall(ws.post, ws, UC .. "/catalogs", { name = "h3_dup" })
    assert.is_false(ok)
    assert.are.equal("string", type(e.code))
    assert.is_true(e.status == 409 or e.status == 400, tostring(e.status))
    assert.is_false(ws:delete(UC .. "/catalogs/h3_never_made"))
    assert.is_true(ws:delete(UC .. "/catalogs/h3_dup"))
  end)

  it("rides out 429 and 503 TEMPORARILY_UNAVAILABLE", function()
    admin("POST", "/faults", { host_kind = "workspace", method = "GET", path = "/catalogs$", retry_after = 0, times = 1 })
    admin("POST", "/faults", { host_kind = "workspace", method = "GET", path = "/catalogs$", status = 503,
                               code = "TEMPORARILY_UNAVAILABLE", times = 1 })
    local _, resp = w.ws:request{ method = "GET", path = UC .. "/catalogs" }
    assert.are.equal(200, resp.status)
    assert.is_true(resp.attempts >= 3, "attempts " .. tostring(resp.attempts))
  end)

  it("OAuth M2M: one credential, tokens from the account and from the workspace", function()
    admin("POST", "/databricks-oauth", { client_id = "00000000-0000-0000-0000-0000000000bb", secret = "m2m-secret" })
    local cred = auth.credential{ kind = "databricks_m2m", client_id = "00000000-0000-0000-0000-0000000000bb",
                                  client_secret = "m2m-secret" }
    local ws = databricks.workspace{ host = w.host, credential = cred }
    local body = ws:get("/api/2.0/preview/scim/v2/Me")
    assert.is_not_nil(body)
    local acct = databricks.account{ host = os.getenv("DATABRICKS_ACCOUNT_HOST"),
                                     account_id = os.getenv("DATABRICKS_ACCOUNT_ID"), credential = cred }
    local _, resp = acct:request{ method = "GET", path = "/metastores" }
    assert.are.equal(200, resp.status)
  end)
end)
