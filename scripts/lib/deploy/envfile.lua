-- Environment files (env/<name>.lua): loading in a sandbox, validation with specific errors
-- (file, key, what was expected), and the derived layout (subnets, names).
local cidr = require("deploy.cidr")
local err = require("errors")
local loader = require("loader")

local M = {}

-- Azure regions where Azure Databricks is offered (public cloud), lower-case ARM names.
M.REGIONS = {}
for r in ([[australiacentral australiacentral2 australiaeast australiasoutheast brazilsouth
  canadacentral canadaeast centralindia centralus eastasia eastus eastus2 francecentral
  germanywestcentral israelcentral italynorth japaneast japanwest koreacentral mexicocentral
  northcentralus northeurope norwayeast polandcentral qatarcentral southafricanorth southcentralus
  southeastasia southindia spaincentral swedencentral switzerlandnorth switzerlandwest uaenorth
  uksouth ukwest westcentralus westeurope westindia westus westus2 westus3]]):gmatch("%S+") do
  M.REGIONS[r] = true
end

-- The shape of an environment file: every key at every level, with its type. The loader
-- (modules/loader.lua) checks it first (a wrong type or an unknown key anywhere is an error
-- naming its path); validate() then checks what types cannot say (regions, CIDRs, overlaps,
-- derived name lengths, what the peer says). docs/deploy.md, "Environment reference".
local S = loader.schema
local name_s = S.string{ what = "a lower-case name like 'prod'" }
local env_var_s = S.string{ what = "the NAME of an environment variable" }
M.SCHEMA = S.record({
  name = name_s,
  role = S.enum{ "primary", "secondary", what = "'primary' or 'secondary'" },
  peer = S.string{ what = "the peer environment's name (e.g. 'dr')" },
  region = S.string{ what = "an Azure region where Databricks is available (e.g. westeurope, northeurope)" },
  prefix = S.string{ what = "1-6 lower-case letters/digits starting with a letter (used in storage account names)" },
  hub = S.record({ cidr = S.string{ what = "an IPv4 CIDR like 10.10.0.0/22" } },
    { what = "a table { cidr = '10.x.0.0/22' }" }),
  spokes = S.map(S.record({
    cidr = S.string{ what = "an IPv4 CIDR like 10.11.0.0/20" },
    catalog = S.string{ what = "a catalog name (lower-case letters, digits, _)" },
    front_end_private_link = S.boolean{},
  }, { what = "a table { cidr = ... }" }), { what = "a map name -> { cidr = ... } with at least one spoke" }),
  tags = S.map(S.string{ what = "a string value" }, { what = "a map of strings" }),
  identities = S.record({
    admin_group = S.string{ what = "the admin group's name" },
    databricks_sp_object_id_env = env_var_s,
    replication_sp_app_id_env = env_var_s,
  }, { what = "a table { admin_group = ..., replication_sp_app_id_env = ..., databricks_sp_object_id_env = ... }" }),
  firewall = S.record({
    allowed_fqdns = S.list(S.string{ what = "a plain host name without wildcards" },
      { what = "a list of host names (package mirrors etc.)" }),
  }, { what = "a table { allowed_fqdns = { ... } }" }),
  notify = S.list(S.string{ what = "an e-mail address" }, { what = "a list of e-mail addresses" }),
  front_end_private_link = S.boolean{},
  dbfs_private_endpoints = S.boolean{},
  replication = S.string{ what = "the replication config file (env/dr.replication.lua)" },
  rpo_target = S.integer{ what = "the recovery point objective in seconds (e.g. 900); failover.lua status exits 3 beyond it" },
  entry_point = S.record({
    zone_id = S.string{ what = "the ARM id of an Azure DNS zone the environment owns" },
    record = S.string{ what = "the CNAME record's relative name (e.g. 'databricks')" },
    ttl = S.integer{ what = "the record's TTL in seconds (e.g. 60)" },
  }, { what = "{ zone_id = '/subscriptions/.../dnsZones/example.com', record = 'databricks', ttl = 60 }" }),
  replication_schedule = S.record({
    quartz_cron = S.string{ what = "a Quartz cron expression like '0 0/30 * * * ?'" },
    timezone = S.string{ what = "a time zone id like 'UTC'" },
  }, { what = "{ quartz_cron = '0 0/30 * * * ?', timezone = 'UTC' }" }),
}, { what = "a table", known = "one of the documented keys (see docs/deploy.md, \"Environment reference\")" })

