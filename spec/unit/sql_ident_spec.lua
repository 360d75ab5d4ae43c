-- sql: identifier quoting, named parameter building, typed rows, and the statement state machine
-- (polling, chunks, failures, timeout with cancel) against a scripted fake workspace.
local json = require("json")
local sql = require("sql")

local function err_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return err
end

describe("sql.ident", function()
  it("quotes every part and doubles backticks", function()
    assert.are.equal("`a`.`b`.`c`", sql.ident("a.b.c"))
    assert.are.equal("`we``ird`.`sp ace`", sql.ident("we`ird.sp ace"))
    assert.are.equal("`x`", sql.ident_part("x"))
    assert.are.equal("````", sql.ident_part("`"))
    assert.are.equal("`cat`.`dotted.name`", sql.ident({ "cat", "dotted.name" }))
    assert.are.equal("`ünï`", sql.ident("ünï"))
  end)

  it("refuses empty parts with the whole name in the message", function()
    for _, bad in ipairs({ "", "a..b", ".a", "a." }) do
      local err = err_of(sql.ident, bad)
      assert.are.equal("INVALID_IDENTIFIER", err.code)
      assert.truthy(err.message:find("empty", 1, true), err.message)
    end
    assert.truthy(err_of(sql.ident, "a..b").message:find('"a..b"', 1, true))
    assert.are.equal("INVALID_IDENTIFIER", err_of(sql.ident, {}).code)
  end)

  it("refuses control characters and non-strings", function()
    local err = err_of(sql.ident, "a.b\nc")
    assert.are.equal("INVALID_IDENTIFIER", err.code)
    assert.truthy(err.message:find("control character (byte 10", 1, true), err.message)
    assert.are.equal("INVALID_IDENTIFIER", err_of(sql.ident_part, "x\0y").code)
    assert.are.equal("INVALID_IDENTIFIER", err_of(sql.ident, 42).code)
  end)
end)

describe("sql.parameters", function()
  it("builds named, typed parameters with string values, sorted by name", function()
    local p = sql.parameters{ id = 5, name = "o'hara; DROP", ok = true, ratio = 0.5, gone = json.null,
                              d = { value = "2024-01-01", type = "DATE" } }
    assert.are.same({
      { name = "d", value = "2024-01-01", type = "DATE" },
      { name = "gone", type = "STRING" },
      { name = "id", value = "5", type = "BIGINT" },
      { name = "name", value = "o'hara; DROP", type = "STRING" },
      { name = "ok", value = "true", type = "BOOLEAN" },
      { name = "ratio", value = "0.5", type = "DOUBLE" },
    }, p)
  end)

  it("accepts a list of {name, value, type}", function()
    assert.are.same({ { name = "a", value = "1", type = "INT" } },
                    sql.parameters{ { name = "a", value = 1, type = "INT" } })
  end)

  it("rejects bad names, values and types", function()
    assert.truthy(err_of(sql.parameters, { ["a b"] = 1 }).message:find("a b must match", 1, true))
    assert.are.equal("INVALID_PARAMETER", err_of(sql.parameters, { x = {} , y = function() end }).code)
    assert.truthy(err_of(sql.parameters, { x = 0 / 0 }).message:find("finite", 1, true))
    assert.are.equal("INVALID_PARAMETER", err_of(sql.parameters, { x = { value = 1, type = "INT; --" } }).code)
  end)
end)

describe("sql rows", function()
  it("types values by the manifest's type_name", function()
    local cols = { { name = "i", type_name = "INT" }, { name = "l", type_name = "LONG" },
                   { name = "d", type_name = "DOUBLE" }, { name = "m", type_name = "DECIMAL" },
                   { name = "b", type_name = "BOOLEAN" }, { name = "s", type_name = "STRING" },
                   { name = "t", type_name = "TIMESTAMP" }, { name = "n", type_name = "INT" } }
    local rows = sql.rows({ { "7", "9007199254740993", "1.5", "10.25", "true", "x", "2024-01-01T00:00:00Z",
                              json.null } }, cols)
    local r = rows[1]
    assert.are.equal(7, r.i); assert.are.equal("integer", math.type(r.i))
    assert.are.equal(9007199254740993, r.l); assert.are.equal("integer", math.type(r.l))
    assert.are.equal(1.5, r.d)
    assert.are.equal(10.25, r.m)
    assert.is_true(r.b)
    assert.are.equal("x", r.s)
    assert.are.equal("2024-01-01T00:00:00Z", r.t)
    assert.are.equal(json.null, r.n)
    assert.is_false(sql.convert("false", "BOOLEAN"))
    assert.are.equal(math.huge, sql.convert("Infinity", "DOUBLE"))
  end)
end)

