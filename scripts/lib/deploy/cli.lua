-- Command line of scripts/deploy.lua. See docs/deploy.md.
--   drhost scripts/deploy.lua ENV [plan] [-out FILE] [--target ADDR]... [--json] [--concurrency N]
--   drhost scripts/deploy.lua ENV apply [FILE] [--target ADDR]... [--concurrency N]
--   drhost scripts/deploy.lua ENV destroy [--target ADDR]...
--   drhost scripts/deploy.lua ENV refresh | output [NAME] | import ADDR ID | force-unlock
--   drhost scripts/deploy.lua ENV validate | state list | state show ADDR
-- Exit codes: plan 0 = no changes, 2 = changes, 1 = error; refresh 2 = drift; others 0/1.
local envfile = require("deploy.envfile")
local compose = require("deploy.compose")
local engine = require("deploy.engine")
local statefile = require("deploy.statefile")
local render = require("deploy.render")
local err = require("errors")

local M = {}

M.USAGE = [[usage: drhost scripts/deploy.lua ENV [COMMAND] [options]
commands:
  plan [-out FILE] [--target ADDR]... [--json]   show what would change (exit 2 if anything)
  apply [FILE] [--target ADDR]...                apply a saved plan, or plan and apply now
  destroy [--target ADDR]...                     delete what the state holds (reverse order)
  refresh                                        read every resource, report drift (exit 2 if any)
  import ADDR ID                                 adopt an existing object into state
  output [NAME]                                  print the outputs as JSON
  force-unlock                                   break a stale state lease
  validate                                       check the environment file and the graph
  state list | state show ADDR                   inspect the state
options: --concurrency N (default 8; 1 = serial), --env-dir DIR (default env), --compact (one line
  per resource in plans), --verbose (every property of every changed resource, and the unchanged
  resources too; without it a body shows its first lines and every security-relevant property),
  --read graph|each (plans read the estate through Resource Graph and GET only what it lacks or
  shows different (default), or GET every resource)]]

local function out(s) io.stdout:write(s, "\n"); io.stdout:flush() end
local function note(s) io.stderr:write(s, "\n"); io.stderr:flush() end

