-- failover.parity: does dr mirror prod? Workspace assets compared per spoke workspace, by name:
-- jobs (present, paused in the standby region, same definition apart from the fields that must
-- differ per region), cluster policies, SQL warehouses, secret scopes (names and keys, never values).
--
--   local parity = require("failover.parity")
--   local findings = parity.compare(prod_ws, dr_ws, { spoke = "sales" })
--   print(parity.render(findings))
--
-- prod_ws / dr_ws are databricks.workspace clients (anything with :list(path, query, key) and
-- :all(requests)). Each finding: { spoke, kind, name, problem, severity ("error" | "warning"),
-- detail, action }. findings.checked = { [spoke] = { jobs = n, cluster_policies = n, ... } }.
-- Reference: docs/cicd.md ("Workspace-asset parity").
local json = require("json")

local M = {}

local JOBS = "/api/2.2/jobs"

-- Assets drhost itself deploys to one region only (the replication job, its warehouse and scope).
M.DEFAULT_EXCLUDE = {
  jobs = { "drhost-replication" },
  warehouses = { "drhost-replication" },
  secret_scopes = { "drhost" },
  cluster_policies = {},
}

-- Jobs drhost itself runs in one region (the replication job) carry this tag and are skipped.
M.OWN_TAG = { key = "managed-by", value = "drhost" }

-- Job fields that differ per region by design: the run-as identity (a service principal per
-- region), the pause state (compared on its own), the bundle's deployment record; and tag keys
-- the bundle's presets set per target. Ids of other workspace objects are compared by name.
M.REGIONAL_FIELDS = { "run_as", "run_as_user_name", "deployment", "edit_mode",
  "schedule.pause_status", "trigger.pause_status", "continuous.pause_status" }
M.REGIONAL_TAGS = { "region_role", "region", "bundle_target" }

local TRIGGERS = { "schedule", "trigger", "continuous" }

local function set_of(list)
  local s = {}
  for _, v in ipairs(list or {}) do s[v] = true end
  return s
end

local function is_list(t)
  return type(t) == "table" and (json.is_array and json.is_array(t) or t[1] ~= nil)
end

-- ---- fetching -----------------------------------------------------------------------------------

local function list(ws, path, query, key)
  local ok, res = pcall(ws.list, ws, path, query, key)
  if not ok then return nil, res end
  return res
end

local function err_text(e)
  if type(e) == "table" then
    return string.format("%s%s", e.status and (e.status .. " ") or "", e.message or e.code or tostring(e))
  end
  return tostring(e)
end

-- -> { [name] = { job settings... } , ... }, duplicate names, error
local function fetch_jobs(ws)
  local base, err = list(ws, JOBS .. "/list", { limit = 100 }, "jobs")
  if not base then return nil, nil, err end
  local reqs = {}
  for i, j in ipairs(base) do
    reqs[i] = { method = "GET", path = JOBS .. "/get", query = { job_id = tostring(j.job_id) } }
  end
  local res = #reqs > 0 and ws:all(reqs) or {}
  local by_name, dups = {}, {}
  for i, r in ipairs(res) do
    if r.error then return nil, nil, r.error end
    local s = (r.body or {}).settings or {}
    local name = s.name or ("job " .. tostring(base[i].job_id))
    if (s.tags or {})[M.OWN_TAG.key] ~= M.OWN_TAG.value then
      if by_name[name] then dups[name] = true end
      by_name[name] = { job_id = base[i].job_id, settings = s }
    end
  end
  return by_name, dups
end

local function by_name(items, field)
  local out = {}
  for _, x in ipairs(items or {}) do out[x[field or "name"]] = x end
  return out
end

