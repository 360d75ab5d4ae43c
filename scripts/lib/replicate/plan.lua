-- The replication plan: a pure function from the two inventories (what prod has, what dr has,
-- the replication state kept in dr) and the configuration to an ordered list of actions, each
-- with its reason and the exact statements or API calls it will run. No I/O here, so every rule
-- is covered by unit specs with fixture inventories; scripts/lib/replicate/apply.lua executes it.
-- What is particular to a kind (catalog, schema, table, view, function, volume) lives in its
-- module under replicate/kinds/; this file selects objects, runs the hooks and plans what every
-- kind shares: tags, grants, owners, prune and the state table.
local errors = require("errors")
local util = require("replicate.util")
local urlencode = require("web").urlencode
local grants = require("replicate.grants")
local storage = require("replicate.storage")
local tokenizer = require("replicate.tokenizer")
local q = require("replicate.sqltext")
local config = require("replicate.config")
local kinds = require("replicate.kinds")

local M = {}

-- Execution order. Actions run phase by phase; inside a phase they run concurrently, except views
-- (dependency waves) and prune (one at a time, views first). The kinds add their own phases
-- (kinds/*.lua `phases`) at their positions among these.
local SHARED_PHASES = { state = 10, metadata = 50, tags = 90, grants = 91, owner = 92, prune = 99 }
do
  local pos = {}
  for name, at in pairs(SHARED_PHASES) do pos[name] = at end
  for kind in kinds.each() do
    for name, at in pairs(kind.phases or {}) do
      assert(pos[name] == nil or pos[name] == at, "phase " .. name .. " placed twice")
      pos[name] = at
    end
  end
  M.PHASES = util.sorted_keys(pos)
  table.sort(M.PHASES, function(a, b) return pos[a] < pos[b] end)
end
M.PHASE_INDEX = {}
for i, p in ipairs(M.PHASES) do M.PHASE_INDEX[p] = i end

local function same_map(a, b)
  a, b = a or {}, b or {}
  for k, v in pairs(a) do if b[k] ~= v then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- Planner state shared by the kinds.
local Planner = {}
Planner.__index = Planner

function M.new_planner(cfg, src, dst, opts)
  local self = setmetatable({ cfg = cfg, src = src, dst = dst, opts = opts or {} }, Planner)
  self.actions, self.failed, self.skipped, self.warnings, self.notes = {}, {}, {}, {}, {}
  self.table_status = {}     -- one row per Delta table considered for cloning (status command)
  self.blocked = {}          -- target name -> reason (failed at plan time: nothing else planned)
  self.recreated = {}        -- target name -> true when created/replaced in this plan
  self.object_map = {}       -- source full -> target full, for renamed objects
  self.target_of = {}        -- source full -> target full, for every replicated object
  self.selected_targets = {} -- target full -> source full
  self.selected = {}         -- kind name -> { {obj=, full=, tgt=, policy=} } in name order
  self.protected = {}        -- principal -> true (cfg.protected_principals)
  for _, pr in ipairs(cfg.protected_principals or {}) do self.protected[pr] = true end
  return self
end

function Planner:add(action)
  assert(M.PHASE_INDEX[action.phase], "unknown phase " .. tostring(action.phase))
  self.actions[#self.actions + 1] = action
  return action
end

--- recreate(action): adds an action that (re)creates its object in dr; what is inside it then
-- starts from nothing (p.recreated[object]).
function Planner:recreate(action)
  self.recreated[action.object] = true
  return self:add(action)
end

function Planner:fail(object, reason, kind)
  self.failed[#self.failed + 1] = { object = object, kind = kind, reason = reason }
  self.blocked[object] = reason
end

function Planner:skip(object, reason, kind)
  self.skipped[#self.skipped + 1] = { object = object, kind = kind, reason = reason }
end

function Planner:warn(object, reason)
  self.warnings[#self.warnings + 1] = { object = object, reason = reason }
end

-- Run a user hook safely on a copy of the object (with its kind); a failing hook fails that
-- object only.
function Planner:hook(name, obj, kind)
  local h = self.cfg.hooks and self.cfg.hooks[name]
  if not h then return true, nil end
  local o = util.copy(obj)
  o.kind, o.tags, o.full = kind.name, o.tags or {}, o.full or o.name
  local ok, res = pcall(h, o)
  if not ok then return false, "hook " .. name .. " failed: " .. errors.text(res) end
  return true, res
end

local function policy_names(kind)
  local names = util.sorted_keys(kind.policies)
  return table.concat(names, ", ", 1, #names - 1) .. " or " .. names[#names]
end

-- Is a source object in scope: selected by include/exclude (as its kind reads them), passed by
-- the filter hook; and its policy (the policy hook's answer, "clone" by default), one of those its
-- kind accepts.
function Planner:scope(obj, kind, full)
  full = full or obj.full
  local selected = kind.selected and kind.selected(self, full) or (not kind.selected and config.selected(self.cfg, full))
  if not selected then return false end
  local ok, keep = self:hook("filter", obj, kind)
  if not ok then self:fail(full, keep, kind.name); return false end
  if keep == false then return false end
  local okp, policy = self:hook("policy", obj, kind)
  if not okp then self:fail(full, policy, kind.name); return false end
  policy = policy or "clone"
  if not kind.policies[policy] then
    self:fail(full, "hook policy returned '" .. tostring(policy) .. "' for a " .. kind.name
      .. " (expected " .. policy_names(kind) .. ")", kind.name)
    return false
  end
  if policy == "skip" then self:skip(full, "policy hook: skip", kind.name); return false end
  return true, policy
end

local function renaming_kinds()
  local out = {}
  for _, name in ipairs(kinds.SECURABLE_ORDER) do if kinds.get(name).renames then out[#out + 1] = name .. "s" end end
  return table.concat(out, ", ", 1, #out - 1) .. " and " .. out[#out]
end

-- The target name of a source object under its parent's target (the rename hook may rename it,
-- where its kind allows; elsewhere a name from the hook is a configuration error).
function Planner:target_name(obj, kind, parent, default)
  local ok, new = self:hook("rename", obj, kind)
  if not ok then return nil, new end
  if new == nil then return default or (parent .. "." .. obj.name) end
  if not kind.renames then
    errors.raise{ code = "CONFIG_INVALID", details = { file = self.cfg.file, key = "hooks.rename" },
      message = string.format("%s: `hooks.rename` returned %s for %s %s: only %s can be renamed "
        .. "(return nil for the others; target catalogs are named by `catalogs`)",
        tostring(self.cfg.file), type(new) == "string" and string.format("%q", new) or tostring(new),
        kind.name, obj.full, renaming_kinds()) }
  end
  if type(new) ~= "string" or not new:match("^[%w_%-]+$") then
    return nil, "hook rename returned an invalid name: " .. tostring(new)
  end
  return parent .. "." .. new, new ~= obj.name
end

-- Record that source `full` is replicated as `tgt`.
function Planner:register(full, tgt, renamed)
  self.target_of[full] = tgt
  self.selected_targets[tgt] = full
  if renamed then self.object_map[full:lower()] = tgt end
end

-- The objects of a kind in scope, with their targets: registered now (every kind before any is
-- planned, so a kind's plan sees the targets of all), planned by the kind's plan.
function Planner:select_kind(kind)
  local list = {}
  self.selected[kind.name] = list
  local function add(obj, full, tgt, policy, renamed)
    self:register(full, tgt, renamed)
    list[#list + 1] = { obj = obj, full = full, tgt = tgt, policy = policy }
  end
  if kind.select then return kind.select(self, add) end
  local objects = self.src[kind.collection] or {}
  for _, full in ipairs(util.sorted_keys(objects)) do
    local obj = objects[full]
    local parent = self.target_of[kind.depth == 2 and obj.catalog or (obj.catalog .. "." .. obj.schema)]
    if parent and (not kind.match or kind.match(obj)) then
      local ok, policy = self:scope(obj, kind, full)
      if ok then
        local tgt, renamed = self:target_name(obj, kind, parent)
        if not tgt then self:fail(full, renamed, kind.name) else add(obj, full, tgt, policy, renamed) end
      end
    end
  end
end

-- fn(obj, full, tgt, policy) for each selected object of a kind, in name order.
function Planner:each_selected(kind, fn)
  for _, it in ipairs(self.selected[kind.name] or {}) do fn(it.obj, it.full, it.tgt, it.policy) end
end

-- A source storage URL mapped through `storage`: the URL, or nil and why. An absent URL is nil
-- without a reason unless `required`.
function Planner:location(url, required)
  if not required and (url == nil or url == "") then return nil end
  local loc, why = storage.map(url, self.cfg.storage)
  return loc, (not loc) and why or nil
end

-- COMMENT ON <kind> when dr's comment differs from prod's.
function Planner:plan_comment(kind, src_full, tgt, s, d)
  local want = q.comment(s.comment)
  if q.comment(d.comment) == want then return end
  self:add{ phase = "metadata", op = "update", kind = kind.name, object = tgt, source = src_full, reason = "comment differs",
    steps = { q.step("COMMENT ON " .. kind.sql .. " " .. q.name(tgt) .. " IS " .. (want and q.literal(want) or "NULL")) } }
end

-- ---------------------------------------------------------------- definitions (views, functions)
function Planner:rewrite(text)
  local out = tokenizer.rewrite_catalogs(text, self.cfg.catalogs)
  -- renamed objects: rewrite their full names too (after the catalog mapping)
  if next(self.object_map) then
    local renames = {}
    for src_full, tgt in pairs(self.object_map) do
      local parts = util.split_name(src_full)
      local mapped = (self.cfg.catalogs[parts[1]] or parts[1]) .. "." .. parts[2] .. "." .. parts[3]
      if mapped ~= tgt:lower() then renames[mapped] = tgt end
    end
    if next(renames) then out = M.rewrite_objects(out, renames) end
  end
  return out
end

-- Replace whole three-part names (after catalog mapping) listed in `renames` (lower-case full ->
-- new full).
function M.rewrite_objects(text, renames)
  local toks = tokenizer.tokenize(text)
  local replace, drop = {}, {}
  for _, name in ipairs(tokenizer.names(toks)) do
    if #name.parts >= 3 then
      local key = (name.parts[1] .. "." .. name.parts[2] .. "." .. name.parts[3]):lower()
      local new = renames[key]
      if new then
        replace[name.tokens[1]] = q.name(new)
        for i = name.tokens[1] + 1, name.tokens[3] do drop[i] = true end
      end
    end
  end
  local buf = {}
  for i, t in ipairs(toks) do
    if replace[i] then buf[#buf + 1] = replace[i] elseif not drop[i] then buf[#buf + 1] = t.text end
  end
  return table.concat(buf)
end

function Planner:rewrite_function_name(fn)
  local parts = util.split_name(fn:lower())
  if #parts == 3 then parts[1] = self.cfg.catalogs[parts[1]] or parts[1] end
  return self.object_map[fn:lower()] or table.concat(parts, ".")
end

-- ---------------------------------------------------------------- tags, grants, owners
-- Every replicated securable: list of { kind=, src=, tgt=, obj= } in discovery order.
function Planner:securables()
  local out = {}
  kinds.each_object(self.src, function(kind, full, obj)
    local tgt = self.target_of[full]
    if kind and tgt and not self.blocked[tgt] then out[#out + 1] = { kind = kind, src = full, tgt = tgt, obj = obj } end
  end)
  return out
end

local function tag_changes(want, have)
  local set, unset = {}, {}
  for k, v in pairs(want) do if have[k] ~= v then set[k] = v end end
  for k in pairs(have) do if want[k] == nil then unset[#unset + 1] = k end end
  table.sort(unset)
  return set, unset
end

local function column_tag_steps(sec, d, fresh, steps, reasons)
  local dcol = (not fresh and d and d.column_tags) or {}
  if next(sec.obj.column_tags or {}) == nil and next(dcol) == nil then return end
  local name = q.name(sec.tgt)
  for _, col in ipairs(util.sorted_keys(sec.obj.column_tags or {})) do
    local w, h = sec.obj.column_tags[col], dcol[col] or {}
    if not same_map(w, h) or fresh then
      local cset = {}
      for k, v in pairs(w) do if h[k] ~= v or fresh then cset[k] = v end end
      if next(cset) then
        steps[#steps + 1] = q.step("ALTER TABLE " .. name .. " ALTER COLUMN " .. q.ident(col) .. " SET TAGS " .. q.kv_list(cset))
        reasons[#reasons + 1] = "column " .. col .. " tags"
      end
    end
  end
  for _, col in ipairs(util.sorted_keys(dcol)) do
    local _, cun = tag_changes((sec.obj.column_tags or {})[col] or {}, dcol[col])
    if #cun > 0 then
      steps[#steps + 1] = q.step("ALTER TABLE " .. name .. " ALTER COLUMN " .. q.ident(col) .. " UNSET TAGS " .. q.key_list(cun))
      reasons[#reasons + 1] = "column " .. col .. " tags removed"
    end
  end
end

-- plan_tags, plan_grants and plan_owners take the securables (p:securables() when nil): build
-- computes that list once for the three. They build statements only for what differs (a no-op
-- plan of 10,000 tables makes no garbage per table there).
function Planner:plan_tags(secs)
  for _, sec in ipairs(secs or self:securables()) do
    if sec.kind.tags then
      local d = kinds.lookup(self.dst, sec.kind, sec.tgt)
      local fresh = self.recreated[sec.tgt] or not d
      local set, unset = tag_changes(sec.obj.tags or {}, (not fresh and d and d.tags) or {})
      local steps, reasons = {}, {}
      local alter = (next(set) or #unset > 0) and ("ALTER " .. sec.kind.sql .. " " .. q.name(sec.tgt))
      if next(set) then
        steps[#steps + 1] = q.step(alter .. " SET TAGS " .. q.kv_list(set))
        reasons[#reasons + 1] = "set " .. table.concat(util.sorted_keys(set), ",")
      end
      if #unset > 0 then
        steps[#steps + 1] = q.step(alter .. " UNSET TAGS " .. q.key_list(unset))
        reasons[#reasons + 1] = "unset " .. table.concat(unset, ",")
      end
      if sec.kind.column_tags then column_tag_steps(sec, d, fresh, steps, reasons) end
      if #steps > 0 then
        self:add{ phase = "tags", op = "update", kind = sec.kind.name, object = sec.tgt, source = sec.src,
          reason = table.concat(reasons, "; "), steps = steps }
      end
    end
  end
end

function Planner:plan_grants(secs)
  local pcfg = self.cfg.principals
  for _, sec in ipairs(secs or self:securables()) do
    local kind = sec.kind.name
    local desired, notes = grants.desired((self.src.grants or {})[kind .. ":" .. sec.src] or {}, kind, pcfg)
    for _, p in ipairs(notes.unmapped) do
      -- a protected principal (the job's own identity, break-glass) has its grants set on each
      -- side by the deployment: not replicating them is the intent, not news
      if not self.protected[p] then
        self:warn(sec.tgt, "principal " .. p .. " has no mapping in dr (principals.map): its grants are not replicated")
        self.unmapped = self.unmapped or {}
        self.unmapped[p] = true
      end
    end
    for _, inv in ipairs(notes.invalid) do
      self:warn(sec.tgt, "privilege " .. inv.privilege .. " of " .. inv.principal .. " is not valid on a " .. kind .. ": skipped")
    end
    local have = (self.dst.grants or {})[kind .. ":" .. sec.tgt] or {}
    -- a replaced table or view keeps its grants in Unity Catalog (CREATE OR REPLACE keeps the
    -- securable), so the diff against dr's current grants is the whole story; new objects have none.
    local changes = grants.diff(desired, have, self.cfg.protected_principals)
    if #changes > 0 then
      local path = "/api/2.1/unity-catalog/permissions/" .. sec.kind.securable .. "/" .. urlencode(sec.tgt)
      self:add{ phase = "grants", op = "update", kind = kind, object = sec.tgt, source = sec.src,
        reason = grants.describe(changes), changes = changes,
        steps = { { side = "dst", rest = { method = "PATCH", path = path, body = { changes = changes } } } } }
    end
  end
end

function Planner:plan_owners(secs)
  local pcfg = self.cfg.principals
  local unmapped_owners = {}
  for _, sec in ipairs(secs or self:securables()) do
    local owner = sec.obj.owner
    if owner and owner ~= "" then
      local mapped, why = grants.map_principal(owner, pcfg)
      local d = kinds.lookup(self.dst, sec.kind, sec.tgt)
      if not mapped then
        unmapped_owners[owner] = unmapped_owners[owner] or { why = why, objects = {} }
        table.insert(unmapped_owners[owner].objects, sec.tgt)
      elseif not d or d.owner ~= mapped then
        self:add{ phase = "owner", op = "update", kind = sec.kind.name, object = sec.tgt, source = sec.src,
          reason = "owner " .. tostring(d and d.owner or "(new)") .. " -> " .. mapped,
          steps = { q.step("ALTER " .. sec.kind.sql .. " " .. q.name(sec.tgt) .. " OWNER TO " .. q.ident(mapped)) } }
      end
    end
  end
  for _, owner in ipairs(util.sorted_keys(unmapped_owners)) do
    local u = unmapped_owners[owner]
    self:warn(owner, string.format("owner of %d object(s) (%s%s) is %s in dr: ownership not replicated for them",
      #u.objects, table.concat(u.objects, ", ", 1, math.min(3, #u.objects)), #u.objects > 3 and ", ..." or "", u.why))
  end
end

-- ---------------------------------------------------------------- prune
-- Objects dr has in a replicated catalog, in the configured scope, that prod does not have.
function Planner:prune_candidates()
  local reverse = {}
  for s, t in pairs(self.cfg.catalogs) do reverse[t] = s end
  local extras, total = {}, 0
  kinds.each_object(self.dst, function(kind, tgt)
    if not (kind and kind.prune_rank) then return end
    local parts = util.split_name(tgt)
    local src_cat = reverse[parts[1]]
    if not src_cat or parts[2] == "information_schema" then return end
    total = total + 1
    if self.selected_targets[tgt] then return end
    -- objects outside the configured scope are not ours to drop
    parts[1] = src_cat
    local src_full = table.concat(parts, ".")
    if kind.selected then
      if not kind.selected(self, src_full) then return end
    elseif not config.selected(self.cfg, src_full) then return end
    for _, coll in ipairs(kinds.collections) do
      if (self.src[coll] or {})[src_full] then return end   -- exists in prod but filtered/skipped
    end
    extras[#extras + 1] = { kind = kind, object = tgt }
  end)
  return extras, total
end

function Planner:plan_prune()
  local extras, total = self:prune_candidates()
  if #extras == 0 then return end
  if not self.cfg.prune then
    for _, e in ipairs(extras) do
      self.notes[#self.notes + 1] = { object = e.object, reason = "not in prod; kept (prune = false)" }
    end
    return
  end
  local fraction = #extras / math.max(total, 1)
  if fraction > self.cfg.prune_max_fraction then
    self:fail("prune", string.format("refused: %d of %d objects (%.0f%%) would be dropped, above prune_max_fraction %.0f%%",
      #extras, total, fraction * 100, self.cfg.prune_max_fraction * 100), "prune")
    return
  end
  table.sort(extras, function(a, b)
    if a.kind.prune_rank ~= b.kind.prune_rank then return a.kind.prune_rank < b.kind.prune_rank end
    return a.object < b.object
  end)
  for i, e in ipairs(extras) do
    self:add{ phase = "prune", op = "drop", kind = e.kind.name, object = e.object, reason = "not in prod (prune = true)", rank = i,
      steps = { q.step("DROP " .. e.kind.sql .. " IF EXISTS " .. q.name(e.object) .. (e.kind.prune_suffix or "")) } }
  end
end

-- ---------------------------------------------------------------- state bootstrap
function Planner:plan_state()
  if self.dst.state_exists then return end
  local st = self.cfg.state
  local cat = "CREATE CATALOG IF NOT EXISTS " .. q.ident(st.catalog)
  if st.managed_location then cat = cat .. " MANAGED LOCATION " .. q.literal(st.managed_location) end
  self:add{ phase = "state", op = "create", kind = "table", object = st.catalog .. "." .. st.schema .. "." .. st.table,
    reason = "replication state table missing in dr",
    steps = { q.step(cat), q.step("CREATE SCHEMA IF NOT EXISTS " .. q.name(st.catalog .. "." .. st.schema)),
      q.step(M.state_table_ddl(st)) } }
end

function M.state_table_ddl(st)
  return "CREATE TABLE IF NOT EXISTS " .. q.name(st.catalog .. "." .. st.schema .. "." .. st.table)
    .. " (object STRING, source STRING, source_table_id STRING, source_version BIGINT, "
    .. "source_commit_ts STRING, cloned_at STRING, run_id STRING)"
end

-- ---------------------------------------------------------------- entry point
-- The plan from the two inventories. opts: now, run_id, source, target (hosts) and discovery
-- (the statement counts of discovery, kept in the plan). What discovery could not read (the
-- inventories' errors and warnings) is part of the plan's failures and warnings.
function M.build(cfg, src, dst, opts)
  -- the inventories are live all along: a short collector pause keeps garbage from doubling the
  -- heap (util.with_gc_pause; the same pause as discovery)
  return util.with_gc_pause(util.GC_PAUSE, M.build_plan, cfg, src, dst, opts)
end

function M.build_plan(cfg, src, dst, opts)
  opts = opts or {}
  config.check_catalogs(cfg, src.catalogs or {})
  local p = M.new_planner(cfg, src, dst, opts)
  p:plan_state()
  for kind in kinds.each() do p:select_kind(kind) end
  for kind in kinds.each() do kind.plan(p) end
  local secs = p:securables()   -- the same for the three: none of them fails an object
  p:plan_tags(secs)
  p:plan_grants(secs)
  p:plan_owners(secs)
  p:plan_prune()
  -- stable order: by phase, then rank (views/prune), then object name
  for i, a in ipairs(p.actions) do a.seq = i end
  table.sort(p.actions, function(a, b)
    local pa, pb = M.PHASE_INDEX[a.phase], M.PHASE_INDEX[b.phase]
    if pa ~= pb then return pa < pb end
    if (a.rank or 0) ~= (b.rank or 0) then return (a.rank or 0) < (b.rank or 0) end
    return a.seq < b.seq
  end)
  for i, a in ipairs(p.actions) do a.id = i; a.seq = nil end
  local counts = {}
  for _, a in ipairs(p.actions) do counts[a.op] = (counts[a.op] or 0) + 1 end
  for _, side in ipairs({ { "prod", src }, { "dr", dst } }) do
    for _, e in ipairs(side[2].errors or {}) do table.insert(p.failed, { object = e.object, reason = side[1] .. ": " .. e.reason }) end
  end
  for _, inv in ipairs({ src, dst }) do
    for _, w in ipairs(inv.warnings or {}) do table.insert(p.warnings, w) end
  end
  local json = require("json")
  local function list(t) return json.array(t or {}) end   -- empty lists stay JSON arrays
  return {
    format = "drhost-replication-plan", version = 1,
    created_at = opts.now, run_id = opts.run_id, source = opts.source, target = opts.target,
    actions = list(p.actions), failed = list(p.failed), skipped = list(p.skipped), warnings = list(p.warnings),
    notes = list(p.notes), unmapped_principals = list(util.sorted_keys(p.unmapped or {})), counts = counts,
    clones = p.cloned or 0, tables = list(p.table_status), discovery = opts.discovery,
  }
end

return M
