-- luacheck: max line length 160
-- Discovery against a fake workspace and SQL connection: paging, normalisation of UC objects,
-- direct grants only (inherited rows dropped), the per-object API fallback, tags in bulk.
local inventory = require("replicate.inventory")

local function fake(opts)
  opts = opts or {}
  local calls = { rest = {}, sql = {} }
  local ws = {}
  function ws.all(_, reqs)
    local out = {}
    for i, r in ipairs(reqs) do
      table.insert(calls.rest, r)
      local body = opts.rest(r)
      out[i] = body and { status = 200, body = body } or { status = 404, error = { code = "NOT_FOUND", message = r.path } }
    end
    return out
  end
  function ws.list(self, path, query, key)
    local r = self:all({ { method = "GET", path = path, query = query } })[1]
    return r.body and r.body[key] or {}
  end
  local conn = {}
  function conn.many(_, list)
    local out = {}
    for i, item in ipairs(list) do
      table.insert(calls.sql, item[1])
      local rows, err = opts.sql(item[1])
      out[i] = err and { error = err } or { rows = rows or {} }
    end
    return out
  end
  return ws, conn, calls
end

local P = "/api/2.1/unity-catalog"

local function uc(r)
  if r.path == P .. "/catalogs" then return { catalogs = { { name = "Sales", catalog_type = "MANAGED_CATALOG", comment = "c" } } } end
  if r.path == P .. "/schemas" then
    return { schemas = { { catalog_name = "sales", name = "core" }, { catalog_name = "sales", name = "information_schema" } } }
  end
  if r.path == P .. "/tables" then
    if not r.query.page_token then
      return { tables = { { catalog_name = "sales", schema_name = "core", name = "t1", table_type = "MANAGED", data_source_format = "DELTA",
        columns = { { name = "id", type_text = "int", mask = { function_name = "sales.core.m", using_column_names = { "x" } } } },
        row_filter = { function_name = "sales.core.f", input_column_names = { "id" } }, table_id = "x1" } }, next_page_token = "p2" }
    end
    return { tables = { { catalog_name = "sales", schema_name = "core", name = "v1", table_type = "VIEW", view_definition = "SELECT 1",
      view_dependencies = { dependencies = { { table = { table_full_name = "sales.core.T1" } },
        { ["function"] = { function_full_name = "sales.core.f" } } } } } } }
  end
  if r.path == P .. "/volumes" then
    return { volumes = { { catalog_name = "sales", schema_name = "core", name = "vol", volume_type = "EXTERNAL",
      storage_location = "abfss://x/v" } } }
  end
  if r.path == P .. "/functions" then
    return { functions = { { catalog_name = "sales", schema_name = "core", name = "tvf", data_type = "TABLE_TYPE", full_data_type = "a INT",
      routine_body = "SQL", routine_definition = "SELECT 1 AS a", input_params = { parameters = { { name = "p", type_text = "INT" } } },
      return_params = { parameters = { { name = "a", type_text = "INT" } } } } } }
  end
  if r.path:find(P .. "/permissions/", 1, true) == 1 then return { privilege_assignments = { { principal = "api-user", privileges = { "SELECT" } } } } end
end