function M.parse(argv)
  local o = { targets = {}, concurrency = tonumber(os.getenv("DRHOST_DEPLOY_CONCURRENCY") or "") or 8,
    env_dir = os.getenv("DRHOST_ENV_DIR") or "env", rest = {} }
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "-out" or a == "--out" then o.out = argv[i + 1]; i = i + 1
    elseif a == "--target" or a == "-target" then o.targets[#o.targets + 1] = argv[i + 1]; i = i + 1
    elseif a == "--concurrency" then o.concurrency = tonumber(argv[i + 1]); i = i + 1
    elseif a == "--env-dir" then o.env_dir = argv[i + 1]; i = i + 1
    elseif a == "--read" then o.read = argv[i + 1]; i = i + 1
    elseif a == "--json" then o.json = true
    elseif a == "--compact" then o.compact = true
    elseif a == "--verbose" or a == "-v" then o.verbose = true
    elseif a == "-h" or a == "--help" then o.help = true
    elseif a:sub(1, 1) == "-" then err.raise("USAGE", "unknown option " .. a .. "\n" .. M.USAGE)
    else o.rest[#o.rest + 1] = a end
    i = i + 1
  end
  if not o.concurrency or o.concurrency < 1 then err.raise("USAGE", "--concurrency needs a number >= 1") end
  o.read = o.read or os.getenv("DRHOST_DEPLOY_READ") or "graph"
  if o.read ~= "graph" and o.read ~= "each" then err.raise("USAGE", "--read takes graph or each") end
  o.env = o.rest[1]
  o.command = o.rest[2] or "plan"
  o.args = { table.unpack(o.rest, 3) }
  if o.env and not o.help then M.check_command(o) end
  return o
end

-- command -> { min, max } positional arguments after it, and their names for the usage line
M.COMMANDS = {
  plan = { 0, 0, "plan" }, apply = { 0, 1, "apply [FILE]" }, destroy = { 0, 0, "destroy" },
  refresh = { 0, 0, "refresh" }, import = { 2, 2, "import ADDR ID" }, output = { 0, 1, "output [NAME]" },
  ["force-unlock"] = { 0, 0, "force-unlock" }, validate = { 0, 0, "validate" },
  state = { 0, 2, "state list | state show ADDR" },
}

--- check_command(o): the command and its arguments are valid (USAGE otherwise); nothing is read.
function M.check_command(o)
  local c = M.COMMANDS[o.command]
  if not c then
    local names = {}
    for k in pairs(M.COMMANDS) do names[#names + 1] = k end
    table.sort(names)
    err.raise("USAGE", "unknown command " .. tostring(o.command) .. " (commands: " .. table.concat(names, ", ") .. ")")
  end
  local n = #o.args
  if n < c[1] or n > c[2] then
    err.raise("USAGE", o.command .. ": expected " .. c[3] .. ", got " .. n .. " argument(s)")
  end
  if o.command == "state" then
    local sub = o.args[1] or "list"
    if not ((sub == "list" and n <= 1) or (sub == "show" and n == 2)) then
      err.raise("USAGE", "state: expected state list | state show ADDR")
    end
  end
end

local function env_names(dir)
  local names = {}
  local p = io.popen("ls -1 '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
  if p then
    for line in p:lines() do
      local n = line:match("^([a-z][a-z0-9]*)%.lua$")
      if n then names[#names + 1] = n end
    end
    p:close()
  end
  table.sort(names)
  return names
end

--- check_env_exists(name, dir): USAGE naming the environments that exist when env/NAME.lua does not.
function M.check_env_exists(name, dir)
  local f = io.open(dir .. "/" .. name .. ".lua", "r")
  if f then f:close(); return end
  local names = env_names(dir)
  err.raise("USAGE", "unknown environment " .. name .. ": no " .. dir .. "/" .. name .. ".lua (environments in " ..
    dir .. ": " .. (#names > 0 and table.concat(names, ", ") or "none") .. ")")
end

--- clients(): ARM + Databricks clients from the environment (docs/architecture.md).
function M.clients()
  local auth = require("auth")
  local azure = require("azure")
  local databricks = require("databricks")
  local cred = auth.from_env()
  local ctx = { credential = cred }
  ctx.arm = azure.client{ credential = cred, endpoint = os.getenv("DRHOST_ARM_ENDPOINT"),
    subscription_id = os.getenv("AZURE_SUBSCRIPTION_ID") }
  local host, account_id = os.getenv("DATABRICKS_ACCOUNT_HOST"), os.getenv("DATABRICKS_ACCOUNT_ID")
  if host and account_id then
    ctx.account = databricks.account{ host = host, account_id = account_id, credential = cred }
  end
  local cache = {}
  ctx.workspace_client = function(h)
    cache[h] = cache[h] or databricks.workspace{ host = h, credential = cred }
    return cache[h]
  end
  return ctx
end

local function encode(v)
  local json = require("json")
  return json.encode(v)
end

local function plan_data(p)
  local t = {}
  for k, v in pairs(p) do if k:sub(1, 1) ~= "_" then t[k] = v end end
  return t
end

local function write_file(path, s)
  local f, e = io.open(path, "w")
  if not f then err.raise("IO_ERROR", "cannot write " .. path .. ": " .. tostring(e)) end
  f:write(s)
  f:close()
end

local function read_file(path)
  local f, e = io.open(path, "r")
  if not f then err.raise("IO_ERROR", "cannot read plan file " .. path .. ": " .. tostring(e)) end
  local s = f:read("a")
  f:close()
  return s
end

local function progress(ev)
  if ev.kind == "start" then
    note(ev.addr .. ": " .. ({ create = "creating", update = "updating", replace = "replacing",
      delete = "destroying", adopt = "adopting", forget = "forgetting" })[ev.action] .. "...")
  elseif ev.kind == "done" then
    note(ev.addr .. ": " .. ev.action .. " complete" .. (ev.elapsed and (" after " .. ev.elapsed .. "s") or ""))
  elseif ev.kind == "failed" then
    note(ev.addr .. ": " .. ev.action .. " FAILED: " .. err.text(ev.error))
  elseif ev.kind == "skipped" then
    note(ev.addr .. ": skipped (" .. ev.reason .. ")")
  end
end

-- the replication config of a secondary (or of the primary's peer): read and validated by the
-- replication part's loader (scripts/lib/replicate/config.lua), defaults filled in there; a
-- broken config is an error here too
local function replication_config(env)
  local dr = env.role == "secondary" and env or env.peer_env
  local file = dr and dr.replication
  if type(file) ~= "string" then return nil end
  return require("replicate.config").load(file)
end

--- main(argv, opts) -> exit code. opts.ctx / opts.store for tests.
--- active_region(env, opts) -> the active region's name per the topology records in both
-- regions' stores (failover.regions), or nil when they cannot be read.
function M.active_region(env, opts)
  local regions = require("failover.regions")
  local stores = opts.store and { [env.name] = opts.store, [env.peer] = opts.store } or nil
  local set = regions.pair(env.peer, env.name, { getenv = opts.getenv, stores = stores })
  local ok, view = pcall(regions.topology, set)
  return ok and view.active or nil
end

function M.main(argv, opts)
  opts = opts or {}
  local o = M.parse(argv)
  if o.help then out(M.USAGE); return 0 end
  if not o.env then err.raise("USAGE", "no environment given\n" .. M.USAGE) end
  -- everything the command line names is checked before anything is contacted
  if type(o.env) ~= "string" or not o.env:match("^[a-z][a-z0-9]*$") then
    err.raise("USAGE", "environment name must be lower-case letters/digits, got " .. tostring(o.env))
  end
  M.check_env_exists(o.env, o.env_dir)
  local env = envfile.load(o.env, o.env_dir)
  local repl_cfg = replication_config(env)
  if o.command == "apply" and o.args[1] then
    local f = io.open(o.args[1], "r")
    if not f then err.raise("USAGE", "apply: cannot read plan file " .. o.args[1]) end
    f:close()
  end
  if o.command == "validate" then
    -- no cloud: identifiers from the environment show as their variable names
    local ctx = { getenv = opts.getenv or os.getenv, offline = true, replication_config = repl_cfg }
    local s = compose.build(env, ctx)
    local waves = require("deploy.engine").graph(s.resources):waves()
    out(string.format("%s: valid (%d resources, %d dependency levels, %d spokes)", env.file, #s.resources, #waves,
      #require("deploy.components.hub").spoke_names(env)))
    return 0
  end
  local store = opts.store or statefile.open_store(opts.getenv, env.name)
  local st = statefile.new(store, env.name)
  if o.command == "force-unlock" then
    st:force_unlock()
    out("state " .. st.name .. " unlocked")
    return 0
  end
  if o.command == "output" then
    local doc = st:load()
    local v = doc.outputs or {}
    if o.args[1] then v = v[o.args[1]] end
    out(encode(v))
    return 0
  end
  if o.command == "state" then
    local doc = st:load()
    if o.args[1] == "list" or o.args[1] == nil then
      local addrs = {}
      for a in pairs(doc.resources) do addrs[#addrs + 1] = a end
      table.sort(addrs)
      for _, a in ipairs(addrs) do out(a) end
      return 0
    elseif o.args[1] == "show" then
      out(encode(doc.resources[o.args[2] or ""] or require("json").null))
      return 0
    end
    err.raise("USAGE", "state list | state show ADDR")
  end

  local ctx = opts.ctx or M.clients()
  ctx.getenv = ctx.getenv or opts.getenv or os.getenv
  ctx.replication_config = repl_cfg
  -- the peer's outputs (prod's workspace and warehouse for dr's job), read from its state
  -- (each region's state lives in its own store: opts.store serves both only in tests)
  if env.peer then
    ctx.peer_outputs = require("deploy.outputs").read(env.peer, { store = opts.store, getenv = opts.getenv })
  end
  -- after a failover the secondary is the active region: its replication job stays paused, and
  -- is never (re)created there (failover.topology; docs/failover.md, "Fencing")
  if env.peer and env.role == "secondary" then ctx.active_region = M.active_region(env, opts) end
  local stack = compose.build(env, ctx)

  st:lock()
  local code
  local ok, e = pcall(function()
    local doc = st:load()
    if ctx.active_region == env.name and not doc.resources["replication.job"] and o.command ~= "destroy" then
      err.raise{ code = "REFUSED", user = true, message = env.name .. " is the active region (after a failover): "
        .. "deploying it would create the replication job, which would clone " .. env.peer .. " into " .. env.name
        .. " over the writes made there. Fail back first (drhost scripts/failover.lua failback)." }
    end
    local function finish_outputs()
      doc.outputs = engine.outputs(stack, doc)
      st:save()
    end
    if o.command == "plan" then
      local p = engine.plan(ctx, stack, doc, { targets = o.targets, concurrency = o.concurrency, read = o.read })
      if o.json then out(encode(plan_data(p))) else out(render.plan(p, { verbose = o.verbose, compact = o.compact })) end
      if o.out then
        write_file(o.out, encode(plan_data(p)))
        note("Saved the plan to " .. o.out .. "; apply it with: drhost scripts/deploy.lua " .. env.name .. " apply " .. o.out)
      end
      if p.errors > 0 then
        for _, x in ipairs(p._errors) do note("error reading " .. x.addr .. ": " .. err.text(x.error)) end
        code = 1
      else
        code = p.changes > 0 and 2 or 0
      end
    elseif o.command == "apply" or o.command == "destroy" then
      local p
      if o.command == "apply" and o.args[1] then
        p = require("json").decode(read_file(o.args[1]))
        engine.check_plan(p, doc, stack)
      else
        p = engine.plan(ctx, stack, doc, { targets = o.targets, concurrency = o.concurrency,
          destroy = o.command == "destroy", read = o.read })
        out(render.plan(p, { compact = o.compact, verbose = o.verbose }))
        if p.errors > 0 then
          for _, x in ipairs(p._errors) do note("error reading " .. x.addr .. ": " .. err.text(x.error)) end
          err.raise("PLAN_FAILED", "the plan could not read " .. p.errors .. " resource(s); nothing was applied")
        end
      end
      local t0 = os.time()
      local rep = engine.apply(ctx, stack, st, p, { concurrency = o.concurrency, on_event = progress })
      finish_outputs()
      out(render.report(rep, o.command == "destroy" and "Destroy" or "Apply"))
      note(string.format("elapsed %ds", os.time() - t0))
      code = rep.ok and 0 or 1
    elseif o.command == "refresh" then
      local drift = engine.refresh(ctx, stack, st, { concurrency = o.concurrency, read = o.read })
      doc.outputs = engine.outputs(stack, doc)
      st:save()
      if #drift == 0 then out("No drift: every resource in state matches the configuration.")
      else
        out(#drift .. " resource(s) drifted from the configuration:")
        for _, a in ipairs(drift) do
          out("  ~ " .. a.addr .. ": " .. a.reason)
          for _, c in ipairs(a.changes or {}) do
            out("      " .. c.path .. ": " .. tostring(type(c.new) == "table" and encode(c.new) or c.new) ..
              " (declared) vs " .. tostring(type(c.old) == "table" and encode(c.old) or c.old) .. " (live)")
          end
        end
        out("Run apply to repair.")
      end
      code = #drift > 0 and 2 or 0
    elseif o.command == "import" then
      local addr, id = o.args[1], o.args[2]
      if not addr or not id then err.raise("USAGE", "import ADDR ID") end
      engine.import(ctx, stack, st, addr, id)
      finish_outputs()
      out("Imported " .. addr .. " (" .. id .. ")")
      code = 0
    else
      err.raise("USAGE", "unknown command " .. tostring(o.command))
    end
  end)
  st:unlock()
  if not ok then error(e, 0) end
  return code
end

return M
