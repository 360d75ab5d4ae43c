-- The REPL helpers end to end: input piped into the drhost binary (no tty) against the simulator;
-- checks the printed tables. Run under tools/with-sim.sh.
local sql = require("sql")

local ADMIN = os.getenv("DRHOST_SIM_ADMIN")

-- The drhost binary under test: $DRHOST_BIN (set by tools/suites/busted.inc), else the binary
-- running this spec (the shell popen starts is our child), else build/drhost.
local function drhost_binary()
  local bin = os.getenv("DRHOST_BIN")
  if bin and bin ~= "" then return bin end
  local p = io.popen("readlink /proc/$PPID/exe 2>/dev/null")
  local exe = p and p:read("l")
  if p then p:close() end
  exe = exe and exe:gsub(" %(deleted%)$", "")
  if exe and exe:match("drhost[^/]*$") then return exe end
  return "build/drhost"
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function run_repl(dir, input, extra_env)
  local infile = dir .. "/input.txt"
  local f = assert(io.open(infile, "w"))
  f:write(input)
  f:close()
  local home = os.getenv("DRHOST_HOME") or "."
  if home:sub(1, 1) ~= "/" then home = os.getenv("PWD") .. "/" .. home end
  local cmd = string.format("cd %s && %s DRHOST_HOME=%s %s < %s 2>&1", shell_quote(dir), extra_env or "",
    shell_quote(home), shell_quote(drhost_binary()), shell_quote(infile))
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local function has_line(out, pattern)
  for line in out:gmatch("[^\n]+") do
    if line:find(pattern) then return true end
  end
  return false
end