local function fetch(ws)
  local d = {}
  local err
  d.jobs, d.job_dups, err = fetch_jobs(ws)
  if not d.jobs then return nil, err end
  local pol, wh, sc
  pol, err = list(ws, "/api/2.0/policies/clusters/list", nil, "policies")
  if not pol then return nil, err end
  wh, err = list(ws, "/api/2.0/sql/warehouses", nil, "warehouses")
  if not wh then return nil, err end
  sc, err = list(ws, "/api/2.0/secrets/scopes/list", nil, "scopes")
  if not sc then return nil, err end
  d.policies, d.warehouses, d.scopes = by_name(pol), by_name(wh), by_name(sc)
  d.policy_name, d.warehouse_name = {}, {}
  for _, p in ipairs(pol) do d.policy_name[p.policy_id] = p.name end
  for _, w in ipairs(wh) do d.warehouse_name[w.id] = w.name end
  -- secret keys (names only: /secrets/list never returns values, and nothing here reads one)
  d.keys = {}
  local names = {}
  for n in pairs(d.scopes) do names[#names + 1] = n end
  table.sort(names)
  local reqs = {}
  for i, n in ipairs(names) do reqs[i] = { method = "GET", path = "/api/2.0/secrets/list", query = { scope = n } } end
  local res = #reqs > 0 and ws:all(reqs) or {}
  for i, r in ipairs(res) do
    if r.error then return nil, r.error end
    local ks = {}
    for _, s in ipairs((r.body or {}).secrets or {}) do ks[#ks + 1] = s.key end
    table.sort(ks)
    d.keys[names[i]] = ks
  end
  return d
end

-- ---- normalising and diffing ----------------------------------------------------------------------

local function copy(v)
  if type(v) ~= "table" then return v end
  local o = {}
  for k, x in pairs(v) do o[k] = copy(x) end
  return o
end

local function drop_path(t, path)
  local head, rest = path:match("^([^.]+)%.(.+)$")
  if not head then t[path] = nil; return end
  if type(t[head]) == "table" then drop_path(t[head], rest) end
end

local SORT_KEYS = { tasks = "task_key", job_clusters = "job_cluster_key", environments = "environment_key",
  parameters = "name" }

-- ids of workspace objects -> their names (ids differ per workspace, names must not)
local function rename_ids(v, d)
  if type(v) ~= "table" then return v end
  for k, x in pairs(v) do
    if k == "policy_id" and type(x) == "string" then
      v[k] = "policy:" .. (d.policy_name[x] or ("unknown id " .. x))
    elseif k == "warehouse_id" and type(x) == "string" then
      v[k] = "warehouse:" .. (d.warehouse_name[x] or ("unknown id " .. x))
    elseif type(x) == "table" then
      rename_ids(x, d)
    end
  end
  return v
end

function M.normalize(settings, d, opts)
  local s = copy(settings or {})
  for _, p in ipairs(opts.regional_fields or M.REGIONAL_FIELDS) do drop_path(s, p) end
  if type(s.tags) == "table" then
    for _, t in ipairs(opts.regional_tags or M.REGIONAL_TAGS) do s.tags[t] = nil end
    if next(s.tags) == nil then s.tags = nil end
  end
  for _, f in ipairs(TRIGGERS) do
    if type(s[f]) == "table" and next(s[f]) == nil then s[f] = {} end
  end
  for k, key in pairs(SORT_KEYS) do
    if is_list(s[k]) then
      table.sort(s[k], function(a, b) return tostring(a[key]) < tostring(b[key]) end)
    end
  end
  return rename_ids(s, d or { policy_name = {}, warehouse_name = {} })
end

-- -> sorted list of paths where a and b differ
function M.diff(a, b, path, out)
  out = out or {}
  path = path or ""
  if type(a) ~= "table" or type(b) ~= "table" then
    if a ~= b then out[#out + 1] = path ~= "" and path or "(value)" end
    return out
  end
  local keys = {}
  for k in pairs(a) do keys[k] = true end
  for k in pairs(b) do keys[k] = true end
  local ks = {}
  for k in pairs(keys) do ks[#ks + 1] = k end
  table.sort(ks, function(x, y) return tostring(x) < tostring(y) end)
  for _, k in ipairs(ks) do
    local sub = type(k) == "number" and string.format("%s[%d]", path, k - 1)
      or (path == "" and tostring(k) or path .. "." .. tostring(k))
    M.diff(a[k], b[k], sub, out)
  end
  return out
end

-- ---- comparing ------------------------------------------------------------------------------------

local function pause_states(settings)
  local out = {}
  for _, f in ipairs(TRIGGERS) do
    if type(settings[f]) == "table" then out[#out + 1] = { field = f, status = settings[f].pause_status or "UNPAUSED" } end
  end
  return out
end

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return ks
end

local function short(paths, n)
  local shown = {}
  for i = 1, math.min(#paths, n) do shown[i] = paths[i] end
  return table.concat(shown, ", ") .. (#paths > n and string.format(" (+%d more)", #paths - n) or "")
end

local function compare_jobs(add, p, d, ex, opts)
  for _, name in ipairs(sorted_keys(p.jobs)) do
    if not ex[name] then
      local pj, dj = p.jobs[name], d.jobs[name]
      if not dj then
        add("job", name, "missing_in_dr", "error", "no job of this name in dr",
          "deploy the bundle to the dr target (databricks bundle deploy -t dr) from the commit prod runs")
      else
        local a = M.normalize(pj.settings, p, opts)
        local b = M.normalize(dj.settings, d, opts)
        local paths = M.diff(a, b)
        if #paths > 0 then
          add("job", name, "definition_differs", "error", "differs at " .. short(paths, 4),
            "redeploy prod and dr from the same commit (the bundle workflow's deploy-prod then deploy-dr)")
        end
      end
    end
  end
  for _, name in ipairs(sorted_keys(d.jobs)) do
    if not ex[name] then
      for _, ps in ipairs(pause_states(d.jobs[name].settings)) do
        if ps.status ~= "PAUSED" then
          add("job", name, "unpaused_in_dr", "error",
            string.format("%s is %s in dr: it would run against the replicas", ps.field, ps.status),
            "pause it: deploy dr with presets.trigger_pause_status: PAUSED (or jobs update " .. ps.field
              .. ".pause_status PAUSED)")
        end
      end
      if not p.jobs[name] then
        add("job", name, "only_in_dr", "warning", "no job of this name in prod",
          "remove it from dr, or add it to the bundle's prod target if prod needs it")
      end
    end
  end
  for _, side in ipairs({ { "prod", p }, { "dr", d } }) do
    for _, name in ipairs(sorted_keys(side[2].job_dups)) do
      add("job", name, "duplicate_name", "warning", "several jobs named so in " .. side[1],
        "keep one: failover finds dr jobs by name")
    end
  end
end

local function compare_named(add, kind, pm, dm, ex, fields, decode)
  for _, name in ipairs(sorted_keys(pm)) do
    if not ex[name] then
      local a, b = pm[name], dm[name]
      if not b then
        add(kind, name, "missing_in_dr", "error", "no " .. kind:gsub("_", " ") .. " of this name in dr",
          "create it in dr (the deployment or the bundle that made it in prod)")
      else
        local differ = {}
        for _, f in ipairs(fields) do
          local x, y = a[f], b[f]
          if decode and decode[f] then x, y = decode[f](x), decode[f](y) end
          if #M.diff(x, y) > 0 then differ[#differ + 1] = f end
        end
        if #differ > 0 then
          add(kind, name, "definition_differs", "error", "differs in " .. table.concat(differ, ", "),
            "make dr's match prod's (the same deployment code for both regions)")
        end
      end
    end
  end
  for _, name in ipairs(sorted_keys(dm)) do
    if not ex[name] and not pm[name] then
      add(kind, name, "only_in_dr", "warning", "not in prod", "remove it from dr if nothing needs it")
    end
  end
end

local function decode_json(s)
  if type(s) ~= "string" then return s end
  local ok, v = pcall(json.decode, s)
  return ok and v or s
end

function M.compare(prod_ws, dr_ws, opts)
  opts = opts or {}
  local spoke = opts.spoke or "workspace"
  local findings = { checked = {} }
  local function add(kind, name, problem, severity, detail, action)
    findings[#findings + 1] = { spoke = spoke, kind = kind, name = name, problem = problem, severity = severity,
      detail = detail, action = action }
  end
  local sides = {}
  for _, s in ipairs({ { "prod", prod_ws }, { "dr", dr_ws } }) do
    local data, err = fetch(s[2])
    if not data then
      add("workspace", s[2].host or s[1], "unreachable", "error",
        s[1] .. " workspace did not answer: " .. err_text(err),
        "check that the workspace answers (network path, credentials) and run parity again")
      return findings
    end
    sides[s[1]] = data
  end
  local p, d = sides.prod, sides.dr
  local ex = {}
  for k, v in pairs(M.DEFAULT_EXCLUDE) do ex[k] = set_of((opts.exclude or {})[k] or v) end
  compare_jobs(add, p, d, ex.jobs, opts)
  compare_named(add, "cluster_policy", p.policies, d.policies, ex.cluster_policies,
    { "definition", "max_clusters_per_user", "policy_family_id", "policy_family_definition_overrides", "libraries" },
    { definition = decode_json, policy_family_definition_overrides = decode_json })
  compare_named(add, "warehouse", p.warehouses, d.warehouses, ex.warehouses,
    { "cluster_size", "warehouse_type", "enable_serverless_compute", "min_num_clusters", "max_num_clusters",
      "spot_instance_policy", "channel" })
  -- secret scopes: names, backend type, key names
  local pk, dk = {}, {}
  for n, s in pairs(p.scopes) do pk[n] = { backend_type = s.backend_type, keys = p.keys[n] } end
  for n, s in pairs(d.scopes) do dk[n] = { backend_type = s.backend_type, keys = d.keys[n] } end
  for _, name in ipairs(sorted_keys(pk)) do
    if not ex.secret_scopes[name] and dk[name] then
      local have = set_of(dk[name].keys)
      local missing = {}
      for _, k in ipairs(pk[name].keys or {}) do if not have[k] then missing[#missing + 1] = k end end
      if #missing > 0 then
        add("secret_scope", name, "keys_missing_in_dr", "error", "keys missing in dr: " .. short(missing, 5),
          "put the missing secrets into dr's scope (or its Key Vault); values are never compared")
      end
      if pk[name].backend_type ~= dk[name].backend_type then
        add("secret_scope", name, "backend_differs", "warning",
          string.format("backend %s in prod, %s in dr", tostring(pk[name].backend_type), tostring(dk[name].backend_type)),
          "use the same backend in both regions (each region's own Key Vault)")
      end
    end
  end
  compare_named(add, "secret_scope", pk, dk, ex.secret_scopes, {})
  local function count(t, exset)
    local n = 0
    for k in pairs(t) do if not exset[k] then n = n + 1 end end
    return n
  end
  findings.checked[spoke] = { jobs = count(p.jobs, ex.jobs), cluster_policies = count(p.policies, ex.cluster_policies),
    warehouses = count(p.warehouses, ex.warehouses), secret_scopes = count(p.scopes, ex.secret_scopes) }
  return findings
end

-- standby_jobs(ws) -> the workspace's jobs with a schedule, trigger or continuous block, except
-- drhost's own: { { job_id, name, fields = { { field = "schedule", status = "PAUSED" }, ... } } },
-- sorted by name. What failover unpauses (those PAUSED in dr) and failback pauses again.
function M.standby_jobs(ws)
  local jobs, _, err = fetch_jobs(ws)
  if not jobs then error(err, 0) end
  local out = {}
  for name, j in pairs(jobs) do
    local fields = pause_states(j.settings)
    if #fields > 0 then out[#out + 1] = { job_id = j.job_id, name = name, fields = fields } end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

-- compare_all({ { spoke = "sales", prod = ws, dr = ws }, ... }, opts) -> findings of every pair
function M.compare_all(pairs_, opts)
  local all = { checked = {} }
  for _, pr in ipairs(pairs_) do
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.spoke = pr.spoke
    local f = M.compare(pr.prod, pr.dr, o)
    for _, x in ipairs(f) do all[#all + 1] = x end
    for k, v in pairs(f.checked) do all.checked[k] = v end
  end
  return all
end

function M.errors(findings)
  local n = 0
  for _, f in ipairs(findings) do if f.severity == "error" then n = n + 1 end end
  return n
end

-- render(findings) -> text: a table of findings (or a one-line all-clear) and a summary line.
function M.render(findings)
  local lines = {}
  local spokes = sorted_keys(findings.checked or {})
  local totals = { jobs = 0, cluster_policies = 0, warehouses = 0, secret_scopes = 0 }
  for _, s in ipairs(spokes) do
    for k, v in pairs(findings.checked[s]) do totals[k] = (totals[k] or 0) + v end
  end
  local checked = string.format("%d spoke(s): %d jobs, %d cluster policies, %d warehouses, %d secret scopes",
    #spokes, totals.jobs, totals.cluster_policies, totals.warehouses, totals.secret_scopes)
  if #findings == 0 then
    lines[1] = "parity: dr mirrors prod (" .. checked .. ")"
    return table.concat(lines, "\n")
  end
  local head = { "SPOKE", "KIND", "NAME", "SEVERITY", "FINDING", "WHAT TO DO" }
  local rows = {}
  for _, f in ipairs(findings) do
    rows[#rows + 1] = { f.spoke, f.kind, f.name, f.severity, f.problem .. ": " .. f.detail, f.action }
  end
  local w = {}
  for i, h in ipairs(head) do w[i] = #h end
  for _, r in ipairs(rows) do
    for i = 1, 4 do w[i] = math.max(w[i], #tostring(r[i])) end
  end
  local function line(r)
    local cells = {}
    for i = 1, 4 do cells[i] = string.format("%-" .. w[i] .. "s", tostring(r[i])) end
    return table.concat(cells, "  ") .. "  " .. r[5] .. (r[6] and ("\n" .. string.rep(" ", w[1] + w[2] + w[3] + w[4] + 8)
      .. "-> " .. r[6]) or "")
  end
  lines[1] = table.concat({ string.format("%-" .. w[1] .. "s", head[1]), string.format("%-" .. w[2] .. "s", head[2]),
    string.format("%-" .. w[3] .. "s", head[3]), string.format("%-" .. w[4] .. "s", head[4]), head[5] }, "  ")
  for _, r in ipairs(rows) do lines[#lines + 1] = line(r) end
  lines[#lines + 1] = string.format("parity: %d finding(s), %d error(s) (%s)", #findings, M.errors(findings), checked)
  return table.concat(lines, "\n")
end

return M
