--- The topology record: which region is active, under which epoch. Pure logic (no I/O); the
-- record is stored as failover/topology.json in *each* region's state store (failover.regions).
--
--   { format = "drhost-topology", version = 1, active = "dr", epoch = 3,
--     action = "failover" | "failback" | "initial", forced = bool, at = "2026-...Z",
--     by = "user@host pid 123", previous = "prod" }
--
-- Rules (docs/failover.md, "Fencing"):
-- * the epoch only grows; the record with the highest epoch is the truth; a region holding a lower
--   epoch is *stale* and is brought up to date (fenced) before anything else runs there;
-- * two records with the same epoch and different active regions are a conflict: nothing runs
--   until an operator settles it (`failover.lua status` shows both);
-- * no record anywhere means the deployment's roles: the env with role "primary" is active, epoch 0.
local M = {}

M.FORMAT = "drhost-topology"
M.PATH = "failover/topology.json"

--- initial(primary) -> the implied record before any failover.
function M.initial(primary)
  return { format = M.FORMAT, version = 1, active = primary, epoch = 0, action = "initial" }
end

--- valid(rec) -> true | nil, why
function M.valid(rec)
  if type(rec) ~= "table" or rec.format ~= M.FORMAT then return nil, "not a drhost topology record" end
  if type(rec.active) ~= "string" or rec.active == "" then return nil, "no active region" end
  if math.type(rec.epoch) ~= "integer" or rec.epoch < 0 then return nil, "epoch is not a non-negative integer" end
  return true
end

--- merge(records, primary) -> view
-- records: { [region] = record | false (no record) | nil (store unreachable) }, for every region.
-- view = { active, epoch, record, agree = bool, conflict = message | nil,
--          stale = { region... } (reachable, lower epoch or no record while others have one),
--          unreachable = { region... } }
function M.merge(records, primary, regions)
  local view = { stale = {}, unreachable = {}, agree = true }
  local best, best_region
  local names = {}
  for _, r in ipairs(regions) do names[#names + 1] = r end
  for _, r in ipairs(names) do
    local rec = records[r]
    if rec == nil then
      view.unreachable[#view.unreachable + 1] = r
    elseif rec then
      if not best or rec.epoch > best.epoch then
        best, best_region = rec, r
      elseif rec.epoch == best.epoch and rec.active ~= best.active then
        view.conflict = string.format("regions %s and %s both hold epoch %d with different active regions (%s vs %s)",
          best_region, r, rec.epoch, best.active, rec.active)
      end
    end
  end
  best = best or M.initial(primary)
  for _, r in ipairs(names) do
    local rec = records[r]
    if rec ~= nil and (not rec or rec.epoch < best.epoch) then
      if best.epoch > 0 then view.stale[#view.stale + 1] = r end
    end
    if rec and rec.epoch ~= best.epoch then view.agree = false end
    if rec == false and best.epoch > 0 then view.agree = false end
  end
  view.record, view.active, view.epoch = best, best.active, best.epoch
  return view
end

--- next(view, active, fields) -> the record that makes `active` the active region (epoch + 1).
function M.next(view, active, fields)
  local rec = { format = M.FORMAT, version = 1, active = active, epoch = view.epoch + 1, previous = view.active }
  for k, v in pairs(fields or {}) do rec[k] = v end
  return rec
end

--- may_replicate(view, source, target) -> true | nil, why
-- Replication writes into `target` from `source`: allowed only while `source` is the active region
-- and the view is settled (no conflict).
function M.may_replicate(view, source, target)
  if view.conflict then return nil, "the topology records disagree: " .. view.conflict end
  if view.active == target then
    return nil, string.format("%s is the active region (epoch %d, %s): replication into it would overwrite "
      .. "its writes", target, view.epoch, tostring(view.record.action))
  end
  if view.active ~= source then
    return nil, string.format("%s is not the active region (the active region is %s, epoch %d)", source,
      view.active, view.epoch)
  end
  return true
end

--- transition(view, action, regions) -> {from, to} | nil, why
-- action: "failover" (primary -> secondary) or "failback" (secondary -> primary).
function M.transition(view, action, primary, secondary)
  if view.conflict then return nil, "the topology records disagree: " .. view.conflict end
  if action == "failover" then
    if view.active == secondary then
      return nil, string.format("%s is already the active region (epoch %d)", secondary, view.epoch)
    end
    return { from = primary, to = secondary }
  elseif action == "failback" then
    if view.active == primary then
      return nil, string.format("%s is already the active region (epoch %d): nothing to fail back", primary, view.epoch)
    end
    return { from = secondary, to = primary }
  end
  return nil, "unknown action " .. tostring(action)
end

return M