-- A fake databricks.workspace: handler(req) -> {status=, body=} or {error=}.
local function fake_ws(handler)
  local ws = { calls = {}, batches = {} }
  function ws.all(_, reqs)
    ws.batches[#ws.batches + 1] = #reqs
    local out = {}
    for i, r in ipairs(reqs) do
      ws.calls[#ws.calls + 1] = r
      out[i] = handler(r)
    end
    return out
  end
  return ws
end

local COLS = { schema = { columns = { { name = "id", type_name = "INT", position = 0 },
                                      { name = "name", type_name = "STRING", position = 1 } } } }

describe("sql connection", function()
  local http_saved
  setup(function()
    -- keep the tests fast: no real sleeping between polls
    local http = require("http")
    http_saved = http.sleep
    http.sleep = function() end
  end)
  teardown(function() require("http").sleep = http_saved end)

  it("checks its options", function()
    local ws = fake_ws(function() end)
    assert.truthy(err_of(sql.connect, { workspace = ws }).message:find("warehouse_id", 1, true))
    assert.truthy(err_of(sql.connect, { workspace = ws, warehouse_id = "w", wait_timeout = "60s" })
      .message:find("wait_timeout", 1, true))
    assert.truthy(err_of(sql.connect, { workspace = {}, warehouse_id = "w" }).message:find("workspace", 1, true))
  end)

  it("submits named parameters, polls, fetches every chunk and types rows", function()
    local polls = 0
    local ws = fake_ws(function(r)
      if r.method == "POST" then
        return { status = 200, body = { statement_id = "st1", status = { state = "PENDING" } } }
      elseif r.path == "/api/2.0/sql/statements/st1" then
        polls = polls + 1
        if polls < 2 then return { status = 200, body = { statement_id = "st1", status = { state = "RUNNING" } } } end
        return { status = 200, body = { statement_id = "st1", status = { state = "SUCCEEDED" },
          manifest = { schema = COLS.schema, total_chunk_count = 3, total_row_count = 3 },
          result = { chunk_index = 0, data_array = { { "1", "a" } }, next_chunk_index = 1,
                     next_chunk_internal_link = "/api/2.0/sql/statements/st1/result/chunks/1?row_offset=1" } } }
      elseif r.path == "/api/2.0/sql/statements/st1/result/chunks/1?row_offset=1" then
        return { status = 200, body = { chunk_index = 1, data_array = { { "2", "b" } }, next_chunk_index = 2 } }
      elseif r.path == "/api/2.0/sql/statements/st1/result/chunks/2" then
        return { status = 200, body = { chunk_index = 2, data_array = { { "3", json.null } } } }
      end
      return { error = { code = "UNEXPECTED", message = r.path } }
    end)
    local conn = sql.connect{ workspace = ws, warehouse_id = "wh", catalog = "main", schema = "s" }
    local rows, meta = conn:query("SELECT id, name FROM t WHERE id > :min", { min = 0 })
    assert.are.equal(3, #rows)
    assert.are.same({ id = 2, name = "b" }, rows[2])
    assert.are.equal(json.null, rows[3].name)
    assert.are.same({ "id", "name" }, meta.columns)
    assert.are.equal("st1", meta.statement_id)
    assert.are.equal(3, meta.chunks)
    local body = ws.calls[1].body
    assert.are.equal("wh", body.warehouse_id)
    assert.are.equal("CONTINUE", body.on_wait_timeout)
    assert.are.equal("INLINE", body.disposition)
    assert.are.equal("JSON_ARRAY", body.format)
    assert.are.equal("10s", body.wait_timeout)
    assert.are.equal("main", body.catalog)
    assert.are.same({ { name = "min", value = "0", type = "BIGINT" } }, body.parameters)
  end)

  it("without links, fetches chunks by index from the manifest's count (chunk 0 too)", function()
    local ws = fake_ws(function(r)
      if r.method == "POST" then
        return { status = 200, body = { statement_id = "st9", status = { state = "SUCCEEDED" },
          manifest = { schema = COLS.schema, total_chunk_count = 2 } } } -- no result in the response
      elseif r.path == "/api/2.0/sql/statements/st9/result/chunks/0" then
        return { status = 200, body = { chunk_index = 0, data_array = { { "1", "a" } } } }
      elseif r.path == "/api/2.0/sql/statements/st9/result/chunks/1" then
        return { status = 200, body = { chunk_index = 1, data_array = { { "2", "b" } } } }
      end
      return { error = { code = "UNEXPECTED", message = r.path } }
    end)
    local rows, meta = sql.connect{ workspace = ws, warehouse_id = "wh" }:query("SELECT 1")
    assert.are.same({ { id = 1, name = "a" }, { id = 2, name = "b" } }, rows)
    assert.are.equal(2, meta.chunks)
    assert.are.equal(3, #ws.calls)
  end)

  it("raises the statement's error_code and sql_state on FAILED", function()
    local ws = fake_ws(function()
      return { status = 200, body = { statement_id = "st2", status = { state = "FAILED", sql_state = "42P01",
        error = { error_code = "BAD_REQUEST", message = "[TABLE_OR_VIEW_NOT_FOUND] no such table t" } } } }
    end)
    local conn = sql.connect{ workspace = ws, warehouse_id = "wh" }
    local err = err_of(conn.query, conn, "SELECT * FROM t")
    assert.are.equal("BAD_REQUEST", err.code)
    assert.are.equal("TABLE_OR_VIEW_NOT_FOUND", err.error_class)
    assert.are.equal("42P01", err.sql_state)
    assert.truthy(err.message:find("no such table t", 1, true))
  end)

  it("cancels and raises SQL_TIMEOUT past the caller's timeout", function()
    local ws = fake_ws(function(r)
      if r.path:find("/cancel$") then return { status = 200, body = {} } end
      return { status = 200, body = { statement_id = "st3", status = { state = "RUNNING" } } }
    end)
    local conn = sql.connect{ workspace = ws, warehouse_id = "wh", timeout = 0 }
    local err = err_of(conn.exec, conn, "OPTIMIZE t")
    assert.are.equal("SQL_TIMEOUT", err.code)
    local last = ws.calls[#ws.calls]
    assert.are.equal("POST", last.method)
    assert.are.equal("/api/2.0/sql/statements/st3/cancel", last.path)
  end)

  it("many: bounded concurrency and failures per statement", function()
    local n = 0
    local ws = fake_ws(function(r)
      n = n + 1
      if r.body.statement:find("bad", 1, true) then
        return { status = 400, error = { code = "INVALID_PARAMETER_VALUE", message = "bad" } }
      end
      return { status = 200, body = { statement_id = "s" .. n, status = { state = "SUCCEEDED" },
        manifest = { schema = { columns = { { name = "n", type_name = "INT" } } } },
        result = { data_array = { { tostring(n) } } } } }
    end)
    local conn = sql.connect{ workspace = ws, warehouse_id = "wh" }
    local list = {}
    for i = 1, 5 do list[i] = { "SELECT :i AS n", { i = i } } end
    list[4] = { "bad statement" }
    local results = conn:many(list, { concurrency = 2 })
    assert.are.equal(5, #results)
    assert.are.equal("INVALID_PARAMETER_VALUE", results[4].error.code)
    assert.is_nil(results[4].rows)
    for _, i in ipairs({ 1, 2, 3, 5 }) do assert.are.equal("integer", math.type(results[i].rows[1].n)) end
    for _, b in ipairs(ws.batches) do assert.is_true(b <= 2) end
  end)
end)
