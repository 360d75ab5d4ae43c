-- luacheck: max line length 160
-- Replication demo/spec helper, run through drhost:
--   drhost tools/seed-replicate.lua estate    -> prints `export DRHOST_*=...` lines for both sides
--   drhost tools/seed-replicate.lua seed      -> seeds prod with the issue-5 sample data
--   drhost tools/seed-replicate.lua change    -> changes two prod tables
--   drhost tools/seed-replicate.lua geo       -> storage geo-replication stand-in (simulator admin)
--   drhost tools/seed-replicate.lua compare   -> checks dr against prod (exit 1 on a difference)
--   drhost tools/seed-replicate.lua tables N  -> creates N small tables in prod (bench)
--   drhost tools/seed-replicate.lua external-use CATALOG -> turns on external data access on prod's metastore and grants
--                                                EXTERNAL USE SCHEMA on CATALOG to the running identity
--                                                (credential vending for the log probe)
-- Also usable as a library: local seed = dofile("tools/seed-replicate.lua").
-- Only ever talks to the simulator's endpoints from the environment (tools/with-sim.sh).
local json = require("json")
local auth = require("auth")
local databricks = require("databricks")
local sql = require("sql")
local q = require("replicate.sqltext")

local M = {}

M.PROD_EXT = os.getenv("DRHOST_PROD_EXTERNAL_URL") or "abfss://external@drhostprodext.dfs.core.windows.net/"
M.DR_EXT = os.getenv("DRHOST_DR_EXTERNAL_URL") or "abfss://external@drhostdrext.dfs.core.windows.net/"
M.PROD_SP = os.getenv("DRHOST_PROD_ETL_SP") or "11111111-1111-1111-1111-111111111111"
M.DR_SP = os.getenv("DRHOST_DR_ETL_SP") or "22222222-2222-2222-2222-222222222222"
M.REGIONS = { source = os.getenv("DRHOST_PROD_REGION") or "westeurope", target = os.getenv("DRHOST_DR_REGION") or "northeurope" }
M.RECIPIENT = "drhost_dr"
-- the two demo catalogs (the roles "sales" and "finance"), as env/dr.replication.lua lists them
function M.demo_names()
  local list = {}
  for n in (os.getenv("DRHOST_REPLICATE_CATALOGS") or "sales,finance"):gmatch("[^,%s]+") do list[#list + 1] = n end
  return { sales = list[1] or "sales", finance = list[2] or "finance" }
end

local function env(k) local v = os.getenv(k); if v and v ~= "" then return v end end

function M.credential()
  M._cred = M._cred or auth.from_env()
  return M._cred
end

-- Workspace + warehouse for a side, from DRHOST_<SIDE>_HOST/_WAREHOUSE_ID when set, else built
-- in the simulator: resource group + workspace through ARM, metastore + assignment through the
-- account API, a SQL warehouse.
function M.side(name, opts)
  opts = opts or {}
  local up = name:upper()
  local host, wh = env("DRHOST_" .. up .. "_HOST"), env("DRHOST_" .. up .. "_WAREHOUSE_ID")
  local cred = M.credential()
  if not host and not opts.no_deploy then   -- the deployment's outputs, when it ran (tools/demo.sh)
    local ok, h, w = pcall(require("replicate.cli").locate, name, { env = name == "source" and "prod" or "dr" }, true)
    if ok and h then host, wh = h, wh or w end
  end
  if not host then
    local azure = require("azure")
    local sub = assert(env("AZURE_SUBSCRIPTION_ID"), "AZURE_SUBSCRIPTION_ID not set (run under tools/with-sim.sh)")
    local arm = azure.client{ credential = cred, endpoint = env("DRHOST_ARM_ENDPOINT"), subscription_id = sub }
    local region = M.REGIONS[name]
    local rg = "/subscriptions/" .. sub .. "/resourceGroups/rg-drhost-repl-" .. name
    arm:put(rg, "2021-04-01", { location = region })
    local ws = arm:put(rg .. "/providers/Microsoft.Databricks/workspaces/dbw-repl-" .. name, "2024-05-01", {
      location = region, sku = { name = "premium" },
      properties = { managedResourceGroupId = "/subscriptions/" .. sub .. "/resourceGroups/rg-drhost-repl-" .. name .. "-managed" } })
    host = "https://" .. ws.properties.workspaceUrl
    local ws_id = tostring(ws.properties.workspaceId)
    local acct = databricks.account{ host = env("DATABRICKS_ACCOUNT_HOST"), account_id = env("DATABRICKS_ACCOUNT_ID"), credential = cred }
    local ms
    for _, m in ipairs((acct:get("/metastores") or {}).metastores or {}) do
      if m.region == region then ms = m end
    end
    if not ms then
      ms = acct:post("/metastores", { metastore_info = { name = "ms-" .. region, region = region,
        storage_root = "abfss://metastore@drhost" .. name .. "root.dfs.core.windows.net/" } }).metastore_info
    end
    acct:put("/workspaces/" .. ws_id .. "/metastores/" .. ms.metastore_id, { metastore_assignment = { default_catalog_name = "main" } })
  end
  local ws = databricks.workspace{ host = host, credential = cred }
  if not wh then
    local list = ws:get("/api/2.0/sql/warehouses") or {}
    for _, w in ipairs(list.warehouses or {}) do wh = wh or w.id end
    if not wh then
      wh = ws:post("/api/2.0/sql/warehouses", { name = "drhost-replication", cluster_size = "2X-Small",
        max_num_clusters = 1, auto_stop_mins = 10, enable_serverless_compute = true, warehouse_type = "PRO" }).id
    end
  end
  return { name = name, host = host, warehouse_id = wh, ws = ws,
    conn = sql.connect{ workspace = ws, warehouse_id = wh, wait_timeout = "10s" } }
end

local function try_post(ws, path, body)
  local r = ws:all({ { method = "POST", path = path, body = body } })[1]
  if r.error and r.status ~= 409 and tostring(r.error.code) ~= "RESOURCE_ALREADY_EXISTS" then error(r.error, 0) end
  return r.body
end

-- An Azure Databricks access connector (ARM) for a side's storage credential.
function M.access_connector(name)
  local azure = require("azure")
  local sub = assert(env("AZURE_SUBSCRIPTION_ID"), "AZURE_SUBSCRIPTION_ID not set (run under tools/with-sim.sh)")
  local arm = azure.client{ credential = M.credential(), endpoint = env("DRHOST_ARM_ENDPOINT"), subscription_id = sub }
  local rg = "/subscriptions/" .. sub .. "/resourceGroups/rg-drhost-repl-connectors-" .. name
  arm:put(rg, "2021-04-01", { location = M.REGIONS[name] })
  local ac = arm:put(rg .. "/providers/Microsoft.Databricks/accessConnectors/ac-drhost-" .. name, "2024-05-01",
    { location = M.REGIONS[name], identity = { type = "SystemAssigned" }, properties = {} })
  return ac.id
end

-- Storage credential + external location for each side's external URL (unless one already covers
-- it); the recipient for dr's metastore in prod (an existing one is reused). Returns the recipient.
function M.prerequisites(src, dst)
  for _, s in ipairs({ { side = src, url = M.PROD_EXT }, { side = dst, url = M.DR_EXT } }) do
    local covered = false
    for _, l in ipairs(s.side.ws:list("/api/2.1/unity-catalog/external-locations", nil, "external_locations")) do
      local u = l.url:gsub("/*$", "/")
      if s.url:sub(1, #u) == u then covered = true end
    end
    if not covered then
      try_post(s.side.ws, "/api/2.1/unity-catalog/storage-credentials", { name = "drhost-external",
        azure_managed_identity = { access_connector_id = M.access_connector(s.side.name) } })
      try_post(s.side.ws, "/api/2.1/unity-catalog/external-locations", { name = "drhost-external", url = s.url,
        credential_name = "drhost-external" })
    end
  end
  local dsum = dst.ws:get("/api/2.1/unity-catalog/metastore_summary")
  for _, r in ipairs(src.ws:list("/api/2.1/unity-catalog/recipients", nil, "recipients")) do
    if r.data_recipient_global_metastore_id == dsum.global_metastore_id then return r.name end
  end
  try_post(src.ws, "/api/2.1/unity-catalog/recipients", { name = M.RECIPIENT, authentication_type = "DATABRICKS",
    data_recipient_global_metastore_id = dsum.global_metastore_id })
  return M.RECIPIENT
end

local function run(conn, stmts)
  local res = conn:many(stmts, { concurrency = 1 })
  for i, r in ipairs(res) do
    if r.error then error(string.format("seed statement %d failed: %s\n  %s", i, tostring(r.error), stmts[i][1] or stmts[i]), 0) end
  end
  return res
end

-- The issue-5 sample: 2 catalogs, 4 schemas, managed + external Delta tables, an external Parquet
-- table, views on views across schemas and catalogs, a function, an external volume, tags,
-- comments, grants to several principals (one a service principal that is mapped between regions).
function M.statements(opts)
  opts = opts or {}
  local P = M.PROD_EXT .. (opts.path or "")
  local list = {
    "CREATE CATALOG IF NOT EXISTS sales MANAGED LOCATION {P}managed/sales' COMMENT 'Sales data'",
    "CREATE CATALOG IF NOT EXISTS finance MANAGED LOCATION {P}managed/finance' COMMENT 'Finance data'",
    "CREATE SCHEMA IF NOT EXISTS sales.core COMMENT 'Orders and customers'",
    "CREATE SCHEMA IF NOT EXISTS sales.reporting COMMENT 'Sales reports'",
    "CREATE SCHEMA IF NOT EXISTS finance.ledger",
    "CREATE SCHEMA IF NOT EXISTS finance.reporting",
    "CREATE TABLE IF NOT EXISTS sales.core.customers (id INT, name STRING COMMENT 'Full name', country STRING) USING DELTA COMMENT 'Customers'",
    "CREATE TABLE IF NOT EXISTS sales.core.orders (id INT, customer_id INT, amount DOUBLE COMMENT 'EUR, gross') USING DELTA COMMENT 'All orders'",
    "CREATE TABLE IF NOT EXISTS sales.core.events (id INT, kind STRING) USING DELTA LOCATION {P}sales/events'",
    "CREATE TABLE IF NOT EXISTS finance.ledger.entries (id INT, account STRING, amount DOUBLE) USING DELTA COMMENT 'General ledger'",
    "CREATE TABLE IF NOT EXISTS finance.ledger.fx_rates (currency STRING, rate DOUBLE) USING PARQUET LOCATION {P}finance/fx_rates'",
    "INSERT INTO sales.core.customers VALUES (1, 'Ada', 'DE'), (2, 'Grace', 'US'), (3, 'Linus', 'FI')",
    "INSERT INTO sales.core.orders VALUES (1, 1, 119.0), (2, 2, 238.0), (3, 3, 59.5), (4, 1, 11.9)",
    "INSERT INTO sales.core.events VALUES (1, 'signup'), (2, 'order'), (3, 'order')",
    "INSERT INTO finance.ledger.entries VALUES (1, '4000', 100.0), (2, '4000', 200.0), (3, '4100', 50.0)",
    "INSERT INTO finance.ledger.fx_rates VALUES ('USD', 1.08), ('GBP', 0.86)",
    "CREATE OR REPLACE FUNCTION sales.core.net(amount DOUBLE) RETURNS DOUBLE COMMENT 'Net of 19% VAT' RETURN amount / 1.19",
    "CREATE OR REPLACE VIEW sales.core.v_orders COMMENT 'Orders with country, net' AS SELECT o.id, c.country, "
      .. "sales.core.net(o.amount) AS net FROM sales.core.orders o JOIN sales.core.customers c ON o.customer_id = c.id",
    "CREATE OR REPLACE VIEW sales.reporting.v_by_country COMMENT 'Revenue by country' AS "
      .. "SELECT country, sum(net) AS revenue FROM sales.core.v_orders GROUP BY country -- reads sales.core.v_orders",
    "CREATE OR REPLACE VIEW finance.reporting.v_sales_vs_ledger AS SELECT 'sales.reporting' AS src, "
      .. "(SELECT sum(revenue) FROM sales.reporting.v_by_country) AS sales, (SELECT sum(amount) FROM finance.ledger.entries) AS ledger",
    "CREATE EXTERNAL VOLUME IF NOT EXISTS sales.core.landing LOCATION {P}sales/landing' COMMENT 'Landing files'",
    "ALTER CATALOG finance SET TAGS ('tier' = 'gold')",
    "ALTER SCHEMA sales.core SET TAGS ('domain' = 'sales')",
    "ALTER TABLE sales.core.customers SET TAGS ('pii' = 'true')",
    "ALTER TABLE sales.core.customers ALTER COLUMN name SET TAGS ('pii' = 'name')",
    "ALTER VIEW sales.reporting.v_by_country SET TAGS ('certified' = 'yes')",
    "ALTER VOLUME sales.core.landing SET TAGS ('zone' = 'raw')",
    "GRANT USE CATALOG ON CATALOG sales TO `analysts`",
    "GRANT USE SCHEMA ON SCHEMA sales.core TO `analysts`",
    "GRANT USE SCHEMA ON SCHEMA sales.reporting TO `analysts`",
    "GRANT SELECT ON TABLE sales.core.orders TO `analysts`",
    "GRANT SELECT ON VIEW sales.reporting.v_by_country TO `finance-team`",
    "GRANT EXECUTE ON FUNCTION sales.core.net TO `analysts`",
    "GRANT READ VOLUME ON VOLUME sales.core.landing TO `data-engineers`",
    "GRANT USE CATALOG ON CATALOG finance TO `finance-team`",
    "GRANT USE SCHEMA ON SCHEMA finance.ledger TO `finance-team`",
    "GRANT SELECT, MODIFY ON TABLE finance.ledger.entries TO `{SP}`",
    "GRANT SELECT ON TABLE finance.ledger.entries TO `auditors`",
    "ALTER SCHEMA finance.reporting OWNER TO `finance-team`",
    "ALTER VIEW finance.reporting.v_sales_vs_ledger OWNER TO `finance-team`",
  }
  local sales, finance = opts.sales or "sales", opts.finance or "finance"
  for i, st in ipairs(list) do
    st = st:gsub("{P}", function() return "'" .. P:gsub("'", "") end):gsub("{SP}", function() return M.PROD_SP end)
    st = st:gsub("%f[%w_]sales%.", sales .. "."):gsub("%f[%w_]finance%.", finance .. ".")
    st = st:gsub("CATALOG sales%f[^%w_]", "CATALOG " .. sales):gsub("CATALOG finance%f[^%w_]", "CATALOG " .. finance)
    st = st:gsub("EXISTS sales ", "EXISTS " .. sales .. " "):gsub("EXISTS finance ", "EXISTS " .. finance .. " ")
    st = st:gsub("managed/sales'", "managed/" .. sales .. "'"):gsub("managed/finance'", "managed/" .. finance .. "'")
    list[i] = st
  end
  return list
end

function M.seed(src, opts)
  local list = {}
  for i, s in ipairs(M.statements(opts)) do list[i] = { s } end
  run(src.conn, list)
end

-- Two changes: a new order (managed) and a ledger correction (managed, other catalog).
function M.change(src, opts)
  opts = opts or {}
  local sales, finance = opts.sales or "sales", opts.finance or "finance"
  run(src.conn, { { "INSERT INTO " .. sales .. ".core.orders VALUES (5, 2, 23.8)" },
    { "UPDATE " .. finance .. ".ledger.entries SET amount = amount + 1 WHERE id = 1" } })
  return { sales .. ".core.orders", finance .. ".ledger.entries" }
end

-- N small managed tables for the bench: bench.s<k>.t<i>, 50 per schema.
function M.tables(src, n)
  local list = { { "CREATE CATALOG IF NOT EXISTS bench MANAGED LOCATION " .. q.literal(M.PROD_EXT .. "managed/bench") } }
  local per = 50
  for s = 1, math.ceil(n / per) do list[#list + 1] = { "CREATE SCHEMA IF NOT EXISTS bench.s" .. s } end
  run(src.conn, list)
  local creates, inserts = {}, {}
  for i = 1, n do
    local name = string.format("bench.s%d.t%04d", math.ceil(i / per), i)
    creates[#creates + 1] = { "CREATE TABLE IF NOT EXISTS " .. name .. " (id INT, v STRING) USING DELTA" }
    inserts[#inserts + 1] = { "INSERT INTO " .. name .. " VALUES (" .. i .. ", 'x')" }
  end
  for _, batch in ipairs({ creates, inserts }) do   -- every CREATE before any INSERT
    local res = src.conn:many(batch, { concurrency = 8 })
    for i, r in ipairs(res) do if r.error then error("bench table statement: " .. batch[i][1] .. ": " .. tostring(r.error), 0) end end
  end
end

function M.touch(src, names)
  local list = {}
  for i, n in ipairs(names) do list[i] = { "INSERT INTO " .. n .. " VALUES (-1, 'changed')" } end
  local res = src.conn:many(list, { concurrency = 8 })
  for i, r in ipairs(res) do if r.error then error("touch " .. names[i] .. ": " .. tostring(r.error), 0) end end
end

-- Storage geo-replication stand-in (the simulator's admin call): copies the files of external
-- non-Delta tables under each mapped prod prefix to the dr prefix, as GRS does for real.
function M.geo_replicate(mapping)
  local admin = env("DRHOST_SIM_ADMIN")
  if not admin then return 0 end
  local http = require("http")
  local n = 0
  for src_prefix, dst_prefix in pairs(mapping) do
    local resp = http.request{ method = "POST", url = admin .. "/sql/storage/replicate",
      headers = { ["Content-Type"] = "application/json" }, body = json.encode({ source = src_prefix, target = dst_prefix }) }
    if resp.status >= 300 then error("storage replication stand-in: HTTP " .. resp.status .. " " .. tostring(resp.body), 0) end
    n = n + #((json.decode(resp.body) or {}).copied or {})
  end
  return n
end

-- dr against prod: row counts of every replicated table and view, views resolving, grants equal
-- through the principal mapping (protected principals aside). Returns ok, lines.
function M.compare(src, dst, cfg)
  local inventory = require("replicate.inventory")
  local grants = require("replicate.grants")
  local src_cats, dst_cats = {}, {}
  for s, d in pairs(cfg.catalogs) do src_cats[#src_cats + 1] = s; dst_cats[#dst_cats + 1] = d end
  local stats = {}
  local si = inventory.read{ ws = src.ws, conn = src.conn, catalogs = src_cats, stats = stats }
  local di = inventory.read{ ws = dst.ws, conn = dst.conn, catalogs = dst_cats, stats = stats }
  local lines, ok = {}, true
  local names = {}
  for full in pairs(si.tables) do names[#names + 1] = full end
  table.sort(names)
  local list_s, list_d, tgt_of = {}, {}, {}
  for _, full in ipairs(names) do
    local p = {}
    for x in full:gmatch("[^.]+") do p[#p + 1] = x end
    local tgt = cfg.catalogs[p[1]] .. "." .. p[2] .. "." .. p[3]
    tgt_of[full] = tgt
    list_s[#list_s + 1] = { "SELECT count(*) AS n FROM " .. q.name(full) }
    list_d[#list_d + 1] = { "SELECT count(*) AS n FROM " .. q.name(tgt) }
  end
  local rs, rd = src.conn:many(list_s), dst.conn:many(list_d)
  lines[#lines + 1] = string.format("%-40s %-16s %6s %6s  %s", "object", "kind", "prod", "dr", "check")
  for i, full in ipairs(names) do
    local t = si.tables[full]
    local ns = rs[i].rows and rs[i].rows[1] and rs[i].rows[1].n
    local nd = rd[i].rows and rd[i].rows[1] and rd[i].rows[1].n
    local verdict = (ns ~= nil and ns == nd) and "ok" or "DIFFERENT"
    if rd[i].error then verdict = "ERROR " .. tostring(rd[i].error) end
    if verdict:sub(1, 2) ~= "ok" then ok = false end
    lines[#lines + 1] = string.format("%-40s %-16s %6s %6s  %s", tgt_of[full], t.table_type == "VIEW" and "view" or
      (t.table_type:lower() .. "/" .. tostring(t.format or "delta"):lower()), tostring(ns), tostring(nd), verdict)
  end
  -- grants: dr's direct grants must equal prod's through the mapping (protected principals aside)
  local protected = {}
  for _, p in ipairs(cfg.protected_principals) do protected[p] = true end
  local gdiff = 0
  for key, g in pairs(si.grants) do
    local kind, full = key:match("^(%w+):(.+)$")
    local parts = {}
    for x in full:gmatch("[^.]+") do parts[#parts + 1] = x end
    parts[1] = cfg.catalogs[parts[1]] or parts[1]
    local tkey = kind .. ":" .. table.concat(parts, ".")
    local want = grants.desired(g, kind, cfg.principals)
    local have = {}
    for p, s in pairs(di.grants[tkey] or {}) do if not protected[p] then have[p] = s end end
    for p, s in pairs(want) do
      for priv in pairs(s) do
        if not (have[p] and have[p][priv]) then gdiff = gdiff + 1; lines[#lines + 1] = "grant missing in dr: " .. tkey .. " " .. p .. " " .. priv end
      end
    end
    for p, s in pairs(have) do
      for priv in pairs(s) do
        if not (want[p] and want[p][priv]) then gdiff = gdiff + 1; lines[#lines + 1] = "grant extra in dr: " .. tkey .. " " .. p .. " " .. priv end
      end
    end
  end
  local ngrants = 0
  for _ in pairs(si.grants) do ngrants = ngrants + 1 end
  lines[#lines + 1] = string.format("grants: %d securable(s) compared through the principal mapping, %d difference(s)", ngrants, gdiff)
  if gdiff > 0 then ok = false end
  return ok, lines
end

-- What tools/deltacheck.py checks: each replicated table (a row of dr's state table) with the
-- storage locations of its prod source and of its dr replica (Tables API on each side) and the
-- source version the replica records.
function M.manifest(src, dst, cfg)
  local inventory = require("replicate.inventory")
  local rows = inventory.read_state(dst, cfg.state, {})
  local names = {}
  for obj in pairs(rows) do names[#names + 1] = obj end
  table.sort(names)
  local out = {}
  for _, obj in ipairs(names) do
    local r = rows[obj]
    local s = src.ws:get("/api/2.1/unity-catalog/tables/" .. r.source)
    local d = dst.ws:get("/api/2.1/unity-catalog/tables/" .. obj)
    out[#out + 1] = { table = obj, source = r.source, source_version = r.source_version,
      source_location = s and s.storage_location, target_location = d and d.storage_location }
  end
  return out
end

-- Run tools/deltacheck.py on the manifest; returns ok, its output lines.
function M.deltacheck(src, dst, cfg)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(json.encode(json.array and json.array(M.manifest(src, dst, cfg)) or M.manifest(src, dst, cfg)))
  f:close()
  local home = os.getenv("DRHOST_HOME") or "."
  local p = assert(io.popen(string.format("%s/.venv/bin/python %s/tools/deltacheck.py %s 2>&1", home, home, path)))
  local lines = {}
  for l in p:lines() do lines[#lines + 1] = l end
  local ok = p:close()
  os.remove(path)
  return ok == true, lines
end

local function main(cmd, arg1)
  local config = require("replicate.config")
  local cfg = config.load((os.getenv("DRHOST_HOME") or ".") .. "/env/dr.replication.lua")
  if cmd == "estate" then
    local src, dst = M.side("source"), M.side("target")
    print("export DRHOST_RECIPIENT=" .. M.prerequisites(src, dst))
    for _, s in ipairs({ src, dst }) do
      local up = s.name:upper()
      print(string.format("export DRHOST_%s_HOST=%s DRHOST_%s_WAREHOUSE_ID=%s", up, s.host, up, s.warehouse_id))
    end
    return 0
  end
  local src = M.side("source")
  if cmd == "seed" then M.seed(src, M.demo_names()); print("seeded prod: " .. #M.statements() .. " statements"); return 0
  elseif cmd == "change" then print("changed: " .. table.concat(M.change(src, M.demo_names()), ", ")); return 0
  elseif cmd == "tables" then M.tables(src, tonumber(arg1) or 500); print("created " .. (arg1 or 500) .. " tables"); return 0
  elseif cmd == "external-use" then
    local who = assert(os.getenv("AZURE_CLIENT_ID"), "AZURE_CLIENT_ID")
    -- both halves vending needs: the metastore's external data access switch, then the privilege
    local ms = src.ws:get("/api/2.1/unity-catalog/metastore_summary").metastore_id
    local acct = databricks.account{ host = env("DATABRICKS_ACCOUNT_HOST"), account_id = env("DATABRICKS_ACCOUNT_ID"),
      credential = M.credential() }
    acct:put("/metastores/" .. ms, { metastore_info = { external_access_enabled = true } })
    run(src.conn, { { "GRANT EXTERNAL USE SCHEMA ON CATALOG " .. q.name(arg1 or "bench") .. " TO " .. q.name(who) } })
    return 0
  elseif cmd == "touch" then
    local names = {}
    for n in (arg1 or ""):gmatch("[^,]+") do names[#names + 1] = n end
    M.touch(src, names); return 0
  elseif cmd == "geo" then
    print("storage geo-replication stand-in: copied " .. M.geo_replicate(cfg.storage) .. " location(s)")
    return 0
  elseif cmd == "manifest" then
    local m = M.manifest(src, M.side("target"), cfg)
    print(json.encode(json.array and json.array(m) or m))
    return 0
  elseif cmd == "deltacheck" then
    local ok, lines = M.deltacheck(src, M.side("target"), cfg)
    for _, l in ipairs(lines) do print(l) end
    return ok and 0 or 1
  elseif cmd == "compare" then
    local ok, lines = M.compare(src, M.side("target"), cfg)
    for _, l in ipairs(lines) do print(l) end
    print(ok and "dr matches prod" or "dr DIFFERS from prod")
    return ok and 0 or 1
  end
  io.stderr:write("usage: drhost tools/seed-replicate.lua estate|seed|change|compare|manifest|deltacheck|tables N|touch a,b\n")
  return 2
end

local args = { ... }
if args[1] then
  os.exit(main(args[1], args[2]), true)
end
local _ = json
return M
