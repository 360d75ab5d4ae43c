-- Source versions from the head of each table's Delta log (version_source = "log").
--
-- A Delta table's versions are the commit files `_delta_log/<version, 20 digits>.json`, written in
-- order with no gaps. A table last cloned at version v has moved exactly when
-- `_delta_log/<v+1>.json` exists, so one blob listing with that name as prefix answers it: empty
-- for an unchanged table. Read access per table comes from Unity Catalog credential vending
-- (`POST /api/2.1/unity-catalog/temporary-table-credentials`, READ: a SAS for the table's
-- storage), which needs EXTERNAL USE SCHEMA for the replication identity on the source schema.
-- docs/replication.md, "Incremental clones", weighs this against a storage role.
--
-- Never trusted to skip a table that moved: a table is "unchanged" only when its state row names
-- the same table id, a recorded integer version, and the listing after it came back empty. Every
-- other table (moved, never cloned, replaced under the same name, no storage location, vending
-- refused, listing failed, catalog-managed) is read with DESCRIBE HISTORY by the caller.
local errors = require("errors")
local util = require("replicate.util")
local web = require("web")

local M = {}

M.VEND = "/api/2.1/unity-catalog/temporary-table-credentials"
-- the blob endpoint of a storage account; DRHOST_BLOB_DATA_ENDPOINT overrides it (the simulator's
-- Azurite serves every account under one host: https://127.0.0.1:PORT/{account})
M.DEFAULT_ENDPOINT = "https://{account}.blob.core.windows.net"

--- parse(url) -> account, container, path for abfss://c@a.dfs.core.windows.net/p (and wasbs, blob)
function M.parse(url)
  if type(url) ~= "string" then return nil end
  local scheme, container, account, path = url:match("^(%a+)://([^@/]+)@([^./]+)%.[%a]+%.core%.windows%.net/?(.*)$")
  if not scheme then return nil end
  scheme = scheme:lower()
  if scheme ~= "abfss" and scheme ~= "abfs" and scheme ~= "wasbs" and scheme ~= "wasb" then return nil end
  return account:lower(), container, (path:gsub("/+$", ""))
end

-- the simulator's Azurite pads container names to 3 characters ("uc" -> "uc0"), as its storage does
local function container_name(c)
  if os.getenv("DRHOST_BLOB_DATA_ENDPOINT") and #c < 3 then return c .. string.rep("0", 3 - #c) end
  return c
end

--- list_url(location, version, sas) -> the listing of `_delta_log/<version>.json` under location
function M.list_url(location, version, sas)
  local account, container, path = M.parse(location)
  if not account then return nil end
  local base = (os.getenv("DRHOST_BLOB_DATA_ENDPOINT") or M.DEFAULT_ENDPOINT):gsub("{account}", account)
  local prefix = (path ~= "" and path .. "/" or "") .. "_delta_log/" .. string.format("%020d", version) .. ".json"
  local url = base .. "/" .. container_name(container) .. "?restype=container&comp=list&maxresults=1&prefix=" ..
    web.urlencode(prefix)
  if sas and sas ~= "" then url = url .. "&" .. sas:gsub("^%?", "") end
  return url
end

-- Catalog-managed tables (Delta table feature `catalogManaged`, preview name `catalogOwned-preview`):
-- Unity Catalog ratifies their commits, and the commit files under `_delta_log/` are published
-- ("backfilled") after, so the log in storage may trail the table's latest version. Hosted
-- Databricks documents no public API returning that version (open-source Unity Catalog's
-- `GET /delta/preview/commits` with `latest_table_version` is experimental and not in the
-- databricks-sdk), so these tables are read with DESCRIBE HISTORY, authoritative through UC
-- (docs/replication.md, "Catalog-managed commits").
M.CATALOG_MANAGED = { "delta.feature.catalogManaged", "delta.feature.catalogOwned-preview" }

--- catalog_managed(t) -> true when the table's properties name a catalog-managed commit feature
function M.catalog_managed(t)
  local props = t and t.properties
  if type(props) ~= "table" then return false end
  for _, k in ipairs(M.CATALOG_MANAGED) do
    local v = props[k]
    if v ~= nil and (tostring(v):lower() == "supported" or tostring(v):lower() == "enabled") then return true end
  end
  return false
end

local function say_once(notes, key, text)
  if not notes[key] then notes[key] = true; notes[#notes + 1] = text end
end

-- One slice of candidates: a vended credential each, then a listing each (concurrently, each round
-- through one http.all), results added to unchanged, need, notes and calls.
local function probe_slice(ws, http, cand, opts, unchanged, need, notes, calls)
  -- 1. one credential per table, all at once
  local reqs = {}
  for i, c in ipairs(cand) do
    reqs[i] = { method = "POST", path = M.VEND, body = { table_id = c.t.table_id, operation = "READ" } }
  end
  local vended = ws:all(reqs, { concurrency = opts.concurrency })
  calls.vend = calls.vend + #reqs
  -- 2. one listing per table that got one, all at once
  local lists, idx = {}, {}
  for i, c in ipairs(cand) do
    local r = vended[i]
    local sas = r.body and r.body.azure_user_delegation_sas and r.body.azure_user_delegation_sas.sas_token
    if r.error or type(sas) ~= "string" then
      local e = r.error
      local denied = e and (e.status == 403 or e.status == 401 or tostring(e.code):match("PERMISSION"))
      say_once(notes, denied and "denied" or "vend",
        (denied and "credential vending refused" or "credential vending failed") .. " (" ..
        (e and errors.text(e) or "no SAS in the answer") .. "): versions read with DESCRIBE HISTORY instead")
      need[#need + 1] = c.full
    else
      local url = M.list_url(r.body.url or c.t.location, c.v + 1, sas)
      if url then
        lists[#lists + 1] = { method = "GET", url = url, headers = { ["x-ms-version"] = "2021-08-06" } }
        idx[#lists] = c
      else
        say_once(notes, "url", "a vended location is not a blob URL: versions read with DESCRIBE HISTORY instead")
        need[#need + 1] = c.full
      end
    end
  end
  if #lists == 0 then return end
  local resps = http.all(lists, { concurrency = opts.concurrency })
  calls.list = calls.list + #lists
  for i, resp in ipairs(resps) do
    local c = idx[i]
    if resp == nil or resp.error or resp.status ~= 200 then
      say_once(notes, "list", "listing a Delta log failed (" .. (resp and (resp.error and errors.text(resp.error)
        or ("HTTP " .. tostring(resp.status))) or "no response") .. "): versions read with DESCRIBE HISTORY instead")
      need[#need + 1] = c.full
    elseif (resp.body or ""):find("<Name>", 1, true) then
      need[#need + 1] = c.full                         -- moved: its new version from DESCRIBE HISTORY
    else
      unchanged[c.full] = { version = c.v, ts = c.row.source_commit_ts, from = "log" }
    end
  end
end

--- probe(ws, tables, names, recorded, opts) -> unchanged, need, notes, calls
-- tables: source inventory (full -> {table_id, location, ...}); names: Delta tables in scope;
-- recorded: source full -> state row {source_table_id, source_version, source_commit_ts}.
-- opts: concurrency, slice (candidates per round of credentials and listings, default all: memory
-- holds one slice's answers at a time), http (the module; tests).
-- unchanged: full -> {version, ts, from = "log"}; need: names for DESCRIBE HISTORY (sorted);
-- notes: what fell back and why, each reason once (catalog-managed tables: one note with their
-- count); calls: {vend=, list=}.
function M.probe(ws, tables, names, recorded, opts)
  opts = opts or {}
  local http = opts.http or require("http")
  local unchanged, need, notes, calls = {}, {}, {}, { vend = 0, list = 0 }
  local cand, managed = {}, 0
  for _, full in ipairs(names) do
    local t, row = tables[full] or {}, recorded[full]
    local v = row and math.tointeger(tonumber(row.source_version))
    if M.catalog_managed(t) then
      managed = managed + 1                                  -- its log may trail Unity Catalog
      need[#need + 1] = full
    elseif row and v and v >= 0 and t.table_id and row.source_table_id == t.table_id and M.parse(t.location) then
      cand[#cand + 1] = { full = full, t = t, v = v, row = row }
    else
      need[#need + 1] = full
    end
  end
  if managed > 0 then
    notes[#notes + 1] = managed .. " catalog-managed table(s) (commits ratified by Unity Catalog, "
      .. "the log in storage may trail them): versions read with DESCRIBE HISTORY"
  end
  local size = opts.slice or math.max(#cand, 1)
  for first = 1, #cand, size do
    probe_slice(ws, http, util.slice(cand, first, size), opts, unchanged, need, notes, calls)
  end
  table.sort(need)
  return unchanged, need, notes, calls
end

return M
