-- web: small helpers for the REST clients (auth, azure, databricks, sql): URL and form encoding,
-- the clock and sleep they wait with, JSON bodies, and following pages of a listing.
--
--   local url = web.append_query(base, { ["api-version"] = "2024-05-01", filter = "x y" })
--   web.sleep(2)                -- http.sleep, scaled by DRHOST_POLL_SCALE; yields inside a task
--   local items = web.pages("list /x", function(cursor) ... return page_items, next_cursor end)
local json = require("json")
local errors = require("errors")

local M = {}

-- `http` is looked up at call time, so a spec can stand a fake in for it (package.loaded.http).
local function http() return require("http") end

--- urlencode(s): percent-encoding of everything but RFC 3986 unreserved characters.
function M.urlencode(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

--- form_encode(t): form or query encoding of a table; keys sorted so requests are reproducible.
-- Booleans become true/false; nil and json.null values are left out.
function M.form_encode(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = t[k]
    if type(v) == "boolean" then v = v and "true" or "false" end
    if v ~= nil and v ~= json.null then
      parts[#parts + 1] = M.urlencode(k) .. "=" .. M.urlencode(v)
    end
  end
  return table.concat(parts, "&")
end

--- append_query(url, query): query (a string, or a table for form_encode) appended with ? or &.
function M.append_query(url, query)
  if type(query) == "table" then query = M.form_encode(query) end
  if query == nil or query == "" then return url end
  return url .. (url:find("?", 1, true) and "&" or "?") .. query
end

--- origin(url): "scheme://host[:port]" of an http(s) URL, or nil.
function M.origin(url)
  return (url:match("^(https?://[^/?#]+)"))
end

--- decode(body): the JSON value of a response body; nil when it is empty or not JSON.
function M.decode(body)
  if body == nil or body == "" then return nil end
  local ok, v = pcall(json.decode, body)
  if ok then return v end
  return nil
end

--- now(): seconds on the monotonic clock, fractional (http.now).
function M.now()
  return http().now()
end

--- sleep(s): waits s seconds; DRHOST_POLL_SCALE (a factor, default 1) shortens waits in tests.
-- Inside a task (modules/task.lua) the wait yields to the runtime.
function M.sleep(s)
  local scale = tonumber(os.getenv("DRHOST_POLL_SCALE") or "") or 1
  s = (s or 0) * scale
  if s <= 0 then return end
  return http().sleep(s)
end

--- pages(what, fetch) -> items: every item of a paged listing. fetch(cursor) returns the items of
-- one page and the cursor of the next (nil at the end); the first call gets nil. Raises
-- PAGING_LOOP when a cursor repeats or after 10000 pages (`what` names the listing).
function M.pages(what, fetch)
  local items, seen, cursor, pages = {}, {}, nil, 0
  repeat
    pages = pages + 1
    if pages > 10000 then errors.raise("PAGING_LOOP", what .. ": too many pages", nil, 2) end
    local page, next_cursor = fetch(cursor)
    for _, item in ipairs(page or {}) do items[#items + 1] = item end
    if next_cursor ~= nil and seen[next_cursor] then
      errors.raise("PAGING_LOOP", what .. ": the next page token repeats", nil, 2)
    end
    if next_cursor ~= nil then seen[next_cursor] = true end
    cursor = next_cursor
  until cursor == nil
  return json.array(items)
end

--- result(r) -> r.body, r.response of one result of a client's batch call (`all`, `run_many`);
-- its error is raised.
function M.result(r)
  if r.error then error(r.error, 0) end
  return r.body, r.response
end

--- found(r) -> as result(r), but nil and the error when the object does not exist (404).
function M.found(r)
  if r.error and r.status == 404 then return nil, r.error end
  return M.result(r)
end

return M