describe("REPL helpers (simulator, piped into drhost)", function()
  if not ADMIN then
    it("needs the simulator (tools/with-sim.sh)", function() pending("DRHOST_SIM_ADMIN not set") end)
    return
  end

  local w, wh, dir
  setup(function()
    local estate = dofile("spec/integration/cloud_estate.lua")
    w = estate.workspace("h3-repl", "westeurope")
    wh = estate.warehouse(w.ws)
    local r = w.ws:all({ { method = "POST", path = "/api/2.1/unity-catalog/catalogs",
                           body = { name = "h3_repl", comment = "repl spec" } } })[1]
    assert(not r.error or r.status == 409, r.error and tostring(r.error))
    local conn = sql.connect{ workspace = w.ws, warehouse_id = wh }
    conn:exec("CREATE SCHEMA IF NOT EXISTS h3_repl.s")
    conn:exec("CREATE OR REPLACE TABLE h3_repl.s.t (id BIGINT, name STRING)")
    conn:exec("INSERT INTO h3_repl.s.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    conn:exec("GRANT SELECT ON TABLE h3_repl.s.t TO `account users`")
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. shell_quote(dir .. "/env")))
    local envf = assert(io.open(dir .. "/env/h3repl.lua", "w"))
    envf:write(string.format("return { name = 'h3repl', region = 'westeurope', workspace_host = %q,"
      .. " warehouse_id = %q }\n", w.host, wh))
    envf:close()
  end)
  teardown(function() if dir then os.execute("rm -rf " .. shell_quote(dir)) end end)

  it(":env, then sql prints the rows as a table", function()
    local out = run_repl(dir, table.concat({
      ":env h3repl",
      'sql("SELECT id, name FROM h3_repl.s.t WHERE id <= :n ORDER BY id", { n = 2 })',
      "" }, "\n"))
    assert.is_true(has_line(out, "^id%s+|%s+name$"), out)
    assert.is_true(has_line(out, "^1%s+|%s+a$"), out)
    assert.is_true(has_line(out, "^2%s+|%s+b$"), out)
    assert.is_false(has_line(out, "^3%s+|%s+c$"), out)
    assert.is_true(has_line(out, "^%(2 rows%)$"), out)
  end)

  it("prints a result's columns in the statement's order, not alphabetically", function()
    local out = run_repl(dir, table.concat({
      ":env h3repl",
      'sql("SELECT name, id FROM h3_repl.s.t WHERE id = 1")',
      "" }, "\n"))
    assert.is_true(has_line(out, "^name%s+|%s+id$"), out)
    assert.is_true(has_line(out, "^a%s+|%s+1$"), out)
  end)

  it("uc.ls lists catalogs, schemas and tables; uc.grants the direct grants", function()
    local out = run_repl(dir, table.concat({
      ":env h3repl",
      "uc.ls()",
      'uc.ls("h3_repl")',
      'uc.ls("h3_repl.s")',
      'uc.grants("h3_repl.s.t")',
      "" }, "\n"))
    assert.is_true(has_line(out, "^comment%s+|%s+name%s+|%s+owner%s+|%s+type$"), out)
    assert.is_true(has_line(out, "^repl spec%s+|%s+h3_repl%s+|"), out)
    assert.is_true(has_line(out, "|%s+h3_repl%.s%s+|%s+s%s+|"), out) -- schema row: comment | full_name | name
    assert.is_true(has_line(out, "|%s+t%s+|"), out)                  -- the table
    assert.is_true(has_line(out, "^principal%s+|%s+privilege$"), out)
    assert.is_true(has_line(out, "^account users%s+|%s+SELECT$"), out)
  end)

  it("errors are reported and the REPL keeps going", function()
    local out = run_repl(dir, table.concat({
      'sql "SELECT 1"',
      ":env no_such_env",
      ":env h3repl",
      'sql "SELECT * FROM h3_repl.s.missing"',
      'api.get("/api/2.1/unity-catalog/catalogs/h3_repl").comment',
      "" }, "\n"))
    assert.truthy(out:find("NOT_CONNECTED", 1, true), out)
    assert.truthy(out:find("ENV_NOT_FOUND", 1, true), out)
    assert.truthy(out:find("TABLE_OR_VIEW_NOT_FOUND", 1, true), out)
    assert.is_true(has_line(out, '^"repl spec"$') or has_line(out, "^repl spec$"), out)
  end)

  it("a SQL error prints one line and the REPL goes on", function()
    local out = run_repl(dir, ':env h3repl\nsql "SELECT * FROM h3_repl.s.missing"\nprint("after")\n')
    local lines = {}
    for line in out:gmatch("[^\n]+") do
      if line:find("TABLE_OR_VIEW_NOT_FOUND", 1, true) then lines[#lines + 1] = line end
    end
    assert.are.equal(1, #lines, out)
    assert.matches("^drhost: [%w_]+: %[TABLE_OR_VIEW_NOT_FOUND%] ", lines[1])
    assert.is_nil(out:find("traceback", 1, true), out)
    assert.is_nil(out:find("statement_id:", 1, true), out)
    assert.matches("after\n$", out)
  end)

  it("Ctrl-C during a statement prints one line, cancels it on the warehouse, and the REPL goes on", function()
    local http, json = require("http"), require("json")
    local function admin(method, path, body)
      local r = http.request{ method = method, url = ADMIN .. path, body = body and json.encode(body) or nil,
                              headers = { ["Content-Type"] = "application/json" } }
      return r.body ~= "" and json.decode(r.body) or nil
    end
    admin("POST", "/sql/config", { delay_ms = 8000 })
    admin("DELETE", "/stats")
    local infile = dir .. "/ctrlc.txt"
    local f = assert(io.open(infile, "w"))
    f:write(':env h3repl\nsql "SELECT 8 AS eight"\nprint("after")\n')
    f:close()
    local home = os.getenv("DRHOST_HOME") or "."
    if home:sub(1, 1) ~= "/" then home = os.getenv("PWD") .. "/" .. home end
    local p = io.popen(string.format("cd %s && DRHOST_HOME=%s %s < %s > out.txt 2>&1 & pid=$!; sleep 3; " ..
      "kill -INT $pid; wait $pid; echo rc=$?; cat %s/out.txt", shell_quote(dir), shell_quote(home),
      shell_quote(drhost_binary()), shell_quote(infile), shell_quote(dir)))
    local out = p:read("a")
    p:close()
    admin("POST", "/sql/config", { delay_ms = 0 })
    assert.matches("rc=0", out)
    assert.matches("\ndrhost: CANCELLED: interrupted by SIGINT\nafter\n", out)
    local stats = admin("GET", "/stats")
    assert.are.equal(1, stats.by_route["workspace POST /api/2.0/sql/statements/{statement_id}/cancel"],
      json.encode(stats.by_route))
  end)

  it(":env dr without a host in env/dr.lua finds it in the deployment's outputs", function()
    local state_dir = dir .. "/state"
    local store = require("blobstate").open{ path = state_dir }
    -- a state document as deploy.lua writes it (read through deploy.outputs)
    local json = require("json")
    store:write("dr.tfstate", json.encode{ version = 1, serial = 1, env = "dr", resources = json.object({}),
                                           outputs = { primary_workspace_url = w.host, warehouse_id = wh } })
    local out = run_repl(dir, ':env dr\nsql "SELECT 7 AS seven"\n',
      "DRHOST_STATE=local DRHOST_STATE_DIR=" .. shell_quote(state_dir) .. " DRHOST_DR_HOST= DATABRICKS_HOST=")
    assert.truthy(out:find("deployment outputs of dr", 1, true), out)
    assert.truthy(out:find(w.host, 1, true), out)
    assert.is_true(has_line(out, "^7$"), out)
  end)

  it("DRHOST_<ENV>_HOST overrides the env file's host", function()
    local envf = assert(io.open(dir .. "/env/h3bogus.lua", "w"))
    envf:write("return { workspace_host = 'https://adb-1.invalid.example', warehouse_id = '" .. wh .. "' }\n")
    envf:close()
    local out = run_repl(dir, ':env h3bogus\nsql "SELECT 5 AS five"\n', "DRHOST_H3BOGUS_HOST=" .. shell_quote(w.host))
    assert.truthy(out:find("DRHOST_H3BOGUS_HOST", 1, true), out)
    assert.is_nil(out:find("invalid.example", 1, true), out)
    assert.is_true(has_line(out, "^5$"), out)
  end)
end)