describe("replicate.inventory", function()
  it("pages listings, skips information_schema and normalises tables, views, volumes, functions", function()
    local ws, conn, calls = fake({ rest = uc, sql = function() return {} end })
    local inv = inventory.read{ ws = ws, conn = conn, catalogs = { "sales" }, stats = {} }
    assert.is_table(inv.catalogs.sales)
    assert.is_nil(inv.schemas["sales.information_schema"])
    local t = inv.tables["sales.core.t1"]
    assert.are.equal("sales.core.f", t.row_filter.function_name)
    assert.are.equal("sales.core.m", t.columns[1].mask.function_name)
    assert.are.same({ "sales.core.t1" }, inv.tables["sales.core.v1"].view_dependencies)
    assert.are.equal("EXTERNAL", inv.volumes["sales.core.vol"].volume_type)
    local f = inv.functions["sales.core.tvf"]
    assert.are.equal("TABLE (`a` INT)", f.returns)
    assert.are.equal("SQL", f.language)
    local pages = 0
    for _, r in ipairs(calls.rest) do if r.path == P .. "/tables" then pages = pages + 1 end end
    assert.are.equal(2, pages)
  end)

  it("keeps direct grants only and spells privileges the API way", function()
    local ws, conn = fake({ rest = uc, sql = function(sql)
      if sql:match("table_privileges") then
        return { { grantee = "a", privilege_type = "SELECT", inherited_from = "NONE", table_catalog = "sales", table_schema = "core", table_name = "t1" },
          { grantee = "b", privilege_type = "SELECT", inherited_from = "SCHEMA", table_catalog = "sales", table_schema = "core", table_name = "t1" },
          { grantee = "c", privilege_type = "SELECT", inherited_from = "NONE", table_catalog = "sales", table_schema = "core", table_name = "v1" } }
      elseif sql:match("catalog_privileges") then
        return { { grantee = "a", privilege_type = "USE CATALOG", inherited_from = "NONE", catalog_name = "sales" } }
      end
      return {}
    end })
    local inv = inventory.read{ ws = ws, conn = conn, catalogs = { "sales" }, stats = {} }
    assert.are.same({ a = { SELECT = true } }, inv.grants["table:sales.core.t1"])
    assert.are.same({ c = { SELECT = true } }, inv.grants["view:sales.core.v1"])
    assert.are.same({ a = { USE_CATALOG = true } }, inv.grants["catalog:sales"])
  end)

  it("falls back to the permissions API for objects whose privilege view cannot be read", function()
    local ws, conn, calls = fake({ rest = uc, sql = function(sql)
      if sql:match("table_privileges") then return nil, { code = "PERMISSION_DENIED", message = "no" } end
      return {}
    end })
    local inv = inventory.read{ ws = ws, conn = conn, catalogs = { "sales" }, stats = {} }
    assert.are.same({ ["api-user"] = { SELECT = true } }, inv.grants["table:sales.core.t1"])
    assert.are.same({ ["api-user"] = { SELECT = true } }, inv.grants["view:sales.core.v1"])
    local perm = 0
    for _, r in ipairs(calls.rest) do if r.path:match("/permissions/") then perm = perm + 1 end end
    assert.are.equal(2, perm)     -- only the two tables, not the schema, volume or function
    assert.truthy(inv.warnings[1].reason:match("permissions API"))
  end)

  it("reads tags in bulk, column tags included", function()
    local ws, conn = fake({ rest = uc, sql = function(sql)
      if sql:match("information_schema%.table_tags") then
        return { { tag_name = "pii", tag_value = "yes", catalog_name = "sales", schema_name = "core", table_name = "t1" } }
      elseif sql:match("column_tags") then
        return { { tag_name = "k", tag_value = "v", catalog_name = "sales", schema_name = "core", table_name = "t1", column_name = "id" } }
      end
      return {}
    end })
    local inv = inventory.read{ ws = ws, conn = conn, catalogs = { "sales" }, stats = {} }
    assert.are.same({ pii = "yes" }, inv.tables["sales.core.t1"].tags)
    assert.are.same({ id = { k = "v" } }, inv.tables["sales.core.t1"].column_tags)
  end)

  it("reads versions and the state; a missing state table means a first run", function()
    local _, conn = fake({ rest = uc, sql = function(sql)
      if sql:match("^DESCRIBE HISTORY `sales`") then
        return { { version = 7, timestamp = "2026-11-23T10:00:00Z", operation = "WRITE", operationParameters = '{"mode":"Append"}' } }
      end
      return nil, { code = "BAD_REQUEST", message = "[TABLE_OR_VIEW_NOT_FOUND] nope" }
    end })
    local v, errs = inventory.read_versions({ conn = conn }, { "sales.core.t1", "other.s.t" }, {})
    assert.are.equal(7, v["sales.core.t1"].version)
    assert.are.equal("Append", v["sales.core.t1"].parameters.mode)
    assert.truthy(errs["other.s.t"])
    local rows, exists = inventory.read_state({ conn = conn }, { catalog = "ops", schema = "d", table = "s" }, {})
    assert.is_false(exists)
    assert.are.same({}, rows)
  end)
end)