local function covered(reported, key)
  -- a problem already reported for key or for a table that holds it
  local p = key
  while p and p ~= "" do
    if reported[p] then return true end
    p = p:match("^(.*)[%.%[][^%.%[]*$")
  end
  return false
end

local function checker(file)
  local problems = {}
  local reported = {}
  local c = {}
  function c.add(text, key)
    problems[#problems + 1] = text
    reported[key] = true
  end
  function c.fail(key, expected, got)
    if covered(reported, key) then return end
    local g
    if type(got) == "string" then g = "'" .. got .. "'" elseif got == nil then g = "nothing" else g = tostring(got) end
    c.add(file .. ": " .. key .. ": expected " .. expected .. ", got " .. g, key)
  end
  function c.problems() return problems end
  function c.string(t, key, path, pattern, what)
    local v = t[key]
    if type(v) ~= "string" or v == "" or (pattern and not v:match(pattern)) then
      c.fail(path, what or "a non-empty string", v)
      return nil
    end
    return v
  end
  return c
end

local function sorted_names(t)
  local names = {}
  for k in pairs(t) do names[#names + 1] = k end
  table.sort(names, function(a, b) return tostring(a) < tostring(b) end)
  return names
end

--- load_file(path) -> table (the file runs in an empty sandbox: no globals, no I/O).
function M.load_file(path)
  return loader.run(path, { code = "ENV_INVALID", not_found_code = "ENV_NOT_FOUND", what = "environment file" })
end

--- cidrs(env) -> list of {key, cidr} for the hub and every spoke.
function M.cidrs(env)
  local out = {}
  if type(env.hub) == "table" and type(env.hub.cidr) == "string" then out[#out + 1] = { "hub.cidr", env.hub.cidr } end
  if type(env.spokes) == "table" then
    for _, n in ipairs(sorted_names(env.spokes)) do
      local s = env.spokes[n]
      if type(s) == "table" and type(s.cidr) == "string" then out[#out + 1] = { "spokes." .. n .. ".cidr", s.cidr } end
    end
  end
  return out
end

--- validate(env, file, peer, peer_file) -> nothing; raises ENV_INVALID listing every problem.
function M.validate(env, file, peer, peer_file)
  local c = checker(file)
  for _, p in ipairs(loader.problems(env, M.SCHEMA, file)) do c.add(p.text, p.path) end
  c.string(env, "name", "name", "^[a-z][a-z0-9]*$", "a lower-case name like 'prod'")
  local region = env.region
  if type(region) ~= "string" or not M.REGIONS[region] then
    c.fail("region", "an Azure region where Databricks is available (e.g. westeurope, northeurope)", region)
  end
  if env.role ~= "primary" and env.role ~= "secondary" then
    c.fail("role", "'primary' or 'secondary'", env.role)
  end
  c.string(env, "peer", "peer", "^[a-z][a-z0-9]*$", "the peer environment's name (e.g. 'dr')")
  if env.peer ~= nil and env.peer == env.name then c.fail("peer", "another environment than itself", env.peer) end
  c.string(env, "prefix", "prefix", "^[a-z][a-z0-9]?[a-z0-9]?[a-z0-9]?[a-z0-9]?[a-z0-9]?$",
    "1-6 lower-case letters/digits starting with a letter (used in storage account names)")
  -- hub
  if type(env.hub) ~= "table" then
    c.fail("hub", "a table { cidr = '10.x.0.0/22' }", env.hub)
  else
    local h, why = cidr.parse(env.hub.cidr)
    if not h then c.fail("hub.cidr", "an IPv4 CIDR like 10.10.0.0/22 (" .. tostring(why) .. ")", env.hub.cidr)
    elseif h.prefix > 24 or h.prefix < 16 then
      c.fail("hub.cidr", "a prefix between /16 and /24 (firewall and private link subnets are /26)", env.hub.cidr)
    end
  end
  -- spokes
  if type(env.spokes) ~= "table" then
    c.fail("spokes", "a map name -> { cidr = ... } with at least one spoke", env.spokes)
  elseif next(env.spokes) == nil then
    c.fail("spokes", "at least one spoke (the map is empty)", "{}")
  else
    for _, n in ipairs(sorted_names(env.spokes)) do
      local s = env.spokes[n]
      local key = "spokes." .. tostring(n)
      if type(n) ~= "string" or not n:match("^[a-z][a-z0-9]*$") or #n > 10 then
        c.fail(key, "a spoke name of 1-10 lower-case letters/digits starting with a letter", tostring(n))
      elseif type(s) ~= "table" then
        c.fail(key, "a table { cidr = ... }", s)
      else
        local p, why = cidr.parse(s.cidr)
        if not p then c.fail(key .. ".cidr", "an IPv4 CIDR like 10.11.0.0/20 (" .. tostring(why) .. ")", s.cidr)
        elseif p.prefix > 22 or p.prefix < 16 then
          c.fail(key .. ".cidr", "a prefix between /16 and /22 (host, container and private link subnets)", s.cidr)
        end
        if s.catalog ~= nil and (type(s.catalog) ~= "string" or not s.catalog:match("^[a-z][a-z0-9_]*$")) then
          c.fail(key .. ".catalog", "a catalog name (lower-case letters, digits, _)", s.catalog)
        end
      end
    end
  end
  -- derived names that Azure limits: storage accounts (3-24 letters/digits), Key Vault (3-24)
  if type(env.prefix) == "string" and type(env.name) == "string" then
    if #("kv-" .. env.prefix .. "-" .. env.name .. "-cmk") > 24 then
      c.fail("name", "a shorter name: the Key Vault name kv-" .. env.prefix .. "-" .. env.name ..
        "-cmk must fit in 24 characters", env.name)
    end
    if type(env.spokes) == "table" then
      for _, n in ipairs(sorted_names(env.spokes)) do
        if type(n) == "string" and #(env.prefix .. env.name .. n .. "dbfs") > 24 then
          c.fail("spokes." .. n, "a shorter spoke name: storage account " .. env.prefix .. env.name .. n ..
            "dbfs (prefix + env name + spoke + suffix) must fit in 24 characters", n)
        end
      end
    end
  end
  -- overlaps inside the environment
  local list = M.cidrs(env)
  for i = 1, #list do
    for j = i + 1, #list do
      if cidr.parse(list[i][2]) and cidr.parse(list[j][2]) and cidr.overlap(list[i][2], list[j][2]) then
        c.fail(list[j][1], "an address space that does not overlap " .. list[i][1] .. " (" .. list[i][2] .. ")",
          list[j][2])
      end
    end
  end
  -- overlaps with the peer environment (the regions may be connected for fail-over)
  if type(peer) == "table" then
    local theirs = M.cidrs(peer)
    for _, a in ipairs(list) do
      for _, b in ipairs(theirs) do
        if cidr.parse(a[2]) and cidr.parse(b[2]) and cidr.overlap(a[2], b[2]) then
          c.fail(a[1], "an address space that does not overlap the peer's " .. b[1] .. " (" .. b[2] .. " in " ..
            tostring(peer_file) .. ")", a[2])
        end
      end
    end
    if peer.region == env.region and region ~= nil then
      c.fail("region", "a different region than the peer environment (" .. tostring(peer_file) .. ")", region)
    end
    if peer.peer ~= nil and peer.peer ~= env.name then
      c.fail("peer", "an environment whose own peer is this one (" .. tostring(peer_file) .. " names " ..
        tostring(peer.peer) .. ")", env.peer)
    end
  end
  -- tags
  if env.tags ~= nil then
    if type(env.tags) ~= "table" then c.fail("tags", "a map of strings", env.tags)
    else
      for k, v in pairs(env.tags) do
        if type(k) ~= "string" or type(v) ~= "string" then c.fail("tags." .. tostring(k), "a string value", v) end
      end
    end
  end
  -- identities
  if type(env.identities) ~= "table" then
    c.fail("identities", "a table { admin_group = ..., replication_sp_app_id_env = ..., " ..
      "databricks_sp_object_id_env = ... }", env.identities)
  else
    local ids = env.identities
    c.string(ids, "admin_group", "identities.admin_group", nil, "the admin group's name")
    c.string(ids, "databricks_sp_object_id_env", "identities.databricks_sp_object_id_env", "^[A-Z][A-Z0-9_]*$",
      "the NAME of the environment variable holding the AzureDatabricks first-party SP object id")
    c.string(ids, "replication_sp_app_id_env", "identities.replication_sp_app_id_env", "^[A-Z][A-Z0-9_]*$",
      "the NAME of the environment variable holding the replication SP's application id")
  end
  -- firewall
  if type(env.firewall) ~= "table" or type(env.firewall.allowed_fqdns) ~= "table" then
    c.fail("firewall.allowed_fqdns", "a list of host names (package mirrors etc.)",
      type(env.firewall) == "table" and env.firewall.allowed_fqdns or env.firewall)
  else
    for i, f in ipairs(env.firewall.allowed_fqdns) do
      if type(f) ~= "string" or not f:match("^[%w][%w%-%.]*%.[%a][%w%-]*$") or f:find("%*") then
        c.fail("firewall.allowed_fqdns[" .. i .. "]", "a plain host name without wildcards", f)
      end
    end
  end
  if env.entry_point ~= nil then
    local ep = env.entry_point
    if type(ep.zone_id) ~= "string" or not ep.zone_id:match("^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
        .. "Microsoft%.Network/dnsZones/[%w%-%.]+$") then
      c.fail("entry_point.zone_id", "the ARM id of an Azure DNS zone (/subscriptions/.../resourceGroups/.../providers/"
        .. "Microsoft.Network/dnsZones/example.com)", ep.zone_id)
    end
    if type(ep.record) ~= "string" or not ep.record:match("^[%w][%w%-]*$") then
      c.fail("entry_point.record", "a record name like 'databricks' (letters, digits, -)", ep.record)
    end
    if ep.ttl ~= nil and (ep.ttl < 1 or ep.ttl > 86400) then c.fail("entry_point.ttl", "1..86400 seconds", ep.ttl) end
    if env.role ~= "primary" then
      c.fail("entry_point", "no entry point in the secondary: the primary's env file names it (failover moves it)", ep)
    end
  end
  if env.rpo_target ~= nil and env.rpo_target < 1 then c.fail("rpo_target", "a positive number of seconds", env.rpo_target) end
  if env.notify ~= nil then
    if type(env.notify) ~= "table" then c.fail("notify", "a list of e-mail addresses", env.notify)
    else
      for i, m in ipairs(env.notify) do
        if type(m) ~= "string" or not m:match("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
          c.fail("notify[" .. i .. "]", "an e-mail address", m)
        end
      end
    end
  end
  -- replication
  if env.role == "secondary" then
    c.string(env, "replication", "replication", "%.lua$", "the replication config file (env/dr.replication.lua)")
    local sch = env.replication_schedule
    if type(sch) ~= "table" or type(sch.quartz_cron) ~= "string" or type(sch.timezone) ~= "string" then
      c.fail("replication_schedule", "{ quartz_cron = '0 0/30 * * * ?', timezone = 'UTC' }", sch)
    end
  elseif env.replication ~= nil then
    c.fail("replication", "nothing: only the secondary (dr) runs replication", env.replication)
  end
  local problems = c.problems()
  if #problems > 0 then
    err.raise("ENV_INVALID", table.concat(problems, "\n"), { details = { problems = problems }, target = file })
  end
end

--- load(name, dir) -> env (validated against its peer), with env.file and env.peer_env.
function M.load(name, dir)
  dir = dir or "env"
  if type(name) ~= "string" or not name:match("^[a-z][a-z0-9]*$") then
    err.raise("ENV_INVALID", "environment name must be lower-case letters/digits, got " .. tostring(name))
  end
  local file = dir .. "/" .. name .. ".lua"
  local env = M.load_file(file)
  local peer, peer_file
  if type(env.peer) == "string" and env.peer:match("^[a-z][a-z0-9]*$") then
    peer_file = dir .. "/" .. env.peer .. ".lua"
    peer = M.load_file(peer_file)
  end
  M.validate(env, file, peer, peer_file)
  if env.name ~= name then
    err.raise("ENV_INVALID", file .. ": name: expected '" .. name .. "' (the file name), got '" .. tostring(env.name) .. "'")
  end
  env.file = file
  env.peer_env = peer
  return env
end

return M
