-- Shared by the replicate_*_spec.lua integration specs: an isolated estate per spec file (unique
-- catalog, share, state and storage names on the simulator's prod/dr workspaces), a config file
-- for it, and a runner for the CLI as a child process (so exit codes and kills are real).
local json = require("json")
local H = {}

H.BIN = os.getenv("DRHOST_BIN") or "build/drhost"

function H.seedlib()
  H.seed = H.seed or dofile("tools/seed-replicate.lua")
  return H.seed
end

local function hex(n)
  local crypto = require("crypto")
  return (crypto.random_bytes(n):gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- opts: { tag=, rename = true (dr sales catalog gets a _dr suffix), extra = {config fields} }
function H.setup(tag, opts)
  opts = opts or {}
  local seed = H.seedlib()
  -- hermetic: own workspaces, never the deployment's (other specs may have deployed prod/dr)
  local src, dst = seed.side("source", { no_deploy = true }), seed.side("target", { no_deploy = true })
  local recipient = seed.prerequisites(src, dst)
  local id = tag .. hex(3)
  local ctx = { src = src, dst = dst, id = id, names = { sales = "s_" .. id, finance = "f_" .. id, path = id .. "/" } }
  ctx.dr_sales = opts.rename == false and ctx.names.sales or (ctx.names.sales .. "_dr")
  local cfg = {
    source = { host = src.host, warehouse_id = src.warehouse_id },
    target = { host = dst.host, warehouse_id = dst.warehouse_id },
    catalogs = { [ctx.names.sales] = ctx.dr_sales, [ctx.names.finance] = ctx.names.finance },
    storage = { [seed.PROD_EXT .. id .. "/"] = seed.DR_EXT .. id .. "/" },
    sharing = { recipient = recipient, share_prefix = "drhost_" .. id, catalog_prefix = "src_" .. id },
    state = { catalog = "ops_" .. id, managed_location = seed.DR_EXT .. id .. "/ops" },
    principals = { map = { [seed.PROD_SP] = seed.DR_SP } },
    protected_principals = { "dr-breakglass" },
    parallelism = 4,
  }
  for k, v in pairs(opts.extra or {}) do cfg[k] = v end
  ctx.cfg_table = cfg
  ctx.config = os.tmpname()
  H.write_config(ctx, cfg)
  ctx.cfg = require("replicate.config").load(ctx.config)
  return ctx
end

local function serialize(v, indent)
  indent = indent or ""
  if type(v) == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do
      local key = type(k) == "number" and "" or ("[" .. string.format("%q", k) .. "] = ")
      parts[#parts + 1] = indent .. "  " .. key .. serialize(v[k], indent .. "  ")
    end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
  elseif type(v) == "string" then return string.format("%q", v)
  else return tostring(v) end
end

function H.write_config(ctx, cfg, extra_text)
  local f = assert(io.open(ctx.config, "w"))
  f:write("return ", serialize(cfg), "\n")
  f:close()
  if extra_text then
    f = assert(io.open(ctx.config, "w"))
    f:write(extra_text)
    f:close()
  end
end

-- Run the CLI: returns exit code, decoded JSON (or nil), stdout, stderr.
function H.run(ctx, args, prefix)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = string.format("%s%s scripts/replicate.lua dr %s --config %s >%s 2>%s", prefix or "", H.BIN, args, ctx.config, out, err)
  local ok, how, code = os.execute(cmd)
  local function slurp(p) local f = io.open(p); local s = f and f:read("a") or ""; if f then f:close() end; os.remove(p); return s end
  local so, se = slurp(out), slurp(err)
  local doc
  if args:match("%-%-json") then
    local okj, d = pcall(json.decode, so)
    if okj then doc = d end
  end
  local rc = ok and 0 or (how == "exit" and code or 128 + (code or 0))
  return rc, doc, so, se
end

function H.seed_prod(ctx) H.seedlib().seed(ctx.src, ctx.names) end

function H.compare(ctx)
  H.seedlib().geo_replicate(ctx.cfg.storage)
  return H.seedlib().compare(ctx.src, ctx.dst, ctx.cfg)
end

-- The independent check (tools/deltacheck.py): dr's replicas, read from Azurite with delta-rs,
-- equal prod's tables at the versions dr's state table records. Returns ok, its output.
function H.deltacheck(ctx)
  local ok, lines = H.seedlib().deltacheck(ctx.src, ctx.dst, ctx.cfg)
  return ok, table.concat(lines, "\n")
end

-- The simulator's admin API (faults, stats).
function H.admin(method, path, body)
  local http = require("http")
  local base = assert(os.getenv("DRHOST_SIM_ADMIN"), "DRHOST_SIM_ADMIN not set")
  local resp = http.request{ method = method, url = base .. path, body = body and json.encode(body) or nil,
    headers = { ["Content-Type"] = "application/json" } }
  assert(resp.status < 300, "admin " .. method .. " " .. path .. ": " .. tostring(resp.status) .. " " .. tostring(resp.body))
  return resp.body ~= "" and json.decode(resp.body) or nil
end

function H.count_clones(doc)
  return doc and doc.clones and #doc.clones or -1
end

return H
