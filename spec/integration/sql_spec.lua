-- sql (Statement Execution API) against the simulator: named parameters, typed rows, chunks,
-- polling, cancel on timeout, failures, many statements at once, quoted identifiers.
-- Run under tools/with-sim.sh.
local http = require("http")
local json = require("json")
local sql = require("sql")

local ADMIN = os.getenv("DRHOST_SIM_ADMIN")

local function admin(method, path, body)
  local resp = http.request{ method = method, url = ADMIN .. path, body = body and json.encode(body) or nil,
                             headers = { ["Content-Type"] = "application/json" } }
  assert(resp.status < 300, path .. ": " .. resp.status .. " " .. resp.body)
  return resp.body ~= "" and json.decode(resp.body) or nil
end

describe("sql statements (simulator)", function()
  if not ADMIN then
    it("needs the simulator (tools/with-sim.sh)", function() pending("DRHOST_SIM_ADMIN not set") end)
    return
  end

  local w, conn, wh
  setup(function()
    local estate = dofile("spec/integration/cloud_estate.lua")
    w = estate.workspace("h3-sql", "westeurope")
    wh = estate.warehouse(w.ws)
    local ok = w.ws:all({ { method = "POST", path = "/api/2.1/unity-catalog/catalogs", body = { name = "h3_sql" } } })[1]
    assert(not ok.error or ok.status == 409, ok.error and tostring(ok.error))
    conn = sql.connect{ workspace = w.ws, warehouse_id = wh, catalog = "h3_sql" }
    conn:exec("CREATE SCHEMA IF NOT EXISTS " .. sql.ident("h3_sql.s"))
  end)
  after_each(function()
    admin("POST", "/sql/config", { chunk_rows = 1000, delay_ms = 0 })
  end)

  it("creates, inserts with named parameters and reads typed rows back", function()
    local t = sql.ident("h3_sql.s.typed")
    conn:exec("CREATE OR REPLACE TABLE " .. t .. " (id BIGINT, name STRING, amount DECIMAL(10,2), ok BOOLEAN,"
      .. " ratio DOUBLE, n INT)")
    local insert = "INSERT INTO " .. t .. " VALUES (:id, :name, :amount, :ok, :ratio, :n)"
    conn:exec(insert, { id = 1, name = "it's; DROP TABLE x --", amount = { value = "12.50", type = "DECIMAL(10,2)" },
                        ok = true, ratio = 0.25, n = json.null })
    conn:exec(insert, { id = 9007199254740993, name = "b", amount = { value = "0.10", type = "DECIMAL(10,2)" },
                        ok = false, ratio = 2.5, n = { value = "7", type = "INT" } })
    local rows, meta = conn:query("SELECT * FROM " .. t .. " WHERE id >= :min ORDER BY id", { min = 0 })
    assert.are.same({ "id", "name", "amount", "ok", "ratio", "n" }, meta.columns)
    assert.are.equal(2, #rows)
    assert.are.equal(1, rows[1].id)
    assert.are.equal("integer", math.type(rows[1].id))
    assert.are.equal("it's; DROP TABLE x --", rows[1].name)
    assert.are.equal(12.5, rows[1].amount)
    assert.is_true(rows[1].ok)
    assert.are.equal(0.25, rows[1].ratio)
    assert.are.equal(json.null, rows[1].n)
    assert.are.equal(9007199254740993, rows[2].id)
    assert.is_false(rows[2].ok)
    assert.are.equal(7, rows[2].n)
    assert.are.equal("string", type(meta.statement_id))
  end)

  it("fetches every chunk of a result", function()
    local t = sql.ident("h3_sql.s.many_rows")
    conn:exec("CREATE OR REPLACE TABLE " .. t .. " (i INT)")
    local values = {}
    for i = 1, 25 do values[i] = "(" .. i .. ")" end
    conn:exec("INSERT INTO " .. t .. " VALUES " .. table.concat(values, ", "))
    admin("POST", "/sql/config", { chunk_rows = 4 })
    local rows, meta = conn:query("SELECT i FROM " .. t .. " ORDER BY i")
    assert.are.equal(25, #rows)
    for i = 1, 25 do assert.are.equal(i, rows[i].i) end
    assert.is_true(meta.chunks >= 7, "chunks " .. tostring(meta.chunks))
  end)

  it("polls a statement that outlives wait_timeout", function()
    admin("POST", "/sql/config", { delay_ms = 600 })
    local c0 = sql.connect{ workspace = w.ws, warehouse_id = wh, wait_timeout = "0s" }
    local rows = c0:query("SELECT 40 + :n AS answer", { n = 2 })
    assert.are.equal(42, rows[1].answer)
  end)

  it("cancels a statement past the caller's timeout and raises SQL_TIMEOUT", function()
    admin("POST", "/sql/config", { delay_ms = 4000 })
    local c0 = sql.connect{ workspace = w.ws, warehouse_id = wh, wait_timeout = "0s", timeout = 1 }
    local ok, err = pcall(c0.query, c0, "SELECT 1 AS one")
    assert.is_false(ok)
    assert.are.equal("SQL_TIMEOUT", err.code)
    local st = w.ws:get("/api/2.0/sql/statements/" .. err.statement_id)
    assert.are.equal("CANCELED", st.status.state)
  end)

  it("Ctrl-C cancels the running statement on the warehouse and ends with one line", function()
    admin("POST", "/sql/config", { delay_ms = 8000 })
    admin("DELETE", "/stats")
    local code = string.format([[
      local ws = require("databricks").workspace{ host = %q, credential = require("auth").from_env() }
      local conn = require("sql").connect{ workspace = ws, warehouse_id = %q, wait_timeout = "0s" }
      conn:query("SELECT 7 AS seven")
    ]], w.host, wh)
    local errf = os.tmpname()
    local p = io.popen(string.format("%s -e %s 2>%s & pid=$!; sleep 2; kill -INT $pid; wait $pid; echo rc=$?",
      require("spec.support.server").drhost(), require("spec.support.server").shell_quote(code), errf))
    local out = p:read("a")
    p:close()
    local f = io.open(errf)
    local stderr = f:read("a")
    f:close()
    os.remove(errf)
    assert.matches("rc=130", out)
    assert.are.equal("drhost: CANCELLED: interrupted by SIGINT\n", stderr)
    local stats = admin("GET", "/stats")
    assert.are.equal(1, stats.by_route["workspace POST /api/2.0/sql/statements/{statement_id}/cancel"],
      json.encode(stats.by_route))
  end)

  it("a failed statement carries error_code, the error class and sql_state", function()
    local ok, err = pcall(conn.query, conn, "SELECT * FROM " .. sql.ident("h3_sql.s.nope"))
    assert.is_false(ok)
    assert.are.equal("TABLE_OR_VIEW_NOT_FOUND", err.error_class)
    assert.are.equal("string", type(err.code))
    assert.are.equal("string", type(err.sql_state))
    assert.truthy(err.message:find("nope", 1, true))
  end)

  it("many: statements run side by side, failures stay per statement", function()
    local list = {}
    for i = 1, 6 do list[i] = { "SELECT :i * 10 AS v", { i = i } } end
    list[4] = { "SELEC broken" }
    local results = conn:many(list, { concurrency = 3 })
    for i = 1, 6 do
      if i == 4 then
        assert.is_not_nil(results[i].error)
        assert.are.equal("PARSE_SYNTAX_ERROR", results[i].error.error_class)
      else
        assert.is_nil(results[i].error, results[i].error and tostring(results[i].error))
        assert.are.equal(i * 10, results[i].rows[1].v)
      end
    end
  end)

  it("quoted identifiers reach names with backticks, dashes and non-ASCII; refused names fail cleanly", function()
    local t = sql.ident({ "h3_sql", "s", "h3-näme" })
    conn:exec("CREATE OR REPLACE TABLE " .. t .. " (" .. sql.ident_part("col`umn") .. " STRING)")
    conn:exec("INSERT INTO " .. t .. " VALUES (:v)", { v = "ok" })
    local rows, meta = conn:query("SELECT " .. sql.ident_part("col`umn") .. " AS " .. sql.ident_part("a``b")
      .. " FROM " .. t)
    assert.are.same({ "a``b" }, meta.columns)
    assert.are.equal("ok", rows[1]["a``b"])
    local tables = w.ws:list("/api/2.1/unity-catalog/tables", { catalog_name = "h3_sql", schema_name = "s" }, "tables")
    local found = false
    for _, x in ipairs(tables) do if x.name == "h3-näme" then found = true end end
    assert.is_true(found)
    -- a dot inside a table name is refused by the service, not mis-parsed as a fourth part
    local ok, err = pcall(conn.exec, conn, "CREATE TABLE " .. sql.ident({ "h3_sql", "s", "a.b" }) .. " (i INT)")
    assert.is_false(ok)
    assert.truthy(err.message:find("a.b", 1, true), err.message)
  end)
end)
